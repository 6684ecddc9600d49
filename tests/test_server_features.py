"""Tests of the OGC API – Features router (server/routers/features.py) and its encoder."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from rivernet import boundary, coverage
from rivernet.layers import sources
from rivernet.layers.catalog import CATALOG, Layer
from rivernet.layers.sources import layer_frame, to_wgs84
from rivernet.project import Project
from rivernet.server.app import create_app
from rivernet.server.encoding import CRS84, FeatureTable, output_crs
from rivernet.server.routers import features
from rivernet.server.settings import Settings
from tests.conftest import SAMPLE

EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
BOX = (120.0, 31.0, 120.5, 31.5)


def get_json(client: TestClient, url: str, **params: Any) -> Any:
    response = client.get(url, params=params) if params else client.get(url)
    assert response.status_code == 200, response.text
    return response.json()


def links(document: dict[str, Any], rel: str) -> list[dict[str, str]]:
    return [link for link in document["links"] if link["rel"] == rel]


def ids_in_box(project: Project, box: tuple[float, float, float, float]) -> set[int]:
    reaches = project.network.reaches
    return set(reaches.index[reaches.intersects(shapely.box(*box))].tolist())


def test_landing_page_links_everything(client: TestClient) -> None:
    document = get_json(client, "/")
    rels = {link["rel"]: link["href"] for link in document["links"]}
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= set(rels)
    assert rels["data"] == "http://testserver/collections"
    assert client.get(rels["service-desc"].removeprefix("http://testserver")).status_code == 200


def test_conformance_declares_core_geojson_and_crs(client: TestClient) -> None:
    classes = get_json(client, "/conformance")["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in classes


def test_collections_describe_extent_crs_and_links(client: TestClient, project: Project) -> None:
    document = get_json(client, "/collections")
    by_id = {c["id"]: c for c in document["collections"]}
    assert {"reaches", "admin_units", "lakes", "crossings", "boundary_rivers"} <= set(by_id)
    reaches = by_id["reaches"]
    bbox = reaches["extent"]["spatial"]["bbox"][0]
    np.testing.assert_allclose(bbox, project.network.reaches.total_bounds)
    assert reaches["storageCrs"] == CRS84
    assert set(reaches["crs"]) == {CRS84, EPSG.format(4326), EPSG.format(4490), EPSG.format(3857)}
    item_types = {link["type"] for link in links(reaches, "items")}
    assert item_types == {"application/geo+json", "text/csv; charset=utf-8"}
    assert get_json(client, "/collections/reaches")["id"] == "reaches"


def test_unknown_collection_is_404_listing_offered(client: TestClient) -> None:
    response = client.get("/collections/rivers/items")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "reaches" in response.json()["detail"]


def test_items_page_through_every_reach(client: TestClient, project: Project) -> None:
    first = get_json(client, "/collections/reaches/items")
    assert first["numberReturned"] == 10 and len(first["features"]) == 10
    assert first["numberMatched"] == len(project.network)
    assert not links(first, "prev")
    seen: list[int] = []
    url: str | None = "/collections/reaches/items?limit=900"
    pages = 0
    while url:
        page = get_json(client, url.removeprefix("http://testserver"))
        seen += [feature["id"] for feature in page["features"]]
        assert page["numberReturned"] == len(page["features"])
        if pages:
            assert links(page, "prev")
        following = links(page, "next")
        url = following[0]["href"] if following else None
        pages += 1
    assert pages == 3
    assert sorted(seen) == sorted(project.network.ids.tolist())


def test_items_properties_and_geometry_match_the_source(
    client: TestClient, project: Project
) -> None:
    page = get_json(client, "/collections/reaches/items", limit=50, offset=100)
    reaches = project.network.reaches
    for feature in page["features"]:
        row = reaches.loc[feature["id"]]
        assert feature["properties"]["reach_id"] == feature["id"]
        assert feature["properties"]["ORD_STRA"] == row["ORD_STRA"]
        assert feature["properties"]["length_m"] == pytest.approx(row["length_m"])
        assert shapely.geometry.shape(feature["geometry"]).equals_exact(row.geometry, 1e-12)


def test_bbox_selects_exactly_the_intersecting_reaches(
    client: TestClient, project: Project
) -> None:
    bbox = ",".join(map(str, BOX))
    page = get_json(client, "/collections/reaches/items", bbox=bbox, limit=10_000)
    assert {f["id"] for f in page["features"]} == ids_in_box(project, BOX)
    assert page["numberMatched"] == len(ids_in_box(project, BOX))


@pytest.mark.parametrize(
    ("crs", "box"),
    [
        ("http://www.opengis.net/def/crs/EPSG/0/4326", (31.0, 120.0, 31.5, 120.5)),
        ("http://www.opengis.net/def/crs/EPSG/0/4490", (31.0, 120.0, 31.5, 120.5)),
        ("EPSG:3857", None),
    ],
)
def test_bbox_crs(
    client: TestClient, project: Project, crs: str, box: tuple[float, ...] | None
) -> None:
    if box is None:
        to_mercator = Transformer.from_crs(4326, 3857, always_xy=True)
        box = to_mercator.transform_bounds(*BOX)
    params = {"bbox": ",".join(map(str, box)), "bbox-crs": crs, "limit": 10_000}
    page = get_json(client, "/collections/reaches/items", **params)
    assert {f["id"] for f in page["features"]} == ids_in_box(project, BOX)


def test_output_crs_axis_order_and_mercator(client: TestClient, project: Project) -> None:
    reach = int(project.network.ids[0])
    line = project.network.reaches.geometry.loc[reach]
    lonlat = np.asarray(line.coords)
    for crs, expected in (
        (CRS84, lonlat),
        (EPSG.format(4326), lonlat[:, ::-1]),
        (EPSG.format(4490), lonlat[:, ::-1]),
        (EPSG.format(3857), np.column_stack(
            Transformer.from_crs(4326, 3857, always_xy=True).transform(*lonlat.T))),
    ):  # fmt: skip
        response = client.get(f"/collections/reaches/items/{reach}", params={"crs": crs})
        assert response.status_code == 200
        assert response.headers["content-crs"] == f"<{crs}>"
        coordinates = np.asarray(response.json()["geometry"]["coordinates"])
        np.testing.assert_allclose(coordinates, expected, rtol=0, atol=1e-6)


def test_unknown_crs_is_400(client: TestClient) -> None:
    response = client.get("/collections/reaches/items", params={"crs": "EPSG:2000"})
    assert response.status_code == 400
    assert "EPSG/0/3857" in response.json()["detail"]


def test_property_filters(client: TestClient, project: Project) -> None:
    page = get_json(client, "/collections/reaches/items", ORD_STRA=3, limit=10_000)
    expected = set(project.network.reaches.index[project.network.reaches["ORD_STRA"] == 3])
    assert {f["id"] for f in page["features"]} == expected
    units = get_json(client, "/collections/admin_units/items", level="city", limit=100)
    assert units["numberMatched"] == 12  # "level" filters collections that are not by level
    cities = get_json(client, "/collections/admin_units/items", parent_code="320000", limit=100)
    assert cities["numberMatched"] > 5
    assert all(f["properties"]["parent_code"] == "320000" for f in cities["features"])
    named = get_json(client, "/collections/admin_units/items", name="苏州市")
    assert [f["id"] for f in named["features"]] == ["320500"]


def test_bad_property_filters_are_400(client: TestClient) -> None:
    for params in ({"ORD_STRA": "three"}, {"no_such_column": "1"}):
        response = client.get("/collections/reaches/items", params=params)
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"


def test_single_feature_and_unknown_ids(client: TestClient, project: Project) -> None:
    unit = get_json(client, "/collections/admin_units/items/320000")
    assert unit["properties"]["name"] == "江苏省"
    assert {link["rel"] for link in unit["links"]} == {"self", "collection"}
    lake_id = project.lakes["lake_id"].iloc[0]
    assert get_json(client, f"/collections/lakes/items/{lake_id}")["id"] == lake_id
    for url in ("/collections/reaches/items/1", "/collections/reaches/items/abc"):
        response = client.get(url)
        assert response.status_code == 404
        assert "没有编号为" in response.json()["detail"]
        english = client.get(url, headers={"Accept-Language": "en-GB,en;q=0.9"})
        assert "no feature" in english.json()["detail"]


def test_csv_output(client: TestClient, project: Project) -> None:
    response = client.get("/collections/reaches/items", params={"f": "csv", "limit": 25})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    table = pd.read_csv(io.StringIO(response.content.decode("utf-8-sig")))
    assert len(table) == 25
    assert table.columns[-1] == "geometry"
    first = project.network.reaches.loc[table["reach_id"].iloc[0]]
    assert shapely.from_wkt(table["geometry"].iloc[0]).equals_exact(first.geometry, 1e-12)
    assert table["ORD_STRA"].iloc[0] == first["ORD_STRA"]
    by_accept = client.get("/collections/lakes/items", headers={"Accept": "text/csv"})
    assert by_accept.headers["content-type"].startswith("text/csv")


def test_large_pages_are_streamed_and_identical(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = client.get("/collections/reaches/items", params={"limit": 3000}).content
    whole_csv = client.get("/collections/reaches/items", params={"limit": 3000, "f": "csv"})
    monkeypatch.setattr(features, "STREAM_ABOVE", 10)
    with client.stream("GET", "/collections/reaches/items", params={"limit": 3000}) as response:
        assert response.headers.get("content-length") is None  # sent in chunks
        streamed = response.read()
    assert streamed == whole
    document = orjson.loads(streamed)
    assert document["numberReturned"] == 2082
    streamed_csv = client.get("/collections/reaches/items", params={"limit": 3000, "f": "csv"})
    assert streamed_csv.content == whole_csv.content


def test_limit_is_capped(project: Project) -> None:
    app = create_app(Settings(project=SAMPLE, items_max_limit=7), project=project)
    with TestClient(app) as small:
        page = get_json(small, "/collections/reaches/items", limit=1000)
    assert page["numberReturned"] == 7
    assert "limit=7" in links(page, "next")[0]["href"]


def test_datetime_parameter(client: TestClient) -> None:
    for good in ("2024-05-01", "2024-05-01T08:00:00Z"):
        assert client.get("/collections/reaches/items", params={"datetime": good}).is_success
    for bad in ("2024-13-01", "yesterday", "2024-01-01/2024-02-01"):
        response = client.get("/collections/reaches/items", params={"datetime": bad})
        assert response.status_code == 400, bad


def test_crossings_collection_matches_the_library(client: TestClient, project: Project) -> None:
    expected = boundary.crossings(project, level="province")
    page = get_json(client, "/collections/crossings/items", level="province", limit=10_000)
    assert page["numberMatched"] == len(expected)
    assert [f["id"] for f in page["features"]] == expected["crossing_id"].tolist()
    pairs = {(f["properties"]["upstream_name"], f["properties"]["downstream_name"])
             for f in page["features"]}  # fmt: skip
    assert ("浙江省", "江苏省") in pairs and ("江苏省", "上海市") in pairs
    one = expected["crossing_id"].iloc[0]
    feature = get_json(client, f"/collections/crossings/items/{one}", level="province")
    assert feature["properties"]["reach_id"] == expected["reach_id"].iloc[0]


def test_boundary_rivers_collection_matches_the_library(
    client: TestClient, project: Project
) -> None:
    expected = boundary.boundary_rivers(project, level="city")
    page = get_json(client, "/collections/boundary_rivers/items", level="city", limit=10_000)
    assert [f["id"] for f in page["features"]] == expected["stretch_id"].tolist()
    lengths = [f["properties"]["length_m"] for f in page["features"]]
    np.testing.assert_allclose(lengths, expected["length_m"])


def test_level_parameter_is_validated(client: TestClient) -> None:
    response = client.get("/collections/crossings/items", params={"level": "country"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["parameter"] == "level"


def test_fragments_match_geopandas_to_json(project: Project) -> None:
    frame = project.network.reaches.reset_index().iloc[:200]
    table = FeatureTable(frame, id_column="reach_id")
    ours = orjson.loads(
        b"".join(table.geojson_chunks(np.arange(200), output_crs(None), members={}))
    )
    theirs = orjson.loads(frame.to_json())
    assert [f["properties"] for f in ours["features"]] == [
        f["properties"] for f in theirs["features"]
    ]
    for mine, reference in zip(ours["features"], theirs["features"], strict=True):
        np.testing.assert_allclose(
            mine["geometry"]["coordinates"], reference["geometry"]["coordinates"]
        )


def test_feature_table_handles_missing_values_dates_and_no_geometry() -> None:
    frame = pd.DataFrame(
        {
            "n": pd.array([1, None], dtype="Int64"),
            "x": [1.5, np.nan],
            "when": pd.to_datetime(pd.Series(["2024-01-02", None])),
            "text": ["河", None],
        }
    )
    table = FeatureTable(frame)
    assert not table.has_geometry and table.bounds() is None
    document = orjson.loads(b"".join(table.geojson_chunks(np.arange(2), output_crs(None),
                                                         members={})))  # fmt: skip
    first, second = (f["properties"] for f in document["features"])
    assert first == {"n": 1, "x": 1.5, "when": "2024-01-02T00:00:00", "text": "河"}
    assert second == {"n": None, "x": None, "when": None, "text": None}
    assert document["features"][0]["geometry"] is None and document["features"][1]["id"] == 2
    assert list(table.select(filters={"text": "河"})) == [0]


def test_public_columns_drop_contact_details() -> None:
    roster = pd.DataFrame(
        columns=["assignment_id", "name", "contact", "phone", "联系电话", "email", "post"]
    )
    assert list(sources.public_columns(roster).columns) == ["assignment_id", "name", "post"]


def test_in_force_keeps_open_ended_terms() -> None:
    table = pd.DataFrame(
        {
            "valid_from": pd.to_datetime(["2020-01-01", "2023-01-01", "2020-01-01"]),
            "valid_to": pd.to_datetime(pd.Series([None, None, "2021-12-31"])),
        }
    )
    import datetime as dt

    from rivernet.roster import Roster

    # The chiefs collection keeps the assignments the roster says are in force.
    kept = Roster(people=pd.DataFrame(), assignments=table).active(dt.date(2022, 6, 1))
    assert kept["valid_from"].dt.year.tolist() == [2020]


def test_chiefs_collection_hides_contacts(client: TestClient, project: Project) -> None:
    if not project.has_roster:
        offered = {c["id"] for c in get_json(client, "/collections")["collections"]}
        assert "chiefs" not in offered  # no roster in the project: not offered
        return
    page = get_json(client, "/collections/chiefs/items", limit=1000)
    assert page["numberMatched"] > 0
    assert all("contact" not in f["properties"] for f in page["features"])


def test_to_wgs84_relabels_cgcs2000_and_transforms_others() -> None:
    frame = gpd.GeoDataFrame(geometry=[shapely.Point(500000, 3500000)], crs="EPSG:32651")
    moved = to_wgs84(frame)
    assert moved.crs.to_epsg() == 4326 and 122 < moved.geometry.iloc[0].x < 124
    cgcs = gpd.GeoDataFrame(geometry=[shapely.Point(120, 31)], crs="EPSG:4490")
    relabelled = to_wgs84(cgcs)
    assert relabelled.geometry.iloc[0].equals(shapely.Point(120, 31))
    assert relabelled.crs.to_epsg() == 4326
    table = pd.DataFrame({"a": [1]})
    assert to_wgs84(table) is table  # a plain table passes through


def test_geometry_json_for_every_kind() -> None:
    geoms = [
        shapely.Point(1, 2),
        shapely.LineString([(0, 0), (1.5, 1e-9), (2, 3)]),
        None,
        shapely.Polygon([(0, 0), (1, 0), (1, 1)]),
        shapely.LineString(),
        shapely.Point(1, 2, 3),
        shapely.MultiLineString([[(0, 0), (1, 1)]]),
    ]
    texts = ['x%"', "}{", None, "a", "b", "c", "d"]
    frame = gpd.GeoDataFrame({"s": texts}, geometry=geoms)
    table = FeatureTable(frame)
    document = orjson.loads(
        b"".join(table.geojson_chunks(np.arange(len(frame)), output_crs(None), members={}))
    )
    for feature, geom in zip(document["features"], geoms, strict=True):
        if geom is None:
            assert feature["geometry"] is None
        else:
            assert shapely.geometry.shape(feature["geometry"]).equals_exact(geom, 0) or (
                geom.is_empty and feature["geometry"]["coordinates"] == []
            )
    assert [f["properties"]["s"] for f in document["features"]] == texts


# --- collections that need the chief roster -------------------------------------------------


@pytest.fixture(scope="module")
def roster_client(roster_sample: tuple[Path, Any]) -> Iterator[tuple[TestClient, Any]]:
    """The server on the sample with its fictional roster, and the roster's date."""
    path, as_of = roster_sample
    with TestClient(create_app(Settings(project=path))) as test_client:
        yield test_client, as_of


