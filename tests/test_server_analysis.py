"""Tests of the analysis router (server/routers/analysis.py) against the library's answers."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient

import rivernet
import rivernet.incidents as incident_functions
import rivernet.joint_control as partner_functions
from rivernet import chiefs, coverage
from rivernet.project import Project
from rivernet.server import params
from rivernet.server.app import create_app
from rivernet.server.routers import analysis
from rivernet.server.settings import Settings
from tests.conftest import SAMPLE


@pytest.fixture(scope="module")
def big_outlet(project: Project) -> int:
    """The reach with the most river upstream of it."""
    return int(project.network.upstream_length_km().idxmax())  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def headwater(project: Project) -> int:
    """The reach farthest from its outlet."""
    return int(project.network.distance_to_outlet_km().idxmax())  # type: ignore[call-overload]


def get_json(client: TestClient, url: str, **params: Any) -> Any:
    response = client.get(url, params=params) if params else client.get(url)
    assert response.status_code == 200, response.text
    return response.json()


def frame_of(document: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"id": f["id"], **f["properties"]} for f in document["features"]]
    ).set_index("id")


@pytest.mark.parametrize("mode", ["UT", "UM"])
@pytest.mark.parametrize("distance", [None, 25.0])
def test_upstream_navigation_matches_the_network(
    client: TestClient, project: Project, big_outlet: int, mode: str, distance: float | None
) -> None:
    params = {} if distance is None else {"distance": distance}
    document = get_json(client, f"/reaches/{big_outlet}/navigation/{mode}", **params)
    expected = project.network.upstream(big_outlet, mode=mode, distance_km=distance)
    got = frame_of(document)
    assert got.index.tolist() == expected["reach_id"].tolist()
    np.testing.assert_allclose(got["distance_km"], expected["distance_km"])
    assert got["distance_km"].iloc[0] == 0.0 and got.index[0] == big_outlet
    assert (np.diff(got["distance_km"]) >= 0).all()
    assert document["numberReturned"] == len(expected)
    if distance is not None:
        assert got["distance_km"].max() <= distance


@pytest.mark.parametrize("mode", ["DM", "DD"])
def test_downstream_navigation_matches_the_network(
    client: TestClient, project: Project, headwater: int, mode: str
) -> None:
    document = get_json(client, f"/reaches/{headwater}/navigation/{mode}", distance=100)
    expected = project.network.downstream(headwater, mode=mode, distance_km=100)
    got = frame_of(document)
    assert got.index.tolist() == expected["reach_id"].tolist()
    np.testing.assert_allclose(got["distance_km"], expected["distance_km"])
    assert len(got) > 3
    first = document["features"][1]
    line = project.network.reaches.geometry.loc[first["id"]]
    assert shapely.geometry.shape(first["geometry"]).equals_exact(line, 1e-12)
    lengths = project.network.reaches.loc[got.index, "length_m"].to_numpy()
    np.testing.assert_allclose(got["length_m"], lengths)


def test_navigation_csv_and_mode_list(client: TestClient, big_outlet: int) -> None:
    response = client.get(f"/reaches/{big_outlet}/navigation/UM", params={"f": "csv"})
    table = pd.read_csv(io.StringIO(response.content.decode("utf-8-sig")))
    assert table["reach_id"].iloc[0] == big_outlet and "geometry" in table.columns
    modes = get_json(client, f"/reaches/{big_outlet}/navigation")
    assert set(modes) == {"UM", "UT", "DM", "DD"}
    assert modes["UT"]["href"].endswith(f"/reaches/{big_outlet}/navigation/UT")


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/reaches/1/navigation/UT", 404),
        ("/reaches/abc/navigation/UT", 404),
        ("/reaches/40618366/navigation/XX", 400),
        ("/reaches/40618366/navigation/UT?distance=-1", 400),
        ("/reaches/40618366/navigation/UT?distance=nan", 400),
        ("/reaches/40618366/navigation/UT?distance=ten", 400),
        ("/reaches/40618366/navigation/UT?f=xml", 400),
    ],
)
def test_navigation_errors(client: TestClient, url: str, status: int) -> None:
    response = client.get(url)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


def test_partners_of_a_unit_match_the_library(client: TestClient, project: Project) -> None:
    document = get_json(client, "/partners", unit="320500", distance=50)
    expected = partner_functions.partners(project, unit="320500", distance_km=50)
    assert document["numberReturned"] == len(expected)
    got = pd.DataFrame(document["items"])
    assert got["partner_code"].tolist() == expected["partner_code"].tolist()
    assert got["relation"].tolist() == expected["relation"].tolist()
    csv = client.get("/partners", params={"unit": "320500", "distance": 50, "f": "csv"})
    assert len(pd.read_csv(io.StringIO(csv.content.decode("utf-8-sig")))) == len(expected)


def test_partners_of_a_reach(client: TestClient, project: Project, headwater: int) -> None:
    document = get_json(client, "/partners", reach=str(headwater), level="county")
    expected = partner_functions.partners(project, reach=headwater, level="county")
    assert document["numberReturned"] == len(expected)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({}, 400),
        ({"unit": "320500", "reach": "40618366"}, 400),
        ({"unit": "999999"}, 404),
        ({"reach": "1"}, 404),
        ({"unit": "320500", "distance": "-3"}, 400),
    ],
)
def test_partner_errors(client: TestClient, params: dict[str, str], status: int) -> None:
    assert client.get("/partners", params=params).status_code == status


def test_partner_summary(client: TestClient, project: Project) -> None:
    document = get_json(client, "/partners/summary", level="province")
    expected = partner_functions.partner_summary(project, level="province")
    got = pd.DataFrame(document["items"])
    assert got["crossings"].tolist() == expected["crossings"].tolist()
    pairs = set(zip(got["upstream_name"], got["downstream_name"], strict=True))
    assert ("浙江省", "江苏省") in pairs


def test_incident_routing_from_a_point(
    client: TestClient, project: Project, headwater: int
) -> None:
    line = project.network.reaches.geometry.loc[headwater]
    point = line.interpolate(0.5, normalized=True)
    document = get_json(client, "/incident", lon=point.x, lat=point.y, distance=200, velocity=0.5)
    expected = incident_functions.incident(project, point, distance_km=200, velocity_m_s=0.5)
    assert document["snapped"]["reach_id"] == headwater
    assert [row["unit_code"] for row in document["notify"]] == expected.notify["unit_code"].tolist()
    assert document["sections"]["type"] == "FeatureCollection"
    assert len(document["sections"]["features"]) == len(expected.sections)
    assert len(document["upstream"]) == len(expected.upstream)


def test_incident_far_from_rivers_is_404(client: TestClient) -> None:
    response = client.get("/incident", params={"lon": 100, "lat": 10})
    assert response.status_code == 404
    assert "max_snap_m" in response.json()["detail"]
    assert client.get("/incident", params={"lon": 200, "lat": 10}).status_code == 400


def test_reach_id_parsing(project: Project) -> None:
    assert params.reach_id(project, "40618366") == 40618366
    with pytest.raises(rivernet.NotFoundError):
        params.reach_id(project, "4.5")


def test_routers_import_the_library_functions_they_call() -> None:
    # A missing capability is an import error at start-up, never a silently absent route.
    assert analysis.coverage_summary is coverage.coverage_summary
    assert analysis.chiefs_at is chiefs.chiefs_at
    assert analysis.partners is partner_functions.partners
    assert analysis.partner_summary is partner_functions.partner_summary
    assert analysis.incident is incident_functions.incident
    assert not hasattr(analysis, "library_function")


# --- endpoints that need the chief roster ---------------------------------------------------


@pytest.fixture(scope="module")
def roster_client(roster_sample: tuple[Path, Any]) -> Iterator[tuple[TestClient, Any]]:
    """The server on the sample with its fictional roster, and the roster's date."""
    path, as_of = roster_sample
    with TestClient(create_app(Settings(project=path))) as test_client:
        yield test_client, as_of


