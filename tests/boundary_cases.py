"""Hand-drawn cross-boundary cases shared by the boundary, partners and CLI tests.

Everything is in UTM metres (EPSG:32651). Two provinces meet along x = 0:

- 320000 (west, x < 0) with one city 320100 and two counties: 320102 (south, y < 0) and
  320104 (north, y > 0);
- 330000 (east, x > 0) with one city 330100 and one county 330102; 330000, 330100 and 330102
  also own an island (an exclave) x in [-6000, -4000], y in [4000, 6000] inside 320104, which
  has a hole there (multi-polygon units with islands).

Reaches (flow in drawing order), with the hand-computed answers:

- 10: crosses the border twice: (-3000,-2000) -> (3000,-2000) -> (3000,-4000) -> (-3000,-4000);
  length 14000; pieces 0-3000 (320102), 3000-11000 (330102), 11000-14000 (320102);
  crossings 320000 -> 330000 at 3000 and 330000 -> 320000 at 11000.
- 20: forms the border, then crosses it: (-2000,9000) -> (0,9000) -> (0,7000) -> (2000,7000);
  pieces 0-2000 (320104), 2000-4000 on the border (lowest code 320000/320104, on_boundary),
  4000-6000 (330102); one crossing 320000 -> 330000 at 4000; a boundary river 2000-4000 with
  330000 on the left bank and 320000 on the right (flow runs south: left is east).
- 25: runs along the county border y = 0 inside 320000, heading west:
  (-7000,1000) -> (-7000,0) -> (-9000,0) -> (-9000,-1000); boundary river 1000-3000 between
  320102 (left, south) and 320104 (right, north); escalates to their city 320100.
- 31, 32 -> 33: a confluence exactly on the border at (0,3000): 31 (-2000,3000) -> (0,3000)
  in 320000, 32 (2000,3000) -> (0,3000) in 330000, 33 (0,3000) -> (2000,1000) in 330000;
  one crossing 320000 -> 330000 at the end of 31 (at the junction).
- 41 -> 42: 41 ends exactly on the border: (-3000,-6000) -> (0,-6000), then 42
  (0,-6000) -> (3000,-6000); no cut, one crossing at the junction (41, 3000).
- 51: crosses the island: (-7000,5000) -> (-3000,5000); pieces 0-1000 (320104),
  1000-3000 (330102), 3000-4000 (320104); crossings 320000 -> 330000 at 1000 and back at 3000.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from shapely import LineString, MultiPolygon, Polygon, box

from rivernet.network import RiverNetwork
from rivernet.project import Project

CRS = "EPSG:32651"
ISLAND = box(-6000, 4000, -4000, 6000)
WEST = box(-10000, -10000, 0, 10000).difference(ISLAND)
EAST = MultiPolygon([box(0, -10000, 10000, 10000), ISLAND])
WEST_SOUTH = box(-10000, -10000, 0, 0)
WEST_NORTH = box(-10000, 0, 0, 10000).difference(ISLAND)

REACHES: dict[int, tuple[list[tuple[float, float]], int]] = {
    10: ([(-3000, -2000), (3000, -2000), (3000, -4000), (-3000, -4000)], 0),
    20: ([(-2000, 9000), (0, 9000), (0, 7000), (2000, 7000)], 0),
    25: ([(-7000, 1000), (-7000, 0), (-9000, 0), (-9000, -1000)], 0),
    31: ([(-2000, 3000), (0, 3000)], 33),
    32: ([(2000, 3000), (0, 3000)], 33),
    33: ([(0, 3000), (2000, 1000)], 0),
    41: ([(-3000, -6000), (0, -6000)], 42),
    42: ([(0, -6000), (3000, -6000)], 0),
    51: ([(-7000, 5000), (-3000, 5000)], 0),
}


def unit_table(*, drop_levels: tuple[str, ...] = ()) -> gpd.GeoDataFrame:
    """The hand-drawn admin units (optionally without some levels)."""
    rows = [
        ("320000", "西省", "province", None, WEST),
        ("330000", "东省", "province", None, EAST),
        ("320100", "西市", "city", "320000", WEST),
        ("330100", "东市", "city", "330000", EAST),
        ("320102", "西南县", "county", "320100", WEST_SOUTH),
        ("320104", "西北县", "county", "320100", WEST_NORTH),
        ("330102", "东县", "county", "330100", EAST),
    ]
    frame = pd.DataFrame(rows, columns=["code", "name", "level", "parent_code", "geometry"])
    frame = frame[~frame["level"].isin(drop_levels)]
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=CRS).reset_index(drop=True)


def reach_table() -> gpd.GeoDataFrame:
    """The hand-drawn reaches."""
    return gpd.GeoDataFrame(
        {"reach_id": list(REACHES), "downstream_id": [d for _, d in REACHES.values()]},
        geometry=[LineString(c) for c, _ in REACHES.values()],
        crs=CRS,
    )


def make_project(
    units: gpd.GeoDataFrame | None = None,
    *,
    reaches: gpd.GeoDataFrame | None = None,
    lakes: gpd.GeoDataFrame | None = None,
    meta: dict[str, str] | None = None,
) -> Project:
    """A project held in memory (no file) over the hand-drawn data."""
    network = RiverNetwork.from_downstream_ids(
        reach_table() if reaches is None else reaches,
        id_column="reach_id",
        downstream_column="downstream_id",
    )
    if lakes is None:
        lakes = gpd.GeoDataFrame(
            {"lake_id": pd.Series(dtype=object)}, geometry=gpd.GeoSeries([], crs=CRS), crs=CRS
        )
    return Project(
        path=Path("hand-drawn.gpkg"),
        network=network,
        admin_units=unit_table() if units is None else units,
        lakes=lakes,
        meta=dict(meta or {}),
        file_version="hand-drawn",
    )


def named_project(lines: dict[int, tuple[list[tuple[float, float]], int, str]]) -> Project:
    """A project over the hand-drawn units whose reaches are ``{id: (coords, down, name)}``."""
    reaches = gpd.GeoDataFrame(
        {
            "reach_id": list(lines),
            "downstream_id": [d for _, d, _ in lines.values()],
            "name": [n for _, _, n in lines.values()],
        },
        geometry=[LineString(c) for c, _, _ in lines.values()],
        crs=CRS,
    )
    return make_project(reaches=reaches)


def bowtie() -> Polygon:
    """A self-intersecting (invalid) polygon."""
    polygon = Polygon([(0, 0), (1000, 1000), (1000, 0), (0, 1000)])
    assert not shapely.is_valid(polygon)
    return polygon
