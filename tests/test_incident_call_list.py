"""Tests of rivernet.incidents: the incident by reach and measure, and its call list."""

from __future__ import annotations

import pandas as pd
import pytest
from shapely import Point

import rivernet
from rivernet.errors import InputError, NotFoundError, OutOfRangeError
from rivernet.incidents import CALL_COLUMNS, incident
from rivernet.roster import Roster
from tests.boundary_cases import make_project
from tests.conftest import SAMPLE

# person, name, level, unit, role, reach, from_m, to_m, river
CHIEFS = [
    ("w0", "西总", "province", "320000", "总河长", None, None, None, None),
    ("e0", "东总", "province", "330000", "总河长", None, None, None, None),
    ("e1", "东副", "province", "330000", "河长", None, None, None, 41),  # another river
    ("wc", "西市河长", "city", "320100", "河长", None, None, None, 10),  # river 10
    ("w1", "西南甲", "county", "320102", "河长", 10, None, None, None),  # at the incident
    ("w2", "西南乙", "county", "320102", "河长", 41, None, None, None),  # same unit, elsewhere
    ("wt", "西南镇长", "township", "320102001", "河长", 10, 0.0, 3000.0, None),
    ("e2", "东县甲", "county", "330102", "河长", 10, 3000.0, 11000.0, None),
    ("e3", "东县乙", "county", "330102", "河长", 42, None, None, None),
]


@pytest.fixture
def project() -> rivernet.Project:
    """The hand-drawn project with a small roster around reach 10."""
    project = make_project()
    people = pd.DataFrame(
        {
            "person_id": [c[0] for c in CHIEFS],
            "name": [c[1] for c in CHIEFS],
            "post": ["职务"] * len(CHIEFS),
            "organisation": ["单位"] * len(CHIEFS),
            "level": [c[2] for c in CHIEFS],
            "unit_code": [c[3] for c in CHIEFS],
            "contact": [f"1380000000{i}" for i in range(len(CHIEFS))],
            "is_fictional": True,
        }
    )
    assignments = pd.DataFrame(
        {
            "assignment_id": [f"a-{c[0]}" for c in CHIEFS],
            "person_id": [c[0] for c in CHIEFS],
            "level": [c[2] for c in CHIEFS],
            "unit_code": [c[3] for c in CHIEFS],
            "role": [c[4] for c in CHIEFS],
            "reach_id": pd.Series([c[5] for c in CHIEFS], dtype=object),
            "from_m": pd.Series([c[6] for c in CHIEFS], dtype=float),
            "to_m": pd.Series([c[7] for c in CHIEFS], dtype=float),
            "river_id": pd.Series([c[8] for c in CHIEFS], dtype=object),
            "lake_id": pd.Series([None] * len(CHIEFS), dtype=object),
            "valid_from": pd.Timestamp("2020-01-01"),
            "valid_to": pd.NaT,
        }
    )
    project.roster = Roster(people=people, assignments=assignments)
    return project


@pytest.fixture(scope="module")
def taihu() -> rivernet.Project:
    return rivernet.open_project(SAMPLE)


def test_call_list_by_reach_and_measure_hand_computed(project: rivernet.Project) -> None:
    report = incident(project, reach=10, measure_m=500, velocity_m_s=1.0, as_of="2024-06-01")
    assert report.snapped["reach_id"] == 10 and report.snapped["measure_m"] == 500
    calls = report.call_list
    assert tuple(calls.columns[:-1]) == CALL_COLUMNS and "contact" not in calls
    # at the incident: the chiefs assigned there (not 西南乙, a chief of the same county
    # elsewhere), then the province, which has nobody there, through its 总河长
    assert calls["name"].tolist() == ["西市河长", "西南甲", "西南镇长", "西总", "东总", "东县甲"]
    assert calls["basis"].tolist() == ["place"] * 3 + ["unit", "unit", "place"]
    assert calls["order"].tolist() == [1, 2, 3, 4, 5, 6]
    # the plume enters 330000 / 330102 at 3000 m on reach 10: 2.5 km, 2500 s at 1 m/s
    assert calls["distance_km"].tolist() == pytest.approx([0, 0, 0, 0, 2.5, 2.5])
    assert calls["arrival_h"].tolist() == pytest.approx([0, 0, 0, 0, 2500 / 3600, 2500 / 3600])
    assert calls["crossing_id"].tolist()[4:] == ["P10@3000", "X10@3000"]
    assert calls["measure_m"].iloc[4] == pytest.approx(3000, abs=0.01)
    assert calls.geometry.iloc[0].distance(Point(-2500, -2000)) < 1e-6
    # notify's chiefs come from the call list: the same people
    notify = report.notify.set_index("unit_code")["chiefs"]
    assert notify["320102"] == "西南甲 (河长)" and notify["330000"] == "东总 (总河长)"


def test_call_list_starts_with_chiefs_at(project: rivernet.Project) -> None:
    for measure in (500.0, 5000.0, None):
        report = incident(project, reach=10, measure_m=measure, as_of="2024-06-01")
        here = rivernet.chiefs_at(project, 10, measure_m=measure, as_of="2024-06-01")
        first = report.call_list.head(len(here))
        assert first["assignment_id"].tolist() == here["assignment_id"].tolist()
        assert (first["basis"] == "place").all() and (first["distance_km"] == 0).all()


