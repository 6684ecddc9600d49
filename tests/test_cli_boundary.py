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
    assert "handover sections (county)" in text and "upstream" in text
    table = pd.read_csv(out, encoding="utf-8-sig", dtype={"upstream_code": str})
    assert not table["in_lake"].any()


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
    assert "下游需通知的单位" in text and "江苏省" in text and "到达(小时)" in text
    code, text = _run("incident", str(SAMPLE), "--lon", "125", "--lat", "20")
    assert code != 0
    assert "--max-snap-m" in text and "max_snap_m" not in text and "Traceback" not in text
