"""The array kernel of a river network: positions, downstream index, orders and accumulations.

A network of ``n`` reaches is held as integer arrays over positions ``0 .. n-1``:

- ``downstream[i]``: position of the reach that ``i`` drains into, ``-1`` for an outlet;
- ``order``: a topological order, every reach before the reach it drains into (upstream first);
- ``pre``, ``size``: depth-first preorder numbers on the tree of primary links, so that the
  reaches upstream of ``i`` (itself included) are exactly ``preorder[pre[i] : pre[i] + size[i]]``,
  one contiguous slice; ``post`` and ``depth`` complete the classic DFS numbering;
- ``secondary``: extra downstream links (braids, diversions) as ``(from, to)`` position pairs,
  kept beside the tree and followed where a navigation mode asks for them.

The sequential kernels are compiled with numba (cached on disk), so that one pass over a million
reaches takes milliseconds. Ids are mapped to positions once, at the edge, with a pandas index.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
import pandas as pd

from rivernet.errors import NotFoundError, TopologyError
from rivernet.messages import Clauses
from rivernet.messages import items as _items

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@numba.njit(cache=True)
def _children_csr(downstream: IntArray) -> tuple[IntArray, IntArray]:
    """Children (upstream neighbours) of every position as CSR offsets and values."""
    n = downstream.shape[0]
    offsets = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        d = downstream[i]
        if d >= 0:
            offsets[d + 1] += 1
    for i in range(n):
        offsets[i + 1] += offsets[i]
    fill = offsets[:-1].copy()
    children = np.empty(offsets[n], dtype=np.int64)
    for i in range(n):
        d = downstream[i]
        if d >= 0:
            children[fill[d]] = i
            fill[d] += 1
    return offsets, children


@numba.njit(cache=True)
def _topological_order(downstream: IntArray, offsets: IntArray) -> IntArray:
    """Kahn's algorithm from the headwaters; a result shorter than ``n`` means a cycle."""
    n = downstream.shape[0]
    pending = np.empty(n, dtype=np.int64)
    for i in range(n):
        pending[i] = offsets[i + 1] - offsets[i]
    order = np.empty(n, dtype=np.int64)
    head = 0
    tail = 0
    for i in range(n):
        if pending[i] == 0:
            order[tail] = i
            tail += 1
    while head < tail:
        i = order[head]
        head += 1
        d = downstream[i]
        if d >= 0:
            pending[d] -= 1
            if pending[d] == 0:
                order[tail] = d
                tail += 1
    return order[:tail]


