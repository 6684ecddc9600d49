"""Cross-boundary responsibility: pieces, handover sections (交接断面) and boundary rivers (界河).

Every responsibility question is answered on *pieces*: the network cut at every admin boundary of
every level that has polygons (province, city, county). A piece is the stretch ``from_m .. to_m``
of one reach (metres from its upstream end) that lies in one unit at each level.

How the cut works (fast and exact, all vectorised with shapely 2 and numpy):

1. the reach lines are exploded into vertex arrays with their cumulative metric measures
   (geodesic for geographic CRS, exactly as :attr:`RiverNetwork.reaches` ``length_m``);
2. the unit boundaries of all levels are exploded into segments and put in an ``STRtree``;
3. every reach segment is intersected with the boundary segments it may touch with the closed
   form segment/segment formula: a crossing gives the parameter of the cut, a reach segment that
   runs along a boundary (collinear) is cut where the shared stretch begins and ends;
4. cut parameters become measures; a piece's length is the difference of two measures of its
   reach, so the pieces of a reach add up exactly to its length;
5. each piece takes, at each level, the unit that contains its midpoint (one prepared polygon
   query per unit over a tree of midpoints). A midpoint on a shared boundary (a river drawn on
   the boundary line) takes the unit with the lowest code and the piece is marked
   ``on_boundary``. Codes are then made consistent down the hierarchy: a county's city and
   province come from its code (``parent_code``), so differently generalised levels never give a
   piece a county in one city and a city-level code of another;
6. pieces shorter than ``min_piece_m`` (digitising noise along borders) join their neighbour and
   adjacent pieces with identical codes are merged.

Lakes: HydroRIVERS draws straight artificial flow paths across lakes (about 89 across Lake
Taihu). Pieces whose midpoint lies in a lake polygon carry its ``lake_id``. Crossings inside a
lake are kept (water does pass from one unit to another through the lake, e.g. from Huzhou in
Zhejiang into the Jiangsu part of Taihu) but are flagged ``in_lake``: their point is where the
artificial flow path crosses the boundary, not a river cross-section, and the lake's chiefs
(湖长) rather than river chiefs handle them; pass ``include_lakes=False`` to drop them. Boundary
rivers are never looked for inside lakes (a flow path running along a boundary in a lake is not a
river forming a boundary).
"""

from __future__ import annotations

import logging
import math
import warnings
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS

from rivernet._errors import (
    AdminUnitsError,
    CRSError,
    DataQualityWarning,
    InputError,
    PolicyError,
    format_ids,
)
from rivernet.admin import LEVELS, AdminProblem

if TYPE_CHECKING:
    from rivernet.project import Project

__all__ = [
    "PIECE_LEVELS",
    "RULES",
    "boundary_rivers",
    "crossings",
    "gap_problems",
    "responsibility_pieces",
]

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
ObjArray = npt.NDArray[np.object_]

PIECE_LEVELS: tuple[str, ...] = ("province", "city", "county")
RULES: tuple[str, ...] = ("split_by_bank", "split_by_length", "escalate")
_MAX_CHIEFS_SHOWN = 4
# Id prefixes of crossings and boundary stretches: P province, C city, X county (县 xian).
_LEVEL_PREFIX = {"province": "P", "city": "C", "county": "X"}
_MAX_CELLS = 1 << 24  # largest dense grid used to pair reach and boundary segments
_EPS_M = 1e-6  # cuts closer than this (metres) are one cut
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON = 111_320.0

# Results cached per project object (keyed weakly, so closing a project frees them).
_CACHE: weakref.WeakKeyDictionary[Any, dict[Any, Any]] = weakref.WeakKeyDictionary()


# --- reach vertices ---------------------------------------------------------------------------


@dataclass(eq=False)
class Vertices:
    """The reach lines as flat vertex arrays with measures (private building block).

    Attributes
    ----------
    xy
        Vertex coordinates in the network CRS, reach after reach.
    offsets
        ``offsets[p] .. offsets[p + 1]`` are the vertices of reach position ``p``.
    owner
        Reach position of each vertex.
    measure
        Metres from the reach's upstream end at each vertex.
    seg_len
        Metric length of the segment starting at each vertex (0 at a reach's last vertex).
    length
        Reach lengths (the network's ``length_m``).
    key
        ``base[reach] + measure``: one increasing key over all reaches, for searchsorted.
    base
        Offset of each reach in ``key``.
    crs
        The CRS of ``xy``.
    """

    xy: FloatArray
    offsets: IntArray
    owner: IntArray
    measure: FloatArray
    seg_len: FloatArray
    length: FloatArray
    key: FloatArray
    base: FloatArray
    crs: CRS

    @cached_property
    def scale(self) -> FloatArray:
        """Metres per CRS unit in x and y near each vertex (computed on first use)."""
        return _metres_per_unit(self.xy, self.crs)

    def locate(self, positions: IntArray, measures: FloatArray) -> tuple[IntArray, FloatArray]:
        """Segment (start vertex) and fraction within it of each ``(position, measure)``."""
        keys = self.base[positions] + measures
        vertex = np.searchsorted(self.key, keys, side="right") - 1
        vertex = np.clip(vertex, self.offsets[positions], self.offsets[positions + 1] - 2)
        seg = self.seg_len[vertex]
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(seg > 0, (measures - self.measure[vertex]) / seg, 0.0)
        return vertex, np.clip(frac, 0.0, 1.0)

    def point_xy(self, positions: IntArray, measures: FloatArray) -> FloatArray:
        """Coordinates of the points at ``measures`` along the reaches at ``positions``."""
        vertex, frac = self.locate(positions, measures)
        start, end = self.xy[vertex], self.xy[vertex + 1]
        return start + frac[:, None] * (end - start)

    def tangent(self, positions: IntArray, measures: FloatArray) -> FloatArray:
        """Unit flow direction (in metres, east/north) at each point."""
        vertex, _ = self.locate(positions, measures)
        delta = (self.xy[vertex + 1] - self.xy[vertex]) * self.scale[vertex]
        norm = np.hypot(delta[:, 0], delta[:, 1])
        norm[norm == 0] = 1.0
        return delta / norm[:, None]


def reach_vertices(project: Project) -> Vertices:
    """The network's reaches as :class:`Vertices` (cached on the project).

    Parameters
    ----------
    project
        The project.

    Returns
    -------
    Vertices
        The vertex arrays.
    """
    cache = _cache(project)
    if "vertices" not in cache:
        cache["vertices"] = _build_vertices(project.network.reaches, project.network.crs)
    return cache["vertices"]


def _build_vertices(reaches: gpd.GeoDataFrame, crs: CRS) -> Vertices:
    geoms = reaches.geometry.to_numpy()
    xy, owner = shapely.get_coordinates(geoms, return_index=True)
    n = len(geoms)
    offsets = np.searchsorted(owner, np.arange(n + 1)).astype(np.int64)
    bad = np.flatnonzero((shapely.get_type_id(geoms) != 1) | (np.diff(offsets) < 2))
    if bad.size:
        raise InputError(
            f"reaches {format_ids(reaches.index[bad])} are not simple LineStrings; cutting at "
            "boundaries needs one line per reach (merge parts with shapely.line_merge or split "
            "them into separate reaches)"
        )
    same = owner[1:] == owner[:-1]
    seg = np.zeros(len(xy))
    seg[:-1] = np.where(same, _segment_lengths(xy, crs), 0.0)
    length = reaches["length_m"].to_numpy(dtype=np.float64)
    # scale each reach's segments so that they add up to its length_m exactly
    total = np.bincount(owner, weights=seg, minlength=n)
    factor = np.divide(length, total, out=np.ones(n), where=total > 0)
    seg *= factor[owner]
    cumulative = np.concatenate([[0.0], np.cumsum(seg[:-1])])
    measure = cumulative - cumulative[offsets[:-1]][owner]
    base = np.concatenate([[0.0], np.cumsum(length[:-1] + 1.0)])
    owner = owner.astype(np.int64)
    return Vertices(xy, offsets, owner, measure, seg, length, base[owner] + measure, base, crs)


def _segment_lengths(xy: FloatArray, crs: CRS) -> FloatArray:
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