def test_roster_collections_are_offered(roster_client: tuple[TestClient, Any]) -> None:
    client, _ = roster_client
    offered = {c["id"] for c in get_json(client, "/collections")["collections"]}
    assert {"coverage", "coverage_gaps", "chiefs"} <= offered


def test_coverage_collection_matches_the_library(roster_client: tuple[TestClient, Any]) -> None:
    client, as_of = roster_client
    state = client.app.state.rivernet  # type: ignore[attr-defined]
    expected = coverage.coverage_status(state.project, level="township", as_of=as_of)
    page = get_json(client, "/collections/coverage/items", level="township",
                    datetime=as_of.isoformat(), limit=10_000)  # fmt: skip
    assert page["numberMatched"] == len(expected)
    got = [f["properties"]["status"] for f in page["features"]]
    assert got == expected["status"].tolist()
    gaps = get_json(client, "/collections/coverage/items", level="township", status="gap",
                    datetime=as_of.isoformat(), limit=10_000)  # fmt: skip
    assert gaps["numberMatched"] == int((expected["status"] == "gap").sum()) > 0


def test_reaches_carry_coverage_status_per_level(roster_client: tuple[TestClient, Any]) -> None:
    client, as_of = roster_client
    state = client.app.state.rivernet  # type: ignore[attr-defined]
    page = get_json(client, "/collections/reaches/items", datetime=as_of.isoformat(), limit=3000)
    statuses = pd.DataFrame([f["properties"] for f in page["features"]]).set_index("reach_id")
    for level in ("province", "city", "county", "township", "village"):
        pieces = coverage.coverage_status(state.project, level=level, as_of=as_of)
        for reach, group in pieces.groupby("reach_id"):
            found = set(group["status"])
            shown = statuses.at[reach, f"coverage_{level}"]
            assert shown in found or shown == "partial", (reach, level, found, shown)


