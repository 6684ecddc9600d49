"""``rivernet serve``: run the map server (OGC API, tiles, web map) on a project file.

The server package is imported only when the command runs, so the library never depends on
the web framework at import time.
"""

from __future__ import annotations

from pathlib import Path

import click

from rivernet import messages
from rivernet.cli._options import lang_option


@click.command("serve")
@click.argument("project", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="TCP port."
)
@lang_option()
@click.pass_context
def serve(ctx: click.Context, project: Path | None, host: str, port: int, lang: str) -> None:
    """Serve PROJECT (default: $RIVERNET_PROJECT, else the Taihu sample) on HOST:PORT.

    Other settings come from RIVERNET_* environment variables (RIVERNET_POLICY,
    RIVERNET_PUBLIC_URL, RIVERNET_ROOT_PATH, RIVERNET_ALLOWED_HOSTS, RIVERNET_CORS_ORIGINS,
    RIVERNET_RELOAD_INTERVAL, ...). The server answers only the host names clients are allowed
    to use (default: localhost, 127.0.0.1, the public URL's host and HOST itself); a replaced
    project file (``rivernet roster import``) is picked up within RIVERNET_RELOAD_INTERVAL
    seconds.
    """
    import sys

    import uvicorn

    from rivernet.project import open_project
    from rivernet.server.app import create_app
    from rivernet.server.routers.features import route_paths
    from rivernet.server.settings import Settings

    settings = Settings() if project is None else Settings(project=project)
    wildcard = host in ("0.0.0.0", "::", "")
    if not settings.allowed_hosts and not wildcard:
        settings.allowed_hosts = [*settings.trusted_hosts(), f"[{host}]" if ":" in host else host]
    quiet = bool((ctx.obj or {}).get("quiet", False))
    loaded = open_project(settings.project, policy=settings.policy)
    app = create_app(settings, project=loaded)
    url = server_url(settings.public_url, host, port)
    click.echo(messages.text("cli.serving", lang, project=settings.project, n=len(loaded.network)))
    if "/map" in route_paths(app.routes):
        page = f"{url}map" + ("?lang=en" if lang == "en" else "")
        click.echo(messages.text("cli.serving_map", lang, url=page))
    click.echo(messages.text("cli.serving_api", lang, url=url))
    if wildcard and not settings.allowed_hosts:
        click.echo(messages.text("cli.serving_hosts", lang))
    # Analysis runs in worker threads; a short GIL switch interval lets the event loop (cheap
    # routes, cached tiles) take the GIL back within 1 ms instead of 5 ms while they compute.
    sys.setswitchinterval(0.001)
    uvicorn.run(app, host=host, port=port, log_level="warning" if quiet else "info")


def server_url(public_url: str | None, host: str, port: int) -> str:
    """The URL to print: the public URL if set, else ``http://host:port/``.

    Parameters
    ----------
    public_url
        ``RIVERNET_PUBLIC_URL``, if set.
    host
        The listening interface (a wildcard address prints as 127.0.0.1).
    port
        The port.

    Returns
    -------
    str
        The URL.
    """
    if public_url:
        return public_url.rstrip("/") + "/"
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def register(group: click.Group) -> None:
    """Add ``serve`` to the ``rivernet`` command group."""
    group.add_command(serve)
