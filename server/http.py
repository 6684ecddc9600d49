"""HTTP behaviour shared by every router: absolute links, strong ETags, 304s and Cache-Control.

Links start with ``RIVERNET_PUBLIC_URL`` when set, else with the request's own scheme, ``Host``
header and root path; :class:`TrustedHosts` therefore answers only the allowed host names.
:class:`HeadMiddleware` answers ``HEAD`` on every ``GET`` route with the same headers and no
body, and :func:`openapi_responses` documents a route's statuses and content types.

The project never changes while the server runs, so a response is fully determined by the data
version, the public base URL and the request (path, query, negotiated format and encoding).
:func:`request_etag` hashes exactly those into a strong ETag; :func:`cached_response` answers
``If-None-Match`` with 304 before building a body, and :func:`streamed_response` does the same for
large bodies sent in chunks. Gzip is applied by the app's middleware, except for bodies prepared
once and cached with their gzip form (tiles, the web page's files: :class:`PreparedBody`, sent by
:func:`send_body`).
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from starlette.datastructures import Headers
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rivernet.server.errors import host_problem, problem_responses, scope_lang
from rivernet.server.state import get_state

NOT_MODIFIED_DOC = {
    "description": "Not Modified: the client's copy (named in If-None-Match) is current.",
}

Body = bytes | Callable[[], bytes]


def base_url(request: Request) -> str:
    """The public base URL of the API, without a trailing slash.

    ``RIVERNET_PUBLIC_URL`` when set, else the request's scheme, host and root path.
    """
    public = get_state(request).settings.public_url
    if public:
        return public
    return str(request.base_url).rstrip("/")


def absolute_url(request: Request, path: str, query: Mapping[str, object] | None = None) -> str:
    """An absolute link to ``path`` (relative to the API root) with an optional query.

    Parameters
    ----------
    request
        The current request.
    path
        A path such as ``/collections/reaches/items``.
    query
        Query parameters; None values are left out.

    Returns
    -------
    str
        The URL, starting with :func:`base_url`.
    """
    url = base_url(request) + "/" + path.lstrip("/")
    items = {k: v for k, v in (query or {}).items() if v is not None}
    return f"{url}?{urlencode(items)}" if items else url


def accepts_gzip(request: Request) -> bool:
    """Whether the client accepts gzip (the middleware will compress large bodies)."""
    return "gzip" in request.headers.get("accept-encoding", "")


def request_etag(request: Request, parts: Iterable[object] = ()) -> str:
    """A strong ETag for this request's response.

    Parameters
    ----------
    request
        The request: its path, sorted query, ``Accept`` and gzip acceptance are hashed.
    parts
        Anything else the body depends on (a resolved default date, say).

    Returns
    -------
    str
        A quoted strong entity tag.
    """
    state = get_state(request)
    query = sorted(request.query_params.multi_items())
    items = [
        state.data_version,
        base_url(request),
        request.url.path,
        repr(query),
        request.headers.get("accept", ""),
        "gzip" if accepts_gzip(request) else "identity",
        *map(str, parts),
    ]
    digest = hashlib.blake2b("\x1f".join(items).encode(), digest_size=12).hexdigest()
    return f'"{digest}"'


def is_not_modified(request: Request, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison, ``*`` matches anything)."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag in tags


def cache_headers(request: Request, etag: str) -> dict[str, str]:
    """``ETag``, ``Cache-Control`` and ``Vary`` for a cacheable response."""
    max_age = get_state(request).settings.cache_max_age
    return {
        "ETag": etag,
        "Cache-Control": f"public, max-age={max_age}",
        "Vary": "Accept",
    }


def not_modified(request: Request, etag: str) -> Response:
    """A 304 response carrying the validators."""
    return Response(status_code=304, headers=cache_headers(request, etag))


def cached_response(
    request: Request,
    body: Body,
    media_type: str,
    etag_parts: Iterable[object] = (),
    *,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A response with a strong ETag, or 304 when the client already has it.

    Parameters
    ----------
    request
        The current request.
    body
        The bytes, or a function making them (not called for a 304).
    media_type
        The content type.
    etag_parts
        Anything besides the request that the body depends on.
    headers
        More headers (``Content-Crs``, ``Link``...).

    Returns
    -------
    fastapi.responses.Response
        200 with the body, or 304.
    """
    etag = request_etag(request, etag_parts)
    if is_not_modified(request, etag):
        return not_modified(request, etag)
    content = body() if callable(body) else body
    all_headers = {**cache_headers(request, etag), **(headers or {})}
    return Response(content, media_type=media_type, headers=all_headers)


