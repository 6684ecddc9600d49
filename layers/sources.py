"""The data behind each map layer: one function every renderer calls.

:func:`layer_frame` turns a project and a catalog layer into a GeoDataFrame in EPSG:4326 (WGS84
longitude/latitude, which CGCS2000 data matches to centimetres) with the layer's properties and
its category property. The OGC API, vector and raster tiles, Jupyter maps, static maps and
reports all take their features from here, so they always show the same thing.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, TypeVar, cast

import geopandas as gpd
import pandas as pd
from pyproj import CRS

from rivernet.layers.catalog import Layer, layer

if TYPE_CHECKING:
    from rivernet.project import Project

WGS84 = CRS.from_epsg(4326)
FrameT = TypeVar("FrameT", bound=pd.DataFrame)


def layer_frame(
    project: Project,
    layer_id: str | Layer,
    *,
    as_of: dt.date | str | None = None,
    level: str = "county",
    policy: Any = None,
) -> gpd.GeoDataFrame:
    """The features of one catalog layer, in EPSG:4326.

    Parameters
    ----------
    project
        The loaded project.
    layer_id
        A catalog layer id (or the layer itself).
    as_of
        Date for roster-dependent layers (coverage, gaps, crossings' chiefs); default today.
    level
        Admin level for level-dependent layers (coverage, crossings, boundary rivers).
    policy
        Coverage policy (a :class:`rivernet.policy.CoveragePolicy` or a TOML path) for the
        coverage layers; the project's default when omitted.

    Returns
    -------
    geopandas.GeoDataFrame
        The layer's properties (those present), its category property and geometry.

    Raises
    ------
    NotFoundError
        If the layer id is not in the catalog.
    """
    entry = layer(layer_id)
    frame = _source_frame(project, entry.source, as_of=as_of, level=level, policy=policy)
    frame = to_wgs84(frame)
    wanted = [*entry.properties]
    if entry.category_property and entry.category_property not in wanted:
        wanted.append(entry.category_property)
    present = [c for c in wanted if c in frame.columns]
    return frame[[*present, frame.geometry.name]]


def _source_frame(
    project: Project, source: str, *, as_of: dt.date | str | None, level: str, policy: Any
) -> gpd.GeoDataFrame:
    """The full result behind a source name."""
    from rivernet.boundary import boundary_rivers, crossings
    from rivernet.coverage import coverage_gaps, coverage_status

    if source == "reaches":
        return project.network.reaches.reset_index()
    if source == "admin_units":
        return project.admin_units
    if source == "lakes":
        return project.lakes
    if source == "coverage":
        return coverage_status(project, level=level, as_of=as_of, policy=policy)
    if source == "coverage_gaps":
        return _at_level(coverage_gaps(project, as_of=as_of, policy=policy), level)
    if source == "crossings":
        return crossings(project, level=level, as_of=as_of)
    return boundary_rivers(project, level=level)


def _at_level(frame: gpd.GeoDataFrame, level: str) -> gpd.GeoDataFrame:
    """Rows of a result for one admin level (all rows if the result has no level column)."""
    if "level" not in frame.columns:
        return frame
    return frame[frame["level"] == level]


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
