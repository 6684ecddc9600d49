"""Benchmark of the vector tiles: the MVT encoder and the tile server under load.

Measured on a synthetic network (see :mod:`bench.synthetic`, default 100k reaches):

- **uncached MVT encode**: one tile of about 100 features and 5,000 vertices (the busiest
  zoom-9/10 tile of the network, its reaches clipped to the tile and meandered to 50 vertices
  each), encoded by :func:`~rivernet.layers.mvt.encode_layer` (clip, generalise, quantise, encode)
  and by
  ``mapbox_vector_tile.encode`` (quantise, encode) from the same shapely geometries and
  properties; p50 over repeated runs; targets p50 <= 5 ms and at least 3x faster. Both tiles are
  decoded and must hold the same features.
- **cached tile under load**: one uvicorn worker serving the synthetic project on 127.0.0.1
  (:func:`synthetic_app`), the tile requested once to fill the cache, then ``wrk`` (Debian's
  package) with 32 connections for a bounded time from a separate process, gzip accepted;
  targets >= 1,500 requests/s and p99 < 50 ms. Without ``wrk`` an asyncio HTTP/1.1 client
  (:func:`python_load`) in a separate Python process does the same.

Only 127.0.0.1 is loaded, for ``duration`` seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from bench._report import Row, format_seconds, median_seconds, publish
from bench.synthetic import project_from_reaches, synthetic_network

if TYPE_CHECKING:
    from fastapi import FastAPI

    from rivernet.project import Project

__all__ = [
    "DEFAULT_SIZES",
    "encode_benchmark",
    "load_benchmark",
    "python_load",
    "run",
    "synthetic_app",
]

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SIZES = "100k"
ENCODE_P50_TARGET_S = 0.005
ENCODE_RATIO_TARGET = 3.0
RPS_TARGET = 1500.0
P99_TARGET_S = 0.050
SIZE_ENV = "RIVERNET_BENCH_REACHES"
SEED_ENV = "RIVERNET_BENCH_SEED"
_TARGET_FEATURES = 100
_VERTICES_PER_FEATURE = 50
_STATUS = np.array(["已覆盖", "缺失河长", "重复任命", "任期已满"], dtype=object)


# --- synthetic project ---------------------------------------------------------------------------


def synthetic_reaches(size: int, *, seed: int = 0) -> gpd.GeoDataFrame:
    """The synthetic network's reaches in EPSG:4326, with a Chinese status text column."""
    frame = synthetic_network(size, seed=seed, with_geometry=True)
    rng = np.random.default_rng(seed)
    frame["status"] = _STATUS[rng.integers(0, _STATUS.size, len(frame))]
    return frame


def synthetic_project(size: int, *, seed: int = 0) -> Project:
    """A project (network only; no admin units, lakes or roster) around synthetic reaches."""
    return project_from_reaches(synthetic_reaches(size, seed=seed), seed=seed)


def synthetic_app() -> FastAPI:
    """ASGI factory for ``uvicorn --factory``: the server on a synthetic project.

    The size and seed come from ``RIVERNET_BENCH_REACHES`` and ``RIVERNET_BENCH_SEED``.
    """
    from rivernet.server import create_app
    from rivernet.server.settings import Settings

    size = int(os.environ.get(SIZE_ENV, "100000"))
    seed = int(os.environ.get(SEED_ENV, "0"))
    return create_app(Settings(), project=synthetic_project(size, seed=seed))


# --- the encode benchmark ------------------------------------------------------------------------


