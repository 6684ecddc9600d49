"""Tests of rivernet.crs: GCJ-02 / BD-09 conversions, geometry helpers and CRS questions."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS, Geod

from rivernet.crs import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    crs_equivalent,
    ensure_geographic,
    ensure_geographic_crs,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    is_china_geographic,
    metric_crs_for,
    out_of_china,
    require_crs,
    suspect_gcj02,
    to_wgs84,
    transform_geometries,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from rivernet.errors import CRSError

GEOD = Geod(ellps="WGS84")

# Published WGS84 -> GCJ-02 pairs from the test suite of googollee/eviltransform
# (python/test.py, go/transform_test.go): (wgs_lat, wgs_lng, gcj_lat, gcj_lng).
EVILTRANSFORM_PAIRS = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


def metres(lon_a: object, lat_a: object, lon_b: object, lat_b: object) -> np.ndarray:
    """Geodesic distance in metres between two sets of points."""
    _, _, distance = GEOD.inv(lon_a, lat_a, lon_b, lat_b)
    return np.abs(np.asarray(distance))


@pytest.mark.parametrize(("wgs_lat", "wgs_lng", "gcj_lat", "gcj_lng"), EVILTRANSFORM_PAIRS)
def test_wgs84_to_gcj02_matches_published_pairs(
    wgs_lat: float, wgs_lng: float, gcj_lat: float, gcj_lng: float
) -> None:
    lon, lat = wgs84_to_gcj02(wgs_lng, wgs_lat)
    assert lon == pytest.approx(gcj_lng, abs=1e-7)
    assert lat == pytest.approx(gcj_lat, abs=1e-7)


@pytest.mark.parametrize(("wgs_lat", "wgs_lng", "gcj_lat", "gcj_lng"), EVILTRANSFORM_PAIRS)
def test_gcj02_to_wgs84_recovers_published_pairs(
    wgs_lat: float, wgs_lng: float, gcj_lat: float, gcj_lng: float
) -> None:
    lon, lat = gcj02_to_wgs84(gcj_lng, gcj_lat)
    # eviltransform's Python port scales by 6378137 m where the original uses 6378245 m: that
    # changes a 500 m offset by under 1 cm, so 5 cm bounds both implementations.
    assert metres(lon, lat, wgs_lng, wgs_lat) < 0.05


def test_coordtransform_reference_point() -> None:
    # wandergis/coordtransform test/app.js, input (116.404, 39.915) for every conversion.
    assert np.allclose(wgs84_to_gcj02(116.404, 39.915), (116.41024449916938, 39.91640428150164))
    assert np.allclose(gcj02_to_bd09(116.404, 39.915), (116.41036949371029, 39.92133699351021))
    # The published BD-09 -> GCJ-02 value uses the closed-form approximation; ours is refined
    # to the exact inverse, which differs by less than 1e-6 degrees (about 0.1 m).
    lon, lat = bd09_to_gcj02(116.404, 39.915)
    assert lon == pytest.approx(116.39762729119315, abs=1e-6)
    assert lat == pytest.approx(39.90865673957631, abs=1e-6)


def test_beijing_railway_station_in_three_frames() -> None:
    # Documented example of the geoChina R package (caijun/geoChina, conv()):
    # WGS-84 (39.90105, 116.42079), GCJ-02 (39.90245, 116.42703), BD-09 (39.90851, 116.43351).
    assert np.allclose(wgs84_to_gcj02(116.42079, 39.90105), (116.42703, 39.90245), atol=1e-5)
    assert np.allclose(gcj02_to_bd09(116.42703, 39.90245), (116.43351, 39.90851), atol=1e-5)
    assert np.allclose(wgs84_to_bd09(116.42079, 39.90105), (116.43351, 39.90851), atol=2e-5)
    assert np.allclose(bd09_to_wgs84(116.43351, 39.90851), (116.42079, 39.90105), atol=2e-5)


def test_offset_near_taihu_is_about_420_m_east_240_m_south() -> None:
    lon, lat = wgs84_to_gcj02(120.2, 31.2)
    _, _, east = GEOD.inv(120.2, 31.2, lon, 31.2)
    _, _, north = GEOD.inv(120.2, 31.2, 120.2, lat)
    assert 350 < abs(east) < 500 and lon > 120.2
    assert 180 < abs(north) < 300 and lat < 31.2


def test_points_outside_china_are_unchanged() -> None:
    lon = np.array([2.35, -74.0, 139.7, 120.2])
    lat = np.array([48.85, 40.7, 35.7, 31.2])
    assert out_of_china(lon, lat).tolist() == [True, True, True, False]
    for func in (wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02):
        out_lon, out_lat = func(lon, lat)
        assert np.array_equal(out_lon[:3], lon[:3]) and np.array_equal(out_lat[:3], lat[:3])
        assert out_lon[3] != lon[3]


def test_inputs_are_not_modified_and_shapes_kept() -> None:
    lon = np.array([[120.0, 121.0], [119.0, 118.0]])
    lat = np.full((2, 2), 31.0)
    out_lon, out_lat = gcj02_to_wgs84(lon, lat)
    assert out_lon.shape == (2, 2) and out_lat.shape == (2, 2)
    assert lon[0, 0] == 120.0
    empty_lon, empty_lat = gcj02_to_wgs84([], [])
    assert empty_lon.size == 0 and empty_lat.size == 0


china_lon = st.floats(min_value=73.0, max_value=135.0)
china_lat = st.floats(min_value=18.0, max_value=53.5)


@settings(max_examples=200, deadline=None)
@given(lon=china_lon, lat=china_lat)
def test_gcj02_round_trip_better_than_1_cm(lon: float, lat: float) -> None:
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert metres(back_lon, back_lat, lon, lat) < 0.01
    again_lon, again_lat = wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat))
    assert metres(again_lon, again_lat, lon, lat) < 0.01


@settings(max_examples=200, deadline=None)
@given(lon=china_lon, lat=china_lat)
def test_bd09_round_trip_better_than_1_cm(lon: float, lat: float) -> None:
    back_lon, back_lat = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert metres(back_lon, back_lat, lon, lat) < 0.01
    wgs_lon, wgs_lat = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert metres(wgs_lon, wgs_lat, lon, lat) < 0.01


def test_vectorised_round_trip_on_a_grid() -> None:
    lon, lat = np.meshgrid(np.linspace(74, 134, 61), np.linspace(19, 53, 35))
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon.ravel(), lat.ravel()))
    assert metres(back_lon, back_lat, lon.ravel(), lat.ravel()).max() < 0.01


def test_transform_geometries_keeps_missing_and_structure() -> None:
    polygon = shapely.Polygon([(120, 31), (120.1, 31), (120.1, 31.1)])
    geoms = [shapely.LineString([(120, 31), (120.5, 31.5)]), None, polygon]
    out = transform_geometries(geoms, wgs84_to_gcj02)
    assert out[1] is None
    assert out[0].geom_type == "LineString" and out[2].geom_type == "Polygon"
    expected = wgs84_to_gcj02(120.5, 31.5)
    assert np.allclose(shapely.get_coordinates(out[0])[1], expected)


def test_to_wgs84_labels_result_and_leaves_input() -> None:
    wgs = gpd.GeoDataFrame(
        {"name": ["a"]}, geometry=[shapely.LineString([(120, 31), (120.2, 31.2)])], crs=4326
    )
    gcj = wgs.copy()
    gcj.geometry = transform_geometries(wgs.geometry.array, wgs84_to_gcj02)
    gcj = gcj.set_crs(None, allow_override=True)
    result = to_wgs84(gcj, source="gcj02")
    assert result.crs == CRS.from_epsg(4326) and gcj.crs is None
    assert shapely.equals_exact(result.geometry.iloc[0], wgs.geometry.iloc[0], tolerance=1e-9)
    bd = gcj.copy()
    bd.geometry = transform_geometries(gcj.geometry.array, gcj02_to_bd09)
    from_bd = to_wgs84(bd, source="bd09")
    assert shapely.equals_exact(from_bd.geometry.iloc[0], wgs.geometry.iloc[0], tolerance=1e-9)


def test_to_wgs84_refuses_projected_layers() -> None:
    gdf = gpd.GeoDataFrame(geometry=[shapely.Point(500000, 3450000)], crs=32651)
    with pytest.raises(CRSError, match="projected"):
        to_wgs84(gdf)


def test_is_china_geographic_and_equivalence() -> None:
    assert is_china_geographic(4326) and is_china_geographic("EPSG:4490")
    assert is_china_geographic("OGC:CRS84")
    assert not is_china_geographic(32651) and not is_china_geographic(None)
    assert not is_china_geographic(4214)  # Beijing 1954 is a different datum
    assert crs_equivalent(4326, 4490)
    assert crs_equivalent(32651, "EPSG:32651")
    assert not crs_equivalent(4326, 32651)


def test_require_crs_explains_the_fix() -> None:
    gdf = gpd.GeoDataFrame(geometry=[shapely.Point(120, 31)])
    with pytest.raises(CRSError, match=r"set_crs\(4490\)"):
        require_crs(gdf, what="reach lines")
    assert require_crs(gdf.set_crs(4490), what="x").to_epsg() == 4490


def test_ensure_geographic_and_metric_crs() -> None:
    gdf = gpd.GeoDataFrame(geometry=[shapely.Point(120.2, 31.2)], crs=4490)
    assert ensure_geographic(gdf) is gdf
    projected = gdf.to_crs(32651)
    back = ensure_geographic(projected)
    assert back.crs.to_epsg() == 4326
    assert ensure_geographic_crs(4490).to_epsg() == 4490
    assert ensure_geographic_crs(32651).to_epsg() == 4326
    assert metric_crs_for(gdf).to_epsg() == 32651  # UTM zone 51N at 120.2 E
    assert metric_crs_for(projected).to_epsg() == 32651


def test_suspect_gcj02_flags_a_shifted_copy() -> None:
    lines = gpd.GeoDataFrame(
        geometry=[
            shapely.LineString([(120.0 + i * 0.05, 31.0), (120.02 + i * 0.05, 31.2)])
            for i in range(10)
        ],
        crs=4326,
    )
    shifted = lines.copy()
    shifted.geometry = transform_geometries(lines.geometry.array, wgs84_to_gcj02)
    check = suspect_gcj02(shifted, lines)
    assert check.likely_gcj02
    assert check.median_distance_m > 200 and check.median_distance_converted_m < 1
    assert not suspect_gcj02(lines, lines).likely_gcj02


def test_boundary_fit_tells_gcj02_admin_units_from_wgs84() -> None:
    from rivernet.crs import boundary_fit_gcj02
    from tests.conftest import SAMPLE

    rivers = gpd.read_file(SAMPLE, layer="reaches")
    units = gpd.read_file(SAMPLE, layer="admin_units")
    right = boundary_fit_gcj02(units, rivers)
    assert right is not None and not right.likely_gcj02
    assert right.fit_as_given > right.fit_converted
    offset = units.copy()
    offset.geometry = transform_geometries(units.geometry.array, wgs84_to_gcj02)
    wrong = boundary_fit_gcj02(offset, rivers)
    assert wrong is not None and wrong.likely_gcj02
    assert wrong.fit_converted > wrong.chance_fit > max(wrong.fit_decoys) * 0.9
    assert 400 < wrong.offset_m < 700  # the GCJ-02 offset near Taihu is about 500 m


def test_boundary_fit_gives_no_verdict_on_boundaries_that_do_not_follow_rivers() -> None:
    """A synthetic national network under synthetic counties: converted fits twice as well by
    chance (28 km against 13 km), but no better than shifts in other directions."""
    from bench.synthetic import synthetic_admin_polygons, synthetic_network
    from rivernet.crs import boundary_fit_gcj02

    china = (73.5, 18.0, 134.8, 53.5)
    rivers = synthetic_network(200_000, seed=1, with_geometry=True, bbox=china)
    units = synthetic_admin_polygons(30, 3000, bbox=china, seed=1)
    fit = boundary_fit_gcj02(units, rivers)
    assert fit is not None and fit.points_near >= 100
    assert fit.fit_converted >= 1.1 * fit.fit_as_given  # what the old rule called GCJ-02
    assert len(fit.fit_decoys) == 7 and fit.fit_converted < fit.chance_fit
    assert not fit.likely_gcj02


def test_boundary_fit_skips_projected_and_foreign_data() -> None:
    from rivernet.crs import boundary_fit_gcj02

    square = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1000, 1000)], crs=32651)
    line = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1000, 1000)])], crs=32651)
    assert boundary_fit_gcj02(square, line) is None
    paris = gpd.GeoDataFrame(geometry=[shapely.box(2.2, 48.8, 2.4, 48.9)], crs=4326)
    seine = gpd.GeoDataFrame(geometry=[shapely.LineString([(2.2, 48.85), (2.4, 48.86)])], crs=4326)
    assert boundary_fit_gcj02(paris, seine) is None