def _metres_per_unit(xy: FloatArray, crs: CRS) -> FloatArray:
    if crs.is_geographic:
        cos = np.cos(np.radians(xy[:, 1]))
        return np.column_stack([_M_PER_DEG_LON * cos, np.full(len(xy), _M_PER_DEG_LAT)])
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return np.full((len(xy), 2), factor)


# --- admin units ------------------------------------------------------------------------------


@dataclass(eq=False)
class Units:
    """Admin units with polygons, checked and split by level (private building block).

    Attributes
    ----------
    codes, names, levels, parents
        Per unit (all rows of the table).
    geoms
        Polygons (None where a unit has none).
    by_level
        Row numbers of the units with polygons at each level of :data:`PIECE_LEVELS`.
    row_of
        Row number by code.
    metres_per_unit
        Rough metres per CRS unit (for tolerances).
    """

    codes: ObjArray
    names: ObjArray
    levels: ObjArray
    parents: ObjArray
    geoms: ObjArray
    by_level: dict[str, IntArray]
    row_of: dict[str, int]
    metres_per_unit: float = 1.0

    def name(self, code: object) -> object:
        """The name of a unit (None for None)."""
        row = self.row_of.get(str(code)) if code is not None else None
        return None if row is None else self.names[row]

    def ancestors(self, code: str) -> list[str]:
        """The unit and its superiors present in the table, lowest first."""
        chain: list[str] = []
        current: object = code
        while current is not None and str(current) in self.row_of and len(chain) < 8:
            chain.append(str(current))
            parent = self.parents[self.row_of[str(current)]]
            current = None if parent is None or pd.isna(parent) else parent
        return chain


def admin_units(project: Project) -> Units:
    """The project's admin units, checked (cached on the project).

    Raises
    ------
    CRSError
        If the units' CRS differs from the network's.
    AdminUnitsError
        If columns are missing or polygons are invalid.
    """
    cache = _cache(project)
    if "units" not in cache:
        cache["units"] = _check_units(project.admin_units, project.network.crs)
    return cache["units"]


def _check_units(gdf: gpd.GeoDataFrame, crs: CRS) -> Units:
    from rivernet.crs import crs_equivalent

    missing = [c for c in ("code", "level") if c not in gdf.columns]
    if missing:
        raise AdminUnitsError(
            f"admin units lack the column(s) {', '.join(missing)}; build them with "
            "rivernet.admin.admin_units_from_frame"
        )
    if gdf.crs is None or not crs_equivalent(gdf.crs, crs):
        raise CRSError(
            f"admin units are in {CRS(gdf.crs).name if gdf.crs else 'no CRS'} but the network "
            f"is in {crs.name}; convert them first: units.to_crs(network.crs) (GCJ-02 data with "
            "rivernet.crs.to_wgs84)"
        )
    geoms = gdf.geometry.to_numpy()
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    codes = gdf["code"].astype(str).to_numpy(dtype=object)
    _require_polygons(codes, geoms, present)
    levels = gdf["level"].to_numpy(dtype=object)
    names = gdf["name"].to_numpy(dtype=object) if "name" in gdf.columns else codes.copy()
    if "parent_code" in gdf.columns:
        parents = np.array([None if pd.isna(c) else str(c) for c in gdf["parent_code"]], object)
    else:
        from rivernet.admin import parent_code

        parents = np.array([parent_code(c) for c in codes], dtype=object)
    by_level = {
        level: np.flatnonzero(present & (levels == level)).astype(np.int64)
        for level in PIECE_LEVELS
    }
    row_of = {str(code): row for row, code in enumerate(codes)}
    unit = (
        _M_PER_DEG_LAT
        if crs.is_geographic
        else float(_metres_per_unit(np.zeros((1, 2)), crs)[0, 0])
    )
    return Units(codes, names, levels, parents, geoms, by_level, row_of, unit)


def _require_polygons(codes: ObjArray, geoms: ObjArray, present: npt.NDArray[np.bool_]) -> None:
    kinds = shapely.get_type_id(geoms)
    problems = [
        f"- unit {codes[row]}: geometry is a {geoms[row].geom_type}, not a (Multi)Polygon"
        for row in np.flatnonzero(present & ~np.isin(kinds, (3, 6)))
    ]
    invalid = np.flatnonzero(present & ~shapely.is_valid(geoms))
    problems += [
        f"- unit {codes[row]}: invalid polygon ({shapely.is_valid_reason(geoms[row])})"
        for row in invalid
    ]
    if problems:
        raise AdminUnitsError(
            f"{len(problems)} admin unit geometries cannot be used to cut the network:\n"
            + "\n".join(problems)
            + "\nrepair them with units.geometry = units.geometry.make_valid() and check the "
            "result (rivernet.admin.validate_admin_units)"
        )


def _boundary_segments(geoms: ObjArray) -> FloatArray:
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


def gap_problems(gdf: gpd.GeoDataFrame, *, tolerance_m2: float = 10_000.0) -> list[AdminProblem]:
    """Gaps between child units: parts of a unit that none of its children cover.

    Plug it into :func:`rivernet.admin.validate_admin_units` through ``extra_checks``. Only
    parents whose children are in the table are checked (a table may hold a province and just
    the counties of one basin: then every county-less area of the province is a gap, and the
    message says so).

    Parameters
    ----------
    gdf
        The admin units (``code``, ``level``, ``parent_code``, polygons, a CRS).
    tolerance_m2
        Gaps smaller than this (square metres; digitising slivers) are ignored.

    Returns
    -------
    list of AdminProblem
        One ``gap`` problem per parent with uncovered area.
    """
    from rivernet.crs import metric_crs_for

    if gdf.crs is None or "parent_code" not in gdf.columns or len(gdf) == 0:
        return []
    usable = gdf[~gdf.geometry.isna() & ~gdf.geometry.is_empty & gdf.geometry.is_valid]
    metric = usable.to_crs(metric_crs_for(usable))
    geoms = dict(zip(metric["code"].astype(str), metric.geometry.to_numpy(), strict=True))
    children: dict[str, list[Any]] = {}
    for code, parent in zip(metric["code"].astype(str), metric["parent_code"], strict=True):
        if isinstance(parent, str) and parent in geoms:
            children.setdefault(parent, []).append(geoms[code])
    problems = []
    for parent, parts in sorted(children.items()):
        area = float(shapely.area(shapely.difference(geoms[parent], shapely.union_all(parts))))
        if area > tolerance_m2:
            problems.append(
                AdminProblem(
                    "gap",
                    f"unit {parent}: {area / 1e6:.3f} km² of it lies in none of its "
                    f"{len(parts)} child unit(s) in the table; add the missing children or "
                    "fix their boundaries (rivers there get no code at the child level)",
                    (parent,),
                )
            )
    return problems


# --- cutting ----------------------------------------------------------------------------------


def _cut_measures(vertices: Vertices, segments: FloatArray) -> tuple[IntArray, FloatArray]:
    """Reach positions and measures where reaches cross or start/stop running along a boundary.

    Candidate pairs of reach segments and boundary segments come from a uniform grid (cells
    about six reach segments wide; boundary segments are chopped to at most one cell), all in
    numpy; each pair is then intersected exactly.
    """
    if len(segments) == 0 or len(vertices.xy) < 2:
        return np.empty(0, np.int64), np.empty(0)
    starts = np.flatnonzero(np.diff(vertices.owner) == 0)
    p0, p1 = vertices.xy[starts], vertices.xy[starts + 1]
    extent = np.maximum(np.abs(p1[:, 0] - p0[:, 0]), np.abs(p1[:, 1] - p0[:, 1]))
    cell = 6.0 * float(np.median(extent)) if len(extent) else 1.0
    span = float(np.ptp(vertices.xy, axis=0).max()) or 1.0
    cell = max(cell, span / 4096.0) if cell > 0 else span / 1024.0
    chopped = _chop(segments, cell)
    ia, ib = _grid_pairs(p0, p1, chopped[:, :2], chopped[:, 2:], cell)
    t_values, index = _segment_intersections(p0[ia], p1[ia], chopped[ib])
    vertex = starts[ia[index]]
    measures = vertices.measure[vertex] + t_values * vertices.seg_len[vertex]
    return vertices.owner[vertex], measures


