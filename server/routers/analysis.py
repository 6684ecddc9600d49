"""Analysis endpoints: NLDI-style navigation, chiefs, coverage summary, partners and incidents.

Navigation follows the USGS NLDI shape: ``/reaches/{id}/navigation/{UM|UT|DM|DD}?distance=``
returns a GeoJSON FeatureCollection of reaches, each with its along-network ``distance_km`` from
the start (outlet to outlet, as the library measures it). The other endpoints call the library's
analysis functions (imported here, so a missing one stops the server at start-up) under the
project's coverage policy and serialise whatever they return: GeoDataFrames as GeoJSON, tables
as JSON (``items``) or CSV, composite results as a JSON object of those, never with a private
contact column (:func:`~rivernet.server.collections.published`). A project without a chief
roster answers the roster endpoints 404, as the library's :class:`~rivernet.NotFoundError` says.
Results and their encoded bodies are cached per data version and parameters, and computed in the
server's compute pool, never on the event loop.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Hashable
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, Literal

import geopandas as gpd
import orjson
import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from rivernet.chiefs import chiefs_at
from rivernet.coverage import coverage_summary, run_audit
from rivernet.errors import InputError, NotFoundError
from rivernet.incidents import incident
from rivernet.joint_control import partner_summary, partners
from rivernet.layers.sources import to_wgs84
from rivernet.server.collections import published
from rivernet.server.encoding import CRS84, FeatureTable, json_default, output_crs, plain_values
from rivernet.server.http import absolute_url, cached_response, openapi_responses
from rivernet.server.params import DatetimeQuery, Level, as_of_date, network_point, reach_id
from rivernet.server.state import AppState, app_state

if TYPE_CHECKING:
    from rivernet.project import Project

router = APIRouter(tags=["analysis"])

GEOJSON = "application/geo+json"
JSON = "application/json"
CSV = "text/csv; charset=utf-8"
MODES = ("UM", "UT", "DM", "DD")
TABLES = {JSON: {"type": "object"}, GEOJSON: {"type": "object"}, "text/csv": {"type": "string"}}
"""The 200 content of table results: JSON items, GeoJSON when they have geometry, or CSV."""
MODE_TITLES = {
    "UM": "upstream main stem",
    "UT": "upstream with tributaries",
    "DM": "downstream main path",
    "DD": "downstream with diversions",
}

State = Annotated[AppState, Depends(app_state)]
Mode = Literal["UM", "UT", "DM", "DD"]
ReachPath = Annotated[str, Path(description="Reach id.")]
DistanceQuery = Annotated[
    float | None,
    Query(ge=0, allow_inf_nan=False, description="Along-network distance limit in km."),
]
LonQuery = Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False, description="Longitude.")]
LatQuery = Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False, description="Latitude.")]
TableFormat = Annotated[Literal["json", "csv"] | None, Query(description="json or csv.")]


@router.get(
    "/reaches/{reach_id}/navigation",
    summary="Navigation modes of a reach",
    response_class=Response,
    responses=openapi_responses({JSON: {"type": "object"}}, 404, 503),
)
async def navigation_modes(request: Request, state: State, reach_id: ReachPath) -> Response:
    """The four navigation modes from a reach, with their URLs (as NLDI lists them)."""
    rid = _reach(state, reach_id)
    document = {
        mode: {
            "title": MODE_TITLES[mode],
            "href": absolute_url(request, f"/reaches/{rid}/navigation/{mode}"),
        }
        for mode in MODES
    }
    return cached_response(request, orjson.dumps(document), JSON)


@router.get(
    "/reaches/{reach_id}/navigation/{mode}",
    summary="Navigate the network",
    response_class=Response,
    responses=openapi_responses({k: v for k, v in TABLES.items() if k != JSON}, 404, 503),
)
async def navigation(
    request: Request,
    state: State,
    reach_id: ReachPath,
    mode: Mode,
    distance: DistanceQuery = None,
    f: TableFormat = None,
) -> Response:
    """Reaches upstream (UM, UT) or downstream (DM, DD) of a reach, with distances in km.

    Each feature has ``reach_id``, ``distance_km`` (along the network from the start, outlet
    to outlet; the start is 0), ``length_m`` and ``downstream_id``; features are sorted by
    distance.
    """
    rid = _reach(state, reach_id)
    project = state.project

    def compute() -> FeatureTable:
        return FeatureTable(_navigate(project, rid, mode, distance), id_column="reach_id")

    return await _answer(request, state, ("navigation", rid, mode, distance), compute, f=f,
                         as_of=None, name=f"navigation-{rid}-{mode}")  # fmt: skip


@router.get(
    "/reaches/{reach_id}/chiefs",
    summary="Chiefs responsible for a reach",
    response_class=Response,
    responses=openapi_responses(TABLES, 404, 503),
)
async def reach_chiefs(
    request: Request,
    state: State,
    reach_id: ReachPath,
    measure: Annotated[
        float | None,
        Query(ge=0, allow_inf_nan=False, description="Metres from the reach's upstream end."),
    ] = None,
    datetime: DatetimeQuery = None,
    f: TableFormat = None,
) -> Response:
    """Every chief responsible for a reach (or a place on it) on a date, by level."""
    rid = _reach(state, reach_id)
    as_of = as_of_date(datetime)
    project = state.project
    return await _answer(
        request, state, ("chiefs_at", rid, measure, as_of),
        lambda: chiefs_at(project, rid, as_of=as_of, measure_m=measure),
        f=f, as_of=as_of, name=f"chiefs-{rid}",
    )  # fmt: skip


@router.get(
    "/chiefs/at",
    summary="Chiefs responsible at a point",
    response_class=Response,
    responses=openapi_responses(TABLES, 404, 503),
)
async def point_chiefs(
    request: Request,
    state: State,
    lon: LonQuery,
    lat: LatQuery,
    max_distance: Annotated[
        float, Query(gt=0, allow_inf_nan=False, description="Snap limit in metres.")
    ] = 1000.0,
    datetime: DatetimeQuery = None,
    f: TableFormat = None,
) -> Response:
    """Every chief responsible at the river nearest to a WGS84 point, on a date, by level."""
    as_of = as_of_date(datetime)
    project = state.project

    def compute() -> Any:
        point = network_point(project, lon, lat)
        return chiefs_at(project, point, as_of=as_of, max_distance_m=max_distance)

    return await _answer(request, state, ("chiefs_at_point", lon, lat, max_distance, as_of),
                         compute, f=f, as_of=as_of, name="chiefs")  # fmt: skip


@router.get(
    "/coverage/summary",
    summary="Coverage per admin unit and level",
    response_class=Response,
    responses=openapi_responses(TABLES, 404, 503),
)
async def unit_coverage(
    request: Request,
    state: State,
    datetime: DatetimeQuery = None,
    level: Annotated[Level | None, Query(description="Only this level.")] = None,
    unit: Annotated[
        str | None, Query(description="Only this unit and the units inside it (code).")
    ] = None,
    f: TableFormat = None,
) -> Response:
    """Required and covered length, coverage % and defect counts per unit and level."""
    as_of = as_of_date(datetime)
    project = state.project

    def compute() -> pd.DataFrame:
        table = coverage_summary(project, as_of=as_of, unit=unit, level=level)
        if unit is not None and table.empty:
            raise NotFoundError.from_key("error.no_unit_api", unit=repr(unit))
        return table

    return await _answer(request, state, ("coverage_summary", as_of, unit, level), compute,
                         f=f, as_of=as_of, name="coverage-summary")  # fmt: skip


@router.get(
    "/partners",
    summary="Joint-control partners",
    response_class=Response,
    responses=openapi_responses(TABLES, 404, 503),
)
async def joint_control_partners(
    request: Request,
    state: State,
    unit: Annotated[str | None, Query(description="Admin unit code.")] = None,
    chief: Annotated[str | None, Query(description="Person id of a chief.")] = None,
    reach: Annotated[str | None, Query(description="Reach id.")] = None,
    level: Annotated[Level | None, Query(description="Level for reach and chief queries.")] = None,
    distance: DistanceQuery = None,
    datetime: DatetimeQuery = None,
    f: TableFormat = None,
) -> Response:
    """Upstream/downstream, left/right-bank and confluence partners of a unit, chief or reach."""
    given: dict[str, Any] = {
        k: v for k, v in {"unit": unit, "chief": chief, "reach": reach}.items() if v
    }
    if len(given) != 1:
        raise InputError.from_key("api_error.one_subject")
    if "reach" in given:
        given["reach"] = _reach(state, given["reach"])
    as_of = as_of_date(datetime)
    project = state.project
    return await _answer(
        request, state, ("partners", tuple(given.items()), level, distance, as_of),
        lambda: partners(project, **given, level=level, distance_km=distance, as_of=as_of),
        f=f, as_of=as_of, name="partners",
    )  # fmt: skip


@router.get(
    "/partners/summary",
    summary="Partner summary per pair of units",
    response_class=Response,
    responses=openapi_responses(TABLES, 404, 503),
)
async def unit_pairs(
    request: Request,
    state: State,
    level: Annotated[Level, Query(description="Admin level of the pairs.")] = "province",
    f: TableFormat = None,
) -> Response:
    """Rivers, handover sections and chiefs between each pair of neighbouring units."""
    project = state.project
    return await _answer(request, state, ("partner_summary", level),
                         lambda: partner_summary(project, level=level), f=f, as_of=None,
                         name="partner-summary")  # fmt: skip


@router.get(
    "/incident",
    summary="Incident routing from a point",
    response_class=Response,
    responses=openapi_responses({JSON: {"type": "object"}}, 404, 503),
)
async def incident_routing(
    request: Request,
    state: State,
    lon: LonQuery,
    lat: LatQuery,
    distance: DistanceQuery = None,
    velocity: Annotated[
        float | None, Query(gt=0, allow_inf_nan=False, description="Flow velocity in m/s.")
    ] = None,
    max_snap: Annotated[
        float, Query(gt=0, allow_inf_nan=False, description="Snap limit in metres.")
    ] = 1000.0,
    datetime: DatetimeQuery = None,
) -> Response:
    """Whom to notify downstream, in order of distance, and where to look upstream.

    The answer has ``snapped`` (the point on the network), ``notify`` (units downstream, in
    order), ``sections`` (handover sections passed, GeoJSON) and ``upstream`` (units to check).
    """
    as_of = as_of_date(datetime)
    project = state.project

    def compute() -> Any:
        point = network_point(project, lon, lat)
        return incident(project, point, distance_km=distance, as_of=as_of,
                        velocity_m_s=velocity, max_snap_m=max_snap)  # fmt: skip

    return await _answer(request, state,
                         ("incident", lon, lat, distance, velocity, max_snap, as_of), compute,
                         f=None, as_of=as_of, name="incident")  # fmt: skip


# --- answering -----------------------------------------------------------------------------------

Body = tuple[str, bytes, dict[str, str]]
"""An encoded answer: media type, bytes and extra headers."""


async def _answer(
    request: Request,
    state: AppState,
    key: Hashable,
    compute: Callable[[], Any],
    *,
    f: str | None,
    as_of: dt.date | None,
    name: str,
) -> Response:
    """Compute (or reuse) a result and its encoded body in the compute pool, then answer."""
    project = state.project
    if as_of is not None and project.has_roster:
        state.warmers.note(("audit", as_of), partial(_audit, as_of=as_of))

    def encode() -> Body:
        result = state.cached(key, compute)
        return _encoded(result, project, f=f, name=name)

    media_type, body, headers = await state.computed(("body", key, f), encode)
    parts = (as_of.isoformat() if as_of else "",)
    return cached_response(request, body, media_type, parts, headers=headers)


def _audit(project: Project, *, as_of: dt.date) -> object:
    """The project's audit of a day (what most analysis answers start from)."""
    return run_audit(project, as_of=as_of, policy=None)


