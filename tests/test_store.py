"""The project's store of derived results: replacing an input changes every derived answer."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pandas as pd
import pytest

import rivernet
from rivernet._store import ResultStore
from rivernet.project import Project, open_project
from rivernet.roster import Roster
from tests.conftest import SAMPLE

AS_OF = "2025-06-30"
POLICY = Path(__file__).resolve().parents[1] / "data" / "sample" / "policy.toml"
COUNTY = "320505"  # 虎丘区


@pytest.fixture(scope="module")
def sample() -> Project:
    return open_project(SAMPLE, policy=POLICY)


def test_store_computes_once_and_keys_by_versions() -> None:
    store = ResultStore()
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert store.get("x", (1,), ("roster",), "a", compute) == 1
    assert store.get("x", (1,), ("roster",), "a", compute) == 1
    assert store.get("x", (2,), ("roster",), "a", compute) == 2  # new input version: recomputed
    assert store.get("x", (2,), ("roster",), "b", compute) == 3  # other parameters
    store.forget(["network"])
    assert len(store) == 3
    store.forget(["roster"])
    assert len(store) == 0


def test_store_computes_once_under_concurrency() -> None:
    store = ResultStore()
    calls: list[int] = []
    start = threading.Barrier(8)

    def compute() -> int:
        calls.append(1)
        return 42

    def ask() -> None:
        start.wait()
        assert store.get("slow", (1,), ("network",), None, compute) == 42

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1


def test_store_is_bounded_per_result() -> None:
    store = ResultStore(max_per_name=2)
    for day in range(5):
        store.get("audit", (1,), ("roster",), day, lambda: 0)
    assert len(store) == 2


def test_replacing_admin_units_changes_pieces_and_coverage(sample: Project) -> None:
    project = sample.replace()
    before = rivernet.coverage_summary(project, as_of=AS_OF)
    assert COUNTY in set(before["unit_code"])
    pieces = rivernet.responsibility_pieces(project)
    assert (pieces["county_code"] == COUNTY).sum() > 0
    version = project.data_version
    project.admin_units = project.admin_units[project.admin_units["code"] != COUNTY]
    assert project.data_version != version
    with pytest.warns(rivernet.DataQualityWarning, match="lies in no county unit"):
        pieces = rivernet.responsibility_pieces(project)
    assert (pieces["county_code"] == COUNTY).sum() == 0
    after = rivernet.coverage_summary(project, as_of=AS_OF)
    assert COUNTY not in set(after["unit_code"])
    crossings = rivernet.crossings(project, level="county")
    assert COUNTY not in set(crossings["upstream_code"]) | set(crossings["downstream_code"])


def test_replacing_the_roster_changes_every_roster_answer(sample: Project) -> None:
    project = sample.replace()
    roster = project.require_roster()
    jiading = "310114"
    covered = rivernet.coverage_summary(project, as_of=AS_OF, unit=jiading, level="county")
    assert covered["covered_m"].iloc[0] > 0
    keep = roster.assignments["unit_code"].astype(str) != jiading
    project.roster = Roster(
        people=roster.people,
        assignments=roster.assignments[keep].reset_index(drop=True),
        units=roster.units,
        boards=roster.boards,
    )
    bare = rivernet.coverage_summary(project, as_of=AS_OF, unit=jiading, level="county")
    assert bare["covered_m"].iloc[0] == 0
    status = rivernet.coverage_status(project, level="county", as_of=AS_OF)
    assert len(status) > 0
    project.roster = None
    with pytest.raises(rivernet.NotFoundError, match="no chief roster"):
        rivernet.coverage_summary(project, as_of=AS_OF)


def test_replacing_the_policy_changes_requirements(sample: Project) -> None:
    project = sample.replace()
    with_policy = rivernet.coverage_summary(project, as_of=AS_OF, level="province")
    project.policy = None  # the built-in defaults: county, township and village only
    defaults = rivernet.coverage_summary(project, as_of=AS_OF, level="province")
    assert len(with_policy) > 0 and len(defaults) == 0


def test_a_replaced_project_has_its_own_store(sample: Project) -> None:
    copy = sample.replace(roster=None)
    assert sample.has_roster and not copy.has_roster
    assert copy.results is not sample.results
    assert copy.network is sample.network


def test_days_with_the_same_roster_state_share_one_audit(sample: Project) -> None:
    from rivernet.coverage import roster_state, run_audit

    project = sample.replace()
    roster = project.require_roster()
    starts = sorted(set(roster.assignments["valid_from"].dt.date))
    change = starts[len(starts) // 2]  # a day on which some term begins
    before, on = change - dt.timedelta(days=1), change
    earlier = before - dt.timedelta(days=1)
    if roster_state(project, earlier) == roster_state(project, before):
        first, second = (
            run_audit(project, as_of=earlier, policy=None),
            run_audit(project, as_of=before, policy=None),
        )
        assert first.audit is second.audit and second.as_of == before
    assert roster_state(project, before) != roster_state(project, on)
    for day in (earlier, before, on):
        shared = rivernet.coverage_summary(project, as_of=day)
        fresh = rivernet.coverage_summary(sample.replace(), as_of=day)
        pd.testing.assert_frame_equal(shared, fresh)
