"""The app factory: wiring only (settings, lifespan, middleware, error handlers, routers).

The project is opened once in the lifespan with the server's coverage policy
(``RIVERNET_POLICY``, else the project file's own) and kept in ``app.state.rivernet`` (an
:class:`~rivernet.server.state.AppState`, which also holds the collections built from the layer
catalog, the caches and the worker pools); routers read it through
:func:`rivernet.server.state.get_state`. A task of the lifespan follows the project file
(:mod:`rivernet.server.reload`), and, for a project opened from a store (GeoPackage or
PostgreSQL), the store's data version (:mod:`rivernet.server.live`: roster edits over HTTP, by
any worker or process, show at once). The routers import the library functions they call, so a
missing capability fails here, at import, not as a 404.

Middleware, outermost first: trusted hosts (``RIVERNET_ALLOWED_HOSTS``), HEAD as GET, CORS
(only when ``RIVERNET_CORS_ORIGINS`` is set: same-origin by default), gzip, root path, and
:class:`WaitForProject` (requests that need a lazily opened project wait for it).

``create_app(settings, lazy=True)`` (``rivernet serve``) listens at once: the lifespan opens the
project file's prepared sidecar (``rivernet prepare``: memory-mapped tile pyramids, milliseconds)
and starts opening the project in the background. Tiles of the prepared layers are answered from
the sidecar meanwhile; every other request waits until the project has loaded (503 with the
reason if it cannot). ``create_app(settings, served=open_served(settings))`` serves a project
opened beforehand, as the pre-forked workers of ``rivernet serve --workers N`` do.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware

import rivernet
from rivernet import messages
from rivernet.errors import RivernetError
from rivernet.project import Project, open_project
from rivernet.server.errors import (
    document_problems,
    install_error_handlers,
    problem,
    scope_lang,
    title,
)
from rivernet.server.http import HeadMiddleware, RootPathMiddleware, TrustedHosts
from rivernet.server.live import (
    LiveFollower,
    LiveMiddleware,
    close_stores,
    in_store,
    live_interval,
    warm_store,
)
from rivernet.server.reload import ProjectReloader, Stamp, file_stamp
from rivernet.server.routers import analysis, edits, features, page, positions, search, tiles
from rivernet.server.settings import Settings
from rivernet.server.state import AppState
from rivernet.store import is_url

logger = logging.getLogger(__name__)

LOAD_DELAY_S = 1.0
"""Seconds a lazily started server with a prepared sidecar waits before it opens the project:
the first map screen's tiles (from the sidecar) are answered without competing with it."""

# Routers in inclusion order; a new family of endpoints is one import and one entry here.
# The OGC landing page (features, "/") sends browsers on to the web map at "/map".
ROUTERS = (features.router, analysis.router, positions.router, search.router, tiles.router,
           edits.router, page.router)  # fmt: skip


@dataclass(frozen=True)
class Served:
    """A project opened before the app starts (pre-forked workers share it).

    Attributes
    ----------
    project
        The project, opened with the server's policy.
    stamp
        The file's identity when it was opened (:func:`~rivernet.server.reload.file_stamp`),
        so that a worker started later still notices a file replaced since.
    prepared
        Its prepared sidecar, or None.
    """

    project: Project
    stamp: Stamp | None = None
    prepared: Any = None


def open_served(settings: Settings) -> Served:
    """Open ``settings.project`` (with the server's policy) and its prepared sidecar."""
    stamp = file_stamp(settings.project)
    prepared = _open_prepared(settings.project)
    project = open_project(settings.project, policy=settings.policy)
    warm_store(project)  # before the fork: every worker inherits what edits check against
    return Served(project, stamp, prepared)


def _open_prepared(path: Path | str) -> Any:
    """The prepared sidecar of a project file, None when there is none for this file."""
    if isinstance(path, str):  # a PostgreSQL store has no sidecar
        return None
    try:
        from rivernet.prepare import open_prepared
    except ImportError:
        return None
    try:
        return open_prepared(path)
    except Exception as error:  # a damaged sidecar must not stop the server: it is optional
        logger.warning("prepared sidecar of %s not used: %s", path, error)
        return None


