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
        raise InputError(
            f"a stretch must satisfy 0 <= from <= to <= 1 (as fractions), got "
            f"{start_fraction}..{end_fraction}; measures run from the upstream end."
        )
    from shapely.ops import substring as _substring

    return _substring(line, start_fraction, end_fraction, normalized=True)  # type: ignore[arg-type]


def point_at(line: BaseGeometry, fraction: float) -> BaseGeometry:
    """The point at ``fraction`` of the line's length from its upstream end."""
    return shapely.line_interpolate_point(line, fraction, normalized=True)  # type: ignore[call-overload]
