"""Position lookup, as the USGS NLDI's ``/position``: which reach is at a WGS84 point.

``GET /reaches/position?lon=&lat=[&max_distance=]`` snaps the point to its nearest reach with
:func:`rivernet.snap.snap_point` and answers the reach id, the measure on it (metres from its
upstream end) and the distance from the point, with links to the reach's chiefs and navigation.
A point farther than ``max_distance`` metres from every reach is 404 (the library's
:class:`~rivernet.OutOfRangeError`, whose message names the parameter and the distance found).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from rivernet.server.encoding import json_default
from rivernet.server.http import absolute_url, cached_response, openapi_responses
from rivernet.server.params import network_point
from rivernet.server.state import AppState, app_state
from rivernet.snap import snap_point

__all__ = ["router"]

router = APIRouter(tags=["analysis"])

JSON = "application/json"
POSITION_SCHEMA = {
    "type": "object",
    "properties": {
        "reach_id": {"description": "The nearest reach."},
        "measure_m": {"type": "number", "description": "Metres from the reach's upstream end."},
        "distance_m": {"type": "number", "description": "Metres from the point to the reach."},
        "links": {"type": "array", "items": {"type": "object"}},
    },
}

State = Annotated[AppState, Depends(app_state)]


@router.get(
    "/reaches/position",
    summary="The reach at a point",
    response_class=Response,
    responses=openapi_responses({JSON: POSITION_SCHEMA}, 404, 503),
)
async def reach_position(
    request: Request,
    state: State,
    lon: Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False, description="Longitude.")],
    lat: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False, description="Latitude.")],
    max_distance: Annotated[
        float, Query(gt=0, allow_inf_nan=False, description="Snap limit in metres.")
    ] = 1000.0,
) -> Response:
    """The reach nearest to a WGS84 point, the measure on it and the distance to it.

    404 when every reach is farther than ``max_distance`` metres.
    """
    project = state.project

    def compute() -> dict[str, Any]:
        point = network_point(project, lon, lat)
        snapped = snap_point(
            project.network, point, max_distance_m=max_distance, limit_name="max_distance"
        )
        return {
            "reach_id": snapped.reach_id,
            "measure_m": round(float(snapped.measure_m), 3),
            "distance_m": round(float(snapped.distance_m), 3),
        }

    found = await state.computed(("position", lon, lat, max_distance), compute)
    rid = found["reach_id"]
    links = [
        {"rel": "chiefs", "type": JSON,
         "href": absolute_url(request, f"/reaches/{rid}/chiefs", {"measure": found["measure_m"]})},
        {"rel": "navigation", "type": JSON,
         "href": absolute_url(request, f"/reaches/{rid}/navigation")},
        {"rel": "item", "type": "application/geo+json",
         "href": absolute_url(request, f"/collections/reaches/items/{rid}")},
    ]  # fmt: skip
    body = orjson.dumps({**found, "links": links}, default=json_default)
    return cached_response(request, body, JSON)
