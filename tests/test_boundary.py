"""Tests of rivernet.boundary: pieces, crossings and boundary rivers.

Hand-drawn cases (see tests/boundary_cases.py for the drawing and the hand-computed answers)
and the real Taihu sample.
"""

from __future__ import annotations

import warnings
from itertools import pairwise
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from shapely import box

import rivernet
from rivernet import boundary
from rivernet.admin import LEVELS
from rivernet.errors import (
    AdminUnitsError,
    CRSError,
    DataQualityWarning,
    InputError,
    PolicyError,
)
from rivernet.pieces import piece_table
from rivernet.policy import policy_from_dict, requirements
from tests.boundary_cases import bowtie, make_project, unit_table
from tests.conftest import SAMPLE


@pytest.fixture
def project() -> rivernet.Project:
    return make_project()


def _pieces_of(pieces: gpd.GeoDataFrame, reach: int) -> list[tuple[float, float, str, str]]:
    rows = pieces[pieces["reach_id"] == reach]
    return [
        (round(r.from_m, 6), round(r.to_m, 6), r.province_code, r.county_code)
        for r in rows.itertuples()
    ]


def _crossings_of(found: gpd.GeoDataFrame, reach: int) -> list[tuple[float, str, str]]:
    rows = found[found["reach_id"] == reach]
    return [(round(r.measure_m, 6), r.upstream_code, r.downstream_code) for r in rows.itertuples()]


# --- pieces -----------------------------------------------------------------------------------


def test_pieces_of_a_river_crossing_twice(project: rivernet.Project) -> None:
    pieces = boundary.responsibility_pieces(project)
    assert _pieces_of(pieces, 10) == [
        (0.0, 3000.0, "320000", "320102"),
        (3000.0, 11000.0, "330000", "330102"),
        (11000.0, 14000.0, "320000", "320102"),
    ]


def test_pieces_of_a_river_forming_the_border_then_crossing(project: rivernet.Project) -> None:
    pieces = boundary.responsibility_pieces(project)
    assert _pieces_of(pieces, 20) == [
        (0.0, 2000.0, "320000", "320104"),
        (2000.0, 4000.0, "320000", "320104"),
        (4000.0, 6000.0, "330000", "330102"),
    ]
    assert pieces[pieces["reach_id"] == 20]["on_boundary"].tolist() == [False, True, False]


def test_pieces_through_an_island_of_a_multipolygon_unit(project: rivernet.Project) -> None:
    pieces = boundary.responsibility_pieces(project)
    assert _pieces_of(pieces, 51) == [
        (0.0, 1000.0, "320000", "320104"),
        (1000.0, 3000.0, "330000", "330102"),
        (3000.0, 4000.0, "320000", "320104"),
    ]


def test_a_reach_ending_on_the_border_is_not_cut(project: rivernet.Project) -> None:
    pieces = boundary.responsibility_pieces(project)
    assert _pieces_of(pieces, 41) == [(0.0, 3000.0, "320000", "320102")]
    assert _pieces_of(pieces, 42) == [(0.0, 3000.0, "330000", "330102")]


def test_piece_lengths_add_up_and_codes_follow_the_hierarchy(project: rivernet.Project) -> None:
    pieces = boundary.responsibility_pieces(project)
    total = pieces.groupby("reach_id")["length_m"].sum()
    expected = project.network.reaches["length_m"].loc[total.index]
    np.testing.assert_allclose(total.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-9)
    assert (pieces["city_code"].str[:2] == pieces["province_code"].str[:2]).all()
    assert (pieces["county_code"].str[:4] + "00" == pieces["city_code"]).all()
    lengths = shapely.length(pieces.geometry.to_numpy())
    np.testing.assert_allclose(lengths, pieces["length_m"].to_numpy(), atol=1e-6)


def test_piece_geometry_matches_the_measures(project: rivernet.Project) -> None:
    pieces = boundary.responsibility_pieces(project)
    piece = pieces[(pieces["reach_id"] == 10) & (pieces["from_m"] == 3000)].geometry.iloc[0]
    assert piece.equals(shapely.LineString([(0, -2000), (3000, -2000), (3000, -4000), (0, -4000)]))


