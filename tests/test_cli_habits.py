"""Habits every command shares (issue 11, item 5).

``-o FILE`` with the format from the suffix and ``--json`` for standard output; a missing or
unwritable folder is a one-line error and is never created; ``--as-of`` reads the roster's date
forms; an unknown ``--unit`` is an error; errors name the command's flags; success says what
was written; chiefs are listed from province to village.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner, Result

from rivernet.admin import LEVELS
from rivernet.cli import main
from rivernet.project import Project, open_project
from rivernet.roster import write_roster
from tests._coverage_project import tiny_roster, write_tiny_project
from tests.conftest import SAMPLE, tiny_frame

POLICY_TOML = """
default_levels = ["county"]
[[rule]]
name = "order 2"
levels = ["city"]
min_strahler = 2
"""
START = "40636807"  # a reach of the sample with 50 km of river upstream
FULL_CHAIN = "40630386"  # a reach of the sample with chiefs at all five levels


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["--quiet", *args])


@pytest.fixture(scope="module")
def sample() -> Project:
    return open_project(SAMPLE)


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = write_tiny_project(tmp_path / "tiny.gpkg")
    write_roster(tiny_roster(), path)
    (tmp_path / "policy.toml").write_text(POLICY_TOML, encoding="utf-8")
    return path


def read_back(path: Path, *, layer: str | None = None) -> pd.DataFrame:
    """A written file as a table, whatever its format."""
    suffix = path.suffix
    if suffix == ".csv":
        return pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    if suffix == ".xlsx":
        return pd.read_excel(path, sheet_name=layer or 0, dtype=str, keep_default_na=False)
    return pyogrio.read_dataframe(path, layer=layer)


def ids(frame: pd.DataFrame, column: str) -> list[str]:
    return [str(v) for v in frame[column]]


# --- -o FILE: the format comes from the suffix --------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".geojson", ".gpkg"])
def test_navigate_writes_every_format(tmp_path: Path, sample: Project, suffix: str) -> None:
    out = tmp_path / f"up{suffix}"
    result = run("navigate", str(SAMPLE), "--reach", START, "--distance-km", "20", "-o", str(out))
    assert result.exit_code == 0, result.output
    expected = sample.network.upstream(int(START), mode="UT", distance_km=20)
    written = read_back(out)
    assert ids(written, "reach_id") == ids(expected, "reach_id")
    assert f"已写入 {len(expected)} 条河段：{out}" in result.output
    if suffix in (".csv", ".xlsx"):
        assert written["geometry"].str.startswith("LINESTRING").all()


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".geojson", ".gpkg"])
def test_crossings_write_every_format(tmp_path: Path, sample: Project, suffix: str) -> None:
    from rivernet.boundary import crossings

    out = tmp_path / f"crossings{suffix}"
    result = run("crossings", str(SAMPLE), "--lang", "en", "-o", str(out))
    assert result.exit_code == 0, result.output
    expected = crossings(sample, level="province")
    written = read_back(out)
    assert ids(written, "crossing_id") == ids(expected, "crossing_id")
    assert ids(written, "upstream_code") == ids(expected, "upstream_code")
    assert f"wrote {len(expected)} handover sections to {out}" in result.output
    assert "handover sections (province)" in result.stdout  # the text table is still printed


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".gpkg"])
def test_partners_table_writes_spreadsheets_and_attribute_tables(
    tmp_path: Path, sample: Project, suffix: str
) -> None:
    from rivernet.joint_control import partners

    out = tmp_path / f"partners{suffix}"
    result = run("partners", str(SAMPLE), "--unit", "330500", "-o", str(out))
    assert result.exit_code == 0, result.output
    expected = partners(sample, unit="330500")
    written = read_back(out)
    assert ids(written, "partner_code") == ids(expected, "partner_code")
    assert ids(written, "relation") == ids(expected, "relation")
    assert f"已写入 {len(expected)} 条联防联控伙伴：{out}" in result.output


def test_a_table_without_geometries_is_not_written_as_geojson(tmp_path: Path) -> None:
    out = tmp_path / "pairs.geojson"
    result = run("partners", str(SAMPLE), "-o", str(out))
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "GeoJSON 只存要素" in result.output
    assert ".csv、.xlsx 或 .gpkg" in result.output and not out.exists()


def test_boundary_rivers_and_incident_write_features(tmp_path: Path, sample: Project) -> None:
    from rivernet.boundary import boundary_rivers

    out = tmp_path / "rivers.xlsx"
    result = run("boundary-rivers", str(SAMPLE), "--lang", "en", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert ids(read_back(out), "stretch_id") == ids(
        boundary_rivers(sample, level="province"), "stretch_id"
    )
    sections = tmp_path / "sections.gpkg"
    result = run("incident", str(SAMPLE), "--lon", "120.2", "--lat", "30.9", "--max-snap-m",
                 "3000", "--distance-km", "30", "-o", str(sections))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(read_back(sections)) > 0 and "crossing_id" in read_back(sections)


@pytest.mark.parametrize("suffix", [".gpkg", ".xlsx", ".csv"])
def test_coverage_writes_three_tables(tmp_path: Path, tiny: Path, suffix: str) -> None:
    from rivernet.coverage import coverage_gaps, coverage_summary

    out = tmp_path / f"coverage{suffix}"
    result = run("coverage", str(tiny), "--as-of", "2025-06-30", "-o", str(out))
    assert result.exit_code == 0, result.output
    project = open_project(tiny)
    summary = coverage_summary(project, as_of="2025-06-30")
    gaps = coverage_gaps(project, as_of="2025-06-30")
    if suffix == ".csv":
        written = read_back(out)
        written_gaps = read_back(tmp_path / "coverage.coverage_gaps.csv")
        assert (tmp_path / "coverage.coverage_problems.csv").exists()
    else:
        written = read_back(out, layer="coverage_summary")
        written_gaps = read_back(out, layer="coverage_gaps")
    assert ids(written, "unit_code") == ids(summary, "unit_code")
    assert ids(written, "level") == ids(summary, "level")
    assert sorted(ids(written_gaps, "reach_id")) == sorted(ids(gaps, "reach_id"))
    assert f"已写入 {len(summary)} 行汇总、{len(gaps)} 段缺失河段" in result.output


def test_coverage_refuses_geojson_before_working(tmp_path: Path, tiny: Path) -> None:
    result = run("coverage", str(tiny), "-o", str(tmp_path / "c.geojson"))
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"错误：--output {tmp_path / 'c.geojson'}：不能写成 .geojson；"
        "请给出 .gpkg、.xlsx 或 .csv 文件"
    )
    english = run("coverage", str(tiny), "-o", str(tmp_path / "c.geojson"), "--lang", "en")
    assert english.output.strip() == (
        f"Error: --output {tmp_path / 'c.geojson'}: cannot write .geojson; name a .gpkg, .xlsx "
        "or .csv file"
    )


def test_roster_export_formats_and_json(tmp_path: Path, tiny: Path) -> None:
    roster = tiny_roster()
    for suffix in (".csv", ".xlsx"):
        out = tmp_path / f"roster{suffix}"
        result = run("roster", "export", str(tiny), "-o", str(out))
        assert result.exit_code == 0, result.output
        assert f"已写入 {len(roster.assignments)} 条任命" in result.output
        assert ids(read_back(out), "assignment_id") == ids(roster.assignments, "assignment_id")
    refused = run("roster", "export", str(tiny), "-o", str(tmp_path / "roster.gpkg"))
    assert refused.exit_code == 1 and ".csv 或 .xlsx" in refused.output
    printed = run("roster", "export", str(tiny), "--json")
    assert printed.exit_code == 0, printed.output
    records = json.loads(printed.stdout)
    assert [r["assignment_id"] for r in records] == list(roster.assignments["assignment_id"])
    assert records[0]["valid_from"] == "2022-01-01" and "contact" not in records[0]
    nothing = run("roster", "export", str(tiny))
    assert nothing.exit_code == 1 and "-o FILE" in nothing.output


def test_check_writes_its_findings(tmp_path: Path) -> None:
    out = tmp_path / "findings.csv"
    result = run("check", str(SAMPLE), "-o", str(out))
    assert result.exit_code == 0, result.output
    findings = read_back(out)
    assert "dangling_downstream" in set(findings["code"])
    assert f"已写入 {len(findings)} 条检查结果：{out}" in result.output


def test_formula_cells_are_neutralised(tmp_path: Path, tiny: Path) -> None:
    from rivernet.cli._output import write_table

    out = tmp_path / "cells.csv"
    write_table(pd.DataFrame({"name": ["=1+1", "ok"]}), out)
    assert read_back(out)["name"].tolist() == ["'=1+1", "ok"]


# --- --json -------------------------------------------------------------------------------------


def test_json_prints_geojson_for_features_and_records_for_tables(
    sample: Project, tiny: Path
) -> None:
    from rivernet.boundary import crossings

    features = run("crossings", str(SAMPLE), "--json")
    assert features.exit_code == 0, features.output
    collection = json.loads(features.stdout)
    assert collection["type"] == "FeatureCollection"
    expected = crossings(sample, level="province")
    assert [f["properties"]["crossing_id"] for f in collection["features"]] == ids(
        expected, "crossing_id"
    )
    lon, lat = collection["features"][0]["geometry"]["coordinates"]
    assert 118 < lon < 123 and 29 < lat < 33  # WGS84
    table = run("partners", str(SAMPLE), "--unit", "330500", "--json")
    assert table.exit_code == 0, table.output
    assert {"partner_code", "relation"} <= set(json.loads(table.stdout)[0])
    summary = run("coverage", str(tiny), "--as-of", "2025-06-30", "--json")
    assert summary.exit_code == 0, summary.output
    assert json.loads(summary.stdout)[0]["unit_code"] == "320500"
    reaches = run("navigate", str(SAMPLE), "--reach", START, "--distance-km", "5", "--json")
    assert json.loads(reaches.stdout)["features"][0]["properties"]["reach_id"] == int(START)


def test_incident_json_holds_every_part() -> None:
    result = run("incident", str(SAMPLE), "--lon", "120.2", "--lat", "30.9", "--max-snap-m",
                 "3000", "--distance-km", "30", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert set(body) == {"snapped", "notify", "sections", "upstream", "call_list"}
    assert body["call_list"]["type"] == "FeatureCollection"
    assert body["sections"]["type"] == "FeatureCollection"
    assert body["notify"][0]["unit_name"] == "浙江省"


# --- paths that cannot be written: one line, exit 1, no folder created -------------------------


def _writers(project: Path) -> list[list[str]]:
    sample = str(SAMPLE)
    return [
        ["check", sample],
        ["navigate", sample, "--reach", START],
        ["crossings", sample],
        ["boundary-rivers", sample],
        ["partners", sample],
        ["incident", sample, "--lon", "120.2", "--lat", "30.9"],
        ["chiefs", sample, "--reach", FULL_CHAIN],
        ["coverage", str(project)],
        ["roster", "export", str(project)],
        ["report", str(project), "--unit", "320505"],
    ]


def test_a_missing_folder_is_a_one_line_error_and_is_not_created(
    tmp_path: Path, tiny: Path
) -> None:
    missing = tmp_path / "missing" / "deeper"
    for args in _writers(tiny):
        suffix = ".html" if args[0] == "report" else ".csv"
        result = run(*args, "-o", str(missing / f"out{suffix}"))
        assert result.exit_code == 1, (args, result.output)
        assert result.output.count("\n") == 1, (args, result.output)
        assert f"文件夹 {missing} 不存在" in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "missing").exists()


def test_a_file_in_place_of_the_folder_is_a_one_line_error(tmp_path: Path, tiny: Path) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder", encoding="utf-8")
    result = run("crossings", str(SAMPLE), "-o", str(blocker / "out.csv"))
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert str(blocker / "out.csv") in result.output


@pytest.mark.skipif(not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() == 0,
                    reason="root may write anywhere")  # fmt: skip
def test_a_read_only_folder_is_a_one_line_error(tmp_path: Path, tiny: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o555)
    result = run("coverage", str(tiny), "-o", str(folder / "c.gpkg"))
    assert result.exit_code == 1 and "没有写入权限" in result.output
    assert result.output.count("\n") == 1


# --- --as-of in the roster's date forms ---------------------------------------------------------


def test_as_of_accepts_the_roster_date_forms(tiny: Path) -> None:
    serial = str((dt.date(2025, 6, 30) - dt.date(1899, 12, 30)).days)
    outputs = {
        form: run("coverage", str(tiny), "--as-of", form).stdout
        for form in ("2025-06-30", "2025年6月30日", "2025/6/30", "2025.6.30", serial)
    }
    assert len(set(outputs.values())) == 1
    assert "320506" in outputs["2025-06-30"]
    later = run("coverage", str(tiny), "--as-of", "2025年10月1日").stdout
    assert later != outputs["2025-06-30"]  # the future city chief has started


def test_as_of_in_chinese_equals_iso_in_the_cross_boundary_commands() -> None:
    for args in (["partners", str(SAMPLE)], ["chiefs", str(SAMPLE), "--reach", FULL_CHAIN]):
        iso = run(*args, "--as-of", "2025-06-30")
        chinese = run(*args, "--as-of", "2025年6月30日")
        assert iso.exit_code == 0, iso.output
        assert chinese.stdout == iso.stdout


def test_a_bad_as_of_is_a_one_line_error_naming_the_flag(tiny: Path) -> None:
    commands = [
        ["coverage", str(tiny)],
        ["crossings", str(SAMPLE)],
        ["partners", str(SAMPLE)],
        ["incident", str(SAMPLE), "--lon", "120.2", "--lat", "30.9"],
        ["chiefs", str(SAMPLE), "--reach", FULL_CHAIN],
        ["report", str(tiny), "--unit", "320505"],
    ]
    for args in commands:
        result = run(*args, "--as-of", "2025年13月1日")
        assert result.exit_code == 1, (args, result.output)
        assert result.output.count("\n") == 1, (args, result.output)
        assert result.output.startswith("错误：--as-of '2025年13月1日' 不是日期")


# --- unknown unit codes -------------------------------------------------------------------------


def test_an_unknown_unit_is_an_error_in_every_command(tmp_path: Path, tiny: Path) -> None:
    commands = [
        ["coverage", str(tiny)],
        ["partners", str(tiny)],
        ["partners", str(SAMPLE)],
        ["report", str(tiny), "-o", str(tmp_path / "r.html")],
    ]
    for args in commands:
        result = run(*args, "--unit", "999999")
        assert result.exit_code == 1, (args, result.output)
        assert result.output.count("\n") == 1, (args, result.output)
        assert "--unit 999999" in result.output and "rivernet info" in result.output
    assert not (tmp_path / "r.html").exists()


def test_info_lists_the_unit_codes(tiny: Path) -> None:
    result = run("info", str(tiny), "--units")
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    assert [row[0] for row in rows] == ["320000", "320500", "320505", "320506"]


# --- errors name flags, not Python arguments ----------------------------------------------------


def test_errors_name_the_command_line_flags(tmp_path: Path) -> None:
    far = run("incident", str(SAMPLE), "--lon", "125", "--lat", "20")
    assert far.exit_code == 1 and "--max-snap-m 1000 米" in far.output
    assert "max_snap_m" not in far.output
    negative = run("chiefs", str(SAMPLE), "--lon", "120.2", "--lat", "30.9", "--max-snap-m", "-1")
    assert negative.exit_code == 1
    assert "`--max-snap-m` 必须是正数" in negative.output
    assert "max_distance_m" not in negative.output
    path = tmp_path / "lines.shp"
    pyogrio.write_dataframe(tiny_frame(), path)
    path.with_suffix(".prj").unlink()
    no_crs = run("info", str(path), "--id-column", "rid", "--downstream-column", "down")
    assert no_crs.exit_code == 1 and "--crs EPSG:4549" in no_crs.output
    assert "crs=" not in no_crs.output and "read_lines" not in no_crs.output
    both = run("partners", str(SAMPLE), "--unit", "330500", "--reach", START)
    assert both.exit_code == 1 and "只接受 --unit、--chief 和 --reach 三者之一" in both.output
    assert "unit=" not in both.output


def test_flag_names_leave_other_words_alone() -> None:
    from rivernet.cli._options import with_flag_names

    assert with_flag_names("raise max_distance_m=500 m") == "raise --max-snap-m 500 m"
    assert with_flag_names("distance_km must be >= 0") == "--distance-km must be >= 0"
    assert with_flag_names("snap_tolerance_m must be >= 0") == "snap_tolerance_m must be >= 0"
    assert with_flag_names("column upstream_distance_km") == "column upstream_distance_km"


# --- chiefs from province to village ------------------------------------------------------------


def test_chiefs_are_listed_from_province_to_village(tmp_path: Path) -> None:
    out = tmp_path / "chiefs.csv"
    result = run("chiefs", str(SAMPLE), "--reach", FULL_CHAIN, "--as-of", "2025-06-30",
                 "-o", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    levels = read_back(out)["level"].tolist()
    assert sorted(set(levels)) == sorted(LEVELS)  # all five levels here
    assert levels == sorted(levels, key=LEVELS.index)
    printed = [line.split()[0] for line in result.stdout.splitlines()[1:]]
    assert printed == sorted(printed, key=["省", "市", "县", "乡", "村"].index)


def test_library_chiefs_at_orders_province_to_village(sample: Project) -> None:
    from rivernet.chiefs import chiefs_at

    levels = chiefs_at(sample, int(FULL_CHAIN), as_of="2025-06-30")["level"].astype(str).tolist()
    assert levels == sorted(levels, key=LEVELS.index)
