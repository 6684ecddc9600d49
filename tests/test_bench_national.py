"""The national benchmark's project builder and roster (bench.national), at a small size."""

from __future__ import annotations

from pathlib import Path

import pyogrio
import pytest

from bench.national import NATIONAL_BBOX, national_project, national_roster
from rivernet.project import open_project


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return national_project(tmp_path_factory.mktemp("cache"), size=3_000, seed=2, n_counties=60)


def test_the_project_is_built_once_and_reused(small: Path) -> None:
    assert small.name == "national-3000-s2-c60.gpkg"
    layers = {name for name, _ in pyogrio.list_layers(small)}
    assert layers == {"reaches", "admin_units", "project_meta"}
    stamp = small.stat().st_mtime_ns
    assert national_project(small.parent, size=3_000, seed=2, n_counties=60) == small
    assert small.stat().st_mtime_ns == stamp
    assert [p.name for p in small.parent.iterdir()] == [small.name]  # no temporary left


def test_the_project_opens_and_spans_china(small: Path) -> None:
    project = open_project(small)
    assert len(project.network) == 3_000
    west, south, east, north = project.network.reaches.to_crs(4326).total_bounds
    assert NATIONAL_BBOX[0] <= west < east <= NATIONAL_BBOX[2]
    assert NATIONAL_BBOX[1] <= south < north <= NATIONAL_BBOX[3]
    assert set(project.admin_units["level"]) == {"province", "city", "county"}


def test_the_roster_has_about_three_assignments_per_reach(small: Path) -> None:
    project = open_project(small)
    roster = national_roster(project)
    per_reach = len(roster.assignments) / len(project.network)
    assert 2.5 < per_reach < 4.5
    assert set(roster.assignments["level"]) >= {"county", "township", "village"}
    known = set(project.network.reaches.index)
    assert set(roster.assignments["reach_id"]) <= known
