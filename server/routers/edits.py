"""Roster edits over HTTP: appointments, people and sign boards, the audit and reach histories.

Writes need ``Authorization: Bearer TOKEN`` (a token made by ``rivernet token create``): 401
without a token or with an unknown one, 403 outside the token's scope (an editor edits its own
unit and every unit below it; viewers never edit), 412 when ``If-Match`` names an ETag the row no
longer has, 422 when the data breaks a roster rule (``errors[0].parameter`` names the field). The
library (:mod:`rivernet.edits`) validates, writes, audits and bumps the store's data version in
one transaction; this module only maps HTTP onto it. After an edit the worker that answered it
reads the new roster before answering (:mod:`rivernet.server.live`), so its very next request
(coverage, tiles, ETags) already shows the change; every other worker follows within a fraction
of a second.

Reads stay open without a token (single rows with their ETag, the audit, a reach's history),
except contact details, which only admin tokens see. Texts come from the message catalogue:
Chinese by default, English with ``lang=en``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from rivernet import edits, messages
from rivernet.errors import AuthError, EditError, InputError
from rivernet.server import live
from rivernet.server.errors import problem_responses
from rivernet.server.params import reach_id as parse_reach_id
from rivernet.server.state import AppState, app_state
from rivernet.tokens import Actor, verify_token

if TYPE_CHECKING:
    from rivernet.store import Store

router = APIRouter(tags=["roster edits"])

State = Annotated[AppState, Depends(app_state)]
Lang = Annotated[Literal["zh", "en"], Query(description="Language of messages: zh or en.")]
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="A token made by `rivernet token create PROJECT --unit CODE --role editor`, "
    "sent as `Authorization: Bearer TOKEN`.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
JSON = "application/json"
PRIVATE = ("contact",)
"""Row fields only admin tokens see."""
EDIT_ERRORS = (401, 403, 404, 412, 422, 503)

Level = Literal["province", "city", "county", "township", "village"]


# --- documented bodies (the library validates; these only describe) ---------------------------


class AssignmentFields(BaseModel):
    """An appointment: the fields of the roster's assignments table (one of reach_id, river_id,
    lake_id), and an optional reason for the audit."""

    person_id: str = Field(description="The person appointed (see POST /people).")
    level: Level
    unit_code: str = Field(description="The admin unit of the post (GB/T 2260 or village code).")
    role: str = Field("河长", description="河长, 副河长, 湖长, 段长, ...")
    reach_id: int | str | None = None
    river_id: int | str | None = None
    lake_id: int | str | None = None
    from_m: float | None = Field(None, description="Stretch start on the reach, metres.")
    to_m: float | None = Field(None, description="Stretch end on the reach, metres.")
    valid_from: dt.date
    valid_to: dt.date | None = Field(None, description="Term end; null while in office.")
    source_document: str | None = Field(None, description="The appointment document (文号).")
    reason: str | None = Field(None, description="Why: kept in the audit.")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "person_id": "P00025", "level": "county", "unit_code": "310114",
                    "role": "河长", "reach_id": 40629683, "from_m": 0.0, "to_m": 3342.2,
                    "valid_from": "2026-12-01", "valid_to": None,
                    "source_document": "嘉定河长办〔2026〕7号", "reason": "补齐缺失河段",
                }
            ]
        }
    }  # fmt: skip


class AssignmentChanges(BaseModel):
    """Fields of an assignment to change (end a term: ``valid_to``; correct a stretch:
    ``from_m``/``to_m``), and an optional reason for the audit."""

    valid_to: dt.date | None = None
    valid_from: dt.date | None = None
    from_m: float | None = None
    to_m: float | None = None
    person_id: str | None = None
    role: str | None = None
    source_document: str | None = None
    reason: str | None = None

    model_config = {
        "json_schema_extra": {
            "examples": [{"valid_to": "2026-11-30", "source_document": "嘉定河长办〔2026〕8号"}]
        }
    }


class AssignmentRow(AssignmentFields):
    """A stored assignment."""

    assignment_id: int | str
    etag: str = Field(description="The row's strong ETag (also the ETag header).")


class PersonFields(BaseModel):
    """A person of the roster (a chief)."""

    person_id: str | None = Field(None, description="Given by the store when omitted.")
    name: str
    post: str | None = Field(None, description="The government post, such as 区长.")
    organisation: str | None = None
    level: Level | None = None
    unit_code: str
    contact: str | None = Field(None, description="Private: shown to admin tokens only.")
    is_fictional: bool | None = None
    reason: str | None = None

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"name": "王某", "post": "副区长", "level": "county", "unit_code": "310114"}
            ]
        }
    }


class PersonRow(PersonFields):
    """A stored person."""

    person_id: str | None
    etag: str


class BoardFields(BaseModel):
    """A sign board (河长公示牌) on a reach."""

    board_id: str | None = Field(None, description="Given by the store when omitted.")
    reach_id: int | str
    measure_m: float = Field(description="Where on the reach, metres from its start.")
    level: Level
    person_id: str = Field(description="The chief the board shows.")
    updated_on: dt.date
    reason: str | None = None

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"reach_id": 40636806, "measure_m": 843.2, "level": "county",
                 "person_id": "P00025", "updated_on": "2026-12-05"}
            ]
        }
    }  # fmt: skip


class BoardRow(BoardFields):
    """A stored sign board."""

    board_id: str | None
    etag: str


class AuditEntry(BaseModel):
    """One change: who, when, what, before and after, why."""

    audit_id: int
    at: str = Field(description="When, ISO 8601 UTC.")
    actor: str = Field(description="The token's name.")
    actor_unit: str
    action: str = Field(description="appoint, update_assignment, add_person, ..., import")
    table: str
    row_id: str | int | None
    unit_code: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None
    source_document: str | None


class AuditPage(BaseModel):
    """Audit entries, newest first."""

    items: list[AuditEntry]
    numberReturned: int  # noqa: N815 - the OGC API's name, as every list of this server


class HistoryPage(BaseModel):
    """Every assignment a reach has had (also through its river or lake), by start date."""

    reach_id: int | str
    items: list[dict[str, Any]]
    numberReturned: int  # noqa: N815 - the OGC API's name, as every list of this server


class Me(BaseModel):
    """The token's holder and scope."""

    name: str
    unit_code: str
    unit_name: str | None
    role: Literal["viewer", "editor", "admin"]


