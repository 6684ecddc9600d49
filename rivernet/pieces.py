"""Responsibility pieces: the network cut at every admin boundary and at every lake shore.

Every responsibility question (coverage, handover sections, boundary rivers, partners) is
answered on *pieces*: the network cut at every admin boundary of every level that has polygons
(province, city, county) and at every lake shore. A piece is the stretch ``from_m .. to_m`` of one
reach (metres from its upstream end) that lies in one unit at each level and wholly inside one
lake or outside every lake.

How the cut works (fast and exact, all vectorised with shapely 2 and numpy):

1. the reach lines are exploded into vertex arrays with their cumulative metric measures
   (geodesic for geographic CRS, exactly as :attr:`RiverNetwork.reaches` ``length_m``);
2. the unit boundaries of all levels and the lake shores (the boundaries of the valid lake
   polygons, islands included) are exploded into segments and binned in a grid;
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
   adjacent pieces with identical codes and lake are merged (never across a shore).

Lakes: HydroRIVERS draws straight artificial flow paths across lakes (about 89 across Lake
Taihu), and rivers run into and out of lakes. The rule: *a lake flow path is the part of a reach
inside the lake polygon*. Since pieces are cut at shores, a piece lies wholly inside or outside a
lake, and the lake containing its midpoint (or touching it, for a piece drawn along the shore) is
the lake of the whole piece: its ``lake_id``. A reach running into a lake thus has a river piece
up to the shore and a lake piece beyond it. The coverage policy's ``in_lakes`` tests read this
``lake_id`` (:func:`piece_table` carries it), and the crossings and boundary rivers of
:mod:`rivernet.boundary` use it to flag or skip lake flow paths. A shore is not a boundary
between units: it gives no crossing.

This module also holds the building blocks the cross-boundary analyses share: the reach
vertices with their measures (:class:`Vertices`), the checked admin units (:class:`Units`), the
pieces as arrays (:class:`PieceArrays`) and the per-project result cache.
"""

from __future__ import annotations

import warnings
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

from rivernet._segments import (
    boundary_segments,
    chop,
    grid_cuts,
    hits_xy,
    metres_per_unit,
    ranks,
    segment_lengths,
    xy_bounds,
)
from rivernet._units import PIECE_LEVELS, Units, assign_level, checked_units, joined, parent_rows
from rivernet.admin import AdminProblem
from rivernet.errors import DataQualityWarning, InputError
from rivernet.messages import Code, Message, items

if TYPE_CHECKING:
    from rivernet.project import Project

__all__ = [
    "PIECE_INPUTS",
    "PIECE_LEVELS",
    "gap_problems",
    "piece_table",
    "responsibility_pieces",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
ObjArray = npt.NDArray[np.object_]

_EPS_M = 1e-6  # cuts closer than this (metres) are one cut
PIECE_INPUTS = ("network", "admin_units", "lakes")
"""The project inputs pieces are computed from."""
PIECE_COLUMNS = ("reach_id", "from_m", "to_m", "length_m", "province_code", "city_code",
                 "county_code", "lake_id")  # fmt: skip


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
        return metres_per_unit(self.xy, self.crs)

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
    network = project.network
    return project.derived(
        "vertices", ("network",), None, lambda: _build_vertices(network.reaches, network.crs)
    )


def _build_vertices(reaches: gpd.GeoDataFrame, crs: CRS) -> Vertices:
    geoms = reaches.geometry.to_numpy()
    xy, owner = shapely.get_coordinates(geoms, return_index=True)
    n = len(geoms)
    offsets = np.searchsorted(owner, np.arange(n + 1)).astype(np.int64)
    bad = np.flatnonzero((shapely.get_type_id(geoms) != 1) | (np.diff(offsets) < 2))
    if bad.size:
        raise InputError.from_key("err_pieces.not_simple", ids=items(reaches.index[bad]))
    same = owner[1:] == owner[:-1]
    seg = np.zeros(len(xy))
    seg[:-1] = np.where(same, segment_lengths(xy, crs), 0.0)
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


# --- admin units ------------------------------------------------------------------------------


def admin_units(project: Project) -> Units:
    """The project's admin units, checked (cached on the project).

    Raises
    ------
    CRSError
        If the units' CRS differs from the network's.
    AdminUnitsError
        If columns are missing or polygons are invalid.
    """
    return project.derived(
        "units",
        ("network", "admin_units"),
        None,
        lambda: checked_units(project.admin_units, project.network.crs),
    )


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
                    Message(
                        "err_pieces.gap", parent=parent, km2=f"{area / 1e6:.3f}", count=len(parts)
                    ),
                    (parent,),
                )
            )
    return problems


