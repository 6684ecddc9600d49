"""Load test of the map server: cheap routes stay fast while expensive ones run.

``python -m bench load [--duration 60] [--clients 64]`` starts ``rivernet serve`` on the Taihu
sample in a subprocess on a free 127.0.0.1 port, warms a set of tiles and the first items page,
then runs a load generator in a *separate* process (asyncio, one keep-alive HTTP/1.1 connection
per client, so that the client's own overhead stays small) for ``--duration`` seconds with
``--clients`` concurrent clients over a mix of

- cheap routes: cached vector tiles, ``/conformance``, the first items page;
- expensive routes: uncached tiles (random z/x/y over the sample, coverage by level), items pages
  at random offsets, navigation (UT/DM) from random reaches, and coverage summaries as of random
  dates (each new date is a new audit).

It reports per route class the requests, errors, p50/p95/p99 latency, and passes when there is no
error and the p99 of every cheap class is under 100 ms. Traffic goes only to 127.0.0.1; the run is
bounded in time (and so in requests); the server and the generator are stopped at the end.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from bench._report import Row, format_seconds, publish

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "taihu.gpkg"
DEFAULT_SIZES = "2082"  # the sample's reaches (informational: the sample is always served)
DURATION_S = 60.0
CLIENTS = 64
CHEAP_P99_S = 0.100
CHEAP = ("cached tile", "conformance", "items page 1")
MIX = (  # route class, weight
    ("cached tile", 25),
    ("conformance", 10),
    ("items page 1", 15),
    ("uncached tile", 15),
    ("items page", 10),
    ("navigation", 10),
    ("coverage summary", 15),
)
BOUNDS = (118.91, 30.32, 121.26, 31.85)  # lon/lat extent of the sample's rivers
CACHED_TILES = [f"/tiles/reaches/9/{x}/{y}.mvt" for x in range(424, 428) for y in range(208, 213)]


def run(
    sizes: list[int],
    *,
    repeat: int = 1,
    seed: int = 0,
    duration: float = DURATION_S,
    clients: int = CLIENTS,
    results_dir: Path | None = None,
) -> tuple[list[Row], Path]:
    """Serve the sample, load it, print the table and write the JSON file.

    Parameters
    ----------
    sizes
        Ignored (the sample is served); kept for the benchmark interface.
    repeat
        Ignored (one timed run).
    seed
        Seed of the request mix.
    duration
        Seconds of load.
    clients
        Concurrent clients.
    results_dir
        Where to write the JSON file; default ``bench/results``.

    Returns
    -------
    tuple
        The table rows and the path of the JSON file.
    """
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _start_server(port)
    try:
        _wait_until_up(base, server)
        reaches = _reach_ids(base)
        for path in [*CACHED_TILES, "/collections/reaches/items?limit=10"]:
            _get(base + path)  # warm: these are the cached routes
        logger.info("load: %d clients for %.0f s against %s", clients, duration, base)
        samples = _generate(base, duration=duration, clients=clients, seed=seed, reaches=reaches)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    rows = _rows(samples, duration=duration)
    settings = {"duration_s": duration, "clients": clients, "seed": seed,
                "mix": dict(MIX), "project": str(SAMPLE)}  # fmt: skip
    notes = (  # the table's size column is the number of requests
        f"{clients} clients for {duration:g} s, separate load-generator process, 127.0.0.1. "
        f"Cheap routes ({', '.join(CHEAP)}) must keep p99 < {CHEAP_P99_S * 1000:g} ms while the "
        "expensive ones run; no request may fail."
    )
    written = publish("load", rows, settings, directory=results_dir, notes=notes)
    return rows, written


def _rows(samples: list[tuple[str, int, float]], *, duration: float) -> list[Row]:
    rows = []
    total = len(samples)
    for name, _ in MIX:
        latencies = np.array([s for c, _, s in samples if c == name])
        errors = sum(1 for c, status, _ in samples if c == name and status >= 400)
        if not len(latencies):
            continue
        p50, p95, p99 = (float(np.percentile(latencies, q)) for q in (50, 95, 99))
        cheap = name in CHEAP
        details = {"requests": len(latencies), "errors": errors, "p50_s": p50, "p95_s": p95,
                   "p99_s": p99, "max_s": float(latencies.max()),
                   "per_s": len(latencies) / duration}  # fmt: skip
        target = f"p99 < {CHEAP_P99_S * 1000:g} ms, 0 errors" if cheap else "0 errors"
        passed = errors == 0 and (p99 < CHEAP_P99_S if cheap else True)
        label = (f"{name}: {len(latencies)} req, {errors} err, p50 (p95 {format_seconds(p95)}, "
                 f"p99 {format_seconds(p99)})")  # fmt: skip
        rows.append(Row(label, total, format_seconds(p50), "—", None, target, passed,
                        details=details))  # fmt: skip
    return rows


# --- the server ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", "from rivernet.cli import main; main()", "serve",
               str(SAMPLE), "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    env = {**os.environ, "RIVERNET_RELOAD_INTERVAL": "2"}
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


def _wait_until_up(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("rivernet serve exited at start-up")
        try:
            _get(base + "/conformance")
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("rivernet serve did not start within 120 s")


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as response:  # 127.0.0.1 only
        return bytes(response.read())


def _reach_ids(base: str) -> list[int]:
    page = json.loads(_get(base + "/collections/reaches/items?limit=100000&f=json"))
    return [int(feature["id"]) for feature in page["features"]]


# --- the load generator (a separate process) -----------------------------------------------------


def _generate(
    base: str, *, duration: float, clients: int, seed: int, reaches: list[int]
) -> list[tuple[str, int, float]]:
    """Run the generator process and read its samples: (class, status, seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.json"
        out = Path(tmp) / "samples.json"
        config.write_text(json.dumps({"base": base, "duration": duration, "clients": clients,
                                      "seed": seed, "reaches": reaches}))  # fmt: skip
        command = [sys.executable, "-m", "bench.load", str(config), str(out)]
        subprocess.run(command, cwd=ROOT, check=True, timeout=duration + 300)
        samples: list[tuple[str, int, float]] = [tuple(s) for s in json.loads(out.read_text())]
    return samples


def _request_path(rng: random.Random, name: str, reaches: list[int]) -> str:
    if name == "cached tile":
        return rng.choice(CACHED_TILES)
    if name == "conformance":
        return "/conformance"
    if name == "items page 1":
        return "/collections/reaches/items?limit=10"
    if name == "items page":
        return f"/collections/reaches/items?limit=100&offset={rng.randrange(0, 2000)}"
    if name == "navigation":
        return f"/reaches/{rng.choice(reaches)}/navigation/{rng.choice(['UT', 'DM'])}"
    if name == "coverage summary":
        day = np.datetime64("2021-01-01") + rng.randrange(0, 5 * 365)
        return f"/coverage/summary?datetime={day}"
    z = rng.randrange(8, 14)
    lon = rng.uniform(BOUNDS[0], BOUNDS[2])
    lat = rng.uniform(BOUNDS[1], BOUNDS[3])
    x, y = _tile(lon, lat, z)
    level = rng.choice(["city", "county", "township"])
    return f"/tiles/coverage/{z}/{x}/{y}.mvt?level={level}&datetime=2025-06-30"


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - np.arcsinh(np.tan(np.radians(lat))) / np.pi) / 2 * n)
    return x, y


