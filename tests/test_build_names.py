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


def test_an_osm_file_is_read_from_its_lines(files: dict[str, Path], tmp_path: Path) -> None:
    """A raw OpenStreetMap file (.osm XML; .osm.pbf reads alike): the lines layer, name:zh from
    other_tags, waterways only (a road along the river with its name is not attached)."""
    from pyproj import Transformer

    to_degrees = Transformer.from_crs(CRS, 4326, always_xy=True)
    river = [to_degrees.transform(x, 10) for x in (0, 1500, 3000)]
    road = [to_degrees.transform(x, 900) for x in (0, 3000)]
    nodes = "".join(
        f'<node id="{i + 1}" lat="{lat:.7f}" lon="{lon:.7f}" version="1"/>'
        for i, (lon, lat) in enumerate(river + road)
    )
    osm = tmp_path / "extract.osm"
    osm.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?><osm version="0.6">{nodes}'
        '<way id="10" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/>'
        '<tag k="waterway" v="river"/><tag k="name" v="Taipu He"/>'
        '<tag k="name:zh" v="太浦河"/></way>'
        '<way id="11" version="1"><nd ref="4"/><nd ref="5"/><tag k="highway" v="primary"/>'
        '<tag k="name" v="Xiao He"/><tag k="name:zh" v="小河"/></way></osm>',
        encoding="utf-8",
    )
    assert read_named_lines(osm)["name:zh"].tolist() == ["太浦河"]
    build = plan_project(rivers=files["rivers"], units=[files["units"]], names=osm, progress=False)
    names = build.reaches.set_index("reach_id")["name"]
    assert names[[1, 2, 3]].tolist() == ["太浦河"] * 3 and names.isna()[4]


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


def test_named_roster_rows_are_checked_with_the_build(
    files: dict[str, Path], tmp_path: Path
) -> None:
    roster = tmp_path / "公示.csv"
    roster.write_text(
        "河流名称,行政区,层级,姓名,职务,起点,终点\n"
        "太浦河,吴中区,县,张三,区长,源头,小河交汇处\n"
        "黑河,吴中区,县,李四,副区长,,\n",
        encoding="utf-8",
    )
    with pytest.raises(ProjectFileError) as caught:
        plan_project(
            rivers=files["rivers"], units=[files["units"]], names=files["names"],
            roster=roster, progress=False,
        )  # fmt: skip
    message = str(caught.value)
    assert "公示.csv" in message and "row 3: no river '黑河' in 吴中区" in message
    assert "太浦河" in message  # the rivers there are listed
    roster.write_text(
        "河流名称,行政区,层级,姓名,职务,起点,终点\n太浦河,吴中区,县,张三,区长,源头,小河交汇处\n",
        encoding="utf-8",
    )
    build = plan_project(
        rivers=files["rivers"], units=[files["units"]], names=files["names"], roster=roster,
        progress=False,
    )  # fmt: skip
    assert build.roster is not None
    frame = build.roster.assignments
    assert sorted(zip(frame["reach_id"], frame["from_m"], frame["to_m"], strict=True)) == [
        (1, 0.0, 1000.0), (2, 0.0, 1000.0)
    ]  # fmt: skip


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
def test_raw_taihu_files_to_named_rivers_and_roster(tmp_path: Path) -> None:
    """End to end: the raw HydroRIVERS file, the raw GCJ-02 admin polygons (one GeoPackage per
    level, Chinese headers, as an office exports them), the raw lakes and the sample's fictional
    names layer give a project with the sample's names, onto which the sample's 公示-list roster
    resolves row by row."""
    import csv

    from shapely.geometry import shape

    from rivernet.named_roster import read_named_roster

    admin = SHARED / "admin_taihu_gcj02"
    with (admin / "adcode_index.csv").open(encoding="utf-8", newline="") as handle:
        index = {(row["adcode"], row["level"]): row for row in csv.DictReader(handle)}
    units = []
    for folder, word, column in (("province", "省", "province"), ("taihu_city", "市", "city"),
                                 ("taihu_county", "区县", "district")):  # fmt: skip
        rows = []
        for path in sorted((admin / folder).glob("*.geojson")):
            obj = json.loads(path.read_text(encoding="utf-8"))
            code = str(obj["properties"]["adcode"])
            rows.append({"行政区划代码": code, "名称": index[(code, word)][column], "级别": word,
                         "geometry": shape(obj)})  # fmt: skip
        units.append(tmp_path / f"{folder}.gpkg")
        pyogrio.write_dataframe(gpd.GeoDataFrame(rows, crs=4326), units[-1], driver="GPKG")
    names = tmp_path / "river_names.geojson"
    pyogrio.write_dataframe(
        pyogrio.read_dataframe(SAMPLE, layer="river_names"), names, driver="GeoJSON"
    )
    output = tmp_path / "office.gpkg"
    args = [arg for unit in units for arg in ("--units", unit)]
    code, out = run(
        "new", output, "--rivers", SHARED / "hydrorivers_taihu" / "hydrorivers_taihu_bbox.shp",
        *args, "--lakes", SHARED / "ne_lakes_taihu" / "ne_10m_lakes_taihu.geojson",
        "--names", names, "--roster", SAMPLE.with_name("roster_named.xlsx"), "--lang", "en",
    )  # fmt: skip
    assert code == 0, out
    assert "GCJ-02" in out and "194 of 2082 reaches named (8 names, 1 along the flow)" in out
    assert "roster assignments" in out
    project = open_project(output)
    assert len(project.network) == 2082 and len(project.admin_units) == 79
    sample = open_project(SAMPLE)
    built = project.network.reaches["name"]
    assert built.fillna("").tolist() == sample.network.reaches["name"].fillna("").tolist()
    table = rivernet.rivers(project)
    expected = rivernet.rivers(sample)
    assert table["name"].tolist() == expected["name"].tolist()
    assert table["county_names"].tolist() == expected["county_names"].tolist()
    roster = read_named_roster(project, SAMPLE.with_name("roster_named.xlsx"))
    assert set(roster.assignments["line"]) == set(range(2, 42))  # all 40 rows resolved
    stored = project.roster  # resolved by rivernet new --roster, stored in the project
    assert stored is not None and len(stored.assignments) == len(roster.assignments)
    assert stored.people["is_fictional"].all()
    assert table.set_index("name").at["示例六河", "chiefs_county"]  # chiefs by river
    km = (roster.assignments["to_m"] - roster.assignments["from_m"]).sum() / 1000.0
    assert km == pytest.approx(2 * table["length_km"].sum(), rel=0.01)  # city + county rows
