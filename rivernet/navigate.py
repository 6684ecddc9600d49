"""Navigation along the river network in the four NLDI modes, and flow paths between reaches.

Modes: ``UT`` upstream with tributaries, ``UM`` upstream along the main stem, ``DM`` downstream
along the main path, ``DD`` downstream following diversions too. Every result carries the
along-network distance from the start, measured between reach outlets (the downstream end of
each reach, as HydroRIVERS' ``DIST_DN_KM``): the start reach has distance 0; a reach upstream
of it has the length of water path from its outlet to the start's outlet; a reach downstream has
the length from the start's outlet to its own outlet. A distance limit keeps the reaches whose
distance is at most the limit.
"""

from __future__ import annotations

import heapq

import numpy as np
import numpy.typing as npt

from rivernet._core import FlowCore, distance_order
from rivernet.errors import InputError, NotFoundError
from rivernet.messages import Message

Positions = npt.NDArray[np.int64]
Distances = npt.NDArray[np.float64]
Slots = slice | npt.NDArray[np.int64]  # places in ``FlowCore.by_distance``


def upstream(
    core: FlowCore, start: int, *, mode: str = "UT", distance_m: float | None = None
) -> tuple[Positions, Distances]:
    """Reaches upstream of ``start`` (itself included) and their distances in metres.

    ``mode`` is ``"UT"`` (all tributaries, through diversions too) or ``"UM"`` (main stem
    only); ``distance_m`` keeps reaches at most that far. Results are sorted by distance.
    """
    if mode == "UT" and not len(core.secondary):
        _check_limit(distance_m)
        positions, distances = core.upstream_by_distance(start)
        return _within(positions, distances, distance_m)
    if mode == "UT":
        positions, distances = _upstream_tributaries(core, start)
    elif mode == "UM":
        positions = _main_stem_up(core, start)
        dist = core.distance_to_outlet_m()
        distances = dist[positions] - dist[start]
    else:
        raise InputError.from_key("err_navigate.upstream_mode", mode=repr(mode))
    return _limit(positions, distances, distance_m)


def upstream_slots(
    core: FlowCore, start: int, *, distance_m: float | None = None
) -> tuple[Slots, Distances] | None:
    """UT without secondary links as places in ``core.by_distance``, when that applies.

    Returns a slice or index array and the distances of :func:`upstream` in mode ``"UT"``
    (same reaches, same order: ``core.by_distance[slots]`` are its positions), or None when the
    network has secondary links or the set is small (see :meth:`FlowCore.upstream_slots`).
    """
    _check_limit(distance_m)
    found = None if len(core.secondary) else core.upstream_slots(start)
    if found is None:
        return None
    slots, distances = found
    end = len(distances) if distance_m is None else _end_within(distances, distance_m)
    if isinstance(slots, slice):
        return slice(slots.start, slots.start + end), distances[:end]
    return slots[:end], distances[:end]


def downstream(
    core: FlowCore, start: int, *, mode: str = "DM", distance_m: float | None = None
) -> tuple[Positions, Distances]:
    """Reaches downstream of ``start`` (itself included) and their distances in metres.

    ``mode`` is ``"DM"`` (main path to the outlet) or ``"DD"`` (following diversions as
    well); ``distance_m`` keeps reaches at most that far. Results are sorted by distance.
    """
    if mode == "DM" or (mode == "DD" and not len(core.secondary)):
        positions = core.downstream_positions(start)
        dist = core.distance_to_outlet_m()
        distances = dist[start] - dist[positions]
    elif mode == "DD":
        reached, _ = _dijkstra_down(core, start)
        positions = np.fromiter(reached, dtype=np.int64, count=len(reached))
        distances = np.fromiter(reached.values(), dtype=np.float64, count=len(reached))
    else:
        raise InputError.from_key("err_navigate.downstream_mode", mode=repr(mode))
    return _limit(positions, distances, distance_m)


def flow_path(core: FlowCore, source: int, target: int) -> tuple[Positions, Distances]:
    """The reaches water passes from ``source`` to ``target`` (or upstream from it).

    Parameters
    ----------
    core
        The network core.
    source, target
        Positions of the two reaches. If ``target`` lies upstream of ``source`` the path is
        returned going upstream.

    Returns
    -------
    tuple of numpy.ndarray
        Positions from ``source`` to ``target`` and their distances from ``source``.

    Raises
    ------
    NotFoundError
        If water from neither reaches the other.
    """
    for a, b, sign in ((source, target, 1.0), (target, source, -1.0)):
        _, previous = _dijkstra_down(core, a, stop=b)
        if b in previous:
            path = [b]
            while path[-1] != a:
                path.append(previous[path[-1]])
            ordered = np.array(path[::-1] if sign > 0 else path, dtype=np.int64)
            return ordered, _path_distances(core, ordered, downward=sign > 0)
    raise NotFoundError(_no_path_message(core, source, target))


