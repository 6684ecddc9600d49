"""Many stretches at once (rivernet.geometry.substrings) against shapely's substring."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely import LineString, Point

from rivernet.geometry import substring, substrings


def _same(new: np.ndarray, lines: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
    for k, got in enumerate(new):
        want = substring(lines[k], float(start[k]), float(end[k]))
        assert shapely.equals_exact(got, want, tolerance=1e-9), (k, got.wkt, want.wkt)


def test_hand_drawn_stretches_equal_shapely() -> None:
    bend = LineString([(0, 0), (3, 0), (3, 4), (6, 4)])  # 10 units long
    lines = np.array([bend] * 7, dtype=object)
    start = np.array([0.0, 0.0, 0.1, 0.3, 0.3, 0.5, 0.7])
    end = np.array([1.0, 0.3, 0.2, 0.7, 0.3, 1.0, 0.75])
    new = substrings(lines, start, end)
    _same(new, lines, start, end)
    assert new[0] is bend  # a whole line is the line itself
    assert list(new[3].coords) == [(3.0, 0.0), (3.0, 4.0)]  # cut exactly at two vertices
    assert isinstance(new[4], Point)  # equal fractions: a point, as shapely gives
    assert new[6].length == 0.5


def test_missing_and_empty_lines() -> None:
    lines = np.array([None, LineString(), LineString([(0, 0), (1, 0)])], dtype=object)
    new = substrings(lines, np.zeros(3), np.full(3, 0.5))
    assert new[0] is None
    assert new[1].is_empty
    assert new[2].equals(LineString([(0, 0), (0.5, 0)]))


def test_sample_reaches_equal_shapely(hydrorivers: gpd.GeoDataFrame) -> None:
    lines = hydrorivers.geometry.to_numpy()
    rng = np.random.default_rng(7)
    pick = rng.integers(0, len(lines), 3000)
    a, b = rng.random(pick.size), rng.random(pick.size)
    start, end = np.minimum(a, b), np.maximum(a, b)
    start[:300], end[300:600] = 0.0, 1.0
    _same(substrings(lines[pick], start, end), lines[pick], start, end)