def create_app(
    settings: Settings | None = None,
    *,
    project: Project | None = None,
    served: Served | None = None,
    lazy: bool = False,
) -> FastAPI:
    """Build the rivernet web application.

    Parameters
    ----------
    settings
        Server settings; default: read from ``RIVERNET_*`` environment variables.
    project
        An already opened project to serve instead of ``settings.project`` (tests, benchmarks);
        ``settings.policy``, when set, replaces its coverage policy.
    served
        A project (and sidecar) opened beforehand by :func:`open_served`.
    lazy
        Listen at once and open ``settings.project`` in the background (see the module).

    Returns
    -------
    fastapi.FastAPI
        The app; the project is opened when the app starts (its lifespan).
    """
    settings = settings or Settings()
    app = FastAPI(
        title="rivernet",
        description="River networks and river/lake chief (河长制) responsibility: OGC API "
        "Features, navigation and analysis endpoints, vector tiles and the web map. Every GET "
        "route also answers HEAD; errors are RFC 9457 problem+json documents.",
        version=rivernet.__version__,
        docs_url=None,  # Swagger UI from vendored files: rivernet.server.routers.page
        redoc_url=None,  # ReDoc would load from a CDN: not offered
        lifespan=_lifespan(settings, project, served=served, lazy=lazy),
    )
    install_error_handlers(app)
    app.add_middleware(LiveMiddleware)
    app.add_middleware(WaitForProject)
    if settings.root_path:
        app.add_middleware(RootPathMiddleware, root_path=settings.root_path)
    app.add_middleware(GZipMiddleware, minimum_size=1000, compresslevel=5)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "HEAD", "OPTIONS"],
            allow_headers=["*"],
            expose_headers=["ETag", "Content-Crs", "Link", "Rivernet-Store-Version"],
            max_age=3600,
        )
    app.add_middleware(HeadMiddleware)
    app.add_middleware(TrustedHosts, allowed_hosts=settings.trusted_hosts())
    for router in ROUTERS:
        app.include_router(router)
    _finish_openapi(app)
    return app


def _finish_openapi(app: FastAPI) -> None:
    """Document problem+json errors (and no 422) in the app's OpenAPI document."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _lifespan(
    settings: Settings, project: Project | None, *, served: Served | None, lazy: bool
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Open the project once at start-up, with the server's policy; follow its file."""

    def opener(path: Path | str) -> Project:
        return open_project(path, policy=settings.policy)

    async def follow(app: FastAPI, state: AppState, stamp: Stamp | None) -> None:
        store = getattr(state.project, "store", None)
        interval = live_interval()
        live = None
        if store is not None and interval:
            live = LiveFollower(state, store, interval=interval, app=app)
        app.state.live = live
        # With a store, edits change the data in place and the follower reads them by the
        # store's data version; the reloader still catches a project file replaced as a whole.
        reloader = ProjectReloader(state, opener, interval=settings.reload_interval,
                                   replaced_only=live is not None)  # fmt: skip
        if stamp is not None:
            reloader.seen = stamp
        app.state.reloader = reloader
        try:
            async with anyio.create_task_group() as group:
                if store is not None and is_url(str(getattr(store, "target", ""))):
                    # a database store: the first edit need not wait for its reference read
                    group.start_soon(in_store, app, store, lambda: warm_store(state.project))
                if live is not None:
                    group.start_soon(live.run)
                if reloader.watching:
                    group.start_soon(reloader.run)
        finally:
            close_stores(app)

    async def load(app: FastAPI, state: AppState) -> None:
        if state.prepared is not None:  # the first screen of tiles first, from the sidecar
            await anyio.sleep(LOAD_DELAY_S)
        stamp = file_stamp(settings.project)
        try:
            loaded = await anyio.to_thread.run_sync(opener, settings.project)
        except Exception as error:  # any failure to open: answer 503 with the reason
            logger.error("project %s does not open: %s", settings.project, error)
            state.failed(error)
            return
        state.loaded(loaded)
        await anyio.to_thread.run_sync(release_memory)
        await warm_up(state)
        await anyio.to_thread.run_sync(release_memory)
        state.open_all()
        await follow(app, state, stamp)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stamp: Stamp | None = None
        prepared: Any = None
        loaded = project
        if served is not None:
            loaded, stamp, prepared = served.project, served.stamp, served.prepared
        elif loaded is None and not lazy:
            stamp = file_stamp(settings.project)
            loaded = await anyio.to_thread.run_sync(opener, settings.project)
        elif loaded is not None and settings.policy is not None:
            policy = loaded.coverage_policy(settings.policy)
            if policy != loaded.policy:
                loaded = loaded.replace(policy=policy)
        async with anyio.create_task_group() as group:
            if loaded is None:  # lazy: listen now, open in the background
                prepared = await anyio.to_thread.run_sync(_open_prepared, settings.project)
                state = AppState(project=None, settings=settings,  # type: ignore[arg-type]
                                 prepared=prepared, loading=anyio.Event())  # fmt: skip
                app.state.rivernet = state
                group.start_soon(load, app, state)
            else:
                state = AppState(project=loaded, settings=settings, prepared=prepared)
                app.state.rivernet = state
                group.start_soon(follow, app, state, stamp)
                await anyio.sleep(0)  # the reloader exists once the app answers
            yield
            group.cancel_scope.cancel()

    return lifespan


