"""Coverage audit: a tiny project with hand-computed answers, and the sample's planted defects."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

import rivernet
import rivernet.chiefs
import rivernet.problems
from rivernet import InputError, NotFoundError, OutOfRangeError
from rivernet.chiefs import chiefs_at
from rivernet.coverage import coverage_gaps, coverage_status, coverage_summary
from rivernet.pieces import piece_table, responsibility_pieces
from rivernet.problems import coverage_problems
from rivernet.project import Project, open_project
from rivernet.roster import TABLES
from tests._coverage_project import AS_OF, POLICY, tiny_roster, write_tiny_project
from tests.conftest import SAMPLE

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_POLICY = ROOT / "data" / "sample" / "policy.toml"
SAMPLE_AS_OF = "2025-06-30"


@pytest.fixture(scope="module")
def tiny_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    path = write_tiny_project(tmp_path_factory.mktemp("tiny") / "tiny.gpkg")
    project = open_project(path)
    project.roster = tiny_roster()
    return project


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple[object, ...]]:
    out = frame[columns].copy()
    for column in ("from_m", "to_m", "length_m"):
        if column in out:
            out[column] = out[column].round(3)
    return [tuple(row) for row in out.itertuples(index=False)]


def test_gaps_are_hand_computed(tiny_project: Project) -> None:
    gaps = coverage_gaps(tiny_project, as_of=AS_OF, policy=POLICY)
    assert _rows(gaps, ["reach_id", "from_m", "to_m", "level", "unit_code", "cause"]) == [
        (4, 1500.0, 2000.0, "county", "320505", "none"),
        (5, 0.0, 1000.0, "city", "320500", "none"),
        (9, 0.0, 1000.0, "county", "320506", "expired"),
    ]
    assert gaps.crs == tiny_project.network.crs
    assert gaps.geometry.length.round(3).tolist() == [500.0, 1000.0, 1000.0]
    # The west stretch of reach 4 is the part x < 500 m: its line runs from x=500 to x=0.
    assert shapely.get_coordinates(gaps.geometry.iloc[0]).tolist() == [
        [500.0, 1000.0],
        [0.0, 1000.0],
    ]


def test_problems_are_hand_computed(tiny_project: Project) -> None:
    problems = coverage_problems(tiny_project, as_of=AS_OF, policy=POLICY)
    found = _rows(problems.fillna({"assignment_ids": ""}),
                  ["kind", "level", "reach_id", "assignment_ids"])  # fmt: skip
    assert found == [
        ("overlap", "county", 8, "E8, E8b"),
        ("expired", "county", 9, "E9"),  # not E9old: its successor E9 took over in 2022
        ("broken_chain", "county", 5, ""),
        ("orphan", "county", 99, "X99"),
        ("stale_board", "county", 9, "B1"),
    ]
    overlap = problems[problems["kind"] == "overlap"].iloc[0]
    assert (overlap["from_m"], overlap["to_m"]) == (0.0, 600.0)
    chain = problems[problems["kind"] == "broken_chain"].iloc[0]
    assert "没有市级河长" in chain["message"]  # Chinese by default
    english = coverage_problems(tiny_project, as_of=AS_OF, policy=POLICY, lang="en")
    assert "no city" in english[english["kind"] == "broken_chain"].iloc[0]["message"]
    assert set(problems["kind"]) <= set(rivernet.problems.PROBLEM_KINDS)
    for message in problems["message"]:
        assert "；" in message  # every message says how to fix it
    for message in english["message"]:
        assert ";" in message


def test_summary_is_hand_computed(tiny_project: Project) -> None:
    summary = coverage_summary(tiny_project, as_of=AS_OF, policy=POLICY)
    assert list(summary.columns) == [
        "unit_code", "unit_name", "level", "required_m", "covered_m", "coverage_pct", "gaps",
        "overlaps", "expired",
    ]  # fmt: skip
    rows = _rows(summary, ["unit_code", "level", "required_m", "covered_m", "gaps", "overlaps",
                           "expired"])  # fmt: skip
    assert rows == [
        ("320500", "city", 2000.0, 1000.0, 1, 0, 0),
        ("320505", "county", 5000.0, 4500.0, 1, 0, 0),
        ("320506", "county", 4000.0, 3000.0, 1, 1, 1),
    ]
    assert summary["coverage_pct"].tolist() == [50.0, 90.0, 75.0]
    only = coverage_summary(tiny_project, as_of=AS_OF, policy=POLICY, unit="320506")
    assert only["unit_code"].tolist() == ["320506"]
    county = coverage_summary(tiny_project, as_of=AS_OF, policy=POLICY, level="county")
    assert set(county["level"]) == {"county"}


def test_as_of_accepts_dates_and_iso_strings(tiny_project: Project) -> None:
    by_date = coverage_gaps(tiny_project, as_of=dt.date(2025, 1, 1), policy=POLICY)
    by_text = coverage_gaps(tiny_project, as_of="2025-01-01", policy=POLICY)
    assert by_date.drop(columns="geometry").equals(by_text.drop(columns="geometry"))
    # Before E9's term ended reach 9 was covered.
    assert 9 not in set(by_date["reach_id"])
    with pytest.raises(InputError, match="is not a date"):
        coverage_gaps(tiny_project, as_of="30/06/2025", policy=POLICY)


def test_future_assignments_count_once_they_begin(tiny_project: Project) -> None:
    later = coverage_gaps(tiny_project, as_of="2025-10-01", policy=POLICY)
    assert not ((later["reach_id"] == 5) & (later["level"] == "city")).any()


def test_status_per_piece(tiny_project: Project) -> None:
    status = coverage_status(tiny_project, level="county", as_of=AS_OF, policy=POLICY)
    keys = zip(status["reach_id"], status["from_m"].round(3), strict=True)
    by_piece = dict(zip(keys, status["status"], strict=True))
    assert by_piece[(4, 1500.0)] == "gap"
    assert by_piece[(4, 0.0)] == "covered"
    assert by_piece[(8, 0.0)] == "overlap"
    assert by_piece[(9, 0.0)] == "expired"
    assert by_piece[(2, 500.0)] == "covered"
    chiefs = dict(zip(status["reach_id"], status["chiefs"], strict=False))
    assert chiefs[8] == "东一、东二"
    city = coverage_status(tiny_project, level="city", as_of=AS_OF, policy=POLICY)
    assert set(city.loc[city["reach_id"] == 7, "status"]) == {"not_required"}
    assert set(city.loc[city["reach_id"] == 5, "status"]) == {"gap"}
    with pytest.raises(InputError):
        coverage_status(tiny_project, level="street", policy=POLICY)


def test_status_before_any_chief_lists_no_names(tiny_project: Project) -> None:
    status = coverage_status(tiny_project, level="county", as_of="1990-01-01", policy=POLICY)
    assert len(status) and (status["chiefs"] == "").all()
    assert "covered" not in set(status["status"])


def test_chiefs_at_reach_and_point(tiny_project: Project) -> None:
    at_reach = chiefs_at(tiny_project, 2, as_of=AS_OF)
    assert sorted(at_reach["name"]) == ["东一", "西一"]
    at_measure = chiefs_at(tiny_project, 2, measure_m=800.0, as_of=AS_OF)
    assert at_measure["name"].tolist() == ["西一"]
    at_point = chiefs_at(tiny_project, shapely.Point(30.0, 500.0), as_of=AS_OF)
    assert at_point["name"].tolist() == ["西一"]  # reach 5, county only (city starts later)
    assert "contact" not in at_point.columns
    private = chiefs_at(tiny_project, 5, as_of=AS_OF, include_contact=True)
    assert private["contact"].tolist() == ["0000-0000000"]
    with pytest.raises(NotFoundError):
        chiefs_at(tiny_project, 12345)
    with pytest.raises(OutOfRangeError, match="from the nearest reach"):
        chiefs_at(tiny_project, (90_000.0, 90_000.0), max_distance_m=100.0)


def test_top_level_exports() -> None:
    names = ("coverage_gaps", "coverage_problems", "coverage_summary", "coverage_status",
             "chiefs_at", "read_roster", "Roster", "load_policy", "CoveragePolicy")  # fmt: skip
    for name in names:
        assert getattr(rivernet, name) is not None
    assert rivernet.coverage_gaps is rivernet.coverage.coverage_gaps
    assert rivernet.coverage_problems is rivernet.problems.coverage_problems
    assert rivernet.coverage_summary is rivernet.coverage.coverage_summary
    assert rivernet.coverage_status is rivernet.coverage.coverage_status
    assert rivernet.chiefs_at is rivernet.chiefs.chiefs_at
    assert rivernet.read_roster is rivernet.roster.read_roster
    assert rivernet.Roster is rivernet.roster.Roster
    assert rivernet.load_policy is rivernet.policy.load_policy
    assert rivernet.CoveragePolicy is rivernet.policy.CoveragePolicy


# --- the sample project ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The sample project with its fictional roster (built into a copy if it lacks one)."""
    layers = {str(name) for name, _ in pyogrio.list_layers(SAMPLE)}
    if TABLES["assignments"] in layers and "roster_defects" in layers:
        return open_project(SAMPLE)
    from data.sample.build_roster import build_roster

    copy = tmp_path_factory.mktemp("sample") / "taihu.gpkg"
    shutil.copyfile(SAMPLE, copy)
    build_roster(copy)
    return open_project(copy)


