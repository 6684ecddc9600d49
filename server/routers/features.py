"""OGC API – Features (Part 1 Core, Part 2 CRS) over the project's collections.

Collections: ``reaches``, ``admin_units``, ``lakes`` from the project file, and the analysis
results once their functions exist in the library: ``coverage`` (reach pieces with their status
at a level), ``coverage_gaps``, ``chiefs`` (assignments, no private contact fields),
``crossings`` and ``boundary_rivers``. Items come as GeoJSON or CSV, paged (``limit``,
``offset``, next/prev links), filtered by ``bbox`` (any offered ``bbox-crs``), by property
values and by an as-of ``datetime``, in CRS84, EPSG:4326, EPSG:4490 or EPSG:3857. Each
collection is prepared once per data version (and date and level) and cached.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from rivernet.errors import InputError, NotFoundError
from rivernet.layers.catalog import layer
from rivernet.layers.sources import to_wgs84
from rivernet.server.encoding import CRS84, SUPPORTED_CRS, FeatureTable, output_crs
from rivernet.server.http import absolute_url, cached_response, streamed_response
from rivernet.server.params import (
    LEVELS,
    DatetimeQuery,
    Level,
    as_of_date,
    bbox_boxes,
)
from rivernet.server.state import AppState, get_state

if TYPE_CHECKING:
    from rivernet.project import Project

router = APIRouter(tags=["OGC API – Features"])

GEOJSON = "application/geo+json"
JSON = "application/json"
CSV = "text/csv; charset=utf-8"
DEFAULT_LEVEL = "county"
STREAM_ABOVE = 2000  # features; larger pages are streamed in chunks
CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
)
ITEM_PARAMETERS = frozenset(
    {"limit", "offset", "bbox", "bbox-crs", "crs", "datetime", "level", "f"}
)
# Roster columns never published (contact details stay private, as the roster model requires).
PRIVATE_COLUMN = re.compile(
    r"phone|mobile|tel|email|e_mail|wechat|weixin|contact|address|id_card|idcard|identity|"
    r"电话|手机|邮箱|微信|联系|地址|身份证",
    re.IGNORECASE,
)

Builder = Callable[[AppState, dt.date, str], pd.DataFrame]


@dataclass(frozen=True)
class Collection:
    """One feature collection the API offers.

    Attributes
    ----------
    id
        URL id.
    title_zh, title_en
        Titles.
    description
        What the features are.
    build
        ``build(state, as_of, level)`` -> the features in EPSG:4326.
    id_column
        Column of feature ids (None numbers them).
    requires
        Library functions the collection needs (it is offered only when they exist).
    temporal
        Whether features depend on the as-of date.
    by_level
        Whether features depend on the admin level (``level`` parameter).
    needs_roster
        Whether the project must have a chief roster.
    """

    id: str
    title_zh: str
    title_en: str
    description: str
    build: Builder
    id_column: str | None = None
    requires: tuple[str, ...] = ()
    temporal: bool = False
    by_level: bool = False
    needs_roster: bool = False

    def available(self, project: Project) -> bool:
        """Whether the library functions (and data) this collection needs exist."""
        if self.needs_roster and not has_roster(project):
            return False
        return all(_library_has(name) for name in self.requires)

    def table(self, state: AppState, *, as_of: dt.date, level: str) -> FeatureTable:
        """The prepared (cached) features for a date and level."""
        key = (
            "collection",
            self.id,
            as_of.isoformat() if self.temporal else None,
            level if self.by_level else None,
        )
        return state.cached(
            key,
            lambda: FeatureTable(self.build(state, as_of, level), id_column=self.id_column),
        )


def _library_has(name: str) -> bool:
    try:
        library_function(name)
    except NotFoundError:
        return False
    return True


def library_function(name: str) -> Callable[..., Any]:
    """The rivernet analysis function ``name``.

    Raises
    ------
    NotFoundError
        If this installation of rivernet does not have it (yet).
    """
    import rivernet

    try:
        function = getattr(rivernet, name)
        if isinstance(function, types.ModuleType):  # a submodule named like its function
            function = getattr(function, name)
    except (AttributeError, ImportError):
        raise NotFoundError(
            f"this server's rivernet has no {name}(); upgrade rivernet to use this endpoint"
        ) from None
    if not callable(function):
        raise NotFoundError(f"rivernet.{name} is not a function; upgrade rivernet")
    return function


def _reaches(state: AppState, as_of: dt.date, level: str) -> pd.DataFrame:
    frame = project_frame(state.project.network.reaches.reset_index())
    if has_roster(state.project) and _library_has("coverage_status"):
        for each in LEVELS:
            pieces = coverage_pieces(state, as_of=as_of, level=each)
            frame[f"coverage_{each}"] = frame["reach_id"].map(reach_status(pieces))
    return frame


def project_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A project layer in EPSG:4326, without private columns."""
    return to_wgs84(public_columns(frame))