def streamed_response(
    request: Request,
    chunks: Callable[[], Iterator[bytes]],
    media_type: str,
    etag_parts: Iterable[object] = (),
    *,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Like :func:`cached_response` for a large body sent in chunks as it is made.

    Parameters
    ----------
    request
        The current request.
    chunks
        A function returning an iterator of byte chunks (not called for a 304).
    media_type
        The content type.
    etag_parts
        Anything besides the request that the body depends on.
    headers
        More headers.

    Returns
    -------
    fastapi.responses.Response
        A streaming 200 response, or 304.
    """
    etag = request_etag(request, etag_parts)
    if is_not_modified(request, etag):
        return not_modified(request, etag)
    all_headers = {**cache_headers(request, etag), **(headers or {})}
    return StreamingResponse(chunks(), media_type=media_type, headers=all_headers)


@dataclass(frozen=True)
class PreparedBody:
    """A response body with its gzip form and strong ETags, computed once and then cached.

    Used for tiles and for the web page's files.

    Attributes
    ----------
    content
        The tile bytes (may be empty: a tile without features).
    gzipped
        The gzip-compressed bytes, or None when not worth sending compressed.
    etag, etag_gzip
        Strong entity tags of the two representations.
    """

    content: bytes
    gzipped: bytes | None
    etag: str
    etag_gzip: str

    @classmethod
    def of(cls, content: bytes, *, compress: bool) -> PreparedBody:
        """Hash (and compress) fresh bytes."""
        digest = hashlib.blake2b(content, digest_size=12).hexdigest()
        gzipped = gzip.compress(content, compresslevel=6, mtime=0) if compress else None
        return cls(content, gzipped, f'"{digest}"', f'"{digest}-gz"')


def send_body(request: Request, body: PreparedBody, media_type: str) -> Response:
    """200 with the representation the client accepts (gzip or identity), or 304.

    Parameters
    ----------
    request
        The request (``Accept-Encoding``, ``If-None-Match``).
    body
        The prepared body.
    media_type
        Its content type.

    Returns
    -------
    fastapi.responses.Response
        The response, with a strong ETag per representation and ``Vary: Accept-Encoding``.
    """
    compressed = body.gzipped is not None and accepts_gzip(request)
    etag = body.etag_gzip if compressed else body.etag
    headers = {**cache_headers(request, etag), "Vary": "Accept-Encoding"}
    if is_not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    if compressed:
        headers["Content-Encoding"] = "gzip"
        return Response(body.gzipped, media_type=media_type, headers=headers)
    return Response(body.content, media_type=media_type, headers=headers)


class RootPathMiddleware:
    """Set the ASGI ``root_path`` (``RIVERNET_ROOT_PATH``) when the server did not.

    A proxy that serves the API under a prefix and strips it before forwarding makes every link
    the API writes wrong unless the app knows the prefix; this puts it into each request scope.

    Parameters
    ----------
    app
        The wrapped ASGI app.
    root_path
        The prefix, such as ``/rivers``.
    """

    def __init__(self, app: ASGIApp, *, root_path: str) -> None:
        self.app = app
        self.root_path = root_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with ``root_path`` set."""
        if scope["type"] in ("http", "websocket") and not scope.get("root_path"):
            scope = {**scope, "root_path": self.root_path}
        await self.app(scope, receive, send)


def openapi_responses(
    content: Mapping[str, Mapping[str, Any]],
    *errors: int,
    etag: bool = True,
    redirect: bool = False,
) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of a route: its 200 content types, 304, 303 and errors.

    Parameters
    ----------
    content
        Media type -> schema of the 200 answer (``{}`` for any).
    *errors
        Error statuses besides 400 (which every route may answer: a bad parameter or Host).
    etag
        Whether the route answers ``If-None-Match`` with 304.
    redirect
        Whether the route may answer 303 (the landing page sends browsers to the map).

    Returns
    -------
    dict
        For the route decorator's ``responses``.
    """
    responses: dict[int | str, dict[str, Any]] = {
        200: {
            "description": "OK",
            "content": {media: {"schema": dict(schema)} for media, schema in content.items()},
        }
    }
    if redirect:
        responses[303] = {"description": "See Other: browsers are sent to the web map."}
    if etag:
        responses[304] = dict(NOT_MODIFIED_DOC)
    responses.update(problem_responses(*sorted({400, *errors})))
    return responses


class HeadMiddleware:
    """Answer ``HEAD`` like ``GET``: the same status and headers, without the body.

    Parameters
    ----------
    app
        The wrapped ASGI app.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run ``HEAD`` requests as ``GET`` and drop the body chunks."""
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


class TrustedHosts(TrustedHostMiddleware):
    """Starlette's ``TrustedHostMiddleware`` answering unknown hosts with a 400 problem+json.

    Parameters
    ----------
    app
        The wrapped ASGI app.
    allowed_hosts
        Host names or ``*.domain`` patterns; ``*`` allows any.
    """

    _PASSED = "rivernet.trusted_host"

    def __init__(self, app: ASGIApp, *, allowed_hosts: Sequence[str]) -> None:
        async def mark(scope: Scope, receive: Receive, send: Send) -> None:
            scope[self._PASSED] = True
            await app(scope, receive, send)

        super().__init__(mark, allowed_hosts=list(allowed_hosts), www_redirect=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the ``Host`` header; a rejected request gets :func:`host_problem`."""
        if self.allow_any or scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return

        async def answer(message: Message) -> None:
            if scope.get(self._PASSED):
                await send(message)
            elif message["type"] == "http.response.start":
                response = host_problem(Headers(scope=scope).get("host"), scope_lang(scope))
                await response(scope, receive, send)

        await super().__call__(scope, receive, answer)