def _reach(state: AppState, text: str) -> Any:
    return reach_id(state.project, text)


def _navigate(project: Project, rid: Any, mode: str, distance: float | None) -> pd.DataFrame:
    net = project.network
    if mode in ("UM", "UT"):
        result = net.upstream(rid, mode=mode, distance_km=distance)
    else:
        result = net.downstream(rid, mode=mode, distance_km=distance)
    attributes = net.reaches.loc[result["reach_id"].to_numpy(), ["length_m", "downstream_id"]]
    result["length_m"] = attributes["length_m"].to_numpy()
    result["downstream_id"] = attributes["downstream_id"].to_numpy()
    result["mode"] = mode
    columns = ["reach_id", "distance_km", "length_m", "downstream_id", "mode", "geometry"]
    return to_wgs84(result[columns])


def _encoded(result: Any, project: Project, *, f: str | None, name: str) -> Body:
    """Encode a library result: GeoJSON for geometries, JSON items or CSV for tables."""
    if isinstance(result, FeatureTable):
        return _table_body(result, f=f, name=name)
    if isinstance(result, pd.DataFrame):
        result = published(result, project)
        table = FeatureTable(to_wgs84(result))
        if isinstance(result, gpd.GeoDataFrame) or f == "csv":
            return _table_body(table, f=f, name=name)
        document: Any = {"numberReturned": len(table), "items": _records(result)}
    else:
        if f == "csv":
            raise InputError.from_key("err_server.several_parts")
        document = _plain(result, project)
    return JSON, orjson.dumps(document, default=json_default), {}


