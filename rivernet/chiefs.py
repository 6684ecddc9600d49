"""Who is responsible at a place: every chief of a reach, a stretch or a point, by level.

:func:`chiefs_at` answers the planner's and the coordinator's first question. A point is
snapped to its reach with :func:`rivernet.snap.snap_point`, the one snapping path that the
incident routing and the server use too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from rivernet.admin import LEVEL_LABELS_ZH, LEVELS, POLYGON_LEVELS
from rivernet.coverage import DateLike, reach_targets, unit_names
from rivernet.errors import NotFoundError
from rivernet.names import reach_names
from rivernet.pieces import piece_table
from rivernet.roster import PRIVATE_COLUMNS, Roster, as_date
from rivernet.snap import snap_point

if TYPE_CHECKING:
    from rivernet.project import Project

__all__ = ["chiefs_at"]


def chiefs_at(
    project: Project,
    reach_id_or_point: Any,
    *,
    as_of: DateLike = None,
    measure_m: float | None = None,
    max_distance_m: float = 1000.0,
    include_contact: bool = False,
) -> pd.DataFrame:
    """Every chief responsible at a reach or a point, by level.

    Parameters
    ----------
    project
        A project with a roster.
    reach_id_or_point
        A reach id, or a point (shapely Point or ``(x, y)`` in the network's CRS) that is
        snapped to the nearest reach.
    as_of
        The day; default today.
    measure_m
        With a reach id: the place on it (metres from its upstream end); default: anywhere
        on the reach.
    max_distance_m
        A point farther than this from every reach is an error.
    include_contact
        Include the private ``contact`` column.

    Returns
    -------
    pandas.DataFrame
        ``level, level_zh, role, name, post, organisation, unit_code, unit_name,
        assignment_id, reach_id, river_name, lake_id, from_m, to_m, valid_from, valid_to``
        (and ``contact``), ordered from province to village. ``river_name`` is the name of
        the river at the place (the reach's ``name``; None where unnamed).

    Raises
    ------
    NotFoundError
        If the reach id is unknown or the project has no roster.
    OutOfRangeError
        If the point lies farther than ``max_distance_m`` from every reach.
    """
    roster = project.require_roster()
    reach_id, measure = _locate(project, reach_id_or_point, measure_m, max_distance_m)
    day = pd.Timestamp(as_date(as_of))
    frame = roster.to_frame(include_contact=True)
    active = (
        (frame["valid_from"] <= day) & (frame["valid_to"].isna() | (frame["valid_to"] >= day))
    ).to_numpy()
    network = project.network
    targets = reach_targets(roster.assignments, network)
    position = int(network.core.position([reach_id])[0])
    here = targets[targets["position"] == position]
    if measure is not None:
        from_m = here["from_m"].fillna(0.0)
        to_m = here["to_m"].fillna(np.inf)
        here = here[(from_m <= measure) & (to_m >= measure)]
    rows = set(_in_unit(project, position, measure, roster.assignments, here["assignment"]))
    rows |= set(_lake_rows(project, roster, position, measure))
    picked = frame.iloc[sorted(rows)]
    picked = picked[active[sorted(rows)]].copy()
    picked["level_zh"] = picked["level"].map(LEVEL_LABELS_ZH)
    picked["unit_name"] = picked["unit_code"].map(unit_names(project))
    picked["river_name"] = reach_names(network, [reach_id])[0]
    picked["order"] = picked["level"].astype(str).map(LEVELS.index)
    picked = picked.sort_values(["order", "role", "name"]).drop(columns="order")
    columns = ["level", "level_zh", "role", "name", "post", "organisation", "unit_code",
               "unit_name", "assignment_id", "reach_id", "river_name", "lake_id", "from_m",
               "to_m", "valid_from", "valid_to"]  # fmt: skip
    if include_contact:
        columns += list(PRIVATE_COLUMNS)
    return picked[columns].reset_index(drop=True)


def _in_unit(
    project: Project, position: int, measure: float | None, assignments: pd.DataFrame, rows: Any
) -> list[int]:
    """The assignment rows whose unit holds the reach (at ``measure``, if given)."""
    pieces = piece_table(project)
    here = pieces[pieces["position"] == position]
    if measure is not None:
        inside = here[(here["from_m"] <= measure) & (here["to_m"] >= measure)]
        here = inside.iloc[:1] if len(inside) else here
    codes = {level: set(here[f"{level}_code"].dropna()) for level in POLYGON_LEVELS}
    keep = []
    for row in rows:
        level = str(assignments["level"].iat[row])
        code = str(assignments["unit_code"].iat[row])
        if code in codes.get(level, set()) or (
            level in ("township", "village") and code[:6] in codes["county"]
        ):
            keep.append(int(row))
    return keep


def _locate(
    project: Project, target: Any, measure_m: float | None, max_distance_m: float
) -> tuple[Any, float | None]:
    network = project.network
    if isinstance(target, shapely.Geometry) or (isinstance(target, tuple) and len(target) == 2):
        point = target if isinstance(target, shapely.Geometry) else shapely.Point(target)
        snapped = snap_point(network, point, max_distance_m=max_distance_m)
        return snapped.reach_id, snapped.measure_m
    if target not in network:
        raise NotFoundError.from_key("error.reach_not_in_network_or_point", reach=repr(target))
    return target, measure_m


def _lake_rows(project: Project, roster: Roster, position: int, measure: float | None) -> list[int]:
    """Lake-chief assignments of the lakes the reach runs through (at ``measure``, if given).

    Uses the pieces' lake ids, so the lake shore rule of :mod:`rivernet.pieces` applies: a
    stretch is in a lake only where it lies inside the lake polygon.
    """
    assignments = roster.assignments
    if assignments["lake_id"].isna().all():
        return []
    pieces = piece_table(project)
    here = pieces[pieces["position"] == position]
    if measure is not None:
        here = here[(here["from_m"] <= measure) & (here["to_m"] >= measure)]
    inside = set(here["lake_id"].dropna().tolist())
    return np.flatnonzero(assignments["lake_id"].isin(inside).to_numpy()).tolist()