def _grid_pairs(
    a0: FloatArray, a1: FloatArray, b0: FloatArray, b1: FloatArray, cell: float
) -> tuple[IntArray, IntArray]:
    """Pairs of segments (a, b) whose bounding boxes share a grid cell (duplicates possible).

    The b segments are binned once into a dense cell table; each a segment then reads the b
    segments of its cells directly.
    """
    origin = np.minimum(np.minimum(a0, a1).min(axis=0), np.minimum(b0, b1).min(axis=0))
    top = np.maximum(np.maximum(a0, a1).max(axis=0), np.maximum(b0, b1).max(axis=0))
    while np.prod(np.floor((top - origin) / cell) + 2) > _MAX_CELLS:
        cell *= 2.0
    rows = int(np.floor((top[1] - origin[1]) / cell)) + 2
    columns = int(np.floor((top[0] - origin[0]) / cell)) + 2
    owner_b, cell_b = _cells(b0, b1, origin, cell, rows)
    order = np.argsort(cell_b, kind="stable")
    owner_b = owner_b[order]
    start = np.searchsorted(cell_b[order], np.arange(rows * columns + 1)).astype(np.int64)
    owner_a, cell_a = _cells(a0, a1, origin, cell, rows)
    first = start[cell_a]
    count = start[cell_a + 1] - first
    busy = count > 0
    owner_a, first, count = owner_a[busy], first[busy], count[busy]
    ia = np.repeat(owner_a, count)
    ib = owner_b[np.repeat(first, count) + _ranks(count)]
    return ia, ib


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
    rank = _ranks(count)
    cx = low[many, 0][index] + rank // ny[index]
    cy = low[many, 1][index] + rank % ny[index]
    owner = np.concatenate([one, many[index]])
    ids = np.concatenate([low[one, 0] * rows + low[one, 1], cx * rows + cy])
    return owner.astype(np.int64), ids


def _ranks(count: IntArray) -> IntArray:
    """0..count-1 for each entry of count, concatenated."""
    total = int(count.sum())
    if total == 0:
        return np.empty(0, np.int64)
    starts = np.repeat(np.cumsum(count) - count, count)
    return np.arange(total, dtype=np.int64) - starts


def _cross(ax: FloatArray, ay: FloatArray, bx: FloatArray, by: FloatArray) -> FloatArray:
    return ax * by - ay * bx


def _segment_intersections(
    p0: FloatArray, p1: FloatArray, seg: FloatArray
) -> tuple[FloatArray, IntArray]:
    """Parameters along ``p0 -> p1`` where each pair's segments meet (see module docs).

    Returns the parameters and, for each, the index of the pair it came from. Crossing
    segments give one parameter; collinear overlapping ones give the two ends of the overlap.
    """
    rx, ry = (p1 - p0).T
    qx, qy = seg[:, 0] - p0[:, 0], seg[:, 1] - p0[:, 1]
    sx, sy = seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1]
    den = _cross(rx, ry, sx, sy)
    parallel = np.abs(den) <= 1e-12 * np.hypot(rx, ry) * np.hypot(sx, sy)
    safe = np.where(parallel, 1.0, den)
    t = _cross(qx, qy, sx, sy) / safe
    u = _cross(qx, qy, rx, ry) / safe
    tol = 1e-12
    proper = ~parallel & (t >= -tol) & (t <= 1 + tol) & (u >= -tol) & (u <= 1 + tol)
    same = np.flatnonzero(parallel)
    rx, ry, qx, qy, sx, sy = rx[same], ry[same], qx[same], qy[same], sx[same], sy[same]
    rr = np.maximum(rx * rx + ry * ry, 1e-300)
    collinear = np.abs(_cross(qx, qy, rx, ry)) <= 1e-12 * np.maximum(rr, qx * qx + qy * qy)
    t0 = (qx * rx + qy * ry) / rr
    t1 = ((qx + sx) * rx + (qy + sy) * ry) / rr
    lo, hi = np.minimum(t0, t1), np.maximum(t0, t1)
    overlap = collinear & (hi >= -tol) & (lo <= 1 + tol)
    pairs = np.flatnonzero(proper)
    shared = same[overlap]
    ts = np.concatenate([t[pairs], np.clip(lo[overlap], 0, 1), np.clip(hi[overlap], 0, 1)])
    index = np.concatenate([pairs, shared, shared])
    return np.clip(ts, 0.0, 1.0), index


