"""The search and position endpoints on the sample project (TestClient)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi.testclient import TestClient


def _search(client: TestClient, q: str, **params: object) -> list[dict]:
    response = client.get("/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    items: list[dict] = response.json()["items"]
    return items


def test_search_finds_a_lake(client: TestClient) -> None:
    first = _search(client, "太湖")[0]
    assert (first["kind"], first["id"]) == ("lake", "504")
    west, south, east, north = first["bbox"]
    assert 119.8 < west < east < 120.7 and 30.9 < south < north < 31.6
    assert _search(client, "taihu lake")[0]["id"] == "504"  # English lake names, any case


def test_search_finds_a_county(client: TestClient) -> None:
    first = _search(client, "昆山")[0]
    assert (first["kind"], first["id"], first["label"], first["level"]) == (
        "unit", "320583", "昆山市", "county",
    )  # fmt: skip
    assert _search(client, "320583")[0]["id"] == "320583"


def test_search_finds_a_reach_and_its_main_stem(client: TestClient) -> None:
    items = _search(client, "40636807")
    assert [(i["kind"], i["id"]) for i in items[:2]] == [
        ("reach", "40636807"), ("river", "40636807"),
    ]  # fmt: skip
    assert items[0]["reach_id"] == 40636807


def test_search_finds_a_chief_without_private_columns(client: TestClient) -> None:
    items = _search(client, "薛红刚")
    assert [(i["kind"], i["id"]) for i in items] == [("chief", "P00001")]
    assert items[0]["label"] == "薛红刚 · 省委书记 · 上海市人民政府"
    assert "contact" not in items[0] and "虚构)" not in str(items[0])


def test_search_limit_and_nothing_found(client: TestClient) -> None:
    assert len(_search(client, "清溪镇", limit=3)) == 3
    assert _search(client, "no such place") == []
    assert _search(client, "  ") == []
    assert client.get("/search", params={"q": "x", "limit": 0}).status_code == 400


def test_position_snaps_to_the_nearest_reach(client: TestClient) -> None:
    response = client.get("/reaches/position", params={"lon": 120.3, "lat": 31.3})
    assert response.status_code == 200, response.text
    found = response.json()
    assert found["reach_id"] == 40635508
    assert abs(found["measure_m"] - 14218.77) < 1
    assert abs(found["distance_m"] - 913.364) < 1
    assert {link["rel"] for link in found["links"]} == {"chiefs", "navigation", "item"}


def test_position_far_away_is_404_naming_max_distance(client: TestClient) -> None:
    response = client.get("/reaches/position", params={"lon": 100, "lat": 10})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "max_distance=1000" in response.json()["detail"]
    near = client.get("/reaches/position", params={"lon": 120.3, "lat": 31.3, "max_distance": 500})
    assert near.status_code == 404 and "max_distance=500" in near.json()["detail"]