# --- cutting ----------------------------------------------------------------------------------


def _cut_measures(vertices: Vertices, segments: FloatArray) -> tuple[IntArray, FloatArray]:
    """Reach positions and measures where reaches cross or start/stop running along a boundary.

    Reach segments meet the boundary segments of the grid cells they touch (cells about six
    reach segments wide; boundary segments are chopped to at most one cell) and each such pair
    is intersected exactly, in one compiled pass.
    """
    if len(segments) == 0 or len(vertices.xy) < 2:
        return np.empty(0, np.int64), np.empty(0)
    starts = np.flatnonzero(np.diff(vertices.owner) == 0)
    p0, p1 = vertices.xy[starts], vertices.xy[starts + 1]
    extent = np.maximum(np.abs(p1[:, 0] - p0[:, 0]), np.abs(p1[:, 1] - p0[:, 1]))
    cell = 6.0 * float(np.median(extent)) if len(extent) else 1.0
    low_x, low_y, high_x, high_y = xy_bounds(vertices.xy)
    span = max(high_x - low_x, high_y - low_y) or 1.0
    cell = max(cell, span / 4096.0) if cell > 0 else span / 1024.0
    chopped = chop(segments, cell)
    t_values, index = grid_cuts(p0, p1, chopped, cell)
    vertex = starts[index]
    measures = vertices.measure[vertex] + t_values * vertices.seg_len[vertex]
    return vertices.owner[vertex], measures


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
    return project.derived(
        "pieces",
        PIECE_INPUTS,
        (min_piece_m, overlap_tolerance_m),
        lambda: _compute_pieces(
            project, min_piece_m=min_piece_m, overlap_tolerance_m=overlap_tolerance_m
        ),
    )


def _compute_pieces(
    project: Project, *, min_piece_m: float, overlap_tolerance_m: float
) -> PieceArrays:
    vertices = reach_vertices(project)
    units = admin_units(project)
    rows = np.concatenate(list(units.by_level.values()))
    segments = np.concatenate(
        [boundary_segments(units.geoms[rows]), _shore_segments(project.lakes)]
    )
    owner, measures = _cut_measures(vertices, segments)
    position, from_m, to_m = _pieces_from_cuts(vertices, owner, measures)
    mid = vertices.point_xy(position, (from_m + to_m) / 2.0)
    codes, on_boundary = _assign_levels(mid, units, overlap_tolerance_m=overlap_tolerance_m)
    lake = _lake_of(mid, project.lakes)  # exact: no piece crosses a shore
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
    parent_row = parent_rows(units)
    finer: IntArray | None = None
    for level in PIECE_LEVELS[::-1]:
        result = np.full(len(xy), -1, dtype=np.int64)
        if finer is not None:
            derived = parent_row[finer]
            ok = (derived >= 0) & (units.levels[np.maximum(derived, 0)] == level)
            result[ok] = derived[ok]
        todo = np.flatnonzero(result < 0)
        if len(todo) and len(units.by_level[level]):
            found, flag = assign_level(
                xy[todo], units, units.by_level[level], overlap_tolerance_m=overlap_tolerance_m
            )
            result[todo] = found
            on_boundary[todo] |= flag
        codes[level] = result
        finer = result
    return {level: codes[level] for level in PIECE_LEVELS}, on_boundary


