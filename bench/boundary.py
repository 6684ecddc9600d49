"""Benchmark of the cross-boundary analyses (``rivernet.boundary`` and ``rivernet.joint_control``).

On a seeded synthetic network with geometry (:func:`bench.synthetic.synthetic_network`) and
seeded Voronoi counties grouped into cities and provinces
(:func:`bench.synthetic.synthetic_admin_polygons`, about 3,000 counties in 30 provinces):

- **pieces vs overlay**: :func:`rivernet.responsibility_pieces` (cut at province, city *and*
  county boundaries, with piece geometry) against
  ``geopandas.overlay(reaches, counties, how="intersection")`` (counties only) on the same data
  in the same run; target at least 3x faster. The total length of the pieces must equal the
  geodesic length of the overlay's output (relative difference below 1e-6) and, per county,
  agree within :data:`COUNTY_TOLERANCE_M` (the sides place cut points a little differently),
  or the row says WRONG; the total alone cannot fail, as the pieces of a reach add up to its
  length and the counties tile the data. Both sides are the median of ``repeat`` runs
  (rivernet from a cold cache) with the garbage collector off, as in ``timeit``. The ratio
  uses CPU time (``time.process_time``), which a machine shared with other jobs does not
  distort; wall times are in the JSON file.
- **full chain**: pieces + county-level crossings + jurisdiction graph (with boundary rivers) +
  the partners of every county (partner table), from a cold cache; target under 60 s at 1M
  reaches.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from bench._report import Row, format_seconds, publish, timed
from bench.synthetic import project_from_reaches, synthetic_admin_polygons, synthetic_network
from rivernet import boundary
from rivernet.geometry import line_lengths_m
from rivernet.joint_control import partner_table
from rivernet.jurisdiction import jurisdiction_graph
from rivernet.project import Project

__all__ = ["boundary_benchmark", "run", "synthetic_project"]

logger = logging.getLogger(__name__)

DEFAULT_SIZES = "100k,1M"
OVERLAY_TARGET = 3.0
CHAIN_TARGET_S = 60.0
CHAIN_TARGET_SIZE = 1_000_000
OVERLAY_MAX_SIZE = 200_000  # the overlay baseline is only run up to this size (it is slow)
COUNTY_TOLERANCE_M = 10.0  # per-county length difference allowed (1.8 m seen at 100k reaches)


def synthetic_project(
    n_reaches: int, *, n_provinces: int = 30, n_counties: int = 3000, seed: int = 0
) -> Project:
    """A project with a synthetic network and synthetic admin units, held in memory.

    Parameters
    ----------
    n_reaches
        Number of reaches.
    n_provinces, n_counties
        Size of the admin hierarchy.
    seed
        Seed of both generators.

    Returns
    -------
    rivernet.project.Project
        The project (no lakes, no roster).
    """
    lines = synthetic_network(n_reaches, seed=seed, with_geometry=True)
    units = synthetic_admin_polygons(n_provinces, n_counties, seed=seed)
    project = project_from_reaches(lines, seed=seed, admin_units=units)
    project.network.core  # noqa: B018 - built up front, as open_project does
    return project


def run(
    sizes: list[int], *, repeat: int = 3, seed: int = 0, results_dir: Path | None = None
) -> tuple[list[Row], Path]:
    """Run the benchmark at every size, print the table and write the JSON file.

    Parameters
    ----------
    sizes
        Numbers of reaches.
    repeat
        Timed repetitions of the rivernet operations; the median is reported.
    seed
        Seed of the synthetic data.
    results_dir
        Where to write the JSON file; default ``bench/results``.

    Returns
    -------
    tuple
        The table rows and the path of the JSON file.
    """
    rows = [row for size in sizes for row in boundary_benchmark(size, repeat=repeat, seed=seed)]
    settings = {"sizes": sizes, "repeat": repeat, "seed": seed}
    path = publish("boundary", rows, settings, directory=results_dir, notes=stage_table(rows))
    return rows, path


def boundary_benchmark(size: int, *, repeat: int = 3, seed: int = 0) -> list[Row]:
    """Benchmark one size; see the module docstring.

    Parameters
    ----------
    size
        Number of reaches.
    repeat
        Timed repetitions of the rivernet operations.
    seed
        Seed of the synthetic data.

    Returns
    -------
    list of Row
        The overlay comparison (up to :data:`OVERLAY_MAX_SIZE`) and the full-chain row.
    """
    logger.info("size %s: generating the synthetic project", size)
    project = synthetic_project(size, seed=seed)
    rows = []
    if size <= OVERLAY_MAX_SIZE:
        rows.append(_overlay_row(project, size, repeat))
    rows += _chain_rows(project, size, repeat)
    return rows


def _cold(project: Project) -> None:
    """Forget every cached boundary/partner result of the project."""
    project.results.clear()


def _median(call: Callable[[], object], repeat: int, *, before: Callable[[], object]) -> Any:
    """Median CPU and wall seconds over ``repeat`` calls, and the last result."""
    runs = []
    for _ in range(repeat):
        before()
        runs.append(timed(call))
    cpu = statistics.median(r[0] for r in runs)
    wall = statistics.median(r[1] for r in runs)
    return cpu, wall, runs[-1][2]


def _overlay_row(project: Project, size: int, repeat: int) -> Row:
    reaches = project.network.reaches[["geometry"]].reset_index()
    counties = project.admin_units[project.admin_units["level"] == "county"][["code", "geometry"]]
    logger.info("size %s: pieces and geopandas.overlay, %d runs each", size, repeat)
    ours_cpu, ours_wall, pieces = _median(
        lambda: boundary.responsibility_pieces(project), repeat, before=lambda: _cold(project)
    )
    theirs_cpu, theirs_wall, overlay = _median(
        lambda: gpd.overlay(reaches, counties, how="intersection", keep_geom_type=True),
        repeat,
        before=lambda: None,
    )
    ours_km = float(pieces["length_m"].sum()) / 1000.0
    theirs_km = float(line_lengths_m(overlay.geometry.to_numpy(), project.network.crs).sum()) / 1000
    network_km = float(project.network.reaches["length_m"].sum()) / 1000.0
    county_m = _county_difference_m(pieces, overlay, project)
    correct = abs(ours_km - theirs_km) <= 1e-6 * theirs_km and county_m <= COUNTY_TOLERANCE_M
    ratio = theirs_cpu / ours_cpu
    return Row(
        operation="pieces (3 levels) vs overlay (counties), CPU time",
        size=size,
        rivernet=format_seconds(ours_cpu),
        baseline=format_seconds(theirs_cpu),
        ratio=ratio,
        target=f">= {OVERLAY_TARGET:g}x, equal length",
        passed=ratio >= OVERLAY_TARGET,
        correct=correct,
        details={
            "rivernet_cpu_s": ours_cpu,
            "overlay_cpu_s": theirs_cpu,
            "rivernet_wall_s": ours_wall,
            "overlay_wall_s": theirs_wall,
            "wall_ratio": theirs_wall / ours_wall,
            "pieces": len(pieces),
            "overlay_rows": len(overlay),
            "pieces_km": ours_km,
            "overlay_km": theirs_km,
            "network_km": network_km,
            "max_county_difference_m": county_m,
            "counties": len(counties),
        },
    )


def _county_difference_m(
    pieces: gpd.GeoDataFrame, overlay: gpd.GeoDataFrame, project: Project
) -> float:
    """The largest difference of river length per county between the pieces and the overlay."""
    ours = pieces.groupby("county_code")["length_m"].sum()
    lengths = line_lengths_m(overlay.geometry.to_numpy(), project.network.crs)
    theirs = pd.Series(lengths, index=overlay.index).groupby(overlay["code"]).sum()
    codes = ours.index.union(theirs.index)
    difference = ours.reindex(codes, fill_value=0.0) - theirs.reindex(codes, fill_value=0.0)
    return float(difference.abs().max())


def _chain(project: Project) -> dict[str, float]:
    times: dict[str, float] = {}
    start = time.perf_counter()
    boundary.responsibility_pieces(project)
    times["pieces"] = time.perf_counter() - start
    mark = time.perf_counter()
    found = boundary.crossings(project, level="county")
    times["crossings"] = time.perf_counter() - mark
    mark = time.perf_counter()
    graph = jurisdiction_graph(project, level="county")
    times["graph"] = time.perf_counter() - mark
    mark = time.perf_counter()
    table_ = partner_table(project, level="county")
    times["partners"] = time.perf_counter() - mark
    times["total"] = time.perf_counter() - start
    times["n_crossings"] = float(len(found))
    times["n_edges"] = float(graph.number_of_edges())
    times["n_partner_rows"] = float(len(table_))
    return times


def _chain_rows(project: Project, size: int, repeat: int) -> list[Row]:
    logger.info("size %s: pieces + crossings + graph + partners", size)
    runs = []
    for _ in range(max(1, min(repeat, 2 if size >= CHAIN_TARGET_SIZE else repeat))):
        _cold(project)
        runs.append(timed(lambda: _chain(project))[2])
    total = statistics.median(r["total"] for r in runs)
    best = min(runs, key=lambda r: r["total"])
    applies = size >= CHAIN_TARGET_SIZE
    parts = ", ".join(
        f"{name} {format_seconds(best[name])}"
        for name in ("pieces", "crossings", "graph", "partners")
    )
    logger.info("size %s: %s", size, parts)
    return [
        Row(
            operation="pieces+crossings+graph+partners (county)",
            size=size,
            rivernet=format_seconds(total),
            baseline="—",
            ratio=None,
            target=f"< {CHAIN_TARGET_S:g} s at 1M",
            passed=(total < CHAIN_TARGET_S) if applies else None,
            details={"runs": runs, "stages": parts},
        )
    ]


def stage_table(rows: list[Row]) -> str:
    """The per-stage times of the full-chain rows, one line per size."""
    lines = []
    for row in rows:
        if "stages" in row.details:
            runs = row.details["runs"]
            counts = runs[0]
            lines.append(
                f"{row.size:>9,} reaches: {row.details['stages']}; "
                f"{int(counts['n_crossings']):,} county crossings, "
                f"{int(counts['n_edges']):,} graph edges, "
                f"{int(counts['n_partner_rows']):,} partner rows"
            )
    return "\n".join(lines)
