"""Building a project from an office's files: rivernet.build and ``rivernet new``."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from shapely.geometry import shape

from rivernet.admin import LEVEL_WORDS, level_from_word
from rivernet.build import Manifest, build_project, plan_project
from rivernet.cli import main
from rivernet.errors import CRSError, InputError, ProjectFileError
from rivernet.project import check_project, open_project
from tests.conftest import SHARED

RIVERS = SHARED / "hydrorivers_taihu" / "hydrorivers_taihu_bbox.shp"
LAKES = SHARED / "ne_lakes_taihu" / "ne_10m_lakes_taihu.geojson"
ADMIN = SHARED / "admin_taihu_gcj02"
# (folder, level word in adcode_index.csv, its column holding the unit's own name)
LEVEL_FOLDERS = (("province", "省", "province"), ("taihu_city", "市", "city"))
LEVEL_FOLDERS += (("taihu_county", "区县", "district"),)

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="needs the shared data folder")


@pytest.fixture(scope="module")
def unit_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """One GeoPackage per level, as an office would export them: Chinese headers and level
    words, the cnmaps GCJ-02 polygons (labelled WGS84), no parent column."""
    folder = tmp_path_factory.mktemp("units")
    with (ADMIN / "adcode_index.csv").open(encoding="utf-8", newline="") as handle:
        index = {(row["adcode"], row["level"]): row for row in csv.DictReader(handle)}
    files = []
    for subfolder, word, column in LEVEL_FOLDERS:
        rows = []
        for path in sorted((ADMIN / subfolder).glob("*.geojson")):
            obj = json.loads(path.read_text(encoding="utf-8"))
            code = str(obj["properties"]["adcode"])
            name = index[(code, word)][column]
            rows.append({"行政区划代码": code, "名称": name, "级别": word, "geometry": shape(obj)})
        file = folder / f"{subfolder}.gpkg"
        pyogrio.write_dataframe(gpd.GeoDataFrame(rows, crs=4326), file, driver="GPKG")
        files.append(file)
    return files


def _layers(path: Path) -> dict[str, pd.DataFrame]:
    return {
        str(name): pyogrio.read_dataframe(path, layer=str(name))
        for name, _ in pyogrio.list_layers(path)
    }


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--quiet", *map(str, args)])
    return result.exit_code, result.output


def test_build_from_the_raw_taihu_files(tmp_path: Path, unit_files: list[Path]) -> None:
    build = plan_project(rivers=RIVERS, units=unit_files, lakes=LAKES, progress=False)
    assert any("GCJ-02" in note and "converted" in note for note in build.notes)
    from rivernet.build import write_project

    output = write_project(build, tmp_path / "taihu.gpkg")
    project = open_project(output)
    assert len(project.network) == 2082
    levels = project.admin_units["level"].value_counts().to_dict()
    assert levels == {"province": 4, "city": 12, "county": 63}
    assert project.admin_units.set_index("code").loc["320500", "parent_code"] == "320000"
    assert project.admin_units.set_index("code").loc["310112", "parent_code"] == "310100"
    assert len(project.lakes) == 7 and "太湖" in set(project.lakes["name_zh"])
    report = check_project(output)
    assert not [f for f in report.findings if f.severity == "error"]
    assert not [f for f in report.findings if f.code == "coordinate_offset"]


def test_cli_and_manifest_builds_agree(tmp_path: Path, unit_files: list[Path]) -> None:
    by_flags = tmp_path / "flags.gpkg"
    units = [arg for file in unit_files for arg in ("--units", str(file))]
    code, out = run("new", by_flags, "--rivers", RIVERS, *units, "--lakes", LAKES, "--lang", "en")
    assert code == 0, out
    assert "note: admin units" in out and "GCJ-02" in out
    assert "wrote" in out and "2082 reaches" in out and "79 admin units" in out
    manifest = tmp_path / "project.toml"
    listed = ", ".join(json.dumps(str(file)) for file in unit_files)
    manifest.write_text(
        f'output = "manifest.gpkg"\nrivers = {json.dumps(str(RIVERS))}\nunits = [{listed}]\n'
        f"lakes = {json.dumps(str(LAKES))}\n",
        encoding="utf-8",
    )
    assert Manifest.from_toml(manifest).output == tmp_path / "manifest.gpkg"
    code, out = run("new", "--from", manifest)
    assert code == 0, out
    first, second = _layers(by_flags), _layers(tmp_path / "manifest.gpkg")
    assert first.keys() == second.keys() == {"reaches", "admin_units", "lakes", "project_meta"}
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name])


def test_refuses_to_overwrite_without_force(tmp_path: Path, unit_files: list[Path]) -> None:
    output = tmp_path / "p.gpkg"
    output.write_bytes(b"old")
    with pytest.raises(ProjectFileError, match=r"already exists.*--force"):
        build_project(output, rivers=RIVERS, units=unit_files, progress=False)
    assert output.read_bytes() == b"old"
    code, out = run("new", output, "--rivers", RIVERS, "--units", unit_files[0])
    assert code == 1 and "--force" in out
    build_project(output, rivers=RIVERS, units=unit_files[:1], force=True, progress=False)
    assert len(open_project(output).admin_units) == 4
    fresh = build_project(tmp_path / "new" / "p.gpkg", rivers=RIVERS, units=unit_files[:1])
    assert fresh.exists() and not (tmp_path / "new" / "p.gpkg.lock").exists()


def test_every_problem_of_every_file_in_one_error(tmp_path: Path, unit_files: list[Path]) -> None:
    bad = tmp_path / "towns.csv"
    bad.write_text(
        "code,name,level\n320506001,甲镇,镇\n32050600,乙镇,镇\n320506003,丙镇,省会\n"
        "320506004,丁镇,省\n",
        encoding="utf-8",
    )
    lakes = tmp_path / "lakes.geojson"
    frame = gpd.read_file(LAKES)
    frame["ne_index"] = 1
    frame.to_file(lakes)
    with pytest.raises(ProjectFileError) as caught:
        plan_project(rivers=RIVERS, units=[*unit_files, bad], lakes=lakes, progress=False)
    message = str(caught.value)
    assert "towns.csv, row 2" in message and "32050600" in message and "GB/T 2260" in message
    assert "towns.csv, row 3" in message and "unknown level '省会'" in message
    assert "towns.csv, row 4" in message and "disagrees with its code" in message
    assert "lakes.geojson" in message and "lake ids used more than once" in message
    assert "nothing was written" in message


def test_township_table_without_geometry_derives_parents(
    tmp_path: Path, unit_files: list[Path]
) -> None:
    towns = tmp_path / "towns.csv"
    towns.write_text("代码,名称,层级\n320506001,香山街道,街道\n", encoding="gbk")
    build = plan_project(rivers=RIVERS, units=[*unit_files, towns], progress=False)
    town = build.admin_units.set_index("code").loc["320506001"]
    assert town["name"] == "香山街道" and town["level"] == "township"
    assert town["parent_code"] == "320506"
    assert any("towns.csv" in note and "GBK" in note for note in build.notes)


def test_gbk_shapefile_without_cpg_is_read_with_a_note(
    tmp_path: Path, unit_files: list[Path]
) -> None:
    cities = gpd.read_file(unit_files[1]).rename(columns={"名称": "name", "行政区划代码": "code"})
    cities = cities.drop(columns=["级别"])
    shp = tmp_path / "cities.shp"
    pyogrio.write_dataframe(cities, shp, encoding="GBK")
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    build = plan_project(rivers=RIVERS, units=[unit_files[0], shp], progress=False)
    assert "苏州市" in set(build.admin_units["name"])
    assert any("cities.shp" in note and "GBK" in note for note in build.notes)


def test_missing_crs_names_the_file_and_the_fix(tmp_path: Path, unit_files: list[Path]) -> None:
    for suffix in (".shp", ".shx", ".dbf", ".cpg"):
        shutil.copyfile(RIVERS.with_suffix(suffix), tmp_path / f"rivers{suffix}")
    rivers = tmp_path / "rivers.shp"
    with pytest.raises(ProjectFileError, match=r"rivers\.shp.*no CRS.*crs='EPSG:4490'"):
        plan_project(rivers=rivers, units=unit_files, progress=False)
    code, out = run("new", tmp_path / "p.gpkg", "--rivers", rivers, "--units", unit_files[0])
    assert code == 1 and "--crs EPSG:4490" in out
    build = plan_project(rivers=rivers, units=unit_files, crs="EPSG:4490", progress=False)
    assert build.reaches.crs.to_epsg() == 4490
    assert any("GCJ-02" in note for note in build.notes)


def test_named_columns_that_do_not_exist_are_reported(
    tmp_path: Path, unit_files: list[Path]
) -> None:
    with pytest.raises(ProjectFileError, match=r"--unit-level-column 'grade'"):
        plan_project(rivers=RIVERS, units=unit_files, unit_level_column="grade", progress=False)


def test_manifest_with_unknown_keys_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "p.toml"
    manifest.write_text('rivers = "r.shp"\nunits = "u.gpkg"\nriver = "x"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"unknown key\(s\) river"):
        Manifest.from_toml(manifest)
    assert not issubclass(CRSError, ProjectFileError)  # CRS problems are gathered, not raised


@pytest.mark.parametrize(
    ("word", "level"),
    [
        ("省", "province"),
        ("自治区", "province"),
        ("市", "city"),
        ("地级市", "city"),
        ("县", "county"),
        ("区", "county"),
        ("区县", "county"),
        ("县级市", "county"),
        ("乡镇", "township"),
        ("街道", "township"),
        ("镇", "township"),
        ("村", "village"),
        ("社区", "village"),
        (" Province ", "province"),
        ("VILLAGE", "village"),
        ("district", "county"),
        ("省会", None),
    ],
)
def test_level_words(word: str, level: str | None) -> None:
    assert level_from_word(word) == level


def test_level_words_name_only_known_levels() -> None:
    from rivernet.admin import LEVELS

    assert set(LEVEL_WORDS.values()) == set(LEVELS)
