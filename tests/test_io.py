"""Tests of rivernet.io with real bad files written into tmp_path."""

from __future__ import annotations

import json
import os
import stat
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

import rivernet.io as rio
from rivernet.crs import transform_geometries, wgs84_to_gcj02
from rivernet.errors import CRSError, DataQualityWarning, InputError
from rivernet.io import check_gcj02_offset, read_lines, write_vector

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "taihu.gpkg"
SHARED = ROOT.parent / "shared" / "data"

NAMES = ["太湖", "京杭大运河", "望虞河"]


def lines_frame(crs: object = 4326) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": [1, 2, 3], "name": NAMES},
        geometry=[
            shapely.LineString([(120.0, 31.0), (120.1, 31.1)]),
            shapely.LineString([(120.2, 31.3), (120.3, 31.2)]),
            shapely.LineString([(120.4, 31.5), (120.5, 31.4)]),
        ],
        crs=crs,
    )


def write_shapefile(folder: Path, *, encoding: str, keep: tuple[str, ...] = ()) -> Path:
    """Write a shapefile, then delete its .prj and .cpg unless kept."""
    path = folder / "rivers.shp"
    pyogrio.write_dataframe(lines_frame(), path, encoding=encoding)
    for suffix in (".prj", ".cpg"):
        if suffix not in keep:
            path.with_suffix(suffix).unlink()
    return path


def test_gbk_shapefile_without_prj_needs_a_crs(tmp_path: Path) -> None:
    path = write_shapefile(tmp_path, encoding="GBK")
    with pytest.raises(CRSError) as info, pytest.warns(DataQualityWarning, match="GBK"):
        read_lines(path)
    message = str(info.value)
    assert "no .prj" in message and "rivers.prj" in message
    assert "EPSG:4490" in message and "EPSG:4326" in message and "degrees" in message


def test_gbk_shapefile_without_cpg_is_read_as_gbk_with_a_warning(tmp_path: Path) -> None:
    path = write_shapefile(tmp_path, encoding="GBK")
    with pytest.warns(DataQualityWarning, match="GBK"):
        gdf = read_lines(path, crs="EPSG:4490")
    assert gdf["name"].tolist() == NAMES
    assert gdf.crs.to_epsg() == 4490


def test_explicit_encoding_and_cpg_need_no_guessing(tmp_path: Path) -> None:
    path = write_shapefile(tmp_path, encoding="GBK", keep=(".prj",))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_lines(path, encoding="GBK")["name"].tolist() == NAMES
    path.with_suffix(".cpg").write_text("GBK")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_lines(path)["name"].tolist() == NAMES


def test_gbk_shapefile_with_a_wrong_cpg_is_recovered(tmp_path: Path) -> None:
    path = write_shapefile(tmp_path, encoding="GBK", keep=(".prj",))
    path.with_suffix(".cpg").write_text("ISO-8859-1")  # common in exports: declared Latin-1
    with pytest.warns(DataQualityWarning, match="mojibake"):
        gdf = read_lines(path)
    assert gdf["name"].tolist() == NAMES


def test_utf8_shapefile_without_cpg_reads_silently(tmp_path: Path) -> None:
    path = write_shapefile(tmp_path, encoding="UTF-8", keep=(".prj",))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gdf = read_lines(path)
    assert gdf["name"].tolist() == NAMES and gdf.crs.to_epsg() == 4326


def test_projected_shapefile_without_prj_suggests_a_projected_crs(tmp_path: Path) -> None:
    path = tmp_path / "utm.shp"
    pyogrio.write_dataframe(lines_frame().to_crs(4549), path, encoding="UTF-8")
    path.with_suffix(".prj").unlink()
    with pytest.raises(CRSError, match="projected metres"):
        read_lines(path)
    assert read_lines(path, crs=4549).crs.to_epsg() == 4549


def test_geojson_with_duplicate_ids_reads(tmp_path: Path) -> None:
    path = tmp_path / "dup.geojson"
    gdf = lines_frame()
    gdf["id"] = [1, 1, 2]
    pyogrio.write_dataframe(gdf, path, driver="GeoJSON")
    with pytest.warns(DataQualityWarning, match="feature id"):
        read = read_lines(path)
    assert read["id"].tolist() == [1, 1, 2]  # duplicate ids are the network's to report


def test_degrees_labelled_projected_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "mislabelled.gpkg"
    pyogrio.write_dataframe(lines_frame().set_crs(32651, allow_override=True), path)
    with pytest.raises(CRSError, match="look like longitude/latitude"):
        read_lines(path)


def test_metres_labelled_degrees_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "mislabelled.gpkg"
    pyogrio.write_dataframe(lines_frame().to_crs(32651).set_crs(4326, allow_override=True), path)
    with pytest.raises(CRSError, match="probably projected"):
        read_lines(path)


def test_crs_argument_overrides_a_different_declared_crs_with_warning(tmp_path: Path) -> None:
    path = tmp_path / "lines.gpkg"
    pyogrio.write_dataframe(lines_frame(), path)
    with pytest.warns(DataQualityWarning, match="declares"):
        assert read_lines(path, crs=4214).crs.to_epsg() == 4214
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_lines(path, crs=4490).crs.to_epsg() == 4490  # equivalent: no warning