def test_reach_status_rules() -> None:
    pieces = pd.DataFrame(
        {
            "reach_id": [1, 1, 2, 2, 3, 4, 4],
            "status": ["covered", "gap", "covered", "overlap", "exempt", "covered", "exempt"],
        }
    )
    assert sources.reach_status(pieces).to_dict() == {
        1: "partial", 2: "overlap", 3: "exempt", 4: "covered"
    }  # fmt: skip


@pytest.mark.parametrize("entry", CATALOG, ids=lambda e: e.id)
def test_every_catalog_layer_is_served_as_layer_frame_gives_it(
    roster_client: tuple[TestClient, Any], entry: Layer
) -> None:
    client, as_of = roster_client
    project = client.app.state.rivernet.project  # type: ignore[attr-defined]
    level = "county" if entry.by_level else None
    params: dict[str, Any] = {"datetime": as_of.isoformat(), "limit": 100_000}
    if level is not None:
        params["level"] = level
    page = get_json(client, f"/collections/{entry.id}/items", **params)
    expected = layer_frame(project, entry, as_of=as_of, level=level, all_properties=True)
    drawn = layer_frame(project, entry, as_of=as_of, level=level)
    assert page["numberMatched"] == len(expected) == len(drawn) > 0
    ids = [f["id"] for f in page["features"]]
    if entry.id_column is not None:
        assert ids == expected[entry.id_column].tolist()
    else:
        assert ids == list(range(1, len(expected) + 1))
    shown = [c for c in drawn.columns if c != drawn.geometry.name]
    got = pd.DataFrame([f["properties"] for f in page["features"]])
    assert set(shown) <= set(got.columns)
    for column in shown:
        assert got[column].astype(str).tolist() == drawn[column].astype(str).tolist(), column


