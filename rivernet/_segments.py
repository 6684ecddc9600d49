"""Kernels on line segments and points, in numpy and numba (private to the pieces and boundaries).

Segments are rows ``(x0, y0, x1, y1)`` in a CRS's units. The kernels measure them in metres,
pair the segments of two sets through a uniform grid, intersect the pairs exactly (crossing and
collinear overlaps), chop long segments, measure segment to segment distances and find the
polygons that contain points. None of them knows about reaches or admin units.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
ObjArray = npt.NDArray[np.object_]

_MAX_CELLS = 1 << 24  # largest dense grid used to pair reach and boundary segments
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON = 111_320.0


# --- metric lengths ---------------------------------------------------------------------------


def segment_lengths(xy: FloatArray, crs: CRS) -> FloatArray:
    """Metric length of each segment between consecutive vertices.

    On a geographic CRS, the length on the ellipsoid from the meridian and prime-vertical radii
    of curvature at the segment's mid-latitude: for reach segments (metres to a few km) this
    agrees with the geodesic to better than 1e-6 and needs no iteration.
    """
    if crs.is_geographic:
        ellipsoid = crs.ellipsoid
        a = ellipsoid.semi_major_metre if ellipsoid is not None else 6378137.0
        inverse_f = ellipsoid.inverse_flattening if ellipsoid is not None else 298.257223563
        f = 1.0 / inverse_f if inverse_f else 0.0
        e2 = f * (2.0 - f)
        lat = np.radians((xy[:-1, 1] + xy[1:, 1]) / 2.0)
        w = 1.0 - e2 * np.sin(lat) ** 2
        meridian = a * (1.0 - e2) / w**1.5
        normal = a / np.sqrt(w)
        dlat = np.radians(xy[1:, 1] - xy[:-1, 1])
        dlon = np.radians(xy[1:, 0] - xy[:-1, 0])
        return np.asarray(np.hypot(meridian * dlat, normal * np.cos(lat) * dlon))
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return np.hypot(*(xy[1:] - xy[:-1]).T) * factor


def metres_per_unit(xy: FloatArray, crs: CRS) -> FloatArray:
    if crs.is_geographic:
        cos = np.cos(np.radians(xy[:, 1]))
        return np.column_stack([M_PER_DEG_LON * cos, np.full(len(xy), M_PER_DEG_LAT)])
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return np.full((len(xy), 2), factor)


# --- segments ---------------------------------------------------------------------------------


def boundary_segments(geoms: ObjArray) -> FloatArray:
    """Unique boundary segments ``(x0, y0, x1, y1)`` of polygons."""
    if len(geoms) == 0:
        return np.empty((0, 4))
    lines = shapely.get_parts(shapely.boundary(geoms))
    lines = shapely.get_parts(lines)  # MultiLineString boundaries of multipolygons
    xy, owner = shapely.get_coordinates(lines, return_index=True)
    same = owner[1:] == owner[:-1]
    seg = np.column_stack([xy[:-1][same], xy[1:][same]])
    flip = (seg[:, 0] > seg[:, 2]) | ((seg[:, 0] == seg[:, 2]) & (seg[:, 1] > seg[:, 3]))
    seg[flip] = seg[flip][:, [2, 3, 0, 1]]
    seg = seg[(seg[:, 0] != seg[:, 2]) | (seg[:, 1] != seg[:, 3])]
    if len(seg) == 0:
        return seg
    order = np.lexsort(seg.T[::-1])
    seg = seg[order]
    fresh = np.ones(len(seg), dtype=bool)
    fresh[1:] = (seg[1:] != seg[:-1]).any(axis=1)
    return seg[fresh]


def chop(segments: FloatArray, max_length: float) -> FloatArray:
    """Split segments longer than ``max_length`` (CRS units) into equal parts."""
    length = np.hypot(segments[:, 2] - segments[:, 0], segments[:, 3] - segments[:, 1])
    parts = np.maximum(np.ceil(length / max_length), 1).astype(np.int64)
    owner = np.repeat(np.arange(len(segments)), parts)
    rank = ranks(parts)
    start = (rank / parts[owner])[:, None]
    end = ((rank + 1) / parts[owner])[:, None]
    a, b = segments[owner, :2], segments[owner, 2:]
    return np.column_stack([a + (b - a) * start, a + (b - a) * end])


def grid_cuts(
    p0: FloatArray, p1: FloatArray, segments: FloatArray, cell: float
) -> tuple[FloatArray, IntArray]:
    """Where segments ``p0 -> p1`` meet the ``segments``: parameters along ``p0 -> p1``.

    The boundary segments are binned once into a dense grid of ``cell``-sized cells; a compiled
    loop then visits each reach segment's cells and intersects it with the boundary segments
    found there, without materialising the candidate pairs. A crossing gives one parameter; a
    collinear overlap gives the two ends of the shared stretch. A pair met in several cells
    repeats its parameters (callers drop repeated measures).

    Returns
    -------
    tuple of numpy.ndarray
        The parameters (0..1) and the index of the ``p0 -> p1`` segment each belongs to.
    """
    b0, b1 = segments[:, :2], segments[:, 2:]
    corners = np.stack([xy_bounds(p0), xy_bounds(p1), xy_bounds(b0), xy_bounds(b1)])
    origin, top = corners[:, :2].min(axis=0), corners[:, 2:].max(axis=0)
    while np.prod(np.floor((top - origin) / cell) + 2) > _MAX_CELLS:
        cell *= 2.0
    rows = int(np.floor((top[1] - origin[1]) / cell)) + 2
    columns = int(np.floor((top[0] - origin[0]) / cell)) + 2
    owner_b, cell_b = _cells(b0, b1, origin, cell, rows)
    order = np.argsort(cell_b, kind="stable")
    start = np.searchsorted(cell_b[order], np.arange(rows * columns + 1)).astype(np.int64)
    return _grid_cut_kernel(
        np.ascontiguousarray(p0),
        np.ascontiguousarray(p1),
        np.ascontiguousarray(segments),
        start,
        owner_b[order].astype(np.int64),
        float(origin[0]),
        float(origin[1]),
        cell,
        rows,
    )


def xy_bounds(xy: FloatArray) -> FloatArray:
    """``(min x, min y, max x, max y)`` of an ``(n, 2)`` coordinate array, in one pass."""
    if len(xy) == 0:
        return np.array([np.inf, np.inf, -np.inf, -np.inf])
    return _bounds_kernel(np.ascontiguousarray(xy, dtype=np.float64))


@numba.njit(cache=True)
def _bounds_kernel(xy: FloatArray) -> FloatArray:
    out = np.array([xy[0, 0], xy[0, 1], xy[0, 0], xy[0, 1]])
    for i in range(xy.shape[0]):
        out[0] = min(out[0], xy[i, 0])
        out[1] = min(out[1], xy[i, 1])
        out[2] = max(out[2], xy[i, 0])
        out[3] = max(out[3], xy[i, 1])
    return out


@numba.njit(cache=True)
def _grid_cut_kernel(
    p0: FloatArray,
    p1: FloatArray,
    segments: FloatArray,
    start: IntArray,
    owner: IntArray,
    origin_x: float,
    origin_y: float,
    cell: float,
    rows: int,
) -> tuple[FloatArray, IntArray]:
    """The compiled loop of :func:`grid_cuts`: closed-form segment intersection per pair."""
    tol = 1e-12
    capacity = 1024
    params = np.empty(capacity)
    which = np.empty(capacity, dtype=np.int64)
    found = 0
    for i in range(p0.shape[0]):
        ax, ay, rx, ry = p0[i, 0], p0[i, 1], p1[i, 0] - p0[i, 0], p1[i, 1] - p0[i, 1]
        low_x = int(np.floor((min(ax, p1[i, 0]) - origin_x) / cell))
        high_x = int(np.floor((max(ax, p1[i, 0]) - origin_x) / cell))
        low_y = int(np.floor((min(ay, p1[i, 1]) - origin_y) / cell))
        high_y = int(np.floor((max(ay, p1[i, 1]) - origin_y) / cell))
        r_norm = np.hypot(rx, ry)
        rr = max(rx * rx + ry * ry, 1e-300)
        for cx in range(low_x, high_x + 1):
            for cy in range(low_y, high_y + 1):
                c = cx * rows + cy
                for k in range(start[c], start[c + 1]):
                    j = owner[k]
                    qx, qy = segments[j, 0] - ax, segments[j, 1] - ay
                    sx, sy = segments[j, 2] - segments[j, 0], segments[j, 3] - segments[j, 1]
                    den = rx * sy - ry * sx
                    if found + 2 > capacity:
                        capacity *= 2
                        params = _grown(params, capacity)
                        which = _grown_int(which, capacity)
                    if abs(den) > 1e-12 * r_norm * np.hypot(sx, sy):
                        t = (qx * sy - qy * sx) / den
                        u = (qx * ry - qy * rx) / den
                        if -tol <= t <= 1 + tol and -tol <= u <= 1 + tol:
                            params[found] = min(max(t, 0.0), 1.0)
                            which[found] = i
                            found += 1
                        continue
                    if abs(qx * ry - qy * rx) > 1e-12 * max(rr, qx * qx + qy * qy):
                        continue  # parallel, not collinear
                    t0 = (qx * rx + qy * ry) / rr
                    t1 = ((qx + sx) * rx + (qy + sy) * ry) / rr
                    lo, hi = min(t0, t1), max(t0, t1)
                    if hi >= -tol and lo <= 1 + tol:
                        params[found] = min(max(lo, 0.0), 1.0)
                        params[found + 1] = min(max(hi, 0.0), 1.0)
                        which[found] = i
                        which[found + 1] = i
                        found += 2
    return params[:found], which[:found]


@numba.njit(cache=True)
def _grown(values: FloatArray, capacity: int) -> FloatArray:
    out = np.empty(capacity)
    out[: values.shape[0]] = values
    return out


@numba.njit(cache=True)
def _grown_int(values: IntArray, capacity: int) -> IntArray:
    out = np.empty(capacity, dtype=np.int64)
    out[: values.shape[0]] = values
    return out


def _cells(
    start: FloatArray, end: FloatArray, origin: FloatArray, cell: float, rows: int
) -> tuple[IntArray, IntArray]:
    """(segment, cell id) for every grid cell a segment's bounding box touches."""
    low = np.floor((np.minimum(start, end) - origin) / cell).astype(np.int64)
    high = np.floor((np.maximum(start, end) - origin) / cell).astype(np.int64)
    single = (low == high).all(axis=1)
    one = np.flatnonzero(single)
    many = np.flatnonzero(~single)
    ny = high[many, 1] - low[many, 1] + 1
    count = (high[many, 0] - low[many, 0] + 1) * ny
    index = np.repeat(np.arange(len(many), dtype=np.int64), count)
    rank = ranks(count)
    cx = low[many, 0][index] + rank // ny[index]
    cy = low[many, 1][index] + rank % ny[index]
    owner = np.concatenate([one, many[index]])
    ids = np.concatenate([low[one, 0] * rows + low[one, 1], cx * rows + cy])
    return owner.astype(np.int64), ids


