"""Property tests of the array core against networkx on random forests (the two faces agree)."""

from __future__ import annotations

import random

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rivernet import TopologyError
from rivernet._core import FlowCore, distance_order


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


def lexsorted(core: FlowCore, pos: int) -> tuple[np.ndarray, np.ndarray]:
    """The reference UT answer: the preorder slice ordered by ``np.lexsort``."""
    members = core.upstream_positions(pos)
    dist = core.distance_to_outlet_m()
    distances = dist[members] - dist[pos]
    order = np.lexsort((members, distances))
    return members[order], distances[order]


@settings(max_examples=60, deadline=None)
@given(forests(), st.lists(st.sampled_from([0.0, 0.1, 0.2, 0.3, 1.0, 1e17]), min_size=60))
def test_upstream_by_distance_is_the_lexsort_order(
    forest: tuple[np.ndarray, np.ndarray, np.ndarray], steps: list[float]
) -> None:
    ids, down_ids, lengths = forest
    for values in (lengths, np.array(steps[: len(ids)])):  # smooth, then many ties and roundings
        core = FlowCore.from_downstream(ids, down_ids, length_m=values)
        for pos in range(len(core)):
            positions, distances = core.upstream_by_distance(pos)
            expected_positions, expected_distances = lexsorted(core, pos)
            assert np.array_equal(positions, expected_positions)
            assert np.array_equal(distances, expected_distances)


def test_upstream_by_distance_keeps_position_order_where_subtraction_rounds() -> None:
    # outlet 6 <- 5 <- {3, 4}; 1 drains into 3, 2 into 4. Distances to the outlet: 5 at 1.0,
    # 1 at 2**53 + 4 and 2 at 2**53 + 6: distinct, but both 2**53 + 4 metres from reach 5.
    ids = [2, 1, 3, 4, 5, 6]
    core = FlowCore.from_downstream(
        ids, [4, 3, 5, 5, 6, 0], length_m=[1.0, 1.0, 2.0**53 + 2, 2.0**53 + 4, 1.0, 1.0]
    )
    start = int(core.position(5)[0])
    dist = core.distance_to_outlet_m()
    assert dist[core.position(1)[0]] < dist[core.position(2)[0]]
    positions, distances = core.upstream_by_distance(start)
    assert core.ids[positions].tolist() == [5, 3, 4, 2, 1]  # tie at 2**53 + 4: position order
    expected_positions, expected_distances = lexsorted(core, start)
    assert np.array_equal(positions, expected_positions)
    assert np.array_equal(distances, expected_distances)


def test_upstream_slots_of_an_outlet_are_its_tree_range() -> None:
    ids, down = [15, 10, 11, 12, 13, 14], [10, 12, 12, 0, 12, 0]
    core = FlowCore.from_downstream(ids, down, length_m=[4, 3, 1, 2, 1, 5])
    outlet = int(core.position(12)[0])
    positions, distances = core.upstream_by_distance(outlet)
    assert core.ids[positions].tolist() == [12, 10, 11, 13, 15]  # tie at 2 m: position order
    assert distances.tolist() == [0, 2, 2, 2, 5]
    found = core.upstream_slots(outlet)
    assert found is not None
    slots, _ = found
    first = int(core.pre[outlet])
    assert slots == slice(first, first + 5)
    assert np.array_equal(core.by_distance[slots], positions)
    sub = core.upstream_slots(int(core.position(10)[0]))  # 10 and 15: 2 of 5, picked in order
    assert sub is not None
    assert core.ids[core.by_distance[sub[0]]].tolist() == [10, 15]
    assert sub[1].tolist() == [0, 3]
    assert not core.by_distance.flags.writeable


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from([0.0, -0.0, 1.0, np.nan, np.inf, -np.inf, 5e-324]),
            st.floats(-1e6, 1e6),
        ),
        max_size=300,
    ),
    st.randoms(use_true_random=False),
)
def test_distance_order_is_np_lexsort(values: list[float], rng: random.Random) -> None:
    distances = np.array(values, dtype=np.float64)
    positions = np.array(rng.sample(range(10_000), len(values)), dtype=np.int64)
    expected = np.lexsort((positions, distances))
    assert np.array_equal(distance_order(distances, positions), expected)


@pytest.mark.parametrize("kind", ["smooth", "skewed", "few", "equal"])
def test_distance_order_of_large_arrays(kind: str) -> None:
    rng = np.random.default_rng(7)
    n = 50_000
    distances = {
        "smooth": np.round(rng.random(n) * 1e6, 1),
        "skewed": rng.lognormal(0.0, 4.0, n),  # buckets too full at every level: merge-sort
        "few": rng.integers(0, 30, n).astype(np.float64),
        "equal": np.full(n, 2.5),
    }[kind]
    positions = rng.permutation(3 * n)[:n].astype(np.int64)
    assert np.array_equal(distance_order(distances, positions), np.lexsort((positions, distances)))
