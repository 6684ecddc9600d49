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
- :class:`CommandError`: a one-line error in the command's ``--lang`` (``错误：...`` by
  default), from a catalogue key or from a library error (:func:`current_lang` tells which
  language the running command prints).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from rivernet import messages
from rivernet.errors import InputError, RivernetError
from rivernet.messages import Message, choices

LANG_KEY = "rivernet.lang"
"""Where the running command keeps its ``--lang`` (in ``click.Context.meta``)."""


def current_lang() -> str:
    """The ``--lang`` of the running command (``"zh"`` outside a command or before parsing)."""
    ctx = click.get_current_context(silent=True)
    return str(ctx.meta.get(LANG_KEY, "zh")) if ctx is not None else "zh"


class CommandError(click.ClickException):
    """A one-line command-line error in the command's language, flags named as flags.

    Parameters
    ----------
    message
        The message, already in :func:`current_lang`.
    """

    def __init__(self, message: str) -> None:
        super().__init__(with_flag_names(message))
        self.lang = current_lang()

    @classmethod
    def from_key(cls, key: str, /, **values: Any) -> CommandError:
        """The error with the catalogue message ``key`` in the command's language."""
        return cls(messages.text(key, current_lang(), **values))

    @classmethod
    def from_error(cls, error: RivernetError) -> CommandError:
        """A library error, in the command's language."""
        return cls(error.text(current_lang()))

    def show(self, file: Any = None) -> None:
        """Print ``错误：message`` (``Error: message``) on standard error."""
        line = messages.text("cli_error.line", self.lang, message=self.format_message())
        click.echo(line, err=True, file=file)


_CLICK_USAGE = (
    (re.compile(r"Got unexpected extra arguments? \((?P<args>.*)\)$"), "cli_more.extra_args"),
    (
        re.compile(
            r"No such command '(?P<command>[^']*)'\.?(?: Did you mean '(?P<did>[^']*)'\?)?$"
        ),
        "cli_more.no_such_command",
    ),
    (
        re.compile(r"Option '(?P<option>[^']*)' requires (?:an argument|\d+ arguments)\.$"),
        "cli_more.needs_value",
    ),
    (re.compile(r"Option '(?P<option>[^']*)' does not take a value\.$"), "cli_more.no_value"),
)
"""click's own usage messages that are not typed errors, and their catalogue keys."""


def _other_usage(said: str) -> Message:
    """A usage message of click without its own error type, from the catalogue if known."""
    for pattern, key in _CLICK_USAGE:
        found = pattern.match(said)
        if found:
            values: dict[str, Any] = found.groupdict()
            if "did" in values:
                near = f"`{values['did']}`" if values["did"] else ""
                values["did"] = Message("cli_usage.did_you_mean", options=near) if near else ""
            return Message(key, **values)
    return Message("cli_usage.other", message=said)


def lang_from_args(args: Sequence[str]) -> str | None:
    """The last valid ``--lang X`` / ``--lang=X`` of raw arguments (before ``--``), if any.

    ``--help`` and usage errors come before click reads ``--lang``: they find it here.
    """
    asked = None
    for index, arg in enumerate(args):
        if arg == "--":
            break
        value = arg.partition("=")[2] if arg.startswith("--lang=") else None
        if arg == "--lang" and index + 1 < len(args):
            value = args[index + 1]
        if value in messages.LANGS:
            asked = value
    return asked


class UsageCommandError(CommandError):
    """A :class:`CommandError` about the command line itself: exit status 2, as click's."""

    exit_code = 2


def usage_error(error: click.UsageError, args: list[str]) -> CommandError:
    """A usage error of click (unknown option, missing or bad value) in the command's language.

    Parameters
    ----------
    error
        The error click raised while reading the command line.
    args
        The command's arguments, where ``--lang en`` is looked for (the options were not read).

    Returns
    -------
    CommandError
        One message and the command's help hint; exit status 2, as click's own.
    """
    ctx = click.get_current_context(silent=True)
    if ctx is not None and LANG_KEY not in ctx.meta:
        ctx.meta[LANG_KEY] = lang_from_args(args) or "zh"
    hint = ""
    if isinstance(error, click.NoSuchOption):
        near = sorted(error.possibilities or ())
        did = Message("cli_usage.did_you_mean", options=choices(near)) if near else ""
        message = Message("cli_usage.no_such_option", option=error.option_name, did=did)
    elif isinstance(error, click.BadParameter | click.MissingParameter):
        if error.param is not None:
            from rivernet.cli._help import localize_metavars  # it imports this module

            hint = error.param.get_error_hint(error.ctx) if error.ctx else error.param.name or ""
            hint = localize_metavars(hint.replace("'", ""), current_lang())
        key = "cli_usage.missing" if isinstance(error, click.MissingParameter) else "cli_usage.bad"
        said: Any = error.message or ""
        kind = error.param.type if error.param is not None else None
        if isinstance(kind, click.Choice) and not isinstance(error, click.MissingParameter):
            said = Message("cli_usage.one_of", choices=choices(f"`{c}`" for c in kind.choices))
        elif type(said) is str:  # click's own words (ours are catalogue messages)
            said = path_problem(said)
        message = Message(key, hint=hint, message=said)
    else:
        message = _other_usage(error.format_message())
    command = error.ctx.command_path if error.ctx is not None else "rivernet"
    return UsageCommandError(
        messages.text("cli_usage.with_help", current_lang(), message=message, command=command)
    )


