"""The data behind each map layer: the source functions and the one function every output calls.

Each catalog layer names one source function of this module (``reach_features``,
``coverage_features``, ...): ``source(project, as_of=, level=, policy=)`` computes the layer's
features with every column of the result, in the project's CRS. :func:`layer_frame` turns a
project and a catalog layer into a GeoDataFrame in EPSG:4326 (WGS84 longitude/latitude, which
CGCS2000 data matches to centimetres) without private contact columns: the layer's drawn
properties for maps, or every published column for the OGC API. The OGC API, vector and raster
tiles, Jupyter maps, static maps and reports all take their features from here, so they always
show the same thing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from rivernet.admin import LEVELS
from rivernet.boundary import boundary_rivers, crossings
from rivernet.coverage import coverage_gaps, coverage_status
from rivernet.errors import InputError
from rivernet.roster import as_date

if TYPE_CHECKING:
    from rivernet.layers.catalog import Layer
    from rivernet.project import Project

__all__ = [
    "DEFAULT_LEVEL",
    "PRIVATE_COLUMN",
    "WGS84",
    "admin_unit_features",
    "boundary_river_features",
    "chief_features",
    "coverage_features",
    "coverage_gap_features",
    "crossing_features",
    "lake_features",
    "layer_frame",
    "public_columns",
    "reach_coverage",
    "reach_features",
    "reach_status",
    "to_wgs84",
]

WGS84 = CRS.from_epsg(4326)
DEFAULT_LEVEL = "county"
"""The level of per-level layers when none is given."""
FrameT = TypeVar("FrameT", bound=pd.DataFrame)
# Columns never published (contact details stay private, as the roster model requires).
PRIVATE_COLUMN = re.compile(
    r"phone|mobile|tel|email|e_mail|wechat|weixin|contact|address|id_card|idcard|identity|"
    r"电话|手机|邮箱|微信|联系|地址|身份证",
    re.IGNORECASE,
)
# Which status a whole reach shows when its pieces differ, most telling first.
STATUS_PRIORITY = ("overlap", "gap", "expired", "partial", "covered", "exempt", "not_required")


def layer_frame(
    project: Project,
    layer_id: str | Layer,
    *,
    as_of: dt.date | str | None = None,
    level: str | None = DEFAULT_LEVEL,
    policy: Any = None,
    all_properties: bool = False,
) -> gpd.GeoDataFrame:
    """The features of one catalog layer, in EPSG:4326.

    Parameters
    ----------
    project
        The loaded project.
    layer_id
        A catalog layer id (or the layer itself).
    as_of
        Date for date-dependent layers (coverage, gaps, crossings' chiefs); default today.
    level
        Admin level for level-dependent layers (coverage, gaps, crossings, boundary rivers);
        None gives coverage gaps at every level and the others at the county level.
    policy
        Coverage policy (a :class:`rivernet.policy.CoveragePolicy` or a TOML path) for the
        coverage layers; the project's when omitted.
    all_properties
        Keep every published column (and the layer's extra columns), as the OGC API does,
        instead of only the properties the layer draws.

    Returns
    -------
    geopandas.GeoDataFrame
        The layer's properties (those present), its category property and geometry; never a
        private contact column.

    Raises
    ------
    NotFoundError
        If the layer id is not in the catalog, or the layer needs a chief roster and the
        project has none.
    """
    from rivernet.layers.catalog import layer  # the catalog imports this module's sources

    entry = layer(layer_id)
    if entry.needs_roster:
        project.require_roster()
    frame = entry.source(project, as_of=as_of, level=level, policy=policy)
    frame = to_wgs84(public_columns(frame))
    if all_properties:
        if entry.extra_columns is not None and entry.id_column is not None:
            frame = _with_extra(frame, entry.extra_columns(project, as_of=as_of, policy=policy),
                                entry.id_column)  # fmt: skip
        return frame
    wanted = [*entry.properties]
    if entry.category_property and entry.category_property not in wanted:
        wanted.append(entry.category_property)
    present = [c for c in wanted if c in frame.columns]
    return frame[[*present, frame.geometry.name]]


def _with_extra(frame: gpd.GeoDataFrame, extra: pd.DataFrame, id_column: str) -> gpd.GeoDataFrame:
    """The frame with the extra columns joined on its id column."""
    if extra.empty:
        return frame
    frame = frame.copy()
    for name in extra.columns:
        frame[name] = frame[id_column].map(extra[name]).to_numpy()
    return frame


def public_columns(table: FrameT) -> FrameT:
    """The table without private contact columns (phone, e-mail, address, id card...)."""
    private = [c for c in table.columns if PRIVATE_COLUMN.search(str(c))]
    return cast("FrameT", table.drop(columns=private)) if private else table


# --- sources: one per catalog layer --------------------------------------------------------------


def reach_features(
    project: Project, *, as_of: dt.date | str | None, level: str | None, policy: Any
) -> gpd.GeoDataFrame:
    """The network's reaches with their attributes."""
    return project.network.reaches.reset_index()


def admin_unit_features(
    project: Project, *, as_of: dt.date | str | None, level: str | None, policy: Any
) -> gpd.GeoDataFrame:
    """The project's admin units (every level)."""
    return project.admin_units


def lake_features(
    project: Project, *, as_of: dt.date | str | None, level: str | None, policy: Any
) -> gpd.GeoDataFrame:
    """The project's lakes."""
    return project.lakes


def coverage_features(
    project: Project, *, as_of: dt.date | str | None, level: str | None, policy: Any
) -> gpd.GeoDataFrame:
    """Reach pieces with their coverage status at a level (default county)."""
    return coverage_status(project, level=level or DEFAULT_LEVEL, as_of=as_of, policy=policy)


def coverage_gap_features(
    project: Project, *, as_of: dt.date | str | None, level: str | None, policy: Any
) -> gpd.GeoDataFrame:
    """Coverage gaps at one level (every level when ``level`` is None)."""
    gaps = coverage_gaps(project, as_of=as_of, policy=policy)
    return gaps if level is None else gaps[gaps["level"] == level]


def crossing_features(
    project: Project, *, as_of: dt.date | str | None, level: str | None, policy: Any
) -> gpd.GeoDataFrame:
    """Handover sections at a level (default county), with the chiefs on both sides."""
    return crossings(project, level=level or DEFAULT_LEVEL, as_of=as_of)


def boundary_river_features(
    project: Project, *, as_of: dt.date | str | None, level: str | None, policy: Any
) -> gpd.GeoDataFrame:
    """Boundary rivers at a level (default county)."""
    return boundary_rivers(project, level=level or DEFAULT_LEVEL)


def chief_features(
    project: Project, *, as_of: dt.date | str | None, level: str | None, policy: Any
) -> gpd.GeoDataFrame:
    """Assignments in force on ``as_of`` with their people, without private contact columns.

    Geometry: the assigned stretch or reach, or the lake (湖长); none for whole-river posts.
    """
    roster = project.require_roster()
    frame = public_columns(roster.to_frame(include_contact=False))
    frame = frame[frame["assignment_id"].isin(roster.active(as_date(as_of))["assignment_id"])]
    frame = frame.reset_index(drop=True)
    geometry = _assignment_geometry(project, frame)
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=project.network.crs)


def _assignment_geometry(project: Project, frame: pd.DataFrame) -> np.ndarray:
    geometry = np.full(len(frame), None, dtype=object)
    net = project.network
    if "reach_id" in frame:
        reach = frame["reach_id"]
        known = (reach.notna() & reach.isin(net.reaches.index)).to_numpy()
        geometry[known] = net.reaches.geometry.loc[reach[known]].to_numpy()
        if "from_m" in frame and "to_m" in frame:
            stretch = known & frame["from_m"].notna().to_numpy() & frame["to_m"].notna().to_numpy()
            # A stretch that does not fit its reach keeps the whole reach.
            for row in np.flatnonzero(stretch):
                with contextlib.suppress(InputError, ValueError):
                    geometry[row] = net.substring(
                        reach.iloc[row], float(frame["from_m"].iloc[row]),
                        float(frame["to_m"].iloc[row]),
                    )  # fmt: skip
    if "lake_id" in frame and len(project.lakes):
        lakes = project.lakes.set_index("lake_id").geometry
        lake = frame["lake_id"]
        known = (lake.notna() & lake.isin(lakes.index) & pd.isna(geometry)).to_numpy()
        geometry[known] = lakes.loc[lake[known]].to_numpy()
    return geometry


# --- extra columns ------------------------------------------------------------------------------


def reach_coverage(project: Project, *, as_of: dt.date | str | None, policy: Any) -> pd.DataFrame:
    """Columns ``coverage_<level>``: each reach's coverage status per level, by reach id.

    Empty when the project has no chief roster.
    """
    if not project.has_roster:
        return pd.DataFrame()
    columns = {
        f"coverage_{level}": reach_status(
            coverage_status(project, level=level, as_of=as_of, policy=policy)
        )
        for level in LEVELS
    }
    return pd.DataFrame(columns)


def reach_status(pieces: pd.DataFrame) -> pd.Series:
    """One coverage status per reach from the statuses of its pieces.

    A reach whose pieces are all alike takes their status; one that is partly covered and
    partly uncovered is ``partial``; other mixes take the most telling status.
    """

    def pick(statuses: Iterable[str]) -> str:
        found = set(statuses)
        if len(found) == 1:
            return found.pop()
        if "covered" in found and found & {"gap", "expired"} and "overlap" not in found:
            return "partial"
        return min(found, key=lambda s: STATUS_PRIORITY.index(s) if s in STATUS_PRIORITY else 99)

    return pieces.groupby("reach_id")["status"].agg(pick)


# --- coordinates --------------------------------------------------------------------------------


def to_wgs84(frame: FrameT) -> FrameT:
    """The frame in EPSG:4326; tables without geometry or CRS are returned as they are.

    CGCS2000 (EPSG:4490) is relabelled, as the two agree to centimetres; other CRS are
    transformed.
    """
    if not isinstance(frame, gpd.GeoDataFrame) or frame.crs is None:
        return frame
    crs = CRS(frame.crs)
    if crs.equals(WGS84):
        return frame
    if crs.equals(CRS.from_epsg(4490)):
        return cast("FrameT", frame.set_crs(WGS84, allow_override=True))
    return cast("FrameT", frame.to_crs(WGS84))