def test_pieces_are_exported_at_top_level(project: rivernet.Project) -> None:
    assert rivernet.responsibility_pieces is boundary.responsibility_pieces
    assert rivernet.crossings is boundary.crossings
    assert rivernet.boundary_rivers is boundary.boundary_rivers


# --- lake shores ------------------------------------------------------------------------------


def _lake(polygon: shapely.Polygon, lake_id: int = 7) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"lake_id": [lake_id], "name": ["Square Lake"], "name_zh": ["方湖"]},
        geometry=[polygon],
        crs="EPSG:32651",
    )


def _lake_pieces(pieces: gpd.GeoDataFrame, reach: int) -> list[tuple[float, float, str, Any]]:
    rows = pieces[pieces["reach_id"] == reach]
    return [
        (round(r.from_m, 6), round(r.to_m, 6), r.county_code, r.lake_id) for r in rows.itertuples()
    ]


def test_a_lake_shore_cuts_a_reach_and_only_the_part_inside_is_lake() -> None:
    # A straight reach in 320102 crosses a square lake 2 km wide: x = -9000 .. -1000 at
    # y = -5000, lake x = -6000 .. -4000, so the lake holds measures 3000 .. 5000 (its midpoint,
    # x = -5000, is inside; its two ends are not).
    reaches = gpd.GeoDataFrame(
        {"reach_id": [1], "downstream_id": [0]},
        geometry=[shapely.LineString([(-9000, -5000), (-1000, -5000)])],
        crs="EPSG:32651",
    )
    project = make_project(reaches=reaches, lakes=_lake(box(-6000, -5500, -4000, -4500)))
    pieces = boundary.responsibility_pieces(project)
    assert _lake_pieces(pieces, 1) == [
        (0.0, 3000.0, "320102", None),
        (3000.0, 5000.0, "320102", 7),
        (5000.0, 8000.0, "320102", None),
    ]
    assert pieces["length_m"].sum() == pytest.approx(8000.0, abs=1e-9)
    # The coverage policy exempts exactly the piece inside the lake (the audit's pieces).
    table = piece_table(project)
    assert table["lake_id"].tolist() == [None, 7, None]
    policy = policy_from_dict(
        {"default_levels": ["county"], "exemption": [{"name": "lake", "in_lakes": [7]}]}
    )
    required, exempt = requirements(policy, project.network, table, project.lakes)
    county = LEVELS.index("county")
    assert required[:, county].tolist() == [True, False, True]
    assert exempt[:, county].tolist() == [False, True, False]


def test_a_lake_across_a_border_is_cut_at_both_shores_and_the_border() -> None:
    # Reach 10 runs east along y = -2000 and crosses the province border at x = 0 (measure 3000);
    # a lake x = -500 .. 500 straddles the border: shores at measures 2500 and 3500.
    project = make_project(lakes=_lake(box(-500, -2500, 500, -1500)))
    pieces = boundary.responsibility_pieces(project)
    assert _lake_pieces(pieces, 10) == [
        (0.0, 2500.0, "320102", None),
        (2500.0, 3000.0, "320102", 7),
        (3000.0, 3500.0, "330102", 7),
        (3500.0, 11000.0, "330102", None),
        (11000.0, 14000.0, "320102", None),
    ]
    found = boundary.crossings(project, level="province")
    assert found.loc[found["reach_id"] == 10, "in_lake"].tolist() == [True, False]
    # A shore is no crossing: the province crossings are those of the project without the lake.
    assert len(found) == len(boundary.crossings(make_project(), level="province"))


# --- crossings --------------------------------------------------------------------------------