def test_chiefs_of_a_reach(roster_client: tuple[TestClient, Any], headwater: int) -> None:
    client, as_of = roster_client
    project = client.app.state.rivernet.project  # type: ignore[attr-defined]
    document = get_json(client, f"/reaches/{headwater}/chiefs", datetime=as_of.isoformat())
    expected = chiefs.chiefs_at(project, headwater, as_of=as_of)
    got = pd.DataFrame(document["items"])
    assert document["numberReturned"] == len(expected) > 0
    assert got["assignment_id"].tolist() == expected["assignment_id"].tolist()
    assert got["level"].tolist() == expected["level"].tolist()
    assert "contact" not in got.columns
    assert client.get("/reaches/1/chiefs").status_code == 404


def test_chiefs_at_a_point(roster_client: tuple[TestClient, Any], headwater: int) -> None:
    client, as_of = roster_client
    project = client.app.state.rivernet.project  # type: ignore[attr-defined]
    point = project.network.reaches.geometry.loc[headwater].interpolate(0.3, normalized=True)
    document = get_json(client, "/chiefs/at", lon=point.x, lat=point.y,
                        datetime=as_of.isoformat())  # fmt: skip
    expected = chiefs.chiefs_at(project, point, as_of=as_of)
    assert [row["assignment_id"] for row in document["items"]] == expected["assignment_id"].tolist()
    assert {row["reach_id"] for row in document["items"]} <= {headwater, None}
    far = client.get("/chiefs/at", params={"lon": 100, "lat": 10})
    assert far.status_code == 404 and far.headers["content-type"] == "application/problem+json"


