"""Vector tiles (MVT), raster PNG tiles, TileJSON and the MapLibre style of the catalog layers.

Routes
------
- ``/tiles/{layer}/{z}/{x}/{y}.mvt``: a Mapbox Vector Tile of one catalog layer in the
  WebMercatorQuad tile matrix set (morecantile); the same tile at the OGC API – Tiles path
  ``/collections/{layer}/tiles/WebMercatorQuad/{z}/{y}/{x}`` (row before column, as OGC has it).
- ``/tiles/{layer}/{z}/{x}/{y}.png``: the same features drawn into a 256 x 256 PNG with the
  catalog colours, for clients without vector support.
- ``/tiles/{layer}/tilejson.json``: TileJSON 3.0.0 with absolute URLs (public URL honoured).
- ``/style.json``: a MapLibre style of every available layer, legend in its metadata.

Which layers exist and what their tiles depend on comes from the catalog: level- and
date-dependent layers (coverage, gaps, crossings, boundary rivers) take ``level`` and
``datetime`` query parameters, layers that need a chief roster answer 404 without one, and the
features come from :func:`~rivernet.layers.sources.layer_frame` under the project's coverage
policy, as the ``/collections`` items do, so tile colours always match the API. Vector tiles are
cut from the layer's tile pyramid (:mod:`rivernet.layers.pyramid`: features selected by
importance with a bounded number per tile and generalised per zoom, so a tile of China at
zoom 3 is as quick and small as one of a county), read from the project's prepared sidecar
(``rivernet prepare``) when there is one, else built once per date and level; raster tiles draw
the layer prepared once per data version, date and level. Tiles are kept in an LRU cache with
their gzip form and a strong, content-based ETag, so a cached tile costs a dictionary lookup on
the event loop, and ``If-None-Match`` gets a 304. A missing tile's layer is prepared in the
compute pool and the tile encoded in the render pool, so cached tiles never wait behind them.
Coordinates
outside the tile matrix are answered 404 with a problem+json body.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

import morecantile
import numpy as np
import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from rivernet import messages
from rivernet.admin import LEVELS
from rivernet.errors import NotFoundError, OutOfRangeError
from rivernet.layers.catalog import MAP_LAYERS, Layer, data_credits, layer
from rivernet.layers.mvt import TileLayer
from rivernet.layers.pyramid import LayerPyramid, layer_pyramid, pyramid_key
from rivernet.layers.sources import layer_frame
from rivernet.layers.style import maplibre_style
from rivernet.server.http import (
    PreparedBody,
    absolute_url,
    cached_response,
    openapi_responses,
    send_body,
)
from rivernet.server.params import DatetimeQuery, LevelQuery, as_of_date
from rivernet.server.state import AppState, get_state

__all__ = ["MVT", "TMS", "available_layers", "router"]

if TYPE_CHECKING:  # raster tiles import rasterio (0.2 s) when first drawn, not at start-up
    from rivernet.layers.raster import RasterLayer
    from rivernet.project import Project

router = APIRouter(tags=["tiles"])

TMS = morecantile.tms.get("WebMercatorQuad")
MVT = "application/vnd.mapbox-vector-tile"
PNG = "image/png"
TILE_MAXZOOM = 14
"""Highest zoom written in TileJSON; clients over-zoom beyond it (tiles are still served)."""
_TILE_CACHE = "tiles"

TileKind = Literal["mvt", "png"]
LangQuery = Annotated[Literal["zh", "en"], Query(description="Language of titles: zh or en.")]


@dataclass(frozen=True)
class TileIndex:
    """The tile's position in the WebMercatorQuad matrix set.

    The tile routes take ``z``, ``x`` and ``y`` as plain path parameters rather than through a
    dependency class: FastAPI runs sync dependencies in a worker thread, and that hop per
    request costs cached tiles half their throughput.
    """

    z: int
    x: int
    y: int


@dataclass(frozen=True)
class LayerParams:
    """The as-of date and admin level that analysis layers depend on, from the query."""

    datetime: str | None = None
    level: str = "county"


async def layer_params(datetime: DatetimeQuery = None, level: LevelQuery = "county") -> LayerParams:
    """FastAPI dependency: the date and level query parameters (on the event loop)."""
    return LayerParams(datetime, level)


LayerQuery = Annotated[LayerParams, Depends(layer_params)]
TILE_DOCS = {
    "mvt": openapi_responses({MVT: {"type": "string", "format": "binary"}}, 404, 503),
    "png": openapi_responses({PNG: {"type": "string", "format": "binary"}}, 404, 503),
}
JSON_DOCS = openapi_responses({"application/json": {"type": "object"}}, 404, 503)


@dataclass(frozen=True)
class TileRequest:
    """What a tile depends on: layer, position and (for analysis layers) date and level."""

    layer: Layer
    z: int
    x: int
    y: int
    as_of: dt.date | None
    level: str | None

    def key(self, kind: TileKind) -> tuple[Hashable, ...]:
        """The cache key of the tile (the cache adds the data version)."""
        return (kind, self.layer.id, self.z, self.x, self.y, self.as_of, self.level)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """The tile's Web Mercator bounds."""
        b = TMS.xy_bounds(morecantile.Tile(self.x, self.y, self.z))
        return (b.left, b.bottom, b.right, b.top)


