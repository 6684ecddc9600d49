"""``python -m bench national``: a million reaches end to end (issue 13), in one table.

The national project is the project's own generator at national size:
``synthetic_network(1_000_000, seed=1, with_geometry=True, bbox=NATIONAL_BBOX)`` plus
``synthetic_admin_polygons(30, 3000, bbox=NATIONAL_BBOX, seed=1)`` in one GeoPackage, built once
into a cache folder (:func:`national_project`; ``--cache DIR``, default ``$RIVERNET_BENCH_CACHE``
or ``~/.cache/rivernet-bench``) and reused. Measured side by side with the targets:

- **start-up**: ``rivernet serve`` as a real process until its first tile answers;
- **tiles**: every tile of z0-z8 over China, then 1,000 random z9-z14 tiles, each asked for
  once (uncached), per layer (reaches, admin units, crossings): p50/p95 time and the largest
  tile per zoom (target p95 <= 100 ms, at most 500 KB);
- **memory**: the server's RSS (and PSS) after the sweep (target <= 1.5 GB);
- **items**: the first ``/collections/reaches/items?limit=100`` (target <= 50 ms);
- **pipeline**: pieces, crossings at province, city and county level, the county jurisdiction
  graph and the coverage audit with a synthetic roster of about 3M assignments (the roster of
  ``python -m bench coverage``), from a cold project (target <= 30 s);
- **PMTiles**: ``rivernet tiles`` of the project's map layers for z0-z10, time and size
  (target: minutes, <= 10 min).

The baseline column quotes the figures measured on the code before issue 13 (issue 13's
"Why" section, one run on this 2-core machine, and the README benchmark table for the pipeline
without the audit); rows without one say so. ``--quick`` sweeps z0-z6 plus 100 random tiles
and exports z0-z8, for a smoke run of a few minutes.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio

from bench._report import Row, format_seconds, publish

__all__ = [
    "NATIONAL_BBOX",
    "NATIONAL_SIZE",
    "national_project",
    "national_roster",
    "run",
]

logger = logging.getLogger(__name__)

NATIONAL_SIZE = 1_000_000
NATIONAL_BBOX = (73.5, 18.0, 134.8, 53.5)
NATIONAL_SEED = 1
DEFAULT_SIZES = "1M"
DEFAULT_SEED = NATIONAL_SEED
TILE_LAYERS = ("reaches", "admin_units", "crossings")
TARGETS = {
    "ready_s": 3.0,
    "rss_mb": 1500.0,
    "tile_p95_ms": 100.0,
    "tile_kb": 500.0,
    "items_ms": 50.0,
    "pipeline_s": 30.0,
    "pmtiles_s": 600.0,
}
ISSUE = "issue 13 (before)"
README = "README table (before)"
# Figures measured on the code before issue 13: (value, unit, source).
BASELINE: dict[str, tuple[str, str]] = {
    "ready": ("11.6 s", ISSUE),
    "rss": ("1.0 GB at start, 3.4 GB after ~12 requests", ISSUE),
    "items": ("3.4 s", ISSUE),
    "tile reaches z3": ("30 MB, 12.2 s (3/6/3)", ISSUE),
    "tile reaches z5": ("2.2 MB, 1.27 s", ISSUE),
    "tile reaches z8": ("3 KB, 1.78 s", ISSUE),
    "tile reaches z10": ("1.85 s", ISSUE),
    "tile crossings z6": ("2.6 s", ISSUE),
    "pipeline": ("pieces+crossings+graph+partners 8.1 s (no audit)", README),
}


# --- the national project ----------------------------------------------------------------------


def default_cache() -> Path:
    """``$RIVERNET_BENCH_CACHE``, else ``~/.cache/rivernet-bench``."""
    return Path(os.environ.get("RIVERNET_BENCH_CACHE", Path.home() / ".cache" / "rivernet-bench"))


def national_project(
    cache: str | Path | None = None,
    *,
    size: int = NATIONAL_SIZE,
    seed: int = NATIONAL_SEED,
    n_counties: int = 3000,
) -> Path:
    """The national project file in ``cache``, built on first use and reused after.

    Parameters
    ----------
    cache
        The cache folder (default :func:`default_cache`).
    size
        Number of reaches.
    seed
        Seed of both generators.
    n_counties
        Counties (in 30 provinces).

    Returns
    -------
    pathlib.Path
        ``national.gpkg`` for the issue's project (1M reaches, seed 1, 3,000 counties), else
        ``national-<size>-s<seed>-c<counties>.gpkg``.
    """
    from bench.synthetic import synthetic_admin_polygons, synthetic_network
    from rivernet._files import replacing

    folder = Path(cache) if cache is not None else default_cache()
    standard = (size, seed, n_counties) == (NATIONAL_SIZE, NATIONAL_SEED, 3000)
    path = folder / ("national.gpkg" if standard else f"national-{size}-s{seed}-c{n_counties}.gpkg")
    if path.exists():
        return path
    logger.info("building %s (%d reaches, %d counties)", path, size, n_counties)
    reaches = synthetic_network(size, seed=seed, with_geometry=True, bbox=NATIONAL_BBOX)
    units = synthetic_admin_polygons(30, n_counties, bbox=NATIONAL_BBOX, seed=seed)
    meta = pd.DataFrame(
        {
            "key": ["format_version", "id_column", "downstream_column", "outlet_values"],
            "value": ["1", "reach_id", "downstream_id", "0"],
        }
    )
    with replacing(path, suffix=".gpkg") as temp:
        temp.unlink()
        pyogrio.write_dataframe(reaches, temp, layer="reaches", driver="GPKG")
        pyogrio.write_dataframe(units, temp, layer="admin_units", driver="GPKG")
        pyogrio.write_dataframe(meta, temp, layer="project_meta", driver="GPKG")
    return path


def national_roster(project: Any, *, seed: int = 0) -> Any:
    """A synthetic roster for ``project``: one chief per piece and required level, with defects.

    The roster of ``python -m bench coverage`` (1 % missing, 0.5 % doubled, 0.5 % expired;
    township and village chiefs on stretches), made from the project's own pieces: about three
    assignments per reach, 3M at a million reaches.
    """
    from bench.coverage import _roster
    from rivernet.boundary import responsibility_pieces

    pieces = pd.DataFrame(responsibility_pieces(project).drop(columns="geometry"))
    pieces = pieces.dropna(subset=["county_code"]).reset_index(drop=True)
    pieces["position"] = project.network.core.position(pieces["reach_id"].to_numpy())
    for column in ("province_code", "city_code", "county_code"):
        pieces[column] = pieces[column].astype(str)
    return _roster(project.network.core, pieces, np.random.default_rng(seed))


# --- the benchmark -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Plan:
    """What one run measures: the sweep's zooms and samples and the export's zooms."""

    sweep_maxzoom: int = 8
    random_tiles: int = 1000
    pmtiles_maxzoom: int = 10

    @classmethod
    def quick(cls) -> Plan:
        """A smoke run: z0-z6, 100 random tiles, export z0-z8."""
        return cls(sweep_maxzoom=6, random_tiles=100, pmtiles_maxzoom=8)


def run(
    sizes: list[int],
    *,
    repeat: int = 1,
    seed: int = NATIONAL_SEED,
    quick: bool = False,
    cache: Path | None = None,
    results_dir: Path | None = None,
) -> tuple[list[Row], Path]:
    """Measure the national project (see the module docstring), print the table, write JSON.

    Parameters
    ----------
    sizes
        Numbers of reaches (one project each; the issue's is 1M).
    repeat
        Unused (every figure is one run of a cold server or project, as a user meets it).
    seed
        Seed of the synthetic project.
    quick
        Fewer tiles and zooms (:meth:`Plan.quick`).
    cache
        Cache folder of the project files.
    results_dir
        Where to write the JSON file; default ``bench/results``.

    Returns
    -------
    tuple
        The rows and the JSON file.
    """
    plan = Plan.quick() if quick else Plan()
    rows: list[Row] = []
    for size in sizes:
        path = national_project(cache, size=size, seed=seed)
        rows += _prepared(path, size)
        rows += server_rows(path, size, plan)
        rows += workers_rows(path, size)
        rows += pipeline_rows(path, size)
        rows += pmtiles_rows(path, size, plan)
    folder = str(cache if cache is not None else default_cache())
    settings = {"sizes": sizes, "seed": seed, "plan": dataclasses.asdict(plan), "cache": folder}
    path = publish("national", rows, settings, directory=results_dir, notes=_notes())
    return rows, path


def _prepared(path: Path, size: int) -> list[Row]:
    """``rivernet prepare`` the project (a sidecar already written for the file is reused)."""
    from rivernet.prepare import prepare

    summary = prepare(path)
    took = format_seconds(summary.seconds) if summary.written else "(written before)"
    return [
        Row(operation="rivernet prepare (tile pyramid sidecar)", size=size,
            rivernet=f"{took}, {summary.bytes / 1e6:,.0f} MB", baseline="— (none before)",
            ratio=None, target="—", passed=None,
            details={"seconds": summary.seconds, "bytes": summary.bytes,
                     "layers": summary.layers})
    ]  # fmt: skip


def _notes() -> str:
    sources = sorted({source for _, source in BASELINE.values()})
    return (
        "baseline: the code before issue 13, as quoted from "
        + " and ".join(sources)
        + "; '—' where none was measured. Tiles are uncached: each is asked for once."
    )


def server_rows(path: Path, size: int, plan: Plan) -> list[Row]:
    """Start-up, the tile sweep per layer and zoom, RSS after it, then the first items page."""
    from bench.national_measure import (
        CHINA_BBOX,
        fetch,
        memory,
        random_tiles,
        start_server,
        sweep,
        tiles_over,
    )

    server = start_server(path, port=_free_port())
    try:
        rows = [
            _row("server ready (first tile answered)", size, server.ready_s, "ready",
                 target=TARGETS["ready_s"]),
        ]  # fmt: skip
        loaded_s = server.ready_s + server.wait_loaded()
        rows.append(
            Row(operation="project loaded in the background (every route answers)", size=size,
                rivernet=format_seconds(loaded_s), baseline=_baseline("ready"), ratio=None,
                target="—", passed=None, details={"seconds": loaded_s})
        )  # fmt: skip
        low = [t for z in range(plan.sweep_maxzoom + 1) for t in tiles_over(CHINA_BBOX, z)]
        high = random_tiles(CHINA_BBOX, range(9, 15), plan.random_tiles, seed=0)
        for layer in TILE_LAYERS:
            query = "level=county" if layer == "crossings" else ""
            started = time.perf_counter()
            figures = sweep(server.url, layer, low + high, query=query)
            logger.info(
                "%s: %d tiles in %.0f s", layer, len(low) + len(high), time.perf_counter() - started
            )
            rows += [_tile_row(f, size) for f in figures]
        used = memory(server.process.pid)
        items_s, _ = fetch(f"{server.url}/collections/reaches/items?limit=100")
        rows.append(_row("first items page (limit=100)", size, items_s, "items",
                         target=TARGETS["items_ms"] / 1e3))  # fmt: skip
        rows.append(
            Row(
                operation=f"server RSS after the sweep ({len(low) + len(high)} tiles x "
                f"{len(TILE_LAYERS)} layers)",
                size=size,
                rivernet=f"{used.rss:,.0f} MB (PSS {used.pss:,.0f} MB)",
                baseline=_baseline("rss"),
                ratio=None,
                target=f"<= {TARGETS['rss_mb']:,.0f} MB",
                passed=used.rss <= TARGETS["rss_mb"],
                details=dataclasses.asdict(used),
            )
        )
    finally:
        server.stop()
    return rows


def workers_rows(path: Path, size: int, *, workers: int = 4) -> list[Row]:
    """Memory of ``rivernet serve --workers 4`` against one worker, after the same requests.

    Both serve every reach, admin and crossing tile of z0-z6 over China, 200 random z9-z14
    tiles and the first items page, four times over for the workers (so each one works);
    memory is the PSS of every process (shared pages counted once).
    """
    from bench.national_measure import (
        CHINA_BBOX,
        fetch,
        memory,
        random_tiles,
        start_server,
        sweep,
        tiles_over,
    )

    tiles = [t for z in range(7) for t in tiles_over(CHINA_BBOX, z)]
    tiles += random_tiles(CHINA_BBOX, range(9, 15), 200, seed=1)
    used = {}
    for count in (1, workers):
        server = start_server(path, port=_free_port(), workers=count)
        try:
            server.wait_loaded()
            for _ in range(count):
                fetch(f"{server.url}/collections/reaches/items?limit=100")
                for layer in TILE_LAYERS:
                    query = "level=county" if layer == "crossings" else ""
                    sweep(server.url, layer, tiles, query=query)
            used[count] = memory(server.process.pid)
        finally:
            server.stop()
    one, many = used[1], used[workers]
    ratio = many.pss / one.pss
    return [
        Row(
            operation=f"{workers} workers (--workers {workers}) against one: total PSS",
            size=size,
            rivernet=f"{many.pss:,.0f} MB vs {one.pss:,.0f} MB = {ratio:.2f}x "
            f"(RSS summed {many.rss:,.0f} MB)",
            baseline="— (one process only before)",
            ratio=None,
            target="<= 2x",
            passed=ratio <= 2.0,
            details={"one": dataclasses.asdict(one), "many": dataclasses.asdict(many)},
        )
    ]


def pipeline_rows(path: Path, size: int) -> list[Row]:
    """Pieces, crossings at three levels, the jurisdiction graph and the audit, cold."""
    from bench.coverage import AS_OF, POLICY
    from rivernet.boundary import crossings, responsibility_pieces
    from rivernet.coverage import coverage_summary
    from rivernet.jurisdiction import jurisdiction_graph
    from rivernet.project import open_project

    project = open_project(path)
    roster = national_roster(project)
    project = open_project(path)  # cold: nothing derived yet
    project.roster = roster
    stages: dict[str, float] = {}

    def stage(name: str, call: Callable[[], object]) -> None:
        started = time.perf_counter()
        call()
        stages[name] = time.perf_counter() - started

    stage("pieces", lambda: responsibility_pieces(project))
    for level in ("province", "city", "county"):
        stage(f"crossings {level}", partial(crossings, project, level=level))
    stage("graph county", lambda: jurisdiction_graph(project, level="county"))
    stage("audit", lambda: coverage_summary(project, as_of=AS_OF, policy=POLICY))
    total = sum(stages.values())
    parts = ", ".join(f"{name} {format_seconds(s)}" for name, s in stages.items())
    assignments = len(roster.assignments)
    return [
        Row(
            operation=f"pipeline: pieces, crossings x3, graph, audit ({assignments:,} assignments)",
            size=size,
            rivernet=format_seconds(total),
            baseline=_baseline("pipeline"),
            ratio=None,
            target=f"<= {TARGETS['pipeline_s']:g} s",
            passed=total <= TARGETS["pipeline_s"],
            details={"stages_s": stages, "stages": parts, "assignments": assignments},
        )
    ]


def pmtiles_rows(path: Path, size: int, plan: Plan) -> list[Row]:
    """``rivernet tiles`` of the project's map layers (no roster), z0 to the plan's maxzoom."""
    import tempfile

    from rivernet.layers.pmtiles import write_pmtiles
    from rivernet.project import open_project

    project = open_project(path)
    with tempfile.TemporaryDirectory(dir=path.parent) as folder:
        started = time.perf_counter()
        summary = write_pmtiles(
            project, Path(folder) / "national.pmtiles", maxzoom=plan.pmtiles_maxzoom
        )
        took = time.perf_counter() - started
    return [
        Row(
            operation=f"PMTiles export z0-{plan.pmtiles_maxzoom} ({', '.join(summary.layers)})",
            size=size,
            rivernet=f"{format_seconds(took)}, {summary.bytes / 1e6:,.0f} MB, "
            f"{summary.tiles:,} tiles",
            baseline="— (no export before)",
            ratio=None,
            target=f"<= {TARGETS['pmtiles_s'] / 60:g} min",
            passed=took <= TARGETS["pmtiles_s"],
            details={
                "seconds": took,
                "bytes": summary.bytes,
                "tiles": summary.tiles,
                "unique_tiles": summary.unique_tiles,
            },
        )
    ]


# --- rows --------------------------------------------------------------------------------------


def _tile_row(figures: Any, size: int) -> Row:
    key = f"tile {figures.layer} z{figures.zoom}"
    passed = figures.p95_ms <= TARGETS["tile_p95_ms"] and figures.max_kb <= TARGETS["tile_kb"]
    return Row(
        operation=f"{key} ({figures.count} uncached)",
        size=size,
        rivernet=f"p50 {figures.p50_ms:.0f} ms, p95 {figures.p95_ms:.0f} ms, "
        f"max {figures.max_kb:,.0f} KB",
        baseline=_baseline(key),
        ratio=None,
        target=f"p95 <= {TARGETS['tile_p95_ms']:g} ms, <= {TARGETS['tile_kb']:g} KB",
        passed=passed,
        details=dataclasses.asdict(figures),
    )


def _row(operation: str, size: int, seconds: float, key: str, *, target: float) -> Row:
    return Row(
        operation=operation,
        size=size,
        rivernet=format_seconds(seconds),
        baseline=_baseline(key),
        ratio=None,
        target=f"<= {format_seconds(target)}",
        passed=seconds <= target,
        details={"seconds": seconds},
    )


def _baseline(key: str) -> str:
    found = BASELINE.get(key)
    return f"{found[0]} [{found[1]}]" if found else "—"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
