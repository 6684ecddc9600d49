"""The server follows its project file: a replaced file is reloaded, a broken one is not.

A copy of the sample is served with a short ``reload_interval``; its roster is replaced the way
``rivernet roster import`` does it (a temporary file renamed over the project), and the ETags
and the coverage answer must change once the server has reloaded; a corrupt replacement must
leave the last good data served.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rivernet.project import open_project
from rivernet.roster import Roster, write_roster
from rivernet.server.app import create_app
from rivernet.server.reload import file_stamp
from rivernet.server.settings import Settings
from tests.conftest import SAMPLE

AS_OF = "2025-06-30"
SUMMARY = f"/coverage/summary?datetime={AS_OF}&level=county"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    """A copy of the sample, served with a reload check every 0.1 s."""
    path = tmp_path / "taihu.gpkg"
    shutil.copyfile(SAMPLE, path)
    app = create_app(Settings(project=path, reload_interval=0.1))
    with TestClient(app) as client:
        yield client, path


def _wait_for(condition: Callable[[], bool], *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the server did not reload within the time limit")
        time.sleep(0.1)


def _half_roster(path: Path) -> Roster:
    roster = open_project(path).require_roster()
    return Roster(people=roster.people, assignments=roster.assignments.iloc[::2],
                  units=roster.units, boards=roster.boards)  # fmt: skip


def test_a_replaced_project_file_is_reloaded_with_new_etags(
    served: tuple[TestClient, Path],
) -> None:
    client, path = served
    state = client.app.state.rivernet  # type: ignore[attr-defined]
    before = client.get(SUMMARY)
    conformance = client.get("/conformance").headers["etag"]
    tile = client.get("/tiles/reaches/9/426/211.mvt")
    assert before.status_code == 200 and tile.status_code == 200
    old_version = state.data_version

    write_roster(_half_roster(path), path)  # temporary file renamed over the project
    _wait_for(lambda: state.data_version != old_version)

    after = client.get(SUMMARY)
    assert after.headers["etag"] != before.headers["etag"]
    assert after.json() != before.json()  # half the assignments: less covered
    assert client.get("/conformance").headers["etag"] != conformance
    revalidated = client.get(SUMMARY, headers={"If-None-Match": before.headers["etag"]})
    assert revalidated.status_code == 200  # the old ETag no longer matches
    covered = sum(row["covered_m"] for row in after.json()["items"])
    assert covered < sum(row["covered_m"] for row in before.json()["items"])


def test_a_corrupt_replacement_keeps_the_old_data_served(
    served: tuple[TestClient, Path], caplog: pytest.LogCaptureFixture
) -> None:
    client, path = served
    reloader = client.app.state.reloader  # type: ignore[attr-defined]
    before = client.get(SUMMARY)
    broken = path.with_name("broken.gpkg")
    broken.write_bytes(SAMPLE.read_bytes()[:4096])  # a half-written copy
    with caplog.at_level(logging.ERROR, logger="rivernet.server.reload"):
        os.replace(broken, path)
        _wait_for(lambda: reloader.seen == file_stamp(path))
        time.sleep(0.3)  # the failed open is logged after the stamp is taken
        _wait_for(lambda: any("does not open" in r.getMessage() for r in caplog.records))
    again = client.get(SUMMARY)
    assert again.status_code == 200
    assert again.headers["etag"] == before.headers["etag"]
    assert again.json() == before.json()


def test_reloading_can_be_disabled(tmp_path: Path) -> None:
    path = tmp_path / "taihu.gpkg"
    shutil.copyfile(SAMPLE, path)
    with TestClient(create_app(Settings(project=path, reload_interval=0))) as client:
        assert not client.app.state.reloader.watching  # type: ignore[attr-defined]
