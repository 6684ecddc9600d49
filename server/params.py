"""Path and query parameters shared by the routers, parsed into plain values.

Malformed values raise :class:`~rivernet.InputError` (or fail FastAPI's validation), which the
error table answers with 400 and a message naming the parameter; a reach id that is not in the
network raises :class:`~rivernet.NotFoundError` (404). Admin levels are the library's
(:data:`rivernet.admin.LEVELS`).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import pandas as pd
from fastapi import Query
from pyproj import CRS
from shapely import Point

from rivernet.admin import LEVELS, Level
from rivernet.errors import InputError, NotFoundError
from rivernet.geometry import reproject
from rivernet.roster import today
from rivernet.server.encoding import OutputCRS, output_crs

if TYPE_CHECKING:
    from rivernet.project import Project

__all__ = [
    "LEVELS",
    "DatetimeQuery",
    "Level",
    "LevelQuery",
    "as_of_date",
    "bbox_boxes",
    "network_point",
    "number_list",
    "reach_id",
]

LevelQuery = Annotated[
    Level,
    Query(description="Admin level for level-dependent results: province, city, county, "
          "township or village."),
]  # fmt: skip
DatetimeQuery = Annotated[
    str | None,
    Query(alias="datetime", description="As-of date (ISO 8601 date or date-time; default today)."),
]


def as_of_date(text: str | None) -> dt.date:
    """The as-of date named by a ``datetime`` parameter (today when absent).

    Parameters
    ----------
    text
        ``2024-05-01``, ``2024-05-01T08:00:00Z`` or None.

    Returns
    -------
    datetime.date
        The date.

    Raises
    ------
    InputError
        For intervals and anything that is not an ISO 8601 date or date-time.
    """
    if text is None or not text.strip():
        return today()
    value = text.strip()
    if "/" in value:
        raise InputError(
            f"datetime {text!r} is an interval; answers are as of one date: give a single date "
            "such as 2024-05-01"
        )
    try:
        if "T" in value or " " in value:
            return dt.datetime.fromisoformat(value.replace("z", "Z")).date()
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"datetime {text!r} is not an ISO 8601 date; use e.g. 2024-05-01 or "
            "2024-05-01T00:00:00Z"
        ) from None


def number_list(text: str, *, name: str, counts: tuple[int, ...]) -> list[float]:
    """Finite numbers from a comma-separated parameter.

    Raises
    ------
    InputError
        If a value is not a finite number or there are not ``counts`` of them.
    """
    parts = [part.strip() for part in text.split(",")]
    try:
        values = [float(part) for part in parts]
    except ValueError:
        raise InputError(f"{name} {text!r} must be comma-separated numbers") from None
    if len(values) not in counts or not all(math.isfinite(v) for v in values):
        wanted = " or ".join(map(str, counts))
        raise InputError(f"{name} {text!r} must have {wanted} finite numbers")
    return values


def bbox_boxes(text: str | None, crs_text: str | None) -> list[tuple[float, float, float, float]]:
    """Lon/lat boxes for an OGC ``bbox`` (4 or 6 numbers) given in ``bbox-crs``.

    A box whose west edge is east of its east edge crosses the antimeridian and becomes two.

    Raises
    ------
    InputError
        If the box is malformed (south above north, out-of-range latitudes).
    CRSError
        If ``bbox-crs`` is not an offered CRS.
    """
    if text is None:
        if crs_text is not None:
            output_crs(crs_text)  # still report a bad bbox-crs
        return []
    values = number_list(text, name="bbox", counts=(4, 6))
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    crs: OutputCRS = output_crs(crs_text)
    x0, y0, x1, y1 = crs.to_wgs84_box(values)
    if y0 > y1:
        raise InputError(f"bbox {text!r} has its lower corner above its upper corner")
    if crs.epsg != 3857 and (min(y0, y1) < -90 or max(y0, y1) > 90):
        raise InputError(f"bbox {text!r} has latitudes outside -90..90 (axis order mixed up?)")
    if x0 > x1:
        return [(x0, y0, 180.0, y1), (-180.0, y0, x1, y1)]
    return [(x0, y0, x1, y1)]


def reach_id(project: Project, text: str) -> Any:
    """The reach id written as ``text``, in the network's id type.

    Raises
    ------
    NotFoundError
        If no reach has that id.
    """
    index = project.network.reaches.index
    value: Any = text
    if pd.api.types.is_integer_dtype(index.dtype):
        try:
            value = int(text)
        except ValueError:
            value = None
    if value is None or value not in project.network:
        raise NotFoundError.from_key("error.no_reach_api", reach=repr(text))
    return value


def network_point(project: Project, lon: float, lat: float) -> Point:
    """A WGS84 longitude/latitude as a point in the network's CRS."""
    crs = project.network.crs
    if crs.is_geographic and crs.to_epsg() in (4326, 4490):
        return Point(lon, lat)
    point: Point = reproject(np.array([Point(lon, lat)]), CRS.from_epsg(4326), crs)[0]
    return point