def test_non_line_and_missing_geometries_are_refused(tmp_path: Path) -> None:
    gdf = lines_frame()
    gdf.loc[1, "geometry"] = shapely.Point(120, 31)
    path = tmp_path / "mixed.geojson"
    pyogrio.write_dataframe(gdf, path, driver="GeoJSON")
    with pytest.raises(InputError, match="rows 1 are Point"):
        read_lines(path)
    gdf.loc[1, "geometry"] = None
    path = tmp_path / "missing.gpkg"
    pyogrio.write_dataframe(gdf, path)
    with pytest.raises(InputError, match="rows 1 have no geometry"):
        read_lines(path)


def test_missing_file_and_layer(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_lines(tmp_path / "nothing.shp")
    path = tmp_path / "lines.gpkg"
    pyogrio.write_dataframe(lines_frame(), path, layer="rivers")
    assert len(read_lines(path, layer="rivers")) == 3
    with pytest.raises(InputError, match="'canals'"):
        read_lines(path, layer="canals")


@pytest.fixture(scope="module")
def sample_reaches() -> gpd.GeoDataFrame:
    return gpd.read_file(SAMPLE, layer="reaches").iloc[::5]


def test_gcj02_lines_labelled_wgs84_are_flagged(
    tmp_path: Path, sample_reaches: gpd.GeoDataFrame
) -> None:
    shifted = sample_reaches.copy()
    shifted.geometry = transform_geometries(sample_reaches.geometry.array, wgs84_to_gcj02)
    path = tmp_path / "amap.geojson"
    pyogrio.write_dataframe(shifted, path, driver="GeoJSON")
    lines = read_lines(path)  # labelled WGS84: nothing in the file tells
    with pytest.warns(DataQualityWarning, match="GCJ-02"):
        check = check_gcj02_offset(lines, sample_reaches)
    assert 350 < check.median_distance_m < 700
    assert check.median_distance_converted_m < 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not check_gcj02_offset(sample_reaches, sample_reaches).likely_gcj02


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared source data is not beside the repo")
def test_raw_amap_counties_are_flagged_against_the_sample() -> None:
    folder = SHARED / "admin_taihu_gcj02" / "taihu_county"
    raw = gpd.GeoDataFrame(
        geometry=[
            shapely.geometry.shape(json.loads(p.read_text()))
            for p in sorted(folder.glob("*.geojson"))
        ],
        crs=4326,
    )
    units = gpd.read_file(SAMPLE, layer="admin_units")
    with pytest.warns(DataQualityWarning):
        check = check_gcj02_offset(raw, units[units["level"] == "county"])
    assert check.likely_gcj02 and check.median_distance_converted_m < 30


# --- writing ---------------------------------------------------------------------------------


def test_write_geojson_and_csv(tmp_path: Path) -> None:
    gdf = lines_frame().set_index("id")
    out = write_vector(gdf, tmp_path / "out" / "lines.geojson")
    read = gpd.read_file(out)
    assert read["id"].tolist() == [1, 2, 3] and read["name"].tolist() == NAMES
    csv = write_vector(gdf, tmp_path / "lines.csv")
    assert csv.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel shows Chinese text
    table = pd.read_csv(csv, encoding="utf-8-sig")
    assert table["name"].tolist() == NAMES
    assert table["geometry"].iloc[0].startswith("LINESTRING")
    write_vector(pd.DataFrame({"a": [1]}), tmp_path / "plain.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lines.csv", "out", "plain.csv"]


def test_write_gpkg_keeps_other_layers_and_replaces_same_name(tmp_path: Path) -> None:
    path = tmp_path / "project.gpkg"
    write_vector(lines_frame(), path, layer="reaches")
    write_vector(lines_frame().iloc[:1], path, layer="other")
    write_vector(lines_frame().iloc[:2], path, layer="reaches")
    write_vector(pd.DataFrame({"key": ["a"], "value": ["b"]}), path, layer="project_meta")
    layers = dict(pyogrio.list_layers(path))
    assert set(layers) == {"reaches", "other", "project_meta"}
    assert len(gpd.read_file(path, layer="reaches")) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["project.gpkg"]


def test_write_keeps_the_mode_of_a_replaced_file(tmp_path: Path) -> None:
    path = write_vector(lines_frame(), tmp_path / "project.gpkg", layer="reaches")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not a private temp file's
    path.chmod(0o640)
    write_vector(lines_frame().iloc[:1], path, layer="other")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert set(dict(pyogrio.list_layers(path))) == {"reaches", "other"}


def test_write_is_atomic_when_writing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_vector(lines_frame(), tmp_path / "lines.geojson")
    before = path.read_bytes()

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(rio, "_write", broken)
    with pytest.raises(RuntimeError):
        write_vector(lines_frame().iloc[:1], path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["lines.geojson"]


def test_write_refuses_unknown_formats(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="GeoPackage"):
        write_vector(lines_frame(), tmp_path / "lines.shp")
    with pytest.raises(InputError, match="csv"):
        write_vector(pd.DataFrame({"a": [1]}), tmp_path / "table.geojson")


def test_gbk_dbf_whose_cpg_says_utf8_is_read_as_gbk(tmp_path: Path) -> None:
    path = tmp_path / "gbk.shp"
    pyogrio.write_dataframe(lines_frame(), path, encoding="GBK")
    path.with_suffix(".cpg").write_text("UTF-8")
    with pytest.warns(DataQualityWarning, match=r"gbk\.cpg"):
        lines = read_lines(path)
    assert lines["name"].tolist() == NAMES


def test_zero_byte_shapefile_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "zero.shp"
    pyogrio.write_dataframe(lines_frame(), path)
    path.write_bytes(b"")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    with pytest.raises(InputError, match=r"zero\.shp.*0 bytes.*re-export"):
        read_lines(path)
