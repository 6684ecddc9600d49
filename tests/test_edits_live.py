"""Live answers: an edit shows at once in coverage, tiles, ETags, the audit and the board layer.

The issue's case on the sample: 嘉定区 (310114) is 71.1 % covered at county level; its office
appoints a county chief on each of its gap stretches, and ``/coverage/summary`` goes to 100 %,
the coverage tile's ETag changes and the audit lists each change with its 文号, each edit
visible to the very next request. Then two server processes on one PostGIS store: an edit
through one is seen by the other within 1 s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from rivernet import edits
from rivernet.project import open_project
from rivernet.server.app import create_app
from rivernet.server.live import MAX_DEFER
from rivernet.server.settings import Settings
from rivernet.store import open_store
from rivernet.tokens import Actor
from tests._edits import STORES, bearer, live_servers, make_tokens, pg_cluster, sample_store  # noqa: F401

JIADING = "310114"
SUMMARY = "/coverage/summary"
TILE = "/tiles/coverage/8/214/104.mvt"  # holds 嘉定区
TODAY = "2026-12-01"


def _coverage(client: Any) -> float:
    answer = client.get(SUMMARY, params={"unit": JIADING, "level": "county"})
    assert answer.status_code == 200, answer.text
    return float(answer.json()["items"][0]["coverage_pct"])


def _gaps(client: Any) -> list[dict[str, Any]]:
    params = {"level": "county", "limit": 1000}
    features = client.get("/collections/coverage_gaps/items", params=params).json()["features"]
    return [f["properties"] for f in features if str(f["properties"]["unit_code"]) == JIADING]


def _appointment(gap: dict[str, Any], number: int) -> dict[str, Any]:
    return {"person_id": "P00025", "level": "county", "unit_code": JIADING, "role": "河长",
            "reach_id": gap["reach_id"], "from_m": gap["from_m"], "to_m": gap["to_m"],
            "valid_from": TODAY, "source_document": f"嘉定河长办〔2026〕{number}号"}  # fmt: skip


def _appoint_elsewhere(state: Any, gap: dict[str, Any]) -> None:
    """Appoint a chief on ``gap`` through another connection to the served store (as another
    worker would): the server sees it at its next check."""
    store = open_store(str(state.project.store.target))
    try:
        edits.appoint(store, Actor(9, "嘉定区河长办", JIADING, "editor"), _appointment(gap, 1))
    finally:
        store.close()


def _served(jiading: tuple[TestClient, dict[str, str]]) -> tuple[TestClient, Any, Any]:
    """The client, its app state and its live follower."""
    client = jiading[0]
    return client, client.app.state.rivernet, client.app.state.live  # type: ignore[attr-defined]


@pytest.fixture
def jiading(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The sample in a GeoPackage store, served in process, and its tokens."""
    target = sample_store("gpkg", tmp_path, request)
    tokens = make_tokens(target)
    project = open_project(target)
    with TestClient(create_app(Settings(), project=project)) as client:
        yield client, tokens
    project.store.close()


