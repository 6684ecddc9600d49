"""Tests of rivernet.project (open_project) and of the sample build script."""

from __future__ import annotations

import hashlib
import importlib.util
import sqlite3
from pathlib import Path
from types import ModuleType

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from rivernet.errors import CRSError, ProjectFileError, TopologyError
from rivernet.project import Project, open_project, read_meta

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "taihu.gpkg"
BUILD_SCRIPT = ROOT / "data" / "sample" / "build_sample.py"
SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="module")
def sample() -> Project:
    return open_project(SAMPLE)


def test_sample_project_contents(sample: Project) -> None:
    assert len(sample.network) == 2082
    counts = sample.admin_units["level"].value_counts().to_dict()
    assert counts == {"province": 4, "city": 12, "county": 63}
    assert len(sample.lakes) == 7
    assert set(sample.lakes.columns) >= {"lake_id", "name", "name_zh", "geometry"}
    assert "太湖" in set(sample.lakes["name_zh"].dropna())
    assert sample.meta["id_column"] == "reach_id" and sample.meta["format_version"] == "1"
    assert sample.admin_units.crs == sample.network.crs
    assert sample.lakes.crs == sample.network.crs
    assert sample.roster is not None and sample.policy is not None
    assert set(sample.tables) == {
        "roster_assignments",
        "roster_boards",
        "roster_defects",
        "roster_people",
        "roster_units",
    }
    digest = hashlib.sha256(SAMPLE.read_bytes()).hexdigest()[:16]
    assert sample.data_version == digest
    assert "reaches=2082" in repr(sample)


def test_sample_admin_units_are_named_and_linked(sample: Project) -> None:
    units = sample.admin_units.set_index("code")
    assert units.loc["320500", "name"] == "苏州市"
    assert units.loc["320581", "name"] == "常熟市"  # a county-level city, not the 市 row
    assert units.loc["310100", "level"] == "city"
    assert units.loc["310118", "parent_code"] == "310100"
    assert units.loc["320581", "parent_code"] == "320500"
    assert units.geometry.is_valid.all()


def test_sample_admin_units_line_up_with_wgs84_rivers(sample: Project) -> None:
    # Converted from GCJ-02: Lake Taihu's main outflow region lies inside 苏州 (320500), and the
    # reach crossing the 吴中区 shore must fall inside the county polygons, not 400 m off.
    suzhou = sample.admin_units.set_index("code").loc["320500", "geometry"]
    taihu = sample.lakes.set_index("name_zh").loc["太湖", "geometry"]
    assert suzhou.intersects(taihu)


def test_sample_reaches_keep_hydrorivers_fields(sample: Project) -> None:
    reaches = sample.network.reaches
    for column in ("HYRIV_ID", "NEXT_DOWN", "LENGTH_KM", "ORD_STRA", "HYBAS_L12"):
        assert column in reaches.columns
    assert (reaches.index.to_numpy() == reaches["HYRIV_ID"].to_numpy()).all()


def load_build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_sample", BUILD_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared source data is not beside the repo")
def test_build_sample_is_byte_for_byte_reproducible(tmp_path: Path) -> None:
    build = load_build_script()
    first = build.build(SHARED, tmp_path / "a.gpkg")
    second = build.build(SHARED, tmp_path / "b.gpkg")
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() == SAMPLE.read_bytes(), "data/sample/taihu.gpkg is stale: rebuild it"
    assert first.stat().st_size < 4_500_000  # base layers ~2.9 MB + fictional roster ~1.2 MB
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gpkg", "b.gpkg"]  # no temp left
    with sqlite3.connect(first) as connection:
        stamps = {row[0] for row in connection.execute("SELECT last_change FROM gpkg_contents")}
    assert stamps == {build.FIXED_TIMESTAMP}


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared source data is not beside the repo")
def test_build_sample_counts(tmp_path: Path) -> None:
    build = load_build_script()
    output = build.build(SHARED, tmp_path / "taihu.gpkg")
    assert pyogrio.read_info(output, layer="reaches")["features"] == 2082
    assert pyogrio.read_info(output, layer="admin_units")["features"] == 4 + 12 + 63
    reaches = pyogrio.read_dataframe(output, layer="reaches", read_geometry=False)
    assert str(reaches["reach_id"].dtype) == "int64"
    assert str(reaches["downstream_id"].dtype) == "int64"
    assert (reaches["downstream_id"] == 0).sum() == 24
    assert build.main(["--source", str(SHARED), "--output", str(tmp_path / "c.gpkg")]) == 0


# --- small hand-made project files -----------------------------------------------------------


def reaches_frame(crs: object = 4326) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"reach_id": [1, 2, 3], "downstream_id": [3, 3, 0]},
        geometry=[
            shapely.LineString([(120.0, 31.2), (120.1, 31.1)]),
            shapely.LineString([(120.2, 31.2), (120.1, 31.1)]),
            shapely.LineString([(120.1, 31.1), (120.1, 31.0)]),
        ],
        crs=crs,
    )


