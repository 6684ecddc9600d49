"""Snapping points (sign boards, monitoring sections, incidents) onto reaches.

Points are matched to the nearest reach in a local metric projection (UTM for geographic data)
with a spatial index; the measure along the reach is returned in metres from its upstream end
and as a fraction, and the distance is geodesic. Points beyond the limit are reported, never
attached to a far-away river.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS

from rivernet._errors import InputError, SnapWarning, format_ids
from rivernet.crs import metric_crs_for
from rivernet.geometry import reproject

if TYPE_CHECKING:
    from rivernet.network import RiverNetwork


def snap_points(net: RiverNetwork, points: Any, *, max_distance_m: float) -> pd.DataFrame:
    """Snap points to the nearest reach of ``net``; see :meth:`RiverNetwork.snap`."""
    if not np.isfinite(max_distance_m) or max_distance_m <= 0:
        raise InputError(f"max_distance_m must be a positive number, got {max_distance_m}.")
    geoms, index = _as_points(points, net.crs)
    index_tree, projected, metric = _projected_reaches(net)
    metric_points = reproject(geoms, net.crs, metric)
    hit_point, hit_reach = index_tree.query_nearest(
        metric_points, max_distance=max_distance_m, all_matches=False
    )
    result = pd.DataFrame(
        {
            "reach_id": pd.Series([None] * len(geoms), dtype=object),
            "measure_m": np.nan,
            "measure_fraction": np.nan,
            "distance_m": np.nan,
            "snapped": False,
        }
    )
    lines = projected[hit_reach]
    fraction = shapely.line_locate_point(lines, metric_points[hit_point], normalized=True)
    nearest_metric = shapely.line_interpolate_point(lines, fraction, normalized=True)
    nearest = reproject(nearest_metric, metric, net.crs)
    result.loc[hit_point, "reach_id"] = net.ids[hit_reach]
    result.loc[hit_point, "measure_fraction"] = fraction
    result.loc[hit_point, "measure_m"] = fraction * net.reaches["length_m"].to_numpy()[hit_reach]
    result.loc[hit_point, "distance_m"] = _distance_m(geoms[hit_point], nearest, net.crs)
    result.loc[hit_point, "snapped"] = True
    result.index = index
    _warn_unsnapped(result, max_distance_m)
    return result


def _as_points(points: Any, crs: CRS) -> tuple[npt.NDArray[Any], pd.Index]:
    """Point geometries in ``crs`` and the index to report them by."""
    if isinstance(points, gpd.GeoDataFrame):
        points = points.geometry
    if isinstance(points, gpd.GeoSeries):
        if points.crs is not None and not CRS(points.crs).equals(crs):
            points = points.to_crs(crs)
        geoms, index = points.to_numpy(), points.index
    else:
        items = list(points) if not isinstance(points, shapely.Geometry) else [points]
        geoms = np.array(
            [p if isinstance(p, shapely.Geometry) else shapely.Point(*p) for p in items],
            dtype=object,
        )
        index = pd.RangeIndex(len(geoms))
    types = np.asarray(shapely.get_type_id(geoms))
    bad = np.flatnonzero((types != 0) | shapely.is_empty(geoms))
    if bad.size:
        raise InputError(f"snap takes points; items {format_ids(index[bad])} are not points.")
    return geoms, index


def _projected_reaches(net: RiverNetwork) -> tuple[shapely.STRtree, npt.NDArray[Any], CRS]:
    """A spatial index over the reaches in a metric CRS (cached on the network)."""
    cached = net.__dict__.get("_snap_index")
    if cached is not None:
        return cached
    metric = metric_crs_for(net.reaches)
    projected = reproject(net.reaches.geometry.to_numpy(), net.crs, metric)
    built = (shapely.STRtree(projected), projected, metric)
    net.__dict__["_snap_index"] = built
    return built


def _distance_m(
    points: npt.NDArray[Any], nearest: npt.NDArray[Any], crs: CRS
) -> npt.NDArray[np.float64]:
    """Geodesic (or planar metric) distance between matching points."""
    a, b = shapely.get_coordinates(points), shapely.get_coordinates(nearest)
    if crs.is_geographic:
        geod = crs.get_geod()
        assert geod is not None
        return np.asarray(geod.inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1])[2])
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return np.hypot(*(b - a).T) * factor


def _warn_unsnapped(result: pd.DataFrame, max_distance_m: float) -> None:
    """Name the points that found no reach within the limit."""
    missed = result.index[~result["snapped"].to_numpy(dtype=bool)]
    if len(missed):
        warnings.warn(
            f"{len(missed)} point(s) ({format_ids(missed)}) are farther than {max_distance_m:g} m "
            "from every reach and were not snapped; raise max_distance_m or check their CRS "
            "(GCJ-02 coordinates are offset by hundreds of metres).",
            SnapWarning,
            stacklevel=3,
        )
