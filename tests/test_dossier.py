"""Named rivers (rivernet.dossier): one row per river, on a hand-made project and the sample.

The hand-made project is the network of tests/test_names.py (UTM 51N metres) in one city
(320500) of one province (320000), cut into two counties at x = 2500 m: 320505 (西县, west) and
320506 (东县, east). Names: 太浦河 on the main stem 1 -> 2 -> 3 -> 4 (4 km, crossing from 西县
into 东县), 甲溪 on the tributary 5 and on the separate outlet 7 (two rivers: not connected),
乙河 on 6 (in 东县).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import box

import rivernet
from rivernet import InputError
from rivernet.crs import metric_crs_for
from rivernet.dossier import RIVER_COLUMNS, rivers
from rivernet.names import attach_names
from rivernet.project import Project, open_project
from rivernet.roster import Roster
from tests._coverage_project import assignment
from tests.boundary_cases import make_project
from tests.conftest import SAMPLE
from tests.test_names import CRS, named_lines, reach_table

AS_OF = "2025-06-30"
NAMES = {1: "太浦河", 2: "太浦 河", 3: "太浦", 4: "太浦河", 5: "甲溪", 6: "乙河", 7: "甲溪"}


def units() -> gpd.GeoDataFrame:
    """One province, one city, two counties split at x = 2500 m."""
    whole = box(-1000, -2000, 6000, 2000)
    return gpd.GeoDataFrame(
        {
            "code": ["320000", "320500", "320505", "320506"],
            "name": ["江苏省", "苏州市", "西县", "东县"],
            "level": ["province", "city", "county", "county"],
            "parent_code": [None, "320000", "320500", "320500"],
        },
        geometry=[whole, whole, box(-1000, -2000, 2500, 2000), box(2500, -2000, 6000, 2000)],
        crs=CRS,
    )


def named_project(*, names: bool = True) -> Project:
    """The hand-made project, its reaches named (or not)."""
    reaches = reach_table()
    if names:
        reaches["name"] = reaches["reach_id"].map(NAMES)
        reaches["river_code"] = reaches["reach_id"].map({1: "TP01", 2: "TP01", 4: "TP01"})
    lakes = gpd.GeoDataFrame(
        {"lake_id": pd.Series(dtype=object), "name": pd.Series(dtype=object),
         "name_zh": pd.Series(dtype=object)},
        geometry=gpd.GeoSeries([], crs=CRS), crs=CRS,
    )  # fmt: skip
    return make_project(units(), reaches=reaches, lakes=lakes)


def roster() -> Roster:
    """Chiefs on the named reaches (one expired, one patroller, one orphan) and two boards."""
    rows = [
        assignment("W1", "west", "county", "320505", 1),
        assignment("W2", "west", "county", "320505", 2),
        assignment("E3", "east", "county", "320506", 3),
        assignment(
            "E4old", "east0", "county", "320506", 4, valid_from="2020-01-01", valid_to="2021-12-31"
        ),
        assignment("C6", "city", "city", "320500", 6),
        assignment("P1", "patrol", "county", "320505", 1, role="巡河员"),
        assignment("X99", "west", "county", "320505", 99, valid_from="2020-01-01"),  # orphan
    ]
    frame = pd.DataFrame(rows)
    frame["line"] = np.arange(2, len(frame) + 2)
    frame["reach_id"] = frame["reach_id"].astype(object)
    people = pd.DataFrame(
        {
            "person_id": ["west", "east", "east0", "city", "patrol"],
            "name": ["西一", "东一", "东零", "市一", "巡一"],
            "post": "副县长",
            "organisation": None,
            "level": None,
            "unit_code": None,
            "contact": None,
            "is_fictional": True,
        }
    )
    boards = pd.DataFrame(
        {
            "board_id": ["B1", "B2"],
            "reach_id": [3, 6],
            "measure_m": [500.0, 200.0],
            "level": ["county", "city"],
            "person_id": ["east", "city"],
            "updated_on": pd.to_datetime(["2024-01-01", "2024-01-01"]),
        }
    )
    return Roster(people, frame, boards=boards)


def test_one_row_per_named_river() -> None:
    table = rivers(named_project(), as_of=AS_OF)
    assert isinstance(table, gpd.GeoDataFrame)
    assert list(table.columns) == [*RIVER_COLUMNS, "geometry"]
    assert table.crs == CRS
    assert table["name"].tolist() == ["太浦河", "乙河", "甲溪", "甲溪"]
    assert table["length_km"].tolist() == pytest.approx([4.0, 1.0, 1.0, 1.0])
    assert table["n_reaches"].tolist() == [4, 1, 1, 1]
    main = table.iloc[0]
    assert main["reach_ids"] == "1, 2, 3, 4"  # source to mouth
    assert (main["source"], main["mouth"]) == (1, 4)
    assert main["river_code"] == "TP01"
    assert sorted(table.iloc[2:]["reach_ids"]) == ["5", "7"]  # two rivers called 甲溪
    assert pd.isna(table.iloc[1]["river_code"])
    assert main["geometry"].equals(shapely.LineString([(0, 0), (4000, 0)]))


def test_units_crossed_from_source_to_mouth() -> None:
    table = rivers(named_project(), as_of=AS_OF).set_index("reach_ids")
    assert table.loc["1, 2, 3, 4", "county_codes"] == "320505, 320506"
    assert table.loc["1, 2, 3, 4", "county_names"] == "西县、东县"
    assert table.loc["1, 2, 3, 4", "city_names"] == "苏州市"
    assert table.loc["1, 2, 3, 4", "province_codes"] == "320000"
    assert table.loc["6", "county_names"] == "东县"
    assert table.loc["5", "county_codes"] == "320505"


def test_without_a_roster_chiefs_are_empty_and_counts_missing() -> None:
    table = rivers(named_project(), as_of=AS_OF)
    assert (table[[f"chiefs_{level}" for level in rivernet.admin.LEVELS]] == "").all().all()
    for column in ("boards", "gaps", "problems"):
        assert table[column].isna().all()


def test_chiefs_boards_and_problems_from_the_roster() -> None:
    project = named_project()
    project.roster = roster()
    table = rivers(project, as_of=AS_OF).set_index("reach_ids")
    main = table.loc["1, 2, 3, 4"]
    assert main["chiefs_county"] == "西一(河长)、东一(河长)、巡一(巡河员)"  # roster order; not 东零
    assert main["chiefs_city"] == "" and main["chiefs_village"] == ""
    assert table.loc["6", "chiefs_city"] == "市一(河长)"
    assert table["boards"].to_dict() == {"1, 2, 3, 4": 1, "6": 1, "5": 0, "7": 0}
    gaps = rivernet.coverage_gaps(project, as_of=AS_OF)
    problems = rivernet.coverage_problems(project, as_of=AS_OF)
    for ids, row in table.iterrows():
        reaches = [int(i) for i in str(ids).split(", ")]
        assert row["gaps"] == gaps["reach_id"].isin(reaches).sum()
        assert row["problems"] == problems["reach_id"].isin(reaches).sum()
    assert table.loc["5", "gaps"] > 0  # nobody answers for 甲溪


def test_chiefs_follow_the_day() -> None:
    project = named_project()
    project.roster = roster()
    before = rivers(project, as_of="2021-06-30").set_index("reach_ids")
    assert "东零(河长)" in before.loc["1, 2, 3, 4", "chiefs_county"]


def test_reaches_without_names_are_refused_with_the_fix() -> None:
    with pytest.raises(InputError, match=r"rivernet\.attach_names\(project, lines"):
        rivers(named_project(names=False))


def test_names_attached_to_a_project_give_its_rivers() -> None:
    project = named_project(names=False)
    attach_names(project, named_lines(), name_column="river", code_column="code").apply(project)
    table = rivers(project, as_of=AS_OF)
    assert table["name"].tolist() == ["太浦河", "乙河", "甲溪"]  # 7 has no name; 1 km by name
    assert table["reach_ids"].tolist() == ["1, 2, 3, 4", "6", "5"]
    assert table.iloc[0]["river_code"] == "TP01"
    # a new network gives new rivers (the cached table is not reused)
    attach_names(project, named_lines()[:2], name_column="river").apply(project)
    assert rivers(project, as_of=AS_OF)["name"].tolist() == ["太浦河"]


def test_rivernet_rivers_is_the_function_after_importing_its_module() -> None:
    import rivernet.dossier as module

    assert rivernet.rivers is module.rivers
    assert len(rivernet.rivers(named_project(), as_of=AS_OF)) == 4


def test_no_named_reach_gives_an_empty_table() -> None:
    project = named_project()
    reaches = project.network.reaches.assign(name=None)
    project.network = rivernet.RiverNetwork.from_downstream_ids(
        reaches.reset_index(), id_column="reach_id", downstream_column="downstream_id"
    )
    table = rivers(project, as_of=AS_OF)
    assert table.empty and list(table.columns) == [*RIVER_COLUMNS, "geometry"]


# --- the sample -------------------------------------------------------------------------------


@pytest.mark.slow
def test_names_of_two_main_stems_of_the_sample() -> None:
    project = open_project(SAMPLE)
    network = project.network
    stem = network.main_stem_id()
    lengths = network.reaches["length_m"].groupby(stem).sum().sort_values(ascending=False)
    top = lengths.index[:2].tolist()
    metric = metric_crs_for(network.reaches)
    geometry = []
    for mouth in top:
        lines = network.reaches.geometry[stem == mouth].to_crs(metric).to_numpy()
        geometry.append(shapely.offset_curve(shapely.line_merge(shapely.union_all(lines)), 20.0))
    lines = gpd.GeoDataFrame(
        {"name": ["示例一河", "示例二河"]}, geometry=geometry, crs=metric
    ).to_crs(network.crs)
    report = rivernet.attach_names(project, lines, name_column="name")
    assert report.conflicts.empty
    for mouth, name in zip(top, ["示例一河", "示例二河"], strict=True):
        ids = stem.index[stem == mouth]
        assert (report.names[ids] == name).all()
        assert (report.names == name).sum() == len(ids)
    report.apply(project)
    table = rivernet.rivers(project, as_of=AS_OF)
    assert table["name"].tolist() == ["示例一河", "示例二河"]
    assert table["mouth"].tolist() == top
    assert table["length_km"].tolist() == pytest.approx((lengths[top] / 1000.0).tolist())
    assert table["n_reaches"].tolist() == [int((stem == mouth).sum()) for mouth in top]
    assert table.iloc[0]["province_names"].count("、") >= 1  # the longest stem crosses provinces
    assert (table["chiefs_county"] != "").all()
