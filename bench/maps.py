"""Benchmark of interactive map size and build time: ``rivernet.explore`` against plain folium.

On synthetic reaches (:func:`bench.synthetic.synthetic_network` with geometry), both sides make
a complete, self-contained HTML page of the same lines with a tooltip of the same properties:

- **rivernet**: ``explore(reaches, layer="reaches")`` (offline: Leaflet inlined,
  compact encoding, legend, layer control), then ``get_root().render()``;
- **folium**: ``folium.Map(tiles=None)`` + ``folium.GeoJson(reaches, tooltip=GeoJsonTooltip(...))``
  rendered the same way (its CDN scripts are links, so its page would be larger offline).

Reported: HTML size (target <= 3 MB at 10k reaches) and build time, median of ``repeat`` runs
(target <= 2 s at 10k). Run it as ``python -m bench maps --sizes 10k``; above 100k reaches the
folium baseline is not run. The rivernet page is decoded and checked to hold every reach, drawn
through the input's own vertices, so a small page cannot pass by dropping data.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import shapely

from bench._report import Row, format_seconds, median_seconds, publish
from bench.synthetic import synthetic_network

if TYPE_CHECKING:
    import geopandas as gpd

logger = logging.getLogger(__name__)

TARGET_SIZE = 10_000
SIZE_TARGET_BYTES = 3_000_000
TIME_TARGET_S = 2.0
PROPERTIES = ("reach_id", "length_km")
BASELINE_LIMIT = 100_000


def run(
    sizes: list[int], *, repeat: int = 3, seed: int = 0, results_dir: Path | None = None
) -> tuple[list[Row], Path]:
    """Run the benchmark at every size, print the table and write the JSON file.

    Parameters
    ----------
    sizes
        Numbers of reaches.
    repeat
        Timed repetitions of each side; the median is reported.
    seed
        Seed of the synthetic networks.
    results_dir
        Where to write the JSON file; default ``bench/results``.

    Returns
    -------
    tuple
        The table rows and the path of the JSON file.
    """
    rows = [row for size in sizes for row in maps_benchmark(size, repeat=repeat, seed=seed)]
    settings = {"sizes": sizes, "repeat": repeat, "seed": seed}
    path = publish("maps", rows, settings, directory=results_dir)
    return rows, path


def maps_benchmark(size: int, *, repeat: int = 3, seed: int = 0) -> list[Row]:
    """Size and build-time rows for one network size."""
    reaches = synthetic_network(size, with_geometry=True, seed=seed)
    logger.info(
        "maps: %d reaches, %d vertices", size, len(shapely.get_coordinates(reaches.geometry))
    )
    ours_s, ours_html = median_seconds(lambda: _rivernet_page(reaches), repeat=repeat)
    if size <= BASELINE_LIMIT:
        theirs_s, theirs_html = median_seconds(lambda: _folium_page(reaches), repeat=repeat)
    else:  # folium's GeoJson would take minutes and gigabytes: not run
        theirs_s, theirs_html = math.nan, ""
    ours_b, theirs_b = len(ours_html.encode()), len(theirs_html.encode())
    correct = _holds_every_reach(ours_html, reaches)
    applies = size >= TARGET_SIZE
    return [
        Row(
            operation="explore: HTML size",
            size=size,
            rivernet=_megabytes(ours_b),
            baseline=f"folium GeoJson {_megabytes(theirs_b)}" if theirs_html else "not run",
            ratio=theirs_b / ours_b if theirs_html else None,
            target=f"<= {_megabytes(SIZE_TARGET_BYTES)}",
            passed=ours_b <= SIZE_TARGET_BYTES if applies else None,
            correct=correct,
            details={"rivernet_bytes": ours_b, "folium_bytes": theirs_b},
        ),
        Row(
            operation="explore: build + render",
            size=size,
            rivernet=format_seconds(ours_s),
            baseline=f"folium GeoJson {format_seconds(theirs_s)}" if theirs_html else "not run",
            ratio=theirs_s / ours_s if theirs_html else None,
            target=f"<= {TIME_TARGET_S:g} s",
            passed=ours_s <= TIME_TARGET_S if applies else None,
            correct=correct,
            details={"rivernet_seconds": ours_s, "folium_seconds": theirs_s or None},
        ),
    ]


def _rivernet_page(reaches: gpd.GeoDataFrame) -> str:
    from rivernet.layers.folium import explore

    return str(explore(reaches, layer="reaches").get_root().render())


def _folium_page(reaches: gpd.GeoDataFrame) -> str:
    import folium

    fmap = folium.Map(tiles=None, prefer_canvas=True)
    folium.GeoJson(
        reaches,
        name="reaches",
        style_function=lambda feature: {"color": "#2171b5", "weight": 1.2},
        tooltip=folium.GeoJsonTooltip(fields=list(PROPERTIES)),
    ).add_to(fmap)
    return str(fmap.get_root().render())


def _holds_every_reach(page: str, reaches: gpd.GeoDataFrame) -> bool:
    """Whether the page's reach layer has every reach, drawn through the input's own vertices.

    Simplification may drop vertices (Douglas-Peucker keeps a subset), so every decoded vertex
    must be an input vertex (after the 1e-5 degree quantisation) and every reach must be there.
    """
    import json
    import re

    from rivernet.layers.folium import SCALE, decode_ints

    records = re.findall(r"rivernet\.data\['[^']+'\] = (\{.*?\});</script>", page)
    record = json.loads(records[-1].replace("<\\/", "</"))
    decoded = np.cumsum(decode_ints(record["coords"]).reshape(-1, 2), axis=0)
    original = np.round(shapely.get_coordinates(reaches.geometry.to_numpy()) * SCALE)
    known = set(map(tuple, original.astype(np.int64).tolist()))
    every_vertex_known = all(tuple(v) in known for v in decoded.tolist())
    return bool(record["n"][0] == len(reaches) and every_vertex_known)


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.2f} MB"
