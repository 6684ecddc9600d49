"""Rosters keyed by river name and unit (rivernet.named_roster) on a hand-drawn project.

The admin units are those of tests/boundary_cases.py (EPSG:32651 metres): 320102 西南县 (x < 0,
y < 0), 320104 西北县 (x < 0, y > 0, less an island of 东县), 330102 东县 (x > 0). Named reaches:

- 10 白马河 crosses the border twice: 0-3000 and 11000-14000 in 西南县 (6 km), 3000-11000 in 东县;
- 41 -> 42 青龙河: 41 (3 km) in 西南县, 42 (3 km) in 东县;
- 61 and 62 小河: two unconnected 2 km reaches, both in 西北县;
- 71 京杭大运河: 4 km in 东县.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

import rivernet
from rivernet.errors import DataQualityWarning, RosterError
from rivernet.named_roster import read_named_roster, resolve_named_roster
from rivernet.project import Project
from rivernet.roster import roster_from_tables
from tests.boundary_cases import named_project

REACHES = {
    10: ([(-3000, -2000), (3000, -2000), (3000, -4000), (-3000, -4000)], 0, "白马河"),
    41: ([(-3000, -6000), (0, -6000)], 42, "青龙河"),
    42: ([(0, -6000), (3000, -6000)], 0, "青龙河"),
    61: ([(-9000, 9000), (-7000, 9000)], 0, "小河"),
    62: ([(-9000, 2000), (-7000, 2000)], 0, "小河"),
    71: ([(5000, 5000), (5000, 9000)], 0, "京杭大运河"),
}
HEADER = ["河流名称", "行政区", "层级", "姓名", "职务", "长度(km)", "任期开始"]


@pytest.fixture
def project() -> Project:
    return named_project(REACHES)


def rows(*records: list[object]) -> pd.DataFrame:
    return pd.DataFrame([list(r) for r in records], columns=HEADER)


def stretches(roster: rivernet.Roster) -> list[tuple[int, float, float]]:
    frame = roster.assignments
    return sorted(zip(frame["reach_id"], frame["from_m"], frame["to_m"], strict=True))


def test_row_resolves_to_the_stretches_in_one_county(project: Project) -> None:
    roster = resolve_named_roster(
        project, rows(["白马河", "西南县", "县", "张三", "县长", 6, "2024-01-01"])
    )
    assert stretches(roster) == [(10, 0.0, 3000.0), (10, 11000.0, 14000.0)]
    frame = roster.assignments
    assert (frame["to_m"] - frame["from_m"]).sum() == pytest.approx(6000.0)
    assert set(frame["unit_code"]) == {"320102"}
    assert set(frame["level"]) == {"county"}
    assert set(frame["role"]) == {"河长"}
    assert (frame["valid_from"] == pd.Timestamp("2024-01-01")).all()
    assert list(frame["line"]) == [2, 2]
    person = roster.people.iloc[0]
    assert person["name"] == "张三" and person["post"] == "县长"
    assert person["person_id"] == frame["person_id"].iloc[0]


def test_unit_code_and_province_level(project: Project) -> None:
    roster = resolve_named_roster(
        project, rows(["白马河", 320000, "省", "李四", "副省长", None, "2024-01-01"])
    )
    assert stretches(roster) == [(10, 0.0, 3000.0), (10, 11000.0, 14000.0)]
    assert set(roster.assignments["level"]) == {"province"}


def test_river_crossing_two_counties_resolves_inside_the_named_one(project: Project) -> None:
    west = resolve_named_roster(project, rows(["青龙河", "西南县", "县", "王五", "县长", 3, None]))
    east = resolve_named_roster(project, rows(["青龙河", "东县", "县", "赵六", "县长", 3, None]))
    assert stretches(west) == [(41, 0.0, 3000.0)]
    assert stretches(east) == [(42, 0.0, 3000.0)]
    assert set(east.assignments["unit_code"]) == {"330102"}
    assert (west.assignments["valid_from"] == pd.Timestamp(rivernet.roster.today())).all()


def test_a_variant_name_matches(project: Project) -> None:
    canal = resolve_named_roster(project, rows(["京杭运河", "东县", "县", "钱七", "县长", 4, None]))
    assert stretches(canal) == [(71, 0.0, 4000.0)]
    bare = resolve_named_roster(project, rows(["白马", "西南县", "县", "张三", "县长", None, None]))
    assert len(bare.assignments) == 2


def test_an_ambiguous_name_lists_both_candidates(project: Project) -> None:
    with pytest.raises(RosterError) as caught:
        resolve_named_roster(project, rows(["小河", "西北县", "县", "孙八", "县长", 2, None]))
    [(line, message)] = caught.value.problems
    assert line == 2
    assert "2 rivers named '小河'" in message
    assert "reaches 61 (2.000 km)" in message and "reaches 62 (2.000 km)" in message


def test_an_unknown_name_lists_the_names_present(project: Project) -> None:
    with pytest.raises(RosterError) as caught:
        resolve_named_roster(project, rows(["黑河", "西北县", "县", "周九", "县长", None, None]))
    [(line, message)] = caught.value.problems
    assert line == 2
    assert "'黑河'" in message and "西北县" in message and "rivers there: 小河" in message


def test_a_wrong_length_warns(project: Project) -> None:
    with pytest.warns(DataQualityWarning, match=r"line 2: stated length 10 km .* 6\.000 km"):
        resolve_named_roster(project, rows(["白马河", "西南县", "县", "张三", "县长", 10, None]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resolve_named_roster(project, rows(["白马河", "西南县", "县", "张三", "县长", 6.5, None]))


def test_one_bad_row_means_nothing_is_returned(project: Project) -> None:
    table = rows(
        ["白马河", "西南县", "县", "张三", "县长", 6, "2024-01-01"],
        ["青龙河", "东县", "县", "赵六", "县长", 3, "2024-01-01"],
        ["黑河", "东县", "县", "周九", "县长", None, "2024-01-01"],
    )
    with pytest.raises(RosterError, match="nothing was imported") as caught:
        resolve_named_roster(project, table)
    assert [line for line, _ in caught.value.problems] == [4]


def test_unknown_unit_and_bad_level_are_reported(project: Project) -> None:
    table = rows(
        ["白马河", "南县", "县", "张三", "县长", None, None],
        ["白马河", "西南县", "省", "张三", "县长", None, None],
    )
    with pytest.raises(RosterError) as caught:
        resolve_named_roster(project, table)
    problems = dict(caught.value.problems)
    assert "'南县' is not a unit" in problems[2]
    assert "does not match unit 320102" in problems[3]


def test_township_unit_resolves_inside_its_county(project: Project) -> None:
    units = pd.DataFrame(
        [("320102001", "清水镇", "township", "320102")],
        columns=["code", "name", "level", "parent_code"],
    )
    project.roster = roster_from_tables({"roster_units": units})
    roster = resolve_named_roster(
        project, rows(["白马河", "清水镇", "乡镇", "吴十", "镇长", None, None])
    )
    assert stretches(roster) == [(10, 0.0, 3000.0), (10, 11000.0, 14000.0)]
    assert set(roster.assignments["unit_code"]) == {"320102001"}
    assert set(roster.assignments["level"]) == {"township"}


def test_read_from_csv_with_line_numbers(project: Project, tmp_path: Path) -> None:
    path = tmp_path / "named.csv"
    table = rows(
        ["青龙河", "西南县", "县", "王五", "县长", 3, "2024-01-01"],
        ["小河", "西北县", "县", "孙八", "县长", None, "2024-01-01"],
    )
    table.to_csv(path, index=False, encoding="gbk")
    with pytest.raises(RosterError) as caught:
        read_named_roster(project, path)
    assert [line for line, _ in caught.value.problems] == [3]
    table.iloc[:1].to_csv(path, index=False, encoding="utf-8")
    roster = read_named_roster(project, path)
    assert stretches(roster) == [(41, 0.0, 3000.0)]
    assert rivernet.resolve_named_roster is resolve_named_roster