def _table_body(table: FeatureTable, *, f: str | None, name: str) -> Body:
    """A prepared table as GeoJSON (or CSV)."""
    crs = output_crs(None)
    positions = table.select()
    headers = {"Content-Crs": f"<{CRS84}>"}
    if f == "csv":
        headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return CSV, b"".join(table.csv_chunks(positions, crs)), headers
    members = {"numberMatched": len(table), "numberReturned": len(table)}
    return GEOJSON, b"".join(table.geojson_chunks(positions, crs, members=members)), headers


def _records(frame: pd.DataFrame) -> orjson.Fragment:
    """A table as a pre-encoded JSON list of row objects."""
    names = [str(c) for c in frame.columns]
    columns = [plain_values(frame[c]) for c in frame.columns]
    rows = [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
    return orjson.Fragment(orjson.dumps(rows, default=json_default))


def _plain(value: Any, project: Project) -> Any:
    """Composite results (dataclasses, dicts, lists of frames) as JSON-ready values."""
    if isinstance(value, pd.DataFrame):
        value = published(value, project)
        if isinstance(value, gpd.GeoDataFrame):
            table = FeatureTable(to_wgs84(value))
            chunks = table.geojson_chunks(table.select(), output_crs(None), members={})
            return orjson.Fragment(b"".join(chunks))
        return _records(value)
    if isinstance(value, pd.Series):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name), project)
                for f in dataclasses.fields(value)}  # fmt: skip
    if isinstance(value, dict):
        return {str(k): _plain(v, project) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, project) for v in value]
    return value
