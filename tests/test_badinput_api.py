"""Hostile and malformed API requests: each gets its exact status and a useful problem.

A table-driven corpus (it counts toward issue 10's 60-case corpus of bad inputs): out-of-range
tile coordinates, huge or negative paging, malformed bbox / bbox-crs / crs, date intervals and
garbage, unknown collections, layers, reaches and features, NUL bytes and path traversal in
static paths, HEAD requests, an unknown Host header, injection attempts in property filters, a
level that does not exist, non-numeric or non-finite coordinates. Every answer below 500 that is
an error is an RFC 9457 problem+json document whose text names the parameter and says how to
fix it; none is ever a 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import pytest
from fastapi.testclient import TestClient

from rivernet.server.app import create_app
from rivernet.server.settings import Settings
from tests.conftest import SAMPLE

PROBLEM = "application/problem+json"


class Case(NamedTuple):
    """One bad request and what its answer must say."""

    url: str
    status: int
    names: str  # the parameter, as the problem names it
    fix: str  # words of the fix the problem offers
    method: str = "GET"
    host: str | None = None


ITEMS = "/collections/reaches/items"
CASES = {
    "zoom above the matrix set": Case("/tiles/reaches/40/0/0.mvt", 404, "zoom 40",
                                      "use a zoom from 0 to 24"),
    "negative zoom": Case("/tiles/reaches/-1/0/0.png", 404, "zoom -1", "use a zoom from 0"),
    "column outside the matrix": Case("/tiles/reaches/3/9/1.mvt", 404, "column x",
                                      "must be from 0 to 7"),
    "OGC path row outside": Case("/collections/reaches/tiles/WebMercatorQuad/2/0/7", 404,
                                 "row y", "from 0 to 3"),
    "non-numeric tile column": Case("/tiles/reaches/9/x/1.mvt", 400, "'x'",
                                    "valid integer"),
    "negative limit": Case(f"{ITEMS}?limit=-5", 400, "'limit'", "greater than or equal to 0"),
    "negative offset": Case(f"{ITEMS}?offset=-1", 400, "'offset'",
                            "greater than or equal to 0"),
    "bbox with three numbers": Case(f"{ITEMS}?bbox=1,2,3", 400, "bbox", "4 or 6 finite numbers"),
    "bbox upside down": Case(f"{ITEMS}?bbox=120,32,121,31", 400, "bbox",
                             "lower corner above its upper corner"),
    "bbox of words": Case(f"{ITEMS}?bbox=a,b,c,d", 400, "bbox", "comma-separated numbers"),
    "unknown bbox-crs": Case(f"{ITEMS}?bbox=0,0,1,1&bbox-crs=EPSG:9999", 400, "EPSG:9999",
                             "use one of http://www.opengis.net/def/crs/OGC/1.3/CRS84"),
    "unknown output crs": Case(f"{ITEMS}?crs=EPSG:27700", 400, "EPSG:27700", "use one of"),
    "datetime interval": Case(f"{ITEMS}?datetime=2024-01-01/2024-02-01", 400, "datetime",
                              "give a single date such as 2024-05-01"),
    "datetime garbage": Case(f"{ITEMS}?datetime=yesterday", 400, "datetime",
                             "use e.g. 2024-05-01"),
    "impossible date": Case("/coverage/summary?datetime=2024-02-30", 400, "datetime",
                            "use e.g. 2024-05-01"),
    "tilejson datetime garbage": Case("/tiles/reaches/tilejson.json?datetime=soon", 400,
                                      "datetime", "use e.g. 2024-05-01"),
    "unknown collection": Case("/collections/rivers/items", 404, "collection 'rivers'",
                               "this server offers: admin_units"),
    "unknown layer": Case("/tiles/nosuch/1/0/0.mvt", 404, "layer 'nosuch'",
                          "the catalog has: admin_units"),
    "unknown reach": Case("/reaches/123/navigation/UT", 404, "reach '123'",
                          "listed at /collections/reaches/items"),
    "unknown feature": Case(f"{ITEMS}/999", 404, "feature_id", "use the id of a feature"),
    "unknown navigation mode": Case("/reaches/40618366/navigation/XX", 400, "'mode'",
                                    "'UM', 'UT', 'DM' or 'DD'"),
    "negative navigation distance": Case("/reaches/40618366/navigation/UT?distance=-1", 400,
                                         "'distance'", "greater than or equal to 0"),
    "NUL byte in a static path": Case("/static/%00.js", 404, "path parameter", "linked from /map"),
    "encoded traversal in a static path": Case("/static/..%2F..%2Fserver%2Fapp.py", 404,
                                               "path parameter", "linked from /map"),
    "traversal out of /static": Case("/static/../../pyproject.toml", 404, "/pyproject.toml",
                                     "landing page lists what exists"),
    "very long static name": Case("/static/" + "a" * 300 + ".js", 404, "path parameter",
                                  "linked from /map"),
    "HEAD of a tile out of range": Case("/tiles/reaches/40/0/0.mvt", 404, "", "",
                                        method="HEAD"),
    "unknown Host header": Case("/", 400, "Host", "RIVERNET_ALLOWED_HOSTS",
                                host="evil.example"),
    "SQL in a numeric filter": Case(f"{ITEMS}?ORD_STRA=1%20OR%201=1", 400, "'ORD_STRA'",
                                    "is numeric"),
    "SQL in an unknown filter": Case(f"{ITEMS}?owner=%27;DROP%20TABLE%20reaches;--", 400,
                                     "'owner'", "filter on one of: reach_id"),
    "a level that does not exist": Case("/coverage/summary?level=galaxy", 400, "'level'",
                                        "'province', 'city', 'county', 'township' or 'village'"),
    "tile level that does not exist": Case("/tiles/coverage/9/426/211.mvt?level=galaxy", 400,
                                           "'level'", "'province', 'city'"),
    "non-numeric longitude": Case("/chiefs/at?lon=east&lat=31", 400, "'lon'", "valid number"),
    "non-finite longitude": Case("/chiefs/at?lon=nan&lat=31", 400, "'lon'", "finite number"),
    "latitude beyond the pole": Case("/incident?lon=120&lat=91", 400, "'lat'",
                                     "less than or equal to 90"),
    "partners without a subject": Case("/partners", 400, "parameters unit, chief and reach",
                                       "give exactly one of"),
    "partners with two subjects": Case("/partners?unit=320505&reach=1", 400,
                                       "parameters unit, chief and reach", "exactly one of"),
    "unknown admin unit": Case("/coverage/summary?unit=999999", 404, "parameter unit",
                               "such as 320500"),
    "unknown format": Case(f"{ITEMS}?f=xml", 400, "f='xml'", "use f=json, f=geojson or f=csv"),
}  # fmt: skip


@pytest.fixture(scope="module")
def app_client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(project=SAMPLE, reload_interval=0))) as client:
        yield client


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_request_gets_its_status_and_a_useful_problem(
    app_client: TestClient, case: Case
) -> None:
    # an English-speaking client (without the header the details are Chinese)
    headers = {"Accept-Language": "en", **({"Host": case.host} if case.host else {})}
    response = app_client.request(case.method, case.url, headers=headers)
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"] == PROBLEM
    if case.method == "HEAD":
        assert response.content == b""
        return
    problem = response.json()
    assert problem["status"] == case.status and problem["title"]
    text = problem["detail"] + " ".join(str(e.get("parameter")) for e in problem.get("errors", []))
    assert case.names in text, problem
    assert case.fix in text, problem


def test_huge_limits_are_capped_not_refused(app_client: TestClient) -> None:
    response = app_client.get(ITEMS, params={"limit": "99999999999999999999999"})
    assert response.status_code == 200
    assert response.json()["numberReturned"] == response.json()["numberMatched"]