# --- routes ------------------------------------------------------------------------------------


@router.get(
    "/tiles/{layer_id}/{z}/{x}/{y}.mvt",
    summary="Vector tile (MVT) of a map layer",
    response_class=Response,
    responses=TILE_DOCS["mvt"],
)
async def vector_tile(
    request: Request,
    layer_id: str,
    z: int,
    x: int,
    y: int,
    datetime: DatetimeQuery = None,
    level: LevelQuery = "county",
) -> Response:
    """A Mapbox Vector Tile of one catalog layer (layer name = layer id)."""
    return await _tile_response(request, "mvt", layer_id, TileIndex(z, x, y), datetime, level)


@router.get(
    "/collections/{collection_id}/tiles/WebMercatorQuad/{z}/{y}/{x}",
    summary="Vector tile (OGC API – Tiles path: tileMatrix/tileRow/tileCol)",
    response_class=Response,
    responses=TILE_DOCS["mvt"],
)
async def ogc_vector_tile(
    request: Request,
    collection_id: str,
    z: int,
    y: int,
    x: int,
    datetime: DatetimeQuery = None,
    level: LevelQuery = "county",
) -> Response:
    """The MVT tile at row ``y``, column ``x`` of tile matrix ``z``."""
    index = TileIndex(z, x, y)
    return await _tile_response(request, "mvt", collection_id, index, datetime, level)


@router.get(
    "/tiles/{layer_id}/{z}/{x}/{y}.png",
    summary="Raster tile (PNG) of a map layer",
    response_class=Response,
    responses=TILE_DOCS["png"],
)
async def raster_tile(
    request: Request,
    layer_id: str,
    z: int,
    x: int,
    y: int,
    datetime: DatetimeQuery = None,
    level: LevelQuery = "county",
) -> Response:
    """A 256 x 256 RGBA PNG of one catalog layer drawn with the catalog colours."""
    return await _tile_response(request, "png", layer_id, TileIndex(z, x, y), datetime, level)


@router.get(
    "/tiles/{layer_id}/tilejson.json",
    summary="TileJSON 3.0.0 of a map layer",
    response_class=Response,
    responses=JSON_DOCS,
)
async def tilejson(
    request: Request, layer_id: str, params: LayerQuery, lang: LangQuery = "zh"
) -> Response:
    """TileJSON describing a layer's vector tiles, with absolute tile URLs."""
    state = get_state(request)
    entry = offered_layer(state, layer_id)
    await _prepare_bounds(state)
    document = tilejson_document(
        request, state, entry, datetime=params.datetime, level=params.level, lang=lang
    )
    return _json(request, document)


