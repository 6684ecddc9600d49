"""Tests of the cross-boundary commands: crossings, boundary-rivers, partners, incident."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
from click.testing import CliRunner

from rivernet.cli import main
from tests.conftest import SAMPLE


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--quiet", *args])
    return result.exit_code, result.output


def test_crossings_writes_geojson_and_prints_pairs(tmp_path: Path) -> None:
    out = tmp_path / "crossings.geojson"
    code, text = _run("crossings", str(SAMPLE), "--level", "province", "-o", str(out))
    assert code == 0, text
    assert "浙江省 → 江苏省" in text and "交接断面" in text
    written = gpd.read_file(out)
    assert {"upstream_code", "downstream_code", "reach_id"} <= set(written.columns)
    assert len(written) > 0


def test_crossings_in_english_to_csv(tmp_path: Path) -> None:
    out = tmp_path / "crossings.csv"
    code, text = _run(
        "crossings", str(SAMPLE), "--level", "county", "--no-lakes", "--lang", "en", "-o", str(out)
    )
    assert code == 0, text
    assert "handover sections (county)" in text and "Upstream unit" in text
    table = pd.read_csv(out, encoding="utf-8-sig", dtype={"upstream_code": str})
    assert not table["in_lake"].any()


def test_crossings_merge_within_m(tmp_path: Path) -> None:
    from rivernet.boundary import crossings
    from rivernet.project import open_project

    every, merged = tmp_path / "every.csv", tmp_path / "merged.csv"
    code, text = _run("crossings", str(SAMPLE), "--merge-within-m", "0", "-o", str(every))
    assert code == 0, text
    code, text = _run("crossings", str(SAMPLE), "--merge-within-m", "1000", "--json",
                      "-o", str(merged))  # fmt: skip
    assert code == 0, text
    read = {"dtype": {"upstream_code": str, "downstream_code": str}, "encoding": "utf-8-sig"}
    every_rows, merged_rows = pd.read_csv(every, **read), pd.read_csv(merged, **read)
    expected = crossings(open_project(SAMPLE), level="province", merge_within_m=1000)
    assert merged_rows["crossing_id"].tolist() == expected["crossing_id"].tolist()
    assert len(merged_rows) < len(every_rows) == merged_rows["passes"].sum()
    assert (every_rows["passes"] == 1).all()
    code, text = _run("crossings", str(SAMPLE), "--lang", "en")
    assert f"{len(merged_rows)} handover sections (province), {len(every_rows)} passes" in text
    code, text = _run("crossings", str(SAMPLE), "--merge-within-m", "-5")
    assert code == 2 and "--merge-within-m" in text


def test_boundary_rivers_to_geopackage(tmp_path: Path) -> None:
    out = tmp_path / "rivers.gpkg"
    code, text = _run(
        "boundary-rivers", str(SAMPLE), "--level", "province", "--rule", "escalate", "-o", str(out)
    )
    assert code == 0, text
    assert "段界河" in text
    written = gpd.read_file(out)
    assert (written["rule"] == "escalate").all() and written["ambiguous"].all()


def test_partners_summary_and_unit() -> None:
    code, text = _run("partners", str(SAMPLE))
    assert code == 0, text
    assert "浙江省 → 江苏省" in text
    code, text = _run(
        "partners", str(SAMPLE), "--unit", "330500", "--distance-km", "20", "--lang", "en"
    )
    assert code == 0, text
    assert "downstream" in text and "Suzhou" not in text
    code, text = _run("partners", str(SAMPLE), "--unit", "999999")
    assert code != 0 and "999999" in text


def test_incident_routes_and_reports_far_points() -> None:
    code, text = _run(
        "incident", str(SAMPLE), "--lon", "120.2", "--lat", "30.9", "--max-snap-m", "3000",
        "--velocity", "0.5", "--distance-km", "30",
    )  # fmt: skip
    assert code == 0, text
    assert "下游需通知的单位" in text and "江苏省" in text and "到达 (小时)" in text
    code, text = _run("incident", str(SAMPLE), "--lon", "125", "--lat", "20")
    assert code != 0
    assert "--max-snap-m" in text and "max_snap_m" not in text and "Traceback" not in text


def test_incident_by_reach_writes_the_call_list(tmp_path: Path) -> None:
    from rivernet import chiefs_at, open_project

    out = tmp_path / "calls.xlsx"
    code, text = _run(
        "incident", str(SAMPLE), "--reach", "40652917", "--velocity", "0.5", "--as-of",
        "2025-06-30", "-o", str(out),
    )  # fmt: skip
    assert code == 0, text
    assert "按顺序联系的河长" in text and "程雨静" in text and "到达 (小时)" in text
    calls = pd.read_excel(out, dtype={"unit_code": str})
    here = chiefs_at(open_project(SAMPLE), 40652917, as_of="2025-06-30")
    assert calls["name"].head(len(here)).tolist() == here["name"].tolist()
    assert "contact" not in calls and "江苏省" in set(calls["unit_name"])
    assert calls["order"].tolist() == list(range(1, len(calls) + 1))


def test_incident_contact_and_measure(tmp_path: Path) -> None:
    out = tmp_path / "calls.csv"
    code, text = _run(
        "incident", str(SAMPLE), "--reach", "40652917", "--measure-m", "100", "--as-of",
        "2025-06-30", "--include-contact", "--lang", "en", "-o", str(out),
    )  # fmt: skip
    assert code == 0, text
    assert "chiefs to call, in order" in text and "at 100 m" in text
    assert "contact" in pd.read_csv(out, encoding="utf-8-sig").columns


def test_incident_place_options() -> None:
    code, text = _run("incident", str(SAMPLE))
    assert code != 0 and "--reach" in text
    code, text = _run("incident", str(SAMPLE), "--reach", "40652917", "--lon", "120")
    assert code != 0 and "二者择一" in text
    code, text = _run("incident", str(SAMPLE), "--lon", "120.2", "--lat", "30.9",
                      "--measure-m", "5")  # fmt: skip
    assert code != 0 and "--measure-m 需要同时给出 --reach" in text
    code, text = _run("incident", str(SAMPLE), "--reach", "1")
    assert code != 0 and "河段 1 不在河网中" in text and "Traceback" not in text
    code, text = _run("incident", str(SAMPLE), "--reach", "40652917", "--measure-m", "1e9")
    assert code != 0 and "不在河段 40652917 上" in text


def test_partners_reach_lists_its_own_chiefs() -> None:
    code, text = _run("partners", str(SAMPLE), "--reach", "40652917", "--as-of", "2025-06-30",
                      "--distance-km", "60")  # fmt: skip
    assert code == 0, text
    assert "本河段" in text and "程雨静" in text and "下游" in text