def _pieces_from_cuts(
    vertices: Vertices, owner: IntArray, measures: FloatArray
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Pieces (position, from_m, to_m) between consecutive distinct cuts of each reach."""
    length = vertices.length
    cut = np.unique(owner)
    pos = np.concatenate([cut, cut, owner])
    m = np.concatenate([np.zeros(len(cut)), length[cut], np.clip(measures, 0.0, length[owner])])
    order = np.lexsort((m, pos))
    pos, m = pos[order], m[order]
    keep = np.ones(len(pos), dtype=bool)
    keep[1:] = (pos[1:] != pos[:-1]) | (m[1:] - m[:-1] > _EPS_M)
    pos, m = pos[keep], m[keep]
    last = np.ones(len(pos), dtype=bool)
    last[:-1] = pos[1:] != pos[:-1]
    m[last] = length[pos[last]]  # a cut within epsilon of the end is the end
    same = pos[1:] == pos[:-1]
    whole = np.setdiff1d(np.arange(len(length), dtype=np.int64), cut, assume_unique=True)
    position = np.concatenate([whole, pos[:-1][same]])
    from_m = np.concatenate([np.zeros(len(whole)), m[:-1][same]])
    to_m = np.concatenate([length[whole], m[1:][same]])
    order = np.argsort(position, kind="stable")
    return position[order], from_m[order], to_m[order]


def _hits_xy(xy: FloatArray, polygons: ObjArray) -> tuple[IntArray, IntArray]:
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


def _assign_level(
    xy: FloatArray, units: Units, rows: IntArray, *, overlap_tolerance_m: float
) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """Row (into the unit table) of the unit containing each point, -1 if none; on-boundary flag."""
    point, poly = _hits_xy(xy, units.geoms[rows])
    count = np.bincount(point, minlength=len(xy))
    result = np.full(len(xy), -1, dtype=np.int64)
    on_boundary = np.zeros(len(xy), dtype=bool)
    single = count[point] == 1
    result[point[single]] = rows[poly[single]]
    multi = ~single
    if multi.any():
        points = np.asarray(shapely.points(xy))
        _resolve_multi(
            points, units, rows, point[multi], poly[multi], result, on_boundary, overlap_tolerance_m
        )
    return result, on_boundary


def _resolve_multi(
    points: ObjArray,
    units: Units,
    rows: IntArray,
    point: IntArray,
    poly: IntArray,
    result: IntArray,
    on_boundary: npt.NDArray[np.bool_],
    overlap_tolerance_m: float,
) -> None:
    """Points in several units: inside one of them, on a shared boundary, or in an overlap."""
    proper = shapely.contains_properly(units.geoms[rows[poly]], points[point])
    # (points holds every point; only those in several units are looked at)
    overlaps: dict[tuple[str, ...], int] = {}
    for p in np.unique(point):
        mine = point == p
        candidates = rows[poly[mine]]
        inside = candidates[proper[mine]]
        if len(inside) == 1:
            result[p] = inside[0]
            continue
        if len(inside) > 1 and _overlap_width_m(units, inside, points[p]) > overlap_tolerance_m:
            key = tuple(sorted(str(units.codes[r]) for r in inside))
            overlaps[key] = overlaps.get(key, 0) + 1
            continue
        by_code = sorted(candidates, key=lambda r: str(units.codes[r]))
        result[p] = by_code[0]
        on_boundary[p] = True
    if overlaps:
        pairs = "; ".join(f"{' and '.join(k)} ({n} piece(s) of river)" for k, n in overlaps.items())
        raise AdminUnitsError(
            f"admin units of one level overlap where rivers flow: {pairs}. A river there would "
            "belong to two units at once; fix the shared boundary (rivernet.admin."
            "validate_admin_units lists every overlap)"
        )


def _overlap_width_m(units: Units, rows: IntArray, point: Any) -> float:
    """A rough width (metres) of the overlap of several units around a point."""
    overlap = shapely.intersection_all(units.geoms[rows])
    area = float(shapely.area(overlap))
    length = float(shapely.length(shapely.boundary(overlap))) or 1.0
    return 2.0 * area / length * units.metres_per_unit


@dataclass(eq=False)
class PieceArrays:
    """Pieces as arrays (the fast form shared by crossings, partners and incidents).

    Attributes
    ----------
    position, from_m, to_m
        Reach position and measures of each piece, sorted by position then measure.
    codes
        Unit row (into :class:`Units`) per level; -1 where no unit.
    on_boundary
        Whether a piece's midpoint lies on a shared boundary.
    lake
        Row of the lake containing the midpoint, -1 if none.
    first, last
        Index of the first and last piece of each reach.
    """

    position: IntArray
    from_m: FloatArray
    to_m: FloatArray
    codes: dict[str, IntArray]
    on_boundary: npt.NDArray[np.bool_]
    lake: IntArray
    first: IntArray
    last: IntArray


def piece_arrays(
    project: Project, *, min_piece_m: float = 1.0, overlap_tolerance_m: float = 50.0
) -> PieceArrays:
    """The pieces of a project's network as arrays (cached on the project).

    Parameters
    ----------
    project
        The project.
    min_piece_m
        Pieces shorter than this join their neighbour.
    overlap_tolerance_m
        Overlaps between units narrower than this (metres) are treated as a shared boundary.

    Returns
    -------
    PieceArrays
        The pieces.
    """
    cache = _cache(project)
    key = ("pieces", min_piece_m, overlap_tolerance_m)
    if key not in cache:
        cache[key] = _compute_pieces(
            project, min_piece_m=min_piece_m, overlap_tolerance_m=overlap_tolerance_m
        )
    return cache[key]


def _compute_pieces(
    project: Project, *, min_piece_m: float, overlap_tolerance_m: float
) -> PieceArrays:
    vertices = reach_vertices(project)
    units = admin_units(project)
    rows = np.concatenate(list(units.by_level.values()))
    owner, measures = _cut_measures(vertices, _boundary_segments(units.geoms[rows]))
    position, from_m, to_m = _pieces_from_cuts(vertices, owner, measures)
    mid = vertices.point_xy(position, (from_m + to_m) / 2.0)
    codes, on_boundary = _assign_levels(mid, units, overlap_tolerance_m=overlap_tolerance_m)
    lake = _lake_of(mid, project.lakes)
    position, from_m, to_m, codes, on_boundary, lake = _merge(
        vertices, position, from_m, to_m, codes, on_boundary, lake, min_piece_m=min_piece_m
    )
    first = np.searchsorted(position, np.arange(len(vertices.length)), side="left")
    last = np.searchsorted(position, np.arange(len(vertices.length)), side="right") - 1
    _warn_gaps(project, position, from_m, to_m, codes, units)
    return PieceArrays(position, from_m, to_m, codes, on_boundary, lake, first, last)


def _assign_levels(
    xy: FloatArray, units: Units, *, overlap_tolerance_m: float
) -> tuple[dict[str, IntArray], npt.NDArray[np.bool_]]:
    """Units of every level for each point: the finest level by polygon, the others from codes.

    A coarser level is looked up by polygon only for the points whose finer unit is unknown
    or has no parent at that level in the table.
    """
    codes: dict[str, IntArray] = {}
    on_boundary = np.zeros(len(xy), dtype=bool)
    parent_row = _parent_rows(units)
    finer: IntArray | None = None
    for level in PIECE_LEVELS[::-1]:
        result = np.full(len(xy), -1, dtype=np.int64)
        if finer is not None:
            derived = parent_row[finer]
            ok = (derived >= 0) & (units.levels[np.maximum(derived, 0)] == level)
            result[ok] = derived[ok]
        todo = np.flatnonzero(result < 0)
        if len(todo) and len(units.by_level[level]):
            found, flag = _assign_level(
                xy[todo], units, units.by_level[level], overlap_tolerance_m=overlap_tolerance_m
            )
            result[todo] = found
            on_boundary[todo] |= flag
        codes[level] = result
        finer = result
    return {level: codes[level] for level in PIECE_LEVELS}, on_boundary


def _parent_rows(units: Units) -> IntArray:
    """Row of each unit's parent (-1 if absent); one extra entry maps -1 to -1."""
    parent_row = np.array(
        [units.row_of.get(str(p), -1) if p is not None else -1 for p in units.parents],
        dtype=np.int64,
    )
    return np.append(parent_row, -1)


def _lake_of(xy: FloatArray, lakes: gpd.GeoDataFrame) -> IntArray:
    result = np.full(len(xy), -1, dtype=np.int64)
    if lakes is None or len(lakes) == 0:
        return result
    geoms = lakes.geometry.to_numpy()
    usable = np.flatnonzero(~shapely.is_missing(geoms) & shapely.is_valid(geoms))
    point, poly = _hits_xy(xy, geoms[usable])
    result[point] = usable[poly]
    return result


def _merge(
    vertices: Vertices,
    position: IntArray,
    from_m: FloatArray,
    to_m: FloatArray,
    codes: dict[str, IntArray],
    on_boundary: npt.NDArray[np.bool_],
    lake: IntArray,
    *,
    min_piece_m: float,
) -> tuple[IntArray, FloatArray, FloatArray, dict[str, IntArray], Any, IntArray]:
    """Absorb slivers into a neighbour, then merge neighbours with identical codes."""
    columns = [codes[level] for level in PIECE_LEVELS] + [lake]
    short = (to_m - from_m) < min_piece_m
    if short.any():
        rows = np.flatnonzero(np.isin(position, position[short]))
        for column in columns:
            column[rows] = _fill_short(column[rows], short[rows], position[rows])
    change = np.ones(len(position), dtype=bool)
    change[1:] = position[1:] != position[:-1]
    for column in columns:
        change[1:] |= column[1:] != column[:-1]
    change[1:] |= on_boundary[1:] != on_boundary[:-1]
    start = np.flatnonzero(change)
    end = np.append(start[1:], len(position)) - 1
    merged = {level: columns[i][start] for i, level in enumerate(PIECE_LEVELS)}
    return position[start], from_m[start], to_m[end], merged, on_boundary[start], columns[-1][start]


def _fill_short(column: IntArray, short: npt.NDArray[np.bool_], position: IntArray) -> IntArray:
    series = pd.Series(np.where(short, np.nan, column.astype(np.float64)))
    by_reach = series.groupby(position)
    filled = by_reach.ffill().fillna(by_reach.bfill())
    return np.where(filled.isna(), column, filled.fillna(-1).to_numpy()).astype(np.int64)


def _warn_gaps(
    project: Project,
    position: IntArray,
    from_m: FloatArray,
    to_m: FloatArray,
    codes: dict[str, IntArray],
    units: Units,
) -> None:
    """Warn about river inside a unit whose children (at the next level) do not cover it."""
    parent_has_children = np.zeros(len(units.codes) + 1, dtype=bool)
    for level in PIECE_LEVELS[1:]:
        for row in units.by_level[level]:
            parent = units.parents[row]
            if parent is not None and str(parent) in units.row_of:
                parent_has_children[units.row_of[str(parent)]] = True
    messages = []
    for coarse, fine in pairwise(PIECE_LEVELS):
        gap = (codes[fine] < 0) & (codes[coarse] >= 0)
        gap &= parent_has_children[codes[coarse]]
        if gap.any():
            km = float((to_m[gap] - from_m[gap]).sum()) / 1000.0
            where = sorted({str(units.codes[r]) for r in codes[coarse][gap]})
            reach_ids = project.network.ids[np.unique(position[gap])]
            messages.append(
                f"{km:.2f} km of river in {coarse} unit(s) {format_ids(where)} lies in no "
                f"{fine} unit (reaches {format_ids(reach_ids)}): the {fine} polygons leave a gap"
            )
    if messages:
        warnings.warn(
            "; ".join(messages) + ". Those pieces have no code at that level and take part in "
            "no crossing there; close the gaps in the admin units to get them right.",
            DataQualityWarning,
            stacklevel=4,
        )


# --- public: pieces ---------------------------------------------------------------------------


def responsibility_pieces(
    project: Project, *, min_piece_m: float = 1.0, overlap_tolerance_m: float = 50.0
) -> gpd.GeoDataFrame:
    """The network cut at every admin boundary of every level that has polygons.

    Parameters
    ----------
    project
        The project (network and admin units in the same CRS).
    min_piece_m
        Pieces shorter than this (metres; digitising noise along borders) join their neighbour.
    overlap_tolerance_m
        Overlaps between units of one level narrower than this (metres) count as their shared
        boundary; wider overlaps where a river flows raise :class:`AdminUnitsError`.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per piece, sorted by reach and measure: ``reach_id``, ``from_m``, ``to_m``,
        ``length_m`` (``to_m - from_m``; the pieces of a reach add up to its length),
        ``province_code``, ``city_code``, ``county_code`` (None where no unit of that level
        covers the piece), ``on_boundary`` (the piece runs exactly on a shared boundary),
        ``lake_id`` (the lake containing the piece, or None) and the piece geometry.

    Raises
    ------
    CRSError
        If the admin units and the network have different CRS.
    AdminUnitsError
        If unit polygons are invalid or units of one level overlap where a river flows.

    Warns
    -----
    DataQualityWarning
        If river inside a unit lies in none of its child units (a gap between units).
    """
    pieces = piece_arrays(project, min_piece_m=min_piece_m, overlap_tolerance_m=overlap_tolerance_m)
    vertices = reach_vertices(project)
    units = admin_units(project)
    net = project.network
    data: dict[str, Any] = {
        "reach_id": net.ids[pieces.position],
        "from_m": pieces.from_m,
        "to_m": pieces.to_m,
        "length_m": pieces.to_m - pieces.from_m,
    }
    for level in PIECE_LEVELS:
        data[f"{level}_code"] = _code_array(units, pieces.codes[level])
    data["on_boundary"] = pieces.on_boundary
    data["lake_id"] = _lake_ids(project, pieces.lake)
    geometry = piece_geometries(vertices, net.reaches.geometry.to_numpy(), pieces)
    return gpd.GeoDataFrame(data, geometry=geometry, crs=net.crs)


def _with_none(values: ObjArray) -> ObjArray:
    """``values`` with a None appended, so that row -1 maps to None."""
    return np.concatenate([np.asarray(values, dtype=object), np.array([None], dtype=object)])


def _code_array(units: Units, rows: IntArray) -> ObjArray:
    return _with_none(units.codes)[rows]


def _name_array(units: Units, rows: IntArray) -> ObjArray:
    return _with_none(units.names)[rows]


def _lake_ids(project: Project, rows: IntArray) -> ObjArray:
    if len(project.lakes) == 0 or "lake_id" not in project.lakes.columns:
        return np.full(len(rows), None, dtype=object)
    return _with_none(project.lakes["lake_id"].to_numpy(dtype=object))[rows]


def piece_geometries(vertices: Vertices, lines: ObjArray, pieces: PieceArrays) -> ObjArray:
    """Line geometry of every piece (whole reaches reuse their line).

    Parameters
    ----------
    vertices
        The reach vertices.
    lines
        The reach lines by position.
    pieces
        The pieces.

    Returns
    -------
    numpy.ndarray
        LineStrings.
    """
    geometry = lines[pieces.position].copy()
    whole = (pieces.from_m <= 0.0) & (pieces.to_m >= vertices.length[pieces.position])
    cut = np.flatnonzero(~whole)
    if len(cut):
        geometry[cut] = substrings(
            vertices, pieces.position[cut], pieces.from_m[cut], pieces.to_m[cut]
        )
    return geometry


def substrings(
    vertices: Vertices, position: IntArray, from_m: FloatArray, to_m: FloatArray
) -> ObjArray:
    """Stretches of reaches between measures, built in one vectorised pass.

    Parameters
    ----------
    vertices
        The reach vertices.
    position, from_m, to_m
        Reach position and measures of each stretch (sorted by position then ``from_m``,
        stretches of one reach not overlapping).

    Returns
    -------
    numpy.ndarray
        One LineString per stretch.
    """
    n = len(position)
    start_key = vertices.base[position] + from_m
    end_key = vertices.base[position] + to_m
    reaches = np.unique(position)
    count = vertices.offsets[reaches + 1] - vertices.offsets[reaches]
    candidates = np.repeat(vertices.offsets[reaches], count) + _ranks(count)
    vertex_reach = np.repeat(reaches, count)
    keys = vertices.key[candidates]
    owner = np.searchsorted(start_key, keys, side="right") - 1
    safe = np.maximum(owner, 0)
    inside = (
        (owner >= 0)
        & (vertex_reach == position[safe])
        & (keys > start_key[safe])
        & (keys < end_key[safe])
    )
    interior = candidates[inside]
    which = np.concatenate([np.arange(n), owner[inside], np.arange(n)])
    rank = np.concatenate([np.zeros(n), np.ones(len(interior)), np.full(n, 2.0)])
    key = np.concatenate([from_m, vertices.measure[interior], to_m])
    xy = np.concatenate(
        [
            vertices.point_xy(position, from_m),
            vertices.xy[interior],
            vertices.point_xy(position, to_m),
        ]
    )
    order = np.lexsort((rank, key, which))
    return np.asarray(shapely.linestrings(xy[order], indices=which[order]))


# --- public: crossings ------------------------------------------------------------------------


def require_level(units: Units, level: str) -> None:
    """Raise if ``level`` is not a polygon level or the units have none at it."""
    if level not in PIECE_LEVELS:
        raise InputError(
            f"level {level!r} cannot be cut by polygons; use one of {', '.join(PIECE_LEVELS)} "
            f"(townships and villages are assigned to reaches, not found by polygon)"
            if level in LEVELS
            else f"unknown level {level!r}; use one of {', '.join(PIECE_LEVELS)}"
        )
    if len(units.by_level[level]) == 0:
        present = [lev for lev in PIECE_LEVELS if len(units.by_level[lev])]
        raise AdminUnitsError(
            f"the admin units have no {level}-level polygons (levels present: "
            f"{', '.join(present) or 'none'}); add the {level} units to the admin_units layer "
            "or ask at another level"
        )


@dataclass(eq=False)
class CrossingArrays:
    """Crossings at one level as arrays, sorted by reach position then measure.

    Attributes
    ----------
    position, measure
        Reach position and measure of each crossing.
    upstream, downstream
        Unit rows of the two sides.
    at_junction
        True when the crossing is at the reach's downstream end (a junction or confluence).
    tributary
        At a junction, whether the reach is a tributary (not the main stem) of the reach below.
    lake
        Lake row where the crossing lies in a lake, else -1.
    to_outlet_m
        Along-network distance from the crossing point to the network outlet.
    """

    position: IntArray
    measure: FloatArray
    upstream: IntArray
    downstream: IntArray
    at_junction: npt.NDArray[np.bool_]
    tributary: npt.NDArray[np.bool_]
    lake: IntArray
    to_outlet_m: FloatArray

    def __len__(self) -> int:
        return len(self.position)

    def subset(self, keep: npt.NDArray[np.bool_]) -> CrossingArrays:
        """The crossings where ``keep`` is true."""
        return CrossingArrays(*(getattr(self, name)[keep] for name in self.__dataclass_fields__))


def crossing_arrays(project: Project, *, level: str) -> CrossingArrays:
    """All crossings of unit boundaries at ``level`` (cached), including those in lakes.

    Parameters
    ----------
    project
        The project.
    level
        ``"province"``, ``"city"`` or ``"county"``.

    Returns
    -------
    CrossingArrays
        The crossings.
    """
    require_level(admin_units(project), level)
    cache = _cache(project)
    key = ("crossings", level)
    if key not in cache:
        cache[key] = _compute_crossings(project, level)
    return cache[key]


def _compute_crossings(project: Project, level: str) -> CrossingArrays:
    pieces = piece_arrays(project)
    core = project.network.core
    code = pieces.codes[level]
    # within a reach: consecutive pieces with different units
    inner = np.flatnonzero(
        (pieces.position[1:] == pieces.position[:-1])
        & (code[1:] != code[:-1])
        & (code[1:] >= 0)
        & (code[:-1] >= 0)
    )
    # at junctions: the last piece of a reach and the first piece of the reach below
    reaches = np.flatnonzero(core.downstream >= 0)
    up_piece = pieces.last[reaches]
    down_piece = pieces.first[core.downstream[reaches]]
    differ = (code[up_piece] != code[down_piece]) & (code[up_piece] >= 0) & (code[down_piece] >= 0)
    reaches, up_piece, down_piece = reaches[differ], up_piece[differ], down_piece[differ]
    position = np.concatenate([pieces.position[inner], reaches])
    measure = np.concatenate([pieces.to_m[inner], core.length_m[reaches]])
    upstream = np.concatenate([code[inner], code[up_piece]])
    downstream = np.concatenate([code[inner + 1], code[down_piece]])
    at_junction = np.concatenate([np.zeros(len(inner), bool), np.ones(len(reaches), bool)])
    main = core.main_child
    tributary = np.concatenate(
        [np.zeros(len(inner), bool), main[core.downstream[reaches]] != reaches]
    )
    order = np.lexsort((measure, position))
    to_outlet = core.distance_to_outlet_m()[position] + core.length_m[position] - measure
    in_lake = _lake_of(reach_vertices(project).point_xy(position, measure), project.lakes)
    return CrossingArrays(
        position[order],
        measure[order],
        upstream[order],
        downstream[order],
        at_junction[order],
        tributary[order],
        in_lake[order],
        to_outlet[order],
    )


def crossings(
    project: Project,
    *,
    level: str,
    as_of: Any = None,
    include_lakes: bool = True,
) -> gpd.GeoDataFrame:
    """Handover sections (交接断面): points where flow leaves one unit and enters another.

    Parameters
    ----------
    project
        The project.
    level
        ``"province"``, ``"city"`` or ``"county"``.
    as_of
        Date for the chiefs on both sides (``datetime.date`` or ISO text; default today).
    include_lakes
        Keep crossings on the artificial flow paths inside lakes (flagged ``in_lake``).

    Returns
    -------
    geopandas.GeoDataFrame
        One point per crossing, in flow order along each reach (a river that crosses back and
        forth gives one row per crossing): ``crossing_id``, ``level``, ``reach_id``,
        ``measure_m``, ``measure_fraction``, ``river_id`` (the reach's main-stem id),
        ``upstream_code``/``upstream_name``, ``downstream_code``/``downstream_name``,
        ``responsible_code``/``responsible_name`` (the upstream side, by the handover-section
        rule), ``at_junction`` and ``confluence`` (``"tributary"`` or ``"main_stem"`` when the
        crossing is at a confluence), ``upstream_length_km`` (river length draining through),
        ``distance_to_outlet_km``, ``in_lake``, ``lake_id``, ``upstream_chiefs`` and
        ``downstream_chiefs`` (None when no roster is loaded) and the point.

    Raises
    ------
    AdminUnitsError
        If the admin units have no polygons at ``level``.
    """
    arrays = crossing_arrays(project, level=level)
    if not include_lakes:
        arrays = arrays.subset(arrays.lake < 0)
    return crossing_frame(project, arrays, level=level, as_of=as_of)


def crossing_ids(project: Project, arrays: CrossingArrays, *, level: str) -> ObjArray:
    """Stable text ids of crossings, like ``P40636807@1180``.

    The level letter (P, C, X for province, city, county), the reach id and the measure in
    metres.
    """
    reach_ids = project.network.ids[arrays.position]
    return np.array(
        [
            f"{_LEVEL_PREFIX[level]}{r}@{m:.0f}"
            for r, m in zip(reach_ids, arrays.measure, strict=True)
        ],
        dtype=object,
    )


def crossing_frame(
    project: Project, arrays: CrossingArrays, *, level: str, as_of: Any = None
) -> gpd.GeoDataFrame:
    """Turn crossing arrays into the GeoDataFrame :func:`crossings` returns."""
    net = project.network
    core = net.core
    units = admin_units(project)
    vertices = reach_vertices(project)
    length = core.length_m[arrays.position]
    upstream_len = core.upstream_length_m()[arrays.position] - (length - arrays.measure)
    xy = vertices.point_xy(arrays.position, arrays.measure)
    frame = pd.DataFrame(
        {
            "crossing_id": crossing_ids(project, arrays, level=level),
            "level": level,
            "reach_id": net.ids[arrays.position],
            "measure_m": arrays.measure,
            "measure_fraction": np.where(length > 0, arrays.measure / np.maximum(length, 1e-9), 0),
            "river_id": net.ids[core.main_stem()[arrays.position]],
            "upstream_code": _code_array(units, arrays.upstream),
            "upstream_name": _name_array(units, arrays.upstream),
            "downstream_code": _code_array(units, arrays.downstream),
            "downstream_name": _name_array(units, arrays.downstream),
            "responsible_code": _code_array(units, arrays.upstream),
            "responsible_name": _name_array(units, arrays.upstream),
            "at_junction": arrays.at_junction,
            "confluence": _confluence_labels(arrays),
            "upstream_length_km": upstream_len / 1000.0,
            "distance_to_outlet_km": arrays.to_outlet_m / 1000.0,
            "in_lake": arrays.lake >= 0,
            "lake_id": _lake_ids(project, arrays.lake),
        }
    )
    frame["upstream_chiefs"] = unit_chiefs(
        project, frame["upstream_code"], level=level, as_of=as_of
    )
    frame["downstream_chiefs"] = unit_chiefs(
        project, frame["downstream_code"], level=level, as_of=as_of
    )
    return gpd.GeoDataFrame(frame, geometry=shapely.points(xy), crs=net.crs)


def _confluence_labels(arrays: CrossingArrays) -> ObjArray:
    labels = np.full(len(arrays), None, dtype=object)
    labels[arrays.at_junction & arrays.tributary] = "tributary"
    labels[arrays.at_junction & ~arrays.tributary] = "main_stem"
    return labels


# --- chiefs -----------------------------------------------------------------------------------


def unit_chiefs(
    project: Project, codes: Sequence[Any] | pd.Series, *, level: str, as_of: Any = None
) -> list[str | None]:
    """The chiefs of units at ``level`` as text, one entry per code (None without a roster).

    Parameters
    ----------
    project
        The project; its ``roster`` (issue 3) supplies the chiefs.
    codes
        Unit codes (None entries give None).
    level
        The level whose chiefs are wanted.
    as_of
        The date (``datetime.date`` or ISO text; default today).

    Returns
    -------
    list
        ``"name (role)"`` texts joined with ``"、"``, or None.
    """
    values = list(codes)
    roster = _roster(project)
    if roster is None or not values:
        return [None] * len(values)
    table = _chiefs_table(project, roster, level=level, as_of=as_of)
    return [None if code is None else table.get(str(code)) for code in values]


def _roster(project: Project) -> Any:
    """The project's roster, loaded from its tables if needed; None when it has none."""
    try:
        from rivernet.roster import project_roster
    except ImportError:  # roster support not installed in this build
        return getattr(project, "roster", None)
    return project_roster(project)


def _chiefs_table(project: Project, roster: Any, *, level: str, as_of: Any) -> dict[str, str]:
    """Unit code -> chiefs text at ``level`` from the roster (cached per date)."""
    cache = _cache(project)
    key = ("chiefs", level, str(as_of), id(roster))
    if key not in cache:
        cache[key] = _roster_unit_chiefs(roster, level=level, as_of=as_of)
    return cache[key]


def _roster_unit_chiefs(roster: Any, *, level: str, as_of: Any) -> dict[str, str]:
    """Read unit chiefs from a roster's assignments and people tables (duck-typed)."""
    assignments = getattr(roster, "assignments", None)
    if not isinstance(assignments, pd.DataFrame) or assignments.empty:
        return {}
    table = _current(assignments, as_of=as_of)
    table = table[table["level"].astype(str) == level] if "level" in table else table
    unit_column = next((c for c in ("unit_code", "code", "admin_code") if c in table), None)
    if unit_column is None:
        return {}
    people = getattr(roster, "people", None)
    if isinstance(people, pd.DataFrame) and "person_id" in people and "person_id" in table:
        name_column = next((c for c in ("name", "person_name") if c in people), None)
        if name_column is not None:
            names = dict(zip(people["person_id"], people[name_column], strict=False))
            table = table.assign(_name=table["person_id"].map(names))
    name = (
        "_name"
        if "_name" in table
        else next((c for c in ("person_name", "name", "person_id") if c in table), None)
    )
    if name is None:
        return {}
    result: dict[str, str] = {}
    roles = table["role"] if "role" in table else pd.Series("", index=table.index)
    for code, group in table.groupby(table[unit_column].astype(str)):
        items: list[str] = []
        for person, role in zip(group[name], roles.loc[group.index], strict=True):
            text = str(person) + (f" ({role})" if isinstance(role, str) and role else "")
            if text not in items:
                items.append(text)
        shown = "、".join(items[:_MAX_CHIEFS_SHOWN])
        extra = len(items) - _MAX_CHIEFS_SHOWN
        result[str(code)] = shown + (f" +{extra}" if extra > 0 else "")
    return result


def _current(assignments: pd.DataFrame, *, as_of: Any) -> pd.DataFrame:
    """Assignments whose term covers ``as_of`` (today by default)."""
    import datetime as dt

    day = pd.Timestamp(dt.date.today() if as_of is None else as_of)
    keep = np.ones(len(assignments), dtype=bool)
    if "valid_from" in assignments:
        start = pd.to_datetime(assignments["valid_from"], errors="coerce")
        keep &= (start.isna() | (start <= day)).to_numpy()
    if "valid_to" in assignments:
        end = pd.to_datetime(assignments["valid_to"], errors="coerce")
        keep &= (end.isna() | (end >= day)).to_numpy()
    return assignments[keep]


# --- public: boundary rivers ------------------------------------------------------------------


def boundary_rivers(
    project: Project,
    *,
    level: str,
    tolerance_m: float = 250.0,
    min_length_m: float | None = None,
    rule: str | None = None,
) -> gpd.GeoDataFrame:
    """Boundary rivers (界河): stretches that run along a unit boundary, each bank in another unit.

    A point of a reach is on a boundary river when the two points ``tolerance_m`` to its left
    and to its right (looking downstream) lie in two different units of ``level``: the
    boundary passes within ``tolerance_m`` of the channel, along it. Points are sampled every
    ``tolerance_m / 2``; runs of samples with the same pair of units form stretches, and
    stretches shorter than ``min_length_m`` (a river crossing the boundary at a slant) are
    dropped. Lake flow paths are skipped.

    Parameters
    ----------
    project
        The project.
    level
        ``"province"``, ``"city"`` or ``"county"``.
    tolerance_m
        How far (metres) the boundary may lie from the channel.
    min_length_m
        Shortest stretch kept; default ``4 * tolerance_m``.
    rule
        Who answers for the stretch: ``"split_by_bank"`` (each unit its own bank),
        ``"split_by_length"`` (the unit holding the channel at the upstream end takes the upper
        half, the other bank's unit the lower half) or ``"escalate"`` (the lowest superior unit
        common to both banks). Default: the project file's ``project_meta`` key
        ``boundary_rule.<level>`` or ``boundary_rule``, else ``"split_by_bank"``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``stretch_id``, ``level``, ``reach_id``, ``from_m``, ``to_m``, ``length_m``,
        ``river_id``, ``left_code``/``left_name``, ``right_code``/``right_name``, ``channel_code``
        (the unit the channel itself lies in), ``rule``, ``responsible`` (text),
        ``responsible_codes`` (comma-separated), ``ambiguous`` and ``ambiguity`` (why: the rule
        leaves nobody or two parties responsible), and the stretch geometry.

    Raises
    ------
    PolicyError
        If the rule is unknown.
    AdminUnitsError
        If the admin units have no polygons at ``level``.
    """
    if not (math.isfinite(tolerance_m) and tolerance_m > 0):
        raise InputError(f"tolerance_m must be a positive number of metres, got {tolerance_m}")
    chosen = _rule(project, level, rule)
    min_length = 4.0 * tolerance_m if min_length_m is None else float(min_length_m)
    cache = _cache(project)
    key = ("boundary", level, tolerance_m, min_length)
    if key not in cache:
        cache[key] = _boundary_stretches(project, level, tolerance_m, min_length)
    stretches = cache[key]
    return _stretch_frame(project, stretches, level=level, rule=chosen)


def _rule(project: Project, level: str, rule: str | None) -> str:
    meta = getattr(project, "meta", {}) or {}
    chosen = rule or meta.get(f"boundary_rule.{level}") or meta.get("boundary_rule")
    chosen = chosen or "split_by_bank"
    if chosen not in RULES:
        where = "given" if rule else "in project_meta"
        raise PolicyError(
            f"boundary-river rule {chosen!r} ({where}) is unknown; use one of {', '.join(RULES)}"
        )
    return str(chosen)


def _boundary_stretches(
    project: Project, level: str, tolerance_m: float, min_length_m: float
) -> pd.DataFrame:
    units = admin_units(project)
    require_level(units, level)
    pieces = piece_arrays(project)
    vertices = reach_vertices(project)
    rows = units.by_level[level]
    segments = _near_boundary(project, vertices, units.geoms[rows], tolerance_m)
    position, measure, step = _samples(vertices, segments, tolerance_m / 2.0)
    if len(position) == 0:
        return _empty_stretches()
    xy = vertices.point_xy(position, measure)
    tangent = vertices.tangent(position, measure)
    vertex, _ = vertices.locate(position, measure)
    scale = vertices.scale[vertex]
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]]) * tolerance_m / scale
    left, _ = _assign_level(xy + normal, units, rows, overlap_tolerance_m=1e18)
    right, _ = _assign_level(xy - normal, units, rows, overlap_tolerance_m=1e18)
    piece = _piece_at(pieces, vertices, position, measure)
    on = (left >= 0) & (right >= 0) & (left != right) & (pieces.lake[piece] < 0)
    return _runs(position, measure, step, left, right, on, pieces.codes[level][piece], min_length_m)