def test_coverage_gaps_collection(roster_client: tuple[TestClient, Any]) -> None:
    client, as_of = roster_client
    state = client.app.state.rivernet  # type: ignore[attr-defined]
    expected = coverage.coverage_gaps(state.project, as_of=as_of)
    page = get_json(client, "/collections/coverage_gaps/items", datetime=as_of.isoformat(),
                    limit=10_000)  # fmt: skip
    assert page["numberMatched"] == len(expected) > 0
    lengths = [f["properties"]["length_m"] for f in page["features"]]
    np.testing.assert_allclose(lengths, expected["length_m"])
    county = get_json(client, "/collections/coverage_gaps/items", level="county",
                      datetime=as_of.isoformat(), limit=10_000)  # fmt: skip
    assert county["numberMatched"] == int((expected["level"] == "county").sum())


def test_chiefs_collection_in_force_and_private(roster_client: tuple[TestClient, Any]) -> None:
    client, as_of = roster_client
    state = client.app.state.rivernet  # type: ignore[attr-defined]
    roster = state.project.roster
    active = roster.active(as_of)
    page = get_json(client, "/collections/chiefs/items", datetime=as_of.isoformat(),
                    limit=100_000)  # fmt: skip
    assert page["numberMatched"] == len(active)
    assert {f["id"] for f in page["features"]} == set(active["assignment_id"])
    assert all("contact" not in f["properties"] for f in page["features"])
    assert all("is_fictional" in f["properties"] for f in page["features"][:10])
    one = page["features"][0]
    assert one["properties"]["name"] and one["properties"]["level"]
    located = [f for f in page["features"] if f["geometry"] is not None]
    assert len(located) > len(page["features"]) / 2
    csv = client.get("/collections/chiefs/items", params={"f": "csv", "limit": 5})
    assert "contact" not in csv.content.decode("utf-8-sig").splitlines()[0]


