"""The jurisdiction flow graph: admin units contracted, an edge where water flows between two.

Built on the handover sections of :mod:`rivernet.boundary`: each ordered pair of units with
water flowing between them is one row of :func:`jurisdiction_table` and one edge of
:func:`jurisdiction_graph`, with its crossings, rivers, upstream river length and shared
boundary rivers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import pandas as pd

from rivernet._chains import FloatArray, IntArray, river_ids, section_heads
from rivernet.boundary import CrossingArrays, boundary_rivers, crossing_arrays, crossing_ids
from rivernet.pieces import _code_array, _name_array, admin_units, piece_arrays

if TYPE_CHECKING:
    from rivernet.project import Project

__all__ = ["jurisdiction_graph", "jurisdiction_table"]


def jurisdiction_table(
    project: Project,
    *,
    level: str,
    include_lakes: bool = True,
    boundary_tolerance_m: float | None = 250.0,
    merge_within_m: float = 1000.0,
) -> pd.DataFrame:
    """Who drains into whom: one row per ordered pair of units with water flowing between them.

    Parameters
    ----------
    project
        The project.
    level
        ``"province"``, ``"city"`` or ``"county"``.
    include_lakes
        Count crossings on lake flow paths.
    boundary_tolerance_m
        Tolerance for the shared boundary-river length; None skips boundary rivers.
    merge_within_m
        Passes within this distance of each other are one handover section (see
        :func:`rivernet.crossings`); 0 counts every pass as a section.

    Returns
    -------
    pandas.DataFrame
        ``upstream_code``, ``upstream_name``, ``downstream_code``, ``downstream_name``,
        ``crossings`` (passes from the upstream into the downstream unit), ``sections``
        (handover sections whose first pass goes that way, as :func:`rivernet.crossings`
        lists them: a river that dips into the neighbour and comes back is one section of
        the pair it leaves from), ``lake_crossings`` and ``lake_sections`` (those on lake
        flow paths; a section when every pass is), ``rivers`` (distinct main-stem
        ids), ``river_ids``, ``crossing_ids`` (of the passes), ``upstream_length_km`` (river
        length draining through the sections, each stretch counted once) and
        ``boundary_river_km`` (boundary rivers shared by the pair).
    """
    arrays = crossing_arrays(project, level=level)
    sections = _section_counts(arrays, section_heads(project, level, merge_within_m))
    if not include_lakes:
        sections = sections[sections["lake_sections"] < sections["sections"]]
        sections["sections"] -= sections["lake_sections"]
        sections["lake_sections"] = 0
        arrays = arrays.subset(arrays.lake < 0)
    core = project.network.core
    upstream_len = core.upstream_length_m()[arrays.position] - (
        core.length_m[arrays.position] - arrays.measure
    )
    frame = pd.DataFrame(
        {
            "up": arrays.upstream,
            "down": arrays.downstream,
            "river": river_ids(project, arrays),
            "crossing": crossing_ids(project, arrays, level=level),
            "lake": arrays.lake >= 0,
            "row": np.arange(len(arrays)),
        }
    )
    group = frame.groupby(["up", "down"], sort=True)
    table = group.agg(
        crossings=("crossing", "size"),
        lake_crossings=("lake", "sum"),
        rivers=("river", "nunique"),
        river_ids=("river", lambda s: sorted(set(s.tolist()))),
        crossing_ids=("crossing", list),
        rows=("row", list),
    ).reset_index()
    table = table.merge(sections, on=["up", "down"], how="left")
    for column in ("sections", "lake_sections"):
        table[column] = table[column].fillna(0).astype(np.int64)
    table.insert(3, "sections", table.pop("sections"))
    table.insert(5, "lake_sections", table.pop("lake_sections"))
    table["upstream_length_km"] = [
        _union_upstream_m(core, arrays, upstream_len, np.asarray(rows, dtype=np.int64)) / 1000.0
        for rows in table.pop("rows")
    ]
    table["boundary_river_km"] = _shared_boundary_km(
        project, level, table["up"].to_numpy(), table["down"].to_numpy(), boundary_tolerance_m
    )
    units = admin_units(project)
    up, down = table["up"].to_numpy(np.int64), table["down"].to_numpy(np.int64)
    table.insert(0, "upstream_code", _code_array(units, up))
    table.insert(1, "upstream_name", _name_array(units, up))
    table.insert(2, "downstream_code", _code_array(units, down))
    table.insert(3, "downstream_name", _name_array(units, down))
    return table.drop(columns=["up", "down"])


def _section_counts(arrays: CrossingArrays, head: IntArray) -> pd.DataFrame:
    """Sections (and those wholly in lakes) per pair of units of their first pass."""
    in_lake = np.ones(len(arrays), dtype=bool)
    np.logical_and.at(in_lake, head, arrays.lake >= 0)  # every pass of the section in a lake
    first = np.flatnonzero(head == np.arange(len(arrays)))
    frame = pd.DataFrame(
        {
            "up": arrays.upstream[first],
            "down": arrays.downstream[first],
            "sections": 1,
            "lake_sections": in_lake[first].astype(np.int64),
        }
    )
    return frame.groupby(["up", "down"], as_index=False)[["sections", "lake_sections"]].sum()


def _union_upstream_m(
    core: Any, arrays: CrossingArrays, upstream_len: FloatArray, rows: IntArray
) -> float:
    """River length upstream of a set of crossings, each stretch counted once.

    A crossing upstream of another crossing of the set adds nothing: its water is already
    counted at the lower one.
    """
    rows = rows[np.argsort(arrays.to_outlet_m[rows], kind="stable")]  # most downstream first
    position, measure = arrays.position[rows], arrays.measure[rows]
    pre = core.pre[position]
    kept: list[int] = []
    total = 0.0
    for i in range(len(rows)):
        if kept:
            k = np.asarray(kept)
            inside = (pre[k] <= pre[i]) & (pre[i] < pre[k] + core.size[position[k]])
            inside &= (position[k] != position[i]) | (measure[i] < measure[k])
            if inside.any():
                continue
        kept.append(i)
        total += float(upstream_len[rows[i]])
    return total


def _shared_boundary_km(
    project: Project, level: str, up: IntArray, down: IntArray, tolerance_m: float | None
) -> FloatArray:
    if tolerance_m is None or len(up) == 0:
        return np.zeros(len(up))
    stretches = boundary_rivers(project, level=level, tolerance_m=tolerance_m)
    units = admin_units(project)
    shared: dict[frozenset[int], float] = {}
    for left, right, length in zip(
        stretches["left_code"], stretches["right_code"], stretches["length_m"], strict=True
    ):
        pair = frozenset((units.row_of[left], units.row_of[right]))
        shared[pair] = shared.get(pair, 0.0) + float(length) / 1000.0
    return np.array([shared.get(frozenset((a, b)), 0.0) for a, b in zip(up, down, strict=True)])


def jurisdiction_graph(
    project: Project,
    *,
    level: str,
    include_lakes: bool = True,
    boundary_tolerance_m: float | None = 250.0,
    merge_within_m: float = 1000.0,
) -> nx.DiGraph:
    """The jurisdiction flow graph: units contracted, edge A->B when water flows from A into B.

    Parameters
    ----------
    project
        The project.
    level
        ``"province"``, ``"city"`` or ``"county"``.
    include_lakes
        Count crossings on lake flow paths.
    boundary_tolerance_m
        Tolerance for the shared boundary-river length; None skips boundary rivers.
    merge_within_m
        Passes within this distance of each other are one handover section (see
        :func:`jurisdiction_table`).

    Returns
    -------
    networkx.DiGraph
        Nodes are unit codes (attributes ``name``, ``level``, ``river_km``: river length in the
        unit); edges carry the columns of :func:`jurisdiction_table`. ``G.graph`` holds
        ``level`` and ``crs``.
    """
    table = jurisdiction_table(
        project, level=level, include_lakes=include_lakes,
        boundary_tolerance_m=boundary_tolerance_m, merge_within_m=merge_within_m,
    )  # fmt: skip
    graph = nx.DiGraph(level=level, crs=project.network.crs)
    units = admin_units(project)
    pieces = piece_arrays(project)
    code = pieces.codes[level]
    length = np.bincount(
        code[code >= 0], weights=(pieces.to_m - pieces.from_m)[code >= 0],
        minlength=len(units.codes),
    )  # fmt: skip
    for row in units.by_level[level]:
        if length[row] > 0:
            graph.add_node(
                str(units.codes[row]),
                name=units.names[row],
                level=level,
                river_km=float(length[row]) / 1000.0,
            )
    attributes = [c for c in table.columns if c not in ("upstream_code", "downstream_code")]
    for record in table.to_dict("records"):
        data = {name: record[name] for name in attributes}
        graph.add_edge(record["upstream_code"], record["downstream_code"], **data)
    return graph