def _near_boundary(
    project: Project, vertices: Vertices, polygons: ObjArray, tolerance_m: float
) -> IntArray:
    """Start vertices of the reach segments that come within ``tolerance_m`` of a boundary.

    Boundary segments are chopped into chunks a few tolerances long so that their bounding
    boxes stay tight; candidate pairs from the tree are then measured exactly (segment to
    segment distance in local metres).
    """
    segments = _chop(_boundary_segments(polygons), 8.0 * tolerance_m / _min_scale(vertices))
    if len(segments) == 0:
        return np.empty(0, np.int64)
    pad = tolerance_m / _min_scale(vertices)
    low = np.minimum(segments[:, :2], segments[:, 2:]) - pad
    high = np.maximum(segments[:, :2], segments[:, 2:]) + pad
    tree = shapely.STRtree(np.asarray(shapely.box(low[:, 0], low[:, 1], high[:, 0], high[:, 1])))
    reach, box = tree.query(project.network.reaches.geometry.to_numpy())
    first = vertices.offsets[:-1][reach]
    count = vertices.offsets[1:][reach] - first - 1
    vertex = np.repeat(first, count) + _ranks(count)
    box = np.repeat(box, count)
    p0, p1 = vertices.xy[vertex], vertices.xy[vertex + 1]
    near = (
        (np.minimum(p0[:, 0], p1[:, 0]) <= high[box, 0])
        & (np.maximum(p0[:, 0], p1[:, 0]) >= low[box, 0])
        & (np.minimum(p0[:, 1], p1[:, 1]) <= high[box, 1])
        & (np.maximum(p0[:, 1], p1[:, 1]) >= low[box, 1])
    )
    vertex, box = vertex[near], box[near]
    scale = vertices.scale[vertex]
    distance = _segment_distance(
        vertices.xy[vertex] * scale,
        vertices.xy[vertex + 1] * scale,
        segments[box, :2] * scale,
        segments[box, 2:] * scale,
    )
    return np.unique(vertex[distance <= tolerance_m]).astype(np.int64)