def test_browsers_are_sent_from_the_landing_page_to_the_map(client: TestClient) -> None:
    app: Any = client.app
    assert "/map" in features.route_paths(app.routes)
    browser = {"Accept": "text/html,application/xhtml+xml"}
    response = client.get("/", headers=browser, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "http://testserver/map"
    assert client.get("/", params={"f": "json"}, headers=browser).json()["title"] == "rivernet"
    assert client.get("/", params={"f": "xml"}).status_code == 400


# --- issue 10: CSV formula injection and the allow-list of published columns ---------------------

FORMULA = '=HYPERLINK("http://x","y")'


@pytest.fixture(scope="module")
def hostile_client(project: Project) -> Iterator[TestClient]:
    """The sample whose first active chief is named with a formula and has a 座机 column."""
    from rivernet.roster import Roster

    roster = project.require_roster()
    active = roster.active(dt.date(2025, 6, 30))
    active = active[active["reach_id"].notna()]
    person = active["person_id"].iloc[0]
    people = roster.people.copy()
    people.loc[people["person_id"] == person, "name"] = FORMULA
    people.loc[people["person_id"] == person, "post"] = "-3.5"
    people["座机"] = "0512-66668888"
    people["notes"] = "手机 13800000000"
    hostile = Roster(people=people, assignments=roster.assignments, units=roster.units,
                     boards=roster.boards)  # fmt: skip
    own = project.replace(roster=hostile)
    with TestClient(create_app(Settings(project=SAMPLE, reload_interval=0), project=own)) as c:
        c.person = person  # type: ignore[attr-defined]
        c.reach = active["reach_id"].iloc[0]  # type: ignore[attr-defined]
        yield c


def _csv_cells(text: str) -> list[str]:
    import csv
    import io

    return [cell for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) for cell in row]


