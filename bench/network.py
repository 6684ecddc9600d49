"""Benchmark of the river network core (``rivernet._core.FlowCore``) against networkx.

Measured side by side on one synthetic table per size (see :mod:`bench.synthetic`), as medians
over ``repeat`` runs:

- **build**: ``FlowCore.from_downstream`` (with lengths and secondary links) and the preorder
  id array the upstream query slices, versus an ``nx.DiGraph`` built as a user would
  (``add_nodes_from`` + ``add_edges_from`` of the downstream and secondary links); both must
  hold the same reaches and links; target at least 10x faster.
- **upstream of the largest outlet**, as an id array: ``core.upstream_ids(pos)`` (see
  :func:`upstream_ids`), including the id -> position lookup, versus ``nx.ancestors``; target
  at least 1,000x.
- **distance to outlet + upstream length + Strahler order** of every reach on a fresh core
  (measure caches cleared; its topological order is part of the build) versus one topological
  sort and two pure-Python passes over the graph (the sort is about a quarter of that time at
  100k reaches); target at least 100x.
- **peak memory** of building the core and computing those measures: tracemalloc peak (numpy
  and numba allocations are traced), with the process RSS change beside it; target under 300 MB.
- **upstream of the largest outlet as a GeoDataFrame**: the user-facing
  ``RiverNetwork.upstream(id, mode="UT")`` on a network with line geometry (no braids, as
  HydroRIVERS), returning every reach of the basin with ``reach_id``, ``distance_km`` and
  ``geometry`` sorted by distance, versus ``nx.ancestors`` (ids only, unsorted) on the graph of
  the same links; target at least 20x once the basin holds 300,000 reaches (an 800k network's
  largest basin holds 310,070, a 1M network's 387,124). The first call on the fresh network
  (which also builds what later calls reuse: the distance order of the core and the ids and
  geometries kept in that order) is reported beside the median. The answer must equal the
  plain ``np.lexsort`` ordering, its ids the ancestors and its distances a networkx walk. Run
  this row alone with ``python -m bench.network --sizes 800k``.

Otherwise the comparison leans towards networkx: its graph carries no attributes (the loop
reads lengths from a prebuilt dict), and the garbage collector is off while timing, as in
``timeit``. Every
rivernet answer is checked against the networkx answer, so a fast wrong answer cannot pass.
The ratio targets are the issue's targets "at 1M"; smaller sizes are reported for information.
"""

from __future__ import annotations

import argparse
import gc
import logging
import math
import operator
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bench._report import Row, format_seconds, gc_paused, publish
from bench.synthetic import synthetic_network
from rivernet._core import FlowCore
from rivernet.network import RiverNetwork

__all__ = [
    "NetworkTable",
    "network_benchmark",
    "networkx_measures",
    "run",
    "upstream_frame_benchmark",
    "upstream_ids",
]

logger = logging.getLogger(__name__)

TARGET_SIZE = 1_000_000  # the targets are stated at one million reaches
BUILD_TARGET = 10.0
UPSTREAM_TARGET = 1_000.0
MEASURES_TARGET = 100.0
MEMORY_TARGET_BYTES = 300 * 1024**2
UPSTREAM_FRAME_TARGET = 20.0
UPSTREAM_FRAME_BASIN = 300_000  # the GeoDataFrame target is stated for a 300k-reach basin
_MIN_BATCH_S = 0.05  # repeat fast calls until one timed batch lasts this long


@dataclass(frozen=True)
class NetworkTable:
    """The arrays of a synthetic network, as both faces receive them.

    Attributes
    ----------
    ids
        Reach ids.
    downstream_ids
        Downstream reach id per reach, 0 at outlets.
    length_m
        Reach lengths in metres.
    secondary
        ``(k, 2)`` array of ``(from_id, to_id)`` secondary downstream links.
    """

    ids: NDArray[np.int64]
    downstream_ids: NDArray[np.int64]
    length_m: NDArray[np.float64]
    secondary: NDArray[np.int64]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> NetworkTable:
        """Take the arrays from a :func:`bench.synthetic.synthetic_network` table."""
        braided = frame["secondary_downstream_id"].to_numpy() != 0
        return cls(
            ids=frame["reach_id"].to_numpy(),
            downstream_ids=frame["downstream_id"].to_numpy(),
            length_m=frame["length_km"].to_numpy() * 1000.0,
            secondary=frame.loc[braided, ["reach_id", "secondary_downstream_id"]].to_numpy(),
        )


