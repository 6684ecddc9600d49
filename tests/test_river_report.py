"""The 一河一档 page of a named river: rivernet.dossier.river_reaches and ``rivernet report
--river`` on the sample (fictional names) and on hand-drawn rivers."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from rivernet.cli import main
from rivernet.dossier import river_reaches
from rivernet.errors import NotFoundError
from rivernet.layers.river_report import river_report_html
from rivernet.project import Project
from tests.boundary_cases import named_project
from tests.conftest import SAMPLE

AS_OF = "2025-06-30"


def text_of(document: str) -> str:
    document = re.sub(r"<(style|svg)\b.*?</\1>", " ", document, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", document)).split())


def test_river_reaches_source_to_mouth(project: Project) -> None:
    row, reach_ids = river_reaches(project, "示例六河", as_of=AS_OF)
    assert row["name"] == "示例六河" and len(reach_ids) == row["n_reaches"] == 13
    assert reach_ids[0] == row["source"] == 40653507 and reach_ids[-1] == row["mouth"]
    assert river_reaches(project, "示例六", as_of=AS_OF)[0]["name"] == "示例六河"  # a variant
    with pytest.raises(NotFoundError, match=r"no river named '黄河'.*示例一河"):
        river_reaches(project, "黄河", as_of=AS_OF)


def test_two_rivers_of_one_name_are_listed() -> None:
    project = named_project(
        {
            61: ([(-9000, 9000), (-7000, 9000)], 0, "小河"),
            62: ([(-9000, 2000), (-7000, 2000)], 0, "小河"),
        }
    )
    with pytest.raises(NotFoundError, match=r"2 rivers are named '小河'.*source reach 6[12].*code"):
        river_reaches(project, "小河")


def test_river_page_lists_units_chiefs_and_crossings(project: Project) -> None:
    document = river_report_html(project, river="示例六河", as_of=AS_OF, maps=False)
    shown = text_of(document)
    assert "示例六河一河一档" in shown and "63.5" in shown  # title, length in km
    assert "吴江区 43.89" in shown and "秀洲区 19.63" in shown  # km in each county
    assert "侯曦 副县(区)长 吴江区" in shown  # the county chief in office
    assert shown.count("秀洲区 吴江区") >= 2 and "吴江区 秀洲区" in shown  # handover sections
    english = text_of(river_report_html(project, river="示例六河", as_of=AS_OF, lang="en",
                                        maps=False))  # fmt: skip
    assert "River file: 示例六河" in english and "Chiefs in office" in english


def test_cli_report_river(tmp_path: Path) -> None:
    output = tmp_path / "river.html"
    runner = CliRunner()
    result = runner.invoke(
        main, ["report", str(SAMPLE), "--river", "示例六河", "--as-of", AS_OF, "-o", str(output)]
    )
    assert result.exit_code == 0, result.output
    assert "示例六河" in result.output and output.exists()
    document = output.read_text(encoding="utf-8")
    assert "<svg" in document and "河长覆盖（县级）" in text_of(document.replace("<svg", "<x"))
    missing = runner.invoke(main, ["report", str(SAMPLE), "--river", "黄河", "-o", str(output)])
    assert missing.exit_code == 1 and "没有名为 '黄河' 的河流" in missing.output
    both = runner.invoke(main, ["report", str(SAMPLE), "--unit", "320509", "--river", "示例六河"])
    assert both.exit_code == 2 and "--unit 行政区代码 或 --river 河流名称" in both.output


def test_unit_report_names_the_rivers_it_can(project: Project) -> None:
    from rivernet.layers.report import report_html

    shown = text_of(report_html(project, unit="320509", as_of=AS_OF, maps=False))
    assert "40645317 示例六河 秀洲区 吴江区" in shown  # a handover section on a named river
    assert "河流名称" in shown
