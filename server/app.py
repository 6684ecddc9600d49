"""The app factory: wiring only (settings, lifespan, middleware, error handlers, routers).

The project is opened once in the lifespan and kept in ``app.state.rivernet`` (an
:class:`~rivernet.server.state.AppState`); routers read it through
:func:`rivernet.server.state.get_state`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING

import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware

import rivernet
from rivernet.server.errors import install_error_handlers
from rivernet.server.http import RootPathMiddleware
from rivernet.server.routers import analysis, features, page, tiles
from rivernet.server.settings import Settings
from rivernet.server.state import AppState

if TYPE_CHECKING:
    from rivernet.project import Project

# Routers in inclusion order; a new family of endpoints is one import and one entry here.
# The OGC landing page (features, "/") sends browsers on to the web map at "/map".
ROUTERS = (features.router, analysis.router, tiles.router, page.router)


def create_app(settings: Settings | None = None, *, project: Project | None = None) -> FastAPI:
    """Build the rivernet web application.

    Parameters
    ----------
    settings
        Server settings; default: read from ``RIVERNET_*`` environment variables.
    project
        An already opened project to serve instead of ``settings.project`` (tests, benchmarks).

    Returns
    -------
    fastapi.FastAPI
        The app; the project is opened when the app starts (its lifespan).
    """
    settings = settings or Settings()
    app = FastAPI(
        title="rivernet",
        description="River networks and river/lake chief (河长制) responsibility: OGC API "
        "Features, navigation and analysis endpoints, vector tiles and the web map.",
        version=rivernet.__version__,
        lifespan=_lifespan(settings, project),
    )
    install_error_handlers(app)
    app.add_middleware(GZipMiddleware, minimum_size=1000, compresslevel=5)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "HEAD", "OPTIONS"],
            allow_headers=["*"],
            expose_headers=["ETag", "Content-Crs", "Link"],
            max_age=3600,
        )
    if settings.root_path:
        app.add_middleware(RootPathMiddleware, root_path=settings.root_path)
    for router in ROUTERS:
        app.include_router(router)
    return app


def _lifespan(
    settings: Settings, project: Project | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Open the project once at start-up and share it read-only."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from rivernet.project import open_project

        loaded = project
        if loaded is None:
            loaded = await anyio.to_thread.run_sync(open_project, settings.project)
        app.state.rivernet = AppState(
            project=loaded, settings=settings, data_version=loaded.data_version
        )
        yield

    return lifespan
