"""``rivernet coverage`` and ``rivernet roster import/check/export``."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner

from rivernet import messages
from rivernet.cli import main
from rivernet.roster import Roster, export_roster, write_roster
from tests._coverage_project import tiny_roster, write_tiny_project

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "roster"
POLICY_TOML = """
default_levels = ["county"]
[[rule]]
name = "order 2"
levels = ["city"]
min_strahler = 2
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = write_tiny_project(tmp_path / "tiny.gpkg")
    write_roster(tiny_roster(), path)
    (tmp_path / "policy.toml").write_text(POLICY_TOML, encoding="utf-8")
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_coverage_prints_the_summary_and_writes_layers(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "coverage.gpkg"
    out.parent.mkdir()  # no command creates folders
    result = CliRunner().invoke(
        main, ["-q", "coverage", str(project), "--as-of", "2025-06-30", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    columns = ["unit_code", "unit_name", "level", "required_km", "covered_km", "coverage_pct",
               "gaps", "overlaps", "expired"]  # fmt: skip
    headings = [messages.column(c) for c in columns]  # Chinese by default
    assert [lines[0].index(h) for h in headings] == sorted(lines[0].index(h) for h in headings)
    assert lines[1].split() == ["320500", "苏州市", "市", "2.0", "1.0", "50.0", "1", "0", "0"]
    assert lines[3].split() == ["320506", "东县", "县", "4.0", "3.0", "75.0", "1", "1", "1"]
    layers = {str(name) for name, _ in pyogrio.list_layers(out)}
    assert layers == {"coverage_gaps", "coverage_problems", "coverage_summary"}
    gaps = pyogrio.read_dataframe(out, layer="coverage_gaps")
    assert sorted(gaps["reach_id"].tolist()) == [4, 5, 9]
    problems = pyogrio.read_dataframe(out, layer="coverage_problems")
    assert set(problems["kind"]) == {"overlap", "expired", "broken_chain", "orphan",
                                     "stale_board"}  # fmt: skip


def test_coverage_filters_by_unit_and_level(project: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["coverage", str(project), "--as-of", "2025-06-30", "--unit", "320505", "--level",
         "county"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()[1:]
    assert [row.split()[0] for row in rows] == ["320505"]


def test_coverage_explains_a_bad_policy(project: Path) -> None:
    (project.parent / "policy.toml").write_text("default_levelz = []\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["coverage", str(project)])
    assert result.exit_code != 0
    assert "unknown key 'default_levelz'" in result.output


def test_roster_import_replaces_the_roster(project: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "roster",
            "import",
            "--lang",
            "en",
            str(project),
            str(FIXTURES / "roster_gbk.csv"),
            "--replace",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "changes: 3 added, 0 ended, 15 removed, 0 kept" in result.output
    assert "imported 3 assignments of 2 people" in result.output
    table = pyogrio.read_dataframe(project, layer="roster_assignments", read_geometry=False)
    assert table["reach_id"].tolist() == [7, 1, 2]


def test_roster_import_of_a_bad_file_changes_nothing(project: Path) -> None:
    before = _digest(project)
    result = CliRunner().invoke(
        main,
        ["roster", "import", "--lang", "en", str(project), str(FIXTURES / "roster_project.csv")],
    )
    assert result.exit_code != 0
    assert "line 2: reach 99 is not in the project's network" in result.output
    assert "nothing was imported" in result.output
    assert _digest(project) == before
    assert sorted(p.name for p in project.parent.iterdir()) == ["policy.toml", "tiny.gpkg"]


def test_roster_check(project: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(
        main, ["roster", "check", "--lang", "en", str(FIXTURES / "roster_merged.xlsx")]
    )
    assert good.exit_code == 0
    assert "ok, 3 assignments of 3 people" in good.output
    bad = runner.invoke(main, ["roster", "check", "--lang", "en", str(FIXTURES / "roster_bad.csv")])
    assert bad.exit_code == 1
    assert "line 9: from_m 800 is not below to_m 200" in bad.output
    checked = runner.invoke(
        main,
        [
            "roster",
            "check",
            "--lang",
            "en",
            str(FIXTURES / "roster_project.csv"),
            "--project",
            str(project),
        ],
    )
    assert checked.exit_code == 1
    assert "line 4: unit 320506 (county) does not contain reach 7" in checked.output


def test_roster_export_keeps_contacts_private(project: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    plain = tmp_path / "roster.csv"
    result = runner.invoke(main, ["roster", "export", str(project), "-o", str(plain)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(plain, encoding="utf-8-sig")
    assert "contact" not in frame.columns
    assert len(frame) == len(tiny_roster().assignments)
    private = tmp_path / "private.csv"
    runner.invoke(main, ["roster", "export", str(project), "-o", str(private), "--include-contact"])
    assert "contact" in pd.read_csv(private, encoding="utf-8-sig").columns


def test_coverage_without_a_roster(tmp_path: Path) -> None:
    path = write_tiny_project(tmp_path / "bare.gpkg")
    shutil.copyfile(path, tmp_path / "copy.gpkg")
    result = CliRunner().invoke(main, ["coverage", str(path)])
    assert result.exit_code != 0
    assert "没有河长名录" in result.output


def test_sample_roster_round_trips_through_a_spreadsheet(tmp_path: Path) -> None:
    """Export the sample roster, check it against the sample: only its planted orphans fail.

    Blank reach/river/lake cells must read as blank (not NaN ids), whatever else the column holds.
    """
    sample = Path(__file__).resolve().parents[1] / "data" / "sample" / "taihu.gpkg"
    sheet = tmp_path / "roster.xlsx"
    runner = CliRunner()
    exported = runner.invoke(main, ["--quiet", "roster", "export", str(sample), "-o", str(sheet)])
    assert exported.exit_code == 0, exported.output
    checked = runner.invoke(
        main, ["--quiet", "roster", "check", str(sheet), "--project", str(sample)]
    )
    assert checked.exit_code == 1
    problems = [line for line in checked.output.splitlines() if line.startswith("- 第")]
    defects = pyogrio.read_dataframe(sample, layer="roster_defects", read_geometry=False)
    orphans = defects[defects["kind"] == "orphan"]
    assert len(problems) == len(orphans) == 2
    assert all("不在项目的河网中" in line for line in problems)
    assert "nan" not in checked.output


# --- issue 10: imports that would lose data are refused or must be asked for ------------------


INVALID = ("X99", "E9old")  # rows of the tiny roster that an import refuses


def _valid_roster(*, drop: tuple[str, ...] = ()) -> Roster:
    roster = tiny_roster()
    keep = ~roster.assignments["assignment_id"].isin(INVALID + drop)
    roster.assignments = roster.assignments[keep]
    return roster


@pytest.fixture
def valid(project: Path) -> Path:
    """The tiny project holding the 13 valid assignments of the tiny roster and 2 boards."""
    write_roster(_valid_roster(), project)
    return project


def _exported(tmp_path: Path, *, drop: tuple[str, ...] = ()) -> Path:
    """The valid roster exported to CSV (main file only), minus some assignments."""
    path = export_roster(_valid_roster(drop=drop), tmp_path / "export" / "roster.csv")
    for sidecar in path.parent.glob("roster.*.csv"):
        sidecar.unlink()
    return path


def _roster_counts(project: Path) -> tuple[int, int]:
    frames = [pyogrio.read_dataframe(project, layer=layer, read_geometry=False)
              for layer in ("roster_assignments", "roster_boards")]  # fmt: skip
    return len(frames[0]), len(frames[1])


def test_a_csv_with_an_unterminated_quote_is_refused(valid: Path, tmp_path: Path) -> None:
    project = valid
    path = _exported(tmp_path)
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    lines[3] = lines[3].replace(",", ',"', 1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    runner = CliRunner()
    checked = runner.invoke(
        main, ["roster", "check", "--lang", "en", str(path), "--project", str(project)]
    )
    assert checked.exit_code == 1 and "line 4: a quote" in checked.output
    before = _digest(project)
    result = runner.invoke(
        main, ["roster", "import", "--lang", "en", str(project), str(path), "--replace"]
    )
    assert result.exit_code != 0 and "line 4: a quote" in result.output
    assert _digest(project) == before


def test_a_header_only_csv_is_refused(project: Path, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("姓名,层级,行政区划代码,角色,河段编码,任期开始\n", encoding="utf-8")
    before = _digest(project)
    result = CliRunner().invoke(
        main, ["roster", "import", "--lang", "en", str(project), str(path), "--replace"]
    )
    assert result.exit_code != 0
    assert "line 1: empty.csv has a header but no rows" in result.output
    assert _digest(project) == before


def test_an_import_removing_many_assignments_needs_replace(valid: Path, tmp_path: Path) -> None:
    project = valid
    path = _exported(tmp_path, drop=("W7", "W1", "E2"))
    runner = CliRunner()
    before = _digest(project)
    dry = runner.invoke(
        main, ["roster", "import", "--lang", "en", str(project), str(path), "--dry-run"]
    )
    assert dry.exit_code == 0, dry.output
    assert "changes: 0 added, 0 ended, 3 removed, 10 kept" in dry.output
    assert "dry run (--dry-run)" in dry.output and "would need --replace" in dry.output
    assert _digest(project) == before
    refused = runner.invoke(main, ["roster", "import", "--lang", "en", str(project), str(path)])
    assert refused.exit_code != 0
    assert "would remove 3 of the 13 current assignments (23%)" in refused.output
    assert "--replace" in refused.output and _digest(project) == before
    done = runner.invoke(
        main, ["roster", "import", "--lang", "en", str(project), str(path), "--replace"]
    )
    assert done.exit_code == 0, done.output
    assert _roster_counts(project) == (10, 2)


def test_an_import_keeps_boards_the_file_lacks_and_says_so(valid: Path, tmp_path: Path) -> None:
    project = valid
    path = _exported(tmp_path, drop=("W7",))  # removes 1 of 13: no --replace needed
    result = CliRunner().invoke(main, ["roster", "import", "--lang", "en", str(project), str(path)])
    assert result.exit_code == 0, result.output
    assert "changes: 0 added, 0 ended, 1 removed, 12 kept" in result.output
    assert "kept the project's 2 sign boards (公示牌): the file has no boards" in result.output
    assert "kept the contacts of 6 people" in result.output
    assert _roster_counts(project) == (12, 2)
    people = pyogrio.read_dataframe(project, layer="roster_people", read_geometry=False)
    assert people["contact"].notna().all()


def test_export_writes_every_table_and_import_reads_them_back(valid: Path, tmp_path: Path) -> None:
    project = valid
    sheet = tmp_path / "roster.xlsx"
    runner = CliRunner()
    assert runner.invoke(main, ["roster", "export", str(project), "-o", str(sheet)]).exit_code == 0
    import openpyxl

    assert openpyxl.load_workbook(sheet).sheetnames == ["roster", "people", "boards", "units"]
    result = runner.invoke(main, ["roster", "import", "--lang", "en", str(project), str(sheet)])
    assert result.exit_code == 0, result.output
    assert "changes: 0 added, 0 ended, 0 removed, 13 kept" in result.output
    assert "kept the project's" not in result.output  # boards and units came from the file
    assert "kept the contacts of 7 people: the file has no contact column" in result.output
    assert "13 assignments of 7 people, 2 sign boards and 0 units" in result.output


def test_a_concurrent_import_fails_naming_the_lock(valid: Path, tmp_path: Path) -> None:
    import threading

    from rivernet._files import project_lock

    project = valid
    path = _exported(tmp_path)
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with project_lock(project):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        held.wait(5)
        result = CliRunner().invoke(
            main,
            ["roster", "import", "--lang", "en", str(project), str(path), "--lock-timeout", "0.2"],
        )
    finally:
        release.set()
        thread.join()
    assert result.exit_code != 0
    assert "tiny.gpkg.lock is held by pid" in result.output
    assert _roster_counts(project) == (13, 2)