def run(
    sizes: list[int], *, repeat: int = 3, seed: int = 0, results_dir: Path | None = None
) -> tuple[list[Row], Path]:
    """Run the benchmark at every size, print the table and write the JSON file.

    Parameters
    ----------
    sizes
        Numbers of reaches.
    repeat
        Timed repetitions of each operation; the median is reported.
    seed
        Seed of the synthetic networks.
    results_dir
        Where to write the JSON file; default ``bench/results``.

    Returns
    -------
    tuple
        The table rows and the path of the JSON file.
    """
    _warm_up()
    rows = [row for size in sizes for row in network_benchmark(size, repeat=repeat, seed=seed)]
    settings = {"sizes": sizes, "repeat": repeat, "seed": seed}
    path = publish("network", rows, settings, directory=results_dir)
    return rows, path


def network_benchmark(size: int, *, repeat: int = 3, seed: int = 0) -> list[Row]:
    """Benchmark one network size; see the module docstring for what is measured.

    Parameters
    ----------
    size
        Number of reaches of the synthetic network.
    repeat
        Timed repetitions of each operation.
    seed
        Seed of the synthetic network.

    Returns
    -------
    list of Row
        Build, upstream, measures and memory rows.
    """
    logger.info("size %s: generating the synthetic network", size)
    data = NetworkTable.from_frame(synthetic_network(size, seed=seed))
    core, memory = _core_memory(data)
    outlet = int(core.ids[_largest_outlet(core)])
    logger.info("size %s: %s", size, _describe(core))
    build_row, graph = _build_row(data, repeat)
    rows = [
        build_row,
        _upstream_row(core, graph, outlet, repeat),
        _measures_row(core, graph, data, repeat),
        _memory_row(size, memory, build_row.details["networkx_graph_rss_bytes"]),
    ]
    for row in rows:
        row.details.update(_network_stats(core))
    del graph, core
    return [*rows, *upstream_frame_benchmark(size, repeat=repeat, seed=seed)]


def upstream_frame_benchmark(size: int, *, repeat: int = 3, seed: int = 0) -> list[Row]:
    """Time ``RiverNetwork.upstream`` of the largest outlet against ``nx.ancestors``.

    Parameters
    ----------
    size
        Number of reaches of the synthetic network (made with line geometry).
    repeat
        Timed repetitions of each call.
    seed
        Seed of the synthetic network.

    Returns
    -------
    list of Row
        One row; the target applies when the basin holds ``UPSTREAM_FRAME_BASIN`` reaches.
    """
    logger.info("size %s: generating the synthetic network with geometry", size)
    frame = synthetic_network(size, seed=seed, with_geometry=True)
    net = RiverNetwork.from_downstream_ids(
        frame, id_column="reach_id", downstream_column="downstream_id"
    )
    table = NetworkTable.from_frame(frame)
    del frame
    graph = _build_graph(
        NetworkTable(table.ids, table.downstream_ids, table.length_m, np.empty((0, 2), np.int64))
    )
    core = net.core
    outlet = int(core.ids[_largest_outlet(core)])
    return [_upstream_frame_row(net, graph, outlet, repeat)]


