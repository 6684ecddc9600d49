"""``--help`` in Chinese by default and in English with ``--lang en``, for every command.

The help texts come from ``rivernet/locale/cli_help.toml`` (:mod:`rivernet.cli._help`); click's
own words (Usage, Options, default, required) and the placeholders of the usage line are
translated too. What a user types stays as it is in the Chinese help and is not scanned for
English words: the command path, the subcommands' names, flags, choice lists
(``[province|city]``), default values and the example command lines.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from rivernet import messages
from rivernet.build import step_label
from rivernet.cli import main
from rivernet.cli._help import HelpCommand, display_width, help_section, param_key
from tests.test_untranslated import CJK, english_words


def walk(command: click.Command, names: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The names of every command of the group, the group itself first (``()``)."""
    yield names
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from walk(sub, (*names, name))


def command_at(names: tuple[str, ...]) -> click.Command:
    command: click.Command = main
    for name in names:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


COMMANDS = list(walk(main))
IDS = [" ".join(names) or "rivernet" for names in COMMANDS]
# The Chinese form of a date that --as-of accepts, shown as an example.
CHINESE_DATE = "2025年6月30日"


def run_help(*args: str) -> str:
    result = CliRunner().invoke(main, [*args], prog_name="rivernet")
    assert result.exit_code == 0, result.output
    return result.output


def typed(output: str, names: tuple[str, ...]) -> str:
    """The help without what a user types: command names, choices, defaults, examples."""
    command = command_at(names)
    text = re.sub(r"^ +rivernet .*$", " ", output, flags=re.M)  # an example command line
    text = text.replace(" ".join(("rivernet", *names)), " ")
    if isinstance(command, click.Group):
        for name in command.commands:
            text = re.sub(rf"^  {re.escape(name)} ", "   ", text, flags=re.M)
    text = re.sub(r"(?<![\w-])-[a-zA-Z]\b", " ", text)  # -o, -q
    text = re.sub(r"\[[\w|]+\|[\w|]+\]", " ", text)  # --level [province|city|...]
    return re.sub(r"默认：[^；\]]+", " ", text)  # [默认：province]


@pytest.mark.parametrize("names", COMMANDS, ids=IDS)
def test_help_is_chinese_by_default(names: tuple[str, ...]) -> None:
    output = run_help(*names, "--help")
    assert output.startswith("用法：rivernet") and "选项：" in output
    assert "显示此帮助并退出。" in output
    assert english_words(typed(output, names)) == [], output


@pytest.mark.parametrize("names", COMMANDS, ids=IDS)
def test_help_is_english_with_lang_en(names: tuple[str, ...]) -> None:
    output = run_help("--lang", "en", *names, "--help")
    assert output.startswith("Usage: rivernet") and "Show this message and exit." in output
    assert CJK.findall(output.replace(CHINESE_DATE, " ")) == [], output


@pytest.mark.parametrize(
    "args",
    [
        ["coverage", "--help", "--lang", "en"],
        ["coverage", "--lang", "en", "--help"],
        ["coverage", "--help", "--lang=en"],
        ["--lang", "en", "coverage", "--help"],
    ],
)
def test_lang_en_wherever_it_is_given(args: list[str]) -> None:
    output = " ".join(run_help(*args).split())
    assert output.startswith("Usage: rivernet coverage [OPTIONS] PROJECT")
    assert "Only this admin unit and the units inside it (GB/T 2260 code)." in output
    assert "[default: zh]" in output and CJK.findall(output.replace(CHINESE_DATE, "")) == []


def test_chinese_help_translates_clicks_words_and_placeholders() -> None:
    output = run_help("navigate", "--help")
    assert output.startswith("用法：rivernet navigate [<选项>] <路径>")
    assert "参数：" in output and "[默认：UT]" in output and "[必填]" in output
    assert "--distance-km <数值>" in output and "起始河段编码" in output
    group = run_help("--help")
    assert "命令：" in group and "<命令> [<参数>]..." in group
    assert "全覆盖情况" in group  # the short help of `coverage`
    english = run_help("navigate", "--help", "--lang", "en")
    assert "Positional arguments:" in english and "[required]" in english


