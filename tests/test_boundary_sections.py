"""Handover sections with several passes: ``crossings(..., merge_within_m=...)``.

Hand-drawn rivers on the border x = 0 of tests/boundary_cases.py (west 320000 / 320102, east
330000 / 330102, south of y = 0), each reach drawn so that the along-network distances between
its crossings are round numbers, and the Taihu sample's Zhejiang-Jiangsu sections.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import LineString

import rivernet
from rivernet import boundary
from rivernet.errors import InputError
from tests.boundary_cases import CRS, make_project

# reach id -> (vertices, downstream reach id or 0)
Drawing = dict[int, tuple[list[tuple[float, float]], int]]

# Out into the east at measure 2000, back 300 m later (100 east, 100 south, 100 west).
BACK_300 = {1: ([(-2000, -8000), (100, -8000), (100, -8100), (-2000, -8100)], 0)}
# Out at 2000, back 3 km later.
BACK_3000 = {1: ([(-2000, -8000), (1000, -8000), (1000, -9000), (-2000, -9000)], 0)}


def _project(drawing: Drawing) -> rivernet.Project:
    reaches = gpd.GeoDataFrame(
        {"reach_id": list(drawing), "downstream_id": [d for _, d in drawing.values()]},
        geometry=[LineString(c) for c, _ in drawing.values()],
        crs=CRS,
    )
    return make_project(reaches=reaches)


def test_a_re_crossing_300_m_later_is_one_section_with_two_passes() -> None:
    found = boundary.crossings(_project(BACK_300), level="province")
    assert len(found) == 1
    row = found.iloc[0]
    assert row["crossing_id"] == "P1@2000"
    assert (row["reach_id"], row["measure_m"]) == (1, pytest.approx(2000.0))
    assert (row["upstream_code"], row["downstream_code"]) == ("320000", "330000")
    assert row["responsible_code"] == "320000"
    assert row["passes"] == 2
    assert row["pass_ids"] == "P1@2000,P1@2300"
    assert row["pass_directions"] == "320000->330000,330000->320000"
    assert row["span_m"] == pytest.approx(300.0)
    assert bool(row["returns"]) and not bool(row["in_lake"]) and row["lake_passes"] == 0
    assert (row.geometry.x, row.geometry.y) == pytest.approx((0.0, -8000.0))  # the first pass


def test_a_re_crossing_3_km_later_is_a_second_section() -> None:
    found = boundary.crossings(_project(BACK_3000), level="province")
    assert found["crossing_id"].tolist() == ["P1@2000", "P1@5000"]
    assert found["passes"].tolist() == [1, 1]
    assert found["pass_directions"].tolist() == ["320000->330000", "330000->320000"]
    assert not found["returns"].any() and (found["span_m"] == 0).all()
    wide = boundary.crossings(_project(BACK_3000), level="province", merge_within_m=3000)
    assert wide["pass_ids"].tolist() == ["P1@2000,P1@5000"]


def test_zero_lists_every_pass_and_matches_the_ids_of_the_merged_rows() -> None:
    project = _project(BACK_300)
    every = boundary.crossings(project, level="province", merge_within_m=0)
    assert every["crossing_id"].tolist() == ["P1@2000", "P1@2300"]
    assert (every["passes"] == 1).all()
    merged = boundary.crossings(project, level="province")
    assert merged["pass_ids"].str.split(",").sum() == every["crossing_id"].tolist()


def test_the_re_crossing_may_be_on_the_reach_below() -> None:
    # reach 1 ends 200 m into the east; reach 2 carries the water back west 200 m later
    drawing: Drawing = {
        1: ([(-2000, -8000), (200, -8000)], 2),
        2: ([(200, -8000), (200, -8200), (-2000, -8200)], 0),
    }
    found = boundary.crossings(_project(drawing), level="province")
    assert found["pass_ids"].tolist() == ["P1@2000,P2@400"]
    assert found["span_m"].tolist() == [pytest.approx(600.0)]


def test_a_zigzag_is_cut_where_a_pass_is_farther_than_the_tolerance_from_the_first() -> None:
    # crossings every 400 m along the flow: at 2000, 2400, 2800, 3200, 3600
    xs = [-2000, 100, 100, -100, -100, 100, 100, -100, -100, 100, 100]
    ys = [-8000, -8000, -8200, -8200, -8400, -8400, -8600, -8600, -8800, -8800, -9000]
    found = boundary.crossings(_project({1: (list(zip(xs, ys, strict=True)), 0)}),
                               level="province")  # fmt: skip
    assert found["pass_ids"].tolist() == ["P1@2000,P1@2400,P1@2800", "P1@3200,P1@3600"]
    assert found["passes"].tolist() == [3, 2]
    # three passes leave the water in the east: a handover, not an out-and-back
    assert found["returns"].tolist() == [False, True]
    assert found["span_m"].tolist() == [pytest.approx(800.0), pytest.approx(400.0)]


def test_passes_between_different_units_are_not_merged() -> None:
    # from the north-west county south into the south-west county, then east into 330102
    drawing: Drawing = {1: ([(-100, 2000), (-100, -100), (2000, -100)], 0)}
    found = boundary.crossings(_project(drawing), level="county")
    assert found["pass_directions"].tolist() == ["320104->320102", "320102->330102"]
    assert found["passes"].tolist() == [1, 1]


def test_re_crossings_on_two_branches_meeting_are_one_section() -> None:
    # two tributaries enter the east 500 m above their confluence at (300, -8000); the river
    # below flows back west between them and crosses back 300 m below the confluence
    drawing: Drawing = {
        1: ([(-2000, -7800), (300, -7800), (300, -8000)], 3),
        2: ([(-2000, -8200), (300, -8200), (300, -8000)], 3),
        3: ([(300, -8000), (-2000, -8000)], 0),
    }
    found = boundary.crossings(_project(drawing), level="province")
    assert len(found) == 1
    assert found["passes"].tolist() == [3]
    assert set(found["pass_ids"].iloc[0].split(",")) == {"P1@2000", "P2@2000", "P3@300"}
    assert bool(found["returns"].iloc[0])


def test_no_crossing_gives_an_empty_table_with_the_pass_columns() -> None:
    project = _project({1: ([(-3000, -8000), (-2000, -8000)], 0)})
    found = boundary.crossings(project, level="province")
    assert found.empty
    assert {"passes", "pass_ids", "pass_directions", "span_m", "returns"} <= set(found.columns)
    assert rivernet.partner_summary(project, level="province").empty


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_a_bad_tolerance_is_an_input_error(bad: float) -> None:
    with pytest.raises(InputError, match="merge_within_m"):
        boundary.crossings(_project(BACK_300), level="province", merge_within_m=bad)


# --- the Taihu sample -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def taihu() -> rivernet.Project:
    from tests.conftest import SAMPLE

    return rivernet.open_project(SAMPLE)


def _zj_js(frame: pd.DataFrame) -> pd.DataFrame:
    pair = {"330000", "320000"}
    return frame[frame["upstream_code"].isin(pair) & frame["downstream_code"].isin(pair)]


def test_taihu_zhejiang_jiangsu_sections_before_and_after_merging(
    taihu: rivernet.Project,
) -> None:
    every = _zj_js(boundary.crossings(taihu, level="province", merge_within_m=0))
    merged = _zj_js(boundary.crossings(taihu, level="province"))
    print(f"ZJ-JS province sections: {len(every)} passes -> {len(merged)} sections "
          f"({int(merged['in_lake'].sum())} wholly on lake flow paths)")  # fmt: skip
    # every pass is in exactly one section, none is lost or counted twice
    ids = merged["pass_ids"].str.split(",").explode()
    assert sorted(ids) == sorted(every["crossing_id"]) and merged["passes"].sum() == len(every)
    assert len(merged) < len(every)
    assert (merged["span_m"] <= 1000 + 1e-6).all()
    assert (merged["returns"] == (merged["passes"] % 2 == 0)).all()
    # consecutive passes on a reach that go back within 1 km are one section, unless the
    # second lies more than 1 km below the first pass of the section
    by_id = every.set_index("crossing_id")
    section = {pass_id: row for row in merged.itertuples() for pass_id in row.pass_ids.split(",")}
    for reach, rows in every.groupby("reach_id"):
        rows = rows.sort_values("measure_m")
        for a, b in zip(rows.itertuples(), rows.iloc[1:].itertuples(), strict=False):
            back = (a.upstream_code, a.downstream_code) == (b.downstream_code, b.upstream_code)
            if not back or b.measure_m - a.measure_m > 1000:
                assert section[a.crossing_id] is not section[b.crossing_id], reach
                continue
            head = section[a.crossing_id]
            start = by_id.loc[head.crossing_id, "distance_to_outlet_km"] * 1000.0
            within = start - b.distance_to_outlet_km * 1000.0 <= 1000 + 1e-6
            assert (section[b.crossing_id] is head) == within, (reach, a.crossing_id)


def test_taihu_lake_sections_are_flagged_not_dropped(taihu: rivernet.Project) -> None:
    merged = boundary.crossings(taihu, level="province")
    dry = boundary.crossings(taihu, level="province", include_lakes=False)
    assert merged["in_lake"].any()
    assert np.array_equal(merged["in_lake"], merged["lake_passes"] == merged["passes"])
    assert dry["crossing_id"].tolist() == merged.loc[~merged["in_lake"], "crossing_id"].tolist()
    mixed = merged[(merged["lake_passes"] > 0) & ~merged["in_lake"]]
    assert set(mixed["crossing_id"]) <= set(dry["crossing_id"])
