"""Tests of rivernet.joint_control, .jurisdiction and .incidents: graph, partners, incidents."""

from __future__ import annotations

import networkx as nx
import pandas as pd
import pytest

import rivernet
from rivernet.errors import InputError, NotFoundError, OutOfRangeError
from rivernet.incidents import incident
from rivernet.joint_control import partner_summary, partner_table, partners
from rivernet.jurisdiction import jurisdiction_graph, jurisdiction_table
from tests.boundary_cases import make_project
from tests.conftest import SAMPLE


@pytest.fixture
def project() -> rivernet.Project:
    return make_project()


@pytest.fixture(scope="module")
def taihu() -> rivernet.Project:
    return rivernet.open_project(SAMPLE)


def test_jurisdiction_graph_hand_computed(project: rivernet.Project) -> None:
    graph = jurisdiction_graph(project, level="province", boundary_tolerance_m=100)
    assert isinstance(graph, nx.DiGraph) and graph.graph["level"] == "province"
    assert set(graph.edges) == {("320000", "330000"), ("330000", "320000")}
    west_east = graph.edges["320000", "330000"]
    assert west_east["crossings"] == 5  # reaches 10, 20, 31, 41, 51
    assert west_east["rivers"] == 5
    assert graph.edges["330000", "320000"]["crossings"] == 2  # back on 10 and 51
    assert west_east["boundary_river_km"] == pytest.approx(2.0)
    assert graph.nodes["320000"]["name"] == "西省"


def test_jurisdiction_table_lengths(project: rivernet.Project) -> None:
    table = jurisdiction_table(project, level="province", boundary_tolerance_m=None)
    row = table[(table["upstream_code"] == "330000")].iloc[0]
    # 10 at 11000 m (11 km drain through) and 51 at 3000 m (3 km)
    assert row["upstream_length_km"] == pytest.approx(14.0)
    assert row["boundary_river_km"] == 0.0


def test_unit_partners(project: rivernet.Project) -> None:
    found = partners(project, unit="320000")
    relations = set(zip(found["relation"], found["partner_code"], strict=True))
    assert ("downstream", "330000") in relations
    assert ("upstream", "330000") in relations  # water comes back on reaches 10 and 51
    assert ("left_bank", "330000") in relations  # reach 20: 330000 holds the left bank
    river10 = found[(found["relation"] == "upstream") & (found["river_id"] == 10)].iloc[0]
    assert river10["distance_km"] == 0.0 and river10["crossing_id"] == "P10@11000"


def test_unit_partners_distance_limit(project: rivernet.Project) -> None:
    # at county level, reach 10 leaves 320102 for 330102 at 3000 m and comes back at 11000 m
    far = partners(project, unit="330102", banks=False)
    back = far[(far["relation"] == "downstream") & (far["river_id"] == 10)]
    assert back["partner_code"].tolist() == ["320102"]
    within = partners(project, unit="320102", distance_km=5, banks=False)
    assert not ((within["relation"] == "upstream") & (within["distance_km"] > 5)).any()


def test_reach_partners(project: rivernet.Project) -> None:
    found = partners(project, reach=33, level="province")
    assert found[["relation", "partner_code"]].values.tolist() == [
        ["own", "330000"], ["own", "330100"], ["own", "330102"], ["upstream", "320000"]
    ]  # fmt: skip
    assert found["distance_km"].iloc[-1] == pytest.approx(0.0 + 2.828427, abs=1e-5)
    assert found["partner_chiefs"].isna().all()  # no roster


def test_reach_partners_downstream_distances(project: rivernet.Project) -> None:
    # reach 41 (3000 m, 320102) ends on the border; 42 carries the water into 330102
    found = partners(project, reach=41, level="county", banks=False)
    down = found[found["relation"] == "downstream"]
    assert down["partner_code"].tolist() == ["330102"]
    assert down["distance_km"].tolist() == pytest.approx([0.0])  # the crossing is its outlet
    # reach 25 runs along the border of 320102 and 320104: both are its own units
    own = partners(project, reach=25, level="county", banks=False)
    assert own[["level", "partner_code"]].values.tolist() == [
        ["province", "320000"], ["city", "320100"], ["county", "320104"], ["county", "320102"]
    ]  # fmt: skip
    assert set(own["relation"]) == {"own"}  # no crossing below it