def test_csv_neutralises_formulas_in_every_csv(hostile_client: TestClient) -> None:
    person = hostile_client.person  # type: ignore[attr-defined]
    reach = hostile_client.reach  # type: ignore[attr-defined]
    urls = [
        ("/collections/chiefs/items", {"f": "csv", "limit": 100000, "datetime": "2025-06-30"}),
        ("/collections/chiefs/items", {"f": "csv", "person_id": person, "datetime": "2025-06-30"}),
        (f"/reaches/{reach}/chiefs", {"f": "csv", "datetime": "2025-06-30"}),
    ]
    for url, params in urls:
        response = hostile_client.get(url, params=params)
        assert response.status_code == 200, response.text
        cells = _csv_cells(response.text)
        assert "'" + FORMULA in cells, url
        assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for cell in cells), url
    numbers = hostile_client.get(
        "/collections/reaches/items", params={"f": "csv", "limit": 50}
    ).text
    assert "'" not in numbers.split("\n", 1)[1].split("LINESTRING")[0]  # numbers stay numbers
    params = {"person_id": person, "datetime": "2025-06-30"}
    as_json = hostile_client.get("/collections/chiefs/items", params=params)
    names = {f["properties"]["name"] for f in as_json.json()["features"]}
    assert names == {FORMULA}  # JSON keeps the value exact


