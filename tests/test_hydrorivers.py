"""The sample network agrees with HydroRIVERS' own fields (DIST_DN_KM, ORD_STRA)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd

from rivernet import RiverNetwork
from rivernet._core import _accumulate


def complete_upstream(net: RiverNetwork, table: pd.DataFrame) -> np.ndarray:
    """Reaches whose whole upstream tree is inside the extract.

    HydroRIVERS gives each reach its own catchment (CATCH_SKM) and the area draining to it
    (UPLAND_SKM). When the catchments of the reach and everything upstream of it in the extract
    add up to UPLAND_SKM (1 % or 0.5 km²), nothing upstream was clipped away.
    """
    core = net.core
    accumulated = _accumulate(core.downstream, core.order, table["CATCH_SKM"].to_numpy())
    upland = table["UPLAND_SKM"].to_numpy()
    return np.abs(accumulated - upland) <= 0.01 * upland + 0.5


def test_sample_is_valid_with_clip_warnings(sample_network: RiverNetwork) -> None:
    report = sample_network.validate()
    assert report.ok
    codes = {f.code: f for f in report.findings}
    assert len(codes["dangling_downstream"].reach_ids) == 55
    assert len(codes["disconnected_parts"].reach_ids) == 79
    assert "cycle" not in codes and "reversed_digitising" not in codes


def test_distance_to_outlet_matches_dist_dn_km(sample_network: RiverNetwork) -> None:
    table = sample_network.reaches
    ours = sample_network.distance_to_outlet_km()
    outlet = sample_network.outlet_id()
    # DIST_DN_KM runs to the sea; ours to the outlet inside the extract: compare the difference.
    reference = table["DIST_DN_KM"] - table.loc[outlet.to_numpy(), "DIST_DN_KM"].to_numpy()
    error = (ours - reference).abs()
    assert (error <= np.maximum(1.0, 0.01 * reference)).all(), error.max()


def test_strahler_matches_ord_stra_where_complete(sample_network: RiverNetwork) -> None:
    table = sample_network.reaches
    complete = complete_upstream(sample_network, table)
    assert complete.sum() > 1800  # most of the extract
    ours = sample_network.strahler_order().to_numpy()
    assert np.array_equal(ours[complete], table["ORD_STRA"].to_numpy()[complete])


def test_both_faces_agree_on_the_sample(sample_network: RiverNetwork) -> None:
    graph = sample_network.to_networkx()
    assert graph.graph["crs"] == sample_network.crs
    assert graph.number_of_nodes() == 2082
    big = sample_network.upstream_length_km().idxmax()
    assert set(sample_network.upstream(big).reach_id) == nx.ancestors(graph, big) | {big}
    lengths = {n: d["length_m"] for n, d in graph.nodes(data=True)}
    dist = sample_network.distance_to_outlet_km()
    for node in list(graph)[::50]:
        path = list(nx.dfs_preorder_nodes(graph, node))  # a forest: one path down
        assert abs(dist[node] * 1000 - sum(lengths[p] for p in path[1:])) < 1e-6
    ut = sample_network.upstream(big, distance_km=50)
    assert ut.distance_km.max() <= 50
    assert set(ut.reach_id) <= nx.ancestors(graph, big) | {big}
