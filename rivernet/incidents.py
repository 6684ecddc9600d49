"""Incident routing: whom to notify downstream of a pollution incident, and where to look upstream.

The incident point is snapped to the network, then routed down the crossing chains of every
level with admin polygons (see :mod:`rivernet._chains`): the units the plume enters, the
handover sections it passes and the units upstream, with along-network distances in km from the
snapped point (and travel times, given a flow velocity). Secondary links (braids, diversions)
are not followed: water is routed down the main path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from rivernet._chains import (
    distance_limit_m,
    first_down,
    next_crossing,
    upstream_crossings,
    walk,
)
from rivernet.admin import LEVEL_LABELS_ZH
from rivernet.boundary import crossing_arrays, crossing_frame, crossing_ids, unit_chiefs
from rivernet.errors import InputError
from rivernet.pieces import PIECE_LEVELS, _code_array, _name_array, admin_units, piece_arrays
from rivernet.snap import snap_point

if TYPE_CHECKING:
    from rivernet.project import Project

__all__ = ["IncidentReport", "incident"]


@dataclass(eq=False)
class IncidentReport:
    """Whom to notify and where to look after a pollution incident.

    Attributes
    ----------
    snapped
        The incident point on the network: ``reach_id``, ``measure_m``, ``distance_m`` (from
        the given point), ``river_id`` and the units containing it (``<level>_code``).
    notify
        Units downstream to notify, in order of along-network distance (the incident's own
        units first, at 0 km): ``order``, ``level``, ``level_zh``, ``unit_code``,
        ``unit_name``, ``distance_km``, ``arrival_h`` (with a velocity), ``crossing_id``
        (where the plume enters the unit) and ``chiefs``.
    sections
        The handover sections the plume passes, in order: the crossing columns plus
        ``distance_km`` and ``arrival_h``.
    upstream
        Units upstream to check, nearest first: ``level``, ``unit_code``, ``unit_name``,
        ``distance_km`` (to their nearest handover section) and ``chiefs``.
    """

    snapped: pd.Series
    notify: pd.DataFrame
    sections: gpd.GeoDataFrame
    upstream: pd.DataFrame


def incident(
    project: Project,
    point: Any,
    *,
    distance_km: float | None = None,
    as_of: Any = None,
    velocity_m_s: float | None = None,
    max_snap_m: float = 1000.0,
) -> IncidentReport:
    """Route a pollution incident: units to notify downstream, sections passed, units upstream.

    Parameters
    ----------
    project
        The project.
    point
        The incident location: a shapely Point or an ``(x, y)`` pair in the network CRS
        (longitude, latitude for the sample), or a one-point GeoSeries in any CRS.
    distance_km
        How far along the network to look, downstream and upstream (None: to the outlet and
        to the sources).
    as_of
        Date for the chiefs (default today).
    velocity_m_s
        Flow velocity; when given, ``arrival_h`` is the travel time to each unit and section.
    max_snap_m
        The point must lie within this distance of a reach.

    Returns
    -------
    IncidentReport
        ``snapped``, ``notify``, ``sections`` and ``upstream``.

    Raises
    ------
    OutOfRangeError
        If no reach lies within ``max_snap_m`` of the point.
    InputError
        If the velocity or distance is not a positive number.
    """
    if velocity_m_s is not None and not (np.isfinite(velocity_m_s) and velocity_m_s > 0):
        raise InputError(f"velocity_m_s must be a positive number, got {velocity_m_s}")
    limit = distance_limit_m(distance_km)
    snapped = _snap(project, point, max_snap_m)
    position = int(project.network.core.position(snapped["reach_id"])[0])
    measure = float(snapped["measure_m"])
    levels = [lev for lev in PIECE_LEVELS if len(admin_units(project).by_level[lev])]
    notify, sections, upstream = [], [], []
    for level in levels:
        n, s, u = _incident_level(project, level, position, measure, limit, as_of)
        notify.append(n)
        sections.append(s)
        upstream.append(u)
    home = _home_units(project, position, measure, levels)
    snapped = pd.concat(
        [snapped, pd.Series({f"{level}_code": code for level, code in home.items()}, dtype=object)]
    )
    return IncidentReport(
        snapped=snapped,
        notify=_order_notify(pd.concat(notify, ignore_index=True), velocity_m_s),
        sections=_order_sections(project, sections, velocity_m_s),
        upstream=pd.concat(upstream, ignore_index=True)
        .sort_values(["distance_km", "level"], kind="stable")
        .reset_index(drop=True),
    )


def _snap(project: Project, point: Any, max_snap_m: float) -> pd.Series:
    net = project.network
    snapped = snap_point(net, point, max_distance_m=max_snap_m, limit_name="max_snap_m")
    core = net.core
    position = int(core.position([snapped.reach_id])[0])
    return pd.Series(
        {
            "reach_id": snapped.reach_id,
            "measure_m": snapped.measure_m,
            "distance_m": snapped.distance_m,
            "river_id": net.ids[core.main_stem()[position]],
        },
        dtype=object,
    )


def _home_units(
    project: Project, position: int, measure: float, levels: list[str]
) -> dict[str, Any]:
    pieces = piece_arrays(project)
    rows = np.arange(pieces.first[position], pieces.last[position] + 1)
    index = rows[np.searchsorted(pieces.to_m[rows], measure, side="left").clip(0, len(rows) - 1)]
    units = admin_units(project)
    return {level: _code_array(units, pieces.codes[level][[index]])[0] for level in levels}


def _incident_level(
    project: Project,
    level: str,
    position: int,
    measure: float,
    limit: float | None,
    as_of: Any,
) -> tuple[pd.DataFrame, gpd.GeoDataFrame, pd.DataFrame]:
    arrays = crossing_arrays(project, level=level)
    units = admin_units(project)
    core = project.network.core
    origin = core.distance_to_outlet_m()[position] + core.length_m[position] - measure
    start = first_down(project, level, position, measure)
    _, down, dist = walk(
        next_crossing(project, level), arrays.to_outlet_m, np.array([start]),
        np.array([origin]), limit,
    )  # fmt: skip
    home = _home_units(project, position, measure, [level])[level]
    ids = crossing_ids(project, arrays, level=level)
    entered = [units.row_of[home]] if home is not None else []
    notify_rows = [(home, 0.0, None)] if home is not None else []
    seen = set(entered)
    for row, d in zip(down, dist, strict=True):
        unit = int(arrays.downstream[row])
        if unit not in seen:
            seen.add(unit)
            notify_rows.append((str(units.codes[unit]), float(d), ids[row]))
    notify = pd.DataFrame(notify_rows, columns=["unit_code", "distance_m", "crossing_id"])
    notify.insert(0, "level", level)
    notify["unit_name"] = pd.Series([units.name(c) for c in notify["unit_code"]], dtype=object)
    notify["chiefs"] = unit_chiefs(project, notify["unit_code"], level=level, as_of=as_of)
    sections = crossing_frame(project, arrays.subset(np.isin(np.arange(len(arrays)), down)),
                              level=level, as_of=as_of)  # fmt: skip
    by_id = dict(zip(ids[down], dist, strict=True))
    sections["distance_m"] = [by_id[i] for i in sections["crossing_id"]]
    up_rows = upstream_crossings(project, arrays, position, measure, limit)
    upstream = pd.DataFrame(
        {
            "level": level,
            "unit": arrays.upstream[up_rows],
            "distance_m": arrays.to_outlet_m[up_rows] - origin,
        }
    )
    upstream = upstream[upstream["unit"] != (units.row_of[home] if home is not None else -2)]
    upstream = upstream.sort_values("distance_m").drop_duplicates("unit")
    unit_rows = upstream["unit"].to_numpy(np.int64)
    upstream = pd.DataFrame(
        {
            "level": level,
            "unit_code": _code_array(units, unit_rows),
            "unit_name": _name_array(units, unit_rows),
            "distance_km": upstream["distance_m"].to_numpy(dtype=float) / 1000.0,
        }
    )
    upstream["chiefs"] = unit_chiefs(project, upstream["unit_code"], level=level, as_of=as_of)
    return notify, sections, upstream


def _order_notify(notify: pd.DataFrame, velocity: float | None) -> pd.DataFrame:
    notify = _with_travel(notify.copy(), velocity)
    notify["level_zh"] = notify["level"].map(LEVEL_LABELS_ZH)
    rank = {level: i for i, level in enumerate(PIECE_LEVELS)}
    notify["_rank"] = notify["level"].map(rank)
    notify = notify.sort_values(["distance_km", "_rank"], kind="stable").drop(columns="_rank")
    notify.insert(0, "order", np.arange(1, len(notify) + 1))
    columns = ["order", "level", "level_zh", "unit_code", "unit_name", "distance_km",
               "arrival_h", "crossing_id", "chiefs"]  # fmt: skip
    return notify[columns].reset_index(drop=True)


def _order_sections(
    project: Project, sections: list[gpd.GeoDataFrame], velocity: float | None
) -> gpd.GeoDataFrame:
    frames = [s for s in sections if len(s)]
    if not frames:
        empty = sections[0] if sections else gpd.GeoDataFrame(geometry=[], crs=project.network.crs)
        return empty.assign(distance_km=pd.Series(dtype=float), arrival_h=pd.Series(dtype=float))
    table = _with_travel(pd.concat(frames, ignore_index=True), velocity)
    table = table.sort_values(["distance_km", "level"], kind="stable").reset_index(drop=True)
    return gpd.GeoDataFrame(table, geometry="geometry", crs=project.network.crs)


def _with_travel(table: pd.DataFrame, velocity: float | None) -> pd.DataFrame:
    """Replace ``distance_m`` by ``distance_km`` and add ``arrival_h`` (NaN without a velocity)."""
    table["distance_km"] = table.pop("distance_m") / 1000.0
    table["arrival_h"] = (
        table["distance_km"] * 1000.0 / velocity / 3600.0 if velocity is not None else np.nan
    )
    return table