def _upstream_frame_row(net: RiverNetwork, graph: nx.DiGraph, outlet: int, repeat: int) -> Row:
    core = net.core
    size, basin = len(core), int(core.size[core.position(outlet)[0]])
    logger.info("size %s: timing upstream of outlet %s as a GeoDataFrame", size, outlet)
    first_s = _batch_seconds(lambda: net.upstream(outlet, mode="UT"), 1)
    found = net.upstream(outlet, mode="UT")
    ancestors = nx.ancestors(graph, outlet)
    correct = _same_upstream_frame(net, graph, outlet, found, ancestors)
    ours_s, theirs_s = _paired_medians(
        lambda: net.upstream(outlet, mode="UT"), lambda: nx.ancestors(graph, outlet), repeat=repeat
    )
    ratio = theirs_s / ours_s
    details = {
        "rivernet_s": ours_s,
        "networkx_s": theirs_s,
        "rivernet_first_call_s": first_s,
        "outlet_id": outlet,
        "rivernet_api": 'net.upstream(id, mode="UT") -> reach_id, distance_km, geometry',
        "upstream_reaches": len(found),
        "networkx_ancestors": len(ancestors),
    }
    return Row(
        operation="upstream GeoDataFrame of largest outlet",
        size=size,
        rivernet=f"{format_seconds(ours_s)} (first {format_seconds(first_s)})",
        baseline=format_seconds(theirs_s),
        ratio=ratio,
        target=f">= {UPSTREAM_FRAME_TARGET:,.0f}x",
        passed=ratio >= UPSTREAM_FRAME_TARGET if basin >= UPSTREAM_FRAME_BASIN else None,
        correct=correct,
        details=details | _network_stats(core),
    )


def _same_upstream_frame(
    net: RiverNetwork,
    graph: nx.DiGraph,
    outlet: int,
    found: gpd.GeoDataFrame,
    ancestors: set[Any],
) -> bool:
    """Whether the result is the basin, in the plain lexsort order, with networkx distances."""
    core = net.core
    start = int(core.position(outlet)[0])
    members = core.upstream_positions(start)
    dist = core.distance_to_outlet_m()[members] - core.distance_to_outlet_m()[start]
    order = np.lexsort((members, dist))
    positions, dist = members[order], dist[order]
    ids = found["reach_id"].to_numpy()
    length = dict(zip(net.ids.tolist(), net.reaches["length_m"].tolist(), strict=True))
    walked = {outlet: 0.0}
    for below, above in nx.bfs_edges(graph, outlet, reverse=True):
        walked[above] = walked[below] + length[below]
    expected_km = np.array([walked[i] for i in ids.tolist()]) / 1000.0
    geometry = found.geometry.to_numpy()
    return (
        list(found.columns) == ["reach_id", "distance_km", "geometry"]
        and isinstance(found.index, pd.RangeIndex)
        and found.crs == net.reaches.crs
        and len(ids) == len(ancestors) + 1
        and set(ids.tolist()) == ancestors | {outlet}
        and np.array_equal(ids, net.ids[positions])
        and np.array_equal(found["distance_km"].to_numpy(), dist / 1000.0)
        and np.allclose(found["distance_km"].to_numpy(), expected_km, rtol=1e-9, atol=1e-9)
        and all(map(operator.is_, geometry, net.reaches.geometry.to_numpy()[positions]))
    )


# --- the four measurements --------------------------------------------------------------------


def _build_core(data: NetworkTable) -> FlowCore:
    """The core, with the preorder id array the upstream query slices (paid for here)."""
    core = FlowCore.from_downstream(
        data.ids,
        data.downstream_ids,
        outlet_values=(0,),
        length_m=data.length_m,
        secondary=data.secondary,
    )
    core.ids_in_preorder  # noqa: B018 - cached lazily otherwise, then timed nowhere
    return core


def _build_graph(data: NetworkTable) -> nx.DiGraph:
    """The networkx face as a user would build it from the same table."""
    graph = nx.DiGraph()
    graph.add_nodes_from(data.ids.tolist())
    linked = data.downstream_ids != 0
    edges = zip(data.ids[linked].tolist(), data.downstream_ids[linked].tolist(), strict=True)
    graph.add_edges_from(edges)
    graph.add_edges_from(map(tuple, data.secondary.tolist()), secondary=True)
    return graph


def _build_row(data: NetworkTable, repeat: int) -> tuple[Row, nx.DiGraph]:
    size = len(data.ids)
    logger.info("size %s: timing the builds", size)
    with _rss_change() as graph_rss:
        graph = _build_graph(data)
    ours, theirs = _paired_medians(
        lambda: _build_core(data), lambda: _build_graph(data), repeat=repeat
    )
    correct = _same_links(_build_core(data), graph)
    details = {"rivernet_s": ours, "networkx_s": theirs, "networkx_graph_rss_bytes": graph_rss[0]}
    return _ratio_row("build network", size, ours, theirs, BUILD_TARGET, correct, details), graph


