"""One table maps library exceptions to HTTP status codes; every error body is problem+json.

Handlers are installed by :func:`install_error_handlers`. Library errors keep their message (it
already says what was wrong and how to fix it), in the request's language (:func:`request_lang`:
``?lang=zh|en``, else the ``Accept-Language`` header, else Chinese) when the message comes from
the catalogue; request validation errors are 400 (as OGC API asks)
and list each bad parameter; roster edits answer 401 (no or unknown token), 403 (outside the
token's scope), 412 (stale ``If-Match``) and 422 (invalid data, ``errors`` naming the field);
anything unexpected is logged and answered with a plain 500 problem.
The OpenAPI document says the same: :func:`problem_responses` documents a route's error statuses
with :data:`PROBLEM_SCHEMA`, and :func:`document_problems` removes FastAPI's 422 (this API answers
bad parameters with 400).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from rivernet import messages
from rivernet.errors import (
    AdminUnitsError,
    AuthError,
    CRSError,
    EditError,
    InputError,
    NotFoundError,
    OutOfRangeError,
    PolicyError,
    ProjectFileError,
    RivernetError,
    RosterError,
    ScopeError,
    StaleError,
    TopologyError,
)

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem: what was wrong with the request and how to fix it.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "Each bad parameter: where it is, its name, what is wrong.",
            "items": {
                "type": "object",
                "properties": {
                    "parameter": {"type": "string"},
                    "in": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
        "problems": {"type": "array", "description": "Problems in the project's data."},
    },
}
ERROR_DESCRIPTIONS = {
    400: "Bad request: a parameter (or the Host header) is malformed or not offered; the "
    "problem names it and says how to fix it.",
    401: "Unauthorized: the route changes the roster (or shows contact details) and needs "
    "`Authorization: Bearer TOKEN` with a known, unrevoked token.",
    403: "Forbidden: the token's role or unit does not cover this change (an editor edits its "
    "own unit and the units below it; viewers never edit); the problem names both.",
    412: "Precondition failed: the row changed since the `If-Match` ETag was read; the problem "
    "gives the current ETag: read the row again and redo the change.",
    422: "Unprocessable: the data breaks a roster rule (the same rules as `rivernet roster "
    "check`); `errors[0].parameter` names the field.",
    404: "Not found: no such collection, layer, reach, feature, unit or tile (or the project "
    "has no chief roster for this route).",
    503: "The project's data cannot answer this request until it is fixed (a damaged roster, "
    "admin units or policy).",
}

# The first row whose class matches wins, so subclasses come before their bases.
# Errors about the served data itself (not the request) are 503: the request was fine, but the
# project cannot answer it until its data is fixed.
ERROR_TABLE: tuple[tuple[type[Exception], int, str], ...] = (
    (AuthError, 401, "http_title.401"),
    (ScopeError, 403, "http_title.403"),
    (StaleError, 412, "http_title.412"),
    (EditError, 422, "http_title.422"),
    (NotFoundError, 404, "http_title.404"),
    (OutOfRangeError, 404, "http_title.out_of_range"),
    (ProjectFileError, 503, "http_title.503"),
    (RosterError, 503, "http_title.503"),
    (PolicyError, 503, "http_title.503"),
    (AdminUnitsError, 503, "http_title.503"),
    (TopologyError, 503, "http_title.503"),
    (CRSError, 400, "http_title.crs"),
    (InputError, 400, "http_title.400"),
    (RivernetError, 400, "http_title.400"),
)
"""Exception class -> HTTP status and the catalogue key of the problem's title."""


def status_for(error: Exception) -> tuple[int, str]:
    """The HTTP status and title key for an exception (500 when no row of the table matches)."""
    for kind, status, title in ERROR_TABLE:
        if isinstance(error, kind):
            return status, title
    return 500, "http_title.500"


def title(status: int, lang: str = "zh") -> str:
    """The problem title of an HTTP status in ``lang`` (the catalogue's, else a generic one)."""
    key = f"http_title.{status}"
    if key in messages.catalogue():
        return messages.text(key, lang)
    if lang == "en":
        from http import HTTPStatus

        try:
            return HTTPStatus(status).phrase
        except ValueError:
            pass
    return messages.text("http_title.other", lang)


def problem(
    status: int, title: str, detail: str, *, instance: str | None = None, **extra: Any
) -> Response:
    """An RFC 9457 problem+json response.

    Parameters
    ----------
    status
        HTTP status code.
    title
        Short summary of the kind of problem.
    detail
        What went wrong for this request and how to fix it.
    instance
        The request path.
    **extra
        More members (``errors`` for validation problems).

    Returns
    -------
    fastapi.responses.Response
        The response.
    """
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if instance is not None:
        body["instance"] = instance
    body.update(extra)
    return Response(
        orjson.dumps(body, default=str),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers={"Cache-Control": "no-store"},
    )


def scope_lang(scope: Any) -> str:
    """:func:`request_lang` of an ASGI scope (for middleware that answers before routing)."""
    return request_lang(Request(scope))