def coverage_pieces(state: AppState, *, as_of: dt.date, level: str) -> gpd.GeoDataFrame:
    """Reach pieces with their coverage status at a level (cached per date and level)."""
    status = library_function("coverage_status")
    return state.cached(
        ("coverage_status", as_of, level),
        lambda: status(state.project, level=level, as_of=as_of, policy=state.policy),
    )


# Which status a whole reach shows when its pieces differ, most telling first.
STATUS_PRIORITY = ("overlap", "gap", "expired", "partial", "covered", "exempt", "not_required")


def reach_status(pieces: pd.DataFrame) -> pd.Series:
    """One coverage status per reach from the statuses of its pieces.

    A reach whose pieces are all alike takes their status; one that is partly covered and
    partly uncovered is ``partial``; other mixes take the most telling status.
    """

    def pick(statuses: Iterable[str]) -> str:
        found = set(statuses)
        if len(found) == 1:
            return found.pop()
        if "covered" in found and found & {"gap", "expired"} and "overlap" not in found:
            return "partial"
        return min(found, key=lambda s: STATUS_PRIORITY.index(s) if s in STATUS_PRIORITY else 99)

    return pieces.groupby("reach_id")["status"].agg(pick)


def _admin_units(state: AppState, as_of: dt.date, level: str) -> pd.DataFrame:
    return project_frame(state.project.admin_units)


def _lakes(state: AppState, as_of: dt.date, level: str) -> pd.DataFrame:
    return project_frame(state.project.lakes)


def _coverage(state: AppState, as_of: dt.date, level: str) -> pd.DataFrame:
    return to_wgs84(coverage_pieces(state, as_of=as_of, level=level))


def _coverage_gaps(state: AppState, as_of: dt.date, level: str) -> pd.DataFrame:
    gaps = library_function("coverage_gaps")
    return to_wgs84(gaps(state.project, as_of=as_of, policy=state.policy))


def _crossings(state: AppState, as_of: dt.date, level: str) -> pd.DataFrame:
    return to_wgs84(library_function("crossings")(state.project, level=level, as_of=as_of))


def _boundary_rivers(state: AppState, as_of: dt.date, level: str) -> pd.DataFrame:
    return to_wgs84(library_function("boundary_rivers")(state.project, level=level))


def _chiefs(state: AppState, as_of: dt.date, level: str) -> pd.DataFrame:
    return to_wgs84(chief_assignments(state.project, as_of=as_of))


def chief_assignments(project: Project, *, as_of: dt.date) -> gpd.GeoDataFrame:
    """Assignments in force on ``as_of`` with their people, without private contact columns.

    Geometry: the assigned stretch or reach, or the lake (湖长); none for whole-river posts.
    """
    roster = project.require_roster()
    frame = public_columns(roster.to_frame(include_contact=False))
    frame = frame[frame["assignment_id"].isin(roster.active(as_of)["assignment_id"])]
    frame = frame.reset_index(drop=True)
    geometry = _assignment_geometry(project, frame)
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=project.network.crs)


