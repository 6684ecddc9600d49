"""``rivernet new --names``: names of a named line layer attached to the reaches of a new project.

Hand-drawn files in UTM metres (EPSG:32651) and the real Taihu raw files with the sample's
fictional ``river_names`` layer.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from click.testing import CliRunner
from shapely import LineString, Polygon

import rivernet
from rivernet.build import Manifest, plan_project, read_named_lines
from rivernet.cli import main
from rivernet.errors import ProjectFileError
from rivernet.project import open_project
from tests.conftest import SAMPLE, SHARED

CRS = "EPSG:32651"
# Three reaches flowing east along y = 0, then a tributary 4 joining reach 3 from the north.
REACHES = {
    1: ([(0, 0), (1000, 0)], 2),
    2: ([(1000, 0), (2000, 0)], 3),
    3: ([(2000, 0), (3000, 0)], 0),
    4: ([(2000, 1000), (2000, 0)], 3),
}


def run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--quiet", *map(str, args)])
    return result.exit_code, result.output


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """A river file, a county polygon, and named lines as an OpenStreetMap extract exports
    them: ``name`` in pinyin, ``name:zh`` in Chinese, a road beside the river with the river's
    name (dropped: not a waterway)."""
    rivers = gpd.GeoDataFrame(
        {"reach_id": list(REACHES), "downstream_id": [d for _, d in REACHES.values()]},
        geometry=[LineString(c) for c, _ in REACHES.values()],
        crs=CRS,
    )
    square = Polygon([(-500, -1500), (3500, -1500), (3500, 1500), (-500, 1500)])
    county = gpd.GeoDataFrame(
        {"code": ["320000", "320500", "320506"], "name": ["江苏省", "苏州市", "吴中区"]},
        geometry=[square, square, square],
        crs=CRS,
    )
    osm = gpd.GeoDataFrame(
        {
            "name": ["Taipu He", "Taipu He", "Xiao He", "Taipu Road"],
            "name:zh": ["太浦河", "太浦河", "小河", "太浦河"],
            "waterway": ["river", "canal", "stream", None],
            "highway": [None, None, None, "primary"],
        },
        geometry=[
            LineString([(0, 10), (990, 12)]),  # reaches 1 and most of 2 (2 is filled)
            LineString([(2010, -8), (3000, -5)]),
            LineString([(2005, 1000), (2005, 20)]),
            LineString([(0, 30), (3000, 30)]),
        ],
        crs=CRS,
    )
    paths = {
        "rivers": tmp_path / "rivers.gpkg",
        "units": tmp_path / "county.gpkg",
        "names": tmp_path / "osm.geojson",
    }
    pyogrio.write_dataframe(rivers, paths["rivers"], driver="GPKG")
    pyogrio.write_dataframe(county, paths["units"], driver="GPKG")
    pyogrio.write_dataframe(osm, paths["names"], driver="GeoJSON")
    return paths


def test_names_attach_chinese_first_and_skip_roads(files: dict[str, Path], tmp_path: Path) -> None:
    output = tmp_path / "p.gpkg"
    code, out = run(
        "new", output, "--rivers", files["rivers"], "--units", files["units"],
        "--names", files["names"], "--lang", "en",
    )  # fmt: skip
    assert code == 0, out
    assert "names from osm.geojson: 4 of 4 reaches named (2 names, 1 along the flow)" in out
    project = open_project(output)
    names = project.network.reaches["name"].to_dict()
    assert names == {1: "太浦河", 2: "太浦河", 3: "太浦河", 4: "小河"}
    table = rivernet.rivers(project)
    assert table["name"].tolist() == ["太浦河", "小河"]
    assert table["length_km"].round(3).tolist() == [3.0, 1.0]
    meta = dict(pyogrio.read_dataframe(output, layer="project_meta").values.tolist())
    assert json.loads(meta["sources"]) == ["rivers.gpkg", "osm.geojson"]


def test_names_column_chooses_the_column(files: dict[str, Path]) -> None:
    build = plan_project(
        rivers=files["rivers"], units=[files["units"]], names=files["names"],
        names_column="name", progress=False,
    )  # fmt: skip
    assert build.reaches.set_index("reach_id")["name"].to_dict() == {
        1: "Taipu He",
        2: "Taipu He",
        3: "Taipu He",
        4: "Xiao He",
    }


def test_osm_other_tags_give_name_zh_and_waterway(tmp_path: Path) -> None:
    """GDAL's OSM driver keeps most tags in one ``other_tags`` text (hstore)."""
    lines = gpd.GeoDataFrame(
        {
            "name": ["Taipu He", "Taipu Road"],
            "other_tags": ['"name:zh"=>"太浦河","waterway"=>"river"', '"highway"=>"primary"'],
        },
        geometry=[LineString([(0, 0), (1, 0)]), LineString([(0, 1), (1, 1)])],
        crs=4326,
    )
    path = tmp_path / "lines.gpkg"
    pyogrio.write_dataframe(lines, path, driver="GPKG")
    read = read_named_lines(path)
    assert read["name:zh"].tolist() == ["太浦河"] and read["waterway"].tolist() == ["river"]