PATH_PROBLEMS = {"does not exist": "path_missing", "is a file": "path_is_file",
                 "is a directory": "path_is_folder", "is not readable": "path_not_readable",
                 "is not writable": "path_not_writable",
                 "is not executable": "path_not_executable"}  # fmt: skip
"""click's words for a bad path (``click.Path``) -> the key of ours (section ``cli_more``)."""
_PATH_PROBLEM = re.compile(r"^\w+ (?P<path>'.*'|\".*\") (?P<problem>" +
                           "|".join(PATH_PROBLEMS) + r")\.$")  # fmt: skip


def path_problem(said: str) -> Any:
    """click's message about a bad path (``File '/x' is a directory.``) in the command's
    language; other messages as they are."""
    found = _PATH_PROBLEM.match(said)
    if found is None:
        return said
    path = found.group("path")[1:-1]
    return Message(f"cli_more.{PATH_PROBLEMS[found.group('problem')]}", path=path)


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
            raise CommandError.from_key("cli_error.not_a_date", flag=flag, value=value)
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


def as_of_option() -> Any:
    """The ``--as-of DATE`` option, read with :data:`AS_OF` (help: ``as_of`` of the command's
    section of ``cli_help.toml``, else of ``help_common``)."""
    return click.option("--as-of", "as_of", type=AS_OF, default=None, metavar="DATE")


LANG_CHOICE = click.Choice(["zh", "en"])


def lang_option(*, group: bool = False) -> Any:
    """The ``--lang zh|en`` option of every command (default ``zh``) and of the group.

    It is read first (eager), so the other options' errors and the command's own errors speak
    the chosen language (:func:`current_lang`). A command without its own ``--lang`` takes
    the group's (``rivernet --lang en coverage ...``).

    Parameters
    ----------
    group
        The group's option: no default of its own (the commands' default applies).
    """
    return click.option(
        "--lang",
        type=LANG_CHOICE,
        default=None if group else "zh",
        show_default=not group,
        is_eager=True,
        callback=_keep_lang,
    )


def _keep_lang(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Keep the language in ``ctx.meta``; a command's default yields to the group's choice."""
    from click.core import ParameterSource

    given = ctx.get_parameter_source(param.name or "lang") is not ParameterSource.DEFAULT
    if given or (value is not None and LANG_KEY not in ctx.meta):
        ctx.meta[LANG_KEY] = value
    return ctx.meta.get(LANG_KEY, value)


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
    CommandError
        If no admin unit (nor sub-county unit of the roster) has this code.
    """
    from rivernet.coverage import unit_names

    code = str(code).strip()
    if code not in unit_names(project):
        raise CommandError.from_key("cli_error.unknown_unit", code=code, file=path.name, path=path)
    return code


# Python argument names in library messages -> the flags of the command line, in order.
FLAG_NAMES: tuple[tuple[str, str], ...] = (
    (r"(?<![\w-])crs='([^']*)'", r"--crs \1"),
    (r"(?<![\w-])crs=(?![\w'])", "--crs"),
    (r" to read_lines\b", ""),
    (r"给 read_lines ", ""),
    (r"(?<![\w-])as_of=", "--as-of "),
    (r"(?<![\w-])policy=(?=\S)", "--policy "),
    (r"(?<![\w-])policy=", "--policy"),
    (r"(?<![\w-])max_snap_m=", "--max-snap-m "),
    (r"(?<![\w-])max_snap_m\b", "--max-snap-m"),
    (r"(?<![\w-])max_distance_m=", "--max-snap-m "),
    (r"(?<![\w-])measure_m=", "--measure-m "),
    (r"(?<![\w-])measure_m\b", "--measure-m"),
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
