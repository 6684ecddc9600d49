"""A corpus of bad river files, projects and policies, each with the outcome rivernet must give.

Every case is built by code below (no binary blobs): a defect is written into ``tmp_path`` with
pyogrio/geopandas, usually into a copy of the Taihu sample, and the case states what must
happen: a rivernet error (or warning, or ``rivernet check`` finding) whose message names the
file, layer, row or id and says how to fix it, or a correct answer. This module counts toward
issue 10's 60-case corpus ("Nothing lost, nothing silently wrong").
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner

from rivernet.cli import main
from rivernet.crs import transform_geometries, wgs84_to_gcj02
from rivernet.errors import (
    AdminUnitsError,
    CoordinateOffsetWarning,
    CRSError,
    DataQualityWarning,
    InputError,
    PolicyError,
    ProjectFileError,
    TopologyError,
)
from rivernet.io import read_lines
from rivernet.project import open_project
from rivernet.validation import validate_reaches
from tests.conftest import SAMPLE, tiny_frame

POLICY = SAMPLE.with_name("policy.toml")


@cache
def sample_layer(layer: str) -> gpd.GeoDataFrame:
    """A layer of the sample (read once; callers copy before changing it)."""
    return gpd.read_file(SAMPLE, layer=layer)


def sample_copy(tmp: Path, name: str = "project.gpkg", *, policy: bool = True) -> Path:
    """A copy of the sample project (with its policy file beside it)."""
    path = tmp / name
    shutil.copyfile(SAMPLE, path)
    if policy:
        shutil.copyfile(POLICY, tmp / "policy.toml")
    return path


def replace_layer(path: Path, layer: str, frame: pd.DataFrame) -> Path:
    pyogrio.write_dataframe(frame, path, layer=layer, driver="GPKG")
    return path


def with_units(tmp: Path, change: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame]) -> Path:
    return replace_layer(
        sample_copy(tmp), "admin_units", change(sample_layer("admin_units").copy())
    )


def with_reaches(tmp: Path, change: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame]) -> Path:
    return replace_layer(sample_copy(tmp), "reaches", change(sample_layer("reaches").copy()))


def with_policy(tmp: Path, text: str) -> Path:
    path = sample_copy(tmp)
    (tmp / "policy.toml").write_text(POLICY.read_text(encoding="utf-8") + text, encoding="utf-8")
    return path


def without_layer(tmp: Path, dropped: str) -> Path:
    path = tmp / "project.gpkg"
    for name, _ in pyogrio.list_layers(SAMPLE):
        if name != dropped and name in ("reaches", "admin_units", "lakes"):
            pyogrio.write_dataframe(sample_layer(str(name)), path, layer=name, driver="GPKG")
    return path


def lines_file(tmp: Path, name: str, frame: gpd.GeoDataFrame, **options: object) -> Path:
    path = tmp / name
    pyogrio.write_dataframe(frame, path, **options)
    return path


def named_lines() -> gpd.GeoDataFrame:
    frame = tiny_frame().to_crs(4326)
    frame["name"] = "太湖支流"
    return frame


# --- the defects -------------------------------------------------------------------------------


def shapefile_without_prj(tmp: Path) -> Path:
    path = lines_file(tmp, "lines.shp", tiny_frame())
    path.with_suffix(".prj").unlink()
    return path


def projected_labelled_wgs84(tmp: Path) -> Path:
    return lines_file(tmp, "lines.geojson", tiny_frame().set_crs(4326, allow_override=True))


def degrees_labelled_projected(tmp: Path) -> Path:
    frame = named_lines().set_crs(32651, allow_override=True)
    return lines_file(tmp, "lines.gpkg", frame, driver="GPKG")


def gbk_dbf_cpg_says_utf8(tmp: Path) -> Path:
    path = lines_file(tmp, "gbk.shp", named_lines(), encoding="GBK")
    path.with_suffix(".cpg").write_text("UTF-8")
    return path


def gbk_dbf_without_cpg(tmp: Path) -> Path:
    path = lines_file(tmp, "gbk.shp", named_lines(), encoding="GBK")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    return path


def zero_byte_shp(tmp: Path) -> Path:
    path = lines_file(tmp, "zero.shp", named_lines())
    path.write_bytes(b"")
    return path


def zero_byte_shp_without_cpg(tmp: Path) -> Path:
    path = zero_byte_shp(tmp)
    path.with_suffix(".cpg").unlink(missing_ok=True)
    return path


def points_not_lines(tmp: Path) -> Path:
    frame = named_lines()
    frame = frame.set_geometry(shapely.get_point(frame.geometry.to_numpy(), 0))
    return lines_file(tmp, "points.geojson", frame)


def rows_without_geometry(tmp: Path) -> Path:
    frame = named_lines()
    frame.loc[2, "geometry"] = None
    return lines_file(tmp, "holes.gpkg", frame, driver="GPKG")


def truncated_gpkg(tmp: Path) -> Path:
    path = tmp / "project.gpkg"
    data = SAMPLE.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def overwritten_gpkg(tmp: Path) -> Path:
    path = tmp / "project.gpkg"
    data = bytearray(SAMPLE.read_bytes())
    start = len(data) // 5
    data[start : start + 200_000] = b"\xff" * 200_000
    path.write_bytes(bytes(data))
    return path


def empty_reaches(tmp: Path) -> Path:
    return with_reaches(tmp, lambda r: r.iloc[:0])


def duplicate_reach_ids(tmp: Path) -> Path:
    def change(reaches: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        reaches.loc[1, "reach_id"] = reaches.loc[0, "reach_id"]
        return reaches

    return with_reaches(tmp, change)


def no_downstream_column(tmp: Path) -> Path:
    return with_reaches(tmp, lambda r: r.drop(columns=["downstream_id"]))


def bow_tie_county(tmp: Path) -> Path:
    def change(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        x, y = 120.3, 31.3
        bowtie = shapely.Polygon([(x, y), (x + 0.1, y + 0.1), (x + 0.1, y), (x, y + 0.1)])
        units.loc[units["code"] == "320505", "geometry"] = bowtie
        return units

    return with_units(tmp, change)


def overlapping_counties(tmp: Path) -> Path:
    def change(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        row = units.index[units["code"] == "320506"][0]
        units.loc[row, "geometry"] = units.loc[row, "geometry"].buffer(0.03)
        return units

    return with_units(tmp, change)


def bad_admin_code(tmp: Path) -> Path:
    def change(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        units.loc[units["code"] == "320505", "code"] = "32O505"
        return units

    return with_units(tmp, change)


def kunshan_in_zhejiang(tmp: Path) -> Path:
    def change(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        units.loc[units["code"] == "320583", "parent_code"] = "330400"
        return units

    return with_units(tmp, change)


def gcj02_admin_units(tmp: Path) -> Path:
    def change(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        units.geometry = transform_geometries(units.geometry.array, wgs84_to_gcj02)
        return units

    return with_units(tmp, change)


def no_city_rows(tmp: Path) -> Path:
    return with_units(tmp, lambda units: units[units["level"] != "city"])


def missing_policy_file(tmp: Path) -> Path:
    path = sample_copy(tmp, policy=False)
    meta = pd.DataFrame({"key": ["policy_file"], "value": ["rules/policy.toml"]})
    return replace_layer(path, "project_meta", meta)


def policy_unknown_lake(tmp: Path) -> Path:
    return with_policy(tmp, '\n[[exemption]]\nname = "ghost"\nin_lakes = [99999]\n')


def policy_negative_days(tmp: Path) -> Path:
    path = sample_copy(tmp)
    text = POLICY.read_text(encoding="utf-8").replace(
        "board_update_days = 30", "board_update_days = -5"
    )
    (tmp / "policy.toml").write_text(text, encoding="utf-8")
    return path


def policy_unknown_level(tmp: Path) -> Path:
    return with_policy(tmp, '\n[[rule]]\nname = "towns"\nlevels = ["town"]\nmin_strahler = 3\n')


def policy_unknown_reach(tmp: Path) -> Path:
    return with_policy(tmp, '\n[[rule]]\nname = "listed"\nlevels = ["city"]\nreach_ids = [123]\n')


def policy_strahler_upside_down(tmp: Path) -> Path:
    text = '\n[[rule]]\nname = "odd"\nlevels = ["city"]\nmin_strahler = 5\nmax_strahler = 2\n'
    return with_policy(tmp, text)


def no_lakes_layer_but_lake_rules(tmp: Path) -> Path:
    path = without_layer(tmp, "lakes")
    shutil.copyfile(POLICY, tmp / "policy.toml")
    return path


def missing_admin_units(tmp: Path) -> Path:
    return without_layer(tmp, "admin_units")


def layer_without_crs(tmp: Path) -> Path:
    units = sample_layer("admin_units").set_crs(None, allow_override=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'crs' was not provided")
        return replace_layer(sample_copy(tmp), "admin_units", units)


# --- the outcomes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One bad input and its outcome: an error class and words its message must hold."""

    name: str
    build: Callable[[Path], Path]
    action: str  # "read_lines", "open_project" or "check"
    error: type[Exception] | None
    words: tuple[str, ...]