def _same_links(core: FlowCore, graph: nx.DiGraph) -> bool:
    """Whether the core and the graph hold the same reaches, downstream and secondary links."""
    linked = core.downstream >= 0
    primary = zip(
        core.ids[linked].tolist(), core.ids[core.downstream[linked]].tolist(), strict=True
    )
    links = set(primary) | set(map(tuple, core.ids[core.secondary].tolist()))
    return (
        set(core.ids.tolist()) == set(graph.nodes)
        and len(core) == graph.number_of_nodes()
        and links == set(graph.edges)
        and int(linked.sum()) + len(core.secondary) == graph.number_of_edges()
    )


def _upstream_row(core: FlowCore, graph: nx.DiGraph, outlet: int, repeat: int) -> Row:
    size = len(core)
    logger.info("size %s: timing upstream of outlet %s", size, outlet)

    def ours() -> NDArray[Any]:
        return upstream_ids(core, outlet)

    found = ours()
    ancestors = nx.ancestors(graph, outlet)
    correct = len(found) == len(ancestors) + 1 and set(found.tolist()) == ancestors | {outlet}
    ours_s, theirs_s = _paired_medians(ours, lambda: nx.ancestors(graph, outlet), repeat=repeat)
    details = {
        "rivernet_s": ours_s,
        "networkx_s": theirs_s,
        "outlet_id": outlet,
        "rivernet_api": "core.upstream_ids(core.position(id)[0])",
        "upstream_reaches": len(found),
        "networkx_ancestors": len(ancestors),
    }
    operation = "upstream ids of largest outlet"
    return _ratio_row(operation, size, ours_s, theirs_s, UPSTREAM_TARGET, correct, details)


def _measures_row(core: FlowCore, graph: nx.DiGraph, data: NetworkTable, repeat: int) -> Row:
    size = len(core)
    logger.info("size %s: timing distance, upstream length and Strahler order", size)

    def ours() -> tuple[NDArray[Any], ...]:
        return core.distance_to_outlet_m(), core.upstream_length_m(), core.strahler_order()

    length = dict(zip(data.ids.tolist(), data.length_m.tolist(), strict=True))
    ours_s, theirs_s = _paired_medians(
        ours, lambda: networkx_measures(graph, length), repeat=repeat, setup=core.clear_cache
    )
    core.clear_cache()
    correct, mismatches = _same_measures(core, ours(), networkx_measures(graph, length))
    details = {"rivernet_s": ours_s, "networkx_s": theirs_s, "mismatches": mismatches}
    operation = "distance + upstream length + Strahler"
    return _ratio_row(operation, size, ours_s, theirs_s, MEASURES_TARGET, correct, details)


def _core_memory(data: NetworkTable) -> tuple[FlowCore, dict[str, int]]:
    """Build the core, compute the measures and one query under tracemalloc and RSS watch."""
    logger.info("size %s: measuring memory", len(data.ids))
    with _rss_change() as rss:
        tracemalloc.start()
        core = _build_core(data)
        core.distance_to_outlet_m(), core.upstream_length_m(), core.strahler_order()
        upstream_ids(core, int(core.ids[_largest_outlet(core)]))
        retained, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    memory = {"traced_peak_bytes": peak, "traced_retained_bytes": retained, "rss_bytes": rss[0]}
    return core, memory


def _memory_row(size: int, memory: dict[str, int], graph_rss: int) -> Row:
    peak = memory["traced_peak_bytes"]
    return Row(
        operation="peak memory: build + measures",
        size=size,
        rivernet=f"{_mb(peak)} (RSS +{_mb(memory['rss_bytes'])})",
        baseline=f"graph: RSS +{_mb(graph_rss)}",
        ratio=None,
        target=f"< {_mb(MEMORY_TARGET_BYTES)}",
        passed=peak < MEMORY_TARGET_BYTES,
        details=memory | {"networkx_graph_rss_bytes": graph_rss},
    )


