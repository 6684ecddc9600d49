"""``rivernet serve``: run the map server (OGC API, tiles, web map) on a project file.

The server package is imported only when the command runs, so the library never depends on
the web framework at import time.

With ``--workers N`` (N > 1) the project is opened once, in this process, and the process then
forks N workers that accept connections on the port (pre-fork, as gunicorn does; on Linux each
worker has a socket of its own on the port, ``SO_REUSEPORT``, so connections are spread evenly,
see :func:`listen`). The read-only arrays of the project (and of its prepared sidecar, see
``rivernet prepare``) are shared between the workers by copy-on-write, so N workers take far
less memory than N servers. Each worker has its own caches and follows the project file on its
own (a replaced file, ``rivernet roster import``, is reopened by every worker).
"""

from __future__ import annotations

import errno
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from rivernet import messages
from rivernet.cli._help import HelpCommand
from rivernet.cli._options import PROJECT, CommandError, current_lang, lang_option


@click.command("serve", cls=HelpCommand)
@click.argument("project", required=False, type=PROJECT)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
)
@lang_option()
@click.pass_context
def serve(
    ctx: click.Context, project: Path | str | None, host: str, port: int, workers: int, lang: str
) -> None:
    """Serve PROJECT (a .gpkg file or a postgresql:// URL; default: $RIVERNET_PROJECT, else
    the Taihu sample) on HOST:PORT.

    Other settings come from RIVERNET_* environment variables (RIVERNET_POLICY,
    RIVERNET_PUBLIC_URL, RIVERNET_ROOT_PATH, RIVERNET_ALLOWED_HOSTS, RIVERNET_CORS_ORIGINS,
    RIVERNET_RELOAD_INTERVAL, ...). The server answers only the host names clients are allowed
    to use (default: localhost, 127.0.0.1, the public URL's host and HOST itself); a replaced
    project file (``rivernet roster import``) is picked up within RIVERNET_RELOAD_INTERVAL
    seconds, by every worker. With one worker the server listens at once and opens the
    project in the background (requests that need it wait; tiles of a prepared project,
    ``rivernet prepare``, are answered from its sidecar meanwhile).
    """
    import sys

    import uvicorn

    from rivernet.server.app import create_app, limit_arenas, open_served
    from rivernet.server.routers.features import route_paths
    from rivernet.server.settings import Settings

    limit_arenas()
    settings = Settings() if project is None else Settings(project=project)
    wildcard = host in ("0.0.0.0", "::", "")
    if not settings.allowed_hosts and not wildcard:
        settings.allowed_hosts = [*settings.trusted_hosts(), f"[{host}]" if ":" in host else host]
    quiet = bool((ctx.obj or {}).get("quiet", False))
    url = server_url(settings.public_url, host, port)
    if workers > 1:
        served = open_served(settings)
        app = create_app(settings, served=served)
        click.echo(messages.text("cli.serving", lang, project=settings.project,
                                 n=len(served.project.network)))  # fmt: skip
        click.echo(messages.text("national.serving_workers", lang, workers=workers))
    else:
        served = None
        app = create_app(settings, lazy=True)
        click.echo(messages.text("national.serving_lazy", lang, project=settings.project))
    if "/map" in route_paths(app.routes):
        page = f"{url}map" + ("?lang=en" if lang == "en" else "")
        click.echo(messages.text("cli.serving_map", lang, url=page))
    click.echo(messages.text("cli.serving_api", lang, url=url))
    if wildcard and not settings.allowed_hosts:
        click.echo(messages.text("cli.serving_hosts", lang))
    # Analysis runs in worker threads; a short GIL switch interval lets the event loop (cheap
    # routes, cached tiles) take the GIL back within 1 ms instead of 5 ms while they compute.
    sys.setswitchinterval(0.001)
    log_level = "warning" if quiet else "info"
    if served is None:
        uvicorn.run(app, host=host, port=port, log_level=log_level)
        return

    def worker(index: int) -> None:
        config = uvicorn.Config(create_app(settings, served=served), log_level=log_level)
        uvicorn.Server(config).run(sockets=[listening[index % len(listening)]])

    listening = listen(host, port, count=workers)
    run_workers(worker, workers)


def listen(host: str, port: int, *, count: int = 1) -> list[socket.socket]:
    """Listening TCP sockets on ``host:port`` (IPv6 when the host is), one per worker.

    Where the system has ``SO_REUSEPORT`` (Linux), each of ``count`` workers gets a socket of
    its own on the same port and the kernel spreads new connections evenly over them. On one
    shared socket the worker that happens to be idle takes most of them, and since browsers
    and clients keep their connections open, one worker then answers most of the requests
    while the others wait. Elsewhere the workers share one socket.

    Parameters
    ----------
    host, port
        Where to listen.
    count
        How many workers will accept connections.

    Returns
    -------
    list of socket.socket
        ``count`` sockets (one with no ``SO_REUSEPORT``), inheritable by forked workers.

    Raises
    ------
    CommandError
        If the port is in use (also by another server sharing ports), denied or not here.
    """
    shared = count > 1 and hasattr(socket, "SO_REUSEPORT")
    first = _bound(host, port, reuse_port=False)  # refused if anything listens there
    if not shared:
        return [first]
    first.close()
    return [_bound(host, port, reuse_port=True) for _ in range(count)]


def _bound(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host or "0.0.0.0", port))
    except OSError as error:
        sock.close()
        reason = _socket_reason(error)
        raise CommandError.from_key("cli_more.cannot_listen", host=host, port=port,
                                    reason=reason) from None  # fmt: skip
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _socket_reason(error: OSError) -> str:
    """Why a socket could not listen, in the command's language (the system's words else)."""
    known = {errno.EADDRINUSE: "in_use", errno.EACCES: "denied", errno.EADDRNOTAVAIL: "no_address"}
    key = known.get(error.errno or 0)
    if key is None:
        return messages.render(messages.os_reason(error), current_lang())
    return messages.text(f"cli_more.listen_{key}", current_lang())


def run_workers(worker: Callable[[int], None], workers: int) -> None:
    """Fork ``workers`` processes running ``worker(index)`` and wait for them (pre-fork server).

    Everything allocated before the call (the opened project) is shared with the workers
    copy-on-write; :func:`gc.freeze` keeps the garbage collector from touching (and so
    copying) the pages of those objects. SIGINT and SIGTERM stop every worker; a worker that
    dies on its own is replaced while the others keep serving.
    """
    import gc
    import logging
    import time

    gc.collect()
    gc.freeze()
    logger = logging.getLogger("rivernet.serve")
    children: dict[int, int] = {}
    """Worker process id -> its index (a replacement takes the index of the one it replaces)."""
    stopping = False

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                worker(index)
            except BaseException:
                logger.exception("worker %d failed", os.getpid())
                code = 1
            finally:
                os._exit(code)
        children[pid] = index

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                children.pop(pid, None)

    for index in range(workers):
        spawn(index)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    started = time.monotonic()
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        if pid not in children:
            continue
        index = children.pop(pid)
        if not stopping and status != 0 and time.monotonic() - started > 5:
            logger.error("worker %d exited (status %d); starting another", pid, status)
            spawn(index)


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
