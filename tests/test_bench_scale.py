"""The basin partitions and the partitioned pieces (rivernet.partition, bench.scale).

A moderate synthetic network (20,000 reaches, 200 counties in 10 provinces) is cut once on one
machine and once per basin partition with dask-geopandas; the two must be the same pieces.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import shapely

from bench.scale import NATIONAL_BBOX, same_pieces
from bench.synthetic import synthetic_admin_polygons, synthetic_network
from rivernet.boundary import responsibility_pieces
from rivernet.errors import InputError
from rivernet.network import RiverNetwork
from rivernet.partition import basin_partitions, partitioned_pieces
from rivernet.project import Project

pytest.importorskip("dask_geopandas", reason="dask-geopandas (rivernet[scale]) not installed")

BBOX = (110.0, 25.0, 118.0, 32.0)


@pytest.fixture(scope="module")
def project() -> Project:
    lines = synthetic_network(20_000, seed=3, with_geometry=True, bbox=BBOX)
    units = synthetic_admin_polygons(10, 200, bbox=BBOX, seed=3)
    network = RiverNetwork.from_downstream_ids(
        lines, id_column="reach_id", downstream_column="downstream_id"
    )
    lakes = units.iloc[:0][["geometry"]].assign(lake_id=[])
    return Project(network=network, admin_units=units, lakes=lakes, path=Path("scale.gpkg"))


def test_partitions_keep_basins_whole_and_balanced(project: Project) -> None:
    partition = basin_partitions(project, partitions=4)
    outlet = project.network.outlet_id()
    assert (partition.groupby(outlet).nunique() == 1).all()  # no basin is split
    counts = partition.value_counts()
    assert sorted(counts.index) == [0, 1, 2, 3]
    largest_basin = int(outlet.value_counts().max())
    assert counts.max() - counts.min() <= largest_basin
    with pytest.raises(InputError, match="at least 1"):
        basin_partitions(project, partitions=0)


@pytest.mark.parametrize("scheduler", ["threads", "synchronous"])
def test_partitioned_pieces_are_the_single_run(project: Project, scheduler: str) -> None:
    single = responsibility_pieces(project)
    parts = partitioned_pieces(project, partitions=4, scheduler=scheduler)
    assert list(parts.columns) == list(single.columns)
    assert parts.crs == single.crs
    agree = same_pieces(single, parts)
    assert agree["same"], agree
    assert len(single) > len(project.network)  # the boundaries did cut reaches


def test_same_pieces_sees_a_moved_cut(project: Project) -> None:
    single = responsibility_pieces(project)
    moved = single.copy()
    moved.loc[moved.index[5], "to_m"] += 0.001
    assert not same_pieces(single, moved)["same"]
    bent = single.copy()
    bent.loc[bent.index[7], "geometry"] = shapely.affinity.translate(bent.geometry.iloc[7], 1e-6)
    assert same_pieces(single, bent)["geometry_mismatches"] == 1


def test_national_bbox_is_the_issues() -> None:
    assert NATIONAL_BBOX == (73.5, 18.0, 134.8, 53.5)
