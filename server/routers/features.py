"""OGC API – Features (Part 1 Core, Part 2 CRS) over the project's collections.

There is one collection per layer of the catalog (:mod:`rivernet.layers.catalog`, registered in
:mod:`rivernet.server.collections`): ``reaches``, ``admin_units``, ``lakes`` from the project
file, and the analysis results ``coverage`` (reach pieces with their status at a level),
``coverage_gaps``, ``crossings``, ``boundary_rivers`` and ``chiefs`` (assignments, no private
contact fields); those that need a chief roster are offered when the project has one. Items come
as GeoJSON or CSV, paged (``limit``, ``offset``, next/prev links), filtered by ``bbox`` (any
offered ``bbox-crs``), by property values and by an as-of ``datetime``, in CRS84, EPSG:4326,
EPSG:4490 or EPSG:3857. Each collection is prepared once per data version (and date and level)
and cached; preparing runs in the server's compute pool, so these routes never hold up the
event loop, and a page of a prepared collection is a join of prepared bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from rivernet.errors import InputError
from rivernet.layers.sources import to_wgs84
from rivernet.messages import choices
from rivernet.server.collections import Collection, collection, offered
from rivernet.server.encoding import CRS84, SUPPORTED_CRS, output_crs
from rivernet.server.http import (
    absolute_url,
    cached_response,
    openapi_responses,
    streamed_response,
)
from rivernet.server.params import (
    LEVELS,
    DatetimeQuery,
    Level,
    as_of_date,
    bbox_boxes,
)
from rivernet.server.state import AppState, app_state

router = APIRouter(tags=["OGC API – Features"])

GEOJSON = "application/geo+json"
JSON = "application/json"
CSV = "text/csv; charset=utf-8"
STREAM_ABOVE = 2000  # features; larger pages are streamed in chunks
INLINE_CSV = 200  # rows; larger CSV pages are written in a worker thread
OBJECT = {"type": "object"}
FEATURE_COLLECTION = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {"type": {"enum": ["FeatureCollection"]}, "features": {"type": "array"}},
}
FEATURE = {"type": "object", "required": ["type"], "properties": {"type": {"enum": ["Feature"]}}}
TEXT = {"type": "string"}
CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
)
ITEM_PARAMETERS = frozenset(
    {"limit", "offset", "bbox", "bbox-crs", "crs", "datetime", "level", "f"}
)


def _link(href: str, rel: str, media_type: str, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": media_type}
    if title:
        link["title"] = title
    return link


def _json(request: Request, document: Any, *, media_type: str = JSON) -> Response:
    return cached_response(request, lambda: orjson.dumps(document), media_type)


State = Annotated[AppState, Depends(app_state)]
FormatQuery = Annotated[
    str | None, Query(description="Output format: json (default) or csv; html on the landing page.")
]
CrsQuery = Annotated[str | None, Query(description="Output CRS URI (default CRS84).")]


@router.get(
    "/",
    summary="Landing page",
    response_class=Response,
    responses=openapi_responses({JSON: OBJECT}, redirect=True),
)
async def landing(request: Request, state: State, f: FormatQuery = None) -> Response:
    """The API landing page (browsers are sent to the web map when it exists)."""
    wants_html = f == "html" or (f is None and _prefers_html(request))
    if wants_html and "/map" in route_paths(request.app.routes):
        return RedirectResponse(absolute_url(request, "/map"), status_code=303)
    _check_format(f, ("json", "html"))
    document = {
        "title": "rivernet",
        "description": f"River chief (河长制) data of {state.project.path.name}: "
        f"{len(state.project.network)} reaches, {len(state.project.admin_units)} admin units.",
        "links": [
            _link(absolute_url(request, "/"), "self", JSON, "this document"),
            _link(absolute_url(request, "/openapi.json"), "service-desc",
                  "application/vnd.oai.openapi+json;version=3.1", "the API definition"),
            _link(absolute_url(request, "/docs"), "service-doc", "text/html",
                  "the API documentation"),
            _link(absolute_url(request, "/conformance"), "conformance", JSON,
                  "OGC API conformance classes implemented"),
            _link(absolute_url(request, "/collections"), "data", JSON, "the collections"),
        ],
    }  # fmt: skip
    return _json(request, document)


@router.get(
    "/conformance",
    summary="Conformance classes",
    response_class=Response,
    responses=openapi_responses({JSON: OBJECT}),
)
async def conformance(request: Request, f: FormatQuery = None) -> Response:
    """The OGC API conformance classes this server implements."""
    _check_format(f, ("json",))
    return _json(request, {"conformsTo": list(CONFORMANCE)})


@router.get(
    "/collections",
    summary="Feature collections",
    response_class=Response,
    responses=openapi_responses({JSON: OBJECT}, 503),
)
async def collections(request: Request, state: State, f: FormatQuery = None) -> Response:
    """Every collection offered, with its extent and links."""
    _check_format(f, ("json",))
    document = {
        "links": [_link(absolute_url(request, "/collections"), "self", JSON)],
        "collections": [await _describe(request, state, c) for c in offered(state)],
        "crs": [c.uri for c in SUPPORTED_CRS],
    }
    return _json(request, document)


@router.get(
    "/collections/{collection_id}",
    summary="One feature collection",
    response_class=Response,
    responses=openapi_responses({JSON: OBJECT}, 404, 503),
)
async def collection_description(
    request: Request, state: State, collection_id: str, f: FormatQuery = None
) -> Response:
    """A collection's description: title, extent, CRS list and links to its items."""
    _check_format(f, ("json",))
    return _json(request, await _describe(request, state, collection(state, collection_id)))


