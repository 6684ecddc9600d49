"""Tests of rivernet.admin: GB/T 2260 codes, levels, parents and admin-unit validation."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st

from rivernet.admin import (
    LEVEL_LABELS_ZH,
    LEVELS,
    AdminProblem,
    admin_units_from_frame,
    is_within,
    level_of_code,
    normalise_code,
    parent_code,
    require_valid_admin_units,
    validate_admin_units,
)
from rivernet.errors import AdminUnitsError, InputError


def test_levels_and_labels() -> None:
    assert LEVELS == ("province", "city", "county", "township", "village")
    assert [LEVEL_LABELS_ZH[level] for level in LEVELS] == ["省", "市", "县", "乡", "村"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (320500, "320500"),
        (np.int64(320500), "320500"),
        (320500.0, "320500"),
        ("320500", "320500"),
        (" 320500\t", "320500"),
        ("３２０５００", "320500"),
        ("320 500", "320500"),
        ("320500.0", "320500"),
        ("320505001", "320505001"),
        (320505001001, "320505001001"),
    ],
)
def test_normalise_code_accepts_common_forms(value: object, expected: str) -> None:
    assert normalise_code(value) == expected


@pytest.mark.parametrize(
    "value", ["32050", "3205000", "32O500", "", None, True, 320500.5, float("nan"), "abc", [1]]
)
def test_normalise_code_rejects_bad_values(value: object) -> None:
    with pytest.raises(InputError, match="GB/T 2260"):
        normalise_code(value)


@pytest.mark.parametrize(
    ("code", "level", "parent"),
    [
        ("320000", "province", None),
        ("320500", "city", "320000"),
        ("320581", "county", "320500"),
        ("310000", "province", None),
        ("310100", "city", "310000"),
        ("310118", "county", "310100"),  # 上海 青浦区
        ("500230", "county", "500100"),  # 重庆's counties (5002xx) hang on the one city unit
        ("110105", "county", "110100"),
        ("419001", "county", "410000"),  # 济源: a county-level city administered by 河南 directly
        ("441900", "city", "440000"),  # 东莞: a city without counties
        ("441900003", "township", "441900"),
        ("320505001", "township", "320505"),
        ("320505001001", "village", "320505001"),
    ],
)
def test_level_and_parent_from_code(code: str, level: str, parent: str | None) -> None:
    assert level_of_code(code) == level
    assert parent_code(code) == parent


@pytest.mark.parametrize(
    ("code", "unit", "inside"),
    [
        ("320505", "320505", True),
        ("320505", "320500", True),
        ("320505", "320000", True),
        ("320505001001", "320500", True),
        ("500230", "500100", True),  # 重庆's 5002xx counties: a code prefix would miss them
        ("419001", "410000", True),
        ("419001", "419000", False),
        ("320500", "320505", False),
        ("330100", "320000", False),
        (320505, "320500", True),
    ],
)
def test_is_within_follows_the_parents(code: object, unit: str, inside: bool) -> None:
    assert is_within(code, unit) is inside


def square(x: float, y: float, size: float = 0.1) -> shapely.Polygon:
    return shapely.box(x, y, x + size, y + size)


def small_units() -> gpd.GeoDataFrame:
    """A tiny hierarchy: one province, one city, two counties side by side."""
    frame = gpd.GeoDataFrame(
        {
            "adcode": ["320000", "320500", "320505", 320506],
            "label": ["江苏省", "苏州市", "虎丘区", "吴中区"],
        },
        geometry=[square(120, 31, 0.2), square(120, 31, 0.2), square(120, 31), square(120.1, 31)],
        crs=4326,
    )
    return admin_units_from_frame(frame, code_column="adcode", name_column="label")


def test_admin_units_from_frame_derives_level_and_parent() -> None:
    units = small_units()
    assert list(units.columns[:5]) == ["code", "name", "level", "parent_code", "geometry"]
    assert units["code"].tolist() == ["320000", "320500", "320505", "320506"]
    assert units["level"].tolist() == ["province", "city", "county", "county"]
    assert pd.isna(units["parent_code"].iloc[0])  # a province has no parent
    assert units["parent_code"].tolist()[1:] == ["320000", "320500", "320500"]
    assert validate_admin_units(units) == []
    require_valid_admin_units(units)


def test_admin_units_from_frame_names_missing_column() -> None:
    frame = gpd.GeoDataFrame({"code": ["320000"]}, geometry=[square(0, 0)], crs=4326)
    with pytest.raises(AdminUnitsError, match="'name'"):
        admin_units_from_frame(frame)


def kinds(problems: list[AdminProblem]) -> list[str]:
    return sorted(problem.kind for problem in problems)


def test_validate_reports_every_problem_together() -> None:
    units = small_units()
    bowtie = shapely.Polygon([(120, 31), (120.1, 31.1), (120.1, 31), (120, 31.1)])
    units.loc[2, "geometry"] = bowtie  # invalid
    units.loc[3, "level"] = "city"  # disagrees with the code
    extra = gpd.GeoDataFrame(
        {
            "code": ["320506", "330521"],
            "name": ["copy", "德清县"],
            "level": ["county", "county"],
            "parent_code": ["320500", "330500"],
        },
        geometry=[square(120.1, 31), square(119.9, 30.5)],
        crs=4326,
    )
    units = gpd.GeoDataFrame(
        pd.concat([units, extra], ignore_index=True), geometry="geometry", crs=4326
    )
    problems = validate_admin_units(units)
    found = kinds(problems)
    assert "invalid_geometry" in found
    assert "duplicate_code" in found
    assert "level_mismatch" in found
    assert "missing_parent" in found
    invalid = next(p for p in problems if p.kind == "invalid_geometry")
    assert "make_valid" in invalid.message and invalid.codes == ("320505",)
    missing = next(p for p in problems if p.kind == "missing_parent")
    assert "330500" in missing.message
    with pytest.raises(AdminUnitsError, match="problem"):
        require_valid_admin_units(units)


def test_validate_flags_overlaps_above_tolerance_only() -> None:
    units = small_units()
    units.loc[3, "geometry"] = square(120.09, 31)  # overlaps 虎丘区 by ~0.01 x 0.1 degrees
    problems = validate_admin_units(units)
    assert kinds(problems) == ["overlap"]
    assert problems[0].codes == ("320505", "320506")
    assert "km²" in problems[0].message
    assert validate_admin_units(units, overlap_tolerance_m2=2e7) == []


def test_validate_bad_codes_and_wrong_parent_column() -> None:
    units = small_units()
    units.loc[1, "parent_code"] = "330000"
    units.loc[2, "code"] = "32O505"
    found = kinds(validate_admin_units(units))
    assert "bad_code" in found and "parent_mismatch" in found


def test_validate_missing_columns_and_geometryless_units() -> None:
    bare = gpd.GeoDataFrame({"code": ["320000"]}, geometry=[None], crs=4326)
    assert kinds(validate_admin_units(bare)) == ["missing_column"]
    township = gpd.GeoDataFrame(
        {
            "code": ["320505", "320505001"],
            "name": ["虎丘区", "某街道"],
            "level": ["county", "township"],
            "parent_code": ["320500", "320505"],
        },
        geometry=[square(120, 31), None],
        crs=4326,
    )
    assert kinds(validate_admin_units(township)) == ["missing_parent"]  # 320500 is absent


def test_extra_checks_hook_runs() -> None:
    def no_gaps(gdf: gpd.GeoDataFrame) -> list[AdminProblem]:
        return [AdminProblem("gap", "a gap", ("320000",))]

    problems = validate_admin_units(small_units(), extra_checks=[no_gaps])
    assert kinds(problems) == ["gap"]


def test_validate_non_polygon_geometry() -> None:
    units = small_units()
    units.loc[3, "geometry"] = shapely.Point(120.15, 31.05)
    problems = validate_admin_units(units)
    assert kinds(problems) == ["invalid_geometry"]
    assert "Point" in problems[0].message


@given(st.integers(min_value=110000, max_value=829999))
def test_normalise_code_round_trips_every_six_digit_form(number: int) -> None:
    text = str(number)
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in text)
    forms = (number, float(number), text, f" {text} ", full_width, f"{text}.0")
    assert {normalise_code(form) for form in forms} == {text}
    parent = parent_code(text)
    assert parent is None or LEVELS.index(level_of_code(parent)) < LEVELS.index(level_of_code(text))


def test_sample_admin_units_are_valid() -> None:
    sample = Path(__file__).resolve().parents[1] / "data" / "sample" / "taihu.gpkg"
    units = gpd.read_file(sample, layer="admin_units")
    assert validate_admin_units(units) == []


def test_wrong_parent_names_unit_parent_and_fix() -> None:
    from rivernet.admin import hierarchy_problems

    units = small_units()
    units.loc[3, "parent_code"] = "330400"
    problems = hierarchy_problems(units)
    assert kinds(problems) == ["parent_mismatch"]
    mismatch = next(p for p in problems if p.kind == "parent_mismatch")
    assert "320506 (吴中区)" in mismatch.message and "330400" in mismatch.message
    assert "under 320500 (苏州市); set parent_code to 320500" in mismatch.message


def test_child_outside_its_parent_is_a_warning() -> None:
    from rivernet.admin import containment_problems

    units = small_units()
    assert containment_problems(units) == []
    units.loc[3, "geometry"] = square(120.15, 31)  # half of 吴中区 outside 苏州市 (120..120.2)
    problems = containment_problems(units)
    assert [p.kind for p in problems] == ["outside_parent"]
    assert problems[0].severity == "warning" and problems[0].codes == ("320506", "320500")
    assert "320506" in problems[0].message and "parent 320500" in problems[0].message
    assert "outside_parent" in kinds(validate_admin_units(units))
    require_valid_admin_units(units)  # warnings do not raise


def test_missing_ancestors_and_polygon_levels() -> None:
    from rivernet.admin import missing_ancestors, polygon_levels

    units = small_units()
    counties = units[units["level"] == "county"]
    assert missing_ancestors(counties) == ["320000", "320500"]
    assert missing_ancestors(units) == []
    assert polygon_levels(counties) == ("county",)
    undrawn = units.copy()
    undrawn.loc[1, "geometry"] = None
    assert polygon_levels(undrawn) == ("province", "county")