def _finding_keys(gaps: pd.DataFrame, problems: pd.DataFrame) -> set[tuple[object, ...]]:
    keys = {("gap", row.level, int(row.reach_id)) for row in gaps.itertuples()}
    for row in problems.itertuples():
        if row.kind in ("overlap", "broken_chain"):
            keys.add((row.kind, row.level, int(row.reach_id)))
        elif row.kind in ("expired", "orphan", "stale_board"):
            keys.add((row.kind, row.level, row.assignment_ids))
        else:
            keys.add((row.kind, row.level, int(row.lake_id)))
    return keys


def _expected_keys(defects: pd.DataFrame) -> set[tuple[object, ...]]:
    keys = set()
    for row in defects.itertuples():
        if row.kind in ("gap", "overlap", "broken_chain"):
            keys.add((row.kind, row.level, int(row.reach_id)))
        elif row.kind in ("expired", "orphan", "stale_board"):
            keys.add((row.kind, row.level, row.assignment_id))
        else:
            keys.add((row.kind, row.level, int(row.lake_id)))
    return keys


def test_sample_planted_defects_all_found_and_nothing_else(sample: Project) -> None:
    defects = sample.tables["roster_defects"]
    assert set(defects["defect"]) == set(range(1, 9))
    gaps = coverage_gaps(sample, as_of=SAMPLE_AS_OF, policy=SAMPLE_POLICY)
    problems = coverage_problems(sample, as_of=SAMPLE_AS_OF, policy=SAMPLE_POLICY)
    assert _finding_keys(gaps, problems) == _expected_keys(defects)
    # Overlaps name both assignments, the planted one among them.
    planted = defects[defects["kind"] == "overlap"]
    assert len(planted) > 0
    for row in planted.itertuples():
        found = problems[(problems["kind"] == "overlap") & (problems["reach_id"] == row.reach_id)]
        assert row.assignment_id in found["assignment_ids"].iloc[0].split(", ")
        assert len(found["assignment_ids"].iloc[0].split(", ")) == 2
    # The uncovered stretch in the middle of a reach is found to the metre.
    stretch = defects[(defects["kind"] == "gap") & defects["from_m"].notna()].iloc[0]
    found = gaps[(gaps["reach_id"] == stretch["reach_id"]) & (gaps["level"] == "village")]
    assert found["from_m"].iloc[0] == pytest.approx(stretch["from_m"], abs=1e-6)
    assert found["to_m"].iloc[0] == pytest.approx(stretch["to_m"], abs=1e-6)
    # Gaps left by an expired term say so.
    expired = defects[(defects["kind"] == "gap") & (defects["cause"] == "expired")]
    causes = gaps[gaps["reach_id"].isin(expired["reach_id"]) & (gaps["level"] == "township")]
    assert set(causes["cause"]) == {"expired"}


