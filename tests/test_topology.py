"""Topology from bare lines: shared endpoints, digitising direction, DEM orientation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from shapely import LineString

from rivernet import InputError, RiverNetwork
from tests.conftest import tiny_frame


def bare_lines():
    frame = tiny_frame()
    return frame[frame.rid != 9].drop(columns=["down"])  # no downstream ids


def test_topology_from_shared_endpoints() -> None:
    net = RiverNetwork.from_lines(bare_lines(), id_column="rid")
    down = net.reaches["downstream_id"].to_dict()
    assert down == {7: 1, 1: 3, 2: 3, 3: 5, 4: 5, 5: 0, 8: 0}
    assert net.validate().ok


def test_snap_tolerance_joins_near_misses() -> None:
    frame = bare_lines()
    geoms = list(frame.geometry)
    geoms[1] = LineString([(0.4, 3000), (0, 2000)])  # reach 1 starts 0.4 m from reach 7's end
    frame = frame.set_geometry(geoms, crs=frame.crs)
    assert (
        RiverNetwork.from_lines(frame, id_column="rid", snap_tolerance_m=1.0).reaches.loc[
            7, "downstream_id"
        ]
        == 1
    )
    loose = RiverNetwork.from_lines(frame, id_column="rid", snap_tolerance_m=0.1)
    assert loose.reaches.loc[7, "downstream_id"] == 0


def test_head_on_lines_are_reported() -> None:
    frame = bare_lines()
    geoms = list(frame.geometry)
    geoms[4] = LineString([(0, 1000), (2000, 1000)])  # reach 4 drawn against the flow
    frame = frame.set_geometry(geoms, crs=frame.crs)
    net = RiverNetwork.from_lines(frame, id_column="rid")
    report = net.validate()
    conflicts = [f for f in report.findings if f.code == "direction_conflict"]
    assert conflicts and 4 in conflicts[0].reach_ids


def write_dem(path: Path) -> None:
    """A DEM sloping down to the south (y = 0 is lowest), in the tiny network's CRS."""
    rows, cols = 50, 40  # x from -1000 to 3000 m: reach 8 lies outside
    elevation = np.repeat(np.linspace(500, 10, rows)[:, None], cols, axis=1).astype("float32")
    profile = {
        "driver": "GTiff", "height": rows, "width": cols, "count": 1, "dtype": "float32",
        "crs": "EPSG:32651", "transform": Affine(100, 0, -1000, 0, -100, 4500), "nodata": -9999,
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(elevation, 1)


def test_dem_decides_direction_and_reports_reversals(tmp_path: Path) -> None:
    frame = bare_lines()
    geoms = list(frame.geometry)
    geoms[3] = LineString([(0, 1000), (0, 2000)])  # reach 3 drawn uphill
    frame = frame.set_geometry(geoms, crs=frame.crs)
    dem = tmp_path / "dem.tif"
    write_dem(dem)
    net = RiverNetwork.from_lines(frame, id_column="rid", dem=dem)
    assert net.reaches.loc[3, "downstream_id"] == 5
    assert net.reaches.loc[1, "downstream_id"] == 3
    reversed_ = [f for f in net.validate().findings if f.code == "reversed_by_dem"]
    assert reversed_[0].reach_ids == (3,)
    no_data = [f for f in net.validate().findings if f.code == "dem_no_data"]
    assert no_data and 8 in no_data[0].reach_ids  # reach 8 lies outside the DEM


def test_bad_inputs_are_named(tmp_path: Path) -> None:
    frame = bare_lines()
    with pytest.raises(InputError, match="does not exist"):
        RiverNetwork.from_lines(frame, id_column="rid", dem=tmp_path / "missing.tif")
    frame.loc[frame.index[0], "geometry"] = None
    with pytest.raises(InputError, match="rows 1"):
        RiverNetwork.from_lines(frame, id_column="rid")
