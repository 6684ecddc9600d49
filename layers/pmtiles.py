"""Static vector tiles: a PMTiles v3 archive of the map layers, and a static web map around it.

:func:`write_pmtiles` renders the vector tiles the server serves (the same catalog layers, the
same features from :func:`~rivernet.layers.sources.layer_frame`, the same MVT encoder) for a
range of zooms into one `PMTiles <https://github.com/protomaps/PMTiles>`_ v3 archive, written
with the ``pmtiles`` package of Protomaps. Every tile holds all chosen layers (one MVT layer
per catalog layer), so a map reads one archive with one range request per tile, whatever the
number of layers; per-layer archives would multiply the requests and the directory fetches.
Tiles are gzip-compressed; the metadata holds ``vector_layers`` (fields with their types),
the bounds, the zoom range, the attribution (:func:`~rivernet.layers.catalog.data_credits`)
and the date and level the analysis layers were drawn for. GDAL (3.8+) reads the archive as
a vector data source, with one layer per map layer.

Which tiles are written: at each zoom the tiles whose buffered extent meets the bounding box
of some feature (and the requested ``bbox``); those whose tile has no feature left after
clipping are skipped, so the archive holds no empty tile.

:func:`write_site` writes a folder that any static web server can publish: the archive, a
MapLibre style reading it through the ``pmtiles://`` protocol, a small page and the vendored
MapLibre GL JS and pmtiles JS (with their licences). Nothing is fetched from another machine.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from numpy.typing import NDArray

from rivernet import messages
from rivernet._files import replacing
from rivernet.admin import LEVELS
from rivernet.errors import InputError, OutOfRangeError, ProjectFileError
from rivernet.layers.catalog import MAP_LAYERS, Layer, data_credits, identifiers, layer
from rivernet.layers.mvt import BUFFER, EXTENT, TileLayer, ValueTable
from rivernet.layers.sources import DEFAULT_LEVEL, layer_frame
from rivernet.layers.style import maplibre_style

if TYPE_CHECKING:
    from rivernet.project import Project

__all__ = [
    "ARCHIVE_NAME",
    "MAX_ZOOM",
    "ArchiveSummary",
    "archive_layers",
    "pmtiles_style",
    "tile_bounds",
    "write_pmtiles",
    "write_site",
]

logger = logging.getLogger(__name__)

ARCHIVE_NAME = "map.pmtiles"
"""File name of the archive inside a static site."""
MAX_ZOOM = 14
"""Highest zoom an archive may hold (the server's TileJSON maxzoom; maps over-zoom beyond)."""
SITE_ASSETS = Path(__file__).resolve().parents[1] / "server" / "static"
"""The web page's vendored files (MapLibre GL JS, pmtiles JS) and the static-site page.

They are data files shipped with ``rivernet.server``; reading them imports no server code and
no web framework."""
_SITE_FILES = (
    ("vendor/maplibre-gl/maplibre-gl.js", "vendor/maplibre-gl/maplibre-gl.js"),
    ("vendor/maplibre-gl/maplibre-gl.css", "vendor/maplibre-gl/maplibre-gl.css"),
    ("vendor/maplibre-gl/LICENSE.txt", "vendor/maplibre-gl/LICENSE.txt"),
    ("vendor/pmtiles/pmtiles.js", "vendor/pmtiles/pmtiles.js"),
    ("vendor/pmtiles/LICENSE.txt", "vendor/pmtiles/LICENSE.txt"),
    ("site.html", "index.html"),
)
_HALF = 20037508.342789244  # half the Web Mercator world width, metres
_MAX_LAT = 85.0511287798066
_SOURCE = "rivernet"
Bounds = tuple[float, float, float, float]
IntArray = NDArray[np.int64]
Progress = Callable[[int], None]


@dataclass(frozen=True)
class ArchiveSummary:
    """What :func:`write_pmtiles` wrote.

    Attributes
    ----------
    path
        The archive.
    layers
        Ids of the layers in it.
    minzoom, maxzoom
        Zoom range written.
    tiles
        Tiles addressed (non-empty tiles).
    unique_tiles
        Distinct tile contents stored (identical tiles are stored once).
    bytes
        Size of the file.
    bounds
        Longitude/latitude bounds in the header.
    """

    path: Path
    layers: tuple[str, ...]
    minzoom: int
    maxzoom: int
    tiles: int
    unique_tiles: int
    bytes: int
    bounds: Bounds


@dataclass(frozen=True)
class _PreparedLayer:
    """A catalog layer ready to tile: the server's tile function, feature boxes, field types."""

    entry: Layer
    encode: Callable[[int, int, int], bytes]
    boxes: NDArray[np.float64]  # (n, 4) Web Mercator bounds of every feature
    fields: dict[str, str]


# --- public API --------------------------------------------------------------------------------


def archive_layers(project: Project, layers: Sequence[str] | None = None) -> list[Layer]:
    """The map layers an archive of ``project`` holds, in drawing order.

    Parameters
    ----------
    project
        The project.
    layers
        Layer ids; default every drawn layer the project can show (those needing a chief
        roster only when it has one).

    Returns
    -------
    list of Layer
        The catalog layers.

    Raises
    ------
    NotFoundError
        If an id names no catalog layer, or a layer that needs a roster the project lacks.
    InputError
        If an id names a layer that is not drawn on maps.
    """
    if layers is None:
        return [e for e in MAP_LAYERS if project.has_roster or not e.needs_roster]
    chosen = [layer(name.strip()) for name in layers if name.strip()]
    for entry in chosen:
        if not entry.drawn:
            drawn = identifiers(e.id for e in MAP_LAYERS)
            raise InputError.from_key("err_pmtiles.not_drawn", layer=entry.id, drawn=drawn)
        if entry.needs_roster:
            project.require_roster()
    if not chosen:
        raise InputError.from_key("err_pmtiles.no_layer")
    return [e for e in MAP_LAYERS if e in chosen]


def write_pmtiles(
    project: Project,
    path: str | Path,
    *,
    layers: Sequence[str] | None = None,
    minzoom: int = 0,
    maxzoom: int = 12,
    bbox: Sequence[float] | None = None,
    as_of: dt.date | str | None = None,
    level: str = DEFAULT_LEVEL,
    force: bool = False,
    progress: bool = False,
) -> ArchiveSummary:
    """Write the vector tiles of ``project`` for zooms ``minzoom..maxzoom`` to a PMTiles archive.

    Parameters
    ----------
    project
        The project.
    path
        The archive to write (``.pmtiles``); written to a temporary file renamed into place.
    layers
        Map layer ids (default: every layer the project can draw, see :func:`archive_layers`).
    minzoom, maxzoom
        Zoom range, 0 to :data:`MAX_ZOOM`.
    bbox
        ``(west, south, east, north)`` in degrees: only tiles meeting it (default: all data).
    as_of
        Day of the roster for the coverage layers (default today).
    level
        Admin level of the per-level layers (coverage, gaps, crossings, boundary rivers).
    force
        Replace an existing file.
    progress
        Show a progress bar (tqdm) on standard error.

    Returns
    -------
    ArchiveSummary
        What was written.

    Raises
    ------
    ProjectFileError
        If ``path`` exists and ``force`` is false, or cannot be written.
    OutOfRangeError
        If the zoom range or the bounding box is invalid.
    """
    from tqdm import tqdm

    target = Path(path)
    _check_target(target, force=force)
    _check_zooms(minzoom, maxzoom)
    box = _check_bbox(bbox)
    day = _as_of(as_of)
    entries = archive_layers(project, layers)
    prepared = []
    for entry in entries:
        started = time.perf_counter()
        prepared.append(_prepare(project, entry, as_of=day, level=level))
        logger.info("layer %s prepared in %.1f s", entry.id, time.perf_counter() - started)
    plan = {z: _tiles_at(prepared, z, box) for z in range(minzoom, maxzoom + 1)}
    total = sum(len(ids) for ids, _ in plan.values())
    with (
        tqdm(total=total, desc="tiles", unit="tile", disable=not progress) as bar,
        _writing(target),
    ):
        metadata = _metadata(
            project, prepared, minzoom=minzoom, maxzoom=maxzoom, as_of=day, level=level
        )
        bounds = _lonlat_bounds(prepared, box)
        written = _write_archive(
            target, prepared, plan, metadata=metadata, bounds=bounds, advance=bar.update
        )
    logger.info("wrote %s: %d tiles, %d bytes", target, written[0], target.stat().st_size)
    return ArchiveSummary(
        path=target,
        layers=tuple(p.entry.id for p in prepared),
        minzoom=minzoom,
        maxzoom=maxzoom,
        tiles=written[0],
        unique_tiles=written[1],
        bytes=target.stat().st_size,
        bounds=bounds,
    )


def pmtiles_style(
    project: Project,
    entries: Sequence[Layer],
    *,
    archive_url: str = f"pmtiles://{ARCHIVE_NAME}",
    bounds: Bounds | None = None,
    lang: str = "zh",
) -> dict[str, Any]:
    """A MapLibre style drawing ``entries`` from one PMTiles archive.

    The style is :func:`~rivernet.layers.style.maplibre_style` (the server's colours, widths
    and legend) with a single vector source, ``rivernet``, read through the ``pmtiles://``
    protocol; every style layer takes its source-layer from it.

    Parameters
    ----------
    project
        The project (for the attribution).
    entries
        The layers the archive holds.
    archive_url
        The source URL (``pmtiles://`` and the archive's URL, relative to the page or absolute).
    bounds
        Longitude/latitude bounds for the first view.
    lang
        ``"zh"`` or ``"en"`` for the style name.

    Returns
    -------
    dict
        The style document.
    """
    ids = {entry.id for entry in entries}
    hidden = {"reaches"} if "coverage" in ids else set()
    center = zoom = None
    if bounds is not None:
        center = ((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)
        zoom = _fit_zoom(bounds)
    style = maplibre_style(
        lambda entry: archive_url,
        layers=entries,
        visible=ids - hidden,
        name="rivernet 河湖一张图" if lang == "zh" else "rivernet river and lake map",
        center=center,
        zoom=zoom,
    )
    style["sources"] = {
        _SOURCE: {
            "type": "vector",
            "url": archive_url,
            "attribution": data_credits(project, lang=lang),
        }
    }
    for item in style["layers"]:
        if item.get("source") in ids:
            item["source"] = _SOURCE
    style["metadata"]["rivernet:lang"] = lang
    if bounds is not None:
        style["metadata"]["rivernet:bounds"] = list(bounds)
    return style


def write_site(
    project: Project,
    directory: str | Path,
    *,
    force: bool = False,
    lang: str = "zh",
    **options: Any,
) -> ArchiveSummary:
    """Write a static web map of ``project``: archive, style, page and vendored scripts.

    The folder holds ``index.html``, ``style.json``, :data:`ARCHIVE_NAME` and ``vendor/``
    (MapLibre GL JS and pmtiles JS with their licences); publish it from any static web server
    that answers HTTP range requests (nginx, Apache, Caddy, object storage; Python's
    ``http.server`` does not). Nothing is fetched from another machine.

    Parameters
    ----------
    project
        The project.
    directory
        The folder (created if missing; an existing site in it needs ``force``).
    force
        Replace an existing site's files.
    lang
        ``"zh"`` or ``"en"``: language of the style name.
    **options
        Keyword arguments of :func:`write_pmtiles` (layers, zooms, bbox, as_of, level,
        progress).

    Returns
    -------
    ArchiveSummary
        The archive written.

    Raises
    ------
    ProjectFileError
        If the folder cannot be written, or already holds a site and ``force`` is false.
    """
    folder = Path(directory)
    if folder.exists() and not folder.is_dir():
        raise ProjectFileError.from_key("err_pmtiles.site_is_file", folder=str(folder))
    existing = [name for _, name in _SITE_FILES if (folder / name).exists()]
    existing += [n for n in (ARCHIVE_NAME, "style.json") if (folder / n).exists()]
    if existing and not force:
        files = identifiers(sorted(existing)[:3])
        raise ProjectFileError.from_key("err_pmtiles.site_exists", folder=str(folder), files=files)
    _check_folder(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ProjectFileError.from_key(
            "err_pmtiles.cannot_create", folder=str(folder), reason=messages.os_reason(error)
        ) from None
    summary = write_pmtiles(project, folder / ARCHIVE_NAME, force=True, **options)
    entries = [layer(name) for name in summary.layers]
    style = pmtiles_style(project, entries, bounds=summary.bounds, lang=lang)
    _write_bytes(folder / "style.json", json.dumps(style, ensure_ascii=False, indent=1).encode())
    for asset, name in _SITE_FILES:
        _copy(SITE_ASSETS / asset, folder / name)
    for font, name in _font_files():
        _copy(font, folder / name)
    return summary


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with _writing(target), replacing(target, suffix=target.suffix) as temp:
        shutil.copyfile(source, temp)


def _font_files() -> list[tuple[Path, str]]:
    """Noto Sans SC (SIL OFL) from pip and its licence, as the site's ``fonts/`` files.

    The page lists it after the system CJK fonts, so a browser downloads it only when it has
    none (Chinese never shows as boxes); without the pip package the site has no font file.
    """
    from importlib import metadata

    from rivernet.layers.static import pip_font_files

    fonts = pip_font_files()
    if not fonts:
        return []
    files = [(Path(fonts[0]), "fonts/cjk.otf")]
    try:
        distribution = metadata.distribution("pylopdf-fonts-zh-cn")
    except metadata.PackageNotFoundError:
        return files
    for item in distribution.files or ():
        if item.name.upper().startswith(("LICENSE", "OFL")):
            files.append((Path(str(distribution.locate_file(item))), "fonts/LICENSE.txt"))
            break
    return files


def tile_bounds(z: int, x: int, y: int) -> Bounds:
    """Web Mercator bounds ``(minx, miny, maxx, maxy)`` of tile ``z/x/y`` (WebMercatorQuad)."""
    size = 2 * _HALF / (1 << z)
    return (-_HALF + x * size, _HALF - (y + 1) * size, -_HALF + (x + 1) * size, _HALF - y * size)


# --- preparing layers --------------------------------------------------------------------------


def _prepare(project: Project, entry: Layer, *, as_of: dt.date, level: str) -> _PreparedLayer:
    """One layer prepared with the server's tile function, its feature boxes and field types.

    The server draws tiles from the layer's tile pyramid (:mod:`rivernet.layers.pyramid`:
    selection by importance and generalisation per zoom); before that module existed it
    encoded whole layers with :class:`~rivernet.layers.mvt.TileLayer`, which is used then.
    """
    drawn_level = _layer_level(project, entry, level)
    try:
        from rivernet.layers.pyramid import layer_pyramid
    except ImportError:
        frame = layer_frame(project, entry, as_of=as_of, level=drawn_level)
        tiles = TileLayer.from_frame(entry.id, frame)

        def encode(z: int, x: int, y: int) -> bytes:
            return tiles.encode(tile_bounds(z, x, y))

        source: Any = tiles
    else:
        from rivernet.prepare import open_prepared

        prepared = open_prepared(project.path)  # the project's sidecar, when it has one
        source = layer_pyramid(project, entry, as_of=as_of, level=drawn_level, prepared=prepared)
        encode = source.encode
    boxes = getattr(source, "boxes", None)
    boxes = _mercator_boxes(source.geometries) if boxes is None else np.asarray(boxes)
    return _PreparedLayer(entry, encode, boxes,
                          _field_types(source.keys, source.codes, source.values))  # fmt: skip


def _layer_level(project: Project, entry: Layer, level: str) -> str | None:
    """The level a layer is drawn at (as the server's tiles do): None for layers without one;
    for layers cut by unit polygons, the finest polygon level not finer than ``level``."""
    if not entry.by_level:
        return None
    if not entry.polygon_levels_only:
        return level
    units = project.admin_units
    present = set(units["level"].astype(str)) if "level" in units.columns else set()
    polygon_levels = [lv for lv in LEVELS if lv in present]
    if level in polygon_levels or not polygon_levels or level not in LEVELS:
        return level
    coarser = [lv for lv in polygon_levels if LEVELS.index(lv) < LEVELS.index(level)]
    return coarser[-1] if coarser else polygon_levels[0]


def _mercator_boxes(geometries: NDArray[np.object_]) -> NDArray[np.float64]:
    """Bounds of every non-empty feature (Web Mercator, as the tiles are cut)."""
    bounds = shapely.bounds(geometries)
    return np.asarray(bounds[np.isfinite(bounds).all(axis=1)], dtype=np.float64)


def _mercator_y(lat: NDArray[np.float64]) -> NDArray[np.float64]:
    clipped = np.radians(np.clip(lat, -_MAX_LAT, _MAX_LAT))
    return _HALF / math.pi * np.log(np.tan(math.pi / 4 + clipped / 2))


_VALUE_TYPES = {0x0A: "String", 0x15: "Number", 0x19: "Number", 0x20: "Number",
                0x28: "Number", 0x30: "Number", 0x38: "Boolean"}  # fmt: skip
"""MVT ``Value`` field keys (string, float, double, int, uint, sint, bool) -> field type."""


def _field_types(keys: Sequence[str], codes: IntArray, values: ValueTable) -> dict[str, str]:
    """``vector_layers`` field types (Number, Boolean, String, as tippecanoe writes them), read
    from the encoded values the tiles carry: the type of each key's first present value."""
    blob = values.blob
    fields: dict[str, str] = {}
    for k, key in enumerate(keys):
        present = np.flatnonzero(codes[:, k] >= 0)
        if present.size == 0:
            fields[key] = "String"
            continue
        at = int(values.start[codes[present[0], k]]) + 1  # skip the field key 0x22
        while blob[at] & 0x80:  # skip the length varint
            at += 1
        fields[key] = _VALUE_TYPES.get(int(blob[at + 1]), "String")
    return fields


# --- which tiles -------------------------------------------------------------------------------


def _tiles_at(
    prepared: Sequence[_PreparedLayer], z: int, box: Bounds | None
) -> tuple[list[int], IntArray]:
    """PMTiles ids (ascending) and ``(x, y)`` of the tiles at zoom ``z`` that may hold data."""
    from pmtiles.tile import zxy_to_tileid

    keys = [_covered(p.boxes, z) for p in prepared if p.entry.minzoom <= z <= p.entry.maxzoom]
    if not keys:
        return [], np.empty((0, 2), dtype=np.int64)
    key = np.unique(np.concatenate(keys))
    xy = np.stack([key >> 32, key & 0xFFFFFFFF], axis=1)
    if box is not None:
        xy = xy[_meets(xy, z, box)]
    ids = [zxy_to_tileid(z, int(x), int(y)) for x, y in xy]
    order = np.argsort(np.asarray(ids, dtype=np.uint64), kind="stable")
    return [ids[i] for i in order], xy[order]


def _covered(boxes: NDArray[np.float64], z: int) -> IntArray:
    """Keys ``x << 32 | y`` of the tiles whose buffered extent meets a box, at zoom ``z``."""
    n = 1 << z
    size = 2 * _HALF / n
    pad = size * BUFFER / EXTENT
    x0 = np.clip(np.floor((boxes[:, 0] - pad + _HALF) / size), 0, n - 1).astype(np.int64)
    x1 = np.clip(np.floor((boxes[:, 2] + pad + _HALF) / size), 0, n - 1).astype(np.int64)
    y0 = np.clip(np.floor((_HALF - boxes[:, 3] - pad) / size), 0, n - 1).astype(np.int64)
    y1 = np.clip(np.floor((_HALF - boxes[:, 1] + pad) / size), 0, n - 1).astype(np.int64)
    width, height = x1 - x0 + 1, y1 - y0 + 1
    counts = width * height
    owner = np.repeat(np.arange(counts.size), counts)
    local = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    x = x0[owner] + local % width[owner]
    y = y0[owner] + local // width[owner]
    return np.unique((x << 32) | y)


def _meets(xy: IntArray, z: int, box: Bounds) -> NDArray[np.bool_]:
    """Which tiles meet a longitude/latitude box."""
    lon = np.array([box[0], box[2]])
    lat = np.array([box[1], box[3]])
    mx = _HALF * lon / 180.0
    my = _mercator_y(lat)
    size = 2 * _HALF / (1 << z)
    minx = -_HALF + xy[:, 0] * size
    maxy = _HALF - xy[:, 1] * size
    return (minx <= mx[1]) & (minx + size >= mx[0]) & (maxy >= my[0]) & (maxy - size <= my[1])


# --- writing -----------------------------------------------------------------------------------


def _encode(prepared: Sequence[_PreparedLayer], z: int, x: int, y: int) -> bytes:
    """The MVT tile ``z/x/y`` with every layer in its zoom range (layers concatenated)."""
    return b"".join(p.encode(z, x, y) for p in prepared if p.entry.minzoom <= z <= p.entry.maxzoom)


def _write_archive(
    target: Path,
    prepared: Sequence[_PreparedLayer],
    plan: dict[int, tuple[list[int], IntArray]],
    *,
    metadata: dict[str, Any],
    bounds: Bounds,
    advance: Progress,
) -> tuple[int, int]:
    """Encode and store every planned tile; return (tiles addressed, distinct contents)."""
    from pmtiles.tile import Compression, TileType
    from pmtiles.writer import Writer

    written = 0
    with replacing(target, suffix=".pmtiles") as temp, temp.open("wb") as handle:
        writer = Writer(handle)
        try:
            for z, x, y, tile_id in _iterate(plan):
                content = _encode(prepared, z, x, y)
                advance(1)
                if content:
                    writer.write_tile(tile_id, gzip.compress(content, compresslevel=6, mtime=0))
                    written += 1
            if written == 0:
                raise OutOfRangeError.from_key("err_pmtiles.no_tiles")
            unique = len(writer.hash_to_offset)
            writer.finalize(_header(bounds, TileType.MVT, Compression.GZIP), metadata)
        finally:
            writer.tile_f.close()  # the writer's spool file (finalize closes it too)
    return written, unique


def _header(bounds: Bounds, tile_type: Any, compression: Any) -> dict[str, Any]:
    """The header fields the writer does not fill in (it sets zooms and offsets)."""
    west, south, east, north = bounds
    return {
        "tile_type": tile_type,
        "tile_compression": compression,
        "min_lon_e7": round(west * 1e7),
        "min_lat_e7": round(south * 1e7),
        "max_lon_e7": round(east * 1e7),
        "max_lat_e7": round(north * 1e7),
        "center_zoom": _fit_zoom(bounds),
        "center_lon_e7": round((west + east) / 2 * 1e7),
        "center_lat_e7": round((south + north) / 2 * 1e7),
    }


def _metadata(
    project: Project,
    prepared: Sequence[_PreparedLayer],
    *,
    minzoom: int,
    maxzoom: int,
    as_of: dt.date,
    level: str,
) -> dict[str, Any]:
    """The archive's JSON metadata (TileJSON-like, as tippecanoe and GDAL write it)."""
    layers = []
    for p in prepared:
        low, high = max(minzoom, p.entry.minzoom), min(maxzoom, p.entry.maxzoom)
        layers.append({"id": p.entry.id, "description": p.entry.title_zh,
                       "minzoom": low, "maxzoom": max(low, high), "fields": p.fields})  # fmt: skip
    return {
        "name": "rivernet 河湖一张图",
        "description": "rivernet river and lake map (河湖一张图): vector tiles of "
        + ", ".join(p.entry.id for p in prepared),
        "attribution": data_credits(project),
        "version": "1.0.0",
        "type": "overlay",
        "format": "pbf",
        "generator": "rivernet",
        "vector_layers": layers,
        "rivernet:as_of": as_of.isoformat(),
        "rivernet:level": level,
        "rivernet:data_version": str(project.data_version),
    }


def _lonlat_bounds(prepared: Sequence[_PreparedLayer], box: Bounds | None) -> Bounds:
    """Longitude/latitude bounds of the features (within ``box`` when given)."""
    boxes = [p.boxes for p in prepared if len(p.boxes)]
    if not boxes:
        return box or (-180.0, -_MAX_LAT, 180.0, _MAX_LAT)
    merc = np.concatenate(boxes)
    west, east = (float(v) * 180.0 / _HALF for v in (merc[:, 0].min(), merc[:, 2].max()))
    south, north = (math.degrees(2 * math.atan(math.exp(float(v) * math.pi / _HALF)) - math.pi / 2)
                    for v in (merc[:, 1].min(), merc[:, 3].max()))  # fmt: skip
    if box is not None:
        west, south = max(west, box[0]), max(south, box[1])
        east, north = min(east, box[2]), min(north, box[3])
    return (round(west, 6), round(south, 6), round(east, 6), round(north, 6))


def _fit_zoom(bounds: Bounds, *, pixels: int = 800) -> int:
    """The zoom at which ``bounds`` spans about ``pixels`` screen pixels (512-pixel tiles)."""
    span = max(bounds[2] - bounds[0], (bounds[3] - bounds[1]) * 1.2, 1e-6)
    return max(0, min(MAX_ZOOM, math.floor(math.log2(pixels / 512 * 360 / span))))


# --- checks ------------------------------------------------------------------------------------


def _check_target(target: Path, *, force: bool) -> None:
    if target.is_dir():
        raise ProjectFileError.from_key("err_pmtiles.target_is_folder", target=str(target))
    if target.exists() and not force:
        raise ProjectFileError.from_key("err_pmtiles.target_exists", target=str(target))
    _check_folder(target.absolute().parent, create=False)


def _check_folder(folder: Path, *, create: bool = True) -> None:
    """Refuse a folder that cannot be written (one line naming it)."""
    probe = folder
    while not probe.exists() and create and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise ProjectFileError.from_key("err_pmtiles.no_folder", folder=str(folder))
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ProjectFileError.from_key("err_pmtiles.permission", folder=str(folder))


def _write_bytes(target: Path, content: bytes) -> None:
    with _writing(target), replacing(target, suffix=target.suffix) as temp:
        temp.write_bytes(content)


@contextmanager
def _writing(target: Path) -> Iterator[None]:
    """Turn an operating-system error while writing ``target`` into one clear message."""
    try:
        yield
    except OSError as error:
        reason = messages.os_reason(error)
        raise ProjectFileError.from_key(
            "err_pmtiles.write_failed", target=str(target), reason=reason
        ) from None


def _check_zooms(minzoom: int, maxzoom: int) -> None:
    if not 0 <= minzoom <= maxzoom <= MAX_ZOOM:
        raise OutOfRangeError.from_key(
            "err_pmtiles.zoom_range", minzoom=minzoom, maxzoom=maxzoom, max_zoom=MAX_ZOOM
        )


def _check_bbox(bbox: Sequence[float] | None) -> Bounds | None:
    if bbox is None:
        return None
    values = tuple(float(v) for v in bbox)
    if len(values) != 4:
        raise OutOfRangeError.from_key("err_pmtiles.bbox_count", bbox=repr(bbox))
    west, south, east, north = values
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        shown = ",".join(f"{v:g}" for v in values)
        raise OutOfRangeError.from_key("err_pmtiles.bbox_degrees", bbox=shown)
    return (west, south, east, north)


def _as_of(as_of: dt.date | str | None) -> dt.date:
    """The roster day (None: today in China, as everywhere in rivernet)."""
    from rivernet.roster import as_date

    return as_date(as_of)


def _iterate(plan: dict[int, tuple[list[int], IntArray]]) -> Iterator[tuple[int, int, int, int]]:
    """``(z, x, y, tile id)`` of every planned tile, in tile id order."""
    for z, (ids, xy) in plan.items():
        for tile_id, (x, y) in zip(ids, xy, strict=True):
            yield z, int(x), int(y), tile_id
