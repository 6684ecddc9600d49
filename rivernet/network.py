"""The river network: reach lines with their downstream links, and the questions asked of them.

A :class:`RiverNetwork` has two faces. Users see GeoDataFrames (``net.reaches`` and every
result) and, on demand, a ``networkx.DiGraph`` (edge u->v: u drains into v). Bulk work runs on
the array core (:class:`rivernet._core.FlowCore`), built once on first use and cached.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from rivernet import geometry, messages, navigate
from rivernet._core import FlowCore, ids_like
from rivernet.crs import require_crs
from rivernet.errors import InputError, TopologyError, format_ids
from rivernet.validation import ValidationReport, validate_reaches

if TYPE_CHECKING:
    from rivernet.snap import SnapIndex

logger = logging.getLogger(__name__)

ID = "reach_id"
DOWN = "downstream_id"


class RiverNetwork:
    """A directed river network of reaches.

    Build it with :meth:`from_downstream_ids`, :meth:`from_lines` or :meth:`from_networkx`.

    Parameters
    ----------
    reaches
        Reach table indexed by reach id, with ``downstream_id``, ``length_m`` and geometry.
    outlet_values
        Values of ``downstream_id`` that mark an outlet.
    secondary
        Extra downstream links (braids, diversions) as a DataFrame with columns
        ``reach_id`` and ``downstream_id``.
    name_column
        Optional river-name column used to follow main stems.
    """

    def __init__(
        self,
        reaches: gpd.GeoDataFrame,
        *,
        outlet_values: Iterable[Any] = (0,),
        secondary: pd.DataFrame | None = None,
        name_column: str | None = None,
    ) -> None:
        self.reaches = reaches
        self.outlet_values = tuple(outlet_values)
        self.secondary = secondary if secondary is not None else _empty_links()
        self.name_column = name_column

    @classmethod
    def from_downstream_ids(
        cls,
        gdf: gpd.GeoDataFrame,
        *,
        id_column: str,
        downstream_column: str,
        outlet_values: Iterable[Any] = (0,),
        secondary_downstream_column: str | None = None,
        name_column: str | None = None,
    ) -> RiverNetwork:
        """Build a network from reach lines that name their downstream reach.

        Parameters
        ----------
        gdf
            Reach lines (HydroRIVERS, NHDPlus-like tables) with a CRS.
        id_column
            Column of unique reach ids.
        downstream_column
            Column of the downstream reach id (HydroRIVERS ``NEXT_DOWN``).
        outlet_values
            Downstream values meaning "outlet" (missing values always do).
        secondary_downstream_column
            Optional column of a second downstream id, for braids and diversions.
        name_column
            Optional river-name column; upstream main-stem navigation prefers the same name.

        Returns
        -------
        RiverNetwork
            The network. Problems in the table are reported by :meth:`validate`; duplicate ids
            and cycles make the array core refuse to build.

        Raises
        ------
        CRSError
            If the layer has no CRS.
        InputError
            If a named column does not exist.
        """
        crs = require_crs(gdf, what="the reach lines")
        columns = [id_column, downstream_column, secondary_downstream_column, name_column]
        _require_columns(gdf, [c for c in columns if c is not None])
        table = gdf.copy()
        if downstream_column != DOWN:
            table[DOWN] = table[downstream_column]
        table["length_m"] = geometry.line_lengths_m(table.geometry.to_numpy(), crs)
        table.index = pd.Index(table[id_column].to_numpy(), name=ID)
        if id_column == ID:
            table = table.drop(columns=ID)
        try:  # text downstream ids are matched to integer ids (and the other way round)
            table[DOWN] = ids_like(table[DOWN], table.index).to_numpy()
        except TopologyError as error:
            raise TopologyError.from_key(
                "err_network.downstream_column", column=repr(downstream_column), error=error.args[0]
            ) from None
        secondary = None
        if secondary_downstream_column is not None:
            secondary = _links_from_column(table, secondary_downstream_column, outlet_values)
        return cls(table, outlet_values=outlet_values, secondary=secondary, name_column=name_column)

    @classmethod
    def from_lines(
        cls,
        gdf: gpd.GeoDataFrame,
        *,
        id_column: str | None = None,
        snap_tolerance_m: float = 1.0,
        dem: str | Path | None = None,
    ) -> RiverNetwork:
        """Build a network from bare lines, joining lines whose endpoints meet.

        Parameters
        ----------
        gdf
            Lines with a CRS, digitised in flow direction where no DEM is given.
        id_column
            Column of unique ids; without one, ids ``1..n`` are assigned in row order.
        snap_tolerance_m
            Endpoints closer than this (metres) are the same node.
        dem
            Optional elevation raster; where given, water flows from the higher end to the
            lower end and lines drawn the other way are reversed (and reported).

        Returns
        -------
        RiverNetwork
            The network; ``net.topology_report`` lists what was inferred or corrected.
        """
        from rivernet.topology import downstream_from_lines

        table, links, report = downstream_from_lines(
            gdf, id_column=id_column, snap_tolerance_m=snap_tolerance_m, dem=dem
        )
        net = cls.from_downstream_ids(table, id_column=ID, downstream_column=DOWN)
        net.secondary = links
        net.topology_report = report
        return net

    @classmethod
    def from_networkx(cls, graph: nx.DiGraph) -> RiverNetwork:
        """Build a network from a graph made by :meth:`to_networkx` (or shaped like one).

        Parameters
        ----------
        graph
            Nodes are reach ids with a ``geometry`` attribute; edge u->v means u drains into v;
            edges with ``secondary=True`` are braids or diversions. ``graph.graph["crs"]``
            holds the CRS.

        Returns
        -------
        RiverNetwork
            The network.
        """
        rows = {node: dict(data) for node, data in graph.nodes(data=True)}
        primary: dict[Hashable, Hashable] = {}
        extra: list[tuple[Hashable, Hashable]] = []
        for u, v, data in graph.edges(data=True):
            if data.get("secondary", False) or u in primary:
                extra.append((u, v))
            else:
                primary[u] = v
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frame = frame.drop(columns=[c for c in ("length_m", DOWN) if c in frame], errors="ignore")
        frame[ID] = frame.index
        frame[DOWN] = pd.Series([primary.get(node) for node in frame.index], index=frame.index)
        crs = graph.graph.get("crs")
        gdf = gpd.GeoDataFrame(frame, geometry="geometry", crs=crs)
        outlets = graph.graph.get("outlet_values", (0,))
        net = cls.from_downstream_ids(
            gdf, id_column=ID, downstream_column=DOWN, outlet_values=outlets
        )
        net.secondary = pd.DataFrame(extra, columns=[ID, DOWN])
        return net

    topology_report: ValidationReport | None = None

    def __len__(self) -> int:
        return len(self.reaches)

    def __contains__(self, reach_id: object) -> bool:
        return reach_id in self.reaches.index

    def __repr__(self) -> str:
        return f"<RiverNetwork: {len(self)} reaches, crs={self.crs.to_string()}>"

    @property
    def crs(self) -> CRS:
        """The CRS of the reach geometries."""
        return CRS(self.reaches.crs)

    @property
    def ids(self) -> npt.NDArray[Any]:
        """Reach ids in position order."""
        return self.reaches.index.to_numpy()

    @cached_property
    def core(self) -> FlowCore:
        """The array core (built on first use, then cached).

        Raises
        ------
        TopologyError
            If reach ids repeat, a reach drains into itself, or the links form a cycle.
        """
        core = FlowCore.from_downstream(
            self.ids,
            self.reaches[DOWN].to_numpy(),
            outlet_values=self.outlet_values,
            length_m=self.reaches["length_m"].to_numpy(),
            secondary=self.secondary[[ID, DOWN]].to_numpy(),
        )
        if self.name_column is not None:
            core.set_names(self.reaches[self.name_column].to_numpy())
        if len(core.dangling):
            logger.info(
                "%d reach(es) point to downstream ids that are not in the network (%s); "
                "treated as outlets",
                len(core.dangling),
                format_ids(self.ids[core.dangling]),
            )
        return core

    def validate(self, *, touch_tolerance_m: float = 1.0) -> ValidationReport:
        """Check the network and report every problem found.

        Parameters
        ----------
        touch_tolerance_m
            How far (metres) a reach's downstream end may lie from its downstream reach.

        Returns
        -------
        ValidationReport
            ``.ok``, ``.errors``, ``.warnings``; each finding has a code, a message and ids.
        """
        table = self.reaches.reset_index()
        report = validate_reaches(
            table,
            id_column=ID,
            downstream_column=DOWN,
            outlet_values=self.outlet_values,
            touch_tolerance_m=touch_tolerance_m,
        )
        if len(self.secondary):
            report.findings += _secondary_link_findings(self)
        if self.topology_report is not None:
            report.findings += self.topology_report.findings
        return report

    def navigate(
        self, reach_id: Any, *, mode: str, distance_km: float | None = None
    ) -> gpd.GeoDataFrame:
        """Reaches reached from a reach in one NLDI mode (the start included), with distances.

        Parameters
        ----------
        reach_id
            The start reach.
        mode
            ``"UT"`` upstream with tributaries, ``"UM"`` upstream main stem, ``"DM"``
            downstream main path, ``"DD"`` downstream with diversions.
        distance_km
            Keep reaches at most this far (km, outlet to outlet) from the start.

        Returns
        -------
        geopandas.GeoDataFrame
            ``reach_id``, ``distance_km``, ``geometry``; sorted by distance.
        """
        start = int(self.core.position(reach_id)[0])
        limit = None if distance_km is None else distance_km * 1000.0
        if mode == "UT":
            found = navigate.upstream_slots(self.core, start, distance_m=limit)
            if found is not None:
                return self._result_by_distance(*found)
        if mode in ("UT", "UM"):
            positions, dist = navigate.upstream(self.core, start, mode=mode, distance_m=limit)
        else:
            positions, dist = navigate.downstream(self.core, start, mode=mode, distance_m=limit)
        return self._result(positions, dist)

    def upstream(
        self, reach_id: Any, *, mode: str = "UT", distance_km: float | None = None
    ) -> gpd.GeoDataFrame:
        """Reaches upstream of a reach: :meth:`navigate` in mode ``"UT"`` or ``"UM"``."""
        if mode not in ("UT", "UM"):
            raise InputError.from_key("err_navigate.upstream_mode", mode=repr(mode))
        return self.navigate(reach_id, mode=mode, distance_km=distance_km)

    def downstream(
        self, reach_id: Any, *, mode: str = "DM", distance_km: float | None = None
    ) -> gpd.GeoDataFrame:
        """Reaches downstream of a reach: :meth:`navigate` in mode ``"DM"`` or ``"DD"``."""
        if mode not in ("DM", "DD"):
            raise InputError.from_key("err_navigate.downstream_mode", mode=repr(mode))
        return self.navigate(reach_id, mode=mode, distance_km=distance_km)

    def path(self, from_id: Any, to_id: Any) -> gpd.GeoDataFrame:
        """The reaches water passes between two reaches, in order.

        Parameters
        ----------
        from_id, to_id
            The two reaches; if ``to_id`` is upstream of ``from_id`` the path goes upstream.

        Returns
        -------
        geopandas.GeoDataFrame
            ``reach_id``, ``distance_km`` (from ``from_id``), ``geometry``, in path order.

        Raises
        ------
        NotFoundError
            If neither reach drains into the other (the message names where they meet).
        """
        source, target = self.core.position([from_id, to_id])
        positions, dist = navigate.flow_path(self.core, int(source), int(target))
        return self._result(positions, dist, sort=False)

    def distance_to_outlet_km(self) -> pd.Series:
        """Length of the flow path from each reach's outlet to its network outlet, in km."""
        return self._series(self.core.distance_to_outlet_m() / 1000.0, "distance_to_outlet_km")

    def upstream_length_km(self) -> pd.Series:
        """Total length of each reach and all reaches upstream of it, in km."""
        return self._series(self.core.upstream_length_m() / 1000.0, "upstream_length_km")

    def strahler_order(self) -> pd.Series:
        """Strahler stream order of every reach."""
        return self._series(self.core.strahler_order(), "strahler_order")

    def shreve_order(self) -> pd.Series:
        """Shreve magnitude of every reach (number of headwater reaches upstream)."""
        return self._series(self.core.shreve_order(), "shreve_order")

    def main_stem_id(self) -> pd.Series:
        """Level path: the id of the most downstream reach of each reach's main stem."""
        return self._series(self.ids[self.core.main_stem()], "main_stem_id")

    def outlet_id(self) -> pd.Series:
        """The id of the outlet reach each reach drains to."""
        positions = np.arange(len(self), dtype=np.int64)
        return self._series(self.ids[self.core.outlet_of(positions)], "outlet_id")

    @cached_property
    def snap_index(self) -> SnapIndex:
        """The reaches in a metric CRS with a spatial index, built once for snapping."""
        from rivernet.snap import SnapIndex

        return SnapIndex.build(self)

    def snap(self, points: Any, *, max_distance_m: float) -> pd.DataFrame:
        """Snap points to their nearest reach within a distance limit.

        Parameters
        ----------
        points
            A GeoSeries/GeoDataFrame (converted to the network CRS), shapely points, or
            ``(x, y)`` pairs in the network CRS.
        max_distance_m
            Points farther than this from every reach are reported, not attached.

        Returns
        -------
        pandas.DataFrame
            One row per point (same index): ``reach_id`` (missing beyond the limit),
            ``measure_m`` and ``measure_fraction`` from the reach's upstream end,
            ``distance_m`` and ``snapped`` (bool). A :class:`SnapWarning` names the points
            beyond the limit.
        """
        from rivernet.snap import snap_points

        return snap_points(self, points, max_distance_m=max_distance_m)

    def substring(self, reach_id: Any, from_m: float, to_m: float) -> BaseGeometry:
        """The stretch of a reach between two measures (metres from its upstream end)."""
        length = float(self.reaches.at[reach_id, "length_m"])
        if not 0.0 <= from_m <= to_m <= length + 1e-6:
            raise InputError.from_key(
                "err_network.stretch_off_reach", from_m=f"{from_m:.1f}", to_m=f"{to_m:.1f}",
                reach=reach_id, length=f"{length:.1f}",
            )  # fmt: skip
        line = self.reaches.geometry.at[reach_id]
        return geometry.substring(line, from_m / length, min(to_m / length, 1.0))

    def point_at(self, reach_id: Any, measure_m: float) -> BaseGeometry:
        """The point ``measure_m`` metres from the upstream end of a reach."""
        length = float(self.reaches.at[reach_id, "length_m"])
        return geometry.point_at(self.reaches.geometry.at[reach_id], measure_m / length)

    def to_networkx(self) -> nx.DiGraph:
        """The network as a ``networkx.DiGraph``.

        Returns
        -------
        networkx.DiGraph
            Node = reach id with every reach attribute (geometry included); edge u->v means u
            drains into v (``secondary=True`` for braids and diversions);
            ``G.graph["crs"]`` holds the CRS.
        """
        graph = nx.DiGraph(crs=self.crs, outlet_values=self.outlet_values)
        records = self.reaches.drop(columns=[DOWN]).to_dict(orient="index")
        graph.add_nodes_from(records.items())
        core = self.core
        has_down = np.flatnonzero(core.downstream >= 0)
        ids = self.ids
        graph.add_edges_from(
            zip(ids[has_down].tolist(), ids[core.downstream[has_down]].tolist(), strict=True),
            secondary=False,
        )
        links = self.secondary[[ID, DOWN]].itertuples(index=False)
        graph.add_edges_from(((u, v) for u, v in links), secondary=True)
        return graph

    def _result(
        self,
        positions: npt.NDArray[np.int64],
        dist_m: npt.NDArray[np.float64],
        *,
        sort: bool = True,
    ) -> gpd.GeoDataFrame:
        """A navigation result as a GeoDataFrame: ``reach_id``, ``distance_km``, ``geometry``.

        Only the returned columns are gathered, straight from their arrays (no pandas
        ``take`` of the whole reach table, no second copy of the geometries). ``sort`` is kept
        for callers; the rows come in the given order.
        """
        column = self.reaches.geometry.array
        ids = self.reaches.index.to_numpy()[positions]
        return _navigation_frame(ids, dist_m, np.asarray(column)[positions], column.crs)

    def _result_by_distance(
        self, slots: slice | npt.NDArray[np.int64], dist_m: npt.NDArray[np.float64]
    ) -> gpd.GeoDataFrame:
        """:meth:`_result` of the reaches at ``core.by_distance[slots]``.

        Large upstream sets are ranges of that order (a whole basin is one slice), or picked
        from one in order, so ids and geometries kept in the same order are read in sequence
        instead of all over the table (:meth:`_columns_by_distance`). The frame gets copies.
        """
        columns = self._columns_by_distance()
        if columns is None:
            return self._result(np.asarray(self.core.by_distance[slots]), dist_m)
        crs = self.reaches.geometry.array.crs
        ids, geometry = columns.ids[slots], columns.geometry[slots]
        if isinstance(slots, slice):  # views of the kept arrays: the result owns copies
            ids, geometry = ids.copy(), geometry.copy()
        return _navigation_frame(ids, dist_m, geometry, crs)

    _by_distance_columns: _ColumnsByDistance | None = None

    def _columns_by_distance(self) -> _ColumnsByDistance | None:
        """Reach ids and geometries in ``core.by_distance`` order, built once and kept.

        They are rebuilt when the reach table's index or geometry column is replaced or
        edited: the kept column holds a reference to the table's geometry, so with pandas'
        copy-on-write (always on from pandas 3) an edit gives the table a new array. Under
        older pandas nothing is kept (None) and results are gathered from the table.
        """
        if not _COPY_ON_WRITE:
            return None
        order = self.core.by_distance
        index, source = self.reaches.index, self.reaches.geometry
        kept = self._by_distance_columns
        if (
            kept is None
            or kept.order is not order
            or kept.index is not index
            or kept.source.array is not source.array
        ):
            kept = _ColumnsByDistance(order, index, source)
            self._by_distance_columns = kept
        return kept

    def _series(self, values: npt.ArrayLike, name: str) -> pd.Series:
        """A per-reach measure as a Series indexed by reach id."""
        return pd.Series(values, index=self.reaches.index, name=name)