def test_only_allow_listed_roster_columns_are_published(hostile_client: TestClient) -> None:
    from rivernet.server.collections import ROSTER_PUBLIC_COLUMNS

    reach = hostile_client.reach  # type: ignore[attr-defined]
    for url, params in [
        ("/collections/chiefs/items", {"datetime": "2025-06-30", "limit": 5}),
        ("/collections/chiefs/items", {"datetime": "2025-06-30", "f": "csv", "limit": 5}),
        (f"/reaches/{reach}/chiefs", {"datetime": "2025-06-30"}),
        (f"/reaches/{reach}/chiefs", {"datetime": "2025-06-30", "f": "csv"}),
        ("/collections/coverage/items", {"datetime": "2025-06-30", "limit": 5}),
    ]:
        response = hostile_client.get(url, params=params)
        assert response.status_code == 200, (url, response.text)
        for secret in ("座机", "0512-66668888", "notes", "13800000000", "contact"):
            assert secret not in response.text, (url, secret)
    chiefs = hostile_client.get("/collections/chiefs/items", params={"datetime": "2025-06-30"})
    published = set(chiefs.json()["features"][0]["properties"])
    assert published <= ROSTER_PUBLIC_COLUMNS
    assert {"person_id", "name", "post", "organisation", "level", "unit_code", "role",
            "valid_from", "source_document", "is_fictional"} <= published  # fmt: skip
    filtered = hostile_client.get("/collections/chiefs/items", params={"座机": "0512-66668888"})
    assert filtered.status_code == 400  # not even filterable