@router.get(
    "/collections/{collection_id}/items",
    summary="Features of a collection",
    response_class=Response,
    responses=openapi_responses({GEOJSON: FEATURE_COLLECTION, "text/csv": TEXT}, 404, 503),
)
async def items(
    request: Request,
    state: State,
    collection_id: str,
    limit: Annotated[int | None, Query(ge=0, description="Page size (capped).")] = None,
    offset: Annotated[int, Query(ge=0, description="Features to skip.")] = 0,
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy in bbox-crs.")] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs")] = None,
    crs: CrsQuery = None,
    datetime: DatetimeQuery = None,
    level: Annotated[
        Level | None,
        Query(
            description="Admin level of level-dependent collections (default county); a "
            "property filter on the others."
        ),
    ] = None,
    f: FormatQuery = None,
) -> Response:
    """A page of features, filtered by bbox, property values and date; GeoJSON or CSV.

    Any other query parameter filters on the property of that name (``?ORD_STRA=3``).
    """
    entry = collection(state, collection_id)
    kind = _items_format(request, f)
    out = output_crs(crs)
    boxes = bbox_boxes(bbox, bbox_crs)
    as_of = as_of_date(datetime)
    filters = {k: v for k, v in request.query_params.items() if k not in ITEM_PARAMETERS}
    if level is not None and not entry.by_level:
        filters["level"] = level
    table = await entry.prepared(state, as_of=as_of, level=level)
    if not table.ready(out, spatial=bool(boxes), filters=list(filters)):
        await state.run(lambda: table.prepare(out, spatial=bool(boxes), filters=list(filters)))
    matched = table.select(boxes=boxes, filters=filters)
    size = min(state.settings.items_limit if limit is None else limit,
               state.settings.items_max_limit)  # fmt: skip
    page = matched[offset : offset + size]
    etag_parts = (as_of.isoformat(),)
    headers = {"Content-Crs": f"<{out.uri}>"}
    if kind == "csv":
        name = f"{entry.id}.csv"
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
        if STREAM_ABOVE >= len(page) > INLINE_CSV:
            body = await state.run(lambda: b"".join(table.csv_chunks(page, out)), pool="render")
            return cached_response(request, body, CSV, etag_parts, headers=headers)
        return _send(request, lambda: table.csv_chunks(page, out), CSV, len(page),
                     etag_parts, headers)  # fmt: skip
    members = {
        "numberMatched": len(matched),
        "numberReturned": len(page),
        "links": _page_links(request, entry, offset=offset, size=size, matched=len(matched)),
    }
    return _send(request, lambda: table.geojson_chunks(page, out, members=members), GEOJSON,
                 len(page), etag_parts, headers)  # fmt: skip


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    summary="One feature",
    response_class=Response,
    responses=openapi_responses({GEOJSON: FEATURE}, 404, 503),
)
async def item(
    request: Request,
    state: State,
    collection_id: str,
    feature_id: str,
    crs: CrsQuery = None,
    datetime: DatetimeQuery = None,
    level: Annotated[
        Level | None,
        Query(description="Admin level of level-dependent collections (default county)."),
    ] = None,
    f: FormatQuery = None,
) -> Response:
    """One feature by id, as GeoJSON (``level`` picks the level of level-dependent ones)."""
    entry = collection(state, collection_id)
    _check_format(f, ("json", "geojson"))
    out = output_crs(crs)
    as_of = as_of_date(datetime)
    table = await entry.prepared(state, as_of=as_of, level=level)
    if not table.ready(out):
        await state.run(lambda: table.prepare(out))
    position = table.position(feature_id)
    links = [
        _link(str(request.url), "self", GEOJSON),
        _link(absolute_url(request, f"/collections/{entry.id}"), "collection", JSON),
    ]
    return cached_response(
        request,
        lambda: table.feature(position, out, links=links),
        GEOJSON,
        (as_of.isoformat(),),
        headers={"Content-Crs": f"<{out.uri}>"},
    )


