"""``--help`` in the command's language: every help text comes from the message catalogue.

The texts live in ``rivernet/locale/cli_help.toml``, one section per command: ``help_rivernet``
for the group, ``help_coverage`` for ``rivernet coverage``, ``help_roster_import`` for
``rivernet roster import`` (:func:`help_section`). A section holds ``help`` (the long help;
its English is the command's docstring), optionally ``short`` (the line in the group's list;
else the first sentence of ``help``) and one entry per parameter, named as the parameter
(``unit``, ``as_of``, ``project``). Parameters that read the same everywhere (``--lang``,
``--json``, ``-o``, ``--help``, PROJECT) are in ``help_common`` (:func:`param_key`); click's own
words (Usage, Options, default, required) are in ``help_click`` and the placeholders of the
usage line (PROJECT, FILE, TEXT) in ``help_metavar``. So the command modules name no help
text: ``@click.option("--unit")`` is explained by ``help_coverage.unit``.

The language is the command's ``--lang`` (Chinese by default), or the group's
(``rivernet --lang en coverage --help``). ``--help`` is eager and may come before ``--lang``,
so :class:`HelpCommand` reads ``--lang`` from the raw arguments click parses
(:func:`lang_from_args`) before parsing them; it keeps the choice in ``click.Context.meta``
where :func:`rivernet.cli._options.current_lang` finds it.
"""

from __future__ import annotations

import inspect
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import click

from rivernet import messages
from rivernet.cli._options import LANG_KEY, lang_from_args

ROOT_SECTION = "help_rivernet"
"""The help section of the ``rivernet`` group itself."""
COMMON_SECTION = "help_common"
"""Help of the parameters that mean the same in every command."""
METAVARS = {
    "INTEGER RANGE": "integer_range", "FLOAT RANGE": "float_range", "FILE|DIR": "file_dir",
    "W,S,E,N": "bbox", "A,B": "layers", "TOKEN_ID": "token_id", "OPTIONS": "options",
    "COMMAND": "command", "ARGS": "args", "PROJECT": "project", "OUTPUT": "output",
    "FILE": "file", "PATH": "path", "URL": "url", "TEXT": "text", "FLOAT": "float",
    "INTEGER": "integer", "DATE": "date",
}  # fmt: skip
"""Placeholders of usage lines and options -> their ``help_metavar`` key (longest first)."""
_METAVAR = re.compile(
    r"(?<![\w-])(" + "|".join(re.escape(name) for name in METAVARS) + r")(?![\w-])"
)
_CJK = re.compile(r"[\u2e80-\u9fff\u3000-\u303f\uff00-\uffef]")


def help_lang(ctx: click.Context) -> str:
    """The language the help of ``ctx``'s command is shown in (``"zh"`` unless asked)."""
    return str(ctx.meta.get(LANG_KEY, messages.LANGS[0]))


def help_section(names: Sequence[str]) -> str:
    """The catalogue section of the command ``rivernet <names...>`` (``help_roster_import``)."""
    return f"help_{'_'.join(names)}".replace("-", "_") if names else ROOT_SECTION


def command_names(ctx: click.Context) -> list[str]:
    """The names of the command ``ctx`` runs, after ``rivernet`` (``["roster", "import"]``)."""
    names: list[str] = []
    while ctx.parent is not None:
        names.insert(0, ctx.info_name or "")
        ctx = ctx.parent
    return names


def section_of(ctx: click.Context) -> str:
    """The catalogue section of the command that ``ctx`` runs."""
    return help_section(command_names(ctx))


def param_key(section: str, name: str | None, *, group: bool = False) -> str | None:
    """The catalogue key of a parameter's help: the command's own, else the common one (for a
    group, ``group_<name>`` first: a group's ``--lang`` is its commands' default)."""
    shared = [f"{COMMON_SECTION}.group_{name}"] if group else []
    for key in (f"{section}.{name}", *shared, f"{COMMON_SECTION}.{name}"):
        if key in messages.catalogue():
            return key
    return None


def click_text(name: str, lang: str, **values: Any) -> str:
    """One of click's own words (``usage``, ``options``, ``default``...) in ``lang``."""
    return messages.text(f"help_click.{name}", lang, **values)


