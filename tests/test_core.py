"""Property tests of the array core against networkx on random forests (the two faces agree)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rivernet import TopologyError
from rivernet._core import FlowCore


@st.composite
def forests(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random forests: reach i drains into a reach with a larger index, or is an outlet."""
    n = draw(st.integers(min_value=1, max_value=60))
    down = np.full(n, -1, dtype=np.int64)
    for i in range(n - 1):
        if draw(st.booleans()) or i == 0:
            down[i] = draw(st.integers(min_value=i + 1, max_value=n - 1))
    perm = np.array(draw(st.permutations(range(n))))
    ids = perm * 7 + 100  # arbitrary, non-positional ids
    down_ids = np.where(down >= 0, ids[np.maximum(down, 0)], 0)
    lengths = np.array(draw(st.lists(st.floats(1, 5000), min_size=n, max_size=n)))
    return ids, down_ids, lengths


def graph_of(ids: np.ndarray, down_ids: np.ndarray, lengths: np.ndarray) -> nx.DiGraph:
    graph = nx.DiGraph()
    for i, length in zip(ids.tolist(), lengths.tolist(), strict=True):
        graph.add_node(i, length=length)
    graph.add_edges_from((a, b) for a, b in zip(ids.tolist(), down_ids.tolist(), strict=True) if b)
    return graph


def networkx_measures(graph: nx.DiGraph) -> dict[str, dict[int, float]]:
    """Reference measures by a plain topological-sort loop."""
    up_len: dict[int, float] = {}
    strahler: dict[int, int] = {}
    for node in nx.topological_sort(graph):
        preds = list(graph.predecessors(node))
        up_len[node] = graph.nodes[node]["length"] + sum(up_len[p] for p in preds)
        orders = sorted((strahler[p] for p in preds), reverse=True)
        if not orders:
            strahler[node] = 1
        elif len(orders) > 1 and orders[0] == orders[1]:
            strahler[node] = orders[0] + 1
        else:
            strahler[node] = orders[0]
    dist: dict[int, float] = {}
    for node in reversed(list(nx.topological_sort(graph))):
        succ = list(graph.successors(node))
        dist[node] = dist[succ[0]] + graph.nodes[succ[0]]["length"] if succ else 0.0
    return {"up": up_len, "strahler": strahler, "dist": dist}


@settings(max_examples=60, deadline=None)
@given(forests())
def test_core_measures_match_networkx(forest: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    ids, down_ids, lengths = forest
    core = FlowCore.from_downstream(ids, down_ids, length_m=lengths)
    graph = graph_of(ids, down_ids, lengths)
    ref = networkx_measures(graph)
    for pos, rid in enumerate(ids.tolist()):
        assert core.upstream_length_m()[pos] == pytest.approx(ref["up"][rid])
        assert core.distance_to_outlet_m()[pos] == pytest.approx(ref["dist"][rid])
        assert core.strahler_order()[pos] == ref["strahler"][rid]
        upstream = set(ids[core.upstream_positions(pos)].tolist())
        assert upstream == nx.ancestors(graph, rid) | {rid}
        down = ids[core.downstream_positions(pos)].tolist()
        assert set(down) == nx.descendants(graph, rid) | {rid}


@settings(max_examples=40, deadline=None)
@given(forests())
def test_dfs_numbers_are_a_valid_numbering(
    forest: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    ids, down_ids, lengths = forest
    core = FlowCore.from_downstream(ids, down_ids, length_m=lengths)
    n = len(core)
    assert sorted(core.pre.tolist()) == list(range(n))
    assert sorted(core.post.tolist()) == list(range(n))
    has_down = core.downstream >= 0
    parents = core.downstream[has_down]
    assert np.all(core.pre[has_down] > core.pre[parents])
    assert np.all(core.post[has_down] < core.post[parents])
    assert np.all(core.depth[has_down] == core.depth[parents] + 1)


def test_duplicate_ids_and_self_loops_are_named() -> None:
    with pytest.raises(TopologyError, match="more than once: 2"):
        FlowCore.from_downstream([1, 2, 2], [2, 0, 0])
    with pytest.raises(TopologyError, match="drain into themselves"):
        FlowCore.from_downstream([1, 2], [1, 0])


def test_dangling_downstream_ids_become_outlets() -> None:
    core = FlowCore.from_downstream([1, 2, 3], [2, 99, 0])
    assert core.downstream.tolist() == [1, -1, -1]
    assert core.ids[core.dangling].tolist() == [2]


def test_upstream_ids_are_a_preorder_view() -> None:
    core = FlowCore.from_downstream([10, 11, 12, 13], [12, 12, 0, 12])
    top = int(core.position(12)[0])
    assert set(core.upstream_ids(top).tolist()) == {10, 11, 12, 13}
    assert core.upstream_ids(top)[0] == 12
    assert 12 not in core.upstream_ids(top, include_self=False).tolist()
    assert not core.upstream_ids(top).flags.writeable