OPTIONAL_TOKEN: dict[str, Any] = {"security": [{}, {"token": []}]}
"""Reads: open without a token (a token, when sent, must be valid; admins see contacts)."""


def _body_doc(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {JSON: {"schema": schema}}}}


def _answer_doc(
    model: type[BaseModel], status: int, description: str, *errors: int
) -> dict[int | str, dict[str, Any]]:
    headers = {"ETag": {"description": "The row's strong ETag.", "schema": {"type": "string"}}}
    answer: dict[str, Any] = {
        "description": description,
        "content": {JSON: {"schema": model.model_json_schema()}},
    }
    documented: dict[int | str, dict[str, Any]] = {status: answer}
    if status in (200, 201) and model in (AssignmentRow, PersonRow, BoardRow):
        answer["headers"] = headers
        if status == 200:
            documented[304] = {"description": "Not modified: the row still has that ETag."}
    return {**documented, **problem_responses(*sorted({400, *errors}))}


# --- plumbing -------------------------------------------------------------------------------


def _store(state: AppState, lang: str) -> Store:
    store: Store | None = getattr(state.project, "store", None)
    if store is None:
        raise HTTPException(503, messages.text("edits.no_store", lang))
    return store


async def _actor(
    state: AppState, credentials: HTTPAuthorizationCredentials | None, request: Request,
    lang: str, *, required: bool
) -> Actor | None:  # fmt: skip
    """The token's actor; None for an anonymous read. Raises AuthError (401)."""
    if credentials is None:
        header = request.headers.get("authorization")
        if header:
            scheme = header.split(" ", 1)[0][:20]
            raise AuthError(messages.text("edits.bad_header", lang, scheme=scheme))
        if required:
            raise AuthError(messages.text("edits.no_token", lang))
        return None
    store = _store(state, lang)
    token = credentials.credentials
    return await live.in_store(request.app, store, lambda: verify_token(store, token))


