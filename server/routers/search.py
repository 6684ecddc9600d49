"""Search by name or id: admin units, lakes, rivers, reaches and chiefs, for the web map's box.

``GET /search?q=&limit=`` matches ``q`` (case-insensitive, anywhere in the text) against admin
unit names and codes (the project's admin units and the roster's township and village units),
lake names (``name_zh``, ``name``), river names (the reach column ``name`` when the network has
one; the usual variants match too: 京杭大运河 finds 京杭运河, 太浦 finds 太浦河, full-width
characters and parenthesised aliases are understood, see :func:`rivernet.names.name_keys`), chief
names and person ids (public roster columns only), and answers a reach or a main
stem whose id is ``q``. Each result has ``kind``, ``label``, ``id``, ``bbox`` (WGS84: west,
south, east, north) for the map to zoom to and, for reaches and chiefs, a ``reach_id`` to open.
Exact matches come first, then prefixes, then the rest; within those, units before lakes,
rivers, reaches and chiefs. The index is built once per data version, in the compute pool.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import orjson
import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from rivernet.errors import NotFoundError
from rivernet.layers.sources import to_wgs84
from rivernet.names import name_keys
from rivernet.server.encoding import json_default
from rivernet.server.http import cached_response, openapi_responses
from rivernet.server.params import reach_id
from rivernet.server.state import AppState, app_state

if TYPE_CHECKING:
    from rivernet.project import Project

__all__ = ["KINDS", "SearchEntry", "router", "search_index"]

router = APIRouter(tags=["search"])

JSON = "application/json"
KINDS = ("unit", "lake", "river", "reach", "chief")
"""Result kinds, in the order they are listed among equally good matches."""
Box = tuple[float, float, float, float]
RESULT_SCHEMA = {
    "type": "object",
    "properties": {
        "query": {"type": "string"},
        "numberReturned": {"type": "integer"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "kind": {"type": "string", "enum": list(KINDS)},
                    "label": {"type": "string"},
                    "id": {"type": "string"},
                    "bbox": {"type": "array", "items": {"type": "number"}},
                },
            },
        },
    },
}

State = Annotated[AppState, Depends(app_state)]
_KEY = "\x1f"  # delimits the name keys of a river in its search text


@dataclass(frozen=True)
class SearchEntry:
    """One searchable thing: what it is, its label and id, where it is, and its search text."""

    kind: str
    label: str
    id: str
    bbox: Box
    text: str
    level: str | None = None
    reach_id: Any = None

    def document(self) -> dict[str, Any]:
        """The entry as a JSON result."""
        found: dict[str, Any] = {"kind": self.kind, "label": self.label, "id": self.id,
                                 "bbox": [round(v, 6) for v in self.bbox]}  # fmt: skip
        if self.level is not None:
            found["level"] = self.level
        if self.reach_id is not None:
            found["reach_id"] = self.reach_id
        return found


@router.get(
    "/search",
    summary="Search places, lakes, rivers, reaches and chiefs",
    response_class=Response,
    responses=openapi_responses({JSON: RESULT_SCHEMA}, 503),
)
async def search(
    request: Request,
    state: State,
    q: Annotated[
        str,
        Query(
            max_length=200,
            description="Text to find: a name (Chinese or English), an "
            "admin code, a reach id or a chief's name.",
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=200, description="Most results to return.")] = 20,
) -> Response:
    """Admin units, lakes, rivers, reaches and chiefs whose name or id contains ``q``."""
    project = state.project
    needle = q.strip()
    index: list[SearchEntry] = await state.computed(
        ("search-index",), lambda: search_index(project)
    )
    found = _matches(index, needle)
    if needle:
        found = [*_reach_entries(project, needle), *found]
    items = [entry.document() for entry in found[:limit]]
    document = {"query": needle, "numberReturned": len(items), "items": items}
    return cached_response(request, orjson.dumps(document, default=json_default), JSON)


def _matches(index: list[SearchEntry], needle: str) -> list[SearchEntry]:
    """Entries whose text contains ``needle``, best first."""
    if not needle:
        return []
    key = needle.casefold()
    variants = [f"{_KEY}{k}{_KEY}" for k in name_keys(needle)]

    def found(entry: SearchEntry) -> bool:
        return key in entry.text or (
            entry.kind == "river" and any(v in entry.text for v in variants)
        )

    def rank(entry: SearchEntry) -> tuple[int, int, int]:
        label = entry.label.casefold()
        if key in (label, entry.id.casefold()):
            closeness = 0
        elif label.startswith(key) or entry.id.casefold().startswith(key):
            closeness = 1
        else:
            closeness = 2
        return closeness, KINDS.index(entry.kind), len(entry.label)

    return sorted((entry for entry in index if found(entry)), key=rank)


def _reach_entries(project: Project, text: str) -> list[SearchEntry]:
    """The reach whose id is ``text`` and the main stem it is the outlet of, if any."""
    try:
        rid = reach_id(project, text)
    except NotFoundError:
        return []
    network = project.network
    reaches = to_wgs84(network.reaches[["geometry"]])
    entries = [SearchEntry("reach", str(rid), str(rid), _box(reaches.geometry.loc[[rid]]),
                           str(rid), reach_id=rid)]  # fmt: skip
    stems = network.main_stem_id()
    members = stems.index[stems.to_numpy() == rid]
    if len(members) > 1:
        box = _box(reaches.geometry.loc[members])
        entries.append(SearchEntry("river", f"{rid} ({len(members)})", str(rid), box, str(rid)))
    return entries


def search_index(project: Project) -> list[SearchEntry]:
    """Every searchable unit, lake, named river and chief of a project, with its WGS84 box.

    Parameters
    ----------
    project
        The project.

    Returns
    -------
    list of SearchEntry
        Entries without a location are left out.
    """
    reaches = to_wgs84(project.network.reaches)
    reach_boxes = _boxes(reaches.index, reaches.geometry)
    units = project.admin_units
    entries: list[SearchEntry] = []
    unit_boxes: dict[str, Box] = {}
    if units is not None and len(units):
        units = to_wgs84(units)
        unit_boxes = _boxes(units["code"], units.geometry)
        for code, name, level in zip(units["code"], units["name"], units["level"], strict=True):
            entries.append(SearchEntry("unit", str(name), str(code), unit_boxes[str(code)],
                                       f"{name} {code}".casefold(), level=str(level)))  # fmt: skip
    lakes = project.lakes
    lake_boxes: dict[str, Box] = {}
    if lakes is not None and len(lakes):
        lakes = to_wgs84(lakes)
        lake_boxes = _boxes(lakes["lake_id"], lakes.geometry)
        for lake, zh, en in zip(lakes["lake_id"], _texts(lakes, "name_zh"), _texts(lakes, "name"),
                                strict=True):  # fmt: skip
            if zh or en:
                label = " / ".join(n for n in (zh, en) if n)
                entries.append(SearchEntry("lake", label, str(lake), lake_boxes[str(lake)],
                                           f"{zh} {en} {lake}".casefold()))  # fmt: skip
    if "name" in reaches.columns:
        named = reaches[reaches["name"].notna() & (reaches["name"].astype(str).str.strip() != "")]
        for name, group in named.groupby(named["name"].astype(str)):
            keys = "".join(f"{_KEY}{key}{_KEY}" for key in sorted(name_keys(name)))
            entries.append(SearchEntry("river", name, name, _box(group.geometry),
                                       f"{name.casefold()} {keys}"))  # fmt: skip
    stems = project.network.main_stem_id()
    frame = pd.DataFrame(reaches.geometry.bounds.to_numpy(), columns=["x0", "y0", "x1", "y1"])
    frame["stem"] = [str(s) for s in stems.reindex(reaches.index).to_numpy()]
    grouped = frame.groupby("stem").agg({"x0": "min", "y0": "min", "x1": "max", "y1": "max"})
    river_boxes = {str(k): _as_box(row) for k, row in grouped.iterrows()}
    places = _Places(reach_boxes, river_boxes, lake_boxes, unit_boxes)
    entries.extend(_roster_entries(project, places))
    return entries


@dataclass(frozen=True)
class _Places:
    """WGS84 boxes of what an assignment may name, keyed by id as text."""

    reaches: dict[str, Box]
    rivers: dict[str, Box]
    lakes: dict[str, Box]
    units: dict[str, Box]

    def of(self, row: dict[str, Any]) -> Box | None:
        for key, boxes in (("reach_id", self.reaches), ("lake_id", self.lakes),
                           ("river_id", self.rivers)):  # fmt: skip
            value = _given(row.get(key))
            if value is not None and value in boxes:
                return boxes[value]
        code = _given(row.get("unit_code")) or ""
        # the unit itself, else the nearest enclosing unit with a polygon (GB/T 2260 codes)
        for enclosing in (code, code[:9], code[:6], code[:4] + "00", code[:2] + "0000"):
            if enclosing in self.units:
                return self.units[enclosing]
        return None


def _roster_entries(project: Project, places: _Places) -> Iterator[SearchEntry]:
    """Chiefs (public columns only) and the roster's own township and village units."""
    roster = project.roster
    if roster is None:
        return
    by_person: dict[str, list[Box]] = {}
    by_unit: dict[str, list[Box]] = {}
    first_reach: dict[str, Any] = {}
    columns = ["person_id", "unit_code", "reach_id", "lake_id", "river_id"]
    table = roster.assignments.reindex(columns=columns)
    rows: list[dict[str, Any]] = table.to_dict("records")  # type: ignore[assignment]
    for row in rows:
        box = places.of(row)
        if box is None:
            continue
        person = str(row["person_id"])
        by_person.setdefault(person, []).append(box)
        by_unit.setdefault(str(_given(row["unit_code"])), []).append(box)
        if _given(row["reach_id"]) is not None:
            first_reach.setdefault(person, row["reach_id"])
    units = roster.units
    if "code" in units.columns and "name" in units.columns:
        levels = units["level"] if "level" in units.columns else [None] * len(units)
        for code, name, level in zip(units["code"], units["name"], levels, strict=True):
            boxes = by_unit.get(str(code))
            if boxes:
                yield SearchEntry("unit", str(name), str(code), _union(boxes),
                                  f"{name} {code}".casefold(), level=_given(level))  # fmt: skip
    people = roster.people.reindex(columns=["person_id", "name", "post", "organisation", "level"])
    records: list[dict[str, Any]] = people.to_dict("records")  # type: ignore[assignment]
    for chief in records:
        pid = str(chief["person_id"])
        boxes = by_person.get(pid)
        if not boxes:
            continue
        name = _given(chief["name"]) or pid
        details = [d for d in (_given(chief["post"]), _given(chief["organisation"])) if d]
        label = " · ".join([name, *details])
        yield SearchEntry("chief", label, pid, _union(boxes), f"{name} {pid}".casefold(),
                          level=_given(chief["level"]), reach_id=first_reach.get(pid))  # fmt: skip


def _given(value: Any) -> str | None:
    """A cell as text, or None when empty."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _texts(frame: pd.DataFrame, column: str) -> list[str]:
    if column not in frame.columns:
        return [""] * len(frame)
    return [_given(v) or "" for v in frame[column]]


def _boxes(ids: Iterable[Any], geometries: Any) -> dict[str, Box]:
    bounds = np.asarray(geometries.bounds, dtype=float)
    return {str(i): _as_box(b) for i, b in zip(ids, bounds, strict=True)
            if np.isfinite(b).all()}  # fmt: skip


def _as_box(values: Iterable[Any]) -> Box:
    x0, y0, x1, y1 = (float(v) for v in values)
    return x0, y0, x1, y1


def _box(geometries: Any) -> Box:
    return _union(list(_boxes(range(len(geometries)), geometries).values()))


def _union(boxes: list[Box]) -> Box:
    array = np.asarray(boxes, dtype=float)
    return (float(array[:, 0].min()), float(array[:, 1].min()),
            float(array[:, 2].max()), float(array[:, 3].max()))  # fmt: skip
