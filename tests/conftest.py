"""Shared fixtures: a tiny hand-drawn network and the real Taihu sample."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pytest
from shapely import LineString

from rivernet import RiverNetwork
from rivernet.project import Project, open_project

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "taihu.gpkg"


def _chromium() -> Path | None:
    from rivernet.layers.report import find_chromium

    found = find_chromium()
    return Path(found) if found else None


CHROMIUM = _chromium()
"""The Chromium the browser and PDF tests run (the one the PDF reports use), None if absent."""
NO_CHROMIUM = (
    "no Chromium on PATH (chromium, chromium-browser or google-chrome): apt-get install "
    "chromium; .ci/run installs it"
)
SHARED = ROOT.parent / "shared" / "data"

# A hand-drawn network in UTM metres (EPSG:32651). Flow is down the page (decreasing y):
#
#   7 (0,4000)->(0,3000)                        8 (5000,0)->(6000,0)  outlet, own system
#   1 (0,3000)->(0,2000)   2 (1000,2000)->(0,2000)
#   3 (0,2000)->(0,1000)   4 (2000,1000)->(0,1000)
#   5 (0,1000)->(0,0)      outlet
#   9 (5000,2000)->(5000,1000) points to 99, which does not exist (clip artefact)
TINY_LINES = {
    7: ([(0, 4000), (0, 3000)], 1),
    1: ([(0, 3000), (0, 2000)], 3),
    2: ([(1000, 2000), (0, 2000)], 3),
    3: ([(0, 2000), (0, 1000)], 5),
    4: ([(2000, 1000), (0, 1000)], 5),
    5: ([(0, 1000), (0, 0)], 0),
    8: ([(5000, 0), (6000, 0)], 0),
    9: ([(5000, 2000), (5000, 1000)], 99),
}


def tiny_frame() -> gpd.GeoDataFrame:
    """The tiny network as a reach table with ids and downstream ids."""
    return gpd.GeoDataFrame(
        {
            "rid": list(TINY_LINES),
            "down": [d for _, d in TINY_LINES.values()],
        },
        geometry=[LineString(c) for c, _ in TINY_LINES.values()],
        crs="EPSG:32651",
    )


@pytest.fixture
def tiny() -> RiverNetwork:
    """The tiny hand-drawn network."""
    return RiverNetwork.from_downstream_ids(tiny_frame(), id_column="rid", downstream_column="down")


@pytest.fixture(scope="session")
def hydrorivers() -> gpd.GeoDataFrame:
    """The HydroRIVERS Taihu extract as shipped in the sample project."""
    return gpd.read_file(SAMPLE, layer="reaches")


@pytest.fixture(scope="session")
def sample_network(hydrorivers: gpd.GeoDataFrame) -> RiverNetwork:
    """The sample's network built from its reach layer."""
    return RiverNetwork.from_downstream_ids(
        hydrorivers, id_column="reach_id", downstream_column="downstream_id"
    )


# --- the server on the sample (tests/test_server_*.py) -----------------------------------------


@pytest.fixture(scope="module")
def project() -> Project:
    """The sample project, loaded once per test module (a module may define its own)."""
    return open_project(SAMPLE)


@pytest.fixture(scope="module")
def client(project: Project) -> Iterator[TestClient]:
    """The server on the sample project, through FastAPI's TestClient."""
    from fastapi.testclient import TestClient

    from rivernet.server.app import create_app
    from rivernet.server.settings import Settings

    with TestClient(create_app(Settings(project=SAMPLE), project=project)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def roster_sample() -> tuple[Path, dt.date]:
    """The shipped sample (it holds the fictional chief roster), and the date it is valid on."""
    from tests._maps_sample import AS_OF, sample_with_roster

    return sample_with_roster(), dt.date.fromisoformat(AS_OF)


# The throwaway PostgreSQL + PostGIS cluster and both kinds of store (tests/pgcluster.py,
# tests/_stores.py): fixtures pg_cluster, pg_url, fresh_db and project_store.
from tests._stores import project_store  # noqa: E402, F401
from tests.pgcluster import fresh_db, pg_cluster, pg_url  # noqa: E402, F401