_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3


class _ColumnsByDistance:
    """Reach ids and geometries in ``core.by_distance`` order, with what they were read from.

    Attributes
    ----------
    order
        The ``core.by_distance`` array they follow.
    index, source
        The reach table's index and geometry column they were taken from (the column is held
        so that an edit of the table's geometry makes pandas copy it: see
        :meth:`RiverNetwork._columns_by_distance`).
    ids, geometry
        Reach ids and shapely geometries (object array) in that order.
    """

    __slots__ = ("geometry", "ids", "index", "order", "source")

    def __init__(
        self, order: npt.NDArray[np.int64], index: pd.Index, source: gpd.GeoSeries
    ) -> None:
        self.order = order
        self.index = index
        self.source = source
        self.ids: npt.NDArray[Any] = index.to_numpy()[order]
        self.geometry: npt.NDArray[np.object_] = np.asarray(source.array)[order]


def _navigation_frame(
    ids: npt.NDArray[Any],
    dist_m: npt.NDArray[np.float64],
    geometry: npt.NDArray[np.object_],
    crs: Any,
) -> gpd.GeoDataFrame:
    """``reach_id``, ``distance_km``, ``geometry`` from fresh arrays, taken without copying."""
    frame = pd.DataFrame(
        {
            ID: ids,
            "distance_km": dist_m / 1000.0,
            "geometry": gpd.array.GeometryArray(geometry, crs=crs),
        },
        copy=False,
    )
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=crs, copy=False)


