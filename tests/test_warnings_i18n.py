"""Warnings and row problems come from the message catalogue: Chinese by default, English as before.

A warning's ``str`` stays its English text (what ``pytest.warns(match=...)`` and logs see) while
its message renders in Chinese; the command line shows a rivernet warning as one line
``注意：...`` (``Note: ...`` with ``--lang en``) in the command's language, without Python's file
path, and ``--quiet`` hides it. Row problems of named rosters and of sign-board tables read in
Chinese too.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from click.testing import CliRunner

from rivernet import RiverNetwork, SnapWarning, messages
from rivernet.cli import main
from rivernet.errors import DataQualityWarning, RosterError
from rivernet.io import read_lines
from rivernet.named_roster import resolve_named_roster
from rivernet.roster import read_roster
from tests.boundary_cases import named_project
from tests.test_badinput_rosters import _with_sidecar
from tests.test_named_roster import REACHES, rows
from tests.test_untranslated import CJK, SAMPLE, english_words

GBK_ENGLISH = (
    "河道.shp: no .cpg file and the text is not UTF-8; read it as GBK (GB18030). If names look "
    "wrong pass encoding=; to silence this add 河道.cpg containing the word GBK"
)


@pytest.fixture
def gbk_shapefile(tmp_path: Path) -> Path:
    """Five sample reaches with a Chinese name column, written as GBK without a .cpg file."""
    lines = gpd.read_file(SAMPLE, layer="reaches", rows=5)[["HYRIV_ID", "NEXT_DOWN", "geometry"]]
    lines["name"] = "太湖支流"
    path = tmp_path / "河道.shp"
    pyogrio.write_dataframe(lines, path, encoding="GBK")
    path.with_suffix(".cpg").unlink()
    return path


def without_files(text: str) -> str:
    """The text without the file names it quotes (data, not words)."""
    return text.replace("河道.shp", " ").replace("河道.cpg", " ")


def caught_message(caught: list[warnings.WarningMessage], category: type[Warning]) -> object:
    """The message (a catalogue message) of the one warning of ``category``."""
    [warning] = [w for w in caught if issubclass(w.category, category)]
    assert isinstance(warning.message, Warning)
    return warning.message.args[0]


# -- the library's warnings ---------------------------------------------------------------------
def test_a_gbk_warning_is_chinese_and_keeps_its_english(gbk_shapefile: Path) -> None:
    with pytest.warns(DataQualityWarning, match="read it as GBK") as caught:
        lines = read_lines(gbk_shapefile)
    assert set(lines["name"]) == {"太湖支流"}
    message = caught_message(caught.list, DataQualityWarning)
    assert str(message) == GBK_ENGLISH
    assert messages.render(message, "en") == GBK_ENGLISH
    chinese = messages.render(message, "zh")
    assert "没有 `.cpg` 文件" in chinese and "GB18030" in chinese
    assert english_words(without_files(chinese)) == [], chinese


def test_a_snap_warning_is_chinese_and_keeps_its_english(tiny: RiverNetwork) -> None:
    with pytest.warns(SnapWarning) as caught:
        tiny.snap([(0, 2500), (3000, 3000)], max_distance_m=100)
    message = caught_message(caught.list, SnapWarning)
    assert str(message) == (
        "1 point(s) (1) are farther than 100 m from every reach and were not snapped; raise "
        "max_distance_m or check their CRS (GCJ-02 coordinates are offset by hundreds of metres)."
    )
    chinese = messages.render(message, "zh")
    assert chinese.startswith("1 个点（1）距所有河段都超过 100 米")
    assert english_words(chinese) == [], chinese


# -- the command line ---------------------------------------------------------------------------
def test_the_cli_shows_a_warning_as_a_chinese_note(gbk_shapefile: Path) -> None:
    result = CliRunner().invoke(main, ["info", str(gbk_shapefile)])
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if line.startswith("注意：")]
    assert len(notes) == 1, result.output
    assert "已按 GB18030（国标中文编码）读取" in notes[0]
    assert english_words(without_files(notes[0])) == [], notes[0]
    assert "Traceback" not in result.output and "Warning" not in result.output
    assert "io.py" not in result.output and str(Path(__file__).parents[1]) not in result.output
    assert "河段数" in result.output  # the command's own output follows


def test_the_cli_note_follows_lang_and_quiet(gbk_shapefile: Path) -> None:
    english = CliRunner().invoke(main, ["info", str(gbk_shapefile), "--lang", "en"])
    assert english.exit_code == 0, english.output
    assert f"Note: {GBK_ENGLISH}" in english.output.splitlines()
    assert not CJK.search(without_files(english.output).replace("太湖支流", " "))
    assert "DataQualityWarning" not in english.output
    quiet = CliRunner().invoke(main, ["--quiet", "info", str(gbk_shapefile)])
    assert quiet.exit_code == 0 and "注意" not in quiet.output and "河段数" in quiet.output


# -- row problems -------------------------------------------------------------------------------
def test_named_roster_row_problems_render_in_chinese() -> None:
    project = named_project(REACHES)
    table = rows(["黑河", "西北县", "县", "周九", "县长", "很长", None])
    with pytest.raises(RosterError) as caught:
        resolve_named_roster(project, table)
    [(line, problem)] = caught.value.problems
    assert line == 2
    assert "no river '黑河' in 西北县 (320104); rivers there: 小河" in problem
    assert "length '很长' is not a number of kilometres" in problem
    chinese = messages.render(problem, "zh")
    assert "长度 '很长' 不是以公里计的数值" in chinese
    assert "西北县（320104）中没有河流 '黑河'；那里的河流有：小河" in chinese
    assert english_words(chinese) == [], chinese
    assert "- 第 2 行：" in caught.value.text("zh")


def test_board_row_problems_render_in_chinese(tmp_path: Path) -> None:
    make = _with_sidecar("boards", "board_id,reach_id,measure_m,level,person_id,updated_on",
                         "B1,7,10,大队,P404,2024-01-01")  # fmt: skip
    with pytest.raises(RosterError) as caught:
        read_roster(make(tmp_path))
    problems = [problem for line, problem in caught.value.problems if line == 2]
    assert (
        "roster.boards.csv: board B1 shows person P404, who is not in the roster; fix the "
        "person_id or add the person" in problems
    )
    assert (
        "roster.boards.csv: board B1: level '大队' is not one of province, city, county, "
        "township, village" in problems
    )
    chinese = caught.value.text("zh")
    assert "roster.boards.csv：公示牌 B1：层级 '大队' 不是 省、市、县、乡、村 之一" in chinese
    assert "roster.boards.csv：公示牌 B1 显示的人员 P404 不在名录中" in chinese
    shown = chinese.replace("roster.boards.csv", " ").replace("roster.csv", " ")
    assert english_words(shown) == [], shown
