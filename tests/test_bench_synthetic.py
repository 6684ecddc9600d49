"""Tests of the synthetic river networks and administrative units used by the benchmarks."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from bench.synthetic import synthetic_admin_polygons, synthetic_network
from rivernet.errors import InputError

BBOX = (100.0, 20.0, 120.0, 40.0)


def _graph(table: pd.DataFrame, *, secondary: bool = True) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(table["reach_id"])
    for column in ["downstream_id", "secondary_downstream_id"][: 1 + secondary]:
        linked = table[table[column] != 0]
        graph.add_edges_from(zip(linked["reach_id"], linked[column], strict=True))
    return graph


def _primary_path(table: pd.DataFrame, start: int) -> list[int]:
    downstream = dict(zip(table["reach_id"], table["downstream_id"], strict=True))
    path = []
    while downstream[start] != 0:
        start = downstream[start]
        path.append(start)
    return path


@pytest.fixture(scope="module")
def network() -> pd.DataFrame:
    return synthetic_network(5_000, seed=7, braid_fraction=0.01)


def test_columns_and_dtypes(network: pd.DataFrame) -> None:
    assert list(network.columns) == [
        "reach_id",
        "downstream_id",
        "length_km",
        "secondary_downstream_id",
    ]
    assert [str(t) for t in network.dtypes] == ["int64", "int64", "float64", "int64"]
    assert len(network) == 5_000
    assert (network["length_km"] > 0).all()


def test_ids_are_unique_and_not_positional(network: pd.DataFrame) -> None:
    ids = network["reach_id"].to_numpy()
    assert network["reach_id"].is_unique
    assert (ids > 0).all()
    assert not np.array_equal(np.sort(ids), np.arange(ids.min(), ids.min() + len(ids)))
    assert not np.array_equal(ids, np.sort(ids))  # rows are shuffled


def test_downstream_ids_exist_or_mark_outlets(network: pd.DataFrame) -> None:
    ids = set(network["reach_id"])
    for column in ("downstream_id", "secondary_downstream_id"):
        linked = network.loc[network[column] != 0, column]
        assert set(linked) <= ids
    assert (network["downstream_id"] == 0).sum() == 50  # default: one outlet per 100 reaches


def test_graph_is_acyclic_with_braids(network: pd.DataFrame) -> None:
    assert nx.is_directed_acyclic_graph(_graph(network))
    assert (network["secondary_downstream_id"] != 0).sum() == 50


def test_braids_rejoin_their_own_path_further_down(network: pd.DataFrame) -> None:
    braided = network[network["secondary_downstream_id"] != 0]
    for reach, primary, secondary in braided[
        ["reach_id", "downstream_id", "secondary_downstream_id"]
    ].itertuples(index=False):
        assert secondary != primary
        assert secondary in _primary_path(network, reach)[1:4]


def test_branching_is_binary_with_a_few_large_basins(network: pd.DataFrame) -> None:
    inflows = network.loc[network["downstream_id"] != 0, "downstream_id"].value_counts()
    assert inflows.max() == 2
    assert (inflows == 1).sum() <= 50  # at most one single-inflow reach per basin (parity)
    tree = _graph(network, secondary=False)
    basins = sorted((len(c) for c in nx.weakly_connected_components(tree)), reverse=True)
    assert basins[0] > 0.3 * len(network)  # Zipf: the largest basin holds about 38 %
    assert basins[-1] < basins[0] / 100  # ... and many small coastal basins
    assert nx.dag_longest_path_length(tree) > np.sqrt(basins[0])  # random trees: ~ sqrt(n) deep


def test_the_seed_decides_everything() -> None:
    first = synthetic_network(2_000, seed=3)
    pd.testing.assert_frame_equal(first, synthetic_network(2_000, seed=3))
    assert not first.equals(synthetic_network(2_000, seed=4))


def test_explicit_outlet_count() -> None:
    table = synthetic_network(300, n_outlets=300, seed=1)
    assert (table["downstream_id"] == 0).all()
    assert (synthetic_network(300, n_outlets=1, seed=1)["downstream_id"] == 0).sum() == 1


@settings(max_examples=30, deadline=None)
@given(
    n_reaches=st.integers(1, 400),
    seed=st.integers(0, 2**32),
    outlet_share=st.floats(0.0, 1.0),
    braid_fraction=st.floats(0.0, 0.2),
)
def test_any_size_gives_a_forest_with_the_requested_outlets(
    n_reaches: int, seed: int, outlet_share: float, braid_fraction: float
) -> None:
    n_outlets = max(1, round(outlet_share * n_reaches))
    table = synthetic_network(
        n_reaches, seed=seed, n_outlets=n_outlets, braid_fraction=braid_fraction
    )
    assert len(table) == n_reaches
    assert table["reach_id"].is_unique
    assert (table["downstream_id"] == 0).sum() == n_outlets
    assert nx.is_directed_acyclic_graph(_graph(table))
    tree = _graph(table, secondary=False)
    assert nx.number_weakly_connected_components(tree) == n_outlets


def test_geometry_is_digitised_in_flow_direction_with_shared_endpoints() -> None:
    lines = synthetic_network(3_000, seed=5, with_geometry=True)
    assert lines.crs is not None and lines.crs.to_epsg() == 4326
    assert shapely.is_valid(lines.geometry.values).all()
    by_id = lines.set_index("reach_id")
    linked = lines[lines["downstream_id"] != 0]
    last = shapely.get_coordinates(shapely.get_point(linked.geometry.values, -1))
    below = by_id.loc[linked["downstream_id"], "geometry"].values
    first = shapely.get_coordinates(shapely.get_point(below, 0))
    np.testing.assert_array_equal(last, first)
    west, south, east, north = lines.total_bounds
    assert BBOX[0] <= west and BBOX[1] <= south and east <= BBOX[2] and north <= BBOX[3]


def test_geometry_length_is_geodesic() -> None:
    lines = synthetic_network(200, seed=2, with_geometry=True)
    geod = Geod(ellps="WGS84")
    expected = [geod.geometry_length(line) / 1000 for line in lines.geometry]
    np.testing.assert_allclose(lines["length_km"], expected, rtol=1e-9)


def test_geometry_keeps_the_topology_of_the_plain_table() -> None:
    plain = synthetic_network(1_000, seed=9)
    lines = synthetic_network(1_000, seed=9, with_geometry=True)
    columns = ["reach_id", "downstream_id", "secondary_downstream_id"]
    pd.testing.assert_frame_equal(plain[columns], pd.DataFrame(lines[columns]))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"n_reaches": 0}, "n_reaches"),
        ({"n_reaches": 10, "n_outlets": 11}, "n_outlets"),
        ({"n_reaches": 10, "braid_fraction": 1.5}, "braid_fraction"),
        ({"n_reaches": 10, "bbox": (120, 20, 100, 40)}, "bbox"),
    ],
)
def test_bad_network_arguments(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        synthetic_network(**arguments)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def admin() -> pd.DataFrame:
    return synthetic_admin_polygons(6, 300, bbox=BBOX, seed=11)


def test_admin_levels_codes_and_parents(admin: pd.DataFrame) -> None:
    counts = admin["level"].value_counts()
    assert counts["province"] == 6 and counts["county"] == 300
    assert 6 <= counts["city"] <= 60
    assert admin["code"].is_unique
    assert admin["code"].str.fullmatch(r"\d{6}").all()
    provinces = admin[admin["level"] == "province"]
    assert provinces["code"].str.endswith("0000").all()
    assert provinces["parent_code"].isna().all()
    assert admin.crs is not None and admin.crs.to_epsg() == 4326
    for level, parent_digits in (("city", 2), ("county", 4)):
        units = admin[admin["level"] == level]
        parents = units["code"].str[:parent_digits].str.ljust(6, "0")
        assert (units["parent_code"] == parents).all()
        assert set(units["parent_code"]) <= set(admin["code"])


@pytest.mark.parametrize("level", ["province", "city", "county"])
def test_each_level_covers_the_bbox_without_overlaps(admin: pd.DataFrame, level: str) -> None:
    shapes = admin.loc[admin["level"] == level, "geometry"].values
    assert shapely.is_valid(shapes).all()
    assert shapely.coverage_is_valid(shapes)
    assert shapely.area(shapes).sum() == pytest.approx(shapely.area(shapely.box(*BBOX)))
    tree = shapely.STRtree(shapes)
    left, right = tree.query(shapes, predicate="intersects")
    pairs = left < right
    overlap = shapely.area(shapely.intersection(shapes[left[pairs]], shapes[right[pairs]]))
    assert overlap.max(initial=0.0) < 1e-9


def test_cities_are_the_union_of_their_counties(admin: pd.DataFrame) -> None:
    counties = admin[admin["level"] == "county"]
    for city in admin[admin["level"] == "city"].itertuples():
        members = counties.loc[counties["parent_code"] == city.code, "geometry"].values
        union = shapely.union_all(members)
        assert shapely.area(shapely.symmetric_difference(union, city.geometry)) < 1e-9


def test_admin_units_are_deterministic() -> None:
    first = synthetic_admin_polygons(3, 60, bbox=BBOX, seed=1)
    second = synthetic_admin_polygons(3, 60, bbox=BBOX, seed=1)
    pd.testing.assert_frame_equal(first.drop(columns="geometry"), second.drop(columns="geometry"))
    assert shapely.equals_exact(first.geometry.values, second.geometry.values).all()


def test_bad_admin_arguments() -> None:
    with pytest.raises(InputError, match="n_provinces"):
        synthetic_admin_polygons(10, 5, bbox=BBOX)
