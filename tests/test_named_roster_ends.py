"""起点 / 终点 of a name-keyed roster row cut the river's stretch (rivernet.named_roster).

Hand-drawn in the units of tests/boundary_cases.py (EPSG:32651 metres; 西南县 x < 0, y < 0,
东县 x > 0). 青龙河 flows east along y = -6000 in three 3 km reaches: 41 (-3000..0, 西南县),
42 (0..3000) and 43 (3000..6000), both in 东县. 白沙河 (50) flows south along x = 3000 from
y = -3000 into 青龙河 where 42 ends and 43 begins. In 东县 青龙河 is 6 km: 西南县界 at its
upstream end (x = 0), the 白沙河 confluence in the middle, the mouth at x = 6000.
"""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

import rivernet
from rivernet.errors import DataQualityWarning, RosterError
from rivernet.named_roster import resolve_named_roster
from rivernet.project import Project
from tests.boundary_cases import named_project

REACHES = {
    41: ([(-3000, -6000), (0, -6000)], 42, "青龙河"),
    42: ([(0, -6000), (3000, -6000)], 43, "青龙河"),
    43: ([(3000, -6000), (6000, -6000)], 0, "青龙河"),
    50: ([(3000, -3000), (3000, -6000)], 43, "白沙河"),
}
HEADER = ["河流名称", "行政区", "层级", "姓名", "职务", "起点", "终点", "长度"]


@pytest.fixture
def project() -> Project:
    return named_project(REACHES)


def resolve(project: Project, start: object, end: object, length: object = None) -> list[tuple]:
    row = ["青龙河", "东县", "县", "赵六", "县长", start, end, length]
    roster = resolve_named_roster(project, pd.DataFrame([row], columns=HEADER))
    frame = roster.assignments
    return sorted(zip(frame["reach_id"], frame["from_m"], frame["to_m"], strict=True))


def test_boundary_to_confluence(project: Project) -> None:
    assert resolve(project, "西南县界", "白沙河交汇处", 3) == [(42, 0.0, 3000.0)]


def test_confluence_to_mouth_in_either_order(project: Project) -> None:
    assert resolve(project, "白沙河口", "河口") == [(43, 0.0, 3000.0)]
    assert resolve(project, "河口", "与白沙河交汇处") == [(43, 0.0, 3000.0)]


def test_source_and_boundary_words_keep_the_whole_unit(project: Project) -> None:
    whole = [(42, 0.0, 3000.0), (43, 0.0, 3000.0)]
    assert resolve(project, "源头", "河口") == whole
    assert resolve(project, "与西南县交界处", None) == whole
    assert resolve(project, None, None) == whole


def test_only_an_end_keeps_what_lies_upstream(project: Project) -> None:
    assert resolve(project, None, "白沙河交汇口") == [(42, 0.0, 3000.0)]


def test_an_unplaced_description_warns_and_leaves_that_end_uncut(project: Project) -> None:
    with pytest.warns(DataQualityWarning, match=r"起点 '张家桥' could not be placed"):
        got = resolve(project, "张家桥", "白沙河交汇处", 3)
    assert got == [(42, 0.0, 3000.0)]


def test_the_stated_length_is_checked_against_the_cut(project: Project) -> None:
    with pytest.warns(DataQualityWarning, match=r"stated length 6 km .* 3\.000 km"):
        resolve(project, "白沙河口", "河口", 6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resolve(project, "白沙河口", "河口", 3)


def test_the_same_place_twice_is_an_error(project: Project) -> None:
    with pytest.raises(RosterError, match=r"line 2: 起点 and 终点 are the same place"):
        resolve(project, "白沙河口", "白沙河交汇处")


def test_the_tributary_itself_ends_at_its_mouth(project: Project) -> None:
    row = ["白沙河", "东县", "县", "孙八", "县长", "源头", "入青龙河", 3]
    roster = resolve_named_roster(project, pd.DataFrame([row], columns=HEADER))
    assert roster.assignments["reach_id"].tolist() == [50]
    assert rivernet.Roster is type(roster)
