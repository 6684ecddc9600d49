"""Snapping points (sign boards, monitoring sections, incidents) onto reaches.

Points are matched to the nearest reach in a local metric projection (UTM for geographic data)
with a spatial index (:attr:`RiverNetwork.snap_index`, built once per network); the measure
along the reach is returned in metres from its upstream end and as a fraction, and the distance
is geodesic. Points beyond the limit are reported, never attached to a far-away river.

:func:`snap_points` snaps many points and reports those beyond the limit with a warning;
:func:`snap_point` snaps one point and raises :class:`~rivernet.errors.OutOfRangeError` when it
is too far from every river. Every question asked at a point (``chiefs_at``, ``incident``, the
server's point endpoints) goes through :func:`snap_point`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS

from rivernet import messages
from rivernet.crs import metric_crs_for
from rivernet.errors import InputError, OutOfRangeError, SnapWarning
from rivernet.geometry import reproject
from rivernet.messages import Message

if TYPE_CHECKING:
    from rivernet.network import RiverNetwork

__all__ = ["SnapIndex", "SnappedPoint", "snap_point", "snap_points"]


def snap_points(net: RiverNetwork, points: Any, *, max_distance_m: float) -> pd.DataFrame:
    """Snap points to the nearest reach of ``net``; see :meth:`RiverNetwork.snap`."""
    if not np.isfinite(max_distance_m) or max_distance_m <= 0:
        raise InputError.from_key("err_snap.bad_max_distance", value=max_distance_m)
    geoms, labels = _as_points(points, net.crs)
    index = net.snap_index
    index_tree, projected, metric = index.tree, index.lines, index.crs
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
    result.index = labels
    _warn_unsnapped(result, max_distance_m)
    return result


@dataclass(frozen=True)
class SnappedPoint:
    """A point placed on the network.

    Attributes
    ----------
    reach_id
        The nearest reach.
    measure_m
        Metres from the reach's upstream end.
    distance_m
        Distance from the point to the reach (geodesic).
    """

    reach_id: Any
    measure_m: float
    distance_m: float


def snap_point(
    net: RiverNetwork, point: Any, *, max_distance_m: float, limit_name: str = "max_distance_m"
) -> SnappedPoint:
    """Place one point on its nearest reach, or refuse when every reach is too far.

    Parameters
    ----------
    net
        The network.
    point
        A shapely point or an ``(x, y)`` pair in the network's CRS.
    max_distance_m
        The largest distance (metres) accepted between the point and its reach.
    limit_name
        What the caller calls the limit, for the message (``max_snap_m``, ``--max-snap-m``).

    Returns
    -------
    SnappedPoint
        The reach, the measure on it and the distance.

    Raises
    ------
    InputError
        If ``max_distance_m`` is not a positive number or the point is not a point.
    OutOfRangeError
        If the nearest reach is farther than ``max_distance_m`` (the message gives the
        distance found, so the caller can decide to raise the limit).
    """
    if not (np.isfinite(max_distance_m) and max_distance_m > 0):
        raise InputError.from_key("err_snap.bad_max_distance", value=max_distance_m)
    if isinstance(point, tuple | list) and len(point) == 2:
        point = shapely.Point(float(point[0]), float(point[1]))
    geoms, _ = _as_points(point, net.crs)
    if len(geoms) != 1:
        raise InputError.from_key("err_snap.one_point", count=len(geoms))
    point = geoms[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SnapWarning)
        row = snap_points(net, geoms, max_distance_m=1e7).iloc[0]
    if not bool(row["snapped"]) or float(row["distance_m"]) > max_distance_m:
        far = (Message("error.very_far") if not bool(row["snapped"])
               else Message("error.metres", value=f"{row['distance_m']:.0f}"))  # fmt: skip
        raise OutOfRangeError.from_key(
            "error.point_too_far", point=f"({point.x:g}, {point.y:g})", far=far, limit=limit_name,
            max=f"{max_distance_m:g}", crs=net.crs.to_string(),
        )  # fmt: skip
    return SnappedPoint(row["reach_id"], float(row["measure_m"]), float(row["distance_m"]))


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
        raise InputError.from_key("err_snap.not_points", items=messages.items(index[bad]))
    return geoms, index


@dataclass(frozen=True)
class SnapIndex:
    """The reaches in a local metric CRS with an STRtree over them.

    Attributes
    ----------
    tree
        The spatial index.
    lines
        The reach lines in ``crs``, by reach position.
    crs
        The metric CRS (UTM for geographic networks).
    """

    tree: shapely.STRtree
    lines: npt.NDArray[Any]
    crs: CRS

    @classmethod
    def build(cls, net: RiverNetwork) -> SnapIndex:
        """Project the network's reaches and index them."""
        metric = metric_crs_for(net.reaches)
        projected = reproject(net.reaches.geometry.to_numpy(), net.crs, metric)
        return cls(shapely.STRtree(projected), projected, metric)


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
        message = Message("warn_snap.unsnapped", count=len(missed), ids=messages.items(missed),
                          max=f"{max_distance_m:g}")  # fmt: skip
        warnings.warn(SnapWarning(message), stacklevel=3)
