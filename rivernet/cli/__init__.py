"""The ``rivernet`` command line: one click group, with each command family in its own module.

Errors raised on purpose by rivernet (:class:`RivernetError`) are printed as one clear message,
in the command's ``--lang`` (Chinese by default), and exit with status 1; they never show a
traceback, and they name the command's flags (``--max-snap-m``, ``--crs``) where the library
names its Python arguments. Warnings of rivernet (:class:`RivernetWarning`: GBK text read, points
not snapped) are notes, one line each on standard error in the same language (``注意：...`` /
``Note: ...``), never a Python file path; ``--quiet`` hides them. A command that
needs an optional extra that is not installed (``rivernet serve`` needs ``rivernet[server]``,
maps and reports need ``rivernet[maps]``) says which one to install.
"""

from __future__ import annotations

import importlib
import logging
import sys
import warnings
from typing import Any, TextIO

import click

from rivernet import messages
from rivernet.cli._help import HelpGroup
from rivernet.cli._options import (
    CommandError,
    current_lang,
    lang_option,
    usage_error,
    with_flag_names,
)
from rivernet.errors import RivernetError, RivernetWarning

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
QUIET_KEY = "rivernet.quiet"
"""Where the running command keeps ``--quiet`` (in ``click.Context.meta``)."""


def is_rivernet_warning(category: type[Warning]) -> bool:
    """Whether a warning class is rivernet's own (shown as a note, not as Python shows it)."""
    return issubclass(category, RivernetWarning) or category.__module__.startswith("rivernet.")


def warning_line(message: Warning | str, lang: str) -> str:
    """A rivernet warning as one line: ``注意：...`` / ``Note: ...``, flags named as flags."""
    said = message.args[0] if isinstance(message, Warning) and len(message.args) == 1 else message
    text = with_flag_names(messages.render(said, lang))
    return messages.text("warn_cli.note", lang, message=text)


class _Notes:
    """A ``warnings.showwarning`` that prints rivernet's warnings as notes, others as before."""

    def __init__(self, original: Any) -> None:
        self.original = original

    def __call__(
        self,
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if not is_rivernet_warning(category):
            self.original(message, category, filename, lineno, file, line)
            return
        ctx = click.get_current_context(silent=True)
        if ctx is None or not ctx.meta.get(QUIET_KEY, False):
            click.echo(warning_line(message, current_lang()), err=True)


class _Group(HelpGroup):
    """A click group that turns library errors into clean messages (and shows its help, and
    its commands' help, in the command's language)."""

    def invoke(self, ctx: click.Context) -> Any:
        args = [*getattr(ctx, "_protected_args", ()), *ctx.args]  # before click consumes them
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default", RivernetWarning)  # a note, never an error
                warnings.showwarning = _Notes(warnings.showwarning)
                return super().invoke(ctx)
        except RivernetError as error:
            raise CommandError.from_error(error) from None
        except click.UsageError as error:
            if type(error).__name__ == "NoArgsIsHelpError":  # `rivernet roster`: the help
                raise
            raise usage_error(error, args) from None
        except ModuleNotFoundError as error:
            extra = EXTRAS.get((error.name or "").split(".")[0])
            if extra is None:
                raise
            raise CommandError.from_key(
                "cli_error.missing_extra", package=error.name, extra=extra
            ) from None


def _show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """``--version``: print ``rivernet，版本 X`` (``rivernet, version X``) and stop."""
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import version

    click.echo(messages.text("cli_more.version", current_lang(), version=version("rivernet")))
    ctx.exit()


@click.group(cls=_Group)
@click.option("--quiet", "-q", is_flag=True)
@click.option("--verbose", "-v", is_flag=True)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_show_version)  # fmt: skip
@lang_option(group=True)
@click.pass_context
def main(ctx: click.Context, quiet: bool, verbose: bool, lang: str | None) -> None:
    """rivernet: river networks and river-chief responsibility analysis."""
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = {"quiet": quiet or not sys.stderr.isatty()}
    ctx.meta[QUIET_KEY] = quiet


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(main)