def busiest_tile(reaches: gpd.GeoDataFrame, *, features: int = _TARGET_FEATURES) -> Any:
    """The zoom-9 or zoom-10 tile whose reach count is closest to ``features``."""
    import morecantile

    tms = morecantile.tms.get("WebMercatorQuad")
    middle = shapely.line_interpolate_point(reaches.geometry.values, 0.5, normalized=True)
    points = shapely.get_coordinates(middle)
    best: Any = None
    for zoom in (9, 10):
        tiles = [tms.tile(x, y, zoom) for x, y in points[:: max(1, len(points) // 5000)]]
        keys, counts = np.unique([(t.x, t.y) for t in tiles], axis=0, return_counts=True)
        scale = len(points) / len(tiles)
        i = int(np.argmax(counts))
        x, y = (int(v) for v in keys[i])
        candidate = (abs(counts[i] * scale - features), morecantile.Tile(x, y, zoom))
        if best is None or candidate[0] < best[0]:
            best = candidate
    return best[1]


def encode_inputs(
    reaches: gpd.GeoDataFrame, *, seed: int = 0
) -> tuple[np.ndarray, pd.DataFrame, tuple[float, float, float, float]]:
    """About 100 meandering features of about 50 vertices in the busiest tile (EPSG:3857)."""
    import morecantile

    tms = morecantile.tms.get("WebMercatorQuad")
    tile = busiest_tile(reaches)
    b = tms.xy_bounds(tile)
    bounds = (b.left, b.bottom, b.right, b.top)
    mercator = reaches.to_crs(3857)
    inside = mercator[mercator.intersects(shapely.box(*bounds))]
    inside = inside.iloc[:_TARGET_FEATURES]
    lines = shapely.clip_by_rect(inside.geometry.values, *bounds)
    rng = np.random.default_rng(seed)
    pixel = (bounds[2] - bounds[0]) / 512
    meandered = []
    for line in lines:
        parts = shapely.get_parts(line)
        main = max(parts, key=lambda g: g.length) if len(parts) else line
        along = np.linspace(0, main.length, _VERTICES_PER_FEATURE)
        xy = shapely.get_coordinates(shapely.line_interpolate_point(main, along))
        xy[1:-1] += rng.normal(0, 3 * pixel, (len(xy) - 2, 2))
        meandered.append(shapely.LineString(xy))
    props = pd.DataFrame(
        {
            "reach_id": inside["reach_id"].to_numpy(),
            "downstream_id": inside["downstream_id"].to_numpy(),
            "length_km": inside["length_km"].to_numpy(),
            "status": inside["status"].to_numpy(),
        }
    )
    return np.array(meandered, dtype=object), props, bounds


def _p50(function: Any, *, runs: int) -> float:
    """Median seconds of ``runs`` calls after one warm-up (garbage collector off, as timeit)."""
    function()
    return median_seconds(function, repeat=runs, collect_each=False)[0]


def encode_benchmark(reaches: gpd.GeoDataFrame, *, size: int, runs: int = 200) -> list[Row]:
    """Our encoder against mapbox-vector-tile on the same ~100 features / ~5k vertices.

    Two rows: the server's path on a tile-cache miss
    (:meth:`~rivernet.layers.mvt.TileLayer.encode` of a
    prepared layer: STR-tree query, clip, encode; the zoom's generalisation is computed once
    per layer and zoom, so it is warmed up first), which carries the targets, and the one-shot
    :func:`rivernet.layers.mvt.encode_layer` that also simplifies the features on every call (for
    information).
    """
    import mapbox_vector_tile

    from rivernet.layers.mvt import TileLayer, encode_layer

    geoms, props, bounds = encode_inputs(reaches)
    records = props.to_dict("records")
    features = [{"geometry": g, "properties": r} for g, r in zip(geoms, records, strict=True)]
    prepared = TileLayer.from_frame(
        "reaches", gpd.GeoDataFrame(props, geometry=list(geoms), crs=3857)
    )

    def server_path() -> bytes:
        return prepared.encode(bounds)

    def one_shot() -> bytes:
        return encode_layer("reaches", geoms, props, bounds=bounds)

    def theirs() -> bytes:
        with warnings.catch_warnings():  # its quantisation uses deprecated shapely.ops.transform
            warnings.simplefilter("ignore", DeprecationWarning)
            return mapbox_vector_tile.encode(
                {"name": "reaches", "features": features},
                default_options={"quantize_bounds": bounds},
            )

    theirs_s = _p50(theirs, runs=max(10, runs // 10))
    reference = _ids(mapbox_vector_tile.decode(theirs()))
    vertices = int(shapely.get_num_coordinates(geoms).sum())
    baseline = f"{format_seconds(theirs_s)} (mapbox-vector-tile)"
    rows = []
    for label, function, target in (
        ("TileLayer.encode, server path", server_path, True),
        ("encode_layer incl. simplify", one_shot, False),
    ):
        ours_s = _p50(function, runs=runs)
        ratio = theirs_s / ours_s
        met = ratio >= ENCODE_RATIO_TARGET and ours_s <= ENCODE_P50_TARGET_S
        rows.append(
            Row(
                f"MVT tile uncached, {len(geoms)} features / {vertices} vertices, p50: {label}",
                size,
                format_seconds(ours_s),
                baseline,
                ratio,
                ">= 3x, p50 <= 5 ms" if target else "(info)",
                met if target else None,
                _ids(mapbox_vector_tile.decode(function())) == reference,
                {"ours_s": ours_s, "theirs_s": theirs_s, "vertices": vertices},
            )
        )
    return rows


def _ids(decoded: dict[str, Any]) -> list[int]:
    """Sorted reach ids of a decoded tile."""
    return sorted(f["properties"]["reach_id"] for f in decoded["reaches"]["features"])


# --- the load benchmark --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, process: subprocess.Popen[bytes], *, timeout_s: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the benchmark server exited; run it by hand to see why")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the benchmark server did not answer {url} within {timeout_s:.0f} s")


def load_benchmark(
    tile_path: str, *, size: int, seed: int, duration_s: float, connections: int
) -> list[Row]:
    """Requests/s and p99 of one cached tile on one uvicorn worker, loaded from outside."""
    import httpx

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, SIZE_ENV: str(size), SEED_ENV: str(seed)}
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "bench.tiles:synthetic_app",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        _wait_ready(f"{base}/tiles/reaches/tilejson.json", process, timeout_s=300)
        url = f"{base}{tile_path}"
        warm = httpx.get(url, headers={"Accept-Encoding": "gzip"}, timeout=60)
        if warm.status_code != 200 or not warm.content:
            raise RuntimeError(f"{url} answered {warm.status_code} with {len(warm.content)} bytes")
        logger.info("tile %s: %d bytes gzipped", tile_path, len(warm.content))
        if shutil.which("wrk"):
            tool, rps, p99, errors = ("wrk", *_wrk(url, duration_s, connections))
        else:
            tool, rps, p99, errors = (
                "python asyncio client",
                *_python(url, duration_s, connections),
            )
    finally:
        process.terminate()
        process.wait(timeout=30)
    details = {"tool": tool, "rps": rps, "p99_s": p99, "errors": errors, "url": tile_path}
    return [
        Row(f"cached tile, {connections} connections, 1 worker ({tool}), req/s", size,
            f"{rps:,.0f} req/s", "—", None, ">= 1,500 req/s", rps >= RPS_TARGET, errors == 0,
            details),
        Row("cached tile, p99 latency", size, format_seconds(p99), "—", None, "< 50 ms",
            p99 < P99_TARGET_S, errors == 0, details),
    ]  # fmt: skip


def _wrk(url: str, duration_s: float, connections: int) -> tuple[float, float, int]:
    """Run wrk; return requests/s, p99 in seconds and the count of failed responses."""
    command = [
        "wrk", "-t2", f"-c{connections}", f"-d{max(1, round(duration_s))}s", "--latency",
        "-H", "Accept-Encoding: gzip", url,
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    logger.info("wrk output:\n%s", output)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p99 = _duration(re.search(r"99%\s+([\d.]+\w+)", output).group(1))  # type: ignore[union-attr]
    failed = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors:.*", output)
    errors = int(failed.group(1)) if failed else 0
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(0)))
    return rps, p99, errors


def _duration(text: str) -> float:
    """A wrk duration (``812.00us``, ``3.25ms``, ``1.02s``) in seconds."""
    number, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def _python(url: str, duration_s: float, connections: int) -> tuple[float, float, int]:
    """Run :func:`python_load` in a separate Python process."""
    code = (
        "import json, sys; from bench.tiles import python_load; "
        "print(json.dumps(python_load(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]))))"
    )
    command = [sys.executable, "-c", code, url, str(duration_s), str(connections)]
    output = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    result = json.loads(output.stdout)
    return float(result["rps"]), float(result["p99_s"]), int(result["errors"])


def python_load(url: str, duration_s: float, connections: int) -> dict[str, float]:
    """Keep-alive HTTP/1.1 GETs of ``url`` on ``connections`` sockets for ``duration_s``.

    Returns
    -------
    dict
        ``rps``, ``p99_s`` and ``errors`` (non-200 answers).
    """
    return asyncio.run(_load(url, duration_s, connections))


async def _load(url: str, duration_s: float, connections: int) -> dict[str, float]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept-Encoding: gzip\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    errors = 0
    end = time.perf_counter() + duration_s

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        while time.perf_counter() < end:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"content-length:\s*(\d+)", head, re.IGNORECASE)
            await reader.readexactly(int(length.group(1)) if length else 0)
            latencies.append(time.perf_counter() - start)
            errors += not head.startswith(b"HTTP/1.1 200")
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, math.ceil(0.99 * len(latencies)) - 1)]
    return {"rps": len(latencies) / elapsed, "p99_s": p99, "errors": errors}


