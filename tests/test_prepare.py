"""Serving at national scale: ``rivernet serve --workers N``, the prepared sidecar, fast start.

Real processes and real HTTP: the server is started as ``rivernet serve`` on a copy of the Taihu
sample, its workers are real forked processes, each accepting on its own socket of the port.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rivernet.project import open_project
from rivernet.roster import Roster, write_roster
from tests.conftest import SAMPLE

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            headers = {k.lower(): v for k, v in response.headers.items()}
            return response.status, headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def _wait_for(condition: Callable[[], bool], *, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within the time limit")
        time.sleep(0.2)


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in found.read_text().split()] if found.exists() else []


def _serve(path: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), RIVERNET_RELOAD_INTERVAL="0.2")
    command = "from rivernet.cli import main; main()"
    with (path.parent / f"serve-{port}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-c", command, "serve", str(path), "--port", str(port), *extra],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    """``rivernet serve --workers 3`` on a copy of the sample."""
    path = tmp_path / "taihu.gpkg"
    shutil.copyfile(SAMPLE, path)
    port = _free_port()
    process = _serve(path, port, "--workers", "3")
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: _get(f"{url}/conformance")[0] == 200)
        yield url, path, process
    finally:
        _stop(process)


def test_workers_are_forked_and_all_answer(
    workers: tuple[str, Path, subprocess.Popen[bytes]],
) -> None:
    url, _, process = workers
    assert len(_children(process.pid)) == 3
    for _ in range(12):
        status, headers, body = _get(f"{url}/tiles/reaches/8/213/105.mvt")
        assert status == 200 and headers["content-type"].startswith(
            "application/vnd.mapbox-vector-tile"
        )
        assert len(body) > 1000
    status, _, _ = _get(f"{url}/collections/reaches/items?limit=5")
    assert status == 200


def test_every_worker_follows_a_replaced_project_file(
    workers: tuple[str, Path, subprocess.Popen[bytes]],
) -> None:
    url, path, _ = workers
    before = _get(f"{url}/conformance")[1]["etag"]
    roster = open_project(path).require_roster()
    half = Roster(people=roster.people, assignments=roster.assignments.iloc[::2],
                  units=roster.units, boards=roster.boards)  # fmt: skip
    write_roster(half, path)  # a temporary file renamed over the project, as roster import does
    time.sleep(1.0)

    def all_new() -> bool:  # the kernel spreads connections over the workers: ask many times
        return all(_get(f"{url}/conformance")[1]["etag"] != before for _ in range(24))

    _wait_for(all_new, timeout=60)


def test_the_workers_stop_with_the_server(tmp_path: Path) -> None:
    path = tmp_path / "taihu.gpkg"
    shutil.copyfile(SAMPLE, path)
    port = _free_port()
    process = _serve(path, port, "--workers", "2")
    _wait_for(lambda: _get(f"http://127.0.0.1:{port}/conformance")[0] == 200)
    children = _children(process.pid)
    assert len(children) == 2
    _stop(process)
    assert process.returncode == 0
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()


def test_rivernet_prepare_writes_the_sidecar_once(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from rivernet.cli import main
    from rivernet.prepare import open_prepared, sidecar_path

    path = tmp_path / "taihu.gpkg"
    shutil.copyfile(SAMPLE, path)
    runner = CliRunner()
    first = runner.invoke(main, ["prepare", str(path), "--lang", "en"])
    assert first.exit_code == 0, first.output
    assert f"prepared {sidecar_path(path)}" in first.output
    assert (sidecar_path(path) / "meta.json").exists()
    again = runner.invoke(main, ["prepare", str(path), "--lang", "en"])
    assert again.exit_code == 0 and "up to date" in again.output
    prepared = open_prepared(path)
    assert prepared is not None
    assert {"reaches", "admin_units", "crossings@county"} <= prepared.layers
    missing = runner.invoke(main, ["prepare", str(tmp_path / "nowhere.gpkg")])
    assert missing.exit_code != 0 and "nowhere.gpkg" in missing.output
