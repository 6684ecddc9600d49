"""The sign-board layer: each 河长公示牌 as a point on its reach, flagged when out of date.

A board is ``stale`` when a chief on its stretch changed more than the policy's
``board_update_days`` ago and the board still shows someone else (the same rule as the
``stale_board`` problems of :func:`rivernet.problems.coverage_problems`, so the map and the
problem list always agree). The layer follows the roster: an edit that appoints a chief or
updates a board changes the flag at once.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from rivernet.coverage import run_audit
from rivernet.problems import stale_board_rows

if TYPE_CHECKING:
    from rivernet.project import Project

__all__ = ["BOARD_COLUMNS", "board_features"]

BOARD_COLUMNS = ("board_id", "reach_id", "measure_m", "level", "person_id", "name",
                 "updated_on", "changed_on", "stale", "board_status")  # fmt: skip
"""Columns of the layer, in order."""


def board_features(
    project: Project, *, as_of: dt.date | str | None, level: str | None, policy: Any
) -> gpd.GeoDataFrame:
    """Sign boards as points on their reaches, with the person shown and the stale flag.

    Boards on reaches the network does not have are left out (``rivernet roster check``
    reports them).
    """
    roster = project.require_roster()
    boards = roster.boards
    crs = project.network.crs
    if boards.empty:
        return gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in BOARD_COLUMNS},
                                geometry=gpd.GeoSeries([], crs=crs), crs=crs)  # fmt: skip
    network = project.network
    frame = boards.reset_index(drop=True)
    known = frame["reach_id"].isin(network.reaches.index).to_numpy()
    frame = frame[known].reset_index(drop=True)
    measure = pd.to_numeric(frame["measure_m"], errors="coerce").fillna(0.0).to_numpy()
    geometry = [
        network.point_at(reach, float(np.clip(m, 0.0, network.reaches.at[reach, "length_m"])))
        for reach, m in zip(frame["reach_id"], measure, strict=True)
    ]
    names = roster.people.drop_duplicates("person_id").set_index("person_id")["name"]
    stale = _stale(project, as_of=as_of, policy=policy)
    board_id = frame["board_id"].astype(str)
    out = pd.DataFrame(
        {
            "board_id": board_id,
            "reach_id": frame["reach_id"],
            "measure_m": measure,
            "level": frame["level"].astype(str),
            "person_id": frame["person_id"],
            "name": frame["person_id"].map(names),
            "updated_on": pd.to_datetime(frame["updated_on"], errors="coerce").dt.strftime(
                "%Y-%m-%d"
            ),
            "changed_on": board_id.map(stale),
            "stale": board_id.isin(list(stale)),
        }
    )
    out["board_status"] = np.where(out["stale"], "stale", "current")
    return gpd.GeoDataFrame(out, geometry=geometry, crs=crs)


def _stale(project: Project, *, as_of: dt.date | str | None, policy: Any) -> dict[str, str]:
    """Board id -> the day its chief changed, for the boards out of date on ``as_of``."""
    run = run_audit(project, as_of=as_of, policy=policy)
    rows = stale_board_rows(run, project)
    if rows.empty:
        return {}
    return {str(row.assignment_ids): str(row.changed_on) for row in rows.itertuples()}