def run_read_lines(path: Path) -> object:
    return read_lines(path)


def run_open(path: Path) -> object:
    return open_project(path)


CASES = [
    Case("missing .prj", shapefile_without_prj, "read_lines", CRSError, ("lines.shp", ".prj")),
    Case("metres labelled WGS84", projected_labelled_wgs84, "read_lines", CRSError,
         ("lines.geojson", "not longitudes", "crs=")),
    Case("degrees labelled UTM", degrees_labelled_projected, "read_lines", CRSError,
         ("lines.gpkg", "EPSG:4326")),
    Case("GBK dbf, .cpg says UTF-8", gbk_dbf_cpg_says_utf8, "read_lines", DataQualityWarning,
         ("gbk.shp", "UTF-8", "gbk.cpg")),
    Case("GBK dbf, no .cpg", gbk_dbf_without_cpg, "read_lines", DataQualityWarning,
         ("gbk.shp", "GBK")),
    Case("zero-byte .shp", zero_byte_shp, "read_lines", InputError, ("zero.shp", "0 bytes")),
    Case("zero-byte .shp, no .cpg", zero_byte_shp_without_cpg, "read_lines", InputError,
         ("zero.shp", "re-export")),
    Case("points, not lines", points_not_lines, "read_lines", InputError,
         ("points.geojson", "not lines")),
    Case("rows without geometry", rows_without_geometry, "read_lines", InputError,
         ("holes.gpkg", "rows 2", "no geometry")),
    Case("truncated gpkg", truncated_gpkg, "open_project", ProjectFileError,
         ("project.gpkg", "GeoPackage")),
    Case("overwritten gpkg pages", overwritten_gpkg, "open_project", ProjectFileError,
         ("project.gpkg", "damaged", "backup")),
    Case("empty reaches", empty_reaches, "open_project", ProjectFileError,
         ("'reaches'", "empty", "write_vector")),
    Case("duplicate reach ids", duplicate_reach_ids, "open_project", TopologyError,
         ("layer 'reaches'",)),
    Case("no downstream column", no_downstream_column, "open_project", ProjectFileError,
         ("downstream_id", "project_meta")),
    Case("missing admin_units layer", missing_admin_units, "open_project", ProjectFileError,
         ("'admin_units'", "write_vector")),
    Case("bad admin code", bad_admin_code, "open_project", ProjectFileError,
         ("admin_units", "32O505", "GB/T 2260")),
    Case("county under another province's city", kunshan_in_zhejiang, "open_project",
         AdminUnitsError, ("320583", "昆山市", "330400", "set parent_code to 320500")),
    Case("GCJ-02 admin units", gcj02_admin_units, "open_project", CoordinateOffsetWarning,
         ("admin_units", "GCJ-02", " m)", "rivernet.crs.gcj02_to_wgs84")),
    Case("no city units", no_city_rows, "open_project", DataQualityWarning,
         ("none for city", "320500", "crossings")),
    Case("missing policy file", missing_policy_file, "open_project", ProjectFileError,
         ("rules/policy.toml", "policy_file")),
    Case("policy: unknown lake", policy_unknown_lake, "open_project", PolicyError,
         ("policy.toml", "[[exemption]] #2", "in_lakes", "99999")),
    Case("policy: negative board_update_days", policy_negative_days, "open_project",
         PolicyError, ("policy.toml", "board_update_days", "-5")),
    Case("policy: unknown level", policy_unknown_level, "open_project", PolicyError,
         ("[[rule]] #3", "town", "county")),
    Case("policy: unknown reach", policy_unknown_reach, "open_project", PolicyError,
         ("[[rule]] #3", "reach_ids", "123")),
    Case("policy: min_strahler above max", policy_strahler_upside_down, "open_project",
         PolicyError, ("[[rule]] #3", "min_strahler 5", "max_strahler 2")),
    Case("no lakes layer, lake rules", no_lakes_layer_but_lake_rules, "open_project",
         PolicyError, ("[[lake]] #1", "no lakes layer")),
    Case("layer without CRS", layer_without_crs, "open_project", CRSError,
         ("admin_units", "EPSG:4326")),
    Case("check: truncated gpkg", truncated_gpkg, "check", None, ("unreadable_file",)),
    Case("check: overwritten gpkg", overwritten_gpkg, "check", None, ("unreadable_layer",)),
    Case("check: empty reaches", empty_reaches, "check", None, ("empty_layer",)),
    Case("check: missing admin_units", missing_admin_units, "check", None,
         ("unreadable_layer", "'admin_units'")),
    Case("check: bow-tie polygon", bow_tie_county, "check", None,
         ("invalid_geometry", "320505", "make_valid")),
    Case("check: overlapping counties", overlapping_counties, "check", None,
         ("overlap", "320506")),
    Case("check: bad admin code", bad_admin_code, "check", None, ("bad_code", "32O505")),
    Case("check: wrong parent", kunshan_in_zhejiang, "check", None,
         ("parent_mismatch", "outside_parent", "320583")),
    Case("check: missing policy file", missing_policy_file, "check", None,
         ("rules/policy.toml",)),
    Case("check: duplicate reach ids", duplicate_reach_ids, "check", None, ("duplicate_id",)),
    Case("check: unknown lake in policy", policy_unknown_lake, "check", None, ("99999",)),
]  # fmt: skip


