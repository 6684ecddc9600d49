"""Validation finds every defect of a reach table, from real bad files, and names the ids."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from shapely import LineString, Point

from rivernet import CRSError, RiverNetwork, TopologyError
from rivernet.validation import validate_reaches
from tests.conftest import tiny_frame


def write_and_read(frame: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    """Round-trip through a real file, as a user's data would arrive."""
    pyogrio.write_dataframe(frame, path)
    return pyogrio.read_dataframe(path)


def findings(frame: gpd.GeoDataFrame) -> dict[str, tuple]:
    report = validate_reaches(frame, id_column="rid", downstream_column="down")
    return {f.code: f.reach_ids for f in report.findings}


def test_clean_network_has_only_notes(tiny: RiverNetwork) -> None:
    report = tiny.validate()
    assert report.ok
    assert [f.code for f in report.errors] == []
    assert {f.code for f in report.warnings} == {"dangling_downstream"}
    assert "99" in report.warnings[0].message and "outlets" in report.warnings[0].message


def test_duplicate_ids_from_geojson(tmp_path: Path) -> None:
    frame = tiny_frame()
    frame.loc[frame.rid == 8, "rid"] = 4
    read = write_and_read(frame, tmp_path / "dupes.geojson")
    found = findings(read)
    assert found["duplicate_id"] == (4,)
    net = RiverNetwork.from_downstream_ids(read, id_column="rid", downstream_column="down")
    assert not net.validate().ok
    with pytest.raises(TopologyError, match="more than once: 4"):
        net.upstream(5)


def test_cycle_names_its_reaches(tmp_path: Path) -> None:
    frame = tiny_frame()
    frame.loc[frame.rid == 5, "down"] = 7  # 7 -> 1 -> 3 -> 5 -> 7
    found = findings(write_and_read(frame, tmp_path / "cycle.gpkg"))
    assert set(found["cycle"]) == {7, 1, 3, 5}


def test_self_loop_and_dangling(tmp_path: Path) -> None:
    frame = tiny_frame()
    frame.loc[frame.rid == 8, "down"] = 8
    found = findings(write_and_read(frame, tmp_path / "loop.gpkg"))
    assert found["self_loop"] == (8,)
    assert found["dangling_downstream"] == (9,)


def test_geometry_defects(tmp_path: Path) -> None:
    frame = tiny_frame()
    geoms = list(frame.geometry)
    geoms[0] = Point(0, 4000)  # reach 7
    geoms[7] = LineString([(5000, 2000), (5000, 2000)])  # reach 9: one distinct vertex
    frame = frame.set_geometry(geoms, crs=frame.crs)
    frame.loc[frame.rid == 8, "geometry"] = None
    found = findings(frame)
    assert found["non_line_geometry"] == (7,)
    assert found["invalid_geometry"] == (9,)
    assert found["empty_geometry"] == (8,)


def test_reach_not_touching_and_reversed(tmp_path: Path) -> None:
    frame = tiny_frame()
    geoms = list(frame.geometry)
    geoms[2] = LineString([(1000, 2500), (500, 2500)])  # reach 2 ends 500 m from reach 3
    geoms[4] = LineString([(0, 1000), (2000, 1000)])  # reach 4 drawn against the flow
    frame = frame.set_geometry(geoms, crs=frame.crs)
    found = findings(write_and_read(frame, tmp_path / "drawn.gpkg"))
    assert found["not_touching_downstream"] == (2,)
    assert found["reversed_digitising"] == (4,)


def test_missing_crs_is_an_error(tmp_path: Path) -> None:
    frame = tiny_frame().set_crs(None, allow_override=True)
    assert "missing_crs" in findings(frame)
    with pytest.raises(CRSError, match="EPSG:4326"):
        RiverNetwork.from_downstream_ids(frame, id_column="rid", downstream_column="down")


def test_projected_label_on_degrees_is_flagged() -> None:
    frame = tiny_frame()
    frame = frame.set_geometry(frame.geometry.scale(1e-4, 1e-4, origin=(0, 0)))
    found = findings(frame.set_crs("EPSG:32651", allow_override=True))
    assert "crs_mismatch" in found
    frame = tiny_frame().set_crs("EPSG:4326", allow_override=True)
    report = validate_reaches(frame, id_column="rid", downstream_column="down")
    assert not report.ok and report.errors[0].code == "crs_mismatch"


def test_report_json_and_text(tiny: RiverNetwork) -> None:
    report = tiny.validate()
    assert '"ok": true' in report.to_json()
    assert str(report).startswith("validation OK")
    report.raise_for_errors()  # no error, no exception


def test_secondary_links_to_nowhere_are_errors_in_both_checks() -> None:
    frame = tiny_frame()
    frame["down2"] = [0, 0, 0, 0, 777, 0, 0, 0]  # reach 4 diverts into a reach that is absent
    report = validate_reaches(
        frame, id_column="rid", downstream_column="down", secondary_column="down2"
    )
    assert [f.reach_ids for f in report.errors if f.code == "dangling_secondary"] == [(4,)]
    net = RiverNetwork.from_downstream_ids(
        frame, id_column="rid", downstream_column="down", secondary_downstream_column="down2"
    )
    assert [f.code for f in net.validate().errors] == ["dangling_secondary"]
    with pytest.raises(TopologyError, match="777"):
        net.upstream(5)


def test_empty_table_is_an_error_not_a_traceback() -> None:
    report = validate_reaches(tiny_frame().iloc[:0], id_column="rid", downstream_column="down")
    assert not report.ok
    assert [f.code for f in report.errors] == ["empty_layer"]


def test_non_finite_vertices_are_reported_in_geographic_data() -> None:
    frame = tiny_frame().to_crs(4326)
    coords = [(120.0, 31.0), (float("nan"), 31.01), (120.0, 31.02)]
    with pytest.warns(RuntimeWarning):  # shapely's own, when it builds the line
        line = LineString(coords)
    frame.loc[frame["rid"] == 1, "geometry"] = line
    report = validate_reaches(frame, id_column="rid", downstream_column="down")
    bad = next(f for f in report.errors if f.code == "invalid_geometry")
    assert 1 in bad.reach_ids and "NaN" in bad.message
    assert report.to_json()  # the JSON of every finding says its layer
    assert all(f.to_dict()["layer"] == "reaches" for f in report.findings)