def localize_metavars(text: str, lang: str) -> str:
    """A usage line or option spec with its placeholders (PROJECT, FILE) in ``lang``."""
    if lang == "en":
        return text
    return _METAVAR.sub(
        lambda found: messages.text(f"help_metavar.{METAVARS[found[1]]}", lang), text
    )


def long_help(section: str, lang: str) -> str:
    """The long help of a command, or ``""`` when the catalogue has none."""
    key = f"{section}.description"
    return messages.text(key, lang) if key in messages.catalogue() else ""


def short_help(section: str, lang: str, limit: int = 45) -> str:
    """The line of a command in its group's list: the first sentence of ``short``, else of the
    long help, cut to ``limit`` columns (the English as click cuts it)."""
    short = f"{section}.short"
    text = messages.text(short, lang) if short in messages.catalogue() else long_help(section, lang)
    if lang == "en":
        return click.core._make_default_short_help(text, limit)
    first = _join_lines(text.split("\n\n")[0].splitlines()).split("。")[0]
    if display_width(first) <= limit:
        return first
    while display_width(first) > limit - 1:
        first = first[:-1]
    return first + "…"


def display_width(text: str) -> int:
    """Columns that ``text`` takes in a terminal (Chinese characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


_CHUNK = re.compile(
    r"\s+|\[[^\]\s]{1,30}\]|[（「《“]*(?:[^\s\u2e80-\u9fff\u3000-\u303f\uff00-\uffef]+|.)[，。、；：）！？」》”]*"
)
"""Where a mixed line may break: spaces, between Chinese characters, around Latin words (a
bracket or punctuation mark stays with what it opens or closes, ``[默认：zh]`` is one piece)."""


def wrap(text: str, width: int, *, first: str = "", rest: str = "") -> list[str]:
    """Lines of at most ``width`` columns, Chinese characters counted as two."""
    lines: list[str] = []
    line, empty = first, True
    for chunk in _CHUNK.findall(text):
        if chunk.isspace():
            line += "" if empty else chunk.replace("\n", " ")
            continue
        if not empty and display_width(line) + display_width(chunk) > width:
            lines.append(line.rstrip())
            line = rest
        line, empty = line + chunk, False
    lines.append(line.rstrip())
    return lines


def _join_lines(lines: Sequence[str]) -> str:
    """Lines of one paragraph as one line (no space where a Chinese character meets a line
    break)."""
    text = ""
    for line in (line.strip() for line in lines):
        joint = "" if not text or _CJK.match(line[:1]) or _CJK.match(text[-1:]) else " "
        text += joint + line
    return text


class HelpFormatter(click.HelpFormatter):
    """click's help formatter, wrapping Chinese text by its width in the terminal."""

    def write_heading(self, heading: str) -> None:
        """A section heading: ``Options:`` / ``选项：``."""
        colon = "：" if _CJK.search(heading) else ":"
        self.write(f"{'':>{self.current_indent}}{heading}{colon}\n")

    def write_text(self, text: str) -> None:
        """Paragraphs of text, indented; Chinese text wrapped by width."""
        if not _CJK.search(text):
            super().write_text(text)
            return
        indent = " " * self.current_indent
        for number, paragraph in enumerate(text.split("\n\n")):
            if number:
                self.write("\n")
            lines = paragraph.splitlines()
            if lines and lines[0].strip() == "\b":  # kept as written
                self.write("".join(f"{indent}{line}\n" for line in lines[1:]))
                continue
            wrapped = wrap(_join_lines(lines), self.width, first=indent, rest=indent)
            self.write("".join(f"{line}\n" for line in wrapped))

    def write_dl(
        self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        """Two columns (options and their help); Chinese text wrapped by width."""
        rows = list(rows)
        if not any(_CJK.search(f"{first}{second}") for first, second in rows):
            super().write_dl(rows, col_max, col_spacing)
            return
        first_col = min(max(display_width(first) for first, _ in rows), col_max) + col_spacing
        indent = " " * self.current_indent
        for first, second in rows:
            self.write(f"{indent}{first}")
            if not second:
                self.write("\n")
                continue
            if display_width(first) <= first_col - col_spacing:
                self.write(" " * (first_col - display_width(first)))
            else:
                self.write("\n" + " " * (first_col + self.current_indent))
            text_width = max(self.width - first_col - 2, 10)
            lines = wrap(_join_lines(second.splitlines()), text_width)
            pad = " " * (first_col + self.current_indent)
            self.write(lines[0] + "\n" + "".join(f"{pad}{line}\n" for line in lines[1:]))


class HelpContext(click.Context):
    """A context whose help is written by :class:`HelpFormatter`."""

    formatter_class = HelpFormatter


class HelpCommand(click.Command):
    """A command whose ``--help`` is in the command's language, from the catalogue."""

    context_class = HelpContext

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Find ``--lang`` first (``--help`` may come before it), then parse as click does."""
        asked = lang_from_args(args)
        if asked is not None:
            ctx.meta[LANG_KEY] = asked
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """``Usage: rivernet coverage [OPTIONS] PROJECT`` / ``用法：rivernet coverage ...``."""
        lang = help_lang(ctx)
        pieces = localize_metavars(" ".join(self.collect_usage_pieces(ctx)), lang)
        prefix = click_text("usage", lang) + ("" if lang == "zh" else " ")
        formatter.write_usage(ctx.command_path, pieces, prefix=prefix)

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command's long help."""
        text = inspect.cleandoc(long_help(section_of(ctx), help_lang(ctx))).partition("\f")[0]
        if text:
            formatter.write_paragraph()
            with formatter.indentation():
                formatter.write_text(text)

    def format_arguments(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The positional arguments and their help."""
        lang, section = help_lang(ctx), section_of(ctx)
        rows = [
            (
                localize_metavars(" ".join(param.get_usage_pieces(ctx)), lang),
                param_help(param, param_key(section, param.name), lang),
            )
            for param in self.get_params(ctx)
            if isinstance(param, click.Argument)
        ]
        if any(text for _, text in rows):
            with formatter.section(click_text("arguments", lang)):
                formatter.write_dl(rows)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The options, their help and what click adds (default, required, range)."""
        rows = [row for row in self._option_rows(ctx) if row is not None]
        if rows:
            with formatter.section(click_text("options", help_lang(ctx))):
                formatter.write_dl(rows)

    def _option_rows(self, ctx: click.Context) -> Iterator[tuple[str, str] | None]:
        lang, section = help_lang(ctx), section_of(ctx)
        help_option = self.get_help_option(ctx)
        for param in self.get_params(ctx):
            if isinstance(param, click.Option):
                name = "help" if param is help_option else param.name
                key = param_key(section, name, group=isinstance(self, click.Group))
                yield option_row(ctx, param, param_help(param, key, lang), lang)


def param_help(param: click.Parameter, key: str | None, lang: str) -> str:
    """A parameter's help in ``lang``, from the catalogue entry ``key`` (click's own text if the
    catalogue has none)."""
    if key is not None:
        return messages.text(key, lang)
    return str(getattr(param, "help", None) or "")


def option_row(
    ctx: click.Context, option: click.Option, text: str, lang: str
) -> tuple[str, str] | None:
    """The help row of an option: its flags and metavar, its help and ``[default: ...]``."""
    record = option.get_help_record(ctx)
    if record is None:  # hidden
        return None
    spec = localize_metavars(record[0], lang)
    extra = option.get_help_extra(ctx) if hasattr(option, "get_help_extra") else {}
    items = []
    if "envvars" in extra:
        items.append(click_text("envvar", lang, var=", ".join(extra["envvars"])))
    if "default" in extra:
        items.append(click_text("default", lang, default=extra["default"]))
    if "range" in extra:
        items.append(extra["range"])
    if "required" in extra:
        items.append(click_text("required", lang))
    if items:
        joined = click_text("separator", lang).join(items)
        text = f"{text}  [{joined}]" if text else f"[{joined}]"
    return spec, text


class HelpGroup(HelpCommand, click.Group):
    """A group whose ``--help`` (and list of commands) is in the command's language."""

    command_class = HelpCommand
    group_class = type

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The options, then the subcommands."""
        super().format_options(ctx, formatter)
        self.format_commands(ctx, formatter)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The subcommands and the first line of each one's help."""
        lang = help_lang(ctx)
        commands = {name: self.get_command(ctx, name) for name in self.list_commands(ctx)}
        names = [name for name, command in commands.items() if command and not command.hidden]
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        path = command_names(ctx)
        rows = [(name, short_help(help_section([*path, name]), lang, limit)) for name in names]
        with formatter.section(click_text("commands", lang)):
            formatter.write_dl(rows)
