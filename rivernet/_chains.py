"""Crossing chains: from every handover section to the next one down the flow path (private).

The crossings of one level are linked into chains: each crossing knows the first crossing below
it on the flow path (found for every reach at once by pointer jumping over the downstream
array), so "which units does water from here reach, and how far down" is a walk along short
chains of crossings, done for all crossings at once with numpy. Distances are along the network,
in metres. Secondary links (braids, diversions) are not followed: water is routed down the main
path. Shared by :mod:`rivernet.joint_control`, :mod:`rivernet.jurisdiction` and
:mod:`rivernet.incidents`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from rivernet.boundary import CrossingArrays, crossing_arrays
from rivernet.errors import InputError
from rivernet.pieces import PIECE_INPUTS

if TYPE_CHECKING:
    from rivernet.project import Project

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def crossing_below(project: Project, level: str) -> IntArray:
    """Per reach position: the first crossing on the reach or, failing that, below it."""
    return project.derived(
        "crossing_below", PIECE_INPUTS, level, lambda: _crossing_below(project, level)
    )


def _crossing_below(project: Project, level: str) -> IntArray:
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
    below: IntArray = np.where(pointer >= 0, first_on[np.maximum(pointer, 0)], -1)
    return below


def next_crossing(project: Project, level: str) -> IntArray:
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
    below = crossing_below(project, level)
    result[last] = np.where(down >= 0, below[np.maximum(down, 0)], -1)
    return result


def section_heads(project: Project, level: str, merge_within_m: float) -> IntArray:
    """Per crossing: the row of the first pass of its handover section (itself when alone).

    A crossing joins the section of the crossing just above it on the flow path when it
    crosses back between the same two units (A -> B, then B -> A) and lies within
    ``merge_within_m`` (along the network) of where that section begins. Sections are built
    from upstream down, so every pass of a section is at most ``merge_within_m`` below its
    first pass; where re-crossings on two branches meet, their sections become one.
    """
    if not (np.isfinite(merge_within_m) and merge_within_m >= 0):
        raise InputError.from_key("err_chains.bad_merge", value=merge_within_m)
    key = (level, float(merge_within_m))
    return project.derived(
        "crossing_sections", PIECE_INPUTS, key, lambda: _section_heads(project, *key)
    )


def flow_rank(project: Project, arrays: CrossingArrays) -> IntArray:
    """Rank of each crossing in upstream-first order (a crossing above another ranks lower)."""
    pre = project.network.core.pre[arrays.position]
    order = np.lexsort((arrays.measure, -pre, -arrays.to_outlet_m))
    rank = np.empty(len(arrays), dtype=np.int64)
    rank[order] = np.arange(len(arrays))
    return rank


def _section_heads(project: Project, level: str, merge_within_m: float) -> IntArray:
    arrays = crossing_arrays(project, level=level)
    head = np.arange(len(arrays), dtype=np.int64)
    if merge_within_m <= 0:
        return head
    below = next_crossing(project, level)
    upper = np.flatnonzero(below >= 0)
    lower = below[upper]
    to_outlet = arrays.to_outlet_m
    back = (arrays.upstream[lower] == arrays.downstream[upper]) & (
        arrays.downstream[lower] == arrays.upstream[upper]
    )
    back &= to_outlet[upper] - to_outlet[lower] <= merge_within_m + 1e-9
    upper, lower = upper[back], lower[back]
    if len(upper) == 0:
        return head
    rank = flow_rank(project, arrays)
    order = np.argsort(rank[lower], kind="stable")  # a pass's own section is settled first
    for above, here in zip(upper[order].tolist(), lower[order].tolist(), strict=True):
        first = _root(head, above)
        if to_outlet[first] - to_outlet[here] > merge_within_m + 1e-9:
            continue
        other = _root(head, here)
        if other != first:  # two branches meeting: the section begins at the upper head
            keep, drop = (first, other) if rank[first] < rank[other] else (other, first)
            head[drop] = keep
    while (head[head] != head).any():  # pointer jumping to each section's first pass
        head = head[head]
    return head


def _root(head: IntArray, row: int) -> int:
    while head[row] != row:
        row = int(head[row])
    return row


def walk(
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


def chain_pairs(
    project: Project, level: str, limit_m: float | None
) -> tuple[IntArray, IntArray, FloatArray]:
    """All (upstream crossing, downstream crossing, distance) pairs, a crossing with itself too."""

    def compute() -> tuple[IntArray, IntArray, FloatArray]:
        arrays = crossing_arrays(project, level=level)
        start = np.arange(len(arrays), dtype=np.int64)
        return walk(
            next_crossing(project, level), arrays.to_outlet_m, start, arrays.to_outlet_m, limit_m
        )

    return project.derived("crossing_pairs", PIECE_INPUTS, (level, limit_m), compute)


def upstream_crossings(
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


def first_down(project: Project, level: str, position: int, measure: float) -> int:
    """The first crossing at or below the point ``measure`` on reach ``position`` (-1: none)."""
    arrays = crossing_arrays(project, level=level)
    on = np.flatnonzero((arrays.position == position) & (arrays.measure >= measure))
    if len(on):
        return int(on[0])
    down = project.network.core.downstream[position]
    return int(crossing_below(project, level)[down]) if down >= 0 else -1


def distance_limit_m(distance_km: float | None) -> float | None:
    """``distance_km`` in metres, checked (None stays None: no limit)."""
    if distance_km is None:
        return None
    if not np.isfinite(distance_km) or distance_km < 0:
        raise InputError.from_key("err_chains.bad_distance", value=distance_km)
    return float(distance_km) * 1000.0


def river_ids(project: Project, arrays: CrossingArrays) -> npt.NDArray[Any]:
    """The main-stem (river) id of each crossing's reach."""
    net = project.network
    return net.ids[net.core.main_stem()[arrays.position]]
