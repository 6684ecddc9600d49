"""Batch overlays beyond one machine: the network split into basins, each cut on its own.

Water never crosses from one basin (the reaches draining to one outlet) to another, and a
responsibility piece is one reach cut at admin boundaries, so the pieces of a network are the
pieces of its basins put together. :func:`basin_partitions` groups whole basins into balanced
partitions; :func:`partitioned_pieces` cuts each partition as its own project with
`dask-geopandas <https://dask-geopandas.readthedocs.io>`_ (the ``rivernet[scale]`` extra), on
threads or processes here or on any dask cluster, and gives the same table as
:func:`rivernet.boundary.responsibility_pieces` on the whole project.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from rivernet.errors import InputError
from rivernet.messages import Message

if TYPE_CHECKING:
    import geopandas as gpd

    from rivernet.project import Project

__all__ = ["basin_partitions", "partitioned_pieces"]

PARTITION = "partition"
"""Column of the partition number in :func:`basin_partitions`."""


def basin_partitions(project: Project, *, partitions: int) -> pd.Series:
    """Each reach's partition: whole basins, balanced by number of reaches.

    Basins are taken largest first and each goes to the partition with the fewest reaches so
    far (the longest-processing-time rule), so no basin is split and partitions differ by at
    most the size of one basin.

    Parameters
    ----------
    project
        The project.
    partitions
        Number of partitions (at least 1).

    Returns
    -------
    pandas.Series
        Partition number (0 .. ``partitions - 1``) indexed by reach id, named ``partition``.

    Raises
    ------
    InputError
        If ``partitions`` is below 1.
    """
    if partitions < 1:
        raise InputError.from_key("err_partition.too_few", partitions=partitions)
    outlet = project.network.outlet_id()
    basins, basin_of, sizes = np.unique(outlet.to_numpy(), return_inverse=True, return_counts=True)
    load = np.zeros(partitions, dtype=np.int64)
    assigned = np.empty(basins.size, dtype=np.int64)
    for basin in np.argsort(-sizes, kind="stable"):
        target = int(np.argmin(load))
        assigned[basin] = target
        load[target] += sizes[basin]
    return pd.Series(assigned[basin_of], index=outlet.index, name=PARTITION)


def partitioned_pieces(
    project: Project, *, partitions: int = 4, scheduler: str = "threads"
) -> gpd.GeoDataFrame:
    """Responsibility pieces computed per basin partition with dask-geopandas.

    Parameters
    ----------
    project
        The project.
    partitions
        Number of partitions (:func:`basin_partitions`).
    scheduler
        Dask scheduler: ``"threads"``, ``"processes"``, ``"synchronous"``, or a cluster's
        (with ``dask.distributed`` active, its client is used).

    Returns
    -------
    geopandas.GeoDataFrame
        The table of :func:`rivernet.boundary.responsibility_pieces`, in its order (by reach
        position in the network, then measure).

    Raises
    ------
    ModuleNotFoundError
        If dask-geopandas is not installed (``pip install 'rivernet[scale]'``).
    """
    try:
        import dask
        import dask_geopandas
    except ModuleNotFoundError as error:
        needs = Message("err_partition.needs_extra", package=repr(error.name))
        raise ModuleNotFoundError(needs, name=error.name) from None
    import geopandas as gpd

    reaches = project.network.reaches
    frame = reaches.assign(**{PARTITION: basin_partitions(project, partitions=partitions)})
    frame = frame.rename_axis("reach_id").reset_index().set_index(PARTITION).sort_index()
    table = dask_geopandas.from_geopandas(frame, npartitions=partitions, sort=True)
    tasks = [dask.delayed(_pieces_of)(part, project) for part in table.to_delayed()]
    parts = [part for part in dask.compute(*tasks, scheduler=scheduler) if len(part)]
    if not parts:
        from rivernet.boundary import responsibility_pieces

        return responsibility_pieces(project)
    pieces = pd.concat(parts, ignore_index=True)
    position = project.network.core.position(pieces["reach_id"].to_numpy())
    order = np.lexsort((pieces["from_m"].to_numpy(), position))  # the single run's order
    return gpd.GeoDataFrame(pieces.iloc[order].reset_index(drop=True), crs=parts[0].crs)


def _pieces_of(part: gpd.GeoDataFrame, project: Project) -> Any:
    """The pieces of one partition, cut as a project of its own."""
    from rivernet.boundary import responsibility_pieces
    from rivernet.network import ID, RiverNetwork
    from rivernet.project import Project

    network = project.network
    reaches = part.set_index("reach_id").rename_axis(ID)
    links = network.secondary[network.secondary[ID].isin(reaches.index)]
    sub = RiverNetwork(reaches, outlet_values=network.outlet_values, secondary=links,
                       name_column=network.name_column)  # fmt: skip
    piece = Project(network=sub, admin_units=project.admin_units, lakes=project.lakes,
                    path=project.path, meta=dict(project.meta))  # fmt: skip
    return responsibility_pieces(piece)