def request_lang(request: Request) -> str:
    """The language a request asks for: ``?lang=``, else ``Accept-Language``, else ``"zh"``."""
    asked = request.query_params.get("lang")
    if asked in messages.LANGS:
        return asked
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in messages.LANGS:
            return code
    return messages.LANGS[0]


async def _library_error(request: Request, error: Exception) -> Response:
    status, title_key = status_for(error)
    if status >= 500:
        logger.error("project data problem on %s: %s", request.url.path, error)
    lang = request_lang(request)
    detail = error.text(lang) if isinstance(error, RivernetError) else str(error)
    extra: dict[str, Any] = {}
    problems = getattr(error, "problems", None)
    if problems:
        extra["problems"] = [{"line": line, "message": messages.render(msg, lang)}
                             for line, msg in problems]  # fmt: skip
    field = getattr(error, "field", None)
    if status == 422 and field:
        extra["errors"] = [{"parameter": str(field), "in": "body", "message": detail}]
    current = getattr(error, "current_etag", None) or getattr(error, "etag", None)
    if status == 412 and current:
        extra["etag"] = str(current)
    response = problem(status, messages.text(title_key, lang), detail,
                       instance=request.url.path, **extra)  # fmt: skip
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="rivernet"'
    return response


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    lang = request_lang(request)
    errors = [_bad_parameter(item, lang) for item in error.errors()]
    detail = "; ".join(
        messages.text("http_error.parameter", lang, name=e["parameter"], message=e["message"],
                      where=messages.text(f"http_where.{e['in']}", lang))
        for e in errors
    )  # fmt: skip
    return problem(
        400, messages.text("http_title.invalid", lang),
        detail or messages.text("http_error.invalid", lang), instance=request.url.path,
        errors=errors,
    )  # fmt: skip


def _bad_parameter(item: Any, lang: str) -> dict[str, Any]:
    """One of pydantic's validation errors as a problem's ``errors`` entry, in ``lang``."""
    loc = tuple(item.get("loc", ()))
    where = str(loc[0]) if loc else "query"
    if f"http_where.{where}" not in messages.catalogue():
        where = "query"
    message = str(item.get("msg", ""))
    if lang != "en":
        kind = str(item.get("type", ""))
        key = f"validation.{kind}" if f"validation.{kind}" in messages.catalogue() else ""
        context = {name: str(value).replace(" or ", "、")
                   for name, value in (item.get("ctx") or {}).items()}  # fmt: skip
        try:
            message = messages.text(key or "validation.other", lang, **context)
        except RivernetError:
            message = messages.text("validation.other", lang)
    return {
        "parameter": ".".join(str(part) for part in loc[1:]),
        "in": where,
        "message": message,
        "value": item.get("input"),
    }


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    lang = request_lang(request)
    detail = str(error.detail)
    path = request.url.path
    if error.status_code == 404 and detail == "Not Found":
        detail = messages.text("http_error.no_resource", lang, path=path)
    elif error.status_code == 405 and detail == "Method Not Allowed":
        detail = messages.text("http_error.method", lang, path=path, method=request.method)
    response = problem(error.status_code, title(error.status_code, lang), detail, instance=path)
    if error.headers:
        response.headers.update(error.headers)
    return response


async def _unexpected_error(request: Request, error: Exception) -> Response:
    logger.exception("unexpected error on %s", request.url.path, exc_info=error)
    lang = request_lang(request)
    return problem(500, title(500, lang), messages.text("http_error.internal", lang),
                   instance=request.url.path)  # fmt: skip


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting error statuses answered with problem+json.

    Parameters
    ----------
    *statuses
        The statuses a route may answer with (400, 401, 403, 404, 412, 422, 503).

    Returns
    -------
    dict
        Status -> response object, for a route decorator's ``responses``.
    """
    content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {status: {"description": ERROR_DESCRIPTIONS[status], "content": content}
            for status in statuses}  # fmt: skip


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Finish an OpenAPI document: add the Problem schema and drop FastAPI's 422 responses.

    Parameters
    ----------
    schema
        The document FastAPI generated (changed in place).

    Returns
    -------
    dict
        The same document.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict):
                responses = operation.get("responses", {})
                if "HTTPValidationError" in str(responses.get("422", "")):
                    responses.pop("422")
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    return schema


def host_problem(host: str | None, lang: str = "zh") -> Response:
    """The 400 problem for a request whose ``Host`` header is not one the server answers."""
    return problem(
        400, messages.text("http_title.host", lang),
        messages.text("http_error.unknown_host", lang, host=host),
        errors=[{"parameter": "Host", "in": "header", "value": host,
                 "message": messages.text("http_error.host_not_allowed", lang)}],
    )  # fmt: skip


def install_error_handlers(app: FastAPI) -> None:
    """Answer library errors, bad parameters and HTTP errors with problem+json bodies."""
    app.add_exception_handler(RivernetError, _library_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
