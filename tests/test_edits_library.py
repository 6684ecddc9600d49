"""Edits at the library level, on both stores: scope, stale ETags, the roster rules, audit,
history, and a writer killed with SIGKILL in the middle of its edits."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import IO

import pytest

from rivernet import edits
from rivernet.errors import AuthError, EditError, NotFoundError, ScopeError, StaleError
from rivernet.store import Store
from rivernet.tokens import Actor, create_token, verify_token
from tests._stores import ROOT, make_store

COUNTY = Actor(1, "虎丘区河长办", "320505", "editor")
CITY = Actor(2, "苏州市河长办", "320500", "editor")
PROVINCE = Actor(3, "江苏省河长办", "320000", "editor")
VIEWER = Actor(4, "虎丘区查看", "320505", "viewer")
ACTORS = {"county": COUNTY, "city": CITY, "province": PROVINCE, "viewer": VIEWER}
# Who may edit rows of each unit: the unit itself, another county of the city, another city of
# the province, another province.
SCOPE = {
    "320505": {"county", "city", "province"},
    "320506": {"city", "province"},
    "320205": {"province"},
    "310114": set(),
}
APPOINTMENT = {
    "person_id": "P00108",
    "level": "county",
    "unit_code": "320505",
    "role": "河长",
    "reach_id": 40631534,
    "valid_from": "2030-01-01",
    "valid_to": "2030-12-31",
    "source_document": "虎丘〔2030〕1号",
}


def _assignment_of(store: Store, unit: str) -> str:
    with store.read() as tx:
        row = tx.one(
            "SELECT assignment_id FROM roster_assignments WHERE unit_code = ? "
            "ORDER BY assignment_id LIMIT 1",
            [unit],
        )
    assert row is not None
    return str(row["assignment_id"])


@pytest.mark.parametrize("unit", sorted(SCOPE))
@pytest.mark.parametrize("who", sorted(ACTORS))
def test_scope_matrix(project_store: Store, who: str, unit: str) -> None:
    store = project_store
    actor = ACTORS[who]
    assignment = _assignment_of(store, unit)
    before = store.data_version()
    change = {"source_document": f"scope test {who} {unit}"}
    if who in SCOPE[unit]:
        row = edits.update_assignment(store, actor, assignment, change, reason="scope")
        assert row["source_document"] == change["source_document"]
        assert store.data_version() == before + 1
        assert edits.audit(store, limit=1)[0]["actor"] == actor.name
    else:
        with pytest.raises(ScopeError) as raised:
            edits.update_assignment(store, actor, assignment, change)
        assert raised.value.status == 403
        assert unit in str(raised.value) or "viewer" in str(raised.value)
        chinese = raised.value.text("zh")  # the catalogue's words, not English, in Chinese
        assert "范围" in chinese or "只读" in chinese, chinese
        assert "scope" not in chinese and "viewer" not in chinese
        assert store.data_version() == before


def test_appoint_inside_and_outside_the_scope(project_store: Store) -> None:
    store = project_store
    row = edits.appoint(store, COUNTY, APPOINTMENT, reason="新任命")
    assert row["assignment_id"] and row["etag"].startswith('"')
    assert edits.get_assignment(store, row["assignment_id"]) == row
    entry = edits.audit(store, unit="320505", limit=1)[0]
    assert (entry["action"], entry["row_id"], entry["before"]) == (
        "appoint",
        row["assignment_id"],
        None,
    )
    assert entry["after"]["valid_from"] == "2030-01-01"
    assert (entry["reason"], entry["source_document"]) == ("新任命", "虎丘〔2030〕1号")
    history = edits.history(store, 40631534)
    assert history[-1]["assignment_id"] == row["assignment_id"]
    assert history[-1]["source_document"] == "虎丘〔2030〕1号" and history[-1]["name"]
    with pytest.raises(ScopeError):
        edits.appoint(store, COUNTY, APPOINTMENT | {"unit_code": "320506"})
    with pytest.raises(ScopeError):
        edits.appoint(store, VIEWER, APPOINTMENT | {"valid_from": "2031-01-01", "valid_to": None})


def test_a_stale_etag_is_refused_with_the_current_one(project_store: Store) -> None:
    store = project_store
    assignment = _assignment_of(store, "320505")
    first = edits.get_assignment(store, assignment)
    second = edits.update_assignment(
        store, COUNTY, assignment, {"source_document": "v2"}, if_match=first["etag"]
    )
    assert second["etag"] != first["etag"]
    with pytest.raises(StaleError) as raised:
        edits.update_assignment(
            store, COUNTY, assignment, {"source_document": "v3"}, if_match=first["etag"]
        )
    assert raised.value.status == 412 and raised.value.current_etag == second["etag"]
    assert second["etag"] in str(raised.value)
    assert edits.get_assignment(store, assignment)["source_document"] == "v2"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"level": "galaxy"}, "level", "is not one of"),
        ({"valid_from": "2030-01-01", "valid_to": "2029-01-01"}, "valid_to", "before valid_from"),
        ({"reach_id": 1}, "reach_id", "not in the project's network"),
        ({"person_id": "P99999"}, "person_id", "not in the roster"),
        ({"role": "大河长"}, "role", "is not one of"),
        ({"from_m": 10}, "from_m", "both from_m and to_m"),
        ({"unit_code": "320506"}, "unit_code", "does not contain reach"),
        ({"colour": "red"}, "colour", "unknown field"),
    ],
)
def test_invalid_data_names_the_field(
    project_store: Store, change: dict[str, object], field: str, words: str
) -> None:
    store = project_store
    assignment = _assignment_of(store, "320505")
    before = store.data_version()
    audited = len(edits.audit(store))
    with pytest.raises(EditError) as raised:
        edits.update_assignment(store, PROVINCE, assignment, change)
    assert raised.value.field == field and raised.value.status == 422
    assert words in str(raised.value)
    assert store.data_version() == before and len(edits.audit(store)) == audited


def test_overlapping_term_is_the_roster_checkers_rule(project_store: Store) -> None:
    store = project_store
    first = edits.appoint(
        store, COUNTY, APPOINTMENT | {"valid_from": "2040-01-01", "valid_to": None}
    )
    with pytest.raises(EditError) as raised:
        edits.appoint(store, COUNTY, APPOINTMENT | {"valid_from": "2040-06-01", "valid_to": None})
    assert raised.value.field == "valid_from"
    assert "overlaps the term" in str(raised.value) and first["assignment_id"] in str(raised.value)
    ended = edits.update_assignment(
        store, COUNTY, first["assignment_id"], {"valid_to": "2040-05-31"}
    )
    assert ended["valid_to"] == "2040-05-31"
    assert edits.appoint(
        store, COUNTY, APPOINTMENT | {"valid_from": "2040-06-01", "valid_to": None}
    )


def test_people_and_boards(project_store: Store) -> None:
    store = project_store
    person = edits.add_person(
        store,
        COUNTY,
        {
            "name": "张三",
            "level": "township",
            "unit_code": "320505100",
            "post": "镇长",
            "contact": "0000",
        },
    )
    assert "contact" not in person  # an editor does not read contact details
    assert edits.get_person(store, person["person_id"], include_contact=True)["contact"] == "0000"
    changed = edits.update_person(
        store, COUNTY, person["person_id"], {"post": "镇党委书记"}, if_match=person["etag"]
    )
    assert changed["post"] == "镇党委书记"
    with pytest.raises(ScopeError):
        edits.add_person(store, COUNTY, {"name": "李四", "level": "county", "unit_code": "320506"})
    with pytest.raises(EditError) as raised:
        edits.add_person(store, COUNTY, {"name": "", "level": "county", "unit_code": "320505"})
    assert raised.value.field == "name"
    board = edits.add_board(
        store,
        COUNTY,
        {
            "reach_id": 40631534,
            "measure_m": 10,
            "level": "county",
            "person_id": "P00108",
            "updated_on": "2030-01-02",
        },
    )
    assert board["board_id"] and edits.get_board(store, board["board_id"])["measure_m"] == 10.0
    with pytest.raises(EditError) as raised:
        edits.update_board(store, COUNTY, board["board_id"], {"measure_m": 1e9})
    assert raised.value.field == "measure_m"
    moved = edits.update_board(store, COUNTY, board["board_id"], {"updated_on": "2030-02-01"})
    assert moved["updated_on"] == "2030-02-01"
    mine = edits.audit(store, person=person["person_id"])
    assert [e["action"] for e in mine] == ["update_person", "add_person"]
    assert mine[0]["before"]["post"] == "镇长" and mine[0]["after"]["post"] == "镇党委书记"
    assert edits.audit(store, unit="310114") == [] or all(
        e["unit_code"].startswith("310114") for e in edits.audit(store, unit="310114")
    )
    with pytest.raises(NotFoundError):
        edits.get_board(store, "no such board")


def test_tokens_are_stored_hashed_and_verified(project_store: Store) -> None:
    store = project_store
    token = create_token(store, unit="320505", role="editor", name="虎丘区河长办")
    actor = verify_token(store, token)
    assert (actor.unit_code, actor.role, actor.name) == ("320505", "editor", "虎丘区河长办")
    assert actor.can_edit("320505") and actor.can_edit("320505100201")
    assert not actor.can_edit("320506") and not actor.can_edit("3205")
    with store.read() as tx:
        stored = [str(v) for row in tx.rows("SELECT * FROM rivernet_tokens") for v in row.values()]
    assert token not in stored
    for bad in ("", "rvn_not-a-token"):
        with pytest.raises(AuthError) as raised:
            verify_token(store, bad)
        assert raised.value.status == 401
    assert Actor(9, "全国", "", "admin").can_edit("650102")
    assert Actor(9, "江苏", "320000", "editor").can_edit("320505")


_WRITER = textwrap.dedent(
    """
    import sys
    from rivernet import edits
    from rivernet.store import open_store
    from rivernet.tokens import Actor

    store = open_store(sys.argv[1])
    actor = Actor(1, "kill test", "320505", "editor")
    store.reference_project()
    print("ready", flush=True)
    for n in range(10_000):
        edits.appoint(store, actor, {
            "person_id": "P00108", "level": "county", "unit_code": "320505", "role": "副河长",
            "reach_id": 40631533, "valid_from": f"{2100 + n}-01-01",
            "valid_to": f"{2100 + n}-06-30", "source_document": f"KILL-{n}"})
        print(n, flush=True)
    """
)


def _line(stream: IO[bytes], timeout: float) -> bytes:
    """The next line of a pipe, or b"" when none comes within ``timeout`` seconds."""
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline().strip() if ready else b""


@pytest.mark.parametrize("kind", ["gpkg", "postgis"])
def test_sigkill_mid_edit_leaves_each_edit_whole_or_absent(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    store = make_store(kind, request, tmp_path)
    target = getattr(store, "url", store.target)
    start = store.data_version()
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    log = tmp_path / "writer.log"
    with log.open("wb") as errors:
        writer = subprocess.Popen(
            [sys.executable, "-c", _WRITER, target], stdout=subprocess.PIPE, stderr=errors, env=env
        )
    assert writer.stdout is not None
    done = 0
    try:
        assert _line(writer.stdout, 120) == b"ready", log.read_text()
        while done < 5:
            line = _line(writer.stdout, 60)
            if not line:
                break
            done = int(line) + 1
        time.sleep(0.013)  # land somewhere inside the next edit
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
    assert done >= 5, log.read_text()
    with store.read() as tx:
        rows = tx.rows(
            "SELECT assignment_id, source_document FROM roster_assignments "
            "WHERE source_document LIKE 'KILL-%'"
        )
        audited = tx.rows(
            "SELECT row_id FROM rivernet_audit WHERE actor = 'kill test' AND action = 'appoint'"
        )
    stored = {row["assignment_id"] for row in rows}
    assert stored == {row["row_id"] for row in audited}  # every edit with its audit row
    assert len(stored) in (done, done + 1)  # the interrupted one is whole or absent
    assert store.data_version() == start + len(stored)
    # the store is usable at once: the lock died with the writer
    row = edits.appoint(store, COUNTY, APPOINTMENT | {"valid_from": "2099-01-01", "valid_to": None})
    assert edits.get_assignment(store, row["assignment_id"])["valid_from"] == "2099-01-01"
    if kind == "gpkg":
        import sqlite3

        connection = sqlite3.connect(store.target)
        try:
            assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            connection.close()
    store.close()


def test_appointing_on_the_gaps_closes_them(project_store: Store) -> None:
    """The issue's live case at library level: 嘉定区 county coverage 71.1 % -> 100 %."""
    from rivernet.coverage import coverage_gaps, coverage_summary

    store = project_store
    office = Actor(7, "嘉定区河长办", "310114", "editor")

    def county() -> tuple[float, int]:
        summary = coverage_summary(store.read_project(), as_of="2025-06-30", unit="310114")
        row = summary[summary["level"] == "county"].iloc[0]
        return float(row["coverage_pct"]), int(row["gaps"])

    assert county() == (71.1, 5)
    gaps = coverage_gaps(store.read_project(), as_of="2025-06-30")
    gaps = gaps[(gaps["level"] == "county") & (gaps["unit_code"].astype(str) == "310114")]
    for gap in gaps.itertuples():
        edits.appoint(
            store,
            office,
            {"person_id": "P00665", "level": "county", "unit_code": "310114", "role": "河长",
             "reach_id": int(gap.reach_id), "from_m": float(gap.from_m), "to_m": float(gap.to_m),
             "valid_from": "2025-06-01", "source_document": "嘉定〔2025〕8号"},
        )  # fmt: skip
    assert county() == (100.0, 0)
    entries = edits.audit(store, unit="310114")
    assert len(entries) == 5 and {e["source_document"] for e in entries} == {"嘉定〔2025〕8号"}