def _lake_rows(lakes: gpd.GeoDataFrame | None) -> IntArray:
    """Rows of the lakes with a valid polygon (the others neither cut pieces nor hold any)."""
    if lakes is None or len(lakes) == 0:
        return np.empty(0, np.int64)
    geoms = lakes.geometry.to_numpy()
    usable = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms) & shapely.is_valid(geoms)
    return np.flatnonzero(usable).astype(np.int64)


def _shore_segments(lakes: gpd.GeoDataFrame | None) -> FloatArray:
    """The boundary segments of the usable lake polygons (their shores, islands included)."""
    rows = _lake_rows(lakes)
    if lakes is None or len(rows) == 0:
        return np.empty((0, 4))
    return boundary_segments(lakes.geometry.to_numpy()[rows])


def _lake_of(xy: FloatArray, lakes: gpd.GeoDataFrame | None) -> IntArray:
    """Row (into ``lakes``) of the lake containing or touching each point, -1 if none."""
    result = np.full(len(xy), -1, dtype=np.int64)
    rows = _lake_rows(lakes)
    if lakes is None or len(rows) == 0:
        return result
    point, poly = hits_xy(xy, lakes.geometry.to_numpy()[rows])
    result[point] = rows[poly]
    return result


def lake_ids_at(xy: FloatArray, lakes: gpd.GeoDataFrame | None) -> ObjArray:
    """The ``lake_id`` of the lake containing (or touching) each point, None where none.

    Parameters
    ----------
    xy
        Point coordinates ``(n, 2)`` in the lakes' CRS.
    lakes
        Lake polygons with ``lake_id``.

    Returns
    -------
    numpy.ndarray
        Lake ids (objects), None outside every lake.
    """
    rows = _lake_of(xy, lakes)
    if lakes is None or len(lakes) == 0 or "lake_id" not in lakes.columns:
        return np.full(len(xy), None, dtype=object)
    return _with_none(lakes["lake_id"].to_numpy(dtype=object))[rows]


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
    parts = []
    for coarse, fine in pairwise(PIECE_LEVELS):
        gap = (codes[fine] < 0) & (codes[coarse] >= 0)
        gap &= parent_has_children[codes[coarse]]
        if gap.any():
            km = float((to_m[gap] - from_m[gap]).sum()) / 1000.0
            where = sorted({str(units.codes[r]) for r in codes[coarse][gap]})
            reach_ids = project.network.ids[np.unique(position[gap])]
            part = Message(
                "err_pieces.gap_part", km=f"{km:.2f}", coarse=Code("level", coarse),
                units=items(where), fine=Code("level", fine), reaches=items(reach_ids),
            )  # fmt: skip
            parts.append(part)
    if parts:
        message = Message("err_pieces.gaps", parts=joined(parts))
        warnings.warn(DataQualityWarning(message), stacklevel=4)


# --- public: pieces ---------------------------------------------------------------------------


def responsibility_pieces(
    project: Project, *, min_piece_m: float = 1.0, overlap_tolerance_m: float = 50.0
) -> gpd.GeoDataFrame:
    """The network cut at every admin boundary of every level that has polygons and at lake shores.

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
        ``lake_id`` (the lake the piece lies in, or None: pieces are cut at lake shores) and
        the piece geometry.

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
    candidates = np.repeat(vertices.offsets[reaches], count) + ranks(count)
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


def piece_table(project: Project) -> pd.DataFrame:
    """The pieces as a plain table for the coverage audit (cached in the project's store).

    Parameters
    ----------
    project
        The project.

    Returns
    -------
    pandas.DataFrame
        :data:`PIECE_COLUMNS`, sorted by reach position then ``from_m``, plus ``position``
        (reach position in the network core).
    """

    def compute() -> pd.DataFrame:
        frame = responsibility_pieces(project)
        table = pd.DataFrame(frame[list(PIECE_COLUMNS)])
        table["position"] = project.network.core.position(table["reach_id"].to_numpy())
        return table.sort_values(["position", "from_m"], kind="stable").reset_index(drop=True)

    return project.derived("piece_table", PIECE_INPUTS, None, compute)