def _min_scale(vertices: Vertices) -> float:
    return float(vertices.scale.min()) if len(vertices.xy) else 1.0


def _chop(segments: FloatArray, max_length: float) -> FloatArray:
    """Split segments longer than ``max_length`` (CRS units) into equal parts."""
    length = np.hypot(segments[:, 2] - segments[:, 0], segments[:, 3] - segments[:, 1])
    parts = np.maximum(np.ceil(length / max_length), 1).astype(np.int64)
    owner = np.repeat(np.arange(len(segments)), parts)
    rank = _ranks(parts)
    start = (rank / parts[owner])[:, None]
    end = ((rank + 1) / parts[owner])[:, None]
    a, b = segments[owner, :2], segments[owner, 2:]
    return np.column_stack([a + (b - a) * start, a + (b - a) * end])


def _point_segment_distance(p: FloatArray, a: FloatArray, b: FloatArray) -> FloatArray:
    ab = b - a
    denominator = np.maximum((ab * ab).sum(axis=1), 1e-300)
    t = np.clip(((p - a) * ab).sum(axis=1) / denominator, 0.0, 1.0)
    closest = a + ab * t[:, None]
    return np.asarray(np.hypot(*(p - closest).T))


def _segment_distance(p0: FloatArray, p1: FloatArray, q0: FloatArray, q1: FloatArray) -> FloatArray:
    """Smallest distance between the ends of either segment and the other segment."""
    return np.minimum.reduce(
        [
            _point_segment_distance(p0, q0, q1),
            _point_segment_distance(p1, q0, q1),
            _point_segment_distance(q0, p0, p1),
            _point_segment_distance(q1, p0, p1),
        ]
    )


