"""Benchmark of the OGC API Features server: items latency and GeoJSON serialisation.

``python -m bench server [--sizes 100k]`` builds a seeded synthetic network, serves it in
process (FastAPI ``TestClient``, the whole middleware stack included) and measures, side by side:

- ``/collections/reaches/items?limit=100`` at random offsets and in random small bboxes: p50 and
  p99 latency (target p50 <= 15 ms), against serialising the same page per request with
  ``GeoDataFrame.to_json()``;
- GeoJSON of all reaches from cold (fragments built from the frame, then joined) against
  ``GeoDataFrame.to_json()`` (target >= 5x faster), with the answers compared feature by feature;
  and the join of already prepared fragments, which is what a request pays.

The tile benchmarks (cached tiles under load, MVT encoding) live in ``bench/tiles.py``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import shapely

from bench._report import Row, format_seconds, median_seconds, publish
from bench.synthetic import project_from_reaches, synthetic_network
from rivernet.project import Project

logger = logging.getLogger(__name__)

DEFAULT_SIZES = "100k"
ITEMS_TARGET_S = 0.015
SERIALISE_TARGET = 5.0
PAGE = 100
REQUESTS = 300


def run(
    sizes: list[int], *, repeat: int = 3, seed: int = 0, results_dir: Path | None = None
) -> tuple[list[Row], Path]:
    """Run the benchmark at every size, print the table and write the JSON file.

    Parameters
    ----------
    sizes
        Numbers of reaches.
    repeat
        Timed repetitions of the whole-collection serialisation; the median is reported.
    seed
        Seed of the synthetic networks and of the request offsets.
    results_dir
        Where to write the JSON file; default ``bench/results``.

    Returns
    -------
    tuple
        The table rows and the path of the JSON file.
    """
    for name in ("httpx", "httpx2"):  # one log line per request otherwise
        logging.getLogger(name).setLevel(logging.WARNING)
    rows = [row for size in sizes for row in server_benchmark(size, repeat=repeat, seed=seed)]
    settings = {"sizes": sizes, "repeat": repeat, "seed": seed, "page": PAGE,
                "requests": REQUESTS}  # fmt: skip
    path = publish("server", rows, settings, directory=results_dir)
    return rows, path


def synthetic_project(size: int, *, seed: int = 0) -> Project:
    """A project holding a synthetic network of ``size`` reaches (no admin units or lakes)."""
    frame = synthetic_network(size, seed=seed, with_geometry=True)
    return project_from_reaches(frame, seed=seed, secondary=True)


def server_benchmark(size: int, *, repeat: int = 3, seed: int = 0) -> list[Row]:
    """The rows for one network size."""
    logger.info("building a synthetic project of %d reaches", size)
    project = synthetic_project(size, seed=seed)
    frame = project.network.reaches.reset_index()
    rows = _serialisation_rows(frame, repeat=repeat)
    rows += _items_rows(project, frame, seed=seed)
    return rows


def _serialisation_rows(frame: gpd.GeoDataFrame, *, repeat: int) -> list[Row]:
    from rivernet.server.encoding import FeatureTable, output_crs

    crs = output_crs(None)
    everything = np.arange(len(frame))

    def ours() -> bytes:
        table = FeatureTable(frame, id_column="reach_id")
        return b"".join(table.geojson_chunks(everything, crs, members={}))

    logger.info("serialising %d reaches (ours, then GeoDataFrame.to_json)", len(frame))
    ours_s, our_bytes = median_seconds(ours, repeat=repeat)
    theirs_s, their_text = median_seconds(frame.to_json, repeat=repeat)
    correct, checked = _same_features(our_bytes, their_text.encode())
    prepared = FeatureTable(frame, id_column="reach_id")
    prepared.fragments(crs)
    join_s, _ = median_seconds(
        lambda: b"".join(prepared.geojson_chunks(everything, crs, members={})), repeat=repeat
    )
    size = len(frame)
    details = {"ours_s": ours_s, "to_json_s": theirs_s, "join_s": join_s,
               "bytes": len(our_bytes), "features_compared": checked}  # fmt: skip
    ratio = theirs_s / ours_s
    return [
        Row("GeoJSON of all reaches, cold (vs to_json)", size, format_seconds(ours_s),
            format_seconds(theirs_s), ratio, f">= {SERIALISE_TARGET:g}x",
            ratio >= SERIALISE_TARGET, correct, details),
        Row("GeoJSON of all reaches, prepared (vs to_json)", size, format_seconds(join_s),
            format_seconds(theirs_s), theirs_s / join_s, "info", None, correct, details),
    ]  # fmt: skip


def _items_rows(project: Project, frame: gpd.GeoDataFrame, *, seed: int) -> list[Row]:
    from fastapi.testclient import TestClient

    from rivernet.server.app import create_app
    from rivernet.server.settings import Settings

    rng = np.random.default_rng(seed)
    size = len(frame)
    offsets = rng.integers(0, max(size - PAGE, 1), REQUESTS)
    picked = frame.geometry.to_numpy()[rng.integers(0, size, REQUESTS)]
    centres = shapely.get_point(picked, 0)  # the first vertex of random reaches
    boxes = [f"{p.x - 0.05},{p.y - 0.05},{p.x + 0.05},{p.y + 0.05}" for p in centres]
    rows = []
    app = create_app(Settings(), project=project)
    with TestClient(app) as client:
        start = time.perf_counter()
        first = client.get("/collections/reaches/items", params={"limit": PAGE})
        prepare_s = time.perf_counter() - start
        assert first.status_code == 200, first.text
        rows.append(Row("items: first request (prepares the collection)", size,
                        format_seconds(prepare_s), "—", None, "info", None))  # fmt: skip
        pages = [{"limit": PAGE, "offset": int(o)} for o in offsets]
        in_boxes = [{"limit": PAGE, "bbox": b} for b in boxes]
        for label, params in (
            ("items limit=100, random offset", pages),
            ("items limit=100, random 0.1° bbox", in_boxes),
        ):
            ours, correct = _latencies(client, params, frame)
            theirs = _naive_latencies(frame, params)
            p50, p99, base = float(np.median(ours)), float(np.percentile(ours, 99)), float(
                np.median(theirs))  # fmt: skip
            details = {"p50_s": p50, "p99_s": p99, "baseline_p50_s": base,
                       "requests": len(params)}  # fmt: skip
            rows.append(Row(f"{label}: p50 (p99 {format_seconds(p99)})", size,
                            format_seconds(p50), format_seconds(base), base / p50,
                            f"p50 <= {ITEMS_TARGET_S * 1000:g} ms", p50 <= ITEMS_TARGET_S,
                            correct, details))  # fmt: skip
    return rows


def _latencies(
    client: Any, params: list[dict[str, Any]], frame: gpd.GeoDataFrame
) -> tuple[list[float], bool]:
    """Request latencies, and whether spot-checked pages hold the right features.

    An offset page must hold the frame's rows from the offset on; a bbox page must hold
    reaches that intersect the box, as many as intersect it up to the page size.
    """
    times = []
    correct = True
    for number, query in enumerate(params):
        start = time.perf_counter()
        response = client.get("/collections/reaches/items", params=query)
        body = response.content
        times.append(time.perf_counter() - start)
        if response.status_code != 200:
            return times, False
        if number % 50 == 0:
            got = [f["id"] for f in orjson.loads(body)["features"]]
            if "offset" in query:
                correct &= got == _expected_page(frame, query)
            else:
                correct &= _fits_bbox(got, frame, query["bbox"])
    return times, correct


def _expected_page(frame: gpd.GeoDataFrame, query: dict[str, Any]) -> list[Any]:
    return list(frame["reach_id"].iloc[query["offset"] : query["offset"] + PAGE].tolist())


def _fits_bbox(got: list[Any], frame: gpd.GeoDataFrame, bbox: str) -> bool:
    """Whether ``got`` are distinct reaches in ``bbox``, as many as there are up to a page."""
    x0, y0, x1, y1 = map(float, bbox.split(","))
    box = shapely.box(x0, y0, x1, y1)
    inside = set(frame["reach_id"][shapely.intersects(frame.geometry.to_numpy(), box)].tolist())
    return len(set(got)) == len(got) == min(PAGE, len(inside)) and set(got) <= inside


def _naive_latencies(frame: gpd.GeoDataFrame, params: list[dict[str, Any]]) -> list[float]:
    """The baseline: select the page with geopandas and serialise it with to_json()."""
    times = []
    for query in params[:100]:
        start = time.perf_counter()
        if "offset" in query:
            page = frame.iloc[query["offset"] : query["offset"] + PAGE]
        else:
            x0, y0, x1, y1 = map(float, query["bbox"].split(","))
            page = frame.cx[x0:x1, y0:y1].iloc[:PAGE]
        page.to_json().encode()
        times.append(time.perf_counter() - start)
    return times


def _same_features(ours: bytes, theirs: bytes, *, sample: int = 2000) -> tuple[bool, int]:
    """Whether both documents hold the same features (all counted, a sample compared)."""
    mine, reference = orjson.loads(ours)["features"], orjson.loads(theirs)["features"]
    if len(mine) != len(reference):
        return False, 0
    picks = np.linspace(0, len(mine) - 1, min(sample, len(mine))).astype(int)
    for i in picks:
        a, b = mine[i], reference[i]
        if a["properties"] != b["properties"] or a["geometry"]["type"] != b["geometry"]["type"]:
            return False, int(i)
        if not np.allclose(a["geometry"]["coordinates"], b["geometry"]["coordinates"]):
            return False, int(i)
    return True, len(picks)
