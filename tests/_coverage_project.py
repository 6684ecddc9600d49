"""A tiny project for the roster and coverage tests, with hand-computable answers.

The tiny network of conftest (UTM 51N metres) in two counties of one city: county 320505 west
of x = 500 m, county 320506 east of it. Reaches 2 (x 1000 -> 0) and 4 (x 2000 -> 0) cross the
line, so they have two pieces each: reach 2 is in 320506 for 0..500 m and in 320505 for
500..1000 m; reach 4 is in 320506 for 0..1500 m and in 320505 for 1500..2000 m.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from shapely import box

from rivernet.policy import CoveragePolicy, LevelRule, Match
from rivernet.roster import Roster
from tests.conftest import tiny_frame

AS_OF = dt.date(2025, 6, 30)
POLICY = CoveragePolicy(
    name="tiny",
    default_levels=("county",),
    rules=(LevelRule("order 2", ("city",), Match(min_strahler=2)),),
)


def write_tiny_project(path: Path) -> Path:
    """Write the tiny project GeoPackage (reaches, admin units) to ``path``."""
    reaches = tiny_frame().rename(columns={"rid": "reach_id", "down": "downstream_id"})
    units = gpd.GeoDataFrame(
        {
            "code": ["320000", "320500", "320505", "320506"],
            "name": ["江苏省", "苏州市", "西县", "东县"],
            "level": ["province", "city", "county", "county"],
            "parent_code": [None, "320000", "320500", "320500"],
        },
        geometry=[
            box(-1000, -1000, 7000, 5000),
            box(-1000, -1000, 7000, 5000),
            box(-1000, -1000, 500, 5000),
            box(500, -1000, 7000, 5000),
        ],
        crs="EPSG:32651",
    )
    pyogrio.write_dataframe(reaches, path, layer="reaches", driver="GPKG")
    pyogrio.write_dataframe(units, path, layer="admin_units", driver="GPKG")
    return path


def assignment(
    aid: str,
    person: str,
    level: str,
    unit: str,
    reach: int | None,
    *,
    from_m: float = np.nan,
    to_m: float = np.nan,
    role: str = "河长",
    valid_from: str = "2022-01-01",
    valid_to: str | None = None,
) -> dict[str, object]:
    """One assignment row."""
    return {
        "assignment_id": aid,
        "person_id": person,
        "level": level,
        "unit_code": unit,
        "role": role,
        "reach_id": reach,
        "from_m": from_m,
        "to_m": to_m,
        "river_id": None,
        "lake_id": None,
        "valid_from": pd.Timestamp(valid_from),
        "valid_to": pd.Timestamp(valid_to) if valid_to else pd.NaT,
        "source_document": None,
    }


def tiny_roster() -> Roster:
    """The hand-made roster; the expected findings are listed in tests/test_coverage.py."""
    rows = [
        *(assignment(f"W{r}", "west", "county", "320505", r) for r in (7, 1, 2, 3, 5)),
        assignment("E2", "east", "county", "320506", 2),
        assignment("E4", "east", "county", "320506", 4),  # west part of reach 4: gap
        assignment("E8", "east", "county", "320506", 8),
        assignment("E8b", "east2", "county", "320506", 8, from_m=0, to_m=600),  # overlap
        assignment("E9", "east", "county", "320506", 9, valid_to="2025-03-31"),  # expired
        assignment("E9old", "east0", "county", "320506", 9, valid_to="2021-12-31"),
        assignment("C3", "city", "city", "320500", 3),  # reach 5 lacks its city chief
        assignment("X99", "west", "county", "320505", 99),  # orphan: no reach 99
        assignment("F5", "later", "city", "320500", 5, valid_from="2025-09-01"),  # future
        assignment("P1", "patrol", "county", "320505", 1, role="巡河员"),  # does not cover
    ]
    frame = pd.DataFrame(rows)
    frame["line"] = np.arange(2, len(frame) + 2)
    frame["reach_id"] = frame["reach_id"].astype(object)
    people = pd.DataFrame(
        {
            "person_id": ["west", "east", "east2", "east0", "city", "later", "patrol"],
            "name": ["西一", "东一", "东二", "东零", "市一", "市二", "巡一"],
            "post": "副县长",
            "organisation": None,
            "level": None,
            "unit_code": None,
            "contact": "0000-0000000",
            "is_fictional": True,
        }
    )
    boards = pd.DataFrame(
        {
            "board_id": ["B1", "B2"],
            "reach_id": [9, 8],
            "measure_m": [500.0, 800.0],
            "level": ["county", "county"],
            "person_id": ["east0", "east"],
            "updated_on": pd.to_datetime(["2020-01-01", "2022-01-01"]),
        }
    )
    return Roster(people, frame, boards=boards)