def limit_arenas(arenas: int = 2) -> None:
    """Let glibc keep at most ``arenas`` malloc arenas (call before threads start).

    Every worker thread of the server would otherwise get an arena of its own (up to eight per
    core), each keeping freed memory resident: a tile server with dozens of threads then holds
    hundreds of MB it does not use. A no-op where the C library is not glibc.
    """
    import contextlib
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # M_ARENA_MAX


def release_memory() -> None:
    """Give the heap memory freed while the project was read back to the system (glibc).

    Reading a national project frees hundreds of MB of temporary tables; without this the
    server keeps them as resident memory it no longer uses.
    """
    import contextlib
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


async def warm_up(state: AppState) -> None:
    """Prepare, once the project has loaded, what the first visitors ask for.

    The reaches collection's first items page (its table and the GeoJSON of its first block),
    in the compute pool. A failure is logged: the request will meet it again and answer it.
    """
    from rivernet.server.collections import collection
    from rivernet.server.encoding import output_crs
    from rivernet.server.params import as_of_date

    try:
        entry = collection(state, "reaches")
        table = await entry.prepared(state, as_of=as_of_date(None), level=None)
        await state.run(lambda: table.prepare(output_crs(None)))
    except Exception as error:  # warming up is an optimisation: never fatal
        logger.warning("warming up the reaches collection failed: %s", error)


class WaitForProject:
    """ASGI middleware: hold requests that need the project until it has loaded.

    A server started with ``lazy=True`` listens before its project has loaded. Vector tiles
    of the layers its prepared sidecar holds are answered at once (from the sidecar);
    every other HTTP request waits until the project has loaded, and is answered 503 (a
    problem+json naming the reason) if it could not be opened.
    """

    _TILE = re.compile(r"^/tiles/(?P<layer>[a-z_]+)/\d+/\d+/\d+\.mvt$")

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            owner = scope.get("app")
            state = getattr(getattr(owner, "state", None), "rivernet", None)
            if isinstance(state, AppState) and not state.ready and not self._early(scope, state):
                await state.wait_ready()
                if state.load_error is not None:
                    lang = scope_lang(scope)
                    error = state.load_error
                    reason = error.text(lang) if isinstance(error, RivernetError) else str(error)
                    response = problem(
                        503, title(503, lang),
                        messages.text("http_error.not_loaded", lang,
                                      project=state.settings.project, error=reason),
                    )  # fmt: skip
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    def _early(self, scope: Any, state: AppState) -> bool:
        """Whether the request can be answered before the project has loaded."""
        prepared = state.prepared
        if prepared is None:
            return False
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        found = self._TILE.match(path)
        if found is None:
            return False
        name = found["layer"]
        if name == "crossings":  # by level: the level asked for must be one it holds
            from urllib.parse import parse_qs

            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            name = f"{name}@{query.get('level', ['county'])[-1]}"
        return name in prepared.layers
