"""Joint-control partners (上下游、左右岸、干支流联防联控) and incident routing.

Built on the handover sections of :mod:`rivernet.boundary`. The crossings of one level are linked
into chains: each crossing knows the first crossing below it on the flow path (found for every
reach at once by pointer jumping over the downstream array), so "which units does water from
here reach, and how far down" is a walk along short chains of crossings, done for all crossings
at once with numpy. Distances are along the network, in km, between the crossing points (or
from the reach outlet, for reach queries; from the snapped point, for incidents). Secondary
links (braids, diversions) are not followed: water is routed down the main path.

Relations, seen from the unit (or reach) asked about:

- ``upstream``: the partner's water flows into it (the partner is on the upstream side);
- ``downstream``: its water flows into the partner;
- ``tributary`` / ``main_stem``: at a confluence on the boundary, the partner holds the
  tributary that joins its main stem, or the main stem its tributary joins;
- ``left_bank`` / ``right_bank``: on a boundary river, the partner holds that bank (looking
  downstream).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from rivernet._errors import InputError, NotFoundError, OutOfRangeError, format_ids
from rivernet.admin import LEVEL_LABELS_ZH, level_of_code
from rivernet.boundary import (
    CrossingArrays,
    _current,
    _roster,
    boundary_rivers,
    crossing_arrays,
    crossing_frame,
    crossing_ids,
    require_level,
    unit_chiefs,
)
from rivernet.pieces import (
    PIECE_LEVELS,
    _cache,
    _code_array,
    _name_array,
    admin_units,
    piece_arrays,
)

if TYPE_CHECKING:
    from rivernet.project import Project

__all__ = [
    "IncidentReport",
    "incident",
    "jurisdiction_graph",
    "jurisdiction_table",
    "partner_summary",
    "partner_table",
    "partners",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

PARTNER_COLUMNS = (
    "unit_code", "unit_name", "level", "relation", "partner_code", "partner_name", "river_id",
    "distance_km", "crossing_id", "via", "connections", "partner_chiefs",
)  # fmt: skip


# --- crossing chains --------------------------------------------------------------------------


def _below(project: Project, level: str) -> IntArray:
    """Per reach position: the first crossing on the reach or, failing that, below it."""
    cache = _cache(project)
    key = ("below", level)
    if key in cache:
        return cache[key]
    arrays = crossing_arrays(project, level=level)
    core = project.network.core
    n = len(core)
    first_on = np.full(n, -1, dtype=np.int64)
    reaches, index = np.unique(arrays.position, return_index=True)
    first_on[reaches] = index
    has = first_on >= 0
    pointer = np.where(has, np.arange(n), core.downstream).astype(np.int64)
    while True:  # pointer jumping: log2(depth) passes
        safe = np.maximum(pointer, 0)
        move = (pointer >= 0) & ~has[safe]
        if not move.any():
            break
        pointer = np.where(move, pointer[safe], pointer)
    below = np.where(pointer >= 0, first_on[np.maximum(pointer, 0)], -1)
    cache[key] = below
    return below


def _next_crossing(project: Project, level: str) -> IntArray:
    """For each crossing, the next crossing down the flow path (-1 at the end)."""
    arrays = crossing_arrays(project, level=level)
    core = project.network.core
    n = len(arrays)
    result = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return result
    same = arrays.position[1:] == arrays.position[:-1]
    result[:-1][same] = np.arange(1, n)[same]
    last = np.append(~same, True)
    down = core.downstream[arrays.position[last]]
    below = _below(project, level)
    result[last] = np.where(down >= 0, below[np.maximum(down, 0)], -1)
    return result


def _walk(
    nxt: IntArray, to_outlet: FloatArray, start: IntArray, origin_m: FloatArray, limit: float | None
) -> tuple[IntArray, IntArray, FloatArray]:
    """Follow crossing chains from ``start``: (origin row, crossing reached, distance m)."""
    rows = np.arange(len(start), dtype=np.int64)
    current = start.copy()
    keep = current >= 0
    out_rows, out_cross, out_dist = [], [], []
    while keep.any():
        rows, current = rows[keep], current[keep]
        dist = origin_m[rows] - to_outlet[current]
        inside = dist <= limit + 1e-9 if limit is not None else np.ones(len(rows), dtype=bool)
        rows, current, dist = rows[inside], current[inside], dist[inside]
        out_rows.append(rows)
        out_cross.append(current)
        out_dist.append(dist)
        current = nxt[current]
        keep = current >= 0
    if not out_rows:
        empty = np.empty(0, np.int64)
        return empty, empty, np.empty(0)
    return np.concatenate(out_rows), np.concatenate(out_cross), np.concatenate(out_dist)


def _chain_pairs(
    project: Project, level: str, limit_m: float | None
) -> tuple[IntArray, IntArray, FloatArray]:
    """All (upstream crossing, downstream crossing, distance) pairs, a crossing with itself too."""
    cache = _cache(project)
    key = ("pairs", level, limit_m)
    if key not in cache:
        arrays = crossing_arrays(project, level=level)
        start = np.arange(len(arrays), dtype=np.int64)
        cache[key] = _walk(
            _next_crossing(project, level), arrays.to_outlet_m, start, arrays.to_outlet_m, limit_m
        )
    return cache[key]


# --- partners ---------------------------------------------------------------------------------


def partner_table(
    project: Project,
    *,
    level: str,
    distance_km: float | None = None,
    as_of: Any = None,
    banks: bool = True,
    tolerance_m: float = 250.0,
) -> pd.DataFrame:
    """The joint-control partners of every unit at one level, in one pass.

    Parameters
    ----------
    project
        The project.
    level
        ``"province"``, ``"city"`` or ``"county"``.
    distance_km
        Only partners reached within this along-network distance (None: all).
    as_of
        Date for the partners' chiefs (default today).
    banks
        Include left/right-bank partners on boundary rivers.
    tolerance_m
        Tolerance of the boundary-river search (see :func:`rivernet.boundary_rivers`).

    Returns
    -------
    pandas.DataFrame
        One row per unit, relation, partner and river: ``unit_code``, ``unit_name``,
        ``level``, ``relation``, ``partner_code``, ``partner_name``, ``river_id``,
        ``distance_km`` (nearest connection), ``crossing_id`` (the handover section on the
        unit's boundary), ``via`` (where the partner is reached: a crossing or boundary
        stretch), ``connections`` (how many) and ``partner_chiefs``.
    """
    limit = _limit_m(distance_km)
    arrays = crossing_arrays(project, level=level)
    upper, lower, dist = _chain_pairs(project, level, limit)
    ids = crossing_ids(project, arrays, level=level)
    river = _river_ids(project, arrays)
    frames = [
        _rows(arrays.upstream[upper], arrays.downstream[lower], "downstream", dist,
              ids[upper], ids[lower], river[upper]),
        _rows(arrays.downstream[lower], arrays.upstream[upper], "upstream", dist,
              ids[lower], ids[upper], river[lower]),
    ]  # fmt: skip
    frames += _confluence_rows(arrays, ids, river)
    if banks:
        frames += _bank_rows(project, level, tolerance_m)
    return _finish(project, pd.concat(frames, ignore_index=True), level=level, as_of=as_of)


def _limit_m(distance_km: float | None) -> float | None:
    if distance_km is None:
        return None
    if not np.isfinite(distance_km) or distance_km < 0:
        raise InputError(f"distance_km must be a non-negative number, got {distance_km}")
    return float(distance_km) * 1000.0


def _river_ids(project: Project, arrays: CrossingArrays) -> npt.NDArray[Any]:
    net = project.network
    return net.ids[net.core.main_stem()[arrays.position]]


def _rows(
    unit: IntArray,
    partner: IntArray,
    relation: str,
    dist: FloatArray,
    crossing: npt.NDArray[Any],
    via: npt.NDArray[Any],
    river: npt.NDArray[Any],
) -> pd.DataFrame:
    keep = unit != partner
    return pd.DataFrame(
        {
            "unit": unit[keep],
            "relation": relation,
            "partner": partner[keep],
            "river_id": river[keep],
            "distance_m": dist[keep],
            "crossing_id": crossing[keep],
            "via": via[keep],
        }
    )


def _confluence_rows(
    arrays: CrossingArrays, ids: npt.NDArray[Any], river: npt.NDArray[Any]
) -> list[pd.DataFrame]:
    tributary = arrays.at_junction & arrays.tributary
    zero = np.zeros(int(tributary.sum()))
    up, down = arrays.upstream[tributary], arrays.downstream[tributary]
    ident, rivers = ids[tributary], river[tributary]
    return [
        _rows(down, up, "tributary", zero, ident, ident, rivers),
        _rows(up, down, "main_stem", zero, ident, ident, rivers),
    ]


def _bank_rows(project: Project, level: str, tolerance_m: float) -> list[pd.DataFrame]:
    stretches = boundary_rivers(project, level=level, tolerance_m=tolerance_m)
    if stretches.empty:
        return []
    units = admin_units(project)
    left = np.array([units.row_of[c] for c in stretches["left_code"]], dtype=np.int64)
    right = np.array([units.row_of[c] for c in stretches["right_code"]], dtype=np.int64)
    zero = np.zeros(len(stretches))
    ident = stretches["stretch_id"].to_numpy(dtype=object)
    rivers = stretches["river_id"].to_numpy()
    return [
        _rows(left, right, "right_bank", zero, ident, ident, rivers),
        _rows(right, left, "left_bank", zero, ident, ident, rivers),
    ]


def _finish(project: Project, rows: pd.DataFrame, *, level: str, as_of: Any) -> pd.DataFrame:
    """Keep the nearest connection per unit, relation, partner and river; add names, chiefs."""
    units = admin_units(project)
    if rows.empty:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in PARTNER_COLUMNS})
    rows = rows.sort_values(
        ["unit", "relation", "partner", "river_id", "distance_m"], kind="stable"
    )
    group = rows.groupby(["unit", "relation", "partner", "river_id"], sort=False)
    best = rows.loc[group["distance_m"].idxmin()].copy()
    best["connections"] = group.size().to_numpy()
    unit = best["unit"].to_numpy(dtype=np.int64)
    partner = best["partner"].to_numpy(dtype=np.int64)
    result = pd.DataFrame(
        {
            "unit_code": _code_array(units, unit),
            "unit_name": _name_array(units, unit),
            "level": level,
            "relation": best["relation"].to_numpy(),
            "partner_code": _code_array(units, partner),
            "partner_name": _name_array(units, partner),
            "river_id": best["river_id"].to_numpy(),
            "distance_km": best["distance_m"].to_numpy(dtype=float) / 1000.0,
            "crossing_id": best["crossing_id"].to_numpy(),
            "via": best["via"].to_numpy(),
            "connections": best["connections"].to_numpy(),
        }
    )
    result["partner_chiefs"] = unit_chiefs(
        project, result["partner_code"], level=level, as_of=as_of
    )
    order = ["unit_code", "relation", "distance_km", "partner_code"]
    return result.sort_values(order, kind="stable").reset_index(drop=True)


def partners(
    project: Project,
    *,
    unit: str | None = None,
    chief: str | None = None,
    reach: Any = None,
    level: str | None = None,
    distance_km: float | None = None,
    as_of: Any = None,
    banks: bool = True,
) -> pd.DataFrame:
    """The joint-control partners of a unit, a chief or a reach.

    Parameters
    ----------
    project
        The project.
    unit
        A unit code (its level is the code's level).
    chief
        A person id or name from the roster: the partners of every unit and reach they are
        assigned to, as of ``as_of``.
    reach
        A reach id: partners of the units it flows through (distances from its outlet).
    level
        Level for ``reach`` (default: the finest level with polygons) and ``chief`` queries.
    distance_km
        Only partners within this along-network distance.
    as_of
        Date for the chiefs (default today).
    banks
        Include left/right-bank partners on boundary rivers.

    Returns
    -------
    pandas.DataFrame
        As :func:`partner_table`: ``relation`` is ``upstream``, ``downstream``,
        ``tributary``, ``main_stem``, ``left_bank`` or ``right_bank``.

    Raises
    ------
    InputError
        Unless exactly one of ``unit``, ``chief`` and ``reach`` is given.
    NotFoundError
        If the unit, reach or chief does not exist, or no roster is loaded for ``chief``.
    """
    given = [name for name, value in (("unit", unit), ("chief", chief), ("reach", reach))
             if value is not None]  # fmt: skip
    if len(given) != 1:
        raise InputError(
            "partners() takes exactly one of unit=, chief= or reach= "
            f"(got {', '.join(given) or 'none'})"
        )
    if unit is not None:
        return _unit_partners(project, str(unit), distance_km, as_of, banks)
    if reach is not None:
        return _reach_partners(project, reach, level, distance_km, as_of, banks)
    return _chief_partners(project, str(chief), level, distance_km, as_of, banks)


def _unit_partners(
    project: Project, code: str, distance_km: float | None, as_of: Any, banks: bool
) -> pd.DataFrame:
    units = admin_units(project)
    if code not in units.row_of:
        raise NotFoundError(
            f"unit {code!r} is not in the admin units; codes look like '320500' "
            f"(e.g. {format_ids(list(units.row_of)[:5], limit=5)})"
        )
    level = level_of_code(code)
    table = partner_table(project, level=level, distance_km=distance_km, as_of=as_of, banks=banks)
    return table[table["unit_code"] == code].reset_index(drop=True)


def _reach_partners(
    project: Project,
    reach: Any,
    level: str | None,
    distance_km: float | None,
    as_of: Any,
    banks: bool,
) -> pd.DataFrame:
    level = level or _finest_level(project)
    arrays = crossing_arrays(project, level=level)
    core = project.network.core
    position = int(core.position(reach)[0])
    origin = core.distance_to_outlet_m()[position]
    pieces = piece_arrays(project)
    home = set(pieces.codes[level][pieces.first[position] : pieces.last[position] + 1].tolist())
    limit = _limit_m(distance_km)
    up_rows = _upstream_crossings(project, arrays, position, core.length_m[position], limit)
    frames = [
        _point_rows(arrays, up_rows, "upstream", arrays.to_outlet_m[up_rows] - origin,
                    arrays.upstream[up_rows], project, level),
    ]  # fmt: skip
    start = _first_down(project, level, position, core.length_m[position] - 1e-9)
    _, down_rows, dist = _walk(
        _next_crossing(project, level), arrays.to_outlet_m, np.array([start]),
        np.array([origin]), limit,
    )  # fmt: skip
    frames.append(
        _point_rows(arrays, down_rows, "downstream", dist, arrays.downstream[down_rows],
                    project, level)
    )  # fmt: skip
    frames += _reach_confluences(project, arrays, position, level)
    if banks:
        frames += _reach_banks(project, reach, level)
    rows = pd.concat(frames, ignore_index=True)
    rows = rows[~rows["partner"].isin(home - {-1})]
    rows["unit"] = -1
    table = _finish(project, rows, level=level, as_of=as_of)
    table["unit_code"] = None
    table["unit_name"] = f"reach {reach}"
    return table


def _finest_level(project: Project) -> str:
    units = admin_units(project)
    for level in PIECE_LEVELS[::-1]:
        if len(units.by_level[level]):
            return level
    require_level(units, "county")
    return "county"


def _upstream_crossings(
    project: Project, arrays: CrossingArrays, position: int, measure: float, limit: float | None
) -> IntArray:
    """Crossings upstream of the point ``measure`` on reach ``position``."""
    core = project.network.core
    pre = core.pre[arrays.position]
    lo, hi = core.pre[position], core.pre[position] + core.size[position]
    inside = (pre >= lo) & (pre < hi)
    inside &= (arrays.position != position) | (arrays.measure < measure - 1e-9)
    origin = core.distance_to_outlet_m()[position] + core.length_m[position] - measure
    if limit is not None:
        inside &= arrays.to_outlet_m - origin <= limit + 1e-9
    return np.flatnonzero(inside).astype(np.int64)


def _first_down(project: Project, level: str, position: int, measure: float) -> int:
    """The first crossing at or below the point ``measure`` on reach ``position`` (-1: none)."""
    arrays = crossing_arrays(project, level=level)
    on = np.flatnonzero((arrays.position == position) & (arrays.measure >= measure))
    if len(on):
        return int(on[0])
    down = project.network.core.downstream[position]
    return int(_below(project, level)[down]) if down >= 0 else -1


def _point_rows(
    arrays: CrossingArrays,
    rows: IntArray,
    relation: str,
    dist: FloatArray,
    partner: IntArray,
    project: Project,
    level: str,
) -> pd.DataFrame:
    ids = crossing_ids(project, arrays, level=level)
    river = _river_ids(project, arrays)
    return pd.DataFrame(
        {
            "relation": relation,
            "partner": partner,
            "river_id": river[rows],
            "distance_m": dist,
            "crossing_id": ids[rows],
            "via": ids[rows],
        }
    )


def _reach_confluences(
    project: Project, arrays: CrossingArrays, position: int, level: str
) -> list[pd.DataFrame]:
    core = project.network.core
    tributary = arrays.at_junction & arrays.tributary
    mine = np.flatnonzero(tributary & (arrays.position == position))
    into = np.flatnonzero(tributary & (core.downstream[arrays.position] == position))
    return [
        _point_rows(arrays, mine, "main_stem", np.zeros(len(mine)), arrays.downstream[mine],
                    project, level),
        _point_rows(arrays, into, "tributary", np.zeros(len(into)), arrays.upstream[into],
                    project, level),
    ]  # fmt: skip


def _reach_banks(project: Project, reach: Any, level: str) -> list[pd.DataFrame]:
    stretches = boundary_rivers(project, level=level)
    stretches = stretches[stretches["reach_id"] == reach]
    if stretches.empty:
        return []
    units = admin_units(project)
    frames = []
    for side in ("left", "right"):
        frames.append(
            pd.DataFrame(
                {
                    "relation": f"{side}_bank",
                    "partner": [units.row_of[c] for c in stretches[f"{side}_code"]],
                    "river_id": stretches["river_id"].to_numpy(),
                    "distance_m": 0.0,
                    "crossing_id": stretches["stretch_id"].to_numpy(),
                    "via": stretches["stretch_id"].to_numpy(),
                }
            )
        )
    return frames


def _chief_partners(
    project: Project,
    chief: str,
    level: str | None,
    distance_km: float | None,
    as_of: Any,
    banks: bool,
) -> pd.DataFrame:
    roster = _roster(project)
    if roster is None:
        raise NotFoundError(
            "no roster loaded: chief= needs the project's roster tables (roster_people, "
            "roster_assignments) or project.roster = rivernet.read_roster(...)"
        )
    people = roster.people
    match = people[(people["person_id"].astype(str) == chief) | (people["name"] == chief)]
    if match.empty:
        raise NotFoundError(f"no chief {chief!r} in the roster (give a person_id or a name)")
    assignments = roster.assignments
    assignments = assignments[assignments["person_id"].isin(match["person_id"])]
    assignments = _current(assignments, as_of=as_of)
    if level is not None:
        assignments = assignments[assignments["level"] == level]
    frames = []
    units = admin_units(project)
    for code in sorted({str(c) for c in assignments["unit_code"].dropna()}):
        if code in units.row_of and level_of_code(code) in PIECE_LEVELS:
            frames.append(_unit_partners(project, code, distance_km, as_of, banks))
    reach_ids: Any = assignments["reach_id"].dropna().unique() if "reach_id" in assignments else []
    for reach in reach_ids:
        reach_id = _typed_reach(project, reach)
        if reach_id is not None:
            frames.append(_reach_partners(project, reach_id, level, distance_km, as_of, banks))
    if not frames:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in PARTNER_COLUMNS})
    return pd.concat(frames, ignore_index=True).drop_duplicates(
        subset=["unit_code", "unit_name", "relation", "partner_code", "river_id"]
    )


def _typed_reach(project: Project, value: Any) -> Any:
    net = project.network
    for candidate in (value, _as_int(value)):
        if candidate is not None and candidate in net:
            return candidate
    return None


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- jurisdiction graph and summaries -----------------------------------------------------------


def jurisdiction_table(
    project: Project,
    *,
    level: str,
    include_lakes: bool = True,
    boundary_tolerance_m: float | None = 250.0,
) -> pd.DataFrame:
    """Who drains into whom: one row per ordered pair of units with water flowing between them.

    Parameters
    ----------
    project
        The project.
    level
        ``"province"``, ``"city"`` or ``"county"``.
    include_lakes
        Count crossings on lake flow paths.
    boundary_tolerance_m
        Tolerance for the shared boundary-river length; None skips boundary rivers.

    Returns
    -------
    pandas.DataFrame
        ``upstream_code``, ``upstream_name``, ``downstream_code``, ``downstream_name``,
        ``crossings`` (handover sections), ``lake_crossings``, ``rivers`` (distinct main-stem
        ids), ``river_ids``, ``crossing_ids``, ``upstream_length_km`` (river length draining
        through the sections, each stretch counted once) and ``boundary_river_km`` (boundary
        rivers shared by the pair).
    """
    arrays = crossing_arrays(project, level=level)
    if not include_lakes:
        arrays = arrays.subset(arrays.lake < 0)
    core = project.network.core
    upstream_len = core.upstream_length_m()[arrays.position] - (
        core.length_m[arrays.position] - arrays.measure
    )
    frame = pd.DataFrame(
        {
            "up": arrays.upstream,
            "down": arrays.downstream,
            "river": _river_ids(project, arrays),
            "crossing": crossing_ids(project, arrays, level=level),
            "lake": arrays.lake >= 0,
            "row": np.arange(len(arrays)),
        }
    )
    group = frame.groupby(["up", "down"], sort=True)
    table = group.agg(
        crossings=("crossing", "size"),
        lake_crossings=("lake", "sum"),
        rivers=("river", "nunique"),
        river_ids=("river", lambda s: sorted(set(s.tolist()))),
        crossing_ids=("crossing", list),
        rows=("row", list),
    ).reset_index()
    table["upstream_length_km"] = [
        _union_upstream_m(core, arrays, upstream_len, np.asarray(rows, dtype=np.int64)) / 1000.0
        for rows in table.pop("rows")
    ]
    table["boundary_river_km"] = _shared_boundary_km(
        project, level, table["up"].to_numpy(), table["down"].to_numpy(), boundary_tolerance_m
    )
    units = admin_units(project)
    up, down = table["up"].to_numpy(np.int64), table["down"].to_numpy(np.int64)
    table.insert(0, "upstream_code", _code_array(units, up))
    table.insert(1, "upstream_name", _name_array(units, up))
    table.insert(2, "downstream_code", _code_array(units, down))
    table.insert(3, "downstream_name", _name_array(units, down))
    return table.drop(columns=["up", "down"])


def _union_upstream_m(
    core: Any, arrays: CrossingArrays, upstream_len: FloatArray, rows: IntArray
) -> float:
    """River length upstream of a set of crossings, each stretch counted once.

    A crossing upstream of another crossing of the set adds nothing: its water is already
    counted at the lower one.
    """
    rows = rows[np.argsort(arrays.to_outlet_m[rows], kind="stable")]  # most downstream first
    position, measure = arrays.position[rows], arrays.measure[rows]
    pre = core.pre[position]
    kept: list[int] = []
    total = 0.0
    for i in range(len(rows)):
        if kept:
            k = np.asarray(kept)
            inside = (pre[k] <= pre[i]) & (pre[i] < pre[k] + core.size[position[k]])
            inside &= (position[k] != position[i]) | (measure[i] < measure[k])
            if inside.any():
                continue
        kept.append(i)
        total += float(upstream_len[rows[i]])
    return total


def _shared_boundary_km(
    project: Project, level: str, up: IntArray, down: IntArray, tolerance_m: float | None
) -> FloatArray:
    if tolerance_m is None or len(up) == 0:
        return np.zeros(len(up))
    stretches = boundary_rivers(project, level=level, tolerance_m=tolerance_m)
    units = admin_units(project)
    shared: dict[frozenset[int], float] = {}
    for left, right, length in zip(
        stretches["left_code"], stretches["right_code"], stretches["length_m"], strict=True
    ):
        pair = frozenset((units.row_of[left], units.row_of[right]))
        shared[pair] = shared.get(pair, 0.0) + float(length) / 1000.0
    return np.array([shared.get(frozenset((a, b)), 0.0) for a, b in zip(up, down, strict=True)])


def jurisdiction_graph(
    project: Project,
    *,
    level: str,
    include_lakes: bool = True,
    boundary_tolerance_m: float | None = 250.0,
) -> nx.DiGraph:
    """The jurisdiction flow graph: units contracted, edge A->B when water flows from A into B.

    Parameters
    ----------
    project
        The project.
    level
        ``"province"``, ``"city"`` or ``"county"``.
    include_lakes
        Count crossings on lake flow paths.
    boundary_tolerance_m
        Tolerance for the shared boundary-river length; None skips boundary rivers.

    Returns
    -------
    networkx.DiGraph
        Nodes are unit codes (attributes ``name``, ``level``, ``river_km``: river length in the
        unit); edges carry the columns of :func:`jurisdiction_table`. ``G.graph`` holds
        ``level`` and ``crs``.
    """
    table = jurisdiction_table(
        project, level=level, include_lakes=include_lakes, boundary_tolerance_m=boundary_tolerance_m
    )
    graph = nx.DiGraph(level=level, crs=project.network.crs)
    units = admin_units(project)
    pieces = piece_arrays(project)
    code = pieces.codes[level]
    length = np.bincount(
        code[code >= 0], weights=(pieces.to_m - pieces.from_m)[code >= 0],
        minlength=len(units.codes),
    )  # fmt: skip
    for row in units.by_level[level]:
        if length[row] > 0:
            graph.add_node(
                str(units.codes[row]),
                name=units.names[row],
                level=level,
                river_km=float(length[row]) / 1000.0,
            )
    attributes = [c for c in table.columns if c not in ("upstream_code", "downstream_code")]
    for record in table.to_dict("records"):
        data = {name: record[name] for name in attributes}
        graph.add_edge(record["upstream_code"], record["downstream_code"], **data)
    return graph


def partner_summary(
    project: Project, *, level: str = "province", as_of: Any = None, include_lakes: bool = True
) -> pd.DataFrame:
    """Pair-by-pair summary for joint-meeting agendas ("浙江省 -> 江苏省: N rivers, M sections").

    Parameters
    ----------
    project
        The project.
    level
        Level of the pairs (default ``"province"``).
    as_of
        Date for the chiefs (default today).
    include_lakes
        Count crossings on lake flow paths.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`jurisdiction_table` (without the id lists) plus
        ``upstream_chiefs``, ``downstream_chiefs``, ``summary_zh`` and ``summary_en``.
    """
    table = jurisdiction_table(project, level=level, include_lakes=include_lakes)
    table = table.drop(columns=["river_ids", "crossing_ids"])
    table["upstream_chiefs"] = unit_chiefs(
        project, table["upstream_code"], level=level, as_of=as_of
    )
    table["downstream_chiefs"] = unit_chiefs(
        project, table["downstream_code"], level=level, as_of=as_of
    )
    columns = ["upstream_name", "downstream_name", "rivers", "crossings", "lake_crossings"]
    rows = list(table[columns].itertuples(index=False, name=None))
    table["summary_zh"] = [
        f"{up!s} → {down!s}：{rivers} 条河流，{sections} 个交接断面"
        + (f"（其中湖区 {lake} 个）" if lake else "")
        for up, down, rivers, sections, lake in rows
    ]
    table["summary_en"] = [
        f"{up!s} -> {down!s}: {rivers} rivers, {sections} handover sections"
        + (f" ({lake} in lakes)" if lake else "")
        for up, down, rivers, sections, lake in rows
    ]
    return table.sort_values(["crossings", "upstream_code"], ascending=[False, True]).reset_index(
        drop=True
    )


# --- incidents --------------------------------------------------------------------------------


@dataclass(eq=False)
class IncidentReport:
    """Whom to notify and where to look after a pollution incident.

    Attributes
    ----------
    snapped
        The incident point on the network: ``reach_id``, ``measure_m``, ``distance_m`` (from
        the given point), ``river_id`` and the units containing it (``<level>_code``).
    notify
        Units downstream to notify, in order of along-network distance (the incident's own
        units first, at 0 km): ``order``, ``level``, ``level_zh``, ``unit_code``,
        ``unit_name``, ``distance_km``, ``arrival_h`` (with a velocity), ``crossing_id``
        (where the plume enters the unit) and ``chiefs``.
    sections
        The handover sections the plume passes, in order: the crossing columns plus
        ``distance_km`` and ``arrival_h``.
    upstream
        Units upstream to check, nearest first: ``level``, ``unit_code``, ``unit_name``,
        ``distance_km`` (to their nearest handover section) and ``chiefs``.
    """

    snapped: pd.Series
    notify: pd.DataFrame
    sections: gpd.GeoDataFrame
    upstream: pd.DataFrame


def incident(
    project: Project,
    point: Any,
    *,
    distance_km: float | None = None,
    as_of: Any = None,
    velocity_m_s: float | None = None,
    max_snap_m: float = 1000.0,
) -> IncidentReport:
    """Route a pollution incident: units to notify downstream, sections passed, units upstream.

    Parameters
    ----------
    project
        The project.
    point
        The incident location: a shapely Point or an ``(x, y)`` pair in the network CRS
        (longitude, latitude for the sample), or a one-point GeoSeries in any CRS.
    distance_km
        How far along the network to look, downstream and upstream (None: to the outlet and
        to the sources).
    as_of
        Date for the chiefs (default today).
    velocity_m_s
        Flow velocity; when given, ``arrival_h`` is the travel time to each unit and section.
    max_snap_m
        The point must lie within this distance of a reach.

    Returns
    -------
    IncidentReport
        ``snapped``, ``notify``, ``sections`` and ``upstream``.

    Raises
    ------
    OutOfRangeError
        If no reach lies within ``max_snap_m`` of the point.
    InputError
        If the velocity or distance is not a positive number.
    """
    if velocity_m_s is not None and not (np.isfinite(velocity_m_s) and velocity_m_s > 0):
        raise InputError(f"velocity_m_s must be a positive number, got {velocity_m_s}")
    limit = _limit_m(distance_km)
    snapped = _snap(project, point, max_snap_m)
    position = int(project.network.core.position(snapped["reach_id"])[0])
    measure = float(snapped["measure_m"])
    levels = [lev for lev in PIECE_LEVELS if len(admin_units(project).by_level[lev])]
    notify, sections, upstream = [], [], []
    for level in levels:
        n, s, u = _incident_level(project, level, position, measure, limit, as_of)
        notify.append(n)
        sections.append(s)
        upstream.append(u)
    home = _home_units(project, position, measure, levels)
    snapped = pd.concat(
        [snapped, pd.Series({f"{level}_code": code for level, code in home.items()}, dtype=object)]
    )
    return IncidentReport(
        snapped=snapped,
        notify=_order_notify(pd.concat(notify, ignore_index=True), velocity_m_s),
        sections=_order_sections(project, sections, velocity_m_s),
        upstream=pd.concat(upstream, ignore_index=True)
        .sort_values(["distance_km", "level"], kind="stable")
        .reset_index(drop=True),
    )


def _snap(project: Project, point: Any, max_snap_m: float) -> pd.Series:
    from rivernet.snap import snap_points

    if not (np.isfinite(max_snap_m) and max_snap_m > 0):
        raise InputError(f"max_snap_m must be a positive number, got {max_snap_m}")
    if isinstance(point, tuple | list) and len(point) == 2:
        point = shapely.Point(float(point[0]), float(point[1]))
    net = project.network
    import warnings

    from rivernet._errors import SnapWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SnapWarning)
        result = snap_points(net, point, max_distance_m=1e7)
    row = result.iloc[0]
    if not bool(row["snapped"]) or float(row["distance_m"]) > max_snap_m:
        far = "more than 10,000 km" if not bool(row["snapped"]) else f"{row['distance_m']:.0f} m"
        raise OutOfRangeError(
            f"the incident point lies {far} from the nearest reach, beyond max_snap_m="
            f"{max_snap_m:g} m: no river to route it on. Check the coordinates (longitude first, "
            "WGS84 not GCJ-02) or raise max_snap_m"
        )
    core = net.core
    position = int(core.position(row["reach_id"])[0])
    return pd.Series(
        {
            "reach_id": row["reach_id"],
            "measure_m": float(row["measure_m"]),
            "distance_m": float(row["distance_m"]),
            "river_id": net.ids[core.main_stem()[position]],
        },
        dtype=object,
    )


def _home_units(
    project: Project, position: int, measure: float, levels: list[str]
) -> dict[str, Any]:
    pieces = piece_arrays(project)
    rows = np.arange(pieces.first[position], pieces.last[position] + 1)
    index = rows[np.searchsorted(pieces.to_m[rows], measure, side="left").clip(0, len(rows) - 1)]
    units = admin_units(project)
    return {level: _code_array(units, pieces.codes[level][[index]])[0] for level in levels}


def _incident_level(
    project: Project,
    level: str,
    position: int,
    measure: float,
    limit: float | None,
    as_of: Any,
) -> tuple[pd.DataFrame, gpd.GeoDataFrame, pd.DataFrame]:
    arrays = crossing_arrays(project, level=level)
    units = admin_units(project)
    core = project.network.core
    origin = core.distance_to_outlet_m()[position] + core.length_m[position] - measure
    start = _first_down(project, level, position, measure)
    _, down, dist = _walk(
        _next_crossing(project, level), arrays.to_outlet_m, np.array([start]),
        np.array([origin]), limit,
    )  # fmt: skip
    home = _home_units(project, position, measure, [level])[level]
    ids = crossing_ids(project, arrays, level=level)
    entered = [units.row_of[home]] if home is not None else []
    notify_rows = [(home, 0.0, None)] if home is not None else []
    seen = set(entered)
    for row, d in zip(down, dist, strict=True):
        unit = int(arrays.downstream[row])
        if unit not in seen:
            seen.add(unit)
            notify_rows.append((str(units.codes[unit]), float(d), ids[row]))
    notify = pd.DataFrame(notify_rows, columns=["unit_code", "distance_m", "crossing_id"])
    notify.insert(0, "level", level)
    notify["unit_name"] = pd.Series([units.name(c) for c in notify["unit_code"]], dtype=object)
    notify["chiefs"] = unit_chiefs(project, notify["unit_code"], level=level, as_of=as_of)
    sections = crossing_frame(project, arrays.subset(np.isin(np.arange(len(arrays)), down)),
                              level=level, as_of=as_of)  # fmt: skip
    by_id = dict(zip(ids[down], dist, strict=True))
    sections["distance_m"] = [by_id[i] for i in sections["crossing_id"]]
    up_rows = _upstream_crossings(project, arrays, position, measure, limit)
    upstream = pd.DataFrame(
        {
            "level": level,
            "unit": arrays.upstream[up_rows],
            "distance_m": arrays.to_outlet_m[up_rows] - origin,
        }
    )
    upstream = upstream[upstream["unit"] != (units.row_of[home] if home is not None else -2)]
    upstream = upstream.sort_values("distance_m").drop_duplicates("unit")
    unit_rows = upstream["unit"].to_numpy(np.int64)
    upstream = pd.DataFrame(
        {
            "level": level,
            "unit_code": _code_array(units, unit_rows),
            "unit_name": _name_array(units, unit_rows),
            "distance_km": upstream["distance_m"].to_numpy(dtype=float) / 1000.0,
        }
    )
    upstream["chiefs"] = unit_chiefs(project, upstream["unit_code"], level=level, as_of=as_of)
    return notify, sections, upstream


def _order_notify(notify: pd.DataFrame, velocity: float | None) -> pd.DataFrame:
    notify = _with_travel(notify.copy(), velocity)
    notify["level_zh"] = notify["level"].map(LEVEL_LABELS_ZH)
    rank = {level: i for i, level in enumerate(PIECE_LEVELS)}
    notify["_rank"] = notify["level"].map(rank)
    notify = notify.sort_values(["distance_km", "_rank"], kind="stable").drop(columns="_rank")
    notify.insert(0, "order", np.arange(1, len(notify) + 1))
    columns = ["order", "level", "level_zh", "unit_code", "unit_name", "distance_km",
               "arrival_h", "crossing_id", "chiefs"]  # fmt: skip
    return notify[columns].reset_index(drop=True)


def _order_sections(
    project: Project, sections: list[gpd.GeoDataFrame], velocity: float | None
) -> gpd.GeoDataFrame:
    frames = [s for s in sections if len(s)]
    if not frames:
        empty = sections[0] if sections else gpd.GeoDataFrame(geometry=[], crs=project.network.crs)
        return empty.assign(distance_km=pd.Series(dtype=float), arrival_h=pd.Series(dtype=float))
    table = _with_travel(pd.concat(frames, ignore_index=True), velocity)
    table = table.sort_values(["distance_km", "level"], kind="stable").reset_index(drop=True)
    return gpd.GeoDataFrame(table, geometry="geometry", crs=project.network.crs)


def _with_travel(table: pd.DataFrame, velocity: float | None) -> pd.DataFrame:
    """Replace ``distance_m`` by ``distance_km`` and add ``arrival_h`` (NaN without a velocity)."""
    table["distance_km"] = table.pop("distance_m") / 1000.0
    table["arrival_h"] = (
        table["distance_km"] * 1000.0 / velocity / 3600.0 if velocity is not None else np.nan
    )
    return table