def _assignment_geometry(project: Project, frame: pd.DataFrame) -> np.ndarray:
    geometry = np.full(len(frame), None, dtype=object)
    net = project.network
    if "reach_id" in frame:
        reach = frame["reach_id"]
        known = (reach.notna() & reach.isin(net.reaches.index)).to_numpy()
        geometry[known] = net.reaches.geometry.loc[reach[known]].to_numpy()
        if "from_m" in frame and "to_m" in frame:
            stretch = known & frame["from_m"].notna().to_numpy() & frame["to_m"].notna().to_numpy()
            # A stretch that does not fit its reach keeps the whole reach.
            for row in np.flatnonzero(stretch):
                with contextlib.suppress(InputError, ValueError):
                    geometry[row] = net.substring(
                        reach.iloc[row], float(frame["from_m"].iloc[row]),
                        float(frame["to_m"].iloc[row]),
                    )  # fmt: skip
    if "lake_id" in frame and len(project.lakes):
        lakes = project.lakes.set_index("lake_id").geometry
        lake = frame["lake_id"]
        known = (lake.notna() & lake.isin(lakes.index) & pd.isna(geometry)).to_numpy()
        geometry[known] = lakes.loc[lake[known]].to_numpy()
    return geometry


def require_roster(project: Project) -> None:
    """Raise NotFoundError (404) unless the project has a chief roster."""
    if not has_roster(project):
        raise NotFoundError(
            f"project {Path(project.path).name} has no chief roster; import one with "
            "`rivernet roster import PROJECT FILE`"
        )


def has_roster(project: Project) -> bool:
    """Whether the project has a chief roster."""
    return project.has_roster


def public_columns(table: pd.DataFrame) -> pd.DataFrame:
    """The table without private contact columns (phone, e-mail, address, id card...)."""
    private = [c for c in table.columns if PRIVATE_COLUMN.search(str(c))]
    return table.drop(columns=private)


def _titles(layer_id: str) -> tuple[str, str]:
    """The Chinese and English titles of the catalog layer behind a collection."""
    entry = layer(layer_id)
    return entry.title_zh, entry.title_en


COLLECTIONS: tuple[Collection, ...] = (
    Collection("reaches", *_titles("reaches"),
               "River reaches with their downstream link, length and attributes, and (with a "
               "roster) their chief coverage status at each level as of a date "
               "(coverage_province .. coverage_village).", _reaches,
               id_column="reach_id", temporal=True),
    Collection("admin_units", *_titles("admin_units"),
               "Administrative units (GB/T 2260 codes) with their level and parent.",
               _admin_units, id_column="code"),
    Collection("lakes", *_titles("lakes"), "Lake polygons.", _lakes,
               id_column="lake_id"),
    Collection("coverage", *_titles("coverage"),
               "Reach pieces with their chief coverage status at a level (parameter level) "
               "as of a date (parameter datetime).", _coverage,
               requires=("coverage_status",), temporal=True, by_level=True, needs_roster=True),
    Collection("coverage_gaps", *_titles("coverage_gaps"),
               "Stretches without a chief at a level their jurisdiction requires, as of a date.",
               _coverage_gaps, requires=("coverage_gaps",), temporal=True, needs_roster=True),
    Collection("chiefs", "河长任命", "Chief assignments",
               "River and lake chief assignments in force on a date (contact details omitted).",
               _chiefs, id_column="assignment_id", temporal=True, needs_roster=True),
    Collection("crossings", *_titles("crossings"),
               "Points where a river leaves one unit for another at a level (parameter level).",
               _crossings, id_column="crossing_id", requires=("crossings",), temporal=True,
               by_level=True),
    Collection("boundary_rivers", *_titles("boundary_rivers"),
               "Stretches running along a boundary between units at a level (parameter level).",
               _boundary_rivers, id_column="stretch_id", requires=("boundary_rivers",),
               by_level=True),
)  # fmt: skip


def offered(state: AppState) -> list[Collection]:
    """The collections this server offers for its project."""
    return [c for c in COLLECTIONS if c.available(state.project)]


def collection(state: AppState, collection_id: str) -> Collection:
    """The offered collection with this id.

    Raises
    ------
    NotFoundError
        If there is none (the message lists those offered).
    """
    for entry in offered(state):
        if entry.id == collection_id:
            return entry
    ids = ", ".join(c.id for c in offered(state))
    raise NotFoundError(f"no collection {collection_id!r}; this server offers: {ids}")


