"""Both kinds of store, made from the Taihu sample: a parametrisation for store tests.

``project_store`` (module-scoped, parametrised ``gpkg`` / ``postgis``) is a fresh store of the
sample for each test module: a copy of ``data/sample/taihu.gpkg`` (with its policy) in a temporary
folder, or that copy loaded into a new database of the throwaway cluster
(:mod:`tests.pgcluster`; those cases skip when PostgreSQL or PostGIS is absent).
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest

from rivernet.store import GeoPackageStore, Store

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "taihu.gpkg"
_NAMES = itertools.count(1)


def copy_sample(folder: Path) -> Path:
    """A copy of the sample project (and its policy.toml) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "taihu.gpkg"
    shutil.copyfile(SAMPLE, target)
    shutil.copyfile(SAMPLE.with_name("policy.toml"), folder / "policy.toml")
    return target


def make_store(kind: str, request: pytest.FixtureRequest, folder: Path) -> Store:
    """A fresh store of the sample: ``gpkg`` or ``postgis``."""
    path = copy_sample(folder)
    if kind == "gpkg":
        return GeoPackageStore(path)
    from rivernet.postgis import PostgisStore, load
    from tests.pgcluster import create_database

    cluster = request.getfixturevalue("pg_cluster")
    url = create_database(cluster, f"rivernet_s{next(_NAMES)}", template="rivernet_template")
    load(path, url)
    return PostgisStore(url)


@pytest.fixture(params=["gpkg", "postgis"], scope="module")
def project_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Store:
    """A fresh store of the sample for the module, of each kind."""
    made = make_store(request.param, request, tmp_path_factory.mktemp(request.param))
    yield made
    made.close()