def test_taihu_reach_partners(taihu: rivernet.Project) -> None:
    day = "2025-06-30"
    found = partners(taihu, reach=40652917, as_of=day)
    own = found[found["relation"] == "own"]
    here = rivernet.chiefs_at(taihu, 40652917, as_of=day)
    assert own["partner_code"].tolist() == here["unit_code"].astype(str).tolist()
    pairs = zip(here["name"], here["role"], strict=True)
    assert own["partner_chiefs"].tolist() == [f"{name} ({role})" for name, role in pairs]
    down = found[found["relation"] == "downstream"]
    assert len(down) and (down["distance_km"] > 0).all()
    near = partners(taihu, reach=40652917, as_of=day, distance_km=60)
    assert near["distance_km"].max() <= 60 and len(near) < len(found)
    assert set(near["relation"]) >= {"own", "downstream"}


def test_taihu_unit_partners_farther_units_have_distances(taihu: rivernet.Project) -> None:
    found = partners(taihu, unit="330500", banks=False)
    down = found[found["relation"] == "downstream"]
    shanghai = down[down["partner_code"] == "310100"]
    assert len(shanghai) and (shanghai["distance_km"] > 50).all()  # reached through Suzhou
    near = partners(taihu, unit="330500", banks=False, distance_km=20)
    assert "310100" not in set(near["partner_code"]) and near["distance_km"].max() <= 20


def test_partners_needs_one_subject(project: rivernet.Project) -> None:
    with pytest.raises(InputError, match="exactly one"):
        partners(project)
    with pytest.raises(NotFoundError, match="999999"):
        partners(project, unit="999999")
    with pytest.raises(NotFoundError, match="no roster"):
        partners(project, chief="张三")


def test_partner_table_agrees_with_the_graph(project: rivernet.Project) -> None:
    table = partner_table(project, level="province", banks=False)
    downstream = table[table["relation"] == "downstream"]
    pairs = set(zip(downstream["unit_code"], downstream["partner_code"], strict=True))
    assert pairs == set(jurisdiction_graph(project, level="province").edges)


def test_partner_summary_text(project: rivernet.Project) -> None:
    summary = partner_summary(project, level="province")
    assert summary["summary_zh"].iloc[0] == "西省 → 东省：5 条河流，5 个交接断面"
    assert summary["summary_en"].iloc[1] == "东省 -> 西省: 2 rivers, 2 handover sections"


def test_incident_on_a_river_crossing_twice(project: rivernet.Project) -> None:
    report = incident(project, (-2500, -1990), velocity_m_s=1.0)
    assert report.snapped["reach_id"] == 10
    assert report.snapped["measure_m"] == pytest.approx(500)
    assert report.snapped["distance_m"] == pytest.approx(10)
    province = report.notify[report.notify["level"] == "province"]
    assert province["unit_code"].tolist() == ["320000", "330000"]
    assert province["distance_km"].tolist() == pytest.approx([0.0, 2.5])
    assert province["arrival_h"].iloc[1] == pytest.approx(2500 / 3600)
    sections = report.sections[report.sections["level"] == "province"]
    assert sections["crossing_id"].tolist() == ["P10@3000", "P10@11000"]
    assert sections["distance_km"].tolist() == pytest.approx([2.5, 10.5])
    assert report.upstream.empty


def test_incident_upstream_units(project: rivernet.Project) -> None:
    report = incident(project, (1000, 2000))  # on reach 33, below the confluence
    province = report.upstream[report.upstream["level"] == "province"]
    assert province["unit_code"].tolist() == ["320000"]
    assert province["distance_km"].iloc[0] == pytest.approx(1.414214, abs=1e-5)


def test_incident_far_from_any_river(project: rivernet.Project) -> None:
    with pytest.raises(OutOfRangeError, match="max_snap_m"):
        incident(project, (50_000, 50_000))
    with pytest.raises(InputError, match="velocity"):
        incident(project, (-2500, -2000), velocity_m_s=0)


def test_taihu_summary_has_the_basin_flows(taihu: rivernet.Project) -> None:
    summary = partner_summary(taihu, level="province")
    pairs = set(zip(summary["upstream_name"], summary["downstream_name"], strict=True))
    assert {("浙江省", "江苏省"), ("江苏省", "上海市"), ("安徽省", "江苏省"),
            ("安徽省", "浙江省")} <= pairs  # fmt: skip
    assert isinstance(summary, pd.DataFrame)


