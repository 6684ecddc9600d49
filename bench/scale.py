"""``python -m bench scale``: core build, accumulations and pieces at 1M and 3M reaches.

For each size, a seeded synthetic network with geometry over China's extent
(:func:`bench.synthetic.synthetic_network`, ``NATIONAL_BBOX``) and 3,000 synthetic counties
(:func:`bench.synthetic.synthetic_admin_polygons`), then, each timed once (wall) with the peak
resident memory it added (sampled every 20 ms by a thread; psutil):

- **network + core**: :meth:`RiverNetwork.from_downstream_ids` (metric lengths) and the array
  core (positions, downstream index, orders);
- **accumulations**: upstream length and Strahler order over the core;
- **pieces**: :func:`rivernet.boundary.responsibility_pieces` (cut at province, city and county
  boundaries, with geometry).

Memory per reach is the stage's added peak RSS over the number of reaches, so the figures
extrapolate: a 3M network costs about three times a 1M one, the shape of a linear algorithm.

``--partitioned`` adds the same pieces computed per basin partition with dask-geopandas
(:func:`rivernet.partition.partitioned_pieces`, the ``rivernet[scale]`` extra) at each size,
and checks they are the single run's pieces: the same rows and unit codes exactly, measures
within a micrometre and the same lines (coordinates within 1e-9 degrees, near-repeated
vertices aside): see :func:`same_pieces`.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from bench._report import Row, format_seconds, publish

__all__ = ["run", "same_pieces", "scale_benchmark"]

logger = logging.getLogger(__name__)

DEFAULT_SIZES = "1M,3M"
NATIONAL_BBOX = (73.5, 18.0, 134.8, 53.5)
PARTITIONS = 4
COLUMNS = ("reach_id", "from_m", "to_m", "province_code", "city_code", "county_code", "lake_id")
MEASURES = ("from_m", "to_m")
MEASURE_TOLERANCE_M = 1e-6
COORDINATE_TOLERANCE = 1e-9
T = TypeVar("T")


def run(
    sizes: list[int],
    *,
    repeat: int = 1,
    seed: int = 0,
    partitioned: bool = False,
    results_dir: Path | None = None,
) -> tuple[list[Row], Path]:
    """Measure every size, print the table and write the JSON file.

    Parameters
    ----------
    sizes
        Numbers of reaches.
    repeat
        Unused: every stage runs once (the sizes are the point).
    seed
        Seed of the synthetic data.
    partitioned
        Also run the dask-geopandas partitioned pieces and compare.
    results_dir
        Where to write the JSON file; default ``bench/results``.

    Returns
    -------
    tuple
        The rows and the JSON file.
    """
    rows = [
        row for size in sizes for row in scale_benchmark(size, seed=seed, partitioned=partitioned)
    ]
    settings = {"sizes": sizes, "seed": seed, "partitioned": partitioned}
    return rows, publish("scale", rows, settings, directory=results_dir)


def scale_benchmark(size: int, *, seed: int = 0, partitioned: bool = False) -> list[Row]:
    """The rows of one size (see the module docstring)."""
    from bench.synthetic import synthetic_admin_polygons, synthetic_network
    from rivernet.boundary import responsibility_pieces
    from rivernet.project import Project

    logger.info("%d reaches: generating", size)
    lines = synthetic_network(size, seed=seed, with_geometry=True, bbox=NATIONAL_BBOX)
    units = synthetic_admin_polygons(30, 3000, bbox=NATIONAL_BBOX, seed=seed)
    rows = []
    net, figures = _measured(partial(_network, lines))
    rows.append(_row("network + array core", size, figures))
    del lines
    _, figures = _measured(lambda: (net.core.upstream_length_m(), net.core.strahler_order()))
    rows.append(_row("accumulations: upstream length + Strahler", size, figures))
    project = Project(network=net, admin_units=units, lakes=_no_lakes(), path=Path("scale.gpkg"))
    pieces, figures = _measured(lambda: responsibility_pieces(project))
    rows.append(_row(f"pieces ({len(pieces):,}; 3,000 counties)", size, figures))
    if partitioned:
        from rivernet.partition import partitioned_pieces

        logger.info("%d reaches: partitioned pieces", size)
        parts, figures = _measured(lambda: partitioned_pieces(project, partitions=PARTITIONS))
        agree = same_pieces(pieces, parts)
        rows.append(
            _row(
                f"pieces, {PARTITIONS} basin partitions (dask-geopandas, threads)",
                size,
                figures,
                correct=agree["same"],
                extra=agree,
            )
        )
    return rows


def same_pieces(ours: gpd.GeoDataFrame, theirs: gpd.GeoDataFrame) -> dict[str, Any]:
    """Whether two piece tables are the same pieces.

    Same rows in the same order with the same reach ids, unit codes and lakes exactly, the
    same measures within a micrometre, and the same lines: after dropping vertices within 1e-9
    of the previous one, equal vertex by vertex within 1e-9 (degrees or metres). The
    tolerances only absorb the last digits that vectorised sums round differently in batches
    of another size (seen: 7e-9 m on a 2.7 km reach, 2e-14 degrees, and a cut vertex doubled
    1e-14 away).

    Returns
    -------
    dict
        ``same`` (bool), ``rows`` (both counts), ``attribute_mismatches`` and
        ``geometry_mismatches`` (rows).
    """
    rows = (len(ours), len(theirs))
    if rows[0] != rows[1]:
        return {"same": False, "rows": rows, "attribute_mismatches": None,
                "geometry_mismatches": None}  # fmt: skip
    columns = [c for c in COLUMNS if c in ours.columns and c not in MEASURES]
    left = pd.DataFrame(ours[columns]).reset_index(drop=True)
    right = pd.DataFrame(theirs[columns]).reset_index(drop=True)
    differs = ~((left == right) | (left.isna() & right.isna())).all(axis=1).to_numpy()
    for measure in MEASURES:
        gap = np.abs(ours[measure].to_numpy(float) - theirs[measure].to_numpy(float))
        differs |= ~(gap <= MEASURE_TOLERANCE_M)
    a = shapely.remove_repeated_points(np.asarray(ours.geometry.values), COORDINATE_TOLERANCE)
    b = shapely.remove_repeated_points(np.asarray(theirs.geometry.values), COORDINATE_TOLERANCE)
    geometry = ~shapely.equals_exact(a, b, COORDINATE_TOLERANCE)
    return {
        "same": bool(not differs.any() and not geometry.any()),
        "rows": rows,
        "attribute_mismatches": int(differs.sum()),
        "geometry_mismatches": int(geometry.sum()),
    }


# --- measuring ---------------------------------------------------------------------------------


def _network(lines: gpd.GeoDataFrame) -> Any:
    """The network and its array core, built as open_project builds them."""
    from rivernet.network import RiverNetwork

    net = RiverNetwork.from_downstream_ids(
        lines, id_column="reach_id", downstream_column="downstream_id"
    )
    net.core  # noqa: B018 - built here
    return net


def _no_lakes() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"lake_id": pd.Series(dtype=object)}, geometry=[], crs=4326)


def _measured(call: Callable[[], T]) -> tuple[T, dict[str, float]]:
    """The call's result, its wall seconds and the peak resident memory it added (bytes)."""
    gc.collect()
    with _peak_rss() as peak:
        started = time.perf_counter()
        result = call()
        seconds = time.perf_counter() - started
    return result, {"seconds": seconds, "peak_added_bytes": float(peak[0])}


