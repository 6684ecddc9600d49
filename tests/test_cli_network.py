"""The network commands: check, navigate, info; clean errors, exit codes, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pyogrio
from click.testing import CliRunner

from rivernet.cli import main
from tests.conftest import SAMPLE, tiny_frame


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--quiet", *args])
    return result.exit_code, result.output


def test_check_sample_passes_with_warnings() -> None:
    code, out = run("check", str(SAMPLE))
    assert code == 0
    assert "validation OK" in out and "dangling_downstream" in out


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
    assert "not in the network" in out and "Traceback" not in out


def test_info_summarises_the_sample() -> None:
    code, out = run("info", str(SAMPLE))
    assert code == 0
    assert "reaches:   2082" in out and "55 where the data was clipped" in out


def test_lines_without_downstream_ids_use_endpoints(tmp_path: Path) -> None:
    path = tmp_path / "bare.gpkg"
    pyogrio.write_dataframe(tiny_frame().drop(columns=["down"]), path)
    code, out = run("info", str(path), "--id-column", "rid")
    assert code == 0, out
    assert "outlets:   3" in out