def _send(
    request: Request,
    chunks: Callable[[], Any],
    media_type: str,
    count: int,
    etag_parts: tuple[str, ...],
    headers: dict[str, str],
) -> Response:
    """Stream large pages; send small ones whole (so they can be gzipped in one piece)."""
    if count > STREAM_ABOVE:
        return streamed_response(request, chunks, media_type, etag_parts, headers=headers)
    return cached_response(request, lambda: b"".join(chunks()), media_type, etag_parts,
                           headers=headers)  # fmt: skip


async def _describe(request: Request, state: AppState, entry: Collection) -> dict[str, Any]:
    base = f"/collections/{entry.id}"
    document: dict[str, Any] = {
        "id": entry.id,
        "title": f"{entry.title_zh} {entry.title_en}",
        "description": entry.description,
        "itemType": "feature",
        "crs": [c.uri for c in SUPPORTED_CRS],
        "storageCrs": CRS84,
        "extent": {"spatial": {"bbox": [list(await _extent(state, entry))], "crs": CRS84}},
        "links": [
            _link(absolute_url(request, base), "self", JSON),
            _link(absolute_url(request, f"{base}/items"), "items", GEOJSON, "features (GeoJSON)"),
            _link(absolute_url(request, f"{base}/items", {"f": "csv"}), "items", CSV,
                  "features (CSV)"),
        ],
    }  # fmt: skip
    if entry.temporal:
        document["extent"]["temporal"] = {"interval": [[None, None]]}
    if entry.by_level:
        document["levels"] = list(LEVELS)
    return document


async def _extent(state: AppState, entry: Collection) -> tuple[float, ...]:
    """Extent of the project layer behind a collection (the reaches for analysis results)."""
    layers = {"admin_units": state.project.admin_units, "lakes": state.project.lakes}
    frame = layers.get(entry.id, state.project.network.reaches)

    def bounds() -> tuple[float, ...]:
        if frame.empty:
            return (-180.0, -90.0, 180.0, 90.0)
        return tuple(float(v) for v in to_wgs84(frame).total_bounds)

    return await state.computed(("extent", entry.id if entry.id in layers else "reaches"), bounds)


def _page_links(
    request: Request, entry: Collection, *, offset: int, size: int, matched: int
) -> list[dict[str, str]]:
    path = f"/collections/{entry.id}/items"
    query: dict[str, object] = dict(request.query_params)
    links = [
        _link(absolute_url(request, path, query), "self", GEOJSON),
        _link(absolute_url(request, path, {**query, "f": "csv"}), "alternate", CSV),
        _link(absolute_url(request, f"/collections/{entry.id}"), "collection", JSON),
    ]
    if size and offset + size < matched:
        next_query = {**query, "offset": offset + size, "limit": size}
        links.append(_link(absolute_url(request, path, next_query), "next", GEOJSON))
    if offset > 0:
        prev_query = {**query, "offset": max(offset - size, 0), "limit": size}
        links.append(_link(absolute_url(request, path, prev_query), "prev", GEOJSON))
    return links


def _items_format(request: Request, f: str | None) -> str:
    if f is not None:
        _check_format(f, ("json", "geojson", "csv"))
        return "csv" if f == "csv" else "json"
    accept = request.headers.get("accept", "")
    if "text/csv" in accept and "json" not in accept:
        return "csv"
    return "json"


def _check_format(f: str | None, allowed: tuple[str, ...]) -> None:
    if f is not None and f not in allowed:
        listed = choices(f"f={name}" for name in allowed)
        raise InputError.from_key("err_server.bad_format", f=repr(f), allowed=listed)


def route_paths(routes: Iterable[Any]) -> set[str]:
    """Paths of all routes, looking inside included routers."""
    paths: set[str] = set()
    for route in routes:
        if isinstance(getattr(route, "path", None), str):
            paths.add(route.path)
        inner = getattr(route, "original_router", None)
        if inner is not None:
            paths |= route_paths(inner.routes)
    return paths


def _prefers_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return accept.startswith("text/html")