@router.get(
    "/style.json",
    summary="MapLibre GL style of the map layers",
    response_class=Response,
    responses=JSON_DOCS,
)
async def style(request: Request, params: LayerQuery, lang: LangQuery = "zh") -> Response:
    """A MapLibre style drawing every available layer; the legend is in its metadata."""
    state = get_state(request)
    entries = available_layers(state)
    ids = {entry.id for entry in entries}
    hidden = {"reaches"} if "coverage" in ids else set()
    await _prepare_bounds(state)
    west, south, east, north = project_bounds(state)
    document = maplibre_style(
        lambda entry: absolute_url(
            request,
            f"/tiles/{entry.id}/tilejson.json",
            {**_layer_query(state, entry, params.datetime, params.level), "lang": lang},
        ),
        layers=entries,
        visible=ids - hidden,
        name=messages.text("map.server_name", "en" if lang == "en" else "zh"),
        center=((west + east) / 2, (south + north) / 2),
        zoom=_fit_zoom((west, south, east, north)),
        basemap_url=state.settings.basemap_url,
    )
    document["metadata"]["rivernet:level"] = params.level
    document["metadata"]["rivernet:polygon_levels"] = _polygon_levels(state)
    document["metadata"]["rivernet:polygon_layers"] = [
        entry.id for entry in entries if entry.polygon_levels_only
    ]
    document["metadata"]["rivernet:bounds"] = [west, south, east, north]
    return _json(request, document)


# --- tiles -------------------------------------------------------------------------------------


async def _tile_response(
    request: Request,
    kind: TileKind,
    layer_id: str,
    index: TileIndex,
    datetime: str | None,
    level: str,
) -> Response:
    """The cached tile, 304 when the client has it, or a freshly rendered one.

    A cached tile is answered on the event loop (:meth:`LRUCache.peek` never computes). A miss
    prepares the layer in the compute pool (once per layer, date and level) and encodes the
    tile in the render pool.
    """
    state = get_state(request)
    entry = offered_layer(state, layer_id)
    check_tile(index.z, index.x, index.y)
    early = state.project is None  # a prepared layer, asked for before the project loaded
    if entry.polygon_levels_only and not early:
        await state.computed(*_polygon_levels_builder(state))
    tile = TileRequest(
        entry,
        index.z,
        index.x,
        index.y,
        as_of_date(datetime) if entry.temporal else None,
        (level if entry.by_level else None) if early else layer_level(state, entry, level),
    )
    key = tile.key(kind)
    body = state.cache(_TILE_CACHE).peek((state.data_version, key))
    if body is None:
        if kind == "png" and entry.minzoom <= tile.z <= entry.maxzoom:
            layer_key, build = _layer_builder(state, tile, kind)
            await state.computed(layer_key, build)
        body = await state.computed(key, lambda: render_tile(state, tile, kind),
                                    cache=_TILE_CACHE, pool="render")  # fmt: skip
    return send_body(request, body, MVT if kind == "mvt" else PNG)


def render_tile(state: AppState, tile: TileRequest, kind: TileKind) -> PreparedBody:
    """Render one tile (in a worker thread) from the cached prepared layer.

    Parameters
    ----------
    state
        The server state.
    tile
        Layer, position, date and level.
    kind
        ``"mvt"`` or ``"png"``.

    Returns
    -------
    PreparedBody
        The tile with its gzip form and ETags.
    """
    entry = tile.layer
    if tile.z < entry.minzoom or tile.z > entry.maxzoom:
        content = b"" if kind == "mvt" else _blank_png()
        return PreparedBody.of(content, compress=False)
    if kind == "mvt":
        content = tile_pyramid(state, tile).encode(tile.z, tile.x, tile.y)
        return PreparedBody.of(content, compress=len(content) > 256)
    key, build = _layer_builder(state, tile, kind)
    prepared = state.cached(key, build)
    if isinstance(prepared, TileLayer):
        content = prepared.encode(tile.bounds)
        return PreparedBody.of(content, compress=len(content) > 256)
    return PreparedBody.of(prepared.render(tile.bounds), compress=False)


def tile_pyramid(state: AppState, tile: TileRequest) -> LayerPyramid:
    """The tile pyramid of a tile's layer, date and level (see :mod:`rivernet.layers.pyramid`).

    From the prepared sidecar when it holds the layer for this project (before a lazily opened
    project has loaded, only such layers are asked for), else built from the project once and
    kept with its derived results.
    """
    if state.project is None:
        pyramid: LayerPyramid = state.prepared.pyramid(pyramid_key(tile.layer.id, tile.level))
        return pyramid
    prepared = state.prepared

    def build(project: Project) -> LayerPyramid:
        return layer_pyramid(project, tile.layer, as_of=tile.as_of, level=tile.level,
                             prepared=prepared)  # fmt: skip

    state.warmers.note(("tile-pyramid", tile.layer.id, tile.as_of, tile.level), build)
    return build(state.project)