def ranks(count: IntArray) -> IntArray:
    """0..count-1 for each entry of count, concatenated."""
    total = int(count.sum())
    if total == 0:
        return np.empty(0, np.int64)
    starts = np.repeat(np.cumsum(count) - count, count)
    return np.arange(total, dtype=np.int64) - starts


# --- intersections and distances --------------------------------------------------------------


def _point_segment_distance(p: FloatArray, a: FloatArray, b: FloatArray) -> FloatArray:
    ab = b - a
    denominator = np.maximum((ab * ab).sum(axis=1), 1e-300)
    t = np.clip(((p - a) * ab).sum(axis=1) / denominator, 0.0, 1.0)
    closest = a + ab * t[:, None]
    return np.asarray(np.hypot(*(p - closest).T))


def segment_distance(p0: FloatArray, p1: FloatArray, q0: FloatArray, q1: FloatArray) -> FloatArray:
    """Smallest distance between the ends of either segment and the other segment."""
    return np.minimum.reduce(
        [
            _point_segment_distance(p0, q0, q1),
            _point_segment_distance(p1, q0, q1),
            _point_segment_distance(q0, p0, p1),
            _point_segment_distance(q1, p0, p1),
        ]
    )


# --- points in polygons -----------------------------------------------------------------------


def hits_xy(xy: FloatArray, polygons: ObjArray) -> tuple[IntArray, IntArray]:
    """All ``(point, polygon)`` pairs where a point lies in or on a polygon.

    Points are sorted by x once; each (prepared) polygon tests only the points inside its
    bounding box, without creating point geometries.
    """
    if len(polygons) == 0 or len(xy) == 0:
        empty = np.empty(0, np.int64)
        return empty, empty
    shapely.prepare(polygons)
    order = np.argsort(xy[:, 0], kind="stable")
    xs, ys = xy[order, 0], xy[order, 1]
    bounds = shapely.bounds(polygons)
    lows = np.searchsorted(xs, bounds[:, 0], side="left")
    highs = np.searchsorted(xs, bounds[:, 2], side="right")
    points, polys = [], []
    for i in np.flatnonzero(highs > lows):
        lo, hi = lows[i], highs[i]
        y = ys[lo:hi]
        inside = np.flatnonzero((y >= bounds[i, 1]) & (y <= bounds[i, 3])) + lo
        if len(inside) == 0:
            continue
        hit = inside[shapely.intersects_xy(polygons[i], xs[inside], ys[inside])]
        points.append(order[hit])
        polys.append(np.full(len(hit), i, dtype=np.int64))
    if not points:
        empty = np.empty(0, np.int64)
        return empty, empty
    return np.concatenate(points).astype(np.int64), np.concatenate(polys)
