"""Roster import: real-world spreadsheets, every problem with its row, nothing half-imported."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from rivernet import InputError, RosterError
from rivernet._spreadsheet import canonical_column
from rivernet.project import Project, open_project
from rivernet.roster import (
    Roster,
    as_date,
    export_roster,
    parse_date,
    parse_id,
    read_roster,
    write_roster,
)
from tests._coverage_project import tiny_roster, write_tiny_project

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "roster"


@pytest.fixture
def tiny_path(tmp_path: Path) -> Path:
    return write_tiny_project(tmp_path / "tiny.gpkg")


@pytest.fixture
def tiny(tiny_path: Path) -> Project:
    return open_project(tiny_path)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_gbk_csv_with_chinese_headers_full_width_digits_and_blank_rows() -> None:
    roster = read_roster(FIXTURES / "roster_gbk.csv")
    a = roster.assignments
    assert a["line"].tolist() == [2, 3, 5]  # line 4 is blank and skipped
    assert a["unit_code"].astype(str).tolist() == ["320505", "320505", "320505100"]
    assert a["reach_id"].tolist() == [7, 1, 2]
    assert a["valid_from"].tolist() == [pd.Timestamp("2022-01-01")] * 3
    assert a["valid_to"].isna().tolist() == [True, True, False]
    assert (a["from_m"].iloc[2], a["to_m"].iloc[2]) == (500.0, 1000.0)
    assert a["level"].astype(str).tolist() == ["county", "county", "township"]
    assert roster.people["name"].tolist() == ["甲一", "乙二"]  # one person, two assignments


def test_xlsx_with_merged_header_cells_and_date_serials() -> None:
    roster = read_roster(FIXTURES / "roster_merged.xlsx")
    a = roster.assignments
    assert a["line"].tolist() == [3, 5, 7]  # Excel rows; rows 4 and 6 are blank
    assert a["reach_id"].tolist() == [7, 2, 3]  # "２" in full width is reach 2
    assert a["valid_from"].tolist() == [pd.Timestamp("2022-01-01")] * 3  # serial 44562
    assert a["valid_to"].iloc[1] == pd.Timestamp("2026-12-31")  # serial 46387
    assert a["unit_code"].astype(str).tolist() == ["320505", "320505100", "320505100201"]
    assert a["to_m"].iloc[1] == 1000.0


def test_every_bad_row_is_reported_with_its_line() -> None:
    with pytest.raises(RosterError) as caught:
        read_roster(FIXTURES / "roster_bad.csv")
    error = caught.value
    lines = {line: message for line, message in error.problems}
    expected = {
        2: "level '区县级' is not one of",
        3: "does not match unit 320500, a city-level code",
        4: "is not a GB/T 2260 code",
        5: "valid_to 2023-01-01 is before valid_from 2024-01-01",
        6: "'2024-02-30' is not a date",
        7: "role '组长' is not one of",
        8: "give exactly one of reach_id",
        9: "from_m 800 is not below to_m 200",
        11: "overlaps the term on line 10",
        12: "duplicate of line 10",
    }
    assert set(lines) == set(expected)  # line 10 is fine
    for line, fragment in expected.items():
        assert fragment in lines[line]
    assert "nothing was imported" in str(error)
    assert "line 12: duplicate of line 10" in str(error)
    assert isinstance(error, InputError) and isinstance(error, ValueError)


def test_references_are_checked_against_the_project(tiny: Project) -> None:
    with pytest.raises(RosterError) as caught:
        read_roster(FIXTURES / "roster_project.csv", project=tiny)
    problems = caught.value.problems
    text = {line: " | ".join(m for l2, m in problems if l2 == line) for line, _ in problems}
    assert "reach 99 is not in the project's network" in text[2]
    assert "admin code 320599 is not in the project's admin units" in text[3]
    assert "unit 320506 (county) does not contain reach 7" in text[4]
    assert "beyond the end of reach 1 (1000 m long)" in text[5]
    assert 6 not in text  # a village chief of a county the reach flows through is fine


def test_a_good_roster_passes_the_project_check(tiny: Project) -> None:
    roster = read_roster(FIXTURES / "roster_gbk.csv", project=tiny)
    assert len(roster.assignments) == 3


def test_write_and_reload_through_the_project(tiny_path: Path) -> None:
    roster = tiny_roster()
    write_roster(roster, tiny_path)
    project = open_project(tiny_path)
    loaded = project.roster
    assert loaded is not None and project.roster is loaded
    columns = ["assignment_id", "level", "unit_code", "role", "reach_id", "from_m", "to_m"]
    expected = roster.assignments[columns].astype(object)
    got = loaded.assignments[columns].astype(object)
    assert got.fillna(-1).values.tolist() == expected.fillna(-1).values.tolist()
    assert loaded.assignments["valid_to"].tolist() == roster.assignments["valid_to"].tolist()
    assert loaded.boards["updated_on"].tolist() == roster.boards["updated_on"].tolist()
    again = read_roster(tiny_path)
    assert len(again.assignments) == len(roster.assignments)


def test_a_failed_write_leaves_the_project_file_untouched(
    tiny_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _digest(tiny_path)
    import rivernet.roster as module

    calls = {"n": 0}
    real = module.pyogrio.write_dataframe

    def failing(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        real(*args, **kwargs)

    monkeypatch.setattr(module.pyogrio, "write_dataframe", failing)
    with pytest.raises(OSError, match="disk full"):
        write_roster(tiny_roster(), tiny_path)
    assert _digest(tiny_path) == before
    assert sorted(p.name for p in tiny_path.parent.iterdir()) == ["tiny.gpkg"]


def test_contact_details_are_private_by_default() -> None:
    roster = tiny_roster()
    assert "contact" not in roster.to_frame().columns
    assert "contact" in roster.to_frame(include_contact=True).columns


def test_active_assignments_on_a_day() -> None:
    roster = tiny_roster()
    ids = set(roster.active(dt.date(2025, 6, 30))["assignment_id"])
    assert "E9" not in ids and "F5" not in ids and "E8" in ids
    assert "E9" in set(roster.active(dt.date(2025, 3, 31))["assignment_id"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-01", dt.date(2024, 3, 1)),
        ("2024/3/1", dt.date(2024, 3, 1)),
        ("2024.3.1", dt.date(2024, 3, 1)),
        ("2024年3月1日", dt.date(2024, 3, 1)),
        ("２０２４－０３－０１", dt.date(2024, 3, 1)),
        (45352, dt.date(2024, 3, 1)),
        ("45352", dt.date(2024, 3, 1)),
        (dt.datetime(2024, 3, 1, 8, 30), dt.date(2024, 3, 1)),
        ("", None),
        (None, None),
    ],
)
def test_dates_as_spreadsheets_write_them(value: object, expected: dt.date | None) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize("value", ["2024-13-01", "yesterday", 45352.5, "1/3/2024"])
def test_bad_dates_are_refused(value: object) -> None:
    with pytest.raises(InputError, match="not a"):
        parse_date(value)


def test_ids_and_headers() -> None:
    assert parse_id("４０６１８３６６") == 40618366
    assert parse_id(40618366.0) == 40618366
    assert parse_id("R-12") == "R-12"
    assert canonical_column("起点（m）") == "from_m"
    assert canonical_column(" 行政区划代码 ") == "unit_code"
    assert canonical_column("Valid_From") == "valid_from"
    assert canonical_column("备注") is None


def test_as_of() -> None:
    assert as_date("2025-06-30") == dt.date(2025, 6, 30)
    assert as_date(dt.datetime(2025, 6, 30, 12)) == dt.date(2025, 6, 30)
    assert as_date("2025年6月30日") == as_date("2025/6/30") == dt.date(2025, 6, 30)
    china = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    assert as_date(None) == china  # today in China, whatever the machine's time zone
    with pytest.raises(InputError, match="is not a date"):
        as_date("June 30")


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(RosterError, match="does not exist"):
        read_roster(tmp_path / "missing.csv")
    other = tmp_path / "roster.xls"
    other.write_bytes(b"\xd0\xcf")
    with pytest.raises(RosterError, match=r"save \.xls files as \.xlsx"):
        read_roster(other)
    empty = tmp_path / "empty.csv"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(RosterError, match="empty"):
        read_roster(empty)
    headless = tmp_path / "headless.csv"
    headless.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(RosterError, match="no recognisable header"):
        read_roster(headless)
    with pytest.raises(RosterError, match="no sheet"):
        read_roster(FIXTURES / "roster_merged.xlsx", sheet="Sheet9")


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = tmp_path / "few.csv"
    path.write_text("姓名,职务\n张三,副县长\n", encoding="utf-8")
    with pytest.raises(RosterError, match="missing column"):
        read_roster(path)


def test_gpkg_copy_is_not_changed_by_reading(tiny_path: Path, tmp_path: Path) -> None:
    write_roster(tiny_roster(), tiny_path)
    copy = tmp_path / "copy.gpkg"
    shutil.copyfile(tiny_path, copy)
    before = _digest(copy)
    read = read_roster(copy)
    assert isinstance(read, Roster)
    assert len(read.assignments) == len(tiny_roster().assignments)
    assert set(read.people["person_id"]) == set(tiny_roster().people["person_id"])
    assert _digest(copy) == before


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_and_read_back(tmp_path: Path, suffix: str) -> None:
    roster = read_roster(FIXTURES / "roster_gbk.csv")
    path = export_roster(roster, tmp_path / f"out{suffix}")
    again = read_roster(path)
    columns = ["person_id", "level", "unit_code", "role", "reach_id", "from_m", "to_m"]
    got = again.assignments[columns].astype(object).fillna(-1).values.tolist()
    assert got == roster.assignments[columns].astype(object).fillna(-1).values.tolist()
    assert again.assignments["valid_to"].tolist() == roster.assignments["valid_to"].tolist()
    assert again.people["contact"].isna().all()  # private by default
    with pytest.raises(RosterError, match=r"use a \.csv or \.xlsx"):
        export_roster(roster, tmp_path / "out.json")


# --- issue 10: nothing lost, nothing silently wrong --------------------------------------------

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "taihu.gpkg"


def _tables_equal(a: Roster, b: Roster) -> None:
    for name in ("people", "assignments", "units", "boards"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), obj=name)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_sample_roster_export_then_import_is_identical(tmp_path: Path, suffix: str) -> None:
    """People, assignments, units and sign boards (公示牌) survive export -> import -> project."""
    original = open_project(SAMPLE).require_roster()
    assert len(original.boards) == 12 and len(original.units) > 0
    path = export_roster(original, tmp_path / f"roster{suffix}", include_contact=True)
    if suffix == ".csv":
        names = sorted(p.name for p in tmp_path.iterdir())
        assert names == ["roster.boards.csv", "roster.csv", "roster.people.csv",
                         "roster.units.csv"]  # fmt: skip
    read = read_roster(path)
    assert read.missing == ()
    project = tmp_path / "copy.gpkg"
    shutil.copyfile(SAMPLE, project)
    write_roster(read, project)
    _tables_equal(open_project(project).require_roster(), original)


def test_a_file_without_boards_and_units_keeps_the_projects(tiny_path: Path) -> None:
    from rivernet.roster import carry_over

    current = tiny_roster()
    read = read_roster(FIXTURES / "roster_gbk.csv")
    assert read.missing == ("units", "boards")
    kept, notes = carry_over(read, current)
    assert kept.boards is current.boards and len(kept.boards) == 2
    assert any("kept the project's 2 sign boards" in note for note in notes)


def test_safe_cell_neutralises_formulas_and_round_trips() -> None:
    from rivernet._files import safe_cell, unsafe_cell

    for value in ['=HYPERLINK("http://x","y")', "+1", "-3", "@SUM(A1)", "\tx", "\rx"]:
        assert safe_cell(value) == "'" + value
        assert unsafe_cell(safe_cell(value)) == value
    for value in ["'=x", "''+y", "'plain", "张三", "", 12, None, 1.5]:
        assert unsafe_cell(safe_cell(value)) == value
    assert safe_cell("张三") == "张三" and safe_cell("'plain") == "'plain"


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_neutralises_formula_cells(tmp_path: Path, suffix: str) -> None:
    import openpyxl

    roster = read_roster(FIXTURES / "roster_gbk.csv")
    evil = '=HYPERLINK("http://evil.example","点击")'
    roster.people.loc[0, "name"] = evil
    roster.people.loc[1, "post"] = "-1+1"
    path = export_roster(roster, tmp_path / f"out{suffix}")
    if suffix == ".csv":
        text = path.read_text(encoding="utf-8-sig")
        assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text and ",'-1+1" in text
    else:
        book = openpyxl.load_workbook(path)
        cells = [c for row in book["roster"].iter_rows() for c in row]
        assert not any(c.data_type == "f" for c in cells)  # no live formula anywhere
        assert any(c.value == "'" + evil for c in cells)
    again = read_roster(path)
    assert again.people["name"].tolist() == roster.people["name"].tolist()
    assert again.people["post"].tolist() == roster.people["post"].tolist()


def _formula_workbook(path: Path, valid_to: str) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["姓名", "层级", "行政区划代码", "角色", "河段编码", "任期开始", "任期结束"])
    sheet.append(["甲一", "县级", "320505", "河长", 7, "2022-01-01", valid_to])
    sheet.append(["乙二", "县级", "320505", "河长", 1, "=DATE(2022,1,1)", None])
    book.save(path)  # openpyxl saves formulas without cached values
    return path


def test_date_formulas_without_saved_values_are_evaluated(tmp_path: Path) -> None:
    roster = read_roster(_formula_workbook(tmp_path / "f.xlsx", "=DATE(2024,12,31)"))
    assert roster.assignments["valid_to"].tolist()[0] == pd.Timestamp("2024-12-31")
    assert roster.assignments["valid_from"].tolist()[1] == pd.Timestamp("2022-01-01")


def test_other_formulas_without_saved_values_are_refused(tmp_path: Path) -> None:
    path = _formula_workbook(tmp_path / "f.xlsx", "=EDATE(F2,36)")
    with pytest.raises(RosterError) as caught:
        read_roster(path)
    assert caught.value.problems[0][0] == 2
    assert "cell G2 holds the formula =EDATE(F2,36) without a saved value" in str(caught.value)


def test_unterminated_quote_is_refused_with_its_line(tmp_path: Path) -> None:
    good = export_roster(tiny_roster(), tmp_path / "good.csv")
    lines = good.read_text(encoding="utf-8-sig").splitlines()
    lines[5] = lines[5].replace(",", ',"', 2)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(RosterError, match=r"line 6: a quote") as caught:
        read_roster(bad)
    assert caught.value.problems[0][0] == 6


def test_a_quote_closed_far_below_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "far.csv"
    rows = ["姓名,层级,行政区划代码,角色,河段编码,任期开始"]
    rows += [f"甲{i},县级,320505,河长,7,2022-01-0{1 + i % 9}" for i in range(8)]
    rows[3] = rows[3].replace("甲2", '"甲2')
    rows[7] = rows[7].replace("甲6", '甲6"')
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(RosterError) as caught:
        read_roster(path)
    assert any(line == 4 and "runs over 5 lines" in m for line, m in caught.value.problems)


def test_ragged_rows_and_header_only_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text(
        "姓名,层级,行政区划代码,角色,河段编码,任期开始\n"
        "甲一,县级,320505,河长,7,2022-01-01\n"
        "乙二,县级,320505,河长,1,2022,01,01\n"
        "丙三,县级,320505,河长\n",
        encoding="utf-8",
    )
    with pytest.raises(RosterError) as caught:
        read_roster(path)
    lines = {n: " | ".join(m for k, m in caught.value.problems if k == n) for n in (3, 4)}
    assert "8 cells but the header has 6" in lines[3]
    assert "only 4 cells but the header has 6" in lines[4]
    header_only = tmp_path / "header.csv"
    header_only.write_text("姓名,层级,行政区划代码,角色,河段编码,任期开始\n", encoding="utf-8")
    with pytest.raises(RosterError, match="has a header but no rows"):
        read_roster(header_only)


def test_roster_changes_per_unit() -> None:
    from rivernet.roster import roster_changes

    current = tiny_roster()
    new = tiny_roster()
    new.assignments = new.assignments[new.assignments["assignment_id"] != "W7"].copy()
    new.assignments.loc[new.assignments["assignment_id"] == "E2", "valid_to"] = pd.Timestamp(
        "2025-01-01"
    )
    added = new.assignments.iloc[[0]].assign(assignment_id="N1", person_id="new")
    new.assignments = pd.concat([new.assignments, added], ignore_index=True)
    changes = roster_changes(current, new).set_index("unit_code")
    assert changes.loc["320505"].tolist() == [1, 0, 1, 6]
    assert changes.loc["320506"].tolist() == [0, 1, 0, 5]
    everything = roster_changes(None, current)
    assert int(everything["added"].sum()) == len(current.assignments)


def test_a_second_writer_waits_then_fails_naming_the_lock(tiny_path: Path) -> None:
    import threading

    from rivernet._files import project_lock
    from rivernet.errors import ProjectFileError

    held = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with project_lock(tiny_path):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        held.wait(5)
        before = _digest(tiny_path)
        with pytest.raises(ProjectFileError) as caught:
            write_roster(tiny_roster(), tiny_path, lock_timeout=0.3)
        message = str(caught.value)
        assert "tiny.gpkg.lock" in message and "held by pid" in message
        assert "--lock-timeout" in message
        assert _digest(tiny_path) == before
    finally:
        release.set()
        thread.join()
    write_roster(tiny_roster(), tiny_path, lock_timeout=0.3)  # free again
    assert not (tiny_path.parent / "tiny.gpkg.lock").exists()


def test_stale_temporaries_of_dead_writers_are_removed(tiny_path: Path) -> None:
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(dead.stdout)
    stale = tiny_path.parent / f".tiny-{pid}-0123abcd.gpkg"
    journal = tiny_path.parent / f".tiny-{pid}-0123abcd.gpkg-journal"
    alive = tiny_path.parent / ".tiny-1-89abcdef.gpkg"  # pid 1 is alive: not touched
    other = tiny_path.parent / f".other-{pid}-0123abcd.gpkg"
    for path in (stale, journal, alive, other):
        path.write_bytes(b"x")
    write_roster(tiny_roster(), tiny_path)
    left = sorted(p.name for p in tiny_path.parent.iterdir())
    assert left == sorted([tiny_path.name, alive.name, other.name])