def _link(href: str, rel: str, media_type: str, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": media_type}
    if title:
        link["title"] = title
    return link


def _json(request: Request, document: Any, *, media_type: str = JSON) -> Response:
    return cached_response(request, lambda: orjson.dumps(document), media_type)


State = Annotated[AppState, Depends(get_state)]
FormatQuery = Annotated[
    str | None, Query(description="Output format: json (default) or csv; html on the landing page.")
]
CrsQuery = Annotated[str | None, Query(description="Output CRS URI (default CRS84).")]


@router.get("/", summary="Landing page")
def landing(request: Request, state: State, f: FormatQuery = None) -> Response:
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


@router.get("/conformance", summary="Conformance classes")
def conformance(request: Request, f: FormatQuery = None) -> Response:
    """The OGC API conformance classes this server implements."""
    _check_format(f, ("json",))
    return _json(request, {"conformsTo": list(CONFORMANCE)})


@router.get("/collections", summary="Feature collections")
def collections(request: Request, state: State, f: FormatQuery = None) -> Response:
    """Every collection offered, with its extent and links."""
    _check_format(f, ("json",))
    document = {
        "links": [_link(absolute_url(request, "/collections"), "self", JSON)],
        "collections": [_describe(request, state, c) for c in offered(state)],
        "crs": [c.uri for c in SUPPORTED_CRS],
    }
    return _json(request, document)


@router.get("/collections/{collection_id}", summary="One feature collection")
def collection_description(
    request: Request, state: State, collection_id: str, f: FormatQuery = None
) -> Response:
    """A collection's description: title, extent, CRS list and links to its items."""
    _check_format(f, ("json",))
    return _json(request, _describe(request, state, collection(state, collection_id)))


@router.get("/collections/{collection_id}/items", summary="Features of a collection")
def items(
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
    table = entry.table(state, as_of=as_of, level=level or DEFAULT_LEVEL)
    matched = table.select(boxes=boxes, filters=filters)
    size = min(state.settings.items_limit if limit is None else limit,
               state.settings.items_max_limit)  # fmt: skip
    page = matched[offset : offset + size]
    etag_parts = (as_of.isoformat(),)
    headers = {"Content-Crs": f"<{out.uri}>"}
    if kind == "csv":
        name = f"{entry.id}.csv"
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return _send(request, lambda: table.csv_chunks(page, out), CSV, len(page),
                     etag_parts, headers)  # fmt: skip
    members = {
        "numberMatched": len(matched),
        "numberReturned": len(page),
        "links": _page_links(request, entry, offset=offset, size=size, matched=len(matched)),
    }
    return _send(request, lambda: table.geojson_chunks(page, out, members=members), GEOJSON,
                 len(page), etag_parts, headers)  # fmt: skip


@router.get("/collections/{collection_id}/items/{feature_id}", summary="One feature")
def item(
    request: Request,
    state: State,
    collection_id: str,
    feature_id: str,
    crs: CrsQuery = None,
    datetime: DatetimeQuery = None,
    level: Annotated[Level, Query()] = "county",
    f: FormatQuery = None,
) -> Response:
    """One feature by id, as GeoJSON (``level`` picks the level of level-dependent ones)."""
    entry = collection(state, collection_id)
    _check_format(f, ("json", "geojson"))
    out = output_crs(crs)
    as_of = as_of_date(datetime)
    table = entry.table(state, as_of=as_of, level=level)
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


def _describe(request: Request, state: AppState, entry: Collection) -> dict[str, Any]:
    base = f"/collections/{entry.id}"
    document: dict[str, Any] = {
        "id": entry.id,
        "title": f"{entry.title_zh} {entry.title_en}",
        "description": entry.description,
        "itemType": "feature",
        "crs": [c.uri for c in SUPPORTED_CRS],
        "storageCrs": CRS84,
        "extent": {"spatial": {"bbox": [list(_extent(state, entry))], "crs": CRS84}},
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


def _extent(state: AppState, entry: Collection) -> tuple[float, ...]:
    """Extent of the project layer behind a collection (the reaches for analysis results)."""
    layers = {"admin_units": state.project.admin_units, "lakes": state.project.lakes}
    frame = layers.get(entry.id, state.project.network.reaches)

    def bounds() -> tuple[float, ...]:
        if frame.empty:
            return (-180.0, -90.0, 180.0, 90.0)
        return tuple(float(v) for v in to_wgs84(frame).total_bounds)

    return state.cached(("extent", entry.id if entry.id in layers else "reaches"), bounds)


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
        raise InputError(f"format f={f!r} is not offered here; use f={' or f='.join(allowed)}")


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