def upstream_ids(core: FlowCore, reach_id: int) -> NDArray[Any]:
    """Ids of every reach upstream of ``reach_id``, itself included, as the core offers them.

    ``core.upstream_ids(position)`` is a slice of the ids stored in preorder.

    Parameters
    ----------
    core
        The network core.
    reach_id
        Id of the start reach.

    Returns
    -------
    numpy.ndarray
        Reach ids, the start first.
    """
    return np.asarray(core.upstream_ids(int(core.position(reach_id)[0])))


# --- the networkx baseline --------------------------------------------------------------------


def networkx_measures(
    graph: nx.DiGraph, length_m: dict[Any, float]
) -> tuple[dict[Any, float], dict[Any, float], dict[Any, int]]:
    """Distance to outlet, upstream length and Strahler order with a topological-sort loop.

    Secondary links (edge attribute ``secondary``) are skipped, as the core's measures use the
    primary tree. Conventions match the core: distance between reach outlets, upstream length
    including the reach itself.

    Parameters
    ----------
    graph
        Edges ``u -> v`` where ``u`` drains into ``v``.
    length_m
        Length of every reach.

    Returns
    -------
    tuple of dict
        Distance to outlet, upstream length and Strahler order, keyed by reach id.
    """
    order = list(nx.topological_sort(graph))
    upstream = dict(length_m)
    best = dict.fromkeys(order, 0)
    ties = dict.fromkeys(order, 0)
    strahler: dict[Any, int] = {}
    for reach in order:
        top = best[reach]
        rank = 1 if top == 0 else top + (ties[reach] > 1)
        strahler[reach] = rank
        for below, attributes in graph.succ[reach].items():
            if attributes.get("secondary"):
                continue
            upstream[below] += upstream[reach]
            if rank > best[below]:
                best[below], ties[below] = rank, 1
            elif rank == best[below]:
                ties[below] += 1
    distance: dict[Any, float] = {}
    for reach in reversed(order):
        distance[reach] = 0.0
        for below, attributes in graph.succ[reach].items():
            if not attributes.get("secondary"):
                distance[reach] = distance[below] + length_m[below]
    return distance, upstream, strahler


def _same_measures(
    core: FlowCore,
    ours: tuple[NDArray[Any], ...],
    theirs: tuple[dict[Any, float], dict[Any, float], dict[Any, int]],
) -> tuple[bool, dict[str, int]]:
    """Compare every reach's three measures; return the mismatch count of each."""
    ids = core.ids.tolist()
    names = ("distance_to_outlet", "upstream_length", "strahler")
    mismatches = {}
    expected_by_id: tuple[dict[Any, float] | dict[Any, int], ...] = theirs
    for name, mine, other in zip(names, ours, expected_by_id, strict=True):
        expected = np.fromiter((other[i] for i in ids), dtype=np.float64, count=len(ids))
        mismatches[name] = int((~np.isclose(mine, expected, rtol=1e-9, atol=1e-6)).sum())
    return not any(mismatches.values()), mismatches


# --- helpers ----------------------------------------------------------------------------------


def _warm_up() -> None:
    """Compile (or load from numba's cache) every kernel before anything is timed."""
    core = _build_core(NetworkTable.from_frame(synthetic_network(1_000, seed=1)))
    core.distance_to_outlet_m(), core.upstream_length_m(), core.strahler_order()
    upstream_ids(core, int(core.ids[0]))
    frame = synthetic_network(1_000, seed=1, with_geometry=True)
    net = RiverNetwork.from_downstream_ids(
        frame, id_column="reach_id", downstream_column="downstream_id"
    )
    net.upstream(int(net.ids[_largest_outlet(net.core)]), mode="UT")