@contextmanager
def _peak_rss(interval: float = 0.02) -> Iterator[list[int]]:
    """Yield a one-item list holding, when the block ends, the peak RSS above the start."""
    import psutil

    process = psutil.Process()
    start = process.memory_info().rss
    peak = [start]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(interval):
            peak[0] = max(peak[0], process.memory_info().rss)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    result = [0]
    try:
        yield result
    finally:
        done.set()
        thread.join()
        peak[0] = max(peak[0], process.memory_info().rss)
        result[0] = peak[0] - start


def _row(
    operation: str,
    size: int,
    figures: dict[str, float],
    *,
    correct: bool = True,
    extra: dict[str, Any] | None = None,
) -> Row:
    per_reach = figures["peak_added_bytes"] / size
    logger.info("%d reaches: %s %.1f s", size, operation, figures["seconds"])
    return Row(
        operation=operation,
        size=size,
        rivernet=f"{format_seconds(figures['seconds'])}, +{figures['peak_added_bytes'] / 1e6:,.0f}"
        f" MB peak ({per_reach:,.0f} B/reach)",
        baseline="—",
        ratio=None,
        target="identical pieces" if extra is not None else "—",
        passed=None if extra is None else correct,
        correct=correct,
        details={**figures, "bytes_per_reach": per_reach, **(extra or {})},
    )