def units_frame(crs: object = 4326) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": [320000, 320500], "name": ["江苏省", "苏州市"], "level": ["province", "city"]},
        geometry=[shapely.box(119.9, 30.9, 120.3, 31.3)] * 2,
        crs=4326,
    ).to_crs(crs)


def write_project(path: Path, **layers: pd.DataFrame) -> Path:
    for name, frame in layers.items():
        pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG")
    return path


def test_minimal_project_uses_defaults(tmp_path: Path) -> None:
    path = write_project(tmp_path / "p.gpkg", reaches=reaches_frame(), admin_units=units_frame())
    project = open_project(path)
    assert len(project.network) == 3
    assert project.admin_units["code"].tolist() == ["320000", "320500"]  # ints normalised
    assert project.admin_units["parent_code"].tolist()[1] == "320000"  # derived when absent
    assert len(project.lakes) == 0 and project.lakes.crs == project.network.crs
    assert read_meta(path)["downstream_column"] == "downstream_id"


def test_missing_file_and_non_geopackage(tmp_path: Path) -> None:
    with pytest.raises(ProjectFileError, match="does not exist"):
        open_project(tmp_path / "nope.gpkg")
    junk = tmp_path / "junk.gpkg"
    junk.write_text("not a geopackage")
    with pytest.raises(ProjectFileError, match="cannot read"):
        open_project(junk)


def test_missing_layer_is_named(tmp_path: Path) -> None:
    path = write_project(tmp_path / "p.gpkg", reaches=reaches_frame())
    with pytest.raises(ProjectFileError, match="'admin_units' layer") as info:
        open_project(path)
    assert "write_vector" in str(info.value)
    only_units = write_project(tmp_path / "q.gpkg", admin_units=units_frame())
    with pytest.raises(ProjectFileError, match="'reaches' layer"):
        open_project(only_units)


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = write_project(
        tmp_path / "p.gpkg",
        reaches=reaches_frame().drop(columns="downstream_id"),
        admin_units=units_frame(),
    )
    with pytest.raises(ProjectFileError, match="downstream_id") as info:
        open_project(path)
    assert "project_meta" in str(info.value)
    bad_units = write_project(
        tmp_path / "q.gpkg",
        reaches=reaches_frame(),
        admin_units=units_frame().drop(columns="level"),
    )
    with pytest.raises(ProjectFileError, match=r"'admin_units'.*level"):
        open_project(bad_units)


def test_meta_names_columns_and_outlets(tmp_path: Path) -> None:
    reaches = reaches_frame().rename(columns={"reach_id": "rid", "downstream_id": "down"})
    reaches["down"] = [3, 3, -1]
    meta = pd.DataFrame(
        {"key": ["id_column", "downstream_column", "outlet_values"], "value": ["rid", "down", "-1"]}
    )
    path = write_project(
        tmp_path / "p.gpkg", reaches=reaches, admin_units=units_frame(), project_meta=meta
    )
    project = open_project(path)
    assert len(project.network) == 3
    assert project.meta["outlet_values"] == "-1"


def test_future_format_version_is_refused(tmp_path: Path) -> None:
    meta = pd.DataFrame({"key": ["format_version"], "value": ["99"]})
    path = write_project(
        tmp_path / "p.gpkg", reaches=reaches_frame(), admin_units=units_frame(), project_meta=meta
    )
    with pytest.raises(ProjectFileError, match="format_version"):
        open_project(path)


def test_admin_units_follow_the_network_crs(tmp_path: Path) -> None:
    cgcs = write_project(
        tmp_path / "a.gpkg", reaches=reaches_frame(), admin_units=units_frame(4490)
    )
    project = open_project(cgcs)
    assert project.admin_units.crs == project.network.crs  # 4490 relabelled, not transformed
    original = units_frame().geometry.iloc[0]
    assert shapely.equals_exact(project.admin_units.geometry.iloc[0], original, tolerance=1e-9)
    mercator = write_project(
        tmp_path / "b.gpkg", reaches=reaches_frame(), admin_units=units_frame(3857)
    )
    project = open_project(mercator)
    assert project.admin_units.crs == project.network.crs
    assert shapely.equals_exact(project.admin_units.geometry.iloc[0], original, tolerance=1e-6)


def test_extra_tables_are_read(tmp_path: Path) -> None:
    roster = pd.DataFrame({"person": ["张三"], "reach_id": [1], "level": ["county"]})
    path = write_project(
        tmp_path / "p.gpkg", reaches=reaches_frame(), admin_units=units_frame(), roster=roster
    )
    project = open_project(path)
    assert list(project.tables) == ["roster"]
    assert project.tables["roster"]["person"].tolist() == ["张三"]