def test_taihu_summary_counts_the_sections_crossings_lists(taihu: rivernet.Project) -> None:
    for merge in (1000.0, 0.0):
        for lakes in (True, False):
            summary = partner_summary(taihu, level="province", merge_within_m=merge,
                                      include_lakes=lakes)  # fmt: skip
            sections = rivernet.crossings(taihu, level="province", merge_within_m=merge,
                                          include_lakes=lakes)  # fmt: skip
            pairs = sections.groupby(["upstream_code", "downstream_code"]).size()
            counted = summary.set_index(["upstream_code", "downstream_code"])["sections"]
            assert counted[counted > 0].sort_index().to_dict() == pairs.sort_index().to_dict()
            lake = sections[sections["in_lake"]].groupby(["upstream_code", "downstream_code"])
            in_lake = summary.set_index(["upstream_code", "downstream_code"])["lake_sections"]
            assert in_lake[in_lake > 0].to_dict() == lake.size().to_dict()
    merged = partner_summary(taihu, level="province")
    every = partner_summary(taihu, level="province", merge_within_m=0)
    assert (every["sections"] == every["crossings"]).all()
    assert merged["sections"].sum() < every["sections"].sum()
    zj_js = merged.set_index(["upstream_code", "downstream_code"]).loc[("330000", "320000")]
    assert f"{zj_js['sections']} 个交接断面" in zj_js["summary_zh"]


def test_taihu_incident_in_huzhou(taihu: rivernet.Project) -> None:
    report = incident(taihu, (120.2, 30.9), max_snap_m=3000, distance_km=50)
    assert report.notify["unit_code"].iloc[0] == "330000"
    assert "320000" in set(report.notify["unit_code"])
    assert (report.sections["distance_km"].diff().dropna() >= 0).all()


def test_top_level_exports_are_the_functions(project: rivernet.Project) -> None:
    # the module is rivernet.joint_control, so importing it never shadows rivernet.partners
    assert callable(rivernet.partners)
    found = rivernet.partners(project, unit="320000")
    assert found.equals(partners(project, unit="320000"))
    assert rivernet.jurisdiction_graph is jurisdiction_graph
    assert rivernet.incident is incident
    assert rivernet.partner_summary is partner_summary


def test_chiefs_are_joined_from_the_roster(project: rivernet.Project) -> None:
    import rivernet.roster as roster_module

    people = pd.DataFrame(
        {
            "person_id": ["p1", "p2", "p3"],
            "name": ["王河长", "李河长", "赵前任"],
            "post": ["省长", "省长", "副省长"],
            "organisation": ["", "", ""],
            "level": ["province"] * 3,
            "unit_code": ["320000", "330000", "330000"],
            "contact": ["", "", ""],
            "is_fictional": [True] * 3,
        }
    )
    assignments = pd.DataFrame(
        {
            "assignment_id": ["a1", "a2", "a3"],
            "person_id": ["p1", "p2", "p3"],
            "level": ["province"] * 3,
            "unit_code": ["320000", "330000", "330000"],
            "role": ["总河长", "总河长", "总河长"],
            "valid_from": pd.to_datetime(["2020-01-01", "2020-01-01", "2015-01-01"]),
            "valid_to": pd.to_datetime([None, None, "2019-12-31"]),
        }
    )
    project.roster = roster_module.Roster(people=people, assignments=assignments)
    found = rivernet.crossings(project, level="province", as_of="2024-06-01")
    row = found[found["reach_id"] == 41].iloc[0]
    assert row["upstream_chiefs"] == "王河长 (总河长)"
    assert row["downstream_chiefs"] == "李河长 (总河长)"
    old = rivernet.crossings(project, level="province", as_of="2018-06-01")
    assert old[old["reach_id"] == 41].iloc[0]["downstream_chiefs"] == "赵前任 (总河长)"
    assert "李河长 (总河长)" in set(partners(project, unit="320000")["partner_chiefs"])
    by_chief = partners(project, chief="王河长")
    assert set(by_chief["unit_code"]) == {"320000"}
