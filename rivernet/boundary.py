"""Cross-boundary responsibility: handover sections (交接断面) and boundary rivers (界河).

Both are found on the responsibility pieces of :mod:`rivernet.pieces` (the network cut at every
admin boundary of every level that has polygons); :func:`responsibility_pieces` and
:func:`gap_problems` live there and are re-exported here.

Lakes: HydroRIVERS draws straight artificial flow paths across lakes (about 89 across Lake
Taihu). Pieces are cut at lake shores, and those inside a lake carry its ``lake_id`` (see
:mod:`rivernet.pieces`). Crossings inside a lake are kept (water does pass from one unit to
another through the lake, e.g. from Huzhou in Zhejiang into the Jiangsu part of Taihu) but are
flagged ``in_lake``: their point is where the artificial flow path crosses the boundary, not a
river cross-section, and the lake's chiefs (湖长) rather than river chiefs handle them; pass
``include_lakes=False`` to drop them. Boundary rivers are never looked for on lake pieces (a
flow path running along a boundary in a lake is not a river forming a boundary).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from rivernet import messages
from rivernet._segments import boundary_segments, chop, ranks, segment_distance
from rivernet._units import PIECE_LEVELS, Units, assign_level
from rivernet.admin import LEVELS
from rivernet.errors import AdminUnitsError, InputError, PolicyError
from rivernet.messages import Code, Message
from rivernet.pieces import (
    PIECE_INPUTS,
    PieceArrays,
    Vertices,
    _code_array,
    _lake_ids,
    _lake_of,
    _name_array,
    admin_units,
    gap_problems,
    piece_arrays,
    reach_vertices,
    responsibility_pieces,
    substrings,
)
from rivernet.roster import Roster, as_date

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

RULES: tuple[str, ...] = ("split_by_bank", "split_by_length", "escalate")
_MAX_CHIEFS_SHOWN = 4
# Id prefixes of crossings and boundary stretches: P province, C city, X county (县 xian).
_LEVEL_PREFIX = {"province": "P", "city": "C", "county": "X"}


# --- public: crossings ------------------------------------------------------------------------


def require_level(units: Units, level: str) -> None:
    """Raise if ``level`` is not a polygon level or the units have none at it."""
    if level not in PIECE_LEVELS:
        key = "err_boundary.not_polygon_level" if level in LEVELS else "err_boundary.unknown_level"
        raise InputError.from_key(key, level=repr(level), levels=_codes(PIECE_LEVELS))
    if len(units.by_level[level]) == 0:
        present = [Code("level", lev) for lev in PIECE_LEVELS if len(units.by_level[lev])]
        raise AdminUnitsError.from_key(
            "err_boundary.no_polygons", level=Code("level", level),
            present=messages.items(present) if present else Message("err_boundary.none"),
        )  # fmt: skip


def _codes(codes: Sequence[str]) -> messages.Items:
    """Codes a caller may give (levels, rules), for a list of choices in a message."""
    return messages.items((Code("err_analysis_codes", code) for code in codes), limit=len(codes))


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
    return project.derived(
        "crossings", PIECE_INPUTS, level, lambda: _compute_crossings(project, level)
    )


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
    merge_within_m: float = 1000.0,
) -> gpd.GeoDataFrame:
    """Handover sections (交接断面): where flow leaves one unit and enters another.

    A river that crosses a boundary and crosses back soon after (it meanders along the
    boundary, or dips into the neighbour for a few hundred metres) is one section with
    several passes, not several sections: a crossing joins the section of the crossing just
    above it on the flow path when it goes back between the same two units and lies within
    ``merge_within_m`` of the section's first pass, along the network.

    Parameters
    ----------
    project
        The project.
    level
        ``"province"``, ``"city"`` or ``"county"``.
    as_of
        Date for the chiefs on both sides (``datetime.date`` or ISO text; default today).
    include_lakes
        Keep sections on the artificial flow paths inside lakes (``in_lake``); False drops the
        sections whose every pass lies in a lake.
    merge_within_m
        Merge a crossing and its re-crossings within this distance (metres, along the
        network) into one section; 0 lists every pass as its own section.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per section, in flow order along each reach, placed at its first pass (the
        point where water first leaves the upstream unit): ``crossing_id`` (the first pass's
        id), ``level``, ``reach_id``, ``measure_m``, ``measure_fraction``, ``river_id`` (the
        reach's main-stem id), ``upstream_code``/``upstream_name`` and
        ``downstream_code``/``downstream_name`` (the unit pair, in the first pass's direction),
        ``responsible_code``/``responsible_name`` (the upstream side, by the handover-section
        rule), ``at_junction`` and ``confluence`` (``"tributary"`` or ``"main_stem"`` when the
        first pass is at a confluence), ``upstream_length_km`` (river length draining through),
        ``distance_to_outlet_km``, ``in_lake`` (every pass lies on a lake flow path),
        ``lake_id`` (the first pass's lake), ``passes`` (how many), ``pass_ids`` (the passes'
        crossing ids, ``P<reach>@<measure>``, in flow order, joined with ``,``: the rows of
        ``merge_within_m=0``), ``pass_directions`` (``from->to`` unit codes of each pass),
        ``lake_passes``, ``span_m`` (along the network from the first to the last pass),
        ``returns`` (the last pass flows back into the upstream unit), ``upstream_chiefs``
        and ``downstream_chiefs`` (None when no roster is loaded) and the point.

    Raises
    ------
    AdminUnitsError
        If the admin units have no polygons at ``level``.
    InputError
        If ``merge_within_m`` is negative or not a number.
    """
    from rivernet._chains import flow_rank, section_heads  # _chains builds on this module

    arrays = crossing_arrays(project, level=level)
    head = section_heads(project, level, merge_within_m)
    passes = _section_passes(project, arrays, head, flow_rank(project, arrays), level=level)
    first = np.flatnonzero(head == np.arange(len(arrays)))
    if not include_lakes:
        first = first[~passes.loc[first, "in_lake"].to_numpy(dtype=bool)]
    keep = np.zeros(len(arrays), dtype=bool)
    keep[first] = True
    frame = crossing_frame(project, arrays.subset(keep), level=level, as_of=as_of)
    where = list(frame.columns).index("lake_id")
    for offset, column in enumerate(passes.columns.drop("in_lake")):
        frame.insert(where + 1 + offset, column, passes.loc[first, column].to_numpy())
    frame["in_lake"] = passes.loc[first, "in_lake"].to_numpy(dtype=bool)
    return frame


def _section_passes(
    project: Project, arrays: CrossingArrays, head: IntArray, rank: IntArray, *, level: str
) -> pd.DataFrame:
    """Per section (indexed by its first pass's row): the columns describing its passes."""
    units = admin_units(project)
    table = pd.DataFrame(
        {
            "head": head,
            "id": crossing_ids(project, arrays, level=level),
            "direction": [
                f"{a}->{b}"
                for a, b in zip(
                    _code_array(units, arrays.upstream),
                    _code_array(units, arrays.downstream),
                    strict=True,
                )
            ],
            "lake": arrays.lake >= 0,
            "to_outlet": arrays.to_outlet_m,
            "down": arrays.downstream,
            "up": arrays.upstream[head],
            "rank": rank,
        }
    ).sort_values("rank", kind="stable")
    group = table.groupby("head", sort=True)
    return pd.DataFrame(
        {
            "passes": group.size().astype(np.int64),
            "pass_ids": group["id"].agg(",".join).astype(object),
            "pass_directions": group["direction"].agg(",".join).astype(object),
            "lake_passes": group["lake"].sum().astype(np.int64),
            "span_m": group["to_outlet"].max() - group["to_outlet"].min(),
            "returns": group["down"].last() == group["up"].last(),
            "in_lake": group["lake"].all(),
        }
    )


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
        The project; its ``roster`` supplies the chiefs.
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
    roster = project.roster
    if roster is None or not values:
        return [None] * len(values)
    table = _chiefs_table(project, roster, level=level, day=as_date(as_of))
    return [None if code is None else table.get(str(code)) for code in values]


def _chiefs_table(project: Project, roster: Roster, *, level: str, day: Any) -> dict[str, str]:
    """Unit code -> chiefs text at ``level`` from the roster (cached per day)."""
    return project.derived(
        "unit_chiefs",
        ("roster",),
        (level, day),
        lambda: _roster_unit_chiefs(roster, level=level, day=day),
    )


def _roster_unit_chiefs(roster: Roster, *, level: str, day: Any) -> dict[str, str]:
    """``"name (role)"`` texts of the chiefs active on ``day`` at ``level``, by unit code.

    Each unit lists its distinct texts in roster order, the first few then ``+n`` (vectorised:
    a national roster has millions of assignments).
    """
    table = roster.active(day)
    table = table[table["level"].astype(str) == level]
    names = roster.people.drop_duplicates("person_id").set_index("person_id")["name"]
    people = table["person_id"].map(names).fillna(table["person_id"])
    roles = table["role"].to_numpy(dtype=object)
    suffix = [f" ({r})" if isinstance(r, str) and r else "" for r in roles]
    texts = pd.DataFrame(
        {
            "code": table["unit_code"].astype(str).to_numpy(dtype=object),
            "text": [
                str(p) + s for p, s in zip(people.to_numpy(dtype=object), suffix, strict=True)
            ],
        }
    ).drop_duplicates()
    counts = texts.groupby("code", sort=True)["text"].size()
    shown = texts[texts.groupby("code", sort=False).cumcount() < _MAX_CHIEFS_SHOWN]
    joined = shown.groupby("code", sort=True)["text"].agg("、".join)
    extra = (counts - _MAX_CHIEFS_SHOWN).clip(lower=0)
    return {
        str(code): text + (f" +{int(more)}" if more > 0 else "")
        for code, text, more in zip(
            joined.index, joined.to_numpy(), extra.loc[joined.index].to_numpy(), strict=True
        )
    }


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
        raise InputError.from_key("err_boundary.bad_tolerance", value=tolerance_m)
    chosen = _rule(project, level, rule)
    min_length = 4.0 * tolerance_m if min_length_m is None else float(min_length_m)
    stretches = project.derived(
        "boundary_stretches",
        PIECE_INPUTS,
        (level, tolerance_m, min_length),
        lambda: _boundary_stretches(project, level, tolerance_m, min_length),
    )
    return _stretch_frame(project, stretches, level=level, rule=chosen)


def _rule(project: Project, level: str, rule: str | None) -> str:
    meta = getattr(project, "meta", {}) or {}
    chosen = rule or meta.get(f"boundary_rule.{level}") or meta.get("boundary_rule")
    chosen = chosen or "split_by_bank"
    if chosen not in RULES:
        where = Message("err_boundary.rule_given" if rule else "err_boundary.rule_in_meta")
        raise PolicyError.from_key(
            "err_boundary.unknown_rule", rule=repr(chosen), where=where, rules=_codes(RULES)
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
    left, _ = assign_level(xy + normal, units, rows, overlap_tolerance_m=1e18)
    right, _ = assign_level(xy - normal, units, rows, overlap_tolerance_m=1e18)
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
    segments = chop(boundary_segments(polygons), 8.0 * tolerance_m / _min_scale(vertices))
    if len(segments) == 0:
        return np.empty(0, np.int64)
    pad = tolerance_m / _min_scale(vertices)
    low = np.minimum(segments[:, :2], segments[:, 2:]) - pad
    high = np.maximum(segments[:, :2], segments[:, 2:]) + pad
    tree = shapely.STRtree(np.asarray(shapely.box(low[:, 0], low[:, 1], high[:, 0], high[:, 1])))
    reach, box = tree.query(project.network.reaches.geometry.to_numpy())
    first = vertices.offsets[:-1][reach]
    count = vertices.offsets[1:][reach] - first - 1
    vertex = np.repeat(first, count) + ranks(count)
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
    distance = segment_distance(
        vertices.xy[vertex] * scale,
        vertices.xy[vertex + 1] * scale,
        segments[box, :2] * scale,
        segments[box, 2:] * scale,
    )
    return np.unique(vertex[distance <= tolerance_m]).astype(np.int64)


def _min_scale(vertices: Vertices) -> float:
    return float(vertices.scale.min()) if len(vertices.xy) else 1.0


def _samples(
    vertices: Vertices, segments: IntArray, step_m: float
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Sample points every ``step_m`` (or less) along the given reach segments."""
    length = vertices.seg_len[segments]
    segments, length = segments[length > 0], length[length > 0]
    count = np.maximum(np.ceil(length / step_m), 1).astype(np.int64)
    step = length / count
    position = np.searchsorted(vertices.offsets, segments, side="right") - 1
    rank = ranks(count)
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