def outcome(case: Case, path: Path) -> str:
    """Run the case and return the message of the error or warning it must produce."""
    if case.action == "check":
        result = CliRunner().invoke(main, ["--quiet", "check", str(path), "--json"])
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        return result.output
    run = run_read_lines if case.action == "read_lines" else run_open
    assert case.error is not None
    if issubclass(case.error, Warning):
        with pytest.warns(case.error) as caught:
            run(path)
        return " ".join(str(w.message) for w in caught if issubclass(w.category, case.error))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        with pytest.raises(case.error) as raised:
            run(path)
    return str(raised.value)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_gives_a_clear_outcome(case: Case, tmp_path: Path) -> None:
    message = outcome(case, case.build(tmp_path))
    for word in case.words:
        assert word in message, f"{case.name}: {word!r} not in {message!r}"


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25


# --- in-memory defects: validation reports them, never a foreign traceback ---------------------


def geographic_tiny() -> gpd.GeoDataFrame:
    return tiny_frame().to_crs(4326)


def with_vertex(value: float) -> gpd.GeoDataFrame:
    frame = geographic_tiny()
    coords = shapely.get_coordinates(frame.geometry.iloc[0]).copy()
    coords[-1, 0] = value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        frame.loc[0, "geometry"] = shapely.LineString(coords)
    return frame