def test_sample_everyone_is_fictional(sample: Project) -> None:
    roster = sample.roster
    assert roster is not None
    assert roster.people["is_fictional"].all()
    assert len(roster.assignments) > 5000


def test_sample_summary_and_lengths_are_metric(sample: Project) -> None:
    summary = coverage_summary(sample, as_of=SAMPLE_AS_OF, policy=SAMPLE_POLICY)
    county = summary[summary["level"] == "county"]
    # Required county length is the whole network outside Lake Taihu, in metres (not degrees).
    total_km = sample.network.reaches["length_m"].sum() / 1000
    assert 0.8 * total_km < county["required_m"].sum() / 1000 <= total_km
    # HydroRIVERS' own LENGTH_KM agrees with our geodesic lengths to about 1 %.
    ours = sample.network.reaches["length_m"].sum() / 1000
    assert ours == pytest.approx(sample.network.reaches["LENGTH_KM"].sum(), rel=0.02)
    assert (summary["covered_m"] <= summary["required_m"] + 1e-6).all()
    jiading = summary[(summary["unit_code"] == "310114") & (summary["level"] == "county")]
    assert jiading["gaps"].iloc[0] > 0


def test_sample_chiefs_at_lists_every_level(sample: Project) -> None:
    gaps = coverage_gaps(sample, as_of=SAMPLE_AS_OF, policy=SAMPLE_POLICY)
    status = coverage_status(sample, level="province", as_of=SAMPLE_AS_OF, policy=SAMPLE_POLICY)
    covered = status[(status["status"] == "covered") & ~status["reach_id"].isin(gaps["reach_id"])]
    reach = int(covered["reach_id"].iloc[0])
    chiefs = chiefs_at(sample, reach, as_of=SAMPLE_AS_OF)
    levels = set(chiefs.loc[chiefs["role"] == "河长", "level"])
    assert {"province", "city", "county", "township", "village"} <= levels
    assert chiefs["level"].astype(str).map(rivernet.admin.LEVELS.index).is_monotonic_increasing