def _samples(
    vertices: Vertices, segments: IntArray, step_m: float
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Sample points every ``step_m`` (or less) along the given reach segments."""
    length = vertices.seg_len[segments]
    segments, length = segments[length > 0], length[length > 0]
    count = np.maximum(np.ceil(length / step_m), 1).astype(np.int64)
    step = length / count
    position = np.searchsorted(vertices.offsets, segments, side="right") - 1
    rank = _ranks(count)
    each = np.repeat(step, count)
    measure = np.repeat(vertices.measure[segments], count) + (rank + 0.5) * each
    return np.repeat(position, count).astype(np.int64), measure, each


def _piece_at(
    pieces: PieceArrays, vertices: Vertices, position: IntArray, measure: FloatArray
) -> IntArray:
    keys = vertices.base[pieces.position] + pieces.from_m
    index = np.searchsorted(keys, vertices.base[position] + measure, side="right") - 1
    return np.clip(index, 0, len(keys) - 1).astype(np.int64)


def _runs(
    position: IntArray,
    measure: FloatArray,
    step: FloatArray,
    left: IntArray,
    right: IntArray,
    on: npt.NDArray[np.bool_],
    channel: IntArray,
    min_length_m: float,
) -> pd.DataFrame:
    index = np.flatnonzero(on)
    if len(index) == 0:
        return _empty_stretches()
    p, m, s, lt, rt = position[index], measure[index], step[index], left[index], right[index]
    new = np.ones(len(index), dtype=bool)
    new[1:] = (
        (p[1:] != p[:-1])
        | (lt[1:] != lt[:-1])
        | (rt[1:] != rt[:-1])
        | (index[1:] != index[:-1] + 1)
    )
    start = np.flatnonzero(new)
    end = np.append(start[1:], len(index)) - 1
    table = pd.DataFrame(
        {
            "position": p[start],
            "from_m": m[start] - s[start] / 2.0,
            "to_m": m[end] + s[end] / 2.0,
            "left": lt[start],
            "right": rt[start],
            "channel": channel[index[start]],
        }
    )
    table["length_m"] = table["to_m"] - table["from_m"]
    return table[table["length_m"] >= min_length_m - 1e-6].reset_index(drop=True)


def _empty_stretches() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "position": pd.Series(dtype=np.int64),
            "from_m": pd.Series(dtype=float),
            "to_m": pd.Series(dtype=float),
            "left": pd.Series(dtype=np.int64),
            "right": pd.Series(dtype=np.int64),
            "channel": pd.Series(dtype=np.int64),
            "length_m": pd.Series(dtype=float),
        }
    )


def _stretch_frame(
    project: Project, stretches: pd.DataFrame, *, level: str, rule: str
) -> gpd.GeoDataFrame:
    net = project.network
    units = admin_units(project)
    position = stretches["position"].to_numpy(dtype=np.int64)
    left = stretches["left"].to_numpy(dtype=np.int64)
    right = stretches["right"].to_numpy(dtype=np.int64)
    channel = stretches["channel"].to_numpy(dtype=np.int64)
    decisions = [
        _decide(units, rule, int(a), int(b), int(c), f, t)
        for a, b, c, f, t in zip(
            left, right, channel, stretches["from_m"], stretches["to_m"], strict=True
        )
    ]
    geometry = (
        substrings(
            reach_vertices(project),
            position,
            stretches["from_m"].to_numpy(dtype=float),
            stretches["to_m"].to_numpy(dtype=float),
        )
        if len(stretches)
        else np.empty(0, dtype=object)
    )
    frame = pd.DataFrame(
        {
            "stretch_id": [f"B{_LEVEL_PREFIX[level]}{i + 1}" for i in range(len(stretches))],
            "level": level,
            "reach_id": net.ids[position],
            "from_m": stretches["from_m"].to_numpy(dtype=float),
            "to_m": stretches["to_m"].to_numpy(dtype=float),
            "length_m": stretches["length_m"].to_numpy(dtype=float),
            "river_id": net.ids[net.core.main_stem()[position]] if len(position) else [],
            "left_code": _code_array(units, left),
            "left_name": _name_array(units, left),
            "right_code": _code_array(units, right),
            "right_name": _name_array(units, right),
            "channel_code": _code_array(units, channel),
            "rule": rule,
            "responsible": [d[0] for d in decisions],
            "responsible_codes": [d[1] for d in decisions],
            "ambiguous": np.array([d[2] is not None for d in decisions], dtype=bool),
            "ambiguity": [d[2] for d in decisions],
        }
    )
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=net.crs)


def _decide(
    units: Units, rule: str, left: int, right: int, channel: int, from_m: float, to_m: float
) -> tuple[str, str, str | None]:
    """Apply a rule to one stretch: (responsible text, codes, ambiguity or None)."""
    lc, rc = str(units.codes[left]), str(units.codes[right])
    if rule == "split_by_bank":
        return f"left bank: {lc}; right bank: {rc}", f"{lc},{rc}", None
    if rule == "split_by_length":
        middle = (from_m + to_m) / 2.0
        if channel not in (left, right):
            return (
                f"{lc} and {rc}",
                f"{lc},{rc}",
                "two parties: the channel lies in neither bank's unit, so no side takes the "
                "upper half",
            )
        upper, lower = (lc, rc) if channel == left else (rc, lc)
        text = f"{upper}: {from_m:.0f}-{middle:.0f} m; {lower}: {middle:.0f}-{to_m:.0f} m"
        return text, f"{upper},{lower}", None
    common = [code for code in units.ancestors(lc) if code in set(units.ancestors(rc))]
    if not common:
        return (
            "",
            "",
            f"nobody: {lc} and {rc} have no common superior unit in the table; escalate to "
            "the basin mechanism (流域联席会议)",
        )
    return common[0], common[0], None


# --- helpers ----------------------------------------------------------------------------------


def _cache(project: Any) -> dict[Any, Any]:
    """Per-project result cache, reset when the network or admin units object changes."""
    entry = _CACHE.get(project)
    identity = (id(project.network), id(project.admin_units), id(project.lakes))
    if entry is None or entry.get("_identity") != identity:
        entry = {"_identity": identity}
        _CACHE[project] = entry
    return entry
