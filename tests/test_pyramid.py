"""Tile pyramids: bounded tiles at every zoom, the same features as whole-layer tiles at z14,
and the prepared sidecar that holds them on disk.

A synthetic network of 100,000 reaches over China (the generator of ``python -m bench``) is
tiled at every zoom 0-14 where it is densest; the real Taihu sample checks that high-zoom tiles
hold exactly the features :class:`~rivernet.layers.mvt.TileLayer` puts in them.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from bench.synthetic import synthetic_network
from rivernet.layers.mvt import TileLayer
from rivernet.layers.pyramid import (
    DENSITY_CAP,
    FULL_ZOOM,
    LayerPyramid,
    build_pyramid,
    layer_pyramid,
    tile_bounds,
)
from rivernet.layers.sources import layer_frame
from rivernet.network import RiverNetwork
from rivernet.prepare import is_fresh, open_prepared, prepare, sidecar_path
from rivernet.project import Project, open_project
from rivernet.server.app import create_app
from rivernet.server.settings import Settings
from tests.conftest import SAMPLE

CHINA = (73.5, 18.0, 134.8, 53.5)
MAX_TILE_BYTES = 500_000
_HALF = 20037508.342789244
AS_OF = "2025-06-30"


@pytest.fixture(scope="module")
def national() -> tuple[LayerPyramid, gpd.GeoDataFrame]:
    """A 100k-reach synthetic network over China (in Web Mercator, with its upstream length)
    and its reach pyramid."""
    frame = gpd.GeoDataFrame(synthetic_network(100_000, seed=3, with_geometry=True, bbox=CHINA))
    network = RiverNetwork.from_downstream_ids(frame, id_column="reach_id",
                                               downstream_column="downstream_id")  # fmt: skip
    upstream = network.upstream_length_km()
    weight = frame["reach_id"].map(upstream).to_numpy(dtype=float)
    pyramid = LayerPyramid.from_frame("reaches", frame[["reach_id", "length_km", "geometry"]],
                                      geometry_type="line", importance=weight)  # fmt: skip
    mercator = frame.to_crs(3857)
    mercator["upstream_km"] = weight
    return pyramid, mercator


def _densest_tiles(frame: gpd.GeoDataFrame, z: int, count: int = 3) -> list[tuple[int, int]]:
    """The tiles of zoom ``z`` holding the most reach midpoints."""
    points = shapely.line_interpolate_point(np.asarray(frame.geometry.values), 0.5,
                                            normalized=True)  # fmt: skip
    xy = shapely.get_coordinates(points)
    size = 2 * _HALF / (1 << z)
    x = np.floor((xy[:, 0] + _HALF) / size).astype(np.int64)
    y = np.floor((_HALF - xy[:, 1]) / size).astype(np.int64)
    keys, counts = np.unique((x << 32) | y, return_counts=True)
    best = keys[np.argsort(-counts)[:count]]
    return [(int(k >> 32), int(k & 0xFFFFFFFF)) for k in best]


def _reach_ids(tile: bytes, layer: str = "reaches") -> list[int]:
    if not tile:
        return []
    decoded = mapbox_vector_tile.decode(tile)
    return sorted(int(f["properties"]["reach_id"]) for f in decoded[layer]["features"])


def _features(tile: bytes, layer: str = "coverage") -> list[dict[str, Any]]:
    features: list[dict[str, Any]] = mapbox_vector_tile.decode(tile)[layer]["features"]
    return features


@pytest.mark.parametrize("z", range(15))
def test_every_zoom_has_bounded_tiles_that_decode(
    national: tuple[LayerPyramid, gpd.GeoDataFrame], z: int
) -> None:
    pyramid, frame = national
    for x, y in _densest_tiles(frame, z):
        tile = pyramid.encode(z, x, y)
        assert 0 < len(tile) <= MAX_TILE_BYTES, (z, x, y, len(tile))
        decoded = mapbox_vector_tile.decode(tile)
        features = decoded["reaches"]["features"]
        assert features and all(f["geometry"]["type"] in ("LineString", "MultiLineString")
                                for f in features)  # fmt: skip
        # a tile holds its own kept features and those of its neighbours reaching into it
        assert len(features) <= 3 * DENSITY_CAP["line"]


def test_low_zooms_keep_the_big_rivers(national: tuple[LayerPyramid, gpd.GeoDataFrame]) -> None:
    pyramid, frame = national
    level = pyramid.level(0)
    assert len(level) == DENSITY_CAP["line"] < len(frame)
    kept = set(frame["reach_id"].to_numpy()[level.rows])
    upstream = frame.set_index("reach_id")["upstream_km"]
    threshold = upstream.sort_values(ascending=False).iloc[DENSITY_CAP["line"] - 1]
    assert all(upstream[r] >= threshold for r in kept)  # the longest rivers upstream
    # the downstream reach of every kept reach is kept too (main stems stay connected)
    downstream = frame.set_index("reach_id")["downstream_id"]
    linked = [downstream[r] for r in kept if downstream[r] in upstream.index]
    assert sum(d in kept for d in linked) >= 0.99 * len(linked)
    # and the levels grow with the zoom until every reach is drawn
    sizes = [len(level) for level in pyramid.levels]
    assert sizes == sorted(sizes) and sizes[-1] == len(frame)


def test_high_zoom_tiles_hold_the_same_features_as_whole_layer_tiles() -> None:
    project = open_project(SAMPLE)
    pyramid = build_pyramid(project, "reaches")
    whole = TileLayer.from_frame("reaches", layer_frame(project, "reaches"))
    frame = project.network.reaches.to_crs(3857)
    for z in (FULL_ZOOM, 12, 14):
        for x, y in _densest_tiles(frame, z, count=4):
            ours = pyramid.encode(z, x, y)
            theirs = whole.encode(tile_bounds(z, x, y))
            assert _reach_ids(ours) == _reach_ids(theirs) != []
            if z == 14:
                assert ours == theirs


def test_a_project_keeps_its_pyramid_until_the_network_is_replaced() -> None:
    project = open_project(SAMPLE)
    first = layer_pyramid(project, "reaches")
    assert layer_pyramid(project, "reaches") is first
    project.roster = None  # another input: the reach pyramid stays
    assert layer_pyramid(project, "reaches") is first
    project.network = project.network
    assert layer_pyramid(project, "reaches") is not first


def test_a_new_roster_reuses_the_coverage_features_and_gives_the_tiles_of_a_fresh_build() -> None:
    project = open_project(SAMPLE)
    before = layer_pyramid(project, "coverage", as_of=AS_OF, level="county")
    tile = (12, 3426, 1672)  # over reach 40636257 in 嘉定区
    assert before.encode(*tile)
    roster = project.require_roster()
    on_reach = roster.assignments["reach_id"] == 40636257
    project.roster = dataclasses.replace(roster, assignments=roster.assignments[~on_reach])
    after = layer_pyramid(project, "coverage", as_of=AS_OF, level="county")
    assert after.built is before.built  # the features (generalised levels) are shared
    fresh = build_pyramid(project, "coverage", as_of=AS_OF, level="county")
    assert after.encode(*tile) == fresh.encode(*tile) != before.encode(*tile)
    frame = layer_frame(project, "coverage", as_of=AS_OF, level="county").to_crs(3857)
    for z in (6, 9, 12, 15):
        for x, y in _densest_tiles(frame, z, count=3):
            assert after.encode(z, x, y) == fresh.encode(z, x, y)
    statuses = {f["properties"]["status"] for f in _features(after.encode(*tile))}
    assert "gap" in statuses


def test_with_properties_needs_one_row_per_feature() -> None:
    project = open_project(SAMPLE)
    pyramid = layer_pyramid(project, "coverage", as_of=AS_OF, level="county")
    frame = layer_frame(project, "coverage", as_of=AS_OF, level="county")
    with pytest.raises(ValueError, match="rows for a pyramid of"):
        pyramid.with_properties(frame.iloc[:-1])


# --- the prepared sidecar ----------------------------------------------------------------------


@pytest.fixture
def prepared_copy(tmp_path: Path) -> Path:
    path = tmp_path / "taihu.gpkg"
    shutil.copyfile(SAMPLE, path)
    summary = prepare(path)
    assert summary.written and summary.path == sidecar_path(path) and summary.bytes > 0
    assert set(summary.layers) >= {"reaches", "admin_units"}
    return path


def test_the_sidecar_gives_the_same_tiles_from_memory_maps(prepared_copy: Path) -> None:
    project = open_project(prepared_copy)
    prepared = open_prepared(prepared_copy)
    assert prepared is not None and prepared.file_version == project.file_version
    for layer_id in ("reaches", "admin_units"):
        assert prepared.serves(project, layer_id)
        mapped = layer_pyramid(project, layer_id, prepared=prepared)
        assert isinstance(mapped.levels[-1].wkb, np.memmap)
        built = build_pyramid(project, layer_id)
        for z, x, y in ((0, 0, 0), (6, 53, 26), (9, 426, 210), (12, 3414, 1681), (14, 13658, 6726)):
            assert mapped.encode(z, x, y) == built.encode(z, x, y)


def test_a_sidecar_is_used_only_for_its_own_file(prepared_copy: Path) -> None:
    assert is_fresh(prepared_copy)
    assert prepare(prepared_copy).written is False  # up to date: kept
    project = open_project(prepared_copy)
    prepared = open_prepared(prepared_copy)
    assert prepared is not None and prepared.serves(project, "reaches")
    project.network = project.network  # a replaced network is not the file's any more
    assert not prepared.serves(project, "reaches") and prepared.serves(project, "admin_units")
    # a copy of the same bytes (new mtime) is recognised by its digest
    copy = prepared_copy.with_name("copy.gpkg")
    shutil.copyfile(prepared_copy, copy)
    shutil.copytree(sidecar_path(prepared_copy), sidecar_path(copy))
    assert open_prepared(copy) is not None
    # other bytes: the sidecar is ignored
    with copy.open("ab") as handle:
        handle.write(b"\0" * 16)
    assert open_prepared(copy) is None


def test_a_lazy_server_answers_prepared_tiles_before_the_project_has_loaded(
    prepared_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    import rivernet.server.app

    release = threading.Event()
    real = rivernet.server.app.open_project

    def slow(path: Path, *, policy: Any = None) -> Project:
        assert release.wait(60)
        return real(path, policy=policy)

    monkeypatch.setattr(rivernet.server.app, "open_project", slow)
    expected = build_pyramid(open_project(prepared_copy), "reaches").encode(8, 213, 105)
    app = create_app(Settings(project=prepared_copy, reload_interval=0), lazy=True)
    with TestClient(app) as client:
        state = app.state.rivernet
        answer = client.get("/tiles/reaches/8/213/105.mvt")
        assert answer.status_code == 200 and answer.content == expected
        assert not state.ready  # answered from the sidecar alone
        release.set()
        items = client.get("/collections/reaches/items?limit=2")  # waits for the project
        assert items.status_code == 200 and state.ready
        assert len(items.json()["features"]) == 2
        assert client.get("/tiles/reaches/8/213/105.mvt").content == expected


def test_a_server_whose_project_does_not_open_answers_503(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gpkg"
    broken.write_bytes(SAMPLE.read_bytes()[:4096])
    app = create_app(Settings(project=broken, reload_interval=0), lazy=True)
    with TestClient(app) as client:
        answer = client.get("/collections")
        assert answer.status_code == 503
        assert "无法打开项目" in answer.json()["detail"]
        english = client.get("/collections", headers={"Accept-Language": "en"}).json()
        assert "could not be opened" in english["detail"]
