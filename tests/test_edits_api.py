"""The roster edit API against both stores: the scope matrix, 401, 412, 422, open reads.

Offices: editors of a county (虎丘区 320505), a city (苏州市 3205) and a province (江苏省 32),
and a viewer of 320505. Each edit endpoint is tried inside and outside each office's scope:
rows of 320505 (inside all three editors' scopes), 320506 (吴中区: the city's and province's,
not the county's) and 310114 (嘉定区, Shanghai: nobody's but an admin's). Real app over HTTP
(TestClient), real GeoPackage copy and real PostgreSQL + PostGIS cluster.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rivernet.project import open_project
from rivernet.server.app import create_app
from rivernet.server.settings import Settings
from tests._edits import (
    STORES,
    bearer,
    make_tokens,
    pg_cluster,  # noqa: F401 - the fixture
    sample_store,
)

UNITS = {"320505": "P00107", "320506": "P00111", "310114": "P00025"}
"""A unit of each scope case and a person of it."""
ASSIGNMENTS = {"320505": "A001380", "320506": "A001422", "310114": "A000043"}
"""An assignment in force of each unit."""
SCOPE = {
    "county": {"320505"},
    "city": {"320505", "320506"},
    "province": {"320505", "320506"},
    "viewer": set(),
}
"""Units each office may edit."""
REACHES = {"320505": 40634596, "320506": 40637240, "310114": 40636257}
"""A reach of each unit, with room for a 10 m stretch per appointment of the tests..."""
OFFSET = {"320505": 700.0, "320506": 0.0, "310114": 0.0}
"""...from here (40634596 enters 320505 at 673 m; 40637240 is in 320506 for 2.2 km)."""
REACH = REACHES["320505"]
_STRETCH = itertools.count()


@dataclass
class Served:
    """A running app on a store, its tokens, and sign boards made for the tests (by unit)."""

    client: TestClient
    tokens: dict[str, str]
    kind: str
    boards: dict[str, str]


@pytest.fixture(scope="module", params=STORES)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """The app serving a fresh copy of the sample in each store."""
    kind = request.param
    target = sample_store(kind, tmp_path_factory.mktemp(kind), request)
    tokens = make_tokens(target)
    project = open_project(target)
    with TestClient(create_app(Settings(), project=project)) as client:
        boards = {}
        for unit, person in UNITS.items():  # one board per unit, made by the admin
            board = {"reach_id": REACHES[unit], "measure_m": 100.0, "level": "county",
                     "person_id": person, "updated_on": "2026-01-05"}  # fmt: skip
            answer = client.post("/boards", headers=bearer(tokens["admin"]), json=board)
            assert answer.status_code == 201, answer.text
            boards[unit] = answer.json()["board_id"]
        yield Served(client, tokens, kind, boards)
    project.store.close()  # the connection it was read with


def _appointment(unit: str) -> dict[str, Any]:
    start = OFFSET[unit] + 15.0 * next(_STRETCH)
    return {"person_id": UNITS[unit], "level": "county", "unit_code": unit, "role": "河长",
            "reach_id": REACHES[unit], "from_m": start, "to_m": start + 10.0,
            "valid_from": "2026-12-01", "source_document": "测试〔2026〕1号"}  # fmt: skip


def _etag(client: TestClient, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, answer.text
    return answer.headers["ETag"]


def _edit(served: Served, office: str | None, endpoint: str, unit: str,
          headers: dict[str, str] | None = None) -> Any:  # fmt: skip
    """Call one edit endpoint on a row of ``unit`` as ``office`` (None: no token)."""
    client = served.client
    auth = dict(headers or {})
    if office is not None:
        auth.update(bearer(served.tokens[office]))
    if endpoint == "POST /assignments":
        return client.post("/assignments", json=_appointment(unit), headers=auth)
    if endpoint == "PATCH /assignments":
        path = f"/assignments/{ASSIGNMENTS[unit]}"
        body = {"source_document": f"测试〔2026〕{next(_STRETCH)}号"}
        return client.patch(path, json=body, headers={"If-Match": _etag(client, path), **auth})
    if endpoint == "POST /people":
        return client.post("/people", json={"name": "测试人", "post": "副区长", "level": "county",
                                            "unit_code": unit}, headers=auth)  # fmt: skip
    if endpoint == "PATCH /people":
        path = f"/people/{UNITS[unit]}"
        body = {"post": f"区长{next(_STRETCH)}"}
        return client.patch(path, json=body, headers={"If-Match": _etag(client, path), **auth})
    if endpoint == "POST /boards":
        board = {"reach_id": REACHES[unit], "measure_m": 5.0, "level": "county",
                 "person_id": UNITS[unit], "updated_on": "2026-12-01"}  # fmt: skip
        return client.post("/boards", json=board, headers=auth)
    assert endpoint == "PATCH /boards"
    path = f"/boards/{served.boards[unit]}"
    body = {"updated_on": "2026-12-02"}
    return client.patch(path, json=body, headers={"If-Match": _etag(client, path), **auth})


ENDPOINTS = ("POST /assignments", "PATCH /assignments", "POST /people", "PATCH /people",
             "POST /boards", "PATCH /boards")  # fmt: skip


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_scope_matrix(served: Served, endpoint: str) -> None:
    """Every office on every unit: 201/200 inside its scope, 403 outside (viewer: always)."""
    expected_ok = 201 if endpoint.startswith("POST") else 200
    seen = {}
    for office in SCOPE:
        for unit in UNITS:
            answer = _edit(served, office, endpoint, unit)
            seen[office, unit] = answer.status_code
            if answer.status_code == 403:
                problem = answer.json()
                assert answer.headers["content-type"].startswith("application/problem+json")
                assert (unit if office != "viewer" else "只读") in problem["detail"], problem
    want = {(o, u): expected_ok if u in allowed else 403
            for o, allowed in SCOPE.items() for u in UNITS}  # fmt: skip
    assert seen == want


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_no_or_unknown_token_is_401(served: Served, endpoint: str) -> None:
    for headers in ({}, {"Authorization": "Bearer rn_not-a-token"},
                    {"Authorization": "Basic dXNlcjpwYXNz"}):  # fmt: skip
        answer = _edit(served, None, endpoint, "320505", headers=headers)
        assert answer.status_code == 401, (headers, answer.text)
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert answer.json()["status"] == 401


def test_401_text_follows_lang(served: Served) -> None:
    zh = served.client.post("/assignments", json={}).json()["detail"]
    en = served.client.post("/assignments", params={"lang": "en"}, json={}).json()["detail"]
    assert "令牌" in zh
    assert "token" in en and "令牌" not in en


@pytest.mark.parametrize("path", ["/assignments/{a}", "/people/{p}", "/boards/{b}"])
def test_stale_if_match_is_412_with_the_current_etag(served: Served, path: str) -> None:
    client = served.client
    path = path.format(a=ASSIGNMENTS["320505"], p=UNITS["320505"], b=served.boards["320505"])
    change = {"/assignments": {"source_document": "测试〔2026〕412号"},
              "/people/": {"post": "区长"}, "/boards/": {"updated_on": "2026-12-03"}}  # fmt: skip
    body = next(v for k, v in change.items() if path.startswith(k))
    auth = bearer(served.tokens["county"])
    old = _etag(client, path)
    first = client.patch(path, json=body, headers={"If-Match": old, **auth})
    assert first.status_code == 200, first.text
    new = first.headers["ETag"]
    assert new != old and new == _etag(client, path)
    stale = client.patch(path, json=body, headers={"If-Match": old, **auth})
    assert stale.status_code == 412
    assert stale.json()["etag"] == new
    assert new in stale.json()["detail"]


@pytest.mark.parametrize(
    ("endpoint", "body", "field"),
    [
        ("/assignments", {"valid_from": "2026-13-01"}, "valid_from"),
        ("/assignments", {"level": "galaxy"}, "level"),
        ("/assignments", {"reach_id": 1}, "reach_id"),
        ("/assignments", {"valid_to": "2020-01-01"}, "valid_to"),
        ("/people", {"name": ""}, "name"),
        ("/boards", {"measure_m": 1e9}, "measure_m"),
        ("/boards", {"person_id": "P99999"}, "person_id"),
    ],
)
def test_invalid_data_is_422_naming_the_field(
    served: Served, endpoint: str, body: dict[str, Any], field: str
) -> None:
    # an unknown person has no unit to check the scope against: the admin's token covers all
    office = "admin" if body.get("person_id") == "P99999" else "county"
    base = {
        "/assignments": _appointment("320505"),
        "/people": {"name": "测试人", "level": "county", "unit_code": "320505"},
        "/boards": {"reach_id": REACH, "measure_m": 5.0, "level": "county",
                    "person_id": UNITS["320505"], "updated_on": "2026-12-01"},
    }[endpoint]  # fmt: skip
    answer = served.client.post(endpoint, json={**base, **body},
                                headers=bearer(served.tokens[office]))  # fmt: skip
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["errors"][0]["parameter"] == field, problem
    assert problem["errors"][0]["in"] == "body"


def test_a_body_that_is_not_an_object_is_422(served: Served) -> None:
    auth = bearer(served.tokens["county"])
    for content in (b"[1, 2]", b"{not json"):
        headers = {**auth, "Content-Type": "application/json"}
        answer = served.client.post("/assignments", content=content, headers=headers)
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["parameter"] == "body"
        assert "JSON" in answer.json()["detail"]


def test_reads_are_open_with_etags_and_304(served: Served) -> None:
    client = served.client
    path = f"/assignments/{ASSIGNMENTS['310114']}"
    answer = client.get(path)
    assert answer.status_code == 200
    row = answer.json()
    assert row["assignment_id"] == ASSIGNMENTS["310114"] and row["etag"] == answer.headers["ETag"]
    assert client.get(path, headers={"If-None-Match": answer.headers["ETag"]}).status_code == 304
    assert client.get("/assignments/A999999").status_code == 404
    assert client.get(f"/reaches/{REACH}/history").status_code == 200
    assert client.get("/reaches/1/history").status_code == 404
    assert client.get("/audit", params={"unit": "3205"}).status_code == 200
    assert client.get("/audit", params={"since": "yesterday"}).status_code == 400


def test_contact_details_for_admins_only(served: Served) -> None:
    client = served.client
    path = f"/people/{UNITS['320506']}"
    admin = bearer(served.tokens["admin"])
    changed = client.patch(path, json={"contact": "0512-0000000 (虚构)"},
                           headers={"If-Match": _etag(client, path), **admin})  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert changed.json()["contact"] == "0512-0000000 (虚构)"
    assert "contact" not in client.get(path).json()
    assert "contact" not in client.get(path, headers=bearer(served.tokens["city"])).json()
    assert client.get(path, headers=admin).json()["contact"] == "0512-0000000 (虚构)"
    audit = client.get("/audit", params={"person": UNITS["320506"]}).json()["items"]
    assert audit and "0512-0000000" not in str(audit)
    audit = client.get("/audit", params={"person": UNITS["320506"]}, headers=admin).json()
    assert "0512-0000000" in str(audit["items"])


def test_every_edit_is_audited_with_actor_and_document(served: Served) -> None:
    client = served.client
    answer = _edit(served, "city", "POST /assignments", "320506")
    assert answer.status_code == 201
    row = answer.json()
    assert answer.headers["ETag"] == row["etag"]
    assert answer.headers["Location"].endswith(f"assignments/{row['assignment_id']}")
    items = client.get("/audit", params={"unit": "320506", "limit": 5}).json()["items"]
    entry = next(i for i in items if i["row_id"] == row["assignment_id"])
    assert entry["action"] == "appoint" and entry["actor"] == "苏州市河长办"
    assert entry["source_document"] == "测试〔2026〕1号" and entry["before"] is None
    history = client.get(f"/reaches/{REACHES['320506']}/history").json()["items"]
    assert row["assignment_id"] in {h["assignment_id"] for h in history}
    assert [h["valid_from"] for h in history] == sorted(h["valid_from"] for h in history)


def test_openapi_documents_the_edit_routes() -> None:
    from rivernet.server.app import create_app

    document = create_app(Settings()).openapi()
    post = document["paths"]["/assignments"]["post"]
    assert set(post["responses"]) >= {"201", "400", "401", "403", "412", "422"}
    assert "ETag" in post["responses"]["201"]["headers"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert {"person_id", "valid_from", "source_document"} <= set(schema["properties"])
    assert post["security"] == [{"token": []}]
    assert document["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    for path in ("/assignments/{assignment_id}", "/people", "/people/{person_id}", "/boards",
                 "/boards/{board_id}", "/audit", "/reaches/{reach_id}/history"):  # fmt: skip
        assert path in document["paths"], path


def test_a_project_without_a_store_answers_503() -> None:
    from tests.conftest import SAMPLE

    project = open_project(SAMPLE)
    project.store = None  # built in memory: nothing to write to
    with TestClient(create_app(Settings(), project=project)) as client:
        answer = client.post("/assignments", json={}, headers=bearer("rn_x"))
        assert answer.status_code == 503
        assert "PostgreSQL" in client.post("/assignments", json={}, params={"lang": "en"},
                                           headers=bearer("rn_x")).json()["detail"]  # fmt: skip
        assert client.get("/coverage/summary", params={"unit": "310114"}).status_code == 200