# --- entry point ---------------------------------------------------------------------------------


def run(
    sizes: list[int],
    *,
    repeat: int = 3,
    seed: int = 0,
    duration_s: float = 10.0,
    connections: int = 32,
    results_dir: Path | None = None,
) -> tuple[list[Row], Path]:
    """Run both benchmarks at every size, print the table and write the JSON file.

    Parameters
    ----------
    sizes
        Reaches in the synthetic networks (the targets are stated at 100k).
    repeat
        Scales the timed encoder runs (``100 * repeat``; the p50 is reported).
    seed
        Seed of the synthetic networks.
    duration_s
        Length of each load test in seconds.
    connections
        Concurrent connections of the load generator.
    results_dir
        Where to write the JSON file; default ``bench/results``.

    Returns
    -------
    tuple
        The table rows and the path of the JSON file.
    """
    rows: list[Row] = []
    for size in sizes:
        logger.info("building %d synthetic reaches", size)
        reaches = synthetic_reaches(size, seed=seed)
        rows += encode_benchmark(reaches, size=size, runs=100 * repeat)
        tile = busiest_tile(reaches)
        path = f"/tiles/reaches/{tile.z}/{tile.x}/{tile.y}.mvt"
        logger.info("load test of %s for %.0f s", path, duration_s)
        rows += load_benchmark(
            path, size=size, seed=seed, duration_s=duration_s, connections=connections
        )
    settings = {
        "sizes": sizes,
        "repeat": repeat,
        "seed": seed,
        "duration_s": duration_s,
        "connections": connections,
    }
    written = publish("tiles", rows, settings, directory=results_dir)
    return rows, written