def test_contact_only_when_asked(project: rivernet.Project) -> None:
    report = incident(project, reach=10, include_contact=True, as_of="2024-06-01")
    assert report.call_list["contact"].str.startswith("138").all()
    assert "contact" not in incident(project, reach=10, as_of="2024-06-01").call_list


def test_reach_and_point_agree(project: rivernet.Project) -> None:
    by_point = incident(project, (-2500, -1990), as_of="2024-06-01")
    by_reach = incident(project, reach=10, measure_m=500, as_of="2024-06-01")
    assert by_point.notify.equals(by_reach.notify)
    assert by_point.call_list["assignment_id"].tolist() == (
        by_reach.call_list["assignment_id"].tolist()
    )


def test_incident_place_errors(project: rivernet.Project) -> None:
    with pytest.raises(InputError, match="exactly one"):
        incident(project)
    with pytest.raises(InputError, match="exactly one"):
        incident(project, (-2500, -1990), reach=10)
    with pytest.raises(InputError, match="measure_m"):
        incident(project, (-2500, -1990), measure_m=5)
    with pytest.raises(NotFoundError, match="999"):
        incident(project, reach=999)
    with pytest.raises(OutOfRangeError, match="0 to 14000"):
        incident(project, reach=10, measure_m=20_000)
    with pytest.raises(OutOfRangeError, match="max_snap_m"):
        incident(project, (50_000, 50_000))


def test_no_roster_gives_an_empty_call_list() -> None:
    report = incident(make_project(), reach=10)
    assert report.call_list.empty and tuple(report.call_list.columns[:-1]) == CALL_COLUMNS
    assert report.notify["chiefs"].isna().all()


def test_sections_are_listed_once_at_the_highest_level(project: rivernet.Project) -> None:
    report = incident(project, reach=10, measure_m=500)
    sections = report.sections
    assert sections["crossing_id"].tolist() == ["P10@3000", "P10@11000"]
    assert sections["levels"].tolist() == ["province,city,county"] * 2
    assert sections["crossing_ids"].iloc[0] == "P10@3000,C10@3000,X10@3000"


def test_taihu_call_list(taihu: rivernet.Project) -> None:
    day = "2025-06-30"
    report = incident(taihu, reach=40652917, velocity_m_s=0.5, as_of=day)
    calls = report.call_list
    here = rivernet.chiefs_at(taihu, 40652917, as_of=day)
    assert calls.head(len(here))["name"].tolist() == here["name"].tolist() == [
        "程雨静", "石秀海", "顾林"
    ]  # fmt: skip
    county = report.notify[report.notify["unit_code"] == "330411"]["chiefs"].iloc[0]
    assert county == "程雨静 (河长)"  # 宋玲 is a chief of the district, on other reaches
    assert calls["distance_km"].is_monotonic_increasing
    assert calls["arrival_h"].to_numpy() == pytest.approx(
        calls["distance_km"].to_numpy() * 1000 / 0.5 / 3600
    )
    jiangsu = calls[calls["unit_code"] == "320000"]
    assert len(jiangsu) and (jiangsu["distance_km"] > 0).all()
    assert report.sections["crossing_id"].is_unique
    places = report.sections[["reach_id", "measure_m"]].round(3)
    assert not places.duplicated().any()


def test_taihu_sections_once_at_the_highest_level(taihu: rivernet.Project) -> None:
    """Reach 40652917 flows into Jiangsu: each place it crosses a boundary is listed once."""
    report = incident(taihu, reach=40652917, as_of="2025-06-30")
    # the oracle: every pass, at every level, on the main path from the reach to the outlet
    core = taihu.network.core
    path, position = [], int(core.position([40652917])[0])
    while position >= 0:
        path.append(taihu.network.ids[position])
        position = int(core.downstream[position])
    rank = {"province": 0, "city": 1, "county": 2}
    passes = pd.concat([rivernet.crossings(taihu, level=level, merge_within_m=0) for level in rank])
    passes = passes[passes["reach_id"].isin(path)]
    pairs = zip(passes["reach_id"], passes["measure_m"], strict=True)
    places = passes.assign(place=[f"{reach}@{measure:.3f}" for reach, measure in pairs])
    highest = places.sort_values("level", key=lambda s: s.map(rank)).drop_duplicates("place")
    sections = report.sections
    assert len(sections) == len(highest) == places["place"].nunique()
    assert sorted(sections["crossing_id"]) == sorted(highest["crossing_id"])
    into_jiangsu = sections[(sections["upstream_code"] == "330000")
                            & (sections["downstream_code"] == "320000")]  # fmt: skip
    assert len(into_jiangsu) > 0
    assert (into_jiangsu["level"] == "province").all()
    assert (into_jiangsu["levels"] == "province,city,county").all()
    for ids in into_jiangsu["crossing_ids"]:  # the same point at the three levels, once
        assert [i[0] for i in ids.split(",")] == ["P", "C", "X"]
        assert len({i[1:] for i in ids.split(",")}) == 1
    # each pass names the handover section (a row of crossings) it belongs to
    for level, group in sections.groupby("level"):
        merged = rivernet.crossings(taihu, level=str(level)).set_index("crossing_id")
        for pass_id, section_id in zip(group["crossing_id"], group["section_id"], strict=True):
            assert pass_id in merged.loc[section_id, "pass_ids"].split(",")
    assert (sections["section_id"] != sections["crossing_id"]).any()  # re-crossings merged
