"""The app factory: wiring only (settings, lifespan, middleware, error handlers, routers).

The project is opened once in the lifespan with the server's coverage policy
(``RIVERNET_POLICY``, else the project file's own) and kept in ``app.state.rivernet`` (an
:class:`~rivernet.server.state.AppState`, which also holds the collections built from the layer
catalog, the caches and the worker pools); routers read it through
:func:`rivernet.server.state.get_state`. A task of the lifespan follows the project file
(:mod:`rivernet.server.reload`), or, for a project opened from a store (GeoPackage or
PostgreSQL), the store's data version (:mod:`rivernet.server.live`: roster edits over HTTP, by
any worker or process, show at once). The routers import the library functions they call, so a
missing capability fails here, at import, not as a 404.

Middleware, outermost first: trusted hosts (``RIVERNET_ALLOWED_HOSTS``), HEAD as GET, CORS
(only when ``RIVERNET_CORS_ORIGINS`` is set: same-origin by default), gzip, root path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware

import rivernet
from rivernet.project import Project, open_project
from rivernet.server.errors import document_problems, install_error_handlers
from rivernet.server.http import HeadMiddleware, RootPathMiddleware, TrustedHosts
from rivernet.server.live import LiveFollower, LiveMiddleware, live_interval
from rivernet.server.reload import ProjectReloader
from rivernet.server.routers import analysis, edits, features, page, positions, search, tiles
from rivernet.server.settings import Settings
from rivernet.server.state import AppState

# Routers in inclusion order; a new family of endpoints is one import and one entry here.
# The OGC landing page (features, "/") sends browsers on to the web map at "/map".
ROUTERS = (features.router, analysis.router, positions.router, search.router, tiles.router,
           edits.router, page.router)  # fmt: skip


def create_app(settings: Settings | None = None, *, project: Project | None = None) -> FastAPI:
    """Build the rivernet web application.

    Parameters
    ----------
    settings
        Server settings; default: read from ``RIVERNET_*`` environment variables.
    project
        An already opened project to serve instead of ``settings.project`` (tests, benchmarks);
        ``settings.policy``, when set, replaces its coverage policy.

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
        lifespan=_lifespan(settings, project),
    )
    install_error_handlers(app)
    app.add_middleware(LiveMiddleware)
    if settings.root_path:
        app.add_middleware(RootPathMiddleware, root_path=settings.root_path)
    app.add_middleware(GZipMiddleware, minimum_size=1000, compresslevel=5)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "HEAD", "OPTIONS", "POST", "PATCH"],
            allow_headers=["*"],
            expose_headers=["ETag", "Content-Crs", "Link"],
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
    settings: Settings, project: Project | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Open the project once at start-up, with the server's policy; follow its file."""

    def opener(path: Path | str) -> Project:
        return open_project(path, policy=settings.policy)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loaded = project
        if loaded is None:
            loaded = await anyio.to_thread.run_sync(opener, settings.project)
        elif settings.policy is not None:
            policy = loaded.coverage_policy(settings.policy)
            if policy != loaded.policy:
                loaded = loaded.replace(policy=policy)
        state = AppState(project=loaded, settings=settings)
        app.state.rivernet = state
        store = getattr(loaded, "store", None)
        interval = live_interval()
        live = LiveFollower(state, store, interval=interval) if store and interval else None
        app.state.live = live
        # With a live store, edits write the file in place (the follower reads them); the
        # reloader still catches a file replaced as a whole.
        reloader = ProjectReloader(state, opener, interval=settings.reload_interval,
                                   replaced_only=live is not None)  # fmt: skip
        async with anyio.create_task_group() as group:
            if live is not None:
                group.start_soon(live.run)
            if reloader.watching:
                group.start_soon(reloader.run)
            app.state.reloader = reloader
            yield
            group.cancel_scope.cancel()

    return lifespan