def test_crossings_hand_computed(project: rivernet.Project) -> None:
    found = boundary.crossings(project, level="province")
    assert _crossings_of(found, 10) == [(3000.0, "320000", "330000"), (11000.0, "330000", "320000")]
    assert _crossings_of(found, 20) == [(4000.0, "320000", "330000")]
    assert _crossings_of(found, 31) == [(2000.0, "320000", "330000")]
    assert _crossings_of(found, 32) == []
    assert _crossings_of(found, 41) == [(3000.0, "320000", "330000")]
    assert _crossings_of(found, 51) == [(1000.0, "320000", "330000"), (3000.0, "330000", "320000")]
    assert len(found) == 7
    assert (found["responsible_code"] == found["upstream_code"]).all()
    assert found["upstream_chiefs"].isna().all()  # no roster loaded


def test_crossings_at_junctions_are_marked(project: rivernet.Project) -> None:
    found = boundary.crossings(project, level="province").set_index("reach_id")
    assert bool(found.loc[41, "at_junction"]) and bool(found.loc[31, "at_junction"])
    assert found.loc[41, "confluence"] == "main_stem"
    point = found.loc[31, "geometry"]
    assert (point.x, point.y) == (0.0, 3000.0)


def test_crossings_at_county_level_include_the_county_border(project: rivernet.Project) -> None:
    found = boundary.crossings(project, level="county")
    assert _crossings_of(found, 51) == [(1000.0, "320104", "330102"), (3000.0, "330102", "320104")]
    # 25 comes from the north county, runs along the border (given to the lower code, 320102)
    # and leaves into the south county: one crossing, where it reaches the border
    assert _crossings_of(found, 25) == [(1000.0, "320104", "320102")]


def test_crossing_upstream_length(project: rivernet.Project) -> None:
    found = boundary.crossings(project, level="province").set_index("crossing_id")
    row = found[found["reach_id"] == 10].iloc[1]
    assert row["upstream_length_km"] == pytest.approx(11.0)


# --- boundary rivers --------------------------------------------------------------------------


def test_boundary_river_left_and_right_bank(project: rivernet.Project) -> None:
    rivers = boundary.boundary_rivers(project, level="province", tolerance_m=100)
    assert len(rivers) == 1
    river = rivers.iloc[0]
    assert river["reach_id"] == 20
    assert (river["from_m"], river["to_m"]) == pytest.approx((2000.0, 4000.0))
    assert (river["left_code"], river["right_code"]) == ("330000", "320000")
    assert river["rule"] == "split_by_bank" and not river["ambiguous"]


def test_boundary_rule_escalate(project: rivernet.Project) -> None:
    county = boundary.boundary_rivers(project, level="county", tolerance_m=100, rule="escalate")
    by_reach = county.set_index("reach_id")
    assert by_reach.loc[25, "left_code"] == "320102"
    assert by_reach.loc[25, "right_code"] == "320104"
    assert by_reach.loc[25, "responsible_codes"] == "320100"
    assert (by_reach.loc[25, "from_m"], by_reach.loc[25, "to_m"]) == pytest.approx((1000, 3000))
    assert not by_reach.loc[25, "ambiguous"]
    assert by_reach.loc[20, "ambiguous"]  # two provinces: nobody common in the table
    assert "nobody" in by_reach.loc[20, "ambiguity"]


def test_boundary_rule_split_by_length_and_configuration() -> None:
    project = make_project(meta={"boundary_rule.province": "split_by_length"})
    river = boundary.boundary_rivers(project, level="province", tolerance_m=100).iloc[0]
    assert river["rule"] == "split_by_length"
    assert river["responsible_codes"] == "320000,330000"  # channel in 320000 takes the upper half
    assert river["responsible"] == "320000: 2000-3000 m; 330000: 3000-4000 m"


def test_unknown_rule_is_a_policy_error(project: rivernet.Project) -> None:
    with pytest.raises(PolicyError, match="split_by_bank"):
        boundary.boundary_rivers(project, level="province", rule="toss_a_coin")


# --- bad input --------------------------------------------------------------------------------


def test_crs_different_from_the_network() -> None:
    units = unit_table().set_crs("EPSG:32650", allow_override=True)
    with pytest.raises(CRSError, match="to_crs"):
        boundary.responsibility_pieces(make_project(units))