async def _client(
    host: str, port: int, deadline: float, rng: random.Random, reaches: list[int],
    samples: list[tuple[str, int, float]],
) -> None:  # fmt: skip
    names = [name for name, _ in MIX]
    weights = [weight for _, weight in MIX]
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            name = rng.choices(names, weights)[0]
            path = _request_path(rng, name, reaches)
            request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
            start = time.perf_counter()
            writer.write(request)
            status = await _read_response(reader)
            samples.append((name, status, time.perf_counter() - start))
    finally:
        writer.close()


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response (Content-Length or chunked); return its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    pairs = (line.partition(":") for line in lines[1:])
    headers = {name.strip().lower(): value.strip() for name, _, value in pairs}
    if headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(int(headers.get("content-length", "0")))
    return status


async def _load(config: dict[str, Any]) -> list[tuple[str, int, float]]:
    host, port = config["base"].removeprefix("http://").split(":")
    deadline = time.perf_counter() + float(config["duration"])
    samples: list[tuple[str, int, float]] = []
    tasks = [
        _client(host, int(port), deadline, random.Random(config["seed"] * 1000 + n),
                config["reaches"], samples)
        for n in range(int(config["clients"]))
    ]  # fmt: skip
    await asyncio.gather(*tasks)
    return samples


def main(argv: list[str]) -> None:
    """The generator process: ``python -m bench.load CONFIG.json OUT.json``."""
    config = json.loads(Path(argv[0]).read_text())
    samples = asyncio.run(_load(config))
    Path(argv[1]).write_text(json.dumps(samples))


if __name__ == "__main__":
    main(sys.argv[1:])