def _upstream_tributaries(core: FlowCore, start: int) -> tuple[Positions, Distances]:
    """UT with secondary links: the preorder slice, widened through the links until stable."""
    dist = core.distance_to_outlet_m()
    best = np.full(len(core), np.inf)
    todo = [(start, 0.0)]
    while todo:
        root, offset = todo.pop()
        root = int(root)
        members = core.upstream_positions(root)
        best[members] = np.minimum(best[members], dist[members] - dist[root] + offset)
        for source, target in core.secondary.tolist():
            candidate = best[target] + core.length_m[target]
            if candidate < best[source]:
                todo.append((source, float(candidate)))
    positions = np.flatnonzero(np.isfinite(best))
    return positions, best[positions]


def _main_stem_up(core: FlowCore, start: int) -> Positions:
    """Follow the main-stem child pointers from ``start`` to the headwater."""
    path = [start]
    main = core.main_child
    while main[path[-1]] >= 0:
        path.append(int(main[path[-1]]))
    return np.array(path, dtype=np.int64)


def _downstream_neighbours(core: FlowCore) -> dict[int, list[int]]:
    """Secondary downstream links by source position."""
    links: dict[int, list[int]] = {}
    for source, target in core.secondary.tolist():
        links.setdefault(source, []).append(target)
    return links


def _dijkstra_down(
    core: FlowCore, start: int, *, stop: int | None = None
) -> tuple[dict[int, float], dict[int, int]]:
    """Shortest outlet-to-outlet distances downstream from ``start`` over all links.

    Returns the distances of the reaches reached and each one's predecessor on its path.
    """
    extra = _downstream_neighbours(core)
    best: dict[int, float] = {start: 0.0}
    previous: dict[int, int] = {}
    heap = [(0.0, start)]
    done: set[int] = set()
    while heap:
        d, node = heapq.heappop(heap)
        if node in done:
            continue
        done.add(node)
        if node == stop:
            break
        nexts = extra.get(node, [])
        if core.downstream[node] >= 0:
            nexts = [int(core.downstream[node]), *nexts]
        for nxt in nexts:
            candidate = d + float(core.length_m[nxt])
            if candidate < best.get(nxt, np.inf):
                best[nxt] = candidate
                previous[nxt] = node
                heapq.heappush(heap, (candidate, nxt))
    return {k: best[k] for k in done}, previous


def _path_distances(core: FlowCore, path: Positions, *, downward: bool) -> Distances:
    """Cumulative outlet-to-outlet distances along a path from its first reach."""
    steps = core.length_m[path[1:]] if downward else core.length_m[path[:-1]]
    return np.concatenate([[0.0], np.cumsum(steps)])


def _no_path_message(core: FlowCore, source: int, target: int) -> Message:
    """Explain why two reaches have no flow path between them."""
    a, b = core.ids[source], core.ids[target]
    if core.outlet_of(np.array([source]))[0] != core.outlet_of(np.array([target]))[0]:
        return Message("err_navigate.different_systems", a=a, b=b)
    down_a = set(core.downstream_positions(source).tolist())
    meet = next(p for p in core.downstream_positions(target).tolist() if p in down_a)
    return Message("err_navigate.no_path", a=a, b=b, meet=core.ids[meet])


def _limit(
    positions: Positions, distances: Distances, distance_m: float | None
) -> tuple[Positions, Distances]:
    """Keep rows within the distance limit, sorted by distance then position."""
    _check_limit(distance_m)
    if distance_m is not None:
        keep = distances <= distance_m + 1e-9
        positions, distances = positions[keep], distances[keep]
    order = distance_order(distances, positions)
    return positions[order], distances[order]


def _within(
    positions: Positions, distances: Distances, distance_m: float | None
) -> tuple[Positions, Distances]:
    """The rows within the distance limit of rows already sorted by distance."""
    if distance_m is None:
        return positions, distances
    end = _end_within(distances, distance_m)
    return positions[:end], distances[:end]


def _end_within(distances: Distances, distance_m: float) -> int:
    """How many of the sorted ``distances`` are within the limit (1e-9 m tolerance)."""
    return int(np.searchsorted(distances, distance_m + 1e-9, side="right"))


def _check_limit(distance_m: float | None) -> None:
    """Refuse a negative or non-finite distance limit (metres; the message says km)."""
    if distance_m is not None and (not np.isfinite(distance_m) or distance_m < 0):
        raise InputError.from_key("err_navigate.bad_distance", value=f"{distance_m / 1000.0:g}")