def test_lang_of_the_group_is_the_commands_default(tmp_path: Path) -> None:
    """``rivernet --lang en CMD`` prints in English as ``rivernet CMD --lang en`` does, and a
    command's own ``--lang`` wins."""
    result = CliRunner().invoke(main, ["--lang", "en", "report", "nowhere.gpkg"])
    assert result.exit_code == 2 and result.output.startswith("Error: "), result.output
    result = CliRunner().invoke(main, ["--lang", "en", "report", "nowhere.gpkg", "--lang", "zh"])
    assert result.output.startswith("错误："), result.output


def test_a_group_without_command_shows_its_help() -> None:
    result = CliRunner().invoke(main, ["roster"], prog_name="rivernet")
    assert "用法：rivernet roster" in result.output and "错误" not in result.output
    english = CliRunner().invoke(main, ["--lang", "en", "roster"], prog_name="rivernet")
    assert "Usage: rivernet roster" in english.output


def test_chinese_help_fits_the_terminal() -> None:
    """Chinese text is wrapped by its width (two columns a character), to 80 columns."""
    for names in COMMANDS:
        for line in run_help(*names, "--help").splitlines():
            if not line.lstrip().startswith("rivernet "):  # an example, kept as written
                assert display_width(line) <= 80, line


@pytest.mark.parametrize("names", COMMANDS, ids=IDS)
def test_every_command_and_parameter_has_catalogue_help(names: tuple[str, ...]) -> None:
    command = command_at(names)
    assert isinstance(command, HelpCommand)
    section = help_section(names)
    group = isinstance(command, click.Group)
    missing = [p.name for p in command.params if param_key(section, p.name, group=group) is None]
    assert missing == [], f"no help in cli_help.toml for {section}: {missing}"
    assert param_key(section, "help") == "help_common.help"
    catalogue = messages.catalogue()
    # the English long help is the command's docstring, unchanged
    assert catalogue[f"{section}.description"]["en"] == inspect.cleandoc(command.help or "")


def test_no_catalogue_entry_names_an_unknown_parameter() -> None:
    """Entries of a command's section are its parameters (or its description, short help)."""
    known: set[str] = set()
    for names in COMMANDS:
        section = help_section(names)
        known |= {f"{section}.{p.name}" for p in command_at(names).params}
        known |= {f"{section}.description", f"{section}.short"}
    entries = [k for k in messages.catalogue() if k.startswith("help_")]
    shared = ("help_common.", "help_click.", "help_metavar.")
    assert [k for k in entries if not k.startswith(shared) and k not in known] == []
    assert messages.check_catalogue() == []


STEPS = {"rivers": {}, "network": {}, "names": {}, "units": {"file": "区县.shp"},
         "checking_units": {}, "lakes": {}, "roster": {}, "policy": {}, "checked": {},
         "reading": {}, "building_network": {}}  # fmt: skip


@pytest.mark.parametrize("step", sorted(STEPS))
def test_progress_labels_are_chinese(step: str) -> None:
    chinese = step_label(step, lang="zh", **STEPS[step])
    assert CJK.search(chinese.replace("区县", "")) and english_words(chinese) == []
    english = step_label(step, **STEPS[step])  # the library's default, as it was
    assert english == {"units": "units 区县.shp", "checking_units": "checking units",
                       "building_network": "building network"}.get(step, step)  # fmt: skip


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_new_labels_its_progress_in_its_language(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, lang: str
) -> None:
    import rivernet.build

    asked: dict[str, Any] = {}

    class PlannedError(Exception):
        pass

    def plan(**options: Any) -> None:
        asked.update(options)
        raise PlannedError

    monkeypatch.setattr(rivernet.build, "plan_project", plan)
    args = ["new", str(tmp_path / "p.gpkg"), "--rivers", "r.shp", "--units", "u.shp"]
    result = CliRunner().invoke(main, [*args, "--lang", lang] if lang == "en" else args)
    assert isinstance(result.exception, PlannedError)
    assert asked["lang"] == lang


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--version"], "rivernet，版本 "),
        (["--lang", "en", "--version"], "rivernet, version "),
        (["--version", "--lang", "en"], "rivernet, version "),
    ],
)
def test_version_is_in_the_chosen_language(args: list[str], expected: str) -> None:
    from importlib.metadata import version

    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert result.output == f"{expected}{version('rivernet')}\n"
