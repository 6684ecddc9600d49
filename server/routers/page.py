"""The planners' web map ("河湖一张图") at ``/map``, the API docs at ``/docs`` and their files.

The page is plain HTML, CSS and JavaScript in ``server/static`` with MapLibre GL JS vendored in
``server/static/vendor/maplibre-gl`` (no CDN, no online base map); ``/docs`` is Swagger UI from
``server/static/vendor/swagger-ui``, so the API documentation works offline too. Both use
relative URLs only, so they work under any public URL or proxy prefix. Files are read once,
gzip-compressed once and sent with strong ETags (304 on ``If-None-Match``).
"""

from __future__ import annotations

import functools
from pathlib import Path

from fastapi import APIRouter, Query, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from rivernet import messages
from rivernet.errors import NotFoundError
from rivernet.layers.static import pip_font_files
from rivernet.server.http import PreparedBody, openapi_responses, send_body

__all__ = ["STATIC", "router"]

router = APIRouter(tags=["web map"])

STATIC = Path(__file__).resolve().parents[1] / "static"
"""Directory of the page's files."""
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
}
_COMPRESSIBLE = frozenset({".html", ".js", ".css", ".json", ".svg", ".txt", ".md"})


@router.get(
    "/map",
    summary="The web map (河湖一张图)",
    response_class=Response,
    responses=openapi_responses({"text/html": {"type": "string"}}),
)
async def web_map(request: Request) -> Response:
    """The planners' single-page map: coverage, chiefs, partners, search and downloads."""
    return send_body(request, static_body("index.html"), MEDIA_TYPES[".html"])


PAGE_SECTIONS = ("web", "column", "level", "level_of", "status", "kind", "rule", "relation",
                 "bool", "layer", "cause", "editor", "editor_action", "board_status")  # fmt: skip
"""The sections of the message catalogue the web page uses."""


@router.get(
    "/messages.json",
    summary="The texts of the web map in Chinese and English",
    response_class=Response,
    responses=openapi_responses({"application/json": {"type": "object"}}),
)
async def page_messages(
    request: Request,
    lang: str | None = Query(None, description="zh or en; both when omitted."),
) -> Response:
    """The catalogue sections the web page shows: ``{lang: {section: {key: text}}}``."""
    return send_body(request, messages_body(lang), MEDIA_TYPES[".json"])


@functools.lru_cache(maxsize=4)
def messages_body(lang: str | None) -> PreparedBody:
    """The page's catalogue subset as a prepared JSON body (one language, or both)."""
    import json

    langs = messages.LANGS if lang is None else (messages.check_lang(lang),)
    body = {code: {name: messages.section(name, code) for name in PAGE_SECTIONS} for code in langs}
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return PreparedBody.of(content, compress=True)


@router.get("/docs", summary="API documentation (Swagger UI)", include_in_schema=False)
async def api_docs(request: Request) -> HTMLResponse:
    """Swagger UI on the app's OpenAPI document, from the vendored files (no CDN).

    URLs are relative to ``/docs``, so the page works under any public URL or proxy prefix;
    the online validator badge is off, so no request leaves the serving machine.
    """
    return get_swagger_ui_html(
        openapi_url="openapi.json",
        title=f"{request.app.title} API",
        swagger_js_url="static/vendor/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url="static/vendor/swagger-ui/swagger-ui.css",
        swagger_favicon_url="data:,",
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get("/fonts/cjk.otf", summary="The CJK web font of the map", include_in_schema=False)
async def cjk_font(request: Request) -> Response:
    """Noto Sans SC (SIL OFL) from the pip font package, for browsers without a CJK font.

    The page's CSS lists it after the system CJK fonts, so a browser downloads it only when
    none of those is installed (a bare Linux machine, a kiosk); Chinese then never shows as
    empty boxes, and nothing is fetched from outside the server.
    """
    files = pip_font_files()
    if not files:
        raise NotFoundError.from_key("err_server.no_web_font")
    file = Path(files[0])
    return send_body(request, _read(file, file.stat().st_mtime_ns), "font/otf")


@router.get("/static/{path:path}", summary="Files of the web map", include_in_schema=False)
async def static_file(request: Request, path: str) -> Response:
    """A file of the web page (scripts, styles, the vendored MapLibre GL JS and its licence)."""
    suffix = Path(path.replace("\x00", "")).suffix.lower()
    if suffix not in MEDIA_TYPES:
        raise NotFoundError(_missing(path))
    return send_body(request, static_body(path), MEDIA_TYPES[suffix])


def static_body(path: str) -> PreparedBody:
    """The bytes, gzip form and ETags of a file under :data:`STATIC` (read once).

    Raises
    ------
    NotFoundError
        If the path leaves the static directory or names no file.
    """
    if "\x00" in path or "\\" in path or len(path) > 512:
        raise NotFoundError(_missing(path))
    try:
        file = (STATIC / path).resolve()
        if not file.is_relative_to(STATIC) or not file.is_file():
            raise NotFoundError(_missing(path))
        return _read(file, file.stat().st_mtime_ns)
    except (OSError, ValueError):  # a name too long for the file system, say
        raise NotFoundError(_missing(path)) from None


def _missing(path: str) -> str:
    shown = path if len(path) <= 80 else path[:77] + "..."
    return (
        f"no web page file {shown!r} under /static (path parameter); the page's files are "
        "linked from /map"
    )


@functools.lru_cache(maxsize=64)
def _read(file: Path, mtime_ns: int) -> PreparedBody:
    """Read and compress a file (cached per modification time)."""
    content = file.read_bytes()
    return PreparedBody.of(content, compress=file.suffix.lower() in _COMPRESSIBLE)
