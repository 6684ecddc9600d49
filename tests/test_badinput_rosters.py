"""Bad roster inputs, each built by code here, and what :func:`rivernet.roster.read_roster` does.

This table-driven corpus counts toward issue 10's 60-case bad-input corpus ("Nothing lost,
nothing silently wrong"); this module holds the roster files' part. Every case either raises a
:class:`rivernet.errors.RosterError` whose problem names the line and whose message says how to
fix it, or imports correctly (and the test checks the values read). The files refer to the tiny
test project of tests/_coverage_project.py (counties 320505 and 320506, reaches 1-5, 7-9).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from rivernet import RosterError
from rivernet.project import Project, open_project
from rivernet.roster import Roster, export_roster, read_roster
from tests._coverage_project import write_tiny_project

HEADER = "name,level,unit_code,role,reach_id,from_m,to_m,valid_from,valid_to,assignment_id"
GOOD = "甲一,county,320505,河长,7,,,2022-01-01,,A1"
GOOD_2 = "乙二,county,320505,河长,1,,,2022-01-01,,A2"


def _csv(*lines: str, encoding: str = "utf-8") -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / "roster.csv"
        path.write_bytes(("\n".join(lines) + "\n").encode(encoding) if lines else b"")
        return path

    return make


def _bom_gbk(folder: Path) -> Path:
    path = folder / "roster.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + "\n" + GOOD + "\n").encode("gbk"))
    return path


def _xlsx(*rows: list[object], extra: dict[str, list[list[object]]] | None = None,
          merged: bool = False) -> Callable[[Path], Path]:  # fmt: skip
    def make(folder: Path) -> Path:
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        sheet.title = "河长名录"
        if merged:
            sheet.append(["姓名", "层级", "行政区划代码", "角色", "河段", None, None, "任期", None])
            sheet.append([None, None, None, None, "编码", "起点", "终点", "开始", "结束"])
            for column in range(1, 5):
                sheet.merge_cells(start_row=1, start_column=column, end_row=2, end_column=column)
            sheet.merge_cells("E1:G1")
            sheet.merge_cells("H1:I1")
        else:
            sheet.append(HEADER.split(","))
        for row in rows:
            sheet.append(row)
        for title, sheet_rows in (extra or {}).items():
            other = book.create_sheet(title)
            for row in sheet_rows:
                other.append(row)
        path = folder / "roster.xlsx"
        book.save(path)  # openpyxl stores formulas without cached values
        return path

    return make


def _with_sidecar(table: str, *lines: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = _csv(HEADER, GOOD)(folder)
        (folder / f"roster.{table}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return make


@dataclass(frozen=True)
class Case:
    """One bad input: how to make it, and the expected problem or the check of a good import."""

    name: str
    make: Callable[[Path], Path]
    problem: tuple[int, str] | None = None
    check: Callable[[Roster], None] | None = None
    against_project: bool = False


def _valid_to(expected: dt.date | None) -> Callable[[Roster], None]:
    def check(roster: Roster) -> None:
        value = roster.assignments["valid_to"].iloc[0]
        assert (pd.isna(value) and expected is None) or value == pd.Timestamp(expected)

    return check


def _reaches(*expected: int) -> Callable[[Roster], None]:
    def check(roster: Roster) -> None:
        assert roster.assignments["reach_id"].tolist() == list(expected)

    return check


def _injection_kept_and_neutralised(roster: Roster) -> None:
    assert roster.people["name"].iloc[0] == '=HYPERLINK("http://evil.example","x")'


ROW = ["甲一", "county", "320505", "河长", 7, None, None, "2022-01-01"]

CASES = [
    Case("unterminated quote", _csv(HEADER, GOOD, '"乙二,county,320505,河长,1,,,2022-01-01,,A2',
                                    *[GOOD.replace("A1", f"B{i}") for i in range(5)]),
         problem=(3, "a quote (\") is not closed properly")),
    Case("quote closed far below",
         _csv(HEADER, GOOD, '"乙二,county,320505,河长,1,,,2022-01-01,,A2', "丙,county",
              "丁,county", '戊"', GOOD_2.replace("A2", "A3")),
         problem=(3, "runs over 4 lines")),
    Case("ragged row, extra cells", _csv(HEADER, GOOD, GOOD_2 + ",x,y"),
         problem=(3, "12 cells but the header has 10: a comma inside a cell must be quoted")),
    Case("ragged row, missing cells", _csv(HEADER, GOOD, "乙二,county,320505,河长,1"),
         problem=(3, "only 5 cells but the header has 10")),
    Case("header only", _csv(HEADER), problem=(1, "has a header but no rows")),
    Case("empty file", _csv(), problem=(0, "is empty")),
    Case("blank lines only", _csv("", " , ", ""), problem=(0, "is empty")),
    Case("BOM then GBK", _bom_gbk, problem=(2, "not UTF-8 text after a UTF-8 byte-order mark")),
    Case("duplicate rows", _csv(HEADER, GOOD, GOOD.replace("A1", "A9")),
         problem=(3, "duplicate of line 2: delete one of them")),
    Case("duplicate ids", _csv(HEADER, GOOD, GOOD_2.replace("A2", "A1")),
         problem=(3, "assignment id 'A1' is used twice")),
    Case("end before start", _csv(HEADER, GOOD.replace(",,A1", ",2021-12-31,A1")),
         problem=(2, "valid_to 2021-12-31 is before valid_from 2022-01-01; swap them")),
    Case("month 13", _csv(HEADER, GOOD.replace("2022-01-01", "2024-13-01")),
         problem=(2, "'2024-13-01' is not a date; write dates as 2024-03-01")),
    Case("February 30", _csv(HEADER, GOOD.replace("2022-01-01", "2024/02/30")),
         problem=(2, "'2024/02/30' is not a date")),
    Case("blank start", _csv(HEADER, GOOD.replace("2022-01-01", "")),
         problem=(2, "valid_from (任期开始) is blank: give the date the term began")),
    Case("unknown level", _csv(HEADER, GOOD.replace("county", "大队")),
         problem=(2, "level '大队' is not one of")),
    Case("missing columns", _csv("name,level", "甲一,county"),
         problem=(1, "missing column(s) unit_code, role, valid_from: add them to the header")),
    Case("negative measures", _csv(HEADER, GOOD.replace(",,,2022", ",-5,100,2022")),
         problem=(2, "is not a measure: give metres >= 0")),
    Case("unknown unit code", _csv(HEADER, GOOD.replace("320505", "320599")),
         problem=(2, "admin code 320599 is not in the project's admin units"),
         against_project=True),
    Case("reach not in project", _csv(HEADER, GOOD.replace(",7,", ",99,")),
         problem=(2, "reach 99 is not in the project's network; check the id"),
         against_project=True),
    Case("measures beyond the reach", _csv(HEADER, GOOD.replace(",7,,,", ",1,0,5000,")),
         problem=(2, "to_m 5000 is beyond the end of reach 1 (1000 m long)"),
         against_project=True),
    Case("date formula without a saved value",
         _xlsx([*ROW, "=DATE(2024,12,31)", "A1"]), check=_valid_to(dt.date(2024, 12, 31)),
         against_project=True),
    Case("text date formula without a saved value",
         _xlsx([*ROW, '=DATEVALUE("2024-12-31")', "A1"]), check=_valid_to(dt.date(2024, 12, 31))),
    Case("other formula without a saved value", _xlsx([*ROW, "=TODAY()+30", "A1"]),
         problem=(2, "cell I2 holds the formula =TODAY()+30 without a saved value; open the file")),
    Case("formula injection in a name",
         _csv(HEADER, GOOD.replace("甲一", '"=HYPERLINK(""http://evil.example"",""x"")"')),
         check=_injection_kept_and_neutralised),
    Case("full-width digits",
         _csv(HEADER, GOOD.replace(",7,", ",７,").replace("320505", "３２０５０５")),
         check=_reaches(7), against_project=True),
    Case("merged headers", _xlsx(["甲一", "县级", "320505", "河长", 7, None, None, 44562, None],
                                 merged=True), check=_reaches(7), against_project=True),
    Case("xlsx with extra sheets", _xlsx([*ROW, None, "A1"], extra={"说明": [["请勿修改"]],
                                                                    "统计": [[1, 2]]}),
         check=_reaches(7), against_project=True),
    Case("board showing an unknown person",
         _with_sidecar("boards", "board_id,reach_id,measure_m,level,person_id,updated_on",
                       "B1,7,10,county,P404,2024-01-01"),
         problem=(2, "board B1 shows person P404, who is not in the roster")),
    Case("board with a bad date",
         _with_sidecar("boards", "board_id,reach_id,measure_m,level,person_id,updated_on",
                       "B1,7,10,county,,2024-02-30"),
         problem=(2, "roster.boards.csv: board B1: '2024-02-30' is not a date")),
    Case("unit listed twice",
         _with_sidecar("units", "code,name,level,parent_code", "320505100,清溪镇,township,320505",
                       "320505100,清溪镇,township,320505"),
         problem=(3, "unit 320505100 is listed twice (first on line 2)")),
]  # fmt: skip


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return open_project(write_tiny_project(tmp_path_factory.mktemp("tiny") / "tiny.gpkg"))


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 20
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_roster_input(case: Case, tmp_path: Path, tiny: Project) -> None:
    path = case.make(tmp_path)
    project = tiny if case.against_project else None
    if case.problem is None:
        roster = read_roster(path, project=project)
        assert case.check is not None
        case.check(roster)
        return
    with pytest.raises(RosterError) as caught:
        read_roster(path, project=project)
    line, fragment = case.problem
    message = str(caught.value)
    assert fragment in message, message
    if line:  # 0: the whole file, no line to name
        assert (line, next(m for n, m in caught.value.problems if fragment in m)) in (
            caught.value.problems
        ), caught.value.problems
        assert f"line {line}" in message


def test_formula_injection_is_neutralised_on_export(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.name == "formula injection in a name")
    roster = read_roster(case.make(tmp_path))
    out = export_roster(roster, tmp_path / "out" / "roster.csv")
    text = out.read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text
    assert read_roster(out).people["name"].tolist() == roster.people["name"].tolist()
