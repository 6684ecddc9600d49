"""The network commands: check, navigate, info; clean errors, exit codes, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely
from click.testing import CliRunner

from rivernet.cli import main
from tests.conftest import SAMPLE, tiny_frame


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--quiet", *args])
    return result.exit_code, result.output


def test_check_sample_passes_with_warnings() -> None:
    code, out = run("check", str(SAMPLE))
    assert code == 0
    assert "校验通过" in out and "表中不存在的下游编码" in out


def test_check_json_and_cycle_exit_status(tmp_path: Path) -> None:
    frame = tiny_frame()
    frame.loc[frame.rid == 5, "down"] = 7
    path = tmp_path / "cycle.geojson"
    pyogrio.write_dataframe(frame, path)
    code, out = run(
        "check", str(path), "--id-column", "rid", "--downstream-column", "down", "--json"
    )
    assert code == 1
    report = json.loads(out)
    assert not report["ok"]
    assert {"cycle"} <= {f["code"] for f in report["findings"]}


def test_check_shapefile_without_prj_gives_a_clean_message(tmp_path: Path) -> None:
    path = tmp_path / "lines.shp"
    pyogrio.write_dataframe(tiny_frame(), path)
    path.with_suffix(".prj").unlink()
    code, out = run("check", str(path), "--id-column", "rid", "--downstream-column", "down")
    assert code == 1
    assert "Traceback" not in out and ".prj" in out


def test_navigate_writes_geojson(tmp_path: Path) -> None:
    out_path = tmp_path / "up.geojson"
    args = ["navigate", str(SAMPLE), "--reach", "40636807", "--mode", "UT", "--distance-km", "50"]
    code, out = run(*args, "-o", str(out_path))
    assert code == 0, out
    result = gpd.read_file(out_path)
    assert result["distance_km"].max() <= 50
    assert 40636807 in set(result["reach_id"])


def test_navigate_unknown_reach_is_a_clean_error() -> None:
    code, out = run("navigate", str(SAMPLE), "--reach", "1")
    assert code == 1
    assert "不在河网中" in out and "Traceback" not in out


def test_info_summarises_the_sample() -> None:
    code, out = run("info", str(SAMPLE), "--lang", "en")
    assert code == 0
    assert "reaches:   2082" in out and "55 where the data was clipped" in out


def test_lines_without_downstream_ids_use_endpoints(tmp_path: Path) -> None:
    path = tmp_path / "bare.gpkg"
    pyogrio.write_dataframe(tiny_frame().drop(columns=["down"]), path)
    code, out = run("info", str(path), "--id-column", "rid", "--lang", "en")
    assert code == 0, out
    assert "outlets:   3" in out


def project_with_units(tmp_path: Path, change: object) -> Path:
    import shutil

    path = tmp_path / "project.gpkg"
    shutil.copyfile(SAMPLE, path)
    shutil.copyfile(SAMPLE.with_name("policy.toml"), tmp_path / "policy.toml")
    units = gpd.read_file(SAMPLE, layer="admin_units")
    change(units)  # type: ignore[operator]
    pyogrio.write_dataframe(units, path, layer="admin_units", driver="GPKG")
    return path


def test_check_project_covers_admin_units(tmp_path: Path) -> None:
    def bowtie(units: gpd.GeoDataFrame) -> None:
        x, y = 120.3, 31.3
        polygon = shapely.Polygon([(x, y), (x + 0.1, y + 0.1), (x + 0.1, y), (x, y + 0.1)])
        units.loc[units["code"] == "320505", "geometry"] = polygon

    code, out = run("check", str(project_with_units(tmp_path, bowtie)), "--json")
    assert code == 1, out
    report = json.loads(out)
    bad = [f for f in report["findings"] if f["code"] == "invalid_geometry"]
    assert bad and bad[0]["layer"] == "admin_units" and "320505" in bad[0]["message"]


def test_check_project_reports_a_missing_policy_file(tmp_path: Path) -> None:
    import shutil

    import pandas as pd

    path = tmp_path / "project.gpkg"
    shutil.copyfile(SAMPLE, path)
    meta = pd.DataFrame({"key": ["policy_file"], "value": ["gone.toml"]})
    pyogrio.write_dataframe(meta, path, layer="project_meta", driver="GPKG")
    code, out = run("check", str(path))
    assert code == 1 and "校验未通过" in out and "gone.toml" in out


def test_check_damaged_project_fails(tmp_path: Path) -> None:
    path = tmp_path / "damaged.gpkg"
    data = bytearray(SAMPLE.read_bytes())
    start = len(data) // 5
    data[start : start + 200_000] = b"\xff" * 200_000
    path.write_bytes(bytes(data))
    code, out = run("check", str(path))
    assert code == 1 and "校验通过" not in out and "damaged" in out
