"""Incident routing: whom to call, in order, after a pollution incident, and where to look upstream.

The incident is placed on the network (a point snapped to its reach, or a reach id and a
measure), then routed down the crossing chains of every level with admin polygons (see
:mod:`rivernet._chains`): the units the plume enters, the handover sections it passes and the
units upstream, with along-network distances in km (and travel times, given a flow velocity).
The chiefs to call are read with :func:`rivernet.chiefs.chiefs_at` at the incident and at every
place where the plume enters a unit, so that the call list and ``chiefs_at`` never disagree.
Secondary links (braids, diversions) are not followed: water is routed down the main path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from rivernet._chains import (
    distance_limit_m,
    first_down,
    next_crossing,
    section_heads,
    upstream_crossings,
    walk,
)
from rivernet.admin import LEVEL_LABELS_ZH
from rivernet.boundary import crossing_arrays, crossing_frame, crossing_ids, unit_chiefs
from rivernet.errors import InputError, NotFoundError, OutOfRangeError
from rivernet.messages import Message
from rivernet.names import reach_names
from rivernet.pieces import (
    PIECE_LEVELS,
    _code_array,
    _name_array,
    admin_units,
    piece_arrays,
    reach_vertices,
)
from rivernet.roster import PRIVATE_COLUMNS, as_date
from rivernet.snap import snap_point

if TYPE_CHECKING:
    from rivernet.project import Project

__all__ = ["CALL_COLUMNS", "IncidentReport", "incident"]

CALL_COLUMNS = (
    "order", "unit_code", "unit_name", "level", "level_zh", "role", "name", "post",
    "organisation", "distance_km", "arrival_h", "reach_id", "river_name", "measure_m",
    "crossing_id", "basis", "assignment_id",
)  # fmt: skip
"""The columns of :attr:`IncidentReport.call_list` (``contact`` follows when asked for)."""

UNIT_WIDE_ROLES = ("总河长", "副总河长")
"""Roles that answer for a whole jurisdiction: called first when nobody is assigned at a place."""


@dataclass(eq=False)
class IncidentReport:
    """Whom to call and where to look after a pollution incident.

    Attributes
    ----------
    snapped
        The incident on the network: ``reach_id``, ``measure_m``, ``distance_m`` (from
        the given point; 0 for a reach), ``river_id`` and the units containing it
        (``<level>_code``).
    call_list
        The chiefs to call, in call order (a GeoDataFrame: each row's geometry is the place
        the chief answers for, the incident or the point where the plume enters the unit):
        ``order``, ``unit_code``, ``unit_name``, ``level``, ``level_zh``, ``role``, ``name``,
        ``post``, ``organisation``, ``distance_km``, ``arrival_h`` (with a velocity),
        ``reach_id``, ``river_name`` (None where unnamed) and ``measure_m`` (the place),
        ``crossing_id`` (the handover section
        where the plume enters; None at the incident), ``basis`` (``"place"``: assigned at
        that place, as :func:`rivernet.chiefs_at`; ``"unit"``: nobody at that level is
        assigned there, so the unit's chiefs) and ``assignment_id`` (and ``contact``).
    notify
        Units downstream to notify, in order of along-network distance (the incident's own
        units first, at 0 km): ``order``, ``level``, ``level_zh``, ``unit_code``,
        ``unit_name``, ``distance_km``, ``arrival_h`` (with a velocity), ``crossing_id``
        (where the plume enters the unit) and ``chiefs`` (the unit's rows of ``call_list``).
    sections
        The handover sections the plume passes, in order, each once at the highest level it
        crosses: the crossing columns plus ``levels`` and ``crossing_ids`` (the levels it
        crosses and its id at each, joined with ``,``), ``section_id`` (the row of
        :func:`rivernet.crossings` the pass belongs to: a river crossing back and forth is
        one section with several passes), ``distance_km`` and ``arrival_h``.
    upstream
        Units upstream to check, nearest first: ``level``, ``unit_code``, ``unit_name``,
        ``distance_km`` (to their nearest handover section) and ``chiefs``.
    """

    snapped: pd.Series
    notify: pd.DataFrame
    sections: gpd.GeoDataFrame
    upstream: pd.DataFrame
    call_list: gpd.GeoDataFrame


def incident(
    project: Project,
    point: Any = None,
    *,
    reach: Any = None,
    measure_m: float | None = None,
    distance_km: float | None = None,
    as_of: Any = None,
    velocity_m_s: float | None = None,
    max_snap_m: float = 1000.0,
    include_contact: bool = False,
    merge_within_m: float = 1000.0,
) -> IncidentReport:
    """Route a pollution incident: the chiefs to call in order, sections passed, units upstream.

    The coordinator's question, "pollution enters reach 40652917 and flows into Jiangsu:
    which chiefs do I call, in order, and when does it arrive?", is one call::

        report = rivernet.incident(project, reach=40652917, velocity_m_s=0.5,
                                   as_of="2025-06-30")
        report.call_list  # order, unit, level, role, name, post, distance_km, arrival_h...

    (on the command line: ``rivernet incident data/sample/taihu.gpkg --reach 40652917
    --velocity 0.5 -o calls.xlsx``).

    Who is called, in flow order (along-network distance, then province to village):

    1. At the incident: exactly the chiefs :func:`rivernet.chiefs_at` lists at the reach (and
       measure), every level; these rows come first. They are the chiefs *assigned to the
       water there* (the reach, a stretch holding the measure, its river or lake), not every
       chief of the unit: a county with two county-level chiefs on different reaches is
       represented by the one assigned to this reach.
    2. At every handover section the plume passes into a new unit: the chiefs ``chiefs_at``
       lists just below the section at that unit's level (township and village chiefs, whose
       units have no polygons, come with the finest unit entered).
    3. A unit to notify with nobody of its level assigned at that place (a province whose
       chiefs are assigned to other rivers, say) is still called: through its
       jurisdiction-wide chiefs (role 总河长 or 副总河长) or, failing those, all its chiefs of
       that level (``basis`` ``"unit"``). Without a roster the call list is empty.

    Parameters
    ----------
    project
        The project.
    point
        The incident location: a shapely Point or an ``(x, y)`` pair in the network CRS
        (longitude, latitude for the sample), or a one-point GeoSeries in any CRS. Give a
        point or ``reach``, not both.
    reach
        The reach id where the pollution enters (instead of a point).
    measure_m
        With ``reach``: where on it, in metres from its upstream end. Without it the whole
        reach is taken as polluted: the plume is routed from its upstream end and the
        incident's chiefs are everyone ``chiefs_at`` lists on the reach.
    distance_km
        How far along the network to look, downstream and upstream (None: to the outlet and
        to the sources).
    as_of
        Date for the chiefs (default today).
    velocity_m_s
        Flow velocity; when given, ``arrival_h`` is the travel time (distance / velocity) to
        each chief's place, unit and section.
    max_snap_m
        The point must lie within this distance of a reach.
    include_contact
        Add the private ``contact`` column to the call list (off by default).
    merge_within_m
        For ``sections["section_id"]``: passes within this distance are one handover section
        (see :func:`rivernet.crossings`).

    Returns
    -------
    IncidentReport
        ``snapped``, ``call_list``, ``notify``, ``sections`` and ``upstream``.

    Raises
    ------
    OutOfRangeError
        If no reach lies within ``max_snap_m`` of the point, or ``measure_m`` is not on the
        reach.
    NotFoundError
        If the reach is not in the network.
    InputError
        If neither or both of a point and ``reach`` are given, ``measure_m`` comes without
        ``reach``, or the velocity or distance is not a positive number.
    """
    if velocity_m_s is not None and not (np.isfinite(velocity_m_s) and velocity_m_s > 0):
        raise InputError.from_key("err_incidents.bad_velocity", value=velocity_m_s)
    limit = distance_limit_m(distance_km)
    snapped = _place(project, point, reach, measure_m, max_snap_m)
    position = int(project.network.core.position([snapped["reach_id"]])[0])
    measure = float(snapped["measure_m"])
    levels = [lev for lev in PIECE_LEVELS if len(admin_units(project).by_level[lev])]
    notify, sections, upstream = [], [], []
    for level in levels:
        n, s, u = _incident_level(project, level, position, measure, limit, as_of)
        s["section_id"] = _section_ids(project, level, s["crossing_id"], merge_within_m)
        notify.append(n)
        sections.append(s)
        upstream.append(u)
    home = _home_units(project, position, measure, levels)
    snapped = pd.concat(
        [snapped, pd.Series({f"{level}_code": code for level, code in home.items()}, dtype=object)]
    )
    ordered = _order_notify(pd.concat(notify, ignore_index=True), velocity_m_s)
    here = (position, measure if reach is None or measure_m is not None else None)
    calls = _call_list(project, ordered, here, as_of=as_of, velocity=velocity_m_s)
    ordered["chiefs"] = _chiefs_text(ordered, calls) if project.roster is not None else None
    if not include_contact:
        calls = calls.drop(columns=list(PRIVATE_COLUMNS), errors="ignore")
    return IncidentReport(
        snapped=snapped,
        notify=ordered.drop(columns=["entry_position", "entry_measure"]),
        sections=_order_sections(project, sections, velocity_m_s),
        upstream=pd.concat(upstream, ignore_index=True)
        .sort_values(["distance_km", "level"], kind="stable")
        .reset_index(drop=True),
        call_list=calls.drop(columns="_notify"),
    )


def _place(
    project: Project, point: Any, reach: Any, measure_m: float | None, max_snap_m: float
) -> pd.Series:
    """The incident on the network, from a point or from a reach and measure."""
    if (point is None) == (reach is None):
        got = Message("err_incidents.both" if reach is not None else "err_incidents.neither")
        raise InputError.from_key("err_incidents.point_or_reach", got=got)
    if reach is None:
        if measure_m is not None:
            raise InputError.from_key("error.measure_needs_reach")
        return _snap(project, point, max_snap_m)
    net = project.network
    if reach not in net:
        raise NotFoundError.from_key("error.reach_not_in_network", reach=repr(reach))
    core = net.core
    position = int(core.position([reach])[0])
    length = float(core.length_m[position])
    if measure_m is not None and not (np.isfinite(measure_m) and 0 <= measure_m <= length):
        raise OutOfRangeError.from_key(
            "error.measure_off_reach", measure=measure_m, reach=repr(reach), length=f"{length:.0f}"
        )
    return pd.Series(
        {
            "reach_id": net.ids[position],
            "measure_m": 0.0 if measure_m is None else float(measure_m),
            "distance_m": 0.0,
            "river_id": net.ids[core.main_stem()[position]],
        },
        dtype=object,
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
    notify_rows = [(home, 0.0, None, position, measure)] if home is not None else []
    seen = set(entered)
    for row, d in zip(down, dist, strict=True):
        unit = int(arrays.downstream[row])
        if unit not in seen:
            seen.add(unit)
            notify_rows.append((str(units.codes[unit]), float(d), ids[row],
                                int(arrays.position[row]), float(arrays.measure[row])))  # fmt: skip
    notify = pd.DataFrame(
        notify_rows,
        columns=["unit_code", "distance_m", "crossing_id", "entry_position", "entry_measure"],
    )
    notify.insert(0, "level", level)
    notify["unit_name"] = pd.Series([units.name(c) for c in notify["unit_code"]], dtype=object)
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


def _section_ids(
    project: Project, level: str, pass_ids: pd.Series, merge_within_m: float
) -> list[str]:
    """The id of the handover section (its first pass) each pass belongs to."""
    ids = crossing_ids(project, crossing_arrays(project, level=level), level=level)
    first = dict(zip(ids, ids[section_heads(project, level, merge_within_m)], strict=True))
    return [first[i] for i in pass_ids]


def _order_notify(notify: pd.DataFrame, velocity: float | None) -> pd.DataFrame:
    notify = _with_travel(notify.copy(), velocity)
    notify["level_zh"] = notify["level"].map(LEVEL_LABELS_ZH)
    rank = {level: i for i, level in enumerate(PIECE_LEVELS)}
    notify["_rank"] = notify["level"].map(rank)
    notify = notify.sort_values(["distance_km", "_rank"], kind="stable").drop(columns="_rank")
    notify.insert(0, "order", np.arange(1, len(notify) + 1))
    columns = ["order", "level", "level_zh", "unit_code", "unit_name", "distance_km",
               "arrival_h", "crossing_id", "entry_position", "entry_measure"]  # fmt: skip
    return notify[columns].reset_index(drop=True)


def _call_list(
    project: Project,
    notify: pd.DataFrame,
    here: tuple[int, float | None],
    *,
    as_of: Any,
    velocity: float | None,
) -> gpd.GeoDataFrame:
    """The chiefs to call, in flow order (see :func:`incident`); ``_notify``: their notify row."""
    columns = [*CALL_COLUMNS, *PRIVATE_COLUMNS, "_notify"]
    if project.roster is None:
        empty = pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
        return gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs=project.network.crs))
    places: dict[tuple[int, float | None], pd.DataFrame] = {}

    def at(place: tuple[int, float | None]) -> pd.DataFrame:
        if place not in places:
            from rivernet.chiefs import chiefs_at

            reach_id = project.network.ids[place[0]]
            places[place] = chiefs_at(project, reach_id, as_of=as_of, measure_m=place[1],
                                      include_contact=True)  # fmt: skip
        return places[place]

    finest = [level for level in PIECE_LEVELS if level in set(notify["level"])][-1:]
    unit_levels = set(PIECE_LEVELS)
    incident_rows = at(here).assign(_notify=-1, basis="place", crossing_id=None)
    fallbacks, downstream = [], []
    for index, row in zip(notify.index, notify.to_dict("records"), strict=True):
        level, code, crossing = str(row["level"]), str(row["unit_code"]), row["crossing_id"]
        at_incident = crossing is None or pd.isna(crossing)
        place: tuple[int, float | None] = here
        chosen = incident_rows
        if not at_incident:
            place = _entry(project, int(row["entry_position"]), float(row["entry_measure"]))
            chosen = at(place).assign(_notify=-1, basis="place", crossing_id=crossing)
        mine = (chosen["level"].astype(str) == level) & (chosen["unit_code"].astype(str) == code)
        below = ~chosen["level"].astype(str).isin(unit_levels) & (
            chosen["unit_code"].astype(str).str[:6] == code
        )
        chosen["_notify"] = chosen["_notify"].where(~mine, index)
        parts: list[pd.DataFrame] = [chosen[mine | (below & (level in finest))]]
        if not mine.any():
            parts.append(_unit_rows(project, row, index, as_of))
        rows = pd.concat(parts, ignore_index=True).assign(
            distance_km=float(row["distance_km"]), _position=place[0], _measure=place[1]
        )
        if at_incident:
            fallbacks.append(rows[rows["basis"] == "unit"])
        else:
            downstream.append(rows.assign(crossing_id=crossing))
    first = incident_rows.assign(distance_km=0.0, _position=here[0], _measure=here[1])
    calls = pd.concat([first, *fallbacks, *downstream], ignore_index=True)
    calls = calls.drop_duplicates("assignment_id").reset_index(drop=True)
    positions = calls["_position"].to_numpy(dtype=np.int64)
    calls["measure_m"] = calls["_measure"].astype(float)
    measures = calls["measure_m"].fillna(0.0).to_numpy(dtype=float)
    calls["reach_id"] = project.network.ids[positions] if len(calls) else calls["reach_id"]
    calls["river_name"] = reach_names(project.network, calls["reach_id"])
    calls["level_zh"] = calls["level"].astype(str).map(LEVEL_LABELS_ZH)
    calls["arrival_h"] = (
        calls["distance_km"] * 1000.0 / velocity / 3600.0 if velocity is not None else np.nan
    )
    calls["order"] = np.arange(1, len(calls) + 1)
    xy = reach_vertices(project).point_xy(positions, measures).reshape(-1, 2)
    geometry = gpd.GeoSeries(shapely.points(xy), crs=project.network.crs)
    return gpd.GeoDataFrame(calls[columns], geometry=geometry, crs=project.network.crs)


def _entry(project: Project, position: int, measure: float) -> tuple[int, float]:
    """The place just below a handover section: where the plume is in the unit it enters."""
    core = project.network.core
    length = float(core.length_m[position])
    down = int(core.downstream[position])
    if measure >= length - 1e-6 and down >= 0:
        return down, 0.0
    return position, min(measure + 1e-3, length)


def _unit_rows(project: Project, row: dict[Any, Any], index: Any, as_of: Any) -> pd.DataFrame:
    """A unit's chiefs at its level, when nobody of that level is assigned at the place."""
    roster = project.roster
    assert roster is not None
    frame = roster.to_frame(include_contact=True)
    day = pd.Timestamp(as_date(as_of))
    active = (frame["valid_from"] <= day) & (frame["valid_to"].isna() | (frame["valid_to"] >= day))
    frame = frame[
        active
        & (frame["level"].astype(str) == str(row["level"]))
        & (frame["unit_code"].astype(str) == str(row["unit_code"]))
    ]
    roles = frame["role"].astype(str)
    wide = frame[roles.isin(UNIT_WIDE_ROLES)]
    frame = wide if len(wide) else frame
    rank = [UNIT_WIDE_ROLES.index(r) if r in UNIT_WIDE_ROLES else 9 for r in frame["role"]]
    frame = frame.assign(rank=rank).sort_values(["rank", "name"], kind="stable")
    return (
        frame.drop_duplicates("person_id")
        .drop(columns="rank")
        .assign(unit_name=row["unit_name"], basis="unit", _notify=index, crossing_id=None)
    )


def _chiefs_text(notify: pd.DataFrame, calls: pd.DataFrame) -> list[str | None]:
    """Each notify row's chiefs from the call list, as ``"name (role)"`` joined with "、"."""
    texts: list[str | None] = []
    for index in notify.index:
        rows = calls[calls["_notify"] == index]
        pairs = zip(rows["name"], rows["role"], strict=True)
        items = list(dict.fromkeys(_chief_text(name, role) for name, role in pairs))
        texts.append("、".join(items) or None)
    return texts


def _chief_text(name: Any, role: Any) -> str:
    """``"name (role)"``, as the chiefs columns of :mod:`rivernet.boundary` write them."""
    return f"{name} ({role})" if isinstance(role, str) and role else str(name)


def _order_sections(
    project: Project, sections: list[gpd.GeoDataFrame], velocity: float | None
) -> gpd.GeoDataFrame:
    """One row per physical section, at the highest level it crosses, in flow order.

    A section where a province boundary is crossed is also a city and county boundary: it is
    listed once, as the province section, with ``levels`` (the levels it crosses, highest
    first) and ``crossing_ids`` (its id at each of them), both joined with ``,``.
    """
    frames = [s for s in sections if len(s)]
    if not frames:
        empty = sections[0] if sections else gpd.GeoDataFrame(geometry=[], crs=project.network.crs)
        return empty.assign(
            levels=pd.Series(dtype=object), crossing_ids=pd.Series(dtype=object),
            distance_km=pd.Series(dtype=float), arrival_h=pd.Series(dtype=float),
        )  # fmt: skip
    table = _with_travel(pd.concat(frames, ignore_index=True), velocity)
    rank = {level: i for i, level in enumerate(PIECE_LEVELS)}
    table["_rank"] = table["level"].map(rank)
    table["_place"] = [f"{reach}@{measure:.3f}" for reach, measure
                       in zip(table["reach_id"], table["measure_m"], strict=True)]  # fmt: skip
    table = table.sort_values(["distance_km", "_rank"], kind="stable")
    group = table.groupby("_place", sort=False)
    levels, ids = group["level"].agg(",".join), group["crossing_id"].agg(",".join)
    table = table.drop_duplicates("_place").copy()
    position = list(table.columns).index("level") + 1
    table.insert(position, "levels", table["_place"].map(levels))
    table.insert(position + 1, "crossing_ids", table["_place"].map(ids))
    table = table.drop(columns=["_rank", "_place"]).reset_index(drop=True)
    return gpd.GeoDataFrame(table, geometry="geometry", crs=project.network.crs)


def _with_travel(table: pd.DataFrame, velocity: float | None) -> pd.DataFrame:
    """Replace ``distance_m`` by ``distance_km`` and add ``arrival_h`` (NaN without a velocity)."""
    table["distance_km"] = table.pop("distance_m") / 1000.0
    table["arrival_h"] = (
        table["distance_km"] * 1000.0 / velocity / 3600.0 if velocity is not None else np.nan
    )
    return table
