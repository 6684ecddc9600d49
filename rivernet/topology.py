"""Topology from bare lines: joining reaches at shared endpoints and orienting them.

Survey and OSM river lines carry no downstream ids. Endpoints closer than a tolerance (metres)
become one node; a line drains into the lines that start where it ends. Digitising direction is
trusted where it is consistent; where a DEM is given, elevation decides the direction instead,
and every line it reverses is reported. Lines that meet head-on, or leave a node in two
directions, are reported as conflicts.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS

from rivernet import messages
from rivernet.crs import metric_crs_for, require_crs
from rivernet.errors import InputError
from rivernet.geometry import reproject
from rivernet.messages import Message
from rivernet.validation import Finding, ValidationReport

ID = "reach_id"
DOWN = "downstream_id"


def downstream_from_lines(
    gdf: gpd.GeoDataFrame,
    *,
    id_column: str | None,
    snap_tolerance_m: float,
    dem: str | Path | None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, ValidationReport]:
    """Infer downstream ids for bare lines.

    Parameters
    ----------
    gdf
        LineStrings with a CRS.
    id_column
        Column of unique ids, or None to number the lines ``1..n``.
    snap_tolerance_m
        Endpoints closer than this are joined.
    dem
        Optional elevation raster path; elevation then decides flow direction.

    Returns
    -------
    tuple
        The table (with ``reach_id`` and ``downstream_id``, 0 = outlet, lines reversed where
        needed), the secondary links (braids, diversions) and a report of what was inferred.
    """
    crs = require_crs(gdf, what="the lines")
    if snap_tolerance_m < 0:
        raise InputError.from_key("err_topology.bad_tolerance", value=snap_tolerance_m)
    table = _single_lines(gdf)
    table[ID] = table[id_column] if id_column is not None else np.arange(1, len(table) + 1)
    findings: list[Finding] = []
    if dem is not None:
        flipped, dem_findings = _orient_by_dem(table, crs, Path(dem))
        findings += dem_findings
        geoms = table.geometry.to_numpy().copy()
        geoms[flipped] = shapely.reverse(geoms[flipped])
        table = table.set_geometry(geoms)
    start, end = _endpoint_nodes(table.geometry.to_numpy(), crs, snap_tolerance_m)
    downstream, links, link_findings = _links(table[ID].to_numpy(), start, end)
    table[DOWN] = downstream
    return table, links, ValidationReport(findings + link_findings)


def _single_lines(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The layer with multi-part lines merged; non-lines rejected with their row numbers."""
    geoms = gdf.geometry.to_numpy()
    types = np.asarray(shapely.get_type_id(geoms))
    bad = np.flatnonzero(~np.isin(types, [1, 5]) | shapely.is_empty(geoms))
    if bad.size:
        raise InputError.from_key("err_topology.not_lines", rows=messages.items(bad + 1))
    merged = geoms.copy()
    multi = types == 5
    merged[multi] = shapely.line_merge(geoms[multi])
    still = np.flatnonzero(np.asarray(shapely.get_type_id(merged)) != 1)
    if still.size:
        raise InputError.from_key("err_topology.parts_apart", rows=messages.items(still + 1))
    return gdf.set_geometry(merged).reset_index(drop=True)