def _share_in_taihu(project: Project, pieces: pd.DataFrame) -> np.ndarray:
    """Independent check: the share of each piece inside Lake Taihu, by shapely in UTM metres."""
    metric = pieces.to_crs("EPSG:32651").geometry.to_numpy()
    taihu = project.lakes.to_crs("EPSG:32651").set_index("lake_id").geometry.loc[504]
    return np.asarray(shapely.length(shapely.intersection(metric, taihu)) / shapely.length(metric))


def test_sample_lake_shores_cut_the_pieces(sample: Project) -> None:
    pieces = responsibility_pieces(sample)
    inside_m = _share_in_taihu(sample, pieces) * pieces["length_m"].to_numpy()
    lake = (pieces["lake_id"] == 504).to_numpy()
    outside_as_lake = (pieces["length_m"].to_numpy() - inside_m)[lake]
    inside_as_river = inside_m[~lake]
    # With lake flow paths found by piece midpoint (no cut at shores) these were 28.8 km and
    # 38.2 km. What is left is where a long shore segment, straight in degrees, bends in UTM.
    assert outside_as_lake.max() < 10.0 and inside_as_river.max() < 10.0
    assert outside_as_lake.sum() < 100.0 and inside_as_river.sum() < 100.0
    # The audit reads the same pieces, lake ids included.
    table = piece_table(sample)
    assert table["lake_id"].eq(504).sum() == lake.sum()