async def _body(request: Request, lang: str) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as error:
        raise edits_error("body", messages.text("edits.not_object", lang, error=error)) from None
    if not isinstance(body, dict):
        raise edits_error("body", messages.text("edits.not_object", lang, error=type(body)))
    return body


def edits_error(field: str, message: str) -> EditError:
    """A 422 :class:`~rivernet.errors.EditError` naming ``field``."""
    return EditError(message, field=field)


def _public(row: Any, actor: Actor | None) -> Any:
    """The row without contact details unless the actor is an admin (nested dicts too)."""
    if actor is not None and actor.role == "admin":
        return row
    if isinstance(row, Mapping):
        return {k: _public(v, actor) for k, v in row.items() if k not in PRIVATE}
    if isinstance(row, list):
        return [_public(v, actor) for v in row]
    return row


def _json(row: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    content = orjson.dumps(row, default=str, option=orjson.OPT_NON_STR_KEYS)
    return Response(content, status_code=status, media_type=JSON, headers=dict(headers or {}))


def _row_response(
    request: Request, row: Mapping[str, Any], actor: Actor | None, *, status: int = 200,
    location: str | None = None,
) -> Response:  # fmt: skip
    etag = str(row.get("etag", ""))
    headers = {"Cache-Control": "no-cache"}
    if etag:
        headers["ETag"] = etag
        if status == 200 and _matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
    if location:
        headers["Location"] = location
    return _json(_public(dict(row), actor), status=status, headers=headers)


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag in tags


async def _edit(
    request: Request, state: AppState, credentials: HTTPAuthorizationCredentials | None,
    lang: str, write: Callable[[Store, Actor, dict[str, Any]], dict[str, Any]],
) -> tuple[dict[str, Any], Actor]:  # fmt: skip
    """Authenticate, read the body, write in a worker thread, then follow the new version."""
    store = _store(state, lang)
    actor = await _actor(state, credentials, request, lang, required=True)
    assert actor is not None
    body = await _body(request, lang)
    row = await live.in_store(request.app, store, lambda: write(store, actor, body))
    await live.after_edit(request.app)
    return row, actor


def _reason(body: dict[str, Any]) -> str | None:
    reason = body.pop("reason", None)
    return None if reason is None else str(reason)


# --- data version and who am I --------------------------------------------------------------


class Version(BaseModel):
    """The data version the server answers from (changes with every roster edit)."""

    data_version: str
    store_version: int | None


@router.get(
    "/version",
    summary="The data version served now",
    response_class=Response,
    responses=_answer_doc(Version, 200, "The data version (not cached)."),
)
async def version(state: State) -> Response:
    """The data version in every ETag and cache key, and the store's version it was read at:
    pages poll it to redraw the map when anyone edits the roster."""
    body = {"data_version": state.data_version,
            "store_version": getattr(state.project, "store_version", None)}  # fmt: skip
    return _json(body, headers={"Cache-Control": "no-store"})


# --- who am I -------------------------------------------------------------------------------


@router.get(
    "/auth/me",
    summary="The token's holder, unit and role",
    response_class=Response,
    responses=_answer_doc(Me, 200, "The token's holder and scope.", 401, 503),
)
async def me(
    request: Request, state: State, credentials: Credentials, lang: Lang = "zh"
) -> Response:
    """Who a token belongs to: its name, unit (code and name) and role (viewer, editor, admin)."""
    actor = await _actor(state, credentials, request, lang, required=True)
    assert actor is not None
    names = _unit_names(state)
    body = {"name": actor.name, "unit_code": actor.unit_code,
            "unit_name": names.get(actor.unit_code), "role": actor.role}  # fmt: skip
    return _json(body, headers={"Cache-Control": "no-store"})


def _unit_names(state: AppState) -> dict[str, str]:
    units = state.project.admin_units
    names = dict(zip(units["code"].astype(str), units["name"].astype(str), strict=True))
    for code, name in list(names.items()):  # "320500" is also written "3205"
        short = code.rstrip("0")
        if len(short) % 2:
            short += "0"
        names.setdefault(short, name)
    return names


# --- assignments ----------------------------------------------------------------------------


@router.post(
    "/assignments",
    summary="Appoint a chief",
    status_code=201,
    response_class=Response,
    openapi_extra=_body_doc(AssignmentFields),
    responses=_answer_doc(AssignmentRow, 201, "Appointed: the stored assignment.", *EDIT_ERRORS),
)
async def appoint(
    request: Request, state: State, credentials: Credentials, lang: Lang = "zh"
) -> Response:
    """Appoint a chief: one assignment, validated by the rules of ``rivernet roster check``,
    written and audited in one transaction. Answers 201 with the stored row, its
    ``assignment_id`` and ETag."""

    def write(store: Store, actor: Actor, body: dict[str, Any]) -> dict[str, Any]:
        reason = _reason(body)
        return edits.appoint(store, actor, body, reason=reason)

    row, actor = await _edit(request, state, credentials, lang, write)
    where = f"assignments/{row.get('assignment_id')}"
    return _row_response(request, row, actor, status=201, location=where)


AssignmentId = Annotated[str, Path(description="The assignment's id.")]


@router.get(
    "/assignments/{assignment_id}",
    summary="One assignment",
    openapi_extra=OPTIONAL_TOKEN,
    response_class=Response,
    responses=_answer_doc(AssignmentRow, 200, "The assignment, with its ETag.", 401, 404, 503),
)
async def get_assignment(
    request: Request, state: State, assignment_id: AssignmentId, credentials: Credentials,
    lang: Lang = "zh",
) -> Response:  # fmt: skip
    """An assignment as stored (ended ones too), with the ETag to send as ``If-Match``."""
    store = _store(state, lang)
    actor = await _actor(state, credentials, request, lang, required=False)
    key = _row_id(assignment_id)
    row = await live.in_store(request.app, store, lambda: edits.get_assignment(store, key))
    return _row_response(request, row, actor)


@router.patch(
    "/assignments/{assignment_id}",
    summary="Change an assignment (end a term, correct a stretch)",
    response_class=Response,
    openapi_extra=_body_doc(AssignmentChanges),
    responses=_answer_doc(AssignmentRow, 200, "Changed: the stored assignment.", *EDIT_ERRORS),
)
async def update_assignment(
    request: Request, state: State, assignment_id: AssignmentId, credentials: Credentials,
    lang: Lang = "zh",
) -> Response:  # fmt: skip
    """Change fields of an assignment. Send the ETag read with it as ``If-Match``: a row changed
    since answers 412 with its current ETag."""
    key = _row_id(assignment_id)
    if_match = request.headers.get("if-match")

    def write(store: Store, actor: Actor, body: dict[str, Any]) -> dict[str, Any]:
        reason = _reason(body)
        return edits.update_assignment(store, actor, key, body, if_match=if_match, reason=reason)

    row, actor = await _edit(request, state, credentials, lang, write)
    return _row_response(request, row, actor)


def _row_id(text: str) -> Any:
    """Ids written in digits are numbers (the stores' integer keys); others stay text."""
    return int(text) if text.isdigit() and len(text) < 19 else text


# --- people ---------------------------------------------------------------------------------


@router.post(
    "/people",
    summary="Add a person",
    status_code=201,
    response_class=Response,
    openapi_extra=_body_doc(PersonFields),
    responses=_answer_doc(PersonRow, 201, "Added: the stored person.", *EDIT_ERRORS),
)
async def add_person(
    request: Request, state: State, credentials: Credentials, lang: Lang = "zh"
) -> Response:
    """Add a person (a chief) to the roster of a unit in the token's scope."""

    def write(store: Store, actor: Actor, body: dict[str, Any]) -> dict[str, Any]:
        _reason(body)
        return edits.add_person(store, actor, body)

    row, actor = await _edit(request, state, credentials, lang, write)
    return _row_response(request, row, actor, status=201, location=f"people/{row.get('person_id')}")


PersonId = Annotated[str, Path(description="The person's id.")]


@router.get(
    "/people/{person_id}",
    summary="One person",
    openapi_extra=OPTIONAL_TOKEN,
    response_class=Response,
    responses=_answer_doc(
        PersonRow, 200, "The person (contact details for admins only).", 401, 404, 503
    ),
)
async def get_person(
    request: Request, state: State, person_id: PersonId, credentials: Credentials,
    lang: Lang = "zh",
) -> Response:  # fmt: skip
    """A person with the ETag to send as ``If-Match``; ``contact`` only for admin tokens."""
    store = _store(state, lang)
    actor = await _actor(state, credentials, request, lang, required=False)
    admin = actor is not None and actor.role == "admin"
    row = await live.in_store(
        request.app, store, lambda: edits.get_person(store, person_id, include_contact=admin)
    )
    return _row_response(request, row, actor)


@router.patch(
    "/people/{person_id}",
    summary="Change a person",
    response_class=Response,
    openapi_extra=_body_doc(PersonFields),
    responses=_answer_doc(PersonRow, 200, "Changed: the stored person.", *EDIT_ERRORS),
)
async def update_person(
    request: Request, state: State, person_id: PersonId, credentials: Credentials,
    lang: Lang = "zh",
) -> Response:  # fmt: skip
    """Change fields of a person (post, organisation, contact); ``If-Match`` as for
    assignments."""
    if_match = request.headers.get("if-match")

    def write(store: Store, actor: Actor, body: dict[str, Any]) -> dict[str, Any]:
        reason = _reason(body)
        return edits.update_person(store, actor, person_id, body, if_match=if_match,
                                   reason=reason)  # fmt: skip

    row, actor = await _edit(request, state, credentials, lang, write)
    return _row_response(request, row, actor)


# --- sign boards ----------------------------------------------------------------------------


@router.post(
    "/boards",
    summary="Add a sign board",
    status_code=201,
    response_class=Response,
    openapi_extra=_body_doc(BoardFields),
    responses=_answer_doc(BoardRow, 201, "Added: the stored sign board.", *EDIT_ERRORS),
)
async def add_board(
    request: Request, state: State, credentials: Credentials, lang: Lang = "zh"
) -> Response:
    """Add a sign board (河长公示牌) on a reach of a unit in the token's scope."""

    def write(store: Store, actor: Actor, body: dict[str, Any]) -> dict[str, Any]:
        _reason(body)
        return edits.add_board(store, actor, body)

    row, actor = await _edit(request, state, credentials, lang, write)
    return _row_response(request, row, actor, status=201, location=f"boards/{row.get('board_id')}")


BoardId = Annotated[str, Path(description="The sign board's id.")]


@router.get(
    "/boards/{board_id}",
    summary="One sign board",
    openapi_extra=OPTIONAL_TOKEN,
    response_class=Response,
    responses=_answer_doc(BoardRow, 200, "The sign board, with its ETag.", 401, 404, 503),
)
async def get_board(
    request: Request, state: State, board_id: BoardId, credentials: Credentials,
    lang: Lang = "zh",
) -> Response:  # fmt: skip
    """A sign board with the ETag to send as ``If-Match``."""
    store = _store(state, lang)
    actor = await _actor(state, credentials, request, lang, required=False)
    row = await live.in_store(request.app, store, lambda: edits.get_board(store, board_id))
    return _row_response(request, row, actor)


@router.patch(
    "/boards/{board_id}",
    summary="Change a sign board (it now shows the new chief)",
    response_class=Response,
    openapi_extra=_body_doc(BoardFields),
    responses=_answer_doc(BoardRow, 200, "Changed: the stored sign board.", *EDIT_ERRORS),
)
async def update_board(
    request: Request, state: State, board_id: BoardId, credentials: Credentials,
    lang: Lang = "zh",
) -> Response:  # fmt: skip
    """Change a sign board: the person it shows, ``updated_on``, where it stands."""
    if_match = request.headers.get("if-match")

    def write(store: Store, actor: Actor, body: dict[str, Any]) -> dict[str, Any]:
        reason = _reason(body)
        return edits.update_board(store, actor, board_id, body, if_match=if_match,
                                  reason=reason)  # fmt: skip

    row, actor = await _edit(request, state, credentials, lang, write)
    return _row_response(request, row, actor)


# --- audit and history ----------------------------------------------------------------------


@router.get(
    "/audit",
    openapi_extra=OPTIONAL_TOKEN,
    summary="Who changed what, when and why",
    response_class=Response,
    responses=_answer_doc(AuditPage, 200, "Audit entries, newest first.", 401, 503),
)
async def audit(
    request: Request,
    state: State,
    credentials: Credentials,
    unit: Annotated[
        str | None, Query(description="Only changes in this unit and the units below it (code).")
    ] = None,
    since: Annotated[
        str | None, Query(description="Only changes at or after this date or time (ISO 8601).")
    ] = None,
    person: Annotated[str | None, Query(description="Only changes of this person's rows.")] = None,
    limit: Annotated[int, Query(ge=1, le=10000, description="At most this many entries.")] = 1000,
    lang: Lang = "zh",
) -> Response:
    """The audit of roster changes (appointments, people, boards, imports): who (token name and
    unit), when, what (table and row), before and after, the reason and the 文号."""
    store = _store(state, lang)
    actor = await _actor(state, credentials, request, lang, required=False)
    start = _since(since, lang)
    rows = await live.in_store(
        request.app,
        store,
        lambda: edits.audit(store, unit=unit, since=start, person=person, limit=limit),
    )
    body = {"items": _public(rows, actor), "numberReturned": len(rows)}
    return _json(body, headers={"Cache-Control": "no-cache"})


def _since(text: str | None, lang: str) -> dt.datetime | dt.date | None:
    if not text:
        return None
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(messages.text("edits.bad_since", lang, value=text[:40])) from None


@router.get(
    "/reaches/{reach_id}/history",
    openapi_extra=OPTIONAL_TOKEN,
    summary="Every chief a reach has had",
    response_class=Response,
    responses=_answer_doc(HistoryPage, 200, "Assignments by start date, with 文号.", 401, 404, 503),
)
async def reach_history(
    request: Request,
    state: State,
    reach_id: Annotated[str, Path(description="Reach id.")],
    credentials: Credentials,
    lang: Lang = "zh",
) -> Response:
    """Every assignment ever on the reach (also through its river or lake), by ``valid_from``,
    each with its person, dates and appointment document (文号)."""
    store = _store(state, lang)
    actor = await _actor(state, credentials, request, lang, required=False)
    rid = parse_reach_id(state.project, reach_id)
    rows = await live.in_store(request.app, store, lambda: edits.history(store, rid))
    body = {"reach_id": rid, "items": _public(rows, actor), "numberReturned": len(rows)}
    return _json(body, headers={"Cache-Control": "no-cache"})


__all__ = ["router"]