@numba.njit(cache=True)
def _dfs_numbers(
    downstream: IntArray, order: IntArray, offsets: IntArray, children: IntArray
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Subtree sizes, preorder numbers, depths and the preorder sequence."""
    n = downstream.shape[0]
    size = np.ones(n, dtype=np.int64)
    for k in range(n):
        i = order[k]
        d = downstream[i]
        if d >= 0:
            size[d] += size[i]
    pre = np.empty(n, dtype=np.int64)
    depth = np.zeros(n, dtype=np.int64)
    next_root = 0
    for k in range(n - 1, -1, -1):
        i = order[k]
        if downstream[i] < 0:
            pre[i] = next_root
            next_root += size[i]
        slot = pre[i] + 1
        for c in range(offsets[i], offsets[i + 1]):
            child = children[c]
            pre[child] = slot
            depth[child] = depth[i] + 1
            slot += size[child]
    preorder = np.empty(n, dtype=np.int64)
    for i in range(n):
        preorder[pre[i]] = i
    return size, pre, depth, preorder


@numba.njit(cache=True)
def _accumulate(downstream: IntArray, order: IntArray, values: FloatArray) -> FloatArray:
    """Sum of ``values`` over each reach and everything upstream of it."""
    total = values.copy()
    for k in range(order.shape[0]):
        i = order[k]
        d = downstream[i]
        if d >= 0:
            total[d] += total[i]
    return total


@numba.njit(cache=True)
def _distance_to_outlet(downstream: IntArray, order: IntArray, length: FloatArray) -> FloatArray:
    """Length of the flow path from each reach's outlet to the network outlet."""
    dist = np.zeros(downstream.shape[0], dtype=np.float64)
    for k in range(order.shape[0] - 1, -1, -1):
        i = order[k]
        d = downstream[i]
        if d >= 0:
            dist[i] = dist[d] + length[d]
    return dist


@numba.njit(cache=True)
def _strahler(downstream: IntArray, order: IntArray) -> IntArray:
    """Strahler order: 1 at the headwaters, +1 where two branches of the highest order meet."""
    n = downstream.shape[0]
    best = np.zeros(n, dtype=np.int64)
    ties = np.zeros(n, dtype=np.int64)
    result = np.empty(n, dtype=np.int64)
    for k in range(n):
        i = order[k]
        if best[i] == 0:
            result[i] = 1
        elif ties[i] > 1:
            result[i] = best[i] + 1
        else:
            result[i] = best[i]
        d = downstream[i]
        if d >= 0:
            if result[i] > best[d]:
                best[d] = result[i]
                ties[d] = 1
            elif result[i] == best[d]:
                ties[d] += 1
    return result


@numba.njit(cache=True)
def _main_child(
    offsets: IntArray, children: IntArray, upstream_length: FloatArray, name_code: IntArray
) -> IntArray:
    """The main-stem child of every reach: same name if any, else the longest upstream length."""
    n = offsets.shape[0] - 1
    main = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        best = -1
        for c in range(offsets[i], offsets[i + 1]):
            child = children[c]
            if best < 0:
                best = child
                continue
            same_child = name_code[child] >= 0 and name_code[child] == name_code[i]
            same_best = name_code[best] >= 0 and name_code[best] == name_code[i]
            if same_child != same_best:
                if same_child:
                    best = child
            elif upstream_length[child] > upstream_length[best]:
                best = child
        main[i] = best
    return main


@numba.njit(cache=True)
def _main_stem(downstream: IntArray, order: IntArray, main: IntArray) -> IntArray:
    """Position of the most downstream reach of the main-stem path each reach lies on."""
    n = downstream.shape[0]
    stem = np.arange(n)
    for k in range(n - 1, -1, -1):
        i = order[k]
        d = downstream[i]
        if d >= 0 and main[d] == i:
            stem[i] = stem[d]
    return stem


_SMALL_BUCKET = 16  # buckets up to this size are insertion-sorted, larger ones spread again
_BUCKET_LEVELS = 6  # deeper than this (a pathological spread of distances), merge-sort


@numba.njit(cache=True)
def _insertion_sort(
    order: IntArray, lo: int, hi: int, distances: FloatArray, positions: IntArray
) -> None:
    """Sort ``order[lo:hi]`` in place by distance, then position."""
    for k in range(lo + 1, hi):
        item = order[k]
        d, p = distances[item], positions[item]
        j = k - 1
        while j >= lo and (
            distances[order[j]] > d or (distances[order[j]] == d and positions[order[j]] > p)
        ):
            order[j + 1] = order[j]
            j -= 1
        order[j + 1] = item


@numba.njit(cache=True)
def _distance_order(distances: FloatArray, positions: IntArray) -> tuple[IntArray, bool]:
    """Indices sorting by distance, then position; ``False`` if a distance is not finite.

    A bucket sort: a segment is spread over equal-width buckets between its smallest and
    largest distance (a monotone map, so the buckets are in order); small buckets are
    insertion-sorted, large ones spread again; a bucket of equal distances is sorted by
    position, and past ``_BUCKET_LEVELS`` spreads a bucket is merge-sorted.
    """
    n = distances.shape[0]
    order = np.arange(n)
    for i in range(n):
        if not np.isfinite(distances[i]):
            return order, False
    scratch = np.empty(n, dtype=np.int64)
    bucket = np.empty(n, dtype=np.int64)
    starts = np.zeros(n // 2 + 2, dtype=np.int64)
    todo = [(0, n, 0)]
    while todo:
        lo, hi, level = todo.pop()
        size = hi - lo
        if size <= _SMALL_BUCKET:
            _insertion_sort(order, lo, hi, distances, positions)
            continue
        low = np.inf
        high = -np.inf
        for k in range(lo, hi):
            d = distances[order[k]]
            low = min(low, d)
            high = max(high, d)
        if low == high or level >= _BUCKET_LEVELS:
            part = order[lo:hi]
            part = part[np.argsort(positions[part])]
            if low < high:
                part = part[np.argsort(distances[part], kind="mergesort")]
            order[lo:hi] = part
            continue
        n_buckets = size // 2
        scale = (n_buckets - 1) / (high - low)
        if not np.isfinite(scale):
            scale = 0.0
        starts[: n_buckets + 1] = 0
        for k in range(lo, hi):
            b = min(int((distances[order[k]] - low) * scale), n_buckets - 1)
            bucket[k] = b
            starts[b + 1] += 1
        for b in range(n_buckets):
            starts[b + 1] += starts[b]
        for k in range(lo, hi):
            b = bucket[k]
            scratch[lo + starts[b]] = order[k]
            starts[b] += 1
        order[lo:hi] = scratch[lo:hi]
        first = lo
        for b in range(n_buckets):
            last = lo + starts[b]
            if last - first > _SMALL_BUCKET:
                todo.append((first, last, level + 1))
            elif last - first > 1:
                _insertion_sort(order, first, last, distances, positions)
            first = last
    return order, True


@numba.njit(cache=True)
def _group_by_tree(
    order: IntArray, pre: IntArray, downstream: IntArray, preorder: IntArray
) -> IntArray:
    """Stable counting sort of ``order`` by tree, trees in preorder (each a preorder range).

    A tree whose root has preorder number ``r`` fills slots ``r .. r + size - 1``, the same
    range its reaches hold in preorder.
    """
    n = preorder.shape[0]
    root_of = np.empty(n, dtype=np.int64)  # by preorder number: the tree's root number
    root = 0
    for k in range(n):
        if downstream[preorder[k]] < 0:
            root = k
        root_of[k] = root
    slot = np.arange(n)
    grouped = np.empty(n, dtype=np.int64)
    for j in range(n):
        p = order[j]
        r = root_of[pre[p]]
        grouped[slot[r]] = p
        slot[r] += 1
    return grouped


def distance_order(distances: FloatArray, positions: IntArray) -> IntArray:
    """Indices that sort rows by distance, ties by position: ``np.lexsort((positions, distances))``.

    A bucket sort compiled with numba, linear for the smooth distances of river reaches (about
    ten times faster than ``np.lexsort`` on 300,000 rows); rows with a missing or infinite
    distance fall back to ``np.lexsort``, so the order is always the same as its order.

    Parameters
    ----------
    distances
        Distance of each row.
    positions
        Unique position of each row, the tie-breaker.

    Returns
    -------
    numpy.ndarray
        The permutation of row indices.
    """
    distances = np.ascontiguousarray(distances, dtype=np.float64)
    positions = np.ascontiguousarray(positions, dtype=np.int64)
    order, finite = _distance_order(distances, positions)
    return order if finite else np.lexsort((positions, distances)).astype(np.int64)


def _find_cycles(downstream: IntArray, acyclic: IntArray) -> list[list[int]]:
    """Positions on each cycle among the reaches Kahn's algorithm could not order."""
    remaining = np.ones(downstream.shape[0], dtype=bool)
    remaining[acyclic] = False
    state = np.zeros(downstream.shape[0], dtype=np.int8)  # 0 new, 1 on walk, 2 done
    cycles: list[list[int]] = []
    for start in np.flatnonzero(remaining):
        walk: list[int] = []
        node = int(start)
        while node >= 0 and state[node] == 0:
            state[node] = 1
            walk.append(node)
            node = int(downstream[node])
        if node >= 0 and state[node] == 1:
            cycles.append(walk[walk.index(node) :])
        state[walk] = 2
    return cycles


class FlowCore:
    """Compact arrays of a river network, built once and shared by every analysis.

    Build it with :meth:`from_downstream`; users normally reach it as ``RiverNetwork.core``.

    Parameters
    ----------
    ids
        Reach ids, one per position.
    downstream
        Position of the downstream reach of each position, ``-1`` for an outlet.
    length_m
        Length of each reach in metres.
    secondary
        ``(k, 2)`` positions of extra downstream links (braids, diversions).
    dangling
        Positions whose downstream id pointed at no reach; they are treated as outlets.
    index
        A pandas index over ``ids``, if one is already built.
    """

    def __init__(
        self,
        ids: npt.NDArray[Any],
        downstream: IntArray,
        *,
        length_m: FloatArray,
        secondary: IntArray,
        dangling: IntArray,
        index: pd.Index | None = None,
    ) -> None:
        self.ids = ids
        self.downstream = downstream
        self.length_m = length_m
        self.secondary = secondary
        self.dangling = dangling
        self.offsets, self.children = _children_csr(downstream)
        self.order = _topological_order(downstream, self.offsets)
        if self.order.shape[0] < downstream.shape[0]:
            cycles = _find_cycles(downstream, self.order)
            described = Clauses(tuple(_items(ids[c]) for c in cycles[:5]), brackets=True)
            raise TopologyError.from_key("topology.cycles", count=len(cycles), cycles=described)
        self.size, self.pre, self.depth, self.preorder = _dfs_numbers(
            downstream, self.order, self.offsets, self.children
        )
        self.post = self.pre - self.depth + self.size - 1
        self._index = index if index is not None else pd.Index(ids)
        self._names: IntArray | None = None

    @classmethod
    def from_downstream(
        cls,
        ids: Sequence[Any] | npt.NDArray[Any],
        downstream_ids: Sequence[Any] | npt.NDArray[Any],
        *,
        outlet_values: Iterable[Any] = (0,),
        length_m: Sequence[float] | FloatArray | None = None,
        secondary: Sequence[tuple[Any, Any]] | npt.NDArray[Any] | None = None,
    ) -> FlowCore:
        """Build the core from reach ids and the id of each reach's downstream reach.

        Parameters
        ----------
        ids
            Unique reach ids.
        downstream_ids
            The downstream reach id of each reach; values in ``outlet_values`` (and missing
            values) mark outlets, and ids that match no reach are treated as outlets and listed
            in ``dangling``.
        outlet_values
            Values of ``downstream_ids`` that mean "no downstream reach".
        length_m
            Reach lengths in metres; zeros when omitted.
        secondary
            Extra ``(from_id, to_id)`` downstream links (braids, diversions).

        Returns
        -------
        FlowCore
            The built core.

        Raises
        ------
        TopologyError
            For duplicate ids, self-loops or cycles, naming the reaches concerned.
        """
        ids_arr = np.asarray(ids)
        index = pd.Index(ids_arr)
        if not index.is_unique:
            dupes = index[index.duplicated()].unique()
            raise TopologyError.from_key(
                "topology.duplicate_ids", count=len(dupes), ids=_items(dupes)
            )
        downstream, dangling = downstream_positions(index, downstream_ids, outlet_values)
        loops = np.flatnonzero(downstream == np.arange(len(index)))
        if loops.size:
            raise TopologyError.from_key("topology.self_loops", ids=_items(ids_arr[loops]))
        lengths = (
            np.zeros(len(index)) if length_m is None else np.asarray(length_m, dtype=np.float64)
        )
        links = _secondary_positions(index, secondary)
        return cls(
            ids_arr, downstream, length_m=lengths, secondary=links, dangling=dangling, index=index
        )

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def position(self, ids: Any) -> IntArray:
        """Positions of the given reach ids.

        Parameters
        ----------
        ids
            One id or a sequence of ids.

        Returns
        -------
        numpy.ndarray
            Positions, one per id.

        Raises
        ------
        NotFoundError
            If an id is not a reach of this network.
        """
        if np.ndim(ids) == 0:
            try:
                found = self._index.get_loc(ids)
            except (KeyError, TypeError, ValueError):
                found = None
            if isinstance(found, int):
                return np.array([found], dtype=np.int64)
        wanted = np.atleast_1d(np.asarray(ids, dtype=self.ids.dtype))
        positions = self._index.get_indexer(pd.Index(wanted)).astype(np.int64)
        missing = wanted[positions < 0]
        if missing.size:
            raise NotFoundError.from_key("error.reach_ids_not_in_network", ids=_items(missing))
        return positions

    def upstream_positions(self, position: int, *, include_self: bool = True) -> IntArray:
        """Every reach upstream of ``position`` along primary links: one preorder slice.

        Parameters
        ----------
        position
            Position of the start reach.
        include_self
            Whether the start reach is part of the result.

        Returns
        -------
        numpy.ndarray
            Positions in preorder (the start first when included).
        """
        return self.preorder[self._upstream_slice(position, include_self)]

    @cached_property
    def ids_in_preorder(self) -> npt.NDArray[Any]:
        """Reach ids ordered by preorder number (read-only), so upstream sets are slices."""
        ids = self.ids[self.preorder]
        ids.flags.writeable = False
        return ids

    def upstream_ids(self, position: int, *, include_self: bool = True) -> npt.NDArray[Any]:
        """Ids of every reach upstream of ``position``: a view, no copying or gathering.

        Parameters
        ----------
        position
            Position of the start reach.
        include_self
            Whether the start reach is part of the result.

        Returns
        -------
        numpy.ndarray
            Read-only ids in preorder.
        """
        return self.ids_in_preorder[self._upstream_slice(position, include_self)]

    def _upstream_slice(self, position: int, include_self: bool) -> slice:
        """The preorder slice of the reaches upstream of ``position`` (with it or without)."""
        start = self.pre[position] + (0 if include_self else 1)
        return slice(start, self.pre[position] + self.size[position])

    def upstream_by_distance(self, position: int) -> tuple[IntArray, FloatArray]:
        """Every reach upstream of ``position`` along primary links, nearest first.

        The order is ``np.lexsort((positions, distances))``: by distance from the start, then
        by position. A small set is sorted on its own (:func:`distance_order`); a larger one is
        picked out of :attr:`by_distance` (see :meth:`upstream_slots`).

        Parameters
        ----------
        position
            Position of the start reach (included, at distance 0).

        Returns
        -------
        tuple of numpy.ndarray
            Positions and their outlet-to-outlet distances from the start, in metres.
        """
        found = self.upstream_slots(position)
        if found is None:
            dist = self.distance_to_outlet_m()
            members = self.upstream_positions(position)
            distances = dist[members] - dist[position]
            order = distance_order(distances, members)
            return members[order], distances[order]
        slots, distances = found
        return self.by_distance[slots], distances

    def upstream_slots(self, position: int) -> tuple[slice | IntArray, FloatArray] | None:
        """Where the reaches upstream of ``position`` sit in :attr:`by_distance`, nearest first.

        The reaches of a tree fill one range of :attr:`by_distance`, already in distance order,
        so a whole tree is that range and a sub-basin is filtered out of it in order: no
        sorting (only where subtracting the start's distance rounds two distances to one value
        are those rows put back in position order). Used for sets of at least a sixteenth of
        their tree (below that, sorting the preorder slice costs less than reading the tree).

        Parameters
        ----------
        position
            Position of the start reach.

        Returns
        -------
        tuple or None
            Where the reaches sit in :attr:`by_distance`, ordered as
            :meth:`upstream_by_distance` orders them (a slice for a whole tree, else an index
            array), and their distances from the start in metres; None for a small set or when
            some distance is not finite.
        """
        dist = self.distance_to_outlet_m()
        first, size = int(self.pre[position]), int(self.size[position])
        root = int(self._tree_roots[np.searchsorted(self._tree_roots, first, side="right") - 1])
        tree_size = int(self.size[self.preorder[root]])
        if size * 16 < tree_size or not self._finite_distances:
            return None
        by_distance, pre_by_distance, dist_by_distance = self._by_distance
        if size == tree_size:  # an outlet: dist[position] is 0, so the order is exact
            tree = slice(root, root + tree_size)
            return tree, dist_by_distance[tree] - dist[position]
        near = pre_by_distance[root : root + tree_size]
        slots = root + np.flatnonzero((near >= first) & (near < first + size))
        distances = dist_by_distance[slots] - dist[position]
        if dist[position] != 0.0:
            # the subtraction can round distinct distances to one value: keep position order
            members = by_distance[slots]
            tied = (distances[1:] == distances[:-1]) & (members[1:] < members[:-1])
            if tied.any():
                order = distance_order(distances, members)
                return slots[order], distances[order]
        return slots, distances

    @property
    def by_distance(self) -> IntArray:
        """All positions grouped by tree, each tree by distance to its outlet, then position.

        Trees come in preorder: the tree whose outlet has preorder number ``r`` and ``s``
        reaches fills ``r .. r + s - 1``, as in :attr:`preorder`. Built on first use (one
        bucket sort), read-only.
        """
        return self._by_distance[0]

    @cached_property
    def _tree_roots(self) -> IntArray:
        """Preorder numbers of the outlets (each tree is the preorder range from its root)."""
        return np.flatnonzero(self.downstream[self.preorder] < 0)

    @cached_property
    def _finite_distances(self) -> bool:
        return bool(np.isfinite(self.distance_to_outlet_m()).all())

    @cached_property
    def _by_distance(self) -> tuple[IntArray, IntArray, FloatArray]:
        """All positions grouped by tree (in preorder), each by distance to outlet then position.

        A tree whose root has preorder number ``r`` and ``s`` reaches holds slots ``r .. r+s-1``
        (as in preorder). Returned with their preorder numbers and distances to the outlet in
        the same order, all read-only.
        """
        dist = self.distance_to_outlet_m()
        order = distance_order(dist, np.arange(len(self), dtype=np.int64))
        grouped = _group_by_tree(order, self.pre, self.downstream, self.preorder)
        arrays = (grouped, self.pre[grouped], dist[grouped])
        for array in arrays:
            array.flags.writeable = False
        return arrays

    def downstream_positions(self, position: int) -> IntArray:
        """The reach at ``position`` and every reach below it down the primary path."""
        path = np.empty(int(self.depth[position]) + 1, dtype=np.int64)
        node = position
        for k in range(path.shape[0]):
            path[k] = node
            node = int(self.downstream[node])
        return path

    def is_upstream(self, upper: IntArray | int, lower: IntArray | int) -> npt.NDArray[np.bool_]:
        """Whether ``upper`` drains (along primary links) through ``lower``; vectorised."""
        lo = self.pre[lower]
        return (self.pre[upper] >= lo) & (self.pre[upper] < lo + self.size[lower])

    def set_names(self, names: Sequence[Any] | npt.NDArray[Any] | None) -> None:
        """Use river names (same name = same stem) to pick main stems at confluences."""
        if names is None:
            self._names = None
        else:
            codes, _ = pd.factorize(pd.Series(names), use_na_sentinel=True)
            self._names = codes.astype(np.int64)
        self.__dict__.pop("main_child", None)
        self.__dict__.pop("_main_stem", None)

    @cached_property
    def _upstream_length(self) -> FloatArray:
        return _accumulate(self.downstream, self.order, self.length_m)

    @cached_property
    def _distance_to_outlet(self) -> FloatArray:
        return _distance_to_outlet(self.downstream, self.order, self.length_m)

    @cached_property
    def _strahler(self) -> IntArray:
        return _strahler(self.downstream, self.order)

    @cached_property
    def _shreve(self) -> IntArray:
        leaves = (self.size == 1).astype(np.float64)
        return _accumulate(self.downstream, self.order, leaves).astype(np.int64)

    @cached_property
    def main_child(self) -> IntArray:
        """Position of the main-stem upstream neighbour of every reach, ``-1`` at headwaters."""
        names = self._names if self._names is not None else np.full(len(self), -1, np.int64)
        return _main_child(self.offsets, self.children, self._upstream_length, names)

    @cached_property
    def _main_stem(self) -> IntArray:
        return _main_stem(self.downstream, self.order, self.main_child)

    def upstream_length_m(self) -> FloatArray:
        """Total length of each reach and everything upstream of it, in metres."""
        return self._upstream_length

    def distance_to_outlet_m(self) -> FloatArray:
        """Length of the flow path from each reach's outlet to its network outlet, in metres."""
        return self._distance_to_outlet

    def strahler_order(self) -> IntArray:
        """Strahler stream order of every reach."""
        return self._strahler

    def shreve_order(self) -> IntArray:
        """Shreve magnitude (number of headwater reaches upstream) of every reach."""
        return self._shreve

    def main_stem(self) -> IntArray:
        """Position of the most downstream reach of the main stem each reach belongs to."""
        return self._main_stem

    def clear_cache(self) -> None:
        """Forget the cached measures (for benchmarks that time a fresh computation)."""
        for name in ("_upstream_length", "_distance_to_outlet", "_strahler", "_shreve"):
            self.__dict__.pop(name, None)
        for name in ("_finite_distances", "_by_distance"):
            self.__dict__.pop(name, None)
        self.__dict__.pop("main_child", None)
        self.__dict__.pop("_main_stem", None)

    def outlet_of(self, positions: IntArray) -> IntArray:
        """Position of the outlet reach each position drains to (via primary links)."""
        root_pre = np.sort(self.pre[self.downstream < 0])
        tree = np.searchsorted(root_pre, self.pre[positions], side="right") - 1
        return self.preorder[root_pre[tree]]


def downstream_positions(
    index: pd.Index, downstream_ids: Any, outlet_values: Iterable[Any]
) -> tuple[IntArray, IntArray]:
    """Position of each downstream id in ``index`` (-1 for outlets), and the dangling ones.

    Parameters
    ----------
    index
        The reach ids.
    downstream_ids
        The downstream id of each reach.
    outlet_values
        Values meaning "outlet" (missing values always do).

    Returns
    -------
    tuple of numpy.ndarray
        The downstream positions, and the positions whose downstream id names no reach and is
        no outlet value (treated as outlets too).
    """
    down = ids_like(pd.Series(np.asarray(downstream_ids)), index)
    outlets = down.isna().to_numpy() | down.isin(_outlet_forms(outlet_values)).to_numpy()
    positions = index.get_indexer(pd.Index(down.to_numpy())).astype(np.int64)
    dangling = np.flatnonzero((positions < 0) & ~outlets)
    positions[outlets] = -1
    return positions, dangling


def ids_like(values: pd.Series, index: pd.Index) -> pd.Series:
    """Ids in the type of the reach ids: text ``"40618365"`` matches the integer id 40618365.

    Files often store a downstream-id column as text while the ids are integers (or the other
    way round); comparing them as they are would call every link dangling. Text that is a whole
    number is matched to integer ids, integers to text ids; blank cells are missing (outlets).

    Parameters
    ----------
    values
        Downstream (or other) ids.
    index
        The reach ids.

    Returns
    -------
    pandas.Series
        The values, converted when the kinds differ.

    Raises
    ------
    TopologyError
        If reach ids are integers and some text values are not whole numbers (the message
        gives the types and the first such values).
    """
    integer_ids = pd.api.types.is_integer_dtype(index.dtype)
    numeric_values = pd.api.types.is_numeric_dtype(values.dtype) and values.dtype != bool
    if integer_ids and not numeric_values:
        return _text_to_integers(values, index)
    if not integer_ids and numeric_values and len(index) and isinstance(index[0], str):
        return pd.Series(
            [None if pd.isna(v) else _integer_text(v) for v in values],
            index=values.index,
            dtype=object,
        )
    return values


def _text_to_integers(values: pd.Series, index: pd.Index) -> pd.Series:
    text = values.map(_clean_text)
    numbers = pd.to_numeric(text, errors="coerce")
    bad = text.notna().to_numpy() & (
        numbers.isna().to_numpy() | (numbers.fillna(0) % 1 != 0).to_numpy()
    )
    if bad.any():
        raise TopologyError.from_key(
            "err_core.text_ids", dtype=str(values.dtype), index_dtype=str(index.dtype),
            count=int(bad.sum()), values=_items(text[bad].tolist()),
        )  # fmt: skip
    return pd.Series(
        [None if pd.isna(v) else int(v) for v in numbers], index=values.index, dtype=object
    )


def _clean_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip()
    return text or None


def _integer_text(value: Any) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else str(value)


def _outlet_forms(outlet_values: Iterable[Any]) -> list[Any]:
    """Outlet values as given and in the other id kind (0 and "0")."""
    forms: list[Any] = []
    for value in outlet_values:
        forms.append(value)
        text = _clean_text(value)
        if text is not None:
            forms.append(text)
            if text.lstrip("-").isdigit():
                forms.append(int(text))
    return forms


def _secondary_positions(index: pd.Index, secondary: Any) -> IntArray:
    """Map ``(from_id, to_id)`` pairs to positions, dropping pairs that name no reach."""
    if secondary is None or len(secondary) == 0:
        return np.empty((0, 2), dtype=np.int64)
    pairs = np.asarray(secondary)
    positions = np.stack(
        [index.get_indexer(pd.Index(pairs[:, 0])), index.get_indexer(pd.Index(pairs[:, 1]))],
        axis=1,
    ).astype(np.int64)
    missing = (positions < 0).any(axis=1)
    if missing.any():
        links = _items(map(tuple, pairs[missing].tolist()))
        raise TopologyError.from_key("err_core.secondary_unknown", links=links)
    return positions