def test_coverage_summary(roster_client: tuple[TestClient, Any]) -> None:
    client, as_of = roster_client
    state = client.app.state.rivernet  # type: ignore[attr-defined]
    expected = coverage.coverage_summary(state.project, as_of=as_of)
    document = get_json(client, "/coverage/summary", datetime=as_of.isoformat())
    got = pd.DataFrame(document["items"])
    assert len(got) == len(expected)
    np.testing.assert_allclose(got["coverage_pct"], expected["coverage_pct"])
    county = get_json(client, "/coverage/summary", datetime=as_of.isoformat(), level="county",
                      unit="320500")  # fmt: skip
    assert {row["level"] for row in county["items"]} == {"county"}
    assert all(row["unit_code"].startswith("3205") for row in county["items"])
    csv = client.get("/coverage/summary", params={"datetime": as_of.isoformat(), "f": "csv"})
    assert len(pd.read_csv(io.StringIO(csv.content.decode("utf-8-sig")))) == len(expected)
    assert client.get("/coverage/summary", params={"unit": "999999"}).status_code == 404


ROSTER_URLS = (
    "/coverage/summary",
    "/reaches/40618366/chiefs",
    "/chiefs/at?lon=120.6&lat=31.3&max_distance=100000",
    "/collections/coverage/items",
    "/collections/coverage_gaps/items",
    "/collections/chiefs/items",
    "/collections/chiefs/items/1",
    "/tiles/coverage/8/213/105.mvt",
    "/tiles/coverage/8/213/105.png",
    "/tiles/coverage/tilejson.json",
    "/collections/coverage/tiles/WebMercatorQuad/8/105/213",
)


@pytest.mark.parametrize("url", ROSTER_URLS)
def test_a_missing_roster_is_the_same_404_on_every_route(project: Project, url: str) -> None:
    bare = project.replace(roster=None)
    with TestClient(create_app(Settings(project=SAMPLE), project=bare)) as bare_client:
        response = bare_client.get(url)
    assert response.status_code == 404, url
    assert response.headers["content-type"] == "application/problem+json"
    assert "没有河长名录" in response.json()["detail"], url


def test_coverage_summary_is_404_without_a_roster_and_200_with_one(project: Project) -> None:
    with TestClient(create_app(Settings(project=SAMPLE), project=project)) as with_roster:
        assert project.has_roster
        assert with_roster.get("/coverage/summary").status_code == 200
    bare = project.replace(roster=None)
    with TestClient(create_app(Settings(project=SAMPLE), project=bare)) as without:
        response = without.get("/coverage/summary")
        assert response.status_code == 404 and "roster" in response.json()["detail"]
        offered = {c["id"] for c in without.get("/collections").json()["collections"]}
        assert offered.isdisjoint({"coverage", "coverage_gaps", "chiefs"})
        assert {"reaches", "crossings"} <= offered
        style = without.get("/style.json").json()
        assert "coverage" not in style["sources"] and "reaches" in style["sources"]


def test_a_roster_replaced_in_the_project_is_followed(project: Project) -> None:
    own = project.replace()
    with TestClient(create_app(Settings(project=SAMPLE), project=own)) as client:
        first = client.get("/coverage/summary")
        assert first.status_code == 200
        own.roster = None
        assert client.get("/coverage/summary").status_code == 404
        own.roster = project.roster
        again = client.get("/coverage/summary")
        assert again.status_code == 200 and again.headers["etag"] != first.headers["etag"]
