"""The ``rivernet`` command line: one click group, with each command family in its own module.

Errors raised on purpose by rivernet (:class:`RivernetError`) are printed as one clear message,
in the command's ``--lang`` (Chinese by default), and exit with status 1; they never show a
traceback, and they name the command's flags (``--max-snap-m``, ``--crs``) where the library
names its Python arguments. A command that
needs an optional extra that is not installed (``rivernet serve`` needs ``rivernet[server]``,
maps and reports need ``rivernet[maps]``) says which one to install.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from rivernet.cli._options import CommandError
from rivernet.errors import RivernetError

# The extra that brings each optional package.
EXTRAS = {
    "fastapi": "server",
    "starlette": "server",
    "uvicorn": "server",
    "pydantic_settings": "server",
    "morecantile": "server",
    "folium": "maps",
    "matplotlib": "maps",
    "jinja2": "maps",
    "pmtiles": "maps",
    "psycopg": "postgis",
}
# Modules that define commands; each has ``register(group)``.
COMMAND_MODULES = (
    "rivernet.cli.network",
    "rivernet.cli.coverage",
    "rivernet.cli.boundary",
    "rivernet.cli.serve",
    "rivernet.cli.report",
    "rivernet.cli.new",
    "rivernet.cli.tiles",
    "rivernet.cli.db",
    "rivernet.cli.token",
    "rivernet.cli.prepare",
)


class _Group(click.Group):
    """A click group that turns library errors into clean messages."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RivernetError as error:
            raise CommandError.from_error(error) from None
        except ModuleNotFoundError as error:
            extra = EXTRAS.get((error.name or "").split(".")[0])
            if extra is None:
                raise
            raise CommandError.from_key(
                "cli_error.missing_extra", package=error.name, extra=extra
            ) from None


@click.group(cls=_Group)
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or notes; errors only.")
@click.option("--verbose", "-v", is_flag=True, help="Log what rivernet does.")
@click.version_option(package_name="rivernet")
@click.pass_context
def main(ctx: click.Context, quiet: bool, verbose: bool) -> None:
    """rivernet: river networks and river-chief (河长制) responsibility analysis."""
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = {"quiet": quiet or not sys.stderr.isatty()}


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(main)