def with_cycle() -> gpd.GeoDataFrame:
    frame = geographic_tiny()
    frame.loc[frame["rid"] == 5, "down"] = 7
    return frame


def with_duplicates() -> gpd.GeoDataFrame:
    frame = geographic_tiny()
    frame.loc[frame["rid"] == 2, "rid"] = 1
    return frame


def with_multipart() -> gpd.GeoDataFrame:
    frame = geographic_tiny()
    line = frame.geometry.iloc[1]
    frame.loc[1, "geometry"] = shapely.MultiLineString([line, shapely.affinity.translate(line, 1)])
    return frame


MEMORY_CASES = [
    ("NaN vertex", lambda: with_vertex(np.nan), "invalid_geometry", "error", 7),
    ("infinite vertex", lambda: with_vertex(np.inf), "invalid_geometry", "error", 7),
    ("cycle", with_cycle, "cycle", "error", 7),
    ("duplicate ids", with_duplicates, "duplicate_id", "error", 1),
    ("dangling downstream id", geographic_tiny, "dangling_downstream", "warning", 9),
    ("multipart line", with_multipart, "multipart_geometry", "warning", 1),
    ("empty table", lambda: geographic_tiny().iloc[:0], "empty_layer", "error", None),
]


@pytest.mark.parametrize(
    ("build", "code", "severity", "reach"),
    [case[1:] for case in MEMORY_CASES],
    ids=[case[0] for case in MEMORY_CASES],
)
def test_in_memory_defects_are_findings(
    build: Callable[[], gpd.GeoDataFrame], code: str, severity: str, reach: int | None
) -> None:
    report = validate_reaches(build(), id_column="rid", downstream_column="down")
    found = [f for f in report.findings if f.code == code]
    assert found and found[0].severity == severity, str(report)
    if reach is not None:
        assert reach in found[0].reach_ids


def test_gbk_text_with_wrong_cpg_is_read_correctly(tmp_path: Path) -> None:
    with pytest.warns(DataQualityWarning):
        lines = read_lines(gbk_dbf_cpg_says_utf8(tmp_path))
    assert set(lines["name"]) == {"太湖支流"}
