"""Measuring a running ``rivernet serve`` for ``python -m bench national``: start-up, tiles, memory.

The server runs as a real process (``rivernet serve PROJECT``, the way an office starts it) and
is measured over real HTTP: the time until its first tile answers, uncached tiles per layer and
zoom (each asked for once), its memory from ``/proc`` (RSS and PSS of the process and its
workers).
"""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "CHINA_BBOX",
    "Memory",
    "Server",
    "TileFigures",
    "fetch",
    "memory",
    "random_tiles",
    "start_server",
    "sweep",
    "tiles_over",
]

CHINA_BBOX = (73.5, 18.0, 134.8, 53.5)
"""Longitude/latitude box of the national project (mainland China)."""
ROOT = Path(__file__).resolve().parents[1]
Tile = tuple[int, int, int]


def fetch(url: str, *, timeout: float = 600) -> tuple[float, bytes]:
    """Seconds taken by a GET of ``url`` (body read) and the body; raises on an HTTP error."""
    started = time.perf_counter()
    request = urllib.request.Request(url, headers={"Accept-Encoding": "identity"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read()
    return time.perf_counter() - started, body


@dataclass
class Server:
    """A ``rivernet serve`` process."""

    process: subprocess.Popen[bytes]
    url: str
    ready_s: float
    log: Path

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL after 20 s)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def wait_loaded(self, *, timeout: float = 600) -> float:
        """Seconds until the project has loaded (a route that needs it answers)."""
        started = time.perf_counter()
        fetch(f"{self.url}/conformance", timeout=timeout)
        return time.perf_counter() - started


def start_server(
    path: Path,
    *,
    port: int,
    workers: int = 1,
    first: str = "/tiles/reaches/0/0/0.mvt",
    timeout: float = 600,
) -> Server:
    """Start ``rivernet serve path`` and wait until ``first`` answers 200.

    Parameters
    ----------
    path
        The project file.
    port
        A free port.
    workers
        ``--workers``.
    first
        The request whose first success marks the server ready.
    timeout
        Give up after this many seconds.

    Returns
    -------
    Server
        The running server, with the seconds from process start to the first answer.
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT), RIVERNET_RELOAD_INTERVAL="0")
    log = path.with_name(f"serve-{port}.log")
    command = [sys.executable, "-c", "from rivernet.cli import main; main()", "-q", "serve",
               str(path), "--port", str(port), "--workers", str(workers)]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"rivernet serve exited ({process.returncode}); see {log}")
        try:
            fetch(url + first, timeout=timeout)
            break
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.perf_counter() - started > timeout:
                process.kill()
                raise RuntimeError(f"rivernet serve did not answer within {timeout} s") from None
            time.sleep(0.02)
    return Server(process, url, time.perf_counter() - started, log)


def tiles_over(bbox: Sequence[float], z: int) -> list[Tile]:
    """Every tile of zoom ``z`` that meets a longitude/latitude box."""
    west, south, east, north = bbox
    x0, x1 = _tile_x(west, z), _tile_x(east, z)
    y0, y1 = _tile_y(north, z), _tile_y(south, z)
    return [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def random_tiles(
    bbox: Sequence[float], zooms: Iterable[int], count: int, *, seed: int
) -> list[Tile]:
    """``count`` distinct random tiles over a box, zooms drawn evenly from ``zooms``."""
    rng = random.Random(seed)
    levels = list(zooms)
    west, south, east, north = bbox
    chosen: dict[Tile, None] = {}
    while len(chosen) < count:
        z = levels[len(chosen) % len(levels)]
        lon, lat = rng.uniform(west, east), rng.uniform(south, north)
        chosen[(z, _tile_x(lon, z), _tile_y(lat, z))] = None
    return list(chosen)


def _tile_x(lon: float, z: int) -> int:
    n = 1 << z
    return min(max(int((lon + 180.0) / 360.0 * n), 0), n - 1)


def _tile_y(lat: float, z: int) -> int:
    n = 1 << z
    rad = math.radians(lat)
    y = (1.0 - math.log(math.tan(rad) + 1.0 / math.cos(rad)) / math.pi) / 2.0 * n
    return min(max(int(y), 0), n - 1)


@dataclass(frozen=True)
class TileFigures:
    """Uncached tiles of one layer and zoom."""

    layer: str
    zoom: int
    count: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    max_kb: float
    mean_kb: float


def sweep(url: str, layer: str, tiles: Sequence[Tile], *, query: str = "") -> list[TileFigures]:
    """Ask for every tile once (uncached) and summarise time and size per zoom."""
    times: dict[int, list[float]] = {}
    sizes: dict[int, list[int]] = {}
    suffix = f"?{query}" if query else ""
    for z, x, y in tiles:
        seconds, body = fetch(f"{url}/tiles/{layer}/{z}/{x}/{y}.mvt{suffix}")
        times.setdefault(z, []).append(seconds)
        sizes.setdefault(z, []).append(len(body))
    figures = []
    for z in sorted(times):
        ms = np.asarray(times[z]) * 1e3
        kb = np.asarray(sizes[z]) / 1e3
        figures.append(TileFigures(layer, z, ms.size, float(np.percentile(ms, 50)),
                                   float(np.percentile(ms, 95)), float(ms.max()),
                                   float(kb.max()), float(kb.mean())))  # fmt: skip
    return figures


@dataclass(frozen=True)
class Memory:
    """Memory of a process and its children, in MB."""

    rss: float
    pss: float
    processes: int


def memory(pid: int, *, children: bool = True) -> Memory:
    """RSS and PSS (``/proc/PID/smaps_rollup``) of a process plus, by default, its children."""
    pids = [pid, *(_children(pid) if children else [])]
    rss = pss = 0.0
    for one in pids:
        fields = _rollup(one)
        rss += fields.get("Rss", 0.0)
        pss += fields.get("Pss", 0.0)
    return Memory(rss / 1024, pss / 1024, len(pids))


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(p) for p in found.read_text().split()]
    except OSError:
        return []


def _rollup(pid: int) -> dict[str, float]:
    """Fields of ``smaps_rollup`` in kB."""
    out: dict[str, float] = {}
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return out
    for line in lines[1:]:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[name.strip()] = float(parts[0])
    return out