def _require_columns(gdf: pd.DataFrame, columns: list[str]) -> None:
    """Raise a clear error naming the columns that are missing."""
    missing = [c for c in columns if c not in gdf.columns]
    if missing:
        raise InputError.from_key(
            "err_network.missing_columns", missing=_whole(missing), columns=_whole(gdf.columns)
        )


def _whole(values: Iterable[Any]) -> messages.Items:
    """Every one of ``values`` as a list for a message (none left out)."""
    shown = tuple(map(str, values))
    return messages.Items(shown, limit=len(shown))


def _empty_links() -> pd.DataFrame:
    """An empty table of secondary links."""
    return pd.DataFrame({ID: pd.Series(dtype=object), DOWN: pd.Series(dtype=object)})


def _links_from_column(
    table: pd.DataFrame, column: str, outlet_values: Iterable[Any]
) -> pd.DataFrame:
    """Secondary links from a column of second downstream ids."""
    values = table[column]
    keep = values.notna() & ~values.isin(list(outlet_values))
    return pd.DataFrame({ID: table.index[keep].to_numpy(), DOWN: values[keep].to_numpy()})


def _secondary_link_findings(net: RiverNetwork) -> list[Any]:
    """Secondary links that name unknown reaches."""
    from rivernet.validation import Finding

    known = net.reaches.index
    bad = net.secondary[~net.secondary[ID].isin(known) | ~net.secondary[DOWN].isin(known)]
    if bad.empty:
        return []
    pairs = [f"{u}->{v}" for u, v in bad[[ID, DOWN]].itertuples(index=False)]
    return [
        Finding.from_key("dangling_secondary", "problem_network.dangling_secondary",
                         reach_ids=bad[ID], pairs=messages.items(pairs))
    ]  # fmt: skip