def test_appointing_chiefs_on_the_jiading_gaps_closes_them_at_once(
    jiading: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = jiading
    assert _coverage(client) == pytest.approx(71.1)
    tile = client.get(TILE, params={"level": "county"})
    version = client.get("/version").json()["data_version"]
    gaps = _gaps(client)
    assert len(gaps) == 5
    documents = []
    for number, gap in enumerate(gaps, start=1):
        before = _coverage(client)
        answer = client.post("/assignments", json=_appointment(gap, number),
                             headers=bearer(tokens["jiading"]))  # fmt: skip
        assert answer.status_code == 201, answer.text
        documents.append(answer.json()["source_document"])
        assert _coverage(client) > before  # the very next request shows the edit
        made = int(answer.headers["Rivernet-Store-Version"])
        assert int(client.get(TILE).headers["Rivernet-Store-Version"]) >= made
    assert _coverage(client) == pytest.approx(100.0)
    assert _gaps(client) == []
    after = client.get(TILE, params={"level": "county"})
    assert after.status_code == 200 and after.headers["ETag"] != tile.headers["ETag"]
    assert after.content != tile.content
    revalidated = client.get(TILE, params={"level": "county"},
                             headers={"If-None-Match": tile.headers["ETag"]})  # fmt: skip
    assert revalidated.status_code == 200  # the old ETag no longer matches
    assert client.get("/version").json()["data_version"] != version
    audit = client.get("/audit", params={"unit": JIADING}).json()["items"]
    appointed = [entry for entry in audit if entry["action"] == "appoint"]
    assert sorted(e["source_document"] for e in appointed) == sorted(documents)
    assert {e["actor"] for e in appointed} == {"嘉定区河长办"}
    assert all(e["after"]["reach_id"] in {g["reach_id"] for g in gaps} for e in appointed)
    history = client.get(f"/reaches/{gaps[0]['reach_id']}/history").json()["items"]
    assert documents[0] in {h["source_document"] for h in history}


def test_a_board_updated_to_the_new_chief_is_no_longer_stale(
    jiading: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = jiading
    params = {"limit": 100}
    features = client.get("/collections/boards/items", params=params).json()["features"]
    boards = {f["properties"]["board_id"]: f for f in features}
    stale = boards["B002"]["properties"]
    assert stale["stale"] is True and stale["board_status"] == "stale" and stale["changed_on"]
    assert boards["B001"]["properties"]["stale"] is False
    assert boards["B002"]["geometry"]["type"] == "Point"
    chiefs = client.get(f"/reaches/{stale['reach_id']}/chiefs",
                        params={"measure": stale["measure_m"]}).json()["items"]  # fmt: skip
    current = next(c for c in chiefs if c["level"] == "county")
    board = client.get("/boards/B002")
    row = client.get(f"/assignments/{current['assignment_id']}").json()
    change = {"person_id": row["person_id"], "updated_on": TODAY}
    headers = {"If-Match": board.headers["ETag"], **bearer(tokens["admin"])}
    answer = client.patch("/boards/B002", json=change, headers=headers)
    assert answer.status_code == 200, answer.text
    updated = client.get("/collections/boards/items/B002").json()["properties"]
    assert updated["stale"] is False and updated["board_status"] == "current"
    tile = client.get("/tiles/boards/8/214/104.mvt")
    assert tile.status_code in (200, 204)


# --- two server processes on one PostGIS store ------------------------------------------------


@pytest.fixture
def two_servers(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[str, str, dict[str, str]]]:
    """Two uvicorn processes serving one PostGIS store, and its tokens."""
    target = sample_store("postgis", tmp_path, request)
    tokens = make_tokens(target)
    with live_servers(target, 2) as (first, second):
        yield first, second, tokens


def test_an_edit_through_one_server_is_seen_by_the_other_within_a_second(
    two_servers: tuple[str, str, dict[str, str]],
) -> None:
    first, second, tokens = two_servers
    with (
        httpx.Client(base_url=first, timeout=60) as one,
        httpx.Client(base_url=second, timeout=60) as other,
    ):
        assert _coverage(other) == pytest.approx(71.1)
        tile = other.get(TILE, params={"level": "county"}).headers["ETag"]
        gaps = _gaps(one)
        delays = []
        for number, gap in enumerate(gaps, start=1):
            before = other.get("/version").json()["data_version"]
            answer = one.post("/assignments", json=_appointment(gap, number),
                              headers=bearer(tokens["jiading"]))  # fmt: skip
            assert answer.status_code == 201, answer.text
            committed = time.monotonic()
            while other.get("/version").json()["data_version"] == before:
                assert time.monotonic() - committed < 1.0, "the other server did not follow"
                time.sleep(0.02)
            delays.append(time.monotonic() - committed)
        assert _coverage(other) == pytest.approx(100.0)
        assert other.get(TILE, params={"level": "county"}).headers["ETag"] != tile
        assert max(delays) < 1.0
        # both servers label the same data with the same version (and so the same ETags)
        assert one.get("/version").json() == other.get("/version").json()


# --- the roster each worker follows equals the store's --------------------------------------


def _plain(frame: Any, key: str) -> Any:
    """A roster table in a comparable form: sorted by key, every cell as text."""
    frame = frame.drop(columns=["line"], errors="ignore")
    return frame.astype(str).sort_values(key).reset_index(drop=True)


@pytest.mark.parametrize("kind", STORES)
def test_the_roster_followed_through_the_audit_equals_the_stored_one(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    target = sample_store(kind, tmp_path, request)
    tokens = make_tokens(target)
    project = open_project(target)
    admin = bearer(tokens["admin"])
    with TestClient(create_app(Settings(), project=project)) as client:
        live = client.app.state.live  # type: ignore[attr-defined]
        deadline = time.monotonic() + 10
        while live.audit_mark is None and time.monotonic() < deadline:
            time.sleep(0.01)  # the follower notes where the served roster stands in the audit
        assert live.audit_mark is not None
        for number, gap in enumerate(_gaps(client)[:2], start=1):
            answer = client.post("/assignments", json=_appointment(gap, number), headers=admin)
            assert answer.status_code == 201, answer.text
        ended = client.get("/assignments/A000043")
        assert (
            client.patch(
                "/assignments/A000043",
                json={"valid_to": "2026-11-30"},
                headers={"If-Match": ended.headers["ETag"], **admin},
            ).status_code
            == 200
        )
        person = client.post("/people", json={"name": "测试人", "level": "county",
                                              "unit_code": JIADING, "contact": "0000"},
                             headers=admin).json()  # fmt: skip
        board = client.get("/boards/B002")
        assert (
            client.patch(
                "/boards/B002",
                json={"updated_on": TODAY},
                headers={"If-Match": board.headers["ETag"], **admin},
            ).status_code
            == 200
        )
        followed = client.app.state.rivernet.project.roster  # type: ignore[attr-defined]
        assert live.swaps >= 5 and live.full_reads == 0  # each swap: the audited rows
    stored = project.store.read_roster()
    project.store.close()
    assert person["person_id"] in set(followed.people["person_id"])
    for name, key in (("people", "person_id"), ("assignments", "assignment_id"),
                      ("units", "code"), ("boards", "board_id")):  # fmt: skip
        mine, theirs = _plain(getattr(followed, name), key), _plain(getattr(stored, name), key)
        assert list(mine.columns) == list(theirs.columns), name
        pd.testing.assert_frame_equal(mine, theirs, check_dtype=False, obj=name)


# --- a worker still computing answers puts off the next version ------------------------------


def test_a_worker_still_computing_puts_off_the_next_version_for_at_most_max_defer(
    jiading: tuple[TestClient, dict[str, str]], tmp_path: Path
) -> None:
    client, state, live = _served(jiading)
    gap = _gaps(client)[0]
    started, release = threading.Event(), threading.Event()

    def slow() -> int:
        started.set()
        release.wait(30)
        return 1

    computing = threading.Thread(
        target=state.cache("responses").get_or_compute, args=(("slow",), slow)
    )
    computing.start()
    try:
        assert started.wait(10) and state.computing()
        _appoint_elsewhere(state, gap)
        before = live.version
        # adopted its version just now and still computing: the check is put off
        live.swapped = live.checked = time.monotonic() - live.interval
        assert not client.portal.call(live.ensure_fresh)  # type: ignore[union-attr]
        assert live.version == before
        # still computing, but the version served is older than MAX_DEFER: adopt the new one
        live.swapped = time.monotonic() - MAX_DEFER
        assert client.portal.call(live.ensure_fresh)  # type: ignore[union-attr]
        assert live.version != before
    finally:
        release.set()
        computing.join()
    assert not state.computing()


# --- a new version's results are computed before it is served --------------------------------


def test_the_results_used_lately_are_ready_before_a_new_version_is_served(
    jiading: tuple[TestClient, dict[str, str]],
) -> None:
    client, state, live = _served(jiading)
    assert client.get(TILE, params={"level": "county"}).status_code == 200
    assert client.get(SUMMARY, params={"unit": JIADING, "datetime": TODAY}).status_code == 200
    gap = _gaps(client)[0]
    _appoint_elsewhere(state, gap)
    served: list[Any] = []
    replace = state.replace_project

    def record(project: Any) -> None:  # what the new project holds when it is swapped in
        served.append({name: list(values) for name, values in project.results._values.items()})
        replace(project)

    state.replace_project = record
    live.checked = time.monotonic() - 10 * live.interval  # another worker's edit, seen at a check
    assert client.portal.call(live.ensure_fresh)  # type: ignore[union-attr]
    project = state.project
    roster = project._versions["roster"]
    ready = served[0]
    assert any(roster in versions for versions, _ in ready["tile-pyramid"])
    assert any(roster in versions for versions, _ in ready["audit"])
    # and the answers are those of the new version
    assert client.get(TILE, params={"level": "county"}).headers["Rivernet-Store-Version"] == str(
        live.version
    )


def test_warmers_run_the_recent_results_first_within_the_window_and_budget() -> None:
    from rivernet.server.state import Warmers

    warmers = Warmers(window=10.0, limit=3)
    ran: list[str] = []
    for name in ("a", "b", "c", "d"):
        warmers.note(name, lambda project, name=name: ran.append(name))
    warmers.note("b", lambda project: ran.append("b"))  # used again: most recent
    warmers.note("bad", lambda project: 1 / 0)  # a failure is skipped
    assert warmers.run(object(), budget=10.0) == 2  # type: ignore[arg-type]
    assert ran == ["b", "d"]  # "bad", "b", "d" kept (limit 3); most recent first
    ran.clear()
    assert warmers.run(object(), budget=-1.0) == 0  # type: ignore[arg-type]
    old = Warmers(window=0.0)
    old.note("x", lambda project: ran.append("x"))
    time.sleep(0.01)
    assert old.run(object(), budget=10.0) == 0 and ran == []  # type: ignore[arg-type]


def test_a_request_during_a_check_is_answered_from_the_version_served(
    jiading: tuple[TestClient, dict[str, str]],
) -> None:
    client, _ = jiading
    live = client.app.state.live  # type: ignore[attr-defined]

    async def check_under_way() -> bool:
        async with live.lock:
            live.checked = time.monotonic() - 10 * live.interval  # due for a check
            return bool(await live.ensure_fresh())  # does not wait for the lock held

    assert client.portal.call(check_under_way) is False  # type: ignore[union-attr]


def test_a_request_waits_for_the_version_being_prepared_and_is_answered_from_it(
    jiading: tuple[TestClient, dict[str, str]],
) -> None:
    client, state, live = _served(jiading)
    gap = _gaps(client)[0]
    before = live.version
    _appoint_elsewhere(state, gap)
    started, release = threading.Event(), threading.Event()
    run = state.warmers.run

    def slow_warm(project: Any, *, budget: float) -> int:
        started.set()
        release.wait(30)
        return int(run(project, budget=budget))

    state.warmers.run = slow_warm
    live.checked = time.monotonic() - 10 * live.interval  # another worker's edit, seen at a check
    check = client.portal.start_task_soon(live.ensure_fresh)  # type: ignore[union-attr]
    assert started.wait(10) and live.preparing is not None
    answers: list[Any] = []
    reader = threading.Thread(target=lambda: answers.append(client.get(TILE)))
    reader.start()
    reader.join(0.5)
    assert reader.is_alive()  # waiting for the new version
    release.set()
    reader.join(10)
    assert check.result(10) is True and live.preparing is None
    assert answers[0].status_code == 200
    assert int(answers[0].headers["Rivernet-Store-Version"]) == live.version != before


def test_a_request_waits_for_a_version_being_prepared_at_most_prepare_wait(
    jiading: tuple[TestClient, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import anyio

    from rivernet.server import live as live_module

    client, _ = jiading
    live = client.app.state.live  # type: ignore[attr-defined]
    monkeypatch.setattr(live_module, "PREPARE_WAIT", 0.3)
    live.preparing = client.portal.call(anyio.Event)  # type: ignore[union-attr]
    try:
        started = time.monotonic()
        assert client.get(TILE).status_code == 200  # a preparation that never ends
        assert 0.3 <= time.monotonic() - started < 5
    finally:
        live.preparing = None


def test_the_first_audit_mark_is_not_taken_when_the_store_changed_since_the_roster_was_read(
    jiading: tuple[TestClient, dict[str, str]],
) -> None:
    client, state, live = _served(jiading)
    gap = _gaps(client)[0]
    live.audit_mark = None
    live.first_mark()
    assert live.audit_mark is not None  # nothing changed since the roster was read
    live.audit_mark = None
    _appoint_elsewhere(state, gap)
    live.first_mark()
    assert live.audit_mark is None  # a change the roster served lacks: read it whole
    live.checked = time.monotonic() - 10 * live.interval
    reads = live.full_reads
    assert client.portal.call(live.ensure_fresh)  # type: ignore[union-attr]
    assert live.full_reads == reads + 1
    documents = set(state.project.roster.assignments["source_document"].astype(str))
    assert "嘉定河长办〔2026〕1号" in documents


def test_an_audited_row_replaces_a_row_whose_key_is_stored_as_a_number() -> None:
    from rivernet.server.live import _key_values, _upsert

    assert _key_values({"310114": None, "012": None, "P1": None}) == ["310114", "012", "P1",
                                                                        310114]  # fmt: skip
    units = pd.DataFrame({"code": [310114, "320505", 12], "name": ["嘉定区", "吴中区", "x"]},
                         dtype=object)  # fmt: skip
    kept = _upsert(units, "code", {"310114": None, "012": None}, source="test")
    assert kept["code"].tolist() == ["320505", 12]
