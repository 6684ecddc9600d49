"""Metric geometry of reach lines: lengths, measures, substrings and points along a reach.

Lengths are always metric: geodesic on the CRS's ellipsoid for geographic CRS (WGS84, CGCS2000)
and planar in metres for projected CRS. Measures run from a reach's upstream end (0) to its
downstream end (its length), as metres or as a fraction.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS, Geod, Transformer
from shapely.geometry.base import BaseGeometry

from rivernet.errors import InputError


def line_lengths_m(geoms: npt.ArrayLike, crs: CRS) -> npt.NDArray[np.float64]:
    """Metric length of each line (multi-part lines summed; empty or missing give 0).

    Parameters
    ----------
    geoms
        Shapely line geometries.
    crs
        Their CRS: geographic CRS give geodesic lengths on the CRS's ellipsoid, projected CRS
        give planar lengths converted to metres.

    Returns
    -------
    numpy.ndarray
        Lengths in metres.
    """
    geoms = np.asarray(geoms, dtype=object)
    if not crs.is_geographic:
        factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
        return np.nan_to_num(shapely.length(geoms)) * factor
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    coords, vertex_of = shapely.get_coordinates(parts, return_index=True)
    same = vertex_of[1:] == vertex_of[:-1]
    geod = crs.get_geod() or Geod(ellps="WGS84")
    _, _, dist = geod.inv(
        coords[:-1, 0][same], coords[:-1, 1][same], coords[1:, 0][same], coords[1:, 1][same]
    )
    per_part = np.bincount(vertex_of[1:][same], weights=dist, minlength=len(parts))
    return np.bincount(part_of, weights=per_part, minlength=len(geoms)).astype(np.float64)


def reproject(geoms: npt.NDArray[Any], source: CRS, target: CRS) -> npt.NDArray[Any]:
    """Geometries transformed from ``source`` to ``target`` (x = longitude/easting first).

    Parameters
    ----------
    geoms
        Shapely geometries.
    source, target
        The CRS to transform between.

    Returns
    -------
    numpy.ndarray
        The transformed geometries.
    """
    transformer = Transformer.from_crs(source, target, always_xy=True)

    def convert(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return np.asarray(shapely.transform(geoms, convert), dtype=object)


def substring(line: BaseGeometry, start_fraction: float, end_fraction: float) -> BaseGeometry:
    """The stretch of ``line`` between two fractions of its length (0 = upstream end).

    Parameters
    ----------
    line
        A LineString.
    start_fraction, end_fraction
        Fractions in ``[0, 1]``; ``start_fraction <= end_fraction``.

    Returns
    -------
    shapely.LineString
        The stretch (a Point if both fractions are equal).
    """
    if not 0.0 <= start_fraction <= end_fraction <= 1.0:
        raise InputError.from_key("err_geometry.stretch", start=start_fraction, end=end_fraction)
    from shapely.ops import substring as _substring

    return _substring(line, start_fraction, end_fraction, normalized=True)  # type: ignore[arg-type]


def substrings(
    lines: npt.ArrayLike, start_fractions: npt.ArrayLike, end_fractions: npt.ArrayLike
) -> npt.NDArray[np.object_]:
    """Many stretches at once: :func:`substring` of each line between its two fractions.

    The same stretches as :func:`substring` (the point at the start fraction, the line's
    vertices strictly between, the point at the end fraction, along the line's planar length),
    cut with numpy over all coordinates instead of one GEOS call per vertex: coverage maps
    cut thousands of stretches per roster version.

    Parameters
    ----------
    lines
        LineStrings (2D); other geometries, equal fractions and 3D lines are cut one by one,
        missing ones (None) give None, empty ones themselves.
    start_fractions, end_fractions
        Fractions in ``[0, 1]`` with ``start <= end``.

    Returns
    -------
    numpy.ndarray
        The stretches (object array of geometries).
    """
    lines = np.asarray(lines, dtype=object)
    start = np.asarray(start_fractions, dtype=float)
    end = np.asarray(end_fractions, dtype=float)
    out = np.empty(len(lines), dtype=object)
    simple = np.asarray(shapely.get_type_id(lines) == 1, dtype=bool) & (start < end)
    simple &= ~np.asarray(shapely.has_z(lines) | shapely.is_empty(lines), dtype=bool)
    simple &= (start >= 0.0) & (end <= 1.0)
    whole = (simple & (start <= 0.0) & (end >= 1.0)) | np.asarray(shapely.is_empty(lines))
    out[whole] = lines[whole]
    simple &= ~whole
    for k in np.flatnonzero(~simple & ~whole & ~shapely.is_missing(lines)):
        out[k] = substring(lines[k], float(start[k]), float(end[k]))
    rows = np.flatnonzero(simple)
    if rows.size:
        out[rows] = _cut(lines[rows], start[rows], end[rows])
    return out


def _cut(
    lines: npt.NDArray[np.object_], start: npt.NDArray[np.float64], end: npt.NDArray[np.float64]
) -> npt.NDArray[np.object_]:
    """Stretches of 2D LineStrings between fractions ``0 <= start < end <= 1``."""
    xy, line = shapely.get_coordinates(lines, return_index=True)
    first = np.r_[True, line[1:] != line[:-1]]
    step = np.r_[0.0, np.hypot(*np.diff(xy, axis=0).T)]
    step[first] = 0.0
    along = np.cumsum(step)
    offset = along[first]  # the running total at each line's first vertex
    along -= offset[line]
    last = np.r_[np.flatnonzero(first)[1:] - 1, len(line) - 1]
    total = along[last]
    base = np.r_[0.0, np.cumsum(total + 1.0)[:-1]]  # lines laid end to end, 1 apart
    key = along + base[line]

    def point(fraction: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        at = fraction * total
        k = np.searchsorted(key, at + base, side="right") - 1
        k = np.minimum(k, last - 1)
        length = along[k + 1] - along[k]
        ratio = np.divide(at - along[k], length, out=np.zeros_like(at), where=length > 0)
        ratio = np.clip(ratio, 0.0, 1.0)[:, None]
        return np.asarray(xy[k] + (xy[k + 1] - xy[k]) * ratio, dtype=float)

    inner = (along > (start * total)[line]) & (along < (end * total)[line])
    parts = [point(start), xy[inner], point(end)]
    owner = np.concatenate([np.arange(len(lines)), line[inner], np.arange(len(lines))])
    rank = np.concatenate([np.zeros(len(lines)), 1.0 + np.flatnonzero(inner),
                           np.full(len(lines), np.inf)])  # fmt: skip
    order = np.lexsort((rank, owner))
    coords = np.concatenate(parts)[order]
    return np.asarray(shapely.linestrings(coords, indices=owner[order]), dtype=object)


def point_at(line: BaseGeometry, fraction: float) -> BaseGeometry:
    """The point at ``fraction`` of the line's length from its upstream end."""
    return shapely.line_interpolate_point(line, fraction, normalized=True)  # type: ignore[call-overload]
