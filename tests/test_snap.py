"""Snapping points onto reaches: nearest reach, measure from the upstream end, limits."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely import Point

from rivernet import InputError, RiverNetwork, SnapWarning


def test_snap_measures_from_upstream_end(tiny: RiverNetwork) -> None:
    result = tiny.snap([(1500, 1010), (0, 2500)], max_distance_m=50)
    assert list(result.reach_id) == [4, 1]
    assert list(result.measure_m) == pytest.approx([500, 500])
    assert list(result.measure_fraction) == pytest.approx([0.25, 0.5])
    assert list(result.distance_m) == pytest.approx([10, 0])
    assert result.snapped.all()


def test_points_beyond_limit_are_reported_not_attached(tiny: RiverNetwork) -> None:
    with pytest.warns(SnapWarning, match=r"1 point\(s\) \(1\)"):
        result = tiny.snap([(0, 2500), (3000, 3000)], max_distance_m=100)
    assert result.loc[1, "reach_id"] is None
    assert not result.loc[1, "snapped"]


def test_geoseries_in_another_crs_is_converted(sample_network: RiverNetwork) -> None:
    reach = sample_network.reaches.iloc[100]
    middle = reach.geometry.interpolate(0.5, normalized=True)
    points = gpd.GeoSeries([middle], crs="EPSG:4326").to_crs("EPSG:3857")
    result = sample_network.snap(points, max_distance_m=10)
    assert result.loc[0, "reach_id"] == sample_network.reaches.index[100]
    assert result.loc[0, "distance_m"] < 1
    assert result.loc[0, "measure_m"] == pytest.approx(reach.length_m / 2, rel=0.02)


def test_snap_rejects_non_points_and_bad_limits(tiny: RiverNetwork) -> None:
    with pytest.raises(InputError, match="positive"):
        tiny.snap([(0, 0)], max_distance_m=0)
    with pytest.raises(InputError, match="not points"):
        tiny.snap(gpd.GeoSeries([Point(0, 0).buffer(1)], crs=tiny.crs), max_distance_m=5)
