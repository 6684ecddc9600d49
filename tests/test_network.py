"""RiverNetwork on the tiny hand-drawn network: construction, measures, navigation, networkx."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from shapely import LineString

from rivernet import InputError, NotFoundError, RiverNetwork, TopologyError
from tests.conftest import tiny_frame


def as_dict(series: pd.Series) -> dict[int, float]:
    return {int(k): float(v) for k, v in series.items()}


def test_lengths_are_metric(tiny: RiverNetwork) -> None:
    assert tiny.reaches.loc[4, "length_m"] == pytest.approx(2000.0)
    assert tiny.reaches.index.name == "reach_id"


def test_distance_to_outlet(tiny: RiverNetwork) -> None:
    expected = {7: 3, 1: 2, 2: 2, 3: 1, 4: 1, 5: 0, 8: 0, 9: 0}
    assert as_dict(tiny.distance_to_outlet_km()) == pytest.approx(expected)


def test_upstream_length(tiny: RiverNetwork) -> None:
    expected = {7: 1, 1: 2, 2: 1, 3: 4, 4: 2, 5: 7, 8: 1, 9: 1}
    assert as_dict(tiny.upstream_length_km()) == pytest.approx(expected)


def test_orders(tiny: RiverNetwork) -> None:
    assert as_dict(tiny.strahler_order()) == {7: 1, 1: 1, 2: 1, 3: 2, 4: 1, 5: 2, 8: 1, 9: 1}
    assert as_dict(tiny.shreve_order()) == {7: 1, 1: 1, 2: 1, 3: 2, 4: 1, 5: 3, 8: 1, 9: 1}


def test_main_stem_follows_longest_upstream(tiny: RiverNetwork) -> None:
    assert as_dict(tiny.main_stem_id()) == {7: 5, 1: 5, 2: 2, 3: 5, 4: 4, 5: 5, 8: 8, 9: 9}


def test_main_stem_prefers_names() -> None:
    frame = tiny_frame()
    frame["name"] = ["甲河", "甲河", "乙河", "乙河", "乙河", "乙河", "丙河", "丁河"]
    net = RiverNetwork.from_downstream_ids(
        frame, id_column="rid", downstream_column="down", name_column="name"
    )
    assert list(net.upstream(5, mode="UM")["reach_id"]) == [5, 3, 2]


def test_upstream_tributaries_with_limit(tiny: RiverNetwork) -> None:
    result = tiny.upstream(5, mode="UT")
    assert dict(zip(result.reach_id, result.distance_km, strict=True)) == pytest.approx(
        {5: 0, 3: 1, 4: 1, 1: 2, 2: 2, 7: 3}
    )
    near = tiny.upstream(5, mode="UT", distance_km=1)
    assert sorted(near.reach_id) == [3, 4, 5]
    assert near.crs == tiny.crs


def test_upstream_main_stem(tiny: RiverNetwork) -> None:
    result = tiny.upstream(5, mode="UM")
    assert list(result.reach_id) == [5, 3, 1, 7]
    assert list(result.distance_km) == pytest.approx([0, 1, 2, 3])


def test_downstream_main(tiny: RiverNetwork) -> None:
    result = tiny.downstream(7, mode="DM")
    assert list(result.reach_id) == [7, 1, 3, 5]
    assert list(result.distance_km) == pytest.approx([0, 1, 2, 3])
    assert list(tiny.downstream(7, distance_km=2).reach_id) == [7, 1, 3]


def test_downstream_diversions_follow_secondary_links() -> None:
    frame = tiny_frame()
    frame["down2"] = [0, 0, 0, 0, 3, 0, 0, 0]  # reach 4 also feeds reach 3 (a diversion)
    net = RiverNetwork.from_downstream_ids(
        frame, id_column="rid", downstream_column="down", secondary_downstream_column="down2"
    )
    dd = net.downstream(4, mode="DD")
    assert dict(zip(dd.reach_id, dd.distance_km, strict=True)) == pytest.approx({4: 0, 3: 1, 5: 1})
    assert list(net.downstream(4, mode="DM").reach_id) == [4, 5]
    ut = net.upstream(3, mode="UT")
    assert dict(zip(ut.reach_id, ut.distance_km, strict=True)) == pytest.approx(
        {3: 0, 1: 1, 2: 1, 7: 2, 4: 1}
    )
    graph = net.to_networkx()
    assert graph.edges[4, 3]["secondary"] is True
    assert graph.edges[4, 5]["secondary"] is False


def test_path_down_and_up(tiny: RiverNetwork) -> None:
    down = tiny.path(7, 5)
    assert list(down.reach_id) == [7, 1, 3, 5]
    assert list(down.distance_km) == pytest.approx([0, 1, 2, 3])
    up = tiny.path(5, 7)
    assert list(up.reach_id) == [5, 3, 1, 7]


def test_path_between_branches_names_the_confluence(tiny: RiverNetwork) -> None:
    with pytest.raises(NotFoundError, match="meets at reach 3"):
        tiny.path(2, 7)
    with pytest.raises(NotFoundError, match="different river systems"):
        tiny.path(8, 5)


def test_unknown_reach_and_bad_mode(tiny: RiverNetwork) -> None:
    with pytest.raises(NotFoundError, match="12345"):
        tiny.upstream(12345)
    with pytest.raises(InputError, match="UT"):
        tiny.upstream(5, mode="XX")
    with pytest.raises(InputError, match="non-negative"):
        tiny.downstream(5, distance_km=-1)


def test_cycle_refuses_core_with_ids() -> None:
    frame = tiny_frame()
    frame.loc[frame.rid == 5, "down"] = 1  # 1 -> 3 -> 5 -> 1
    net = RiverNetwork.from_downstream_ids(frame, id_column="rid", downstream_column="down")
    with pytest.raises(TopologyError, match=r"cycle.*1, 3, 5|cycle.*5, 1, 3|cycle.*3, 5, 1"):
        net.upstream(5)


def test_substring_and_point_at(tiny: RiverNetwork) -> None:
    stretch = tiny.substring(4, 500, 1500)
    assert stretch.length == pytest.approx(1000)
    assert tuple(stretch.coords[0]) == pytest.approx((1500, 1000))
    assert tuple(tiny.point_at(4, 0).coords[0]) == pytest.approx((2000, 1000))
    with pytest.raises(InputError, match="upstream end"):
        tiny.substring(4, 0, 2500)


def test_networkx_face_carries_crs_and_attributes(tiny: RiverNetwork) -> None:
    graph = tiny.to_networkx()
    assert graph.graph["crs"] == tiny.crs
    assert set(graph.edges) == {(7, 1), (1, 3), (2, 3), (3, 5), (4, 5)}
    assert graph.nodes[4]["length_m"] == pytest.approx(2000)
    assert isinstance(graph.nodes[4]["geometry"], LineString)
    back = RiverNetwork.from_networkx(graph)
    assert as_dict(back.distance_to_outlet_km()) == as_dict(tiny.distance_to_outlet_km())


def test_core_arrays_are_consistent(tiny: RiverNetwork) -> None:
    core = tiny.core
    n = len(core)
    assert sorted(core.preorder.tolist()) == list(range(n))
    assert np.array_equal(core.preorder[core.pre], np.arange(n))
    rank = np.empty(n, dtype=int)
    rank[core.order] = np.arange(n)
    has_down = core.downstream >= 0
    assert np.all(rank[has_down] < rank[core.downstream[has_down]])
    assert sorted(core.post.tolist()) == list(range(n))
    assert tiny.core is core  # cached


def test_graph_face_agrees_on_tiny(tiny: RiverNetwork) -> None:
    graph = tiny.to_networkx()
    for node in graph:
        ut = set(tiny.upstream(node).reach_id)
        assert ut == nx.ancestors(graph, node) | {node}
        dm = set(tiny.downstream(node).reach_id)
        assert dm == nx.descendants(graph, node) | {node}


def reference_navigation(net: RiverNetwork, reach_id: int, distance_km: float | None) -> tuple:
    """UT as it was computed before the distance order: the preorder slice, lexsort, iloc."""
    core = net.core
    start = int(core.position(reach_id)[0])
    members = core.upstream_positions(start)
    dist = core.distance_to_outlet_m()[members] - core.distance_to_outlet_m()[start]
    if distance_km is not None:
        keep = dist <= distance_km * 1000.0 + 1e-9
        members, dist = members[keep], dist[keep]
    order = np.lexsort((members, dist))
    rows = net.reaches.iloc[members[order]]
    return rows.index.to_numpy(), dist[order] / 1000.0, rows.geometry.to_numpy()


@pytest.mark.parametrize("distance_km", [None, 40.0])
def test_upstream_tributaries_match_the_lexsort_reference(distance_km: float | None) -> None:
    from bench.synthetic import synthetic_network

    frame = synthetic_network(3_000, seed=3, with_geometry=True)
    net = RiverNetwork.from_downstream_ids(
        frame, id_column="reach_id", downstream_column="downstream_id"
    )
    core = net.core
    big_first = np.argsort(-core.size, kind="stable")
    starts = np.concatenate([big_first[:60], np.random.default_rng(0).choice(len(core), 60)])
    for start in core.ids[starts].tolist():
        result = net.upstream(start, mode="UT", distance_km=distance_km)
        ids, distance, geometry = reference_navigation(net, start, distance_km)
        assert np.array_equal(result["reach_id"].to_numpy(), ids)
        assert np.array_equal(result["distance_km"].to_numpy(), distance)
        assert all(a is b for a, b in zip(result.geometry.to_numpy(), geometry, strict=True))


def test_navigation_result_owns_its_columns(tiny: RiverNetwork) -> None:
    result = tiny.upstream(5, mode="UT")
    assert list(result.columns) == ["reach_id", "distance_km", "geometry"]
    assert result.geometry.name == "geometry"
    assert isinstance(result.index, pd.RangeIndex)
    assert result["reach_id"].dtype == tiny.reaches.index.dtype
    assert result["distance_km"].dtype == np.float64
    assert result.crs == tiny.crs
    before = tiny.reaches.geometry.copy()
    result.loc[0, "reach_id"] = -1
    result.loc[0, "distance_km"] = -1.0
    result.loc[1, "geometry"] = LineString([(0, 0), (1, 1)])
    again = tiny.upstream(5, mode="UT")
    assert again["reach_id"].tolist() == [5, 3, 4, 1, 2, 7]
    assert again["distance_km"].tolist() == pytest.approx([0, 1, 1, 2, 2, 3])
    assert tiny.reaches.geometry.geom_equals(before).all()
    assert 5 in tiny.reaches.index and -1 not in tiny.reaches.index


def test_upstream_follows_edits_of_the_reach_geometry(tiny: RiverNetwork) -> None:
    first = tiny.upstream(5, mode="UT")  # the whole tree: read from the kept distance order
    assert first.geometry.iloc[0].equals(tiny.reaches.geometry.loc[5])
    tiny.reaches.loc[5, "geometry"] = LineString([(0, 1000), (10, 0)])
    assert tiny.upstream(5, mode="UT").geometry.iloc[0].equals(LineString([(0, 1000), (10, 0)]))
    tiny.reaches = tiny.reaches.set_geometry(tiny.reaches.geometry.translate(1.0, 0.0))
    assert tiny.upstream(5, mode="UT").geometry.iloc[0].coords[0] == (1.0, 1000.0)


def test_upstream_without_kept_columns_is_the_same(
    tiny: RiverNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = tiny.upstream(5, mode="UT", distance_km=2)
    monkeypatch.setattr("rivernet.network._COPY_ON_WRITE", False)  # as under pandas < 3
    gathered = tiny.upstream(5, mode="UT", distance_km=2)
    assert gathered["reach_id"].tolist() == kept["reach_id"].tolist() == [5, 3, 4, 1, 2]
    assert gathered["distance_km"].tolist() == kept["distance_km"].tolist()
    assert gathered.geometry.geom_equals(kept.geometry).all()


def test_text_downstream_ids_match_integer_reach_ids(hydrorivers: gpd.GeoDataFrame) -> None:
    """Issue 10 item 5: ids stored as text are matched, never called dangling."""
    whole = RiverNetwork.from_downstream_ids(
        hydrorivers, id_column="reach_id", downstream_column="downstream_id"
    )
    text = hydrorivers.copy()
    text["downstream_id"] = text["downstream_id"].astype(str)
    matched = RiverNetwork.from_downstream_ids(
        text, id_column="reach_id", downstream_column="downstream_id"
    )
    outlet = 40636807
    assert len(matched.upstream(outlet, mode="UT")) == len(whole.upstream(outlet, mode="UT"))
    dangling = [f for f in matched.validate().findings if f.code == "dangling_downstream"]
    assert len(dangling[0].reach_ids) == 55
    assert matched.reaches["downstream_id"].iloc[0] == whole.reaches["downstream_id"].iloc[0]
    # integer downstream ids beside text reach ids are matched too
    flipped = hydrorivers.copy()
    flipped["reach_id"] = flipped["reach_id"].astype(str)
    net = RiverNetwork.from_downstream_ids(
        flipped, id_column="reach_id", downstream_column="downstream_id"
    )
    assert len(net.upstream(str(outlet), mode="UT")) == len(whole.upstream(outlet, mode="UT"))


def test_text_downstream_ids_that_are_not_numbers_are_refused(
    hydrorivers: gpd.GeoDataFrame,
) -> None:
    from rivernet.validation import validate_reaches

    bad = hydrorivers.copy()
    bad["downstream_id"] = bad["downstream_id"].astype(str)
    bad.loc[3, "downstream_id"] = "河口"
    with pytest.raises(TopologyError, match=r"column 'downstream_id'.*河口"):
        RiverNetwork.from_downstream_ids(
            bad, id_column="reach_id", downstream_column="downstream_id"
        )
    report = validate_reaches(bad, id_column="reach_id", downstream_column="downstream_id")
    assert not report.ok and report.errors[0].code == "id_types"