def _layer_builder(
    state: AppState, tile: TileRequest, kind: TileKind
) -> tuple[tuple[Hashable, ...], Callable[[], TileLayer | RasterLayer]]:
    """The cache key of a tile's prepared layer and the function preparing it."""
    key = ("tile-layer", kind, tile.layer.id, tile.as_of, tile.level)
    if kind == "mvt":
        return key, lambda: _vector_layer(state, tile)
    return key, lambda: _raster_layer(state, tile)


def _vector_layer(state: AppState, tile: TileRequest) -> TileLayer:
    """A catalog layer's features prepared for vector tiles."""
    return TileLayer.from_frame(tile.layer.id, _frame(state, tile))


def _raster_layer(state: AppState, tile: TileRequest) -> RasterLayer:
    """A catalog layer's features prepared for raster tiles."""
    from rivernet.layers.raster import RasterLayer

    return RasterLayer.from_frame(tile.layer, _frame(state, tile))


def _frame(state: AppState, tile: TileRequest) -> Any:
    """The layer's features for the tile's date and level, under the project's coverage policy."""
    return layer_frame(state.project, tile.layer, as_of=tile.as_of, level=tile.level)


def _blank_png() -> bytes:
    """A transparent 256 x 256 PNG."""
    from rivernet.layers.raster import png_bytes

    return png_bytes(np.zeros((256, 256, 4), dtype=np.uint8), (0.0, 0.0, 1.0, 1.0))


def check_tile(z: int, x: int, y: int) -> None:
    """Raise :class:`OutOfRangeError` unless ``z/x/y`` lies in the WebMercatorQuad matrix.

    Raises
    ------
    OutOfRangeError
        With the valid ranges in the message.
    """
    if not TMS.minzoom <= z <= TMS.maxzoom:
        raise OutOfRangeError.from_key("err_server.zoom_range", tile=f"{z}/{x}/{y}", z=z,
                                       low=TMS.minzoom, high=TMS.maxzoom)  # fmt: skip
    matrix = TMS.matrix(z)
    if not (0 <= x < matrix.matrixWidth and 0 <= y < matrix.matrixHeight):
        raise OutOfRangeError.from_key("err_server.tile_range", tile=f"{z}/{x}/{y}", z=z,
                                       x_max=matrix.matrixWidth - 1,
                                       y_max=matrix.matrixHeight - 1)  # fmt: skip


# --- layers, TileJSON, style -------------------------------------------------------------------


def available_layers(state: AppState) -> list[Layer]:
    """The map layers this project can draw (those that need a roster only when it has one)."""
    return [entry for entry in MAP_LAYERS if state.project.has_roster or not entry.needs_roster]


def offered_layer(state: AppState, layer_id: str) -> Layer:
    """The map layer ``layer_id``, if the project can draw it.

    Raises
    ------
    NotFoundError
        If the catalog has no such layer, the layer is not drawn (its features are only
        published as a collection), or it needs a chief roster and the project has none.
    """
    entry = layer(layer_id)
    if not entry.drawn:
        raise NotFoundError.from_key("err_server.not_drawn", name=repr(layer_id), layer_id=layer_id)
    if entry.needs_roster:
        state.project.require_roster()
    return entry


def _layer_query(
    state: AppState, entry: Layer, datetime: str | None, level: str
) -> dict[str, str | None]:
    """The date and level parameters a layer's tiles depend on."""
    query: dict[str, str | None] = {}
    if entry.temporal and datetime:
        query["datetime"] = datetime
    query["level"] = layer_level(state, entry, level)
    return query


def layer_level(state: AppState, entry: Layer, level: str) -> str | None:
    """The admin level a layer is drawn at for a requested ``level`` (None: no level).

    Coverage layers follow the requested level. Crossings and boundary rivers are cut by unit
    polygons, so below the finest level with polygons (townships and villages are assigned
    to reaches, not drawn) they show that finest polygon level.
    """
    if not entry.by_level:
        return None
    if not entry.polygon_levels_only:
        return level
    polygon_levels = _polygon_levels(state)
    if level in polygon_levels or not polygon_levels:
        return level
    finer = [lv for lv in LEVELS if lv in polygon_levels and LEVELS.index(lv) < LEVELS.index(level)]
    return finer[-1] if finer else polygon_levels[0]


