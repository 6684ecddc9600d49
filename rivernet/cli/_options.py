"""Options that mean the same in every command: ``--as-of``, ``--unit``, ``--lang``, and flag
names in errors.

- :data:`AS_OF`: a click type that reads ``--as-of`` in every form the roster reader accepts
  (:func:`rivernet.roster.parse_date`), with a one-line error naming the flag.
- :func:`lang_option`: ``--lang zh|en``, the language of everything a command prints (Chinese
  by default; the texts come from :mod:`rivernet.messages`).
- :func:`require_unit`: an unknown ``--unit`` code is an error in every command, with the way
  to list the codes.
- :data:`PROJECT`: the PROJECT argument of every command: a project GeoPackage or a
  ``postgresql://`` URL of a shared store (``rivernet db load``).
- :func:`with_flag_names`: library messages name Python arguments (``max_snap_m``, ``crs=``);
  the command line shows its own flags (``--max-snap-m``, ``--crs``) instead.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import click

from rivernet.errors import InputError


class DateType(click.ParamType):
    """A day, in any form a roster cell may hold: 2025-06-30, 2025/6/30, 2025.6.30,
    2025年6月30日 or an Excel date serial (45838)."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The day as a :class:`datetime.date`; a bad value is a one-line error naming the flag."""
        if isinstance(value, dt.date):
            return value
        from rivernet.roster import parse_date

        flag = param.opts[0] if param is not None and param.opts else "--as-of"
        try:
            day = parse_date(str(value).strip())
        except InputError:
            day = None
        if day is None:
            raise click.ClickException(
                f"{flag} {value!r} is not a date; write it as 2025-06-30 (or 2025/6/30, "
                "2025.6.30, 2025年6月30日, or an Excel date serial such as 45838)"
            )
        return day


AS_OF = DateType()
"""The type of every ``--as-of`` option."""


class StoreURL(str):
    """A ``postgresql://`` URL given as PROJECT; ``name`` is the URL without its password."""

    __slots__ = ()

    @property
    def name(self) -> str:
        """The URL with the password hidden (for messages)."""
        from rivernet.store import redact

        return redact(str.__str__(self))


class ProjectType(click.ParamType):
    """PROJECT: an existing project GeoPackage, or the URL of a shared PostGIS store."""

    name = "project"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """A :class:`pathlib.Path` of an existing file, or a :class:`StoreURL`."""
        from rivernet.store import is_url

        if isinstance(value, Path | StoreURL):
            return value
        if is_url(str(value)):
            return StoreURL(str(value))
        path_type = click.Path(exists=True, dir_okay=False, path_type=Path)
        return path_type.convert(value, param, ctx)


PROJECT = ProjectType()
"""The type of every PROJECT argument (a .gpkg path or a postgresql:// URL)."""


class FileOrStoreType(click.ParamType):
    """A file argument (river lines or a project) that may also be a store's URL: the store is
    written to a temporary GeoPackage (``rivernet db dump``), removed when the command ends."""

    name = "file"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The file as a :class:`pathlib.Path` (a temporary dump for a URL)."""
        import shutil
        import tempfile

        from rivernet.store import is_url

        if not is_url(str(value)):
            return click.Path(exists=True, dir_okay=False, path_type=Path).convert(
                value, param, ctx
            )
        from rivernet.postgis import dump

        folder = Path(tempfile.mkdtemp(prefix="rivernet-dump-"))
        if ctx is not None:
            ctx.call_on_close(lambda: shutil.rmtree(folder, ignore_errors=True))
        return dump(str(value), folder / "project.gpkg")


FILE_OR_STORE = FileOrStoreType()
"""The PATH argument of ``check``, ``info`` and ``navigate``: a file or a store's URL."""


def as_of_option(help: str = "Day of the roster (default: today), e.g. 2025-06-30.") -> Any:
    """The ``--as-of DATE`` option, read with :data:`AS_OF`."""
    return click.option("--as-of", "as_of", type=AS_OF, default=None, metavar="DATE", help=help)


LANG_CHOICE = click.Choice(["zh", "en"])


def lang_option() -> Any:
    """The ``--lang zh|en`` option of every command (default ``zh``)."""
    return click.option(
        "--lang",
        type=LANG_CHOICE,
        default="zh",
        show_default=True,
        help="Language of the printed text: zh (中文) or en (English).",
    )


def require_unit(project: Any, code: str, *, path: Path) -> str:
    """Check that ``--unit`` names a unit of the project.

    Parameters
    ----------
    project
        The opened project.
    code
        The code given.
    path
        The project file (for the hint).

    Returns
    -------
    str
        The code, as text.

    Raises
    ------
    click.ClickException
        If no admin unit (nor sub-county unit of the roster) has this code.
    """
    from rivernet.coverage import unit_names

    code = str(code).strip()
    if code not in unit_names(project):
        raise click.ClickException(
            f"--unit {code}: {path.name} has no unit with this code; codes are GB/T 2260 codes "
            f"such as 320500; list them with `rivernet info {path} --units`"
        )
    return code


# Python argument names in library messages -> the flags of the command line, in order.
FLAG_NAMES: tuple[tuple[str, str], ...] = (
    (r"(?<![\w-])crs='([^']*)'", r"--crs \1"),
    (r"(?<![\w-])crs=(?![\w'])", "--crs"),
    (r" to read_lines\b", ""),
    (r"(?<![\w-])as_of=", "--as-of "),
    (r"(?<![\w-])policy=(?=\S)", "--policy "),
    (r"(?<![\w-])policy=", "--policy"),
    (r"(?<![\w-])max_snap_m=", "--max-snap-m "),
    (r"(?<![\w-])max_snap_m\b", "--max-snap-m"),
    (r"(?<![\w-])max_distance_m=", "--max-snap-m "),
    (r"(?<![\w-])max_distance_m\b", "--max-snap-m"),
    (r"(?<![\w-])distance_km\b", "--distance-km"),
    (r"(?<![\w-])tolerance_m\b", "--tolerance-m"),
    (r"(?<![\w-])velocity_m_s\b", "--velocity"),
    (r"\bpartners\(\) takes", "partners takes"),
    (r"(?<![\w-])(unit|chief|reach)=(?=[,\s)]|$)", r"--\1"),
)


def with_flag_names(message: str) -> str:
    """A library message with Python argument names replaced by the command-line flags.

    Parameters
    ----------
    message
        The message of a :class:`rivernet.errors.RivernetError`.

    Returns
    -------
    str
        The message as a command-line user should read it.
    """
    for pattern, flag in FLAG_NAMES:
        message = re.sub(pattern, flag, message)
    return message
