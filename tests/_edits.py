"""Helpers of the roster-edit tests: a writable copy of the sample in either store, tokens.

``sample_store(kind, tmp)`` gives the target of a fresh store holding the Taihu sample: a copy
of the GeoPackage (``gpkg``) or a new PostGIS database loaded from it (``postgis``, through
``rivernet db load``'s library function; skipped with a clear reason when PostgreSQL or PostGIS
is not installed, by the ``pg_cluster`` fixture of :mod:`tests.pgcluster`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rivernet.store import open_store
from rivernet.tokens import create_token
from tests._stores import make_store
from tests.conftest import ROOT
from tests.pgcluster import pg_cluster

STORES = ("gpkg", "postgis")
OFFICES = {
    "county": ("320505", "editor", "虎丘区河长办"),
    "city": ("3205", "editor", "苏州市河长办"),
    "province": ("32", "editor", "江苏省河长办"),
    "viewer": ("320505", "viewer", "虎丘区查看"),
    "admin": ("", "admin", "管理员"),
    "jiading": ("310114", "editor", "嘉定区河长办"),
}
"""Tokens every served store gets: unit, role, name."""

__all__ = ["OFFICES", "STORES", "bearer", "live_servers", "make_tokens", "pg_cluster",
           "sample_store"]  # fmt: skip


def sample_store(kind: str, tmp: Path, request: pytest.FixtureRequest) -> str:
    """A new store holding the sample (:func:`tests._stores.make_store`): its path or URL."""
    store = make_store(kind, request, tmp)
    try:
        return str(getattr(store, "url", None) or store.target)
    finally:
        store.close()


def make_tokens(target: str) -> dict[str, str]:
    """A token per office of :data:`OFFICES`, for ``target``."""
    store = open_store(target)
    try:
        return {
            office: create_token(store, unit=unit, role=role, name=name)  # type: ignore[arg-type]
            for office, (unit, role, name) in OFFICES.items()
        }
    finally:
        store.close()


def bearer(token: str) -> dict[str, str]:
    """The ``Authorization`` header of a token."""
    return {"Authorization": f"Bearer {token}"}


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def live_servers(target: str, count: int = 1) -> Iterator[list[str]]:
    """``count`` uvicorn processes serving ``target``; their base URLs once all answer."""
    env = {**os.environ, "RIVERNET_PROJECT": target, "PYTHONPATH": str(ROOT)}
    started = []
    for _ in range(count):
        base = f"http://127.0.0.1:{free_port()}"
        command = [sys.executable, "-m", "uvicorn", "--factory", "server:create_app",
                   "--host", "127.0.0.1", "--port", base.rsplit(":", 1)[1],
                   "--log-level", "warning"]  # fmt: skip
        started.append((subprocess.Popen(command, cwd=ROOT, env=env), base))
    try:
        for process, base in started:
            _wait_up(process, base)
        yield [base for _, base in started]
    finally:
        for process, _ in started:
            process.terminate()
        for process, _ in started:
            process.wait(timeout=20)


def _wait_up(process: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/version", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the server at {base} did not start")
        time.sleep(0.3)