def test_invalid_polygons_are_named() -> None:
    units = unit_table()
    units.loc[units["code"] == "320102", "geometry"] = bowtie()
    with pytest.raises(AdminUnitsError, match=r"(?s)320102.*make_valid"):
        boundary.responsibility_pieces(make_project(units))


def test_overlapping_units_where_rivers_flow() -> None:
    units = unit_table()
    wide = box(-10000, -10000, 0, 1500)
    units.loc[units["code"] == "320102", "geometry"] = wide
    with pytest.raises(AdminUnitsError, match="320102 and 320104"):
        boundary.responsibility_pieces(make_project(units))


def test_gap_between_counties_warns_and_leaves_no_code() -> None:
    units = unit_table()
    units.loc[units["code"] == "320102", "geometry"] = box(-10000, -10000, -2000, 0)
    project = make_project(units)
    with pytest.warns(DataQualityWarning, match="gap"):
        pieces = boundary.responsibility_pieces(project)
    gap = pieces[pieces["reach_id"] == 10].iloc[1]  # x from -2000 to 0: in no county
    assert (gap["from_m"], gap["to_m"]) == (1000.0, 3000.0)
    assert gap["province_code"] == "320000" and pd.isna(gap["county_code"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        county = boundary.crossings(project, level="county")
    assert (county["upstream_code"].notna() & county["downstream_code"].notna()).all()


def test_gap_check_plugs_into_admin_validation() -> None:
    from rivernet.admin import validate_admin_units

    units = unit_table()
    assert boundary.gap_problems(units) == []
    units.loc[units["code"] == "320102", "geometry"] = box(-10000, -10000, -2000, 0)
    problems = validate_admin_units(units, extra_checks=[boundary.gap_problems])
    gaps = [p for p in problems if p.kind == "gap"]
    assert [p.codes for p in gaps] == [("320100",)]
    assert "20.000 km²" in gaps[0].message


def test_missing_level() -> None:
    project = make_project(unit_table(drop_levels=("city",)))
    pieces = boundary.responsibility_pieces(project)
    assert pieces["city_code"].isna().all()
    assert pieces["county_code"].notna().all()
    with pytest.raises(AdminUnitsError, match="no city-level polygons"):
        boundary.crossings(project, level="city")
    with pytest.raises(InputError, match="townships"):
        boundary.crossings(project, level="township")


# --- the Taihu sample -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def taihu() -> rivernet.Project:
    return rivernet.open_project(SAMPLE)


def _vertex_flows(project: rivernet.Project) -> set[tuple[str, str]]:
    """Province pairs implied by HydroRIVERS alone: consecutive vertices in flow order."""
    reaches = project.network.reaches
    provinces = project.admin_units[project.admin_units["level"] == "province"]
    xy, owner = shapely.get_coordinates(reaches.geometry.to_numpy(), return_index=True)
    points = gpd.GeoDataFrame(
        {"owner": owner}, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=reaches.crs
    )
    joined = gpd.sjoin(points, provinces[["code", "geometry"]], predicate="within")
    code = joined.groupby(level=0)["code"].first().reindex(points.index)
    flows: set[tuple[str, str]] = set()
    ordered = pd.DataFrame({"owner": owner, "code": code.to_numpy()})
    codes = ordered["code"].to_numpy()
    for a, b, same in zip(codes[:-1], codes[1:], owner[1:] == owner[:-1], strict=True):
        if same and isinstance(a, str) and isinstance(b, str) and a != b:
            flows.add((a, b))
    # the last vertex of a reach is the first of the reach below: no extra links needed
    return flows


def test_taihu_province_crossings_include_the_flows_hydrorivers_implies(
    taihu: rivernet.Project,
) -> None:
    found = boundary.crossings(taihu, level="province")
    ours = set(zip(found["upstream_code"], found["downstream_code"], strict=True))
    implied = _vertex_flows(taihu)
    for pair in [("330000", "320000"), ("320000", "310000"), ("340000", "320000"),
                 ("340000", "330000")]:  # fmt: skip
        assert pair in implied, pair
        assert pair in ours, pair
    assert implied <= ours


def test_taihu_pieces_add_up(taihu: rivernet.Project) -> None:
    pieces = boundary.responsibility_pieces(taihu)
    total = pieces.groupby("reach_id")["length_m"].sum()
    expected = taihu.network.reaches["length_m"].loc[total.index]
    np.testing.assert_allclose(total.to_numpy(), expected.to_numpy(), rtol=1e-12)
    assert pieces["county_code"].notna().all()


def test_taihu_lake_crossings_are_flagged(taihu: rivernet.Project) -> None:
    found = boundary.crossings(taihu, level="province")
    in_lake = found[found["in_lake"]]
    assert len(in_lake) > 0 and set(in_lake["lake_id"]) == {504}
    dry = boundary.crossings(taihu, level="province", include_lakes=False)
    assert len(dry) == len(found) - len(in_lake) and not dry["in_lake"].any()
    rivers = boundary.boundary_rivers(taihu, level="province")
    lakes = shapely.union_all(taihu.lakes.geometry.to_numpy())
    middles = shapely.line_interpolate_point(rivers.geometry.to_numpy(), 0.5, normalized=True)
    assert len(rivers) > 0 and not shapely.within(middles, lakes).any()


# --- golden files -----------------------------------------------------------------------------

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize(
    ("name", "compute"),
    [
        ("boundary_pieces", lambda p: boundary.responsibility_pieces(p)),
        ("boundary_crossings", lambda p: boundary.crossings(p, level="province")),
    ],
)
def test_hand_drawn_results_match_the_golden_files(
    project: rivernet.Project, name: str, compute: Any
) -> None:
    expected = gpd.read_file(GOLDEN / f"{name}.geojson")
    result = compute(project)
    assert len(result) == len(expected)
    for column in expected.columns.drop("geometry"):
        got, want = result[column].to_numpy(), expected[column].to_numpy()
        if want.dtype.kind == "f":
            np.testing.assert_allclose(got.astype(float), want, atol=1e-6)
        else:
            assert [str(v) for v in got] == [str(v) for v in want], column
    same = shapely.equals_exact(result.geometry.to_numpy(), expected.geometry.to_numpy(), 1e-6)
    assert same.all()


# --- properties -------------------------------------------------------------------------------

_coordinate = st.floats(min_value=-9500, max_value=9500, allow_nan=False).map(
    lambda v: round(v / 250.0) * 250.0  # a coarse lattice: vertices often fall on boundaries
)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(_coordinate, _coordinate), min_size=2, max_size=8, unique=True))
def test_pieces_partition_any_line_and_crossings_follow_code_changes(
    coords: list[tuple[float, float]],
) -> None:
    line = shapely.LineString(coords)
    assume(line.is_valid and line.length > 0)
    reaches = gpd.GeoDataFrame(
        {"reach_id": [1], "downstream_id": [0]}, geometry=[line], crs="EPSG:32651"
    )
    project = make_project(reaches=reaches)
    pieces = boundary.responsibility_pieces(project)
    assert pieces["from_m"].iloc[0] == 0.0
    assert pieces["to_m"].iloc[-1] == pytest.approx(line.length, abs=1e-9)
    np.testing.assert_allclose(pieces["from_m"].to_numpy()[1:], pieces["to_m"].to_numpy()[:-1])
    assert pieces["length_m"].sum() == pytest.approx(line.length, rel=1e-12)
    for level in ("province", "county"):
        codes = pieces[f"{level}_code"].tolist()
        changes = sum(a != b for a, b in pairwise(codes))
        assert len(boundary.crossings(project, level=level, merge_within_m=0)) == changes
        merged = boundary.crossings(project, level=level)
        assert merged["passes"].sum() == changes and (merged["span_m"] <= 1000 + 1e-6).all()