def _endpoint_nodes(
    geoms: npt.NDArray[Any], crs: CRS, tolerance_m: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Node numbers of each line's start and end, joining endpoints within the tolerance."""
    n = len(geoms)
    ends = np.concatenate([shapely.get_point(geoms, 0), shapely.get_point(geoms, -1)])
    metric = metric_crs_for(gpd.GeoSeries(ends, crs=crs))
    points = reproject(ends, crs, metric)
    tree = shapely.STRtree(points)
    left, right = tree.query(points, predicate="dwithin", distance=max(tolerance_m, 1e-9))
    graph = nx.Graph()
    graph.add_nodes_from(range(2 * n))
    graph.add_edges_from(zip(left.tolist(), right.tolist(), strict=True))
    node = np.empty(2 * n, dtype=np.int64)
    for number, members in enumerate(nx.connected_components(graph)):
        node[list(members)] = number
    return node[:n], node[n:]


def _links(
    ids: npt.NDArray[Any], start: npt.NDArray[np.int64], end: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[Any], pd.DataFrame, list[Finding]]:
    """Primary downstream ids, secondary links and direction conflicts."""
    starts_at = pd.Series(np.arange(len(ids))).groupby(start).apply(list).to_dict()
    downstream = np.zeros(len(ids), dtype=ids.dtype)
    extra: list[tuple[Any, Any]] = []
    for i, node in enumerate(end.tolist()):
        following = [j for j in starts_at.get(node, []) if j != i]
        if following:
            downstream[i] = ids[following[0]]
            extra += [(ids[i], ids[j]) for j in following[1:]]
    findings = _conflicts(ids, start, end)
    if extra:
        pairs = messages.items(f"{a}->{b}" for a, b in extra)
        findings.append(
            Finding.from_key("bifurcation", "problem_topology.bifurcation", severity="info",
                             reach_ids=(a for a, _ in extra), count=len(extra), pairs=pairs)
        )  # fmt: skip
    return downstream, pd.DataFrame(extra, columns=[ID, DOWN]), findings


def _conflicts(
    ids: npt.NDArray[Any], start: npt.NDArray[np.int64], end: npt.NDArray[np.int64]
) -> list[Finding]:
    """Nodes where lines meet head-on (two ends, no start) or part tail-to-tail."""
    ends = np.bincount(end, minlength=max(start.max(), end.max()) + 1)
    starts = np.bincount(start, minlength=len(ends))
    groups = (
        (end, (ends >= 2) & (starts == 0), "problem_topology.same_end"),
        (start, (starts >= 2) & (ends == 0), "problem_topology.same_start"),
    )
    found: list[Finding] = []
    for node_of, suspicious, key in groups:
        lines = ids[np.isin(node_of, np.flatnonzero(suspicious))]
        if lines.size:
            found.append(Finding.from_key("direction_conflict", key, severity="warning",
                                          reach_ids=lines, ids=messages.items(lines)))  # fmt: skip
    return found + _extra_outlets(ids, start, end, starts)


def _extra_outlets(
    ids: npt.NDArray[Any],
    start: npt.NDArray[np.int64],
    end: npt.NDArray[np.int64],
    starts: npt.NDArray[np.int64],
) -> list[Finding]:
    """Connected systems with more than one outlet: usually a line drawn against the flow."""
    graph = nx.Graph()
    graph.add_edges_from(zip(start.tolist(), end.tolist(), strict=True))
    component = {n: k for k, nodes in enumerate(nx.connected_components(graph)) for n in nodes}
    outlet_lines = np.flatnonzero(starts[end] == 0)
    by_component: dict[int, list[int]] = {}
    for line in outlet_lines.tolist():
        by_component.setdefault(component[int(end[line])], []).append(line)
    suspects = [lines for lines in by_component.values() if len(lines) > 1]
    if not suspects:
        return []
    flagged = ids[np.concatenate(suspects)]
    groups = _joined(
        [
            Message("problem_topology.group", ids=messages.items(ids[lines]))
            for lines in suspects[:5]
        ]
    )
    return [
        Finding.from_key("direction_conflict", "problem_topology.outlets", severity="warning",
                         reach_ids=flagged, count=len(suspects), groups=groups)
    ]  # fmt: skip


def _joined(parts: list[Message]) -> Message:
    """Messages joined by semicolons (；/ ``"; "``), each in the language of the whole."""
    return functools.reduce(
        lambda first, rest: Message("problem_topology.joined", first=first, rest=rest), parts
    )


def _orient_by_dem(
    table: gpd.GeoDataFrame, crs: CRS, dem: Path
) -> tuple[npt.NDArray[np.bool_], list[Finding]]:
    """Lines whose start is lower than their end (to be reversed), with findings."""
    import rasterio

    if not dem.exists():
        raise InputError.from_key("err_topology.no_dem", dem=str(dem))
    geoms = table.geometry.to_numpy()
    with rasterio.open(dem) as src:
        if src.crs is None:
            raise InputError.from_key("err_topology.dem_no_crs", dem=str(dem))
        dem_crs = CRS(src.crs.to_wkt())
        first = reproject(shapely.get_point(geoms, 0), crs, dem_crs)
        last = reproject(shapely.get_point(geoms, -1), crs, dem_crs)
        z_first = _sample(src, shapely.get_coordinates(first))
        z_last = _sample(src, shapely.get_coordinates(last))
    ids = table[ID].to_numpy()
    flipped = z_first < z_last
    findings: list[Finding] = []
    if flipped.any():
        findings.append(
            Finding.from_key("reversed_by_dem", "problem_topology.reversed_by_dem",
                             severity="warning", reach_ids=ids[flipped],
                             count=int(flipped.sum()), ids=messages.items(ids[flipped]))
        )  # fmt: skip
    unknown = np.isnan(z_first) | np.isnan(z_last)
    if unknown.any():
        findings.append(
            Finding.from_key("dem_no_data", "problem_topology.dem_no_data", severity="warning",
                             reach_ids=ids[unknown], count=int(unknown.sum()),
                             ids=messages.items(ids[unknown]))
        )  # fmt: skip
    return flipped & ~unknown, findings


def _sample(src: Any, coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Elevation at each coordinate (NaN outside the raster or on no-data cells)."""
    inverse = ~src.transform
    cols = np.floor(inverse.a * coords[:, 0] + inverse.b * coords[:, 1] + inverse.c).astype(int)
    rows = np.floor(inverse.d * coords[:, 0] + inverse.e * coords[:, 1] + inverse.f).astype(int)
    inside = (rows >= 0) & (rows < src.height) & (cols >= 0) & (cols < src.width)
    out = np.full(len(coords), np.nan)
    if src.width * src.height <= 100_000_000:
        band = src.read(1, masked=True)
        values = band[rows[inside], cols[inside]]
    else:  # a large DEM: read one cell per point
        from rasterio.windows import Window

        cells = zip(rows[inside].tolist(), cols[inside].tolist(), strict=True)
        values = np.ma.concatenate(
            [src.read(1, window=Window(c, r, 1, 1), masked=True).ravel() for r, c in cells]
        )
    out[inside] = np.ma.filled(np.ma.asarray(values, dtype=np.float64), np.nan)
    return out