def _paired_medians(
    ours: Callable[[], object],
    theirs: Callable[[], object],
    *,
    repeat: int,
    setup: Callable[[], object] | None = None,
) -> tuple[float, float]:
    """Median seconds per call of rivernet's and the baseline's call, timed alternately.

    Alternating spreads the load of other processes on a shared machine over both sides. Each
    timed batch runs with the garbage collector off; calls faster than ``_MIN_BATCH_S`` are
    repeated within a batch (rivernet's only when no ``setup`` must run before each call).
    ``setup`` (for example clearing caches) runs before every rivernet batch, untimed.
    """
    ours_loops = 1 if setup is not None else _loops_per_batch(ours)
    theirs_loops = _loops_per_batch(theirs)
    ours_s, theirs_s = [], []
    for _ in range(repeat):
        if setup is not None:
            setup()
        ours_s.append(_batch_seconds(ours, ours_loops))
        theirs_s.append(_batch_seconds(theirs, theirs_loops))
    return statistics.median(ours_s), statistics.median(theirs_s)


def _batch_seconds(call: Callable[[], object], loops: int) -> float:
    """Seconds per call over ``loops`` calls, garbage collector off."""
    with gc_paused():
        start = time.perf_counter()
        for _ in range(loops):
            call()
        return (time.perf_counter() - start) / loops


def _loops_per_batch(call: Callable[[], object]) -> int:
    """Calls per timed batch so that a batch lasts about ``_MIN_BATCH_S`` (also a warm-up)."""
    start = time.perf_counter()
    call()
    once = time.perf_counter() - start
    return 1 if once >= _MIN_BATCH_S else min(100_000, math.ceil(_MIN_BATCH_S / max(once, 1e-7)))


def _ratio_row(
    operation: str,
    size: int,
    ours: float,
    theirs: float,
    target: float,
    correct: bool,
    details: dict[str, Any],
) -> Row:
    ratio = theirs / ours
    return Row(
        operation=operation,
        size=size,
        rivernet=format_seconds(ours),
        baseline=format_seconds(theirs),
        ratio=ratio,
        target=f">= {target:,.0f}x",
        passed=ratio >= target if size >= TARGET_SIZE else None,
        correct=correct,
        details=details,
    )


def _largest_outlet(core: FlowCore) -> int:
    outlets = np.flatnonzero(core.downstream < 0)
    return int(outlets[np.argmax(core.size[outlets])])


def _network_stats(core: FlowCore) -> dict[str, int]:
    outlets = core.downstream < 0
    return {
        "reaches": len(core),
        "outlets": int(outlets.sum()),
        "largest_basin": int(core.size[outlets].max()),
        "max_depth": int(core.depth.max()),
        "secondary_links": len(core.secondary),
    }


def _describe(core: FlowCore) -> str:
    stats = _network_stats(core)
    return ", ".join(f"{key} {value:,}" for key, value in stats.items())


def _mb(n_bytes: float) -> str:
    megabytes = n_bytes / 1024**2
    return f"{megabytes:,.1f} MB" if abs(megabytes) < 10 else f"{megabytes:,.0f} MB"


@contextmanager
def _rss_change() -> Iterator[list[int]]:
    """Yield a one-item list that holds the change of resident memory when the block ends."""
    change = [0]
    gc.collect()
    before = _rss_bytes()
    yield change
    change[0] = _rss_bytes() - before


def _rss_bytes() -> int:
    """Resident set size of this process (psutil when installed, else /proc; 0 if neither)."""
    try:
        import psutil
    except ImportError:
        try:
            pages = int(Path("/proc/self/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            return 0
        import resource

        return pages * resource.getpagesize()
    return int(psutil.Process().memory_info().rss)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.network [--sizes 800k] [--repeat N]``: the GeoDataFrame row alone.

    Returns the exit status: 1 when the target is missed or the answer is wrong.
    """
    from bench.__main__ import all_met, parse_sizes

    parser = argparse.ArgumentParser(
        prog="python -m bench.network",
        description="upstream of the largest outlet as a GeoDataFrame against nx.ancestors",
    )
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes("800k"))
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    _warm_up()
    rows = [
        row
        for size in args.sizes
        for row in upstream_frame_benchmark(size, repeat=args.repeat, seed=args.seed)
    ]
    settings = {"sizes": args.sizes, "repeat": args.repeat, "seed": args.seed}
    publish("network-upstream-frame", rows, settings)
    return 0 if all_met(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
