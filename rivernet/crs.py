"""Coordinate reference systems: Chinese web-map offsets, CGCS2000 and metric frames.

Chinese web maps and many downloads store coordinates in GCJ-02 (the "Mars" offset used by Amap,
Tencent and others, a few hundred metres off WGS84) or in Baidu's BD-09, which adds a second offset
on top of GCJ-02. Neither is an EPSG CRS: files in them are usually labelled EPSG:4326, wrongly.
This module converts between WGS84, GCJ-02 and BD-09 with vectorised numpy code, applies those
conversions to shapely geometries and GeoDataFrames, and answers the CRS questions the rest of
rivernet asks: is this CRS a Chinese geographic frame (WGS84 EPSG:4326 or CGCS2000 EPSG:4490, which
agree within centimetres and are treated as the same frame for overlay), which metric CRS suits a
layer, and does a layer have a CRS at all.

The offsets apply only inside China. Like every published implementation, rivernet decides this
with the customary bounding box (the "out of China" rule): a point with longitude outside
72.004..137.8347 or latitude outside 0.8293..55.8271 is returned unchanged. The box is coarse: it
includes parts of neighbouring countries, which are then offset too.

The GCJ-02 forward formula is the public one (Krasovsky ellipsoid, a = 6378245 m); its inverse has
no closed form and is computed by fixed-point iteration to better than 1e-9 degrees (about 0.1 mm).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from rivernet.errors import CRSError, InputError
from rivernet.messages import Code

__all__ = [
    "CGCS2000",
    "WGS84",
    "BoundaryFit",
    "GCJ02Check",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "boundary_fit_gcj02",
    "crs_equivalent",
    "ensure_geographic",
    "ensure_geographic_crs",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "is_china_geographic",
    "metric_crs_for",
    "out_of_china",
    "require_crs",
    "suspect_gcj02",
    "to_wgs84",
    "transform_geometries",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

WGS84 = CRS.from_epsg(4326)
CGCS2000 = CRS.from_epsg(4490)

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0  # BD-09 constant
_INVERSE_TOLERANCE_DEG = 1e-10
_INVERSE_MAX_ITERATIONS = 30


Coordinates = tuple[NDArray[np.float64], NDArray[np.float64]]
CoordinateFunction = Callable[[ArrayLike, ArrayLike], Coordinates]
_Kernel = Callable[[NDArray[np.float64], NDArray[np.float64]], Coordinates]


def _as_float_arrays(lon: ArrayLike, lat: ArrayLike) -> Coordinates:
    lon_array = np.asarray(lon, dtype=np.float64)
    lat_array = np.asarray(lat, dtype=np.float64)
    if lon_array.shape != lat_array.shape:
        lon_array, lat_array = np.broadcast_arrays(lon_array, lat_array)
    return lon_array.copy(), lat_array.copy()


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """Tell which points lie outside the box where the Chinese offsets apply.

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes in degrees (any frame: the box is coarse).

    Returns
    -------
    numpy.ndarray
        True where longitude is outside 72.004..137.8347 or latitude outside 0.8293..55.8271.
    """
    lon_array, lat_array = _as_float_arrays(lon, lat)
    return (
        (lon_array < 72.004) | (lon_array > 137.8347) | (lat_array < 0.8293) | (lat_array > 55.8271)
    )


def _gcj02_delta(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> Coordinates:
    """Return the GCJ-02 offset (degrees) of WGS84 points, ignoring the out-of-China rule."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    waves = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x + waves
    d_lat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    d_lat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x + waves
    d_lon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    d_lon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return d_lon, d_lat


def _in_china(lon: ArrayLike, lat: ArrayLike, convert: _Kernel) -> Coordinates:
    """Apply ``convert`` to the points inside China (see :func:`out_of_china`); keep the others."""
    lon_array, lat_array = _as_float_arrays(lon, lat)
    inside = ~out_of_china(lon_array, lat_array)
    lon_array[inside], lat_array[inside] = convert(lon_array[inside], lat_array[inside])
    return lon_array, lat_array