def test_layer_without_crs(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="crs"):
        path = write_project(
            tmp_path / "p.gpkg",
            reaches=reaches_frame().set_crs(None, allow_override=True),
            admin_units=units_frame(),
        )
    with pytest.raises(CRSError, match="no CRS"):
        open_project(path)


def test_topology_errors_name_the_file(tmp_path: Path) -> None:
    reaches = reaches_frame()
    reaches["reach_id"] = [1, 1, 3]
    path = write_project(tmp_path / "p.gpkg", reaches=reaches, admin_units=units_frame())
    with pytest.raises(TopologyError) as info:
        open_project(path)
    assert "layer 'reaches' of" in str(info.value) and "p.gpkg" in str(info.value)


def sample_with_units(tmp_path: Path, units: gpd.GeoDataFrame) -> Path:
    import shutil

    path = tmp_path / "project.gpkg"
    shutil.copyfile(SAMPLE, path)
    shutil.copyfile(SAMPLE.with_name("policy.toml"), tmp_path / "policy.toml")
    pyogrio.write_dataframe(units, path, layer="admin_units", driver="GPKG")
    return path


def test_gcj02_admin_units_warn_at_open(tmp_path: Path) -> None:
    from rivernet.crs import transform_geometries, wgs84_to_gcj02
    from rivernet.errors import CoordinateOffsetWarning

    units = gpd.read_file(SAMPLE, layer="admin_units")
    units.geometry = transform_geometries(units.geometry.array, wgs84_to_gcj02)
    with pytest.warns(CoordinateOffsetWarning, match=r"rivernet\.crs\.gcj02_to_wgs84") as caught:
        open_project(sample_with_units(tmp_path, units))
    message = str(caught[0].message)
    assert "admin_units" in message and "GCJ-02" in message and " m)" in message


def test_county_under_another_provinces_city_is_refused(tmp_path: Path) -> None:
    from rivernet.errors import AdminUnitsError

    units = gpd.read_file(SAMPLE, layer="admin_units")
    units.loc[units["code"] == "320583", "parent_code"] = "330400"
    with pytest.raises(AdminUnitsError, match=r"320583 \(昆山市\).*330400 \(嘉兴市\).*320500"):
        open_project(sample_with_units(tmp_path, units))


def test_missing_city_level_is_derived_from_county_codes(tmp_path: Path) -> None:
    from rivernet.coverage import coverage_summary
    from rivernet.errors import DataQualityWarning

    units = gpd.read_file(SAMPLE, layer="admin_units")
    path = sample_with_units(tmp_path, units[units["level"] != "city"])
    with pytest.warns(DataQualityWarning, match=r"none for city.*county's city is its code"):
        project = open_project(path)
    derived = project.admin_units.set_index("code")
    assert derived.loc["320500", "level"] == "city" and derived.loc["320500", "name"] == "320500"
    assert derived.loc["320500", "geometry"] is None
    full = coverage_summary(open_project(SAMPLE), as_of="2025-06-30", level="city")
    summary = coverage_summary(project, as_of="2025-06-30", level="city")
    assert len(full) > 0
    columns = [c for c in full.columns if c != "unit_name"]  # no names without the city rows
    pd.testing.assert_frame_equal(summary[columns], full[columns])


def test_policy_refs_are_checked_against_the_project(tmp_path: Path) -> None:
    from rivernet.errors import PolicyError
    from rivernet.policy import CoveragePolicy, ExemptionRule, Match

    policy = CoveragePolicy(
        exemptions=(ExemptionRule("ghost", ("county",), "x", Match(in_lakes=(99999,))),)
    )
    with pytest.raises(PolicyError, match=r"\[\[exemption\]\] #1 \(ghost\) key 'in_lakes'.*99999"):
        open_project(SAMPLE, policy=policy)


def test_empty_reaches_layer_is_refused(tmp_path: Path) -> None:
    import shutil

    path = tmp_path / "project.gpkg"
    shutil.copyfile(SAMPLE, path)
    reaches = gpd.read_file(SAMPLE, layer="reaches").iloc[:0]
    pyogrio.write_dataframe(reaches, path, layer="reaches", driver="GPKG")
    with pytest.raises(ProjectFileError, match=r"layer 'reaches' of .*project\.gpkg is empty"):
        open_project(path)


def test_check_project_reports_every_layer(tmp_path: Path) -> None:
    from rivernet.project import check_project

    report = check_project(SAMPLE)
    assert report.ok, str(report)
    units = gpd.read_file(SAMPLE, layer="admin_units")
    units.loc[units["code"] == "320505", "code"] = "32O505"
    units.loc[units["code"] == "320583", "parent_code"] = "330400"
    path = sample_with_units(tmp_path, units)
    (tmp_path / "policy.toml").write_text("board_update_days = -5\n", encoding="utf-8")
    report = check_project(path)
    codes = {(f.layer, f.code) for f in report.errors}
    assert {("admin_units", "bad_code"), ("admin_units", "parent_mismatch")} <= codes
    assert ("policy", "policy") in codes