def test_bad_names_file_is_one_problem_among_all(files: dict[str, Path], tmp_path: Path) -> None:
    frame = gpd.read_file(files["names"]).drop(columns=["name", "name:zh"])
    bad = tmp_path / "unnamed.geojson"
    pyogrio.write_dataframe(frame, bad, driver="GeoJSON")
    with pytest.raises(ProjectFileError) as caught:
        plan_project(
            rivers=files["rivers"], units=[files["units"]], names=bad, names_column="河名",
            progress=False,
        )  # fmt: skip
    message = str(caught.value)
    assert "unnamed.geojson" in message and "name column '河名' not found" in message
    assert "nothing was written" in message


def test_river_name_column_of_the_river_file_is_the_reach_name(
    files: dict[str, Path], tmp_path: Path
) -> None:
    rivers = gpd.read_file(files["rivers"])
    rivers["河名"] = ["太浦河", "太浦河", None, "小河"]
    rivers["编码"] = ["TP", "TP", None, "XH"]
    path = tmp_path / "named_rivers.gpkg"
    pyogrio.write_dataframe(rivers, path, driver="GPKG")
    build = plan_project(
        rivers=path, units=[files["units"]], river_name_column="河名",
        river_code_column="编码", progress=False,
    )  # fmt: skip
    table = build.reaches.set_index("reach_id")
    assert table["name"].fillna("").tolist() == ["太浦河", "太浦河", "", "小河"]
    assert table["river_code"].fillna("").tolist() == ["TP", "TP", "", "XH"]


def test_manifest_names_keys(files: dict[str, Path], tmp_path: Path) -> None:
    manifest = tmp_path / "project.toml"
    manifest.write_text(
        'output = "m.gpkg"\nrivers = "rivers.gpkg"\nunits = "county.gpkg"\n'
        'names = "osm.geojson"\nnames_column = "name:zh"\n',
        encoding="utf-8",
    )
    loaded = Manifest.from_toml(manifest)
    assert loaded.names == tmp_path / "osm.geojson" and loaded.names_column == "name:zh"
    code, out = run("new", "--from", manifest)
    assert code == 0, out
    assert open_project(tmp_path / "m.gpkg").network.reaches["name"][4] == "小河"


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs the shared data folder")
def test_raw_taihu_rivers_named_by_the_sample_names_layer(tmp_path: Path) -> None:
    """The raw HydroRIVERS file and the sample's fictional names give the sample's names."""
    names = tmp_path / "river_names.geojson"
    pyogrio.write_dataframe(
        pyogrio.read_dataframe(SAMPLE, layer="river_names"), names, driver="GeoJSON"
    )
    counties = tmp_path / "counties.gpkg"
    units = pyogrio.read_dataframe(SAMPLE, layer="admin_units")
    pyogrio.write_dataframe(units, counties, driver="GPKG")
    rivers = SHARED / "hydrorivers_taihu" / "hydrorivers_taihu_bbox.shp"
    build = plan_project(rivers=rivers, units=[counties], names=names, progress=False)
    built = build.reaches.set_index("reach_id")["name"]
    sample = open_project(SAMPLE).network.reaches["name"]
    assert built.notna().sum() == sample.notna().sum() == 194
    assert built.reindex(sample.index).fillna("").tolist() == sample.fillna("").tolist()