def _polygon_levels(state: AppState) -> list[str]:
    """Admin levels with unit polygons in the project, coarse to fine."""
    return state.cached(*_polygon_levels_builder(state))


def _polygon_levels_builder(state: AppState) -> tuple[tuple[str], Callable[[], list[str]]]:
    project = state.project

    def compute() -> list[str]:
        units = project.admin_units
        present = set(units["level"].astype(str)) if "level" in units.columns else set()
        return [lv for lv in LEVELS if lv in present]

    return ("polygon-levels",), compute


def tilejson_document(
    request: Request,
    state: AppState,
    entry: Layer,
    *,
    datetime: str | None,
    level: str,
    lang: str = "zh",
) -> dict[str, Any]:
    """The TileJSON 3.0.0 document of a layer.

    Parameters
    ----------
    request
        The request (for absolute URLs).
    state
        The server state.
    entry
        The catalog layer.
    datetime, level
        The as-of date and level carried into the tile URLs of analysis layers.
    lang
        ``"zh"`` or ``"en"`` for the name and description.

    Returns
    -------
    dict
        The document.
    """
    if datetime is not None:
        as_of_date(datetime)  # reject a malformed date here rather than in every tile
    query = _layer_query(state, entry, datetime, level)
    template = absolute_url(request, f"/tiles/{entry.id}/{{z}}/{{x}}/{{y}}.mvt", query)
    west, south, east, north = project_bounds(state)
    maxzoom = max(min(entry.maxzoom, TILE_MAXZOOM), entry.minzoom)
    title = entry.title(lang)
    fields = {name: name for name in entry.properties}
    if entry.category_property:
        fields[entry.category_property] = ", ".join(c.value for c in entry.categories)
    return {
        "tilejson": "3.0.0",
        "name": title,
        "description": f"{title} ({entry.title_en if lang == 'zh' else entry.title_zh})",
        "version": "1.0.0",
        "attribution": attribution(state, lang=lang),
        "scheme": "xyz",
        "tiles": [template],
        "minzoom": entry.minzoom,
        "maxzoom": maxzoom,
        "bounds": [west, south, east, north],
        "center": [
            round((west + east) / 2, 6),
            round((south + north) / 2, 6),
            max(entry.minzoom, _fit_zoom((west, south, east, north))),
        ],
        "vector_layers": [
            {
                "id": entry.id,
                "description": title,
                "minzoom": entry.minzoom,
                "maxzoom": maxzoom,
                "fields": fields,
            }
        ],
    }


def attribution(state: AppState, *, lang: str = "zh") -> str:
    """The data sources of the project, for map attribution (:func:`catalog.data_credits`)."""
    return data_credits(state.project, lang=lang)


def project_bounds(state: AppState) -> tuple[float, float, float, float]:
    """Longitude/latitude bounds of the project's rivers and admin units (cached)."""
    return state.cached(*_bounds_builder(state))


async def _prepare_bounds(state: AppState) -> None:
    """Compute :func:`project_bounds` in the compute pool (the first time)."""
    await state.computed(*_bounds_builder(state))


def _bounds_builder(
    state: AppState,
) -> tuple[tuple[str], Callable[[], tuple[float, float, float, float]]]:
    def compute() -> tuple[float, float, float, float]:
        reaches = state.project.network.reaches
        frame = reaches if len(reaches) else state.project.admin_units
        west, south, east, north = frame.to_crs(4326).total_bounds
        return (
            round(float(west), 6),
            round(float(south), 6),
            round(float(east), 6),
            round(float(north), 6),
        )

    return ("project-bounds",), compute


def _fit_zoom(bounds: tuple[float, float, float, float], *, pixels: int = 800) -> int:
    """The zoom at which ``bounds`` spans about ``pixels`` screen pixels (512-pixel tiles)."""
    span = max(bounds[2] - bounds[0], (bounds[3] - bounds[1]) * 1.2, 1e-6)
    return max(0, min(TILE_MAXZOOM, math.floor(math.log2(pixels / 512 * 360 / span))))


def _json(request: Request, document: dict[str, Any]) -> Response:
    """A JSON document with a strong ETag (304 when unchanged)."""
    return cached_response(request, orjson.dumps(document), "application/json")