def _add_gcj02_offset(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> Coordinates:
    d_lon, d_lat = _gcj02_delta(lon, lat)
    return lon + d_lon, lat + d_lat


def _remove_gcj02_offset(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> Coordinates:
    """Invert :func:`_add_gcj02_offset` by fixed-point iteration."""
    d_lon, d_lat = _gcj02_delta(lon, lat)
    guess_lon, guess_lat = lon - d_lon, lat - d_lat
    for _ in range(_INVERSE_MAX_ITERATIONS):
        d_lon, d_lat = _gcj02_delta(guess_lon, guess_lat)
        error_lon = guess_lon + d_lon - lon
        error_lat = guess_lat + d_lat - lat
        guess_lon -= error_lon
        guess_lat -= error_lat
        if error_lon.size == 0 or max(np.abs(error_lon).max(), np.abs(error_lat).max()) < (
            _INVERSE_TOLERANCE_DEG
        ):
            break
    return guess_lon, guess_lat


def _add_bd09_offset(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> Coordinates:
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _remove_bd09_offset(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> Coordinates:
    """Invert :func:`_add_bd09_offset`: the customary closed form, then three corrections."""
    x, y = lon - 0.0065, lat - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    guess_lon, guess_lat = z * np.cos(theta), z * np.sin(theta)
    for _ in range(3):  # refine: the closed form is only approximate
        forward_lon, forward_lat = gcj02_to_bd09(guess_lon, guess_lat)
        guess_lon -= forward_lon - lon
        guess_lat -= forward_lat - lat
    return guess_lon, guess_lat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> Coordinates:
    """Convert WGS84 longitudes and latitudes to GCJ-02.

    Parameters
    ----------
    lon, lat
        WGS84 degrees; scalars or arrays of one shape.

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 ``(lon, lat)``; points outside China (see :func:`out_of_china`) are unchanged.
    """
    return _in_china(lon, lat, _add_gcj02_offset)


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> Coordinates:
    """Convert GCJ-02 longitudes and latitudes to WGS84 (exact inverse by iteration).

    Parameters
    ----------
    lon, lat
        GCJ-02 degrees; scalars or arrays of one shape.

    Returns
    -------
    tuple of numpy.ndarray
        WGS84 ``(lon, lat)`` whose forward conversion matches the input to better than 1e-9
        degrees; points outside China are unchanged.
    """
    return _in_china(lon, lat, _remove_gcj02_offset)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> Coordinates:
    """Convert GCJ-02 longitudes and latitudes to Baidu BD-09.

    Parameters
    ----------
    lon, lat
        GCJ-02 degrees.

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 ``(lon, lat)``; points outside China are unchanged.
    """
    return _in_china(lon, lat, _add_bd09_offset)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> Coordinates:
    """Convert Baidu BD-09 longitudes and latitudes to GCJ-02.

    Uses the customary closed-form inverse (as published by Baidu's SDK examples and every common
    implementation), whose round trip with :func:`gcj02_to_bd09` is within about 1e-6 degrees;
    one fixed-point correction brings it below 1e-9 degrees.

    Parameters
    ----------
    lon, lat
        BD-09 degrees.

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 ``(lon, lat)``; points outside China are unchanged.
    """
    return _in_china(lon, lat, _remove_bd09_offset)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> Coordinates:
    """Convert WGS84 longitudes and latitudes to Baidu BD-09 (through GCJ-02).

    Parameters
    ----------
    lon, lat
        WGS84 degrees.

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 ``(lon, lat)``; points outside China are unchanged.
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> Coordinates:
    """Convert Baidu BD-09 longitudes and latitudes to WGS84 (through GCJ-02).

    Parameters
    ----------
    lon, lat
        BD-09 degrees.

    Returns
    -------
    tuple of numpy.ndarray
        WGS84 ``(lon, lat)``; points outside China are unchanged.
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_CONVERSIONS_TO_WGS84: dict[str, CoordinateFunction] = {
    "gcj02": gcj02_to_wgs84,
    "bd09": bd09_to_wgs84,
}


def transform_geometries(
    geoms: Sequence[BaseGeometry | None] | NDArray[np.object_], func: CoordinateFunction
) -> NDArray[np.object_]:
    """Apply a ``(lon, lat) -> (lon, lat)`` conversion to every vertex of shapely geometries.

    Parameters
    ----------
    geoms
        Shapely geometries (a list, array or GeoSeries); missing values stay missing.
    func
        A vectorised conversion such as :func:`gcj02_to_wgs84`.

    Returns
    -------
    numpy.ndarray
        New geometries, in the input order; Z values are dropped.
    """

    def convert(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        lon, lat = func(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    result: NDArray[np.object_] = shapely.transform(np.asarray(geoms, dtype=object), convert)
    return result


def to_wgs84(
    gdf: gpd.GeoDataFrame, *, source: Literal["gcj02", "bd09"] = "gcj02"
) -> gpd.GeoDataFrame:
    """Convert a layer stored in GCJ-02 or BD-09 degrees to WGS84 (EPSG:4326).

    Parameters
    ----------
    gdf
        The layer. Its CRS may be missing or geographic (such files are usually labelled
        EPSG:4326 although they are not); a projected CRS is refused.
    source
        The offset the coordinates carry: ``"gcj02"`` (Amap, Tencent) or ``"bd09"`` (Baidu).

    Returns
    -------
    geopandas.GeoDataFrame
        A new layer labelled EPSG:4326; the input is unchanged.
    """
    if source not in _CONVERSIONS_TO_WGS84:
        raise InputError.from_key("err_crs.unknown_source", source=repr(source))
    if gdf.crs is not None and not CRS.from_user_input(gdf.crs).is_geographic:
        raise CRSError.from_key("err_crs.projected_offset", source=source, crs=gdf.crs.name)
    result = gdf.copy()
    converted = transform_geometries(gdf.geometry.array, _CONVERSIONS_TO_WGS84[source])
    result = result.set_geometry(gpd.GeoSeries(converted, index=gdf.index, crs=None))
    return result.set_crs(WGS84, allow_override=True)


def is_china_geographic(crs: object) -> bool:
    """Tell whether a CRS is WGS84 or CGCS2000 longitude/latitude.

    Parameters
    ----------
    crs
        Anything pyproj accepts (``4490``, ``"EPSG:4326"``, a ``pyproj.CRS``); None gives False.

    Returns
    -------
    bool
        True for EPSG:4326, OGC:CRS84 and EPSG:4490, which agree within centimetres and are
        overlaid without transformation.
    """
    if crs is None:
        return False
    parsed = CRS.from_user_input(crs)
    if parsed.to_epsg() in (4326, 4490):
        return True
    return parsed.equals(CRS.from_user_input("OGC:CRS84"), ignore_axis_order=True)


def crs_equivalent(crs_a: object, crs_b: object) -> bool:
    """Tell whether two layers can be overlaid without transforming coordinates.

    Parameters
    ----------
    crs_a, crs_b
        Anything pyproj accepts.

    Returns
    -------
    bool
        True when the CRSs are equal (ignoring axis order) or both are China geographic frames
        (EPSG:4326 / EPSG:4490, see :func:`is_china_geographic`).
    """
    if crs_a is None or crs_b is None:
        return crs_a is None and crs_b is None
    if is_china_geographic(crs_a) and is_china_geographic(crs_b):
        return True
    return CRS.from_user_input(crs_a).equals(CRS.from_user_input(crs_b), ignore_axis_order=True)


def require_crs(gdf: gpd.GeoDataFrame | gpd.GeoSeries, *, what: str) -> CRS:
    """Return the CRS of a layer, or raise CRSError saying how to set one.

    Parameters
    ----------
    gdf
        The layer.
    what
        What the layer is, for the message (``"the reach lines"``); the phrases of the catalogue
        section ``err_crs_what`` are shown translated, others as they are.

    Returns
    -------
    pyproj.CRS
        The layer's CRS.
    """
    if gdf.crs is None:
        raise CRSError.from_key("err_crs.no_crs", what=Code("err_crs_what", what))
    return CRS.from_user_input(gdf.crs)


def ensure_geographic_crs(crs: object) -> CRS:
    """Return the China geographic frame to use for data in ``crs``.

    Parameters
    ----------
    crs
        Anything pyproj accepts.

    Returns
    -------
    pyproj.CRS
        ``crs`` itself when it is EPSG:4326 or EPSG:4490, else EPSG:4326.
    """
    if crs is None:
        raise CRSError.from_key("err_crs.none_given")
    parsed = CRS.from_user_input(crs)
    return parsed if is_china_geographic(parsed) else WGS84


def ensure_geographic(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Bring a layer to a China geographic frame (EPSG:4326 or EPSG:4490).

    Parameters
    ----------
    gdf
        A layer with a CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        The layer itself when already in EPSG:4326 or EPSG:4490, else a copy in EPSG:4326.
    """
    crs = require_crs(gdf, what="the layer")
    return gdf if is_china_geographic(crs) else gdf.to_crs(WGS84)


def metric_crs_for(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> CRS:
    """Choose a metric (UTM) CRS for measuring a layer in metres.

    Parameters
    ----------
    gdf
        A layer with a CRS and at least one non-empty geometry.

    Returns
    -------
    pyproj.CRS
        The WGS84 UTM zone around the layer's centre (pyproj's estimate), or the layer's own CRS
        when it is already projected in metres.
    """
    crs = require_crs(gdf, what="the layer")
    if crs.is_projected and crs.axis_info and crs.axis_info[0].unit_name in ("metre", "meter"):
        return crs
    if gdf.geometry.is_empty.all():
        raise InputError.from_key("err_crs.no_geometry")
    return CRS.from_user_input(gdf.estimate_utm_crs())


@dataclass(frozen=True)
class GCJ02Check:
    """The result of :func:`suspect_gcj02`.

    Attributes
    ----------
    median_distance_m
        Median distance (metres) from sampled vertices of the layer to the reference, as stored.
    median_distance_converted_m
        The same after treating the layer as GCJ-02 and converting it to WGS84.
    likely_gcj02
        True when conversion brings the layer much closer to the reference.
    """

    median_distance_m: float
    median_distance_converted_m: float
    likely_gcj02: bool


def suspect_gcj02(
    gdf: gpd.GeoDataFrame,
    reference: gpd.GeoDataFrame,
    *,
    sample_size: int = 400,
    min_shift_m: float = 100.0,
) -> GCJ02Check:
    """Check whether a layer labelled WGS84 is really GCJ-02, against a trusted reference layer.

    Vertices of ``gdf`` are sampled and their median distance to the reference's lines (polygon
    boundaries for polygons) is measured as stored and after a GCJ-02 -> WGS84 conversion. A
    GCJ-02 layer of the same features sits 400-600 m off the reference and lines up once
    converted. The reference must show the same features (the same rivers, the same boundaries).

    Parameters
    ----------
    gdf
        The layer under suspicion, in geographic degrees.
    reference
        A trusted WGS84/CGCS2000 layer of the same features.
    sample_size
        How many vertices to sample (evenly, deterministically).
    min_shift_m
        The stored median distance must exceed this for a positive answer.

    Returns
    -------
    GCJ02Check
        The two median distances and the verdict.
    """
    require_crs(reference, what="the reference layer")
    layer = gdf if gdf.crs is not None else gdf.set_crs(WGS84)
    if not crs_equivalent(layer.crs, reference.crs):
        reference = reference.to_crs(layer.crs)
    coords = shapely.get_coordinates(layer.geometry.array)
    if len(coords) == 0:
        raise InputError.from_key("err_crs.no_vertices")
    step = max(1, len(coords) // sample_size)
    sample = coords[::step]
    ref_geoms = reference.geometry.array
    ref_lines = shapely.union_all(
        shapely.boundary(ref_geoms[shapely.get_dimensions(ref_geoms) == 2])
    )
    ref_lines = shapely.union_all([ref_lines, *ref_geoms[shapely.get_dimensions(ref_geoms) < 2]])
    metric = metric_crs_for(reference)

    def median_distance(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> float:
        points = gpd.GeoSeries(shapely.points(lon, lat), crs=layer.crs).to_crs(metric)
        target = gpd.GeoSeries([ref_lines], crs=layer.crs).to_crs(metric).iloc[0]
        return float(np.median(shapely.distance(points.array, target)))

    as_stored = median_distance(sample[:, 0], sample[:, 1])
    converted = median_distance(*gcj02_to_wgs84(sample[:, 0], sample[:, 1]))
    likely = as_stored > min_shift_m and converted < 0.5 * as_stored
    return GCJ02Check(as_stored, converted, likely)


_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON_EQUATOR = 111_320.0


@dataclass(frozen=True)
class BoundaryFit:
    """How well admin boundaries fit a river network, as given and converted from GCJ-02.

    Rivers often form boundaries (界河), so boundaries in the right place run along rivers for
    more of their length than boundaries a few hundred metres off. The fit is the boundary
    length (km) that lies within about ``cell_m`` of a river (the river lines are rasterised
    into ``cell_m`` cells and a boundary point counts when a neighbouring cell holds a river).

    Attributes
    ----------
    samples
        Boundary points sampled (evenly by length).
    fit_as_given
        Kilometres of boundary along rivers, as stored.
    fit_converted
        The same after a GCJ-02 -> WGS84 conversion (:func:`gcj02_to_wgs84`).
    offset_m
        The median distance (metres) the conversion moves the sampled points.
    points_near
        How many sampled points lie near a river, as given and converted (the larger count):
        below :data:`MIN_POINTS_NEAR` the comparison is noise (rivers that do not follow the
        boundaries, e.g. a synthetic network), and no verdict is given.
    fit_decoys
        The fits of the boundaries moved as far as the conversion moves them but in seven
        other directions (the conversion's shift turned by 45, 90, ... 315 degrees): how well
        shifts that mean nothing fit by chance.
    """

    samples: int
    fit_as_given: float
    fit_converted: float
    offset_m: float
    points_near: int = 0
    fit_decoys: tuple[float, ...] = ()

    @property
    def likely_gcj02(self) -> bool:
        """True when the converted boundaries fit the rivers clearly better.

        Better by 10 % or more than as given, and better than chance: above the decoy fits'
        mean by two of their standard deviations. Correct boundaries fit better as given by
        10-20 % on the Taihu sample; the raw GCJ-02 Taihu boundaries fit 13 % better converted,
        2.6 standard deviations above the decoys. Boundaries that do not follow the rivers (a
        synthetic national network: 58 km converted, 31 km as given, decoys 42 +- 12 km) give
        no verdict.
        """
        enough = (
            self.samples >= 500 and self.fit_converted > 0.0 and self.points_near >= MIN_POINTS_NEAR
        )
        better = self.fit_converted >= 1.1 * self.fit_as_given
        return enough and better and self.fit_converted >= self.chance_fit

    @property
    def chance_fit(self) -> float:
        """The fit a meaningless shift reaches by chance: decoys' mean plus two deviations."""
        if len(self.fit_decoys) < 2:
            return 0.0
        decoys = np.asarray(self.fit_decoys)
        return float(decoys.mean() + 2.0 * decoys.std(ddof=1))


MIN_POINTS_NEAR = 100
"""Sampled boundary points that must lie near rivers before the GCJ-02 fit gives a verdict."""
_NEAR_DEG = 0.02  # about 2 km: the GCJ-02 offset (under 1 km in China) plus cells


def boundary_fit_gcj02(
    polygons: gpd.GeoDataFrame | gpd.GeoSeries,
    rivers: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    sample_size: int = 20_000,
    cell_m: float = 50.0,
) -> BoundaryFit | None:
    """Compare how admin boundaries fit the rivers as given and once converted from GCJ-02.

    Cheap enough to run whenever a project opens (tens of milliseconds: the boundaries are
    sampled, the rivers rasterised). See :class:`BoundaryFit` for the measure.

    Parameters
    ----------
    polygons
        Admin polygons (or any polygons whose boundaries often follow rivers).
    rivers
        River lines in the same CRS (a trusted WGS84/CGCS2000 layer).
    sample_size
        How many boundary points to sample (evenly by length, deterministically).
    cell_m
        The raster cell (metres): boundary points within about this distance of a river count.

    Returns
    -------
    BoundaryFit or None
        None when the check does not apply: not WGS84/CGCS2000 degrees, mostly outside China,
        or no boundaries or rivers.
    """
    if not is_china_geographic(polygons.crs) or not crs_equivalent(polygons.crs, rivers.crs):
        return None
    sample, weight_deg = _boundary_sample(polygons.geometry.to_numpy(), sample_size)
    lines = rivers.geometry.to_numpy()
    lines = lines[~shapely.is_missing(lines) & ~shapely.is_empty(lines)]
    if len(sample) == 0 or len(lines) == 0 or out_of_china(*sample.T).mean() > 0.5:
        return None
    latitude = np.deg2rad(float(sample[:, 1].mean()))
    scale = np.array([_M_PER_DEG_LON_EQUATOR * np.cos(latitude), _M_PER_DEG_LAT])
    cells = _river_cells(_lines_near(lines, sample), scale, cell_m)
    lon_shift, lat_shift = _gcj02_delta(sample[:, 0].copy(), sample[:, 1].copy())
    converted = sample - np.column_stack([lon_shift, lat_shift])  # within metres of the inverse
    moved = float(np.median(np.hypot(*((converted - sample) * scale).T)))
    km = weight_deg * float(scale.mean()) / 1000.0
    near_given = _near_cells(sample * scale, cells, cell_m)
    near_after = _near_cells(converted * scale, cells, cell_m)
    points = int(max(near_given.sum(), near_after.sum()))
    decoys = [
        float(km[_near_cells(shifted * scale, cells, cell_m)].sum())
        for shifted in _decoy_shifts(sample, converted - sample, scale)
    ]
    fits = (float(km[near_given].sum()), float(km[near_after].sum()))
    return BoundaryFit(len(sample), *fits, moved, points, tuple(decoys))


def _decoy_shifts(
    sample: NDArray[np.float64], shift: NDArray[np.float64], scale: NDArray[np.float64]
) -> list[NDArray[np.float64]]:
    """The sample moved by ``shift`` (degrees) turned by 45, 90, ... 315 degrees on the ground.

    ``scale`` is metres per degree of longitude and latitude, so the turned shifts are as long
    in metres as the conversion's.
    """
    moved = []
    for step in range(1, 8):
        angle = np.deg2rad(45.0 * step)
        turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        moved.append(sample + ((shift * scale) @ turn.T) / scale)
    return moved


def _boundary_sample(
    geoms: NDArray[np.object_], size: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """At most about ``size`` boundary vertices, and the boundary length (degrees) of each."""
    polygons = geoms[~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)]
    polygons = polygons[np.isin(shapely.get_type_id(polygons), (3, 6))]
    coords = shapely.get_coordinates(shapely.boundary(polygons))
    coords = coords[np.isfinite(coords).all(axis=1)]
    if len(coords) < 2:
        return np.empty((0, 2)), np.empty(0)
    step = np.hypot(*np.diff(coords, axis=0).T)
    step[step > 0.05] = 0.0  # jumps between rings are not boundary
    weight = np.concatenate([[0.0], step]) / 2.0 + np.concatenate([step, [0.0]]) / 2.0
    every = max(1, len(coords) // size)
    return coords[::every], weight[::every] * every


def _lines_near(lines: NDArray[np.object_], sample: NDArray[np.float64]) -> NDArray[np.object_]:
    """The river lines within about 2 km of a sampled boundary point (the only ones that count).

    Rasterising every river of a national network would take minutes and gigabytes; the GCJ-02
    offset is at most about 1 km, so rivers farther from the sampled boundary points than that
    (plus a cell) can never make a point near a river.
    """
    tree = shapely.STRtree(lines)
    near = tree.query(shapely.points(sample), predicate="dwithin", distance=_NEAR_DEG)
    return lines[np.unique(near[1])]


def _river_cells(lines: NDArray[np.object_], scale: NDArray[np.float64], cell_m: float) -> Any:
    """Sorted keys of the ``cell_m`` cells that river lines pass through."""
    dense = shapely.segmentize(shapely.transform(lines, lambda xy: xy * scale), cell_m)
    xy = shapely.get_coordinates(dense)
    return np.sort(_cell_keys(xy[np.isfinite(xy).all(axis=1)], cell_m))


def _cell_keys(xy: NDArray[np.float64], cell_m: float) -> NDArray[np.int64]:
    ij = np.floor(xy / cell_m).astype(np.int64) + (1 << 30)
    return np.asarray(ij[:, 0] * (1 << 31) + ij[:, 1], dtype=np.int64)


def _near_cells(
    xy: NDArray[np.float64], cells: NDArray[np.int64], cell_m: float
) -> NDArray[np.bool_]:
    """Whether each point's cell or one of its eight neighbours holds a river."""
    near = np.zeros(len(xy), dtype=bool)
    if len(cells) == 0:
        return near
    for dx in (-cell_m, 0.0, cell_m):
        for dy in (-cell_m, 0.0, cell_m):
            keys = _cell_keys(xy + np.array([dx, dy]), cell_m)
            found = np.minimum(np.searchsorted(cells, keys), len(cells) - 1)
            near |= cells[found] == keys
    return near