def test_sample_reach_through_the_taihu_shore_is_required_only_outside(sample: Project) -> None:
    # Reach 40635508 runs from 吴中区 into Lake Taihu, out across a spit of 虎丘区 (350 m) and
    # back in; before the lake-shore rule its 虎丘区 piece 8401-18700 m (97 % in the lake) was
    # required as river and its 吴中区 piece 0-8401 m (6 % in the lake) wholly river.
    pieces = responsibility_pieces(sample)
    reach = pieces[pieces["reach_id"] == 40635508]
    share = _share_in_taihu(sample, reach)
    assert reach["lake_id"].tolist() == [None, 504, 504, None, 504, 504, 504, 504]
    assert reach["county_code"].tolist()[:5] == ["320506", "320506", "320505", "320505", "320505"]
    outside = reach["lake_id"].isna().to_numpy()
    assert (share[outside] < 0.01).all() and (share[~outside] > 0.99).all()
    spit = reach[outside & (reach["county_code"] == "320505").to_numpy()]
    assert spit["length_m"].iloc[0] == pytest.approx(350.6, abs=0.1)
    status = coverage_status(sample, level="county", as_of=SAMPLE_AS_OF, policy=SAMPLE_POLICY)
    status = status[status["reach_id"] == 40635508]
    np.testing.assert_allclose(status["from_m"], reach["from_m"])
    assert (status["status"].to_numpy()[~outside] == "exempt").all()
    assert (status["status"].to_numpy()[outside] == "covered").all()


def test_fallback_cutting_matches_the_documented_pieces(tiny_project: Project) -> None:
    from rivernet.pieces import piece_table
    from tests.oracles import cut_at_counties

    table = cut_at_counties(tiny_project.network.reaches, tiny_project.admin_units)
    table = table.sort_values(["reach_id", "from_m"]).reset_index(drop=True)
    rows = _rows(table, ["reach_id", "from_m", "to_m", "county_code", "city_code"])
    assert rows[1:3] == [
        (2, 0.0, 500.0, "320506", "320500"),
        (2, 500.0, 1000.0, "320505", "320500"),
    ]
    assert rows[4:6] == [
        (4, 0.0, 1500.0, "320506", "320500"),
        (4, 1500.0, 2000.0, "320505", "320500"),
    ]
    assert len(table) == 10
    used = piece_table(tiny_project)  # what the audit uses
    assert _rows(used.sort_values(["reach_id", "from_m"]), ["reach_id", "from_m", "to_m",
                 "county_code"]) == [r[:4] for r in rows]  # fmt: skip


def test_river_assignments_cover_a_stretch_measured_from_the_mouth(tiny_project: Project) -> None:
    from rivernet.coverage import reach_targets

    frame = pd.DataFrame(
        {
            "reach_id": [None, None, 2],
            "river_id": [5, 5, None],
            "lake_id": [None, None, None],
            "from_m": [500.0, np.nan, np.nan],
            "to_m": [2500.0, np.nan, np.nan],
        }
    )
    targets = reach_targets(frame, tiny_project.network)
    ids = tiny_project.network.ids
    rows = sorted(
        (int(a), int(ids[p]), f, t)
        for a, p, f, t in targets[["assignment", "position", "from_m", "to_m"]].itertuples(
            index=False
        )
    )
    whole = [r for r in rows if r[0] == 1]
    assert [r[1] for r in whole] == [1, 3, 5, 7]  # river 5 is the main stem 7-1-3-5
    stretch = [(r[1], r[2], r[3]) for r in rows if r[0] == 0]
    # 500..2500 m up from the mouth: the upper half of 5, all of 3, the lower half of 1.
    assert sorted(stretch) == [(1, 500.0, 1000.0), (3, 0.0, 1000.0), (5, 0.0, 500.0)]
    assert [r[1] for r in rows if r[0] == 2] == [2]


def test_a_roster_without_problems_gives_an_empty_table(tiny_project: Project) -> None:
    roster = tiny_project.require_roster()
    quiet = tiny_project.replace(
        roster=rivernet.Roster(people=roster.people, assignments=roster.assignments.iloc[:0])
    )
    problems = coverage_problems(quiet, as_of=AS_OF, policy=POLICY)
    assert len(problems) == 0 and "kind" in problems.columns
