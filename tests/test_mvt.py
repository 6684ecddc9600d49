"""The MVT encoder: decoded with mapbox-vector-tile and compared with the source features."""

from __future__ import annotations

import mapbox_vector_tile
import morecantile
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st
from shapely import LineString, MultiLineString, MultiPolygon, Point, Polygon

from rivernet import CRSError, open_project
from rivernet.layers.catalog import CATALOG
from rivernet.layers.mvt import EXTENT, TileLayer, encode_layer, encode_value
from rivernet.layers.sources import layer_frame
from tests.conftest import SAMPLE

BOUNDS = (0.0, 0.0, 4096.0, 4096.0)  # one source unit = one tile unit; y flips
TMS = morecantile.tms.get("WebMercatorQuad")


def decode(tile: bytes) -> dict:
    """Decoded layers, coordinates in tile units with y down."""
    return mapbox_vector_tile.decode(tile, default_options={"y_coord_down": True})


def flip(coords: list[tuple[float, float]]) -> list[list[int]]:
    """Source coordinates (y up, in BOUNDS) as expected tile coordinates."""
    return [[round(x), round(EXTENT - y)] for x, y in coords]


def test_line_vertices_and_properties_round_trip() -> None:
    line = LineString([(10, 10), (100, 200), (300, 250)])
    props = {"name": ["太湖支流"], "order": [3], "delta": [-7], "length_m": [1234.5], "ok": [True]}
    layer = decode(encode_layer("rivers", [line], props, bounds=BOUNDS, tolerance=0))["rivers"]
    (feature,) = layer["features"]
    assert layer["extent"] == EXTENT and layer["version"] == 2
    assert feature["geometry"] == {"type": "LineString", "coordinates": flip(line.coords)}
    assert feature["properties"] == {
        "name": "太湖支流",
        "order": 3,
        "delta": -7,
        "length_m": 1234.5,
        "ok": True,
    }


def test_missing_values_are_left_out_of_tags() -> None:
    lines = [LineString([(0, 0), (50, 50)]), LineString([(60, 60), (90, 90)])]
    props = pd.DataFrame({"name": ["甲", None], "value": [np.nan, 2.0]})
    features = decode(encode_layer("x", lines, props, bounds=BOUNDS))["x"]["features"]
    assert [f["properties"] for f in features] == [{"name": "甲"}, {"value": 2.0}]


def test_polygon_with_hole_is_oriented_for_the_decoder() -> None:
    # exterior counter-clockwise and hole clockwise in y-up coordinates (the opposite of
    # what MVT wants after the y flip): the encoder must reorient both
    outer = [(100, 100), (1000, 100), (1000, 1000), (100, 1000), (100, 100)]
    hole = [(400, 400), (400, 600), (600, 600), (600, 400), (400, 400)]
    for ring, inner in ((outer, hole), (outer[::-1], hole[::-1])):
        tile = encode_layer("lakes", [Polygon(ring, [inner])], bounds=BOUNDS, tolerance=0)
        geometry = decode(tile)["lakes"]["features"][0]["geometry"]
        assert geometry["type"] == "Polygon"
        exterior, interior = (shapely.LinearRing(r) for r in geometry["coordinates"])
        # MVT 2.1: the exterior ring has a positive surveyor's-formula area in tile
        # coordinates (shapely's is_ccw, which assumes y up; on screen, y down, it looks
        # clockwise) and holes a negative one
        assert exterior.is_ccw and not interior.is_ccw
        assert shapely.Polygon(exterior, [interior]).area == pytest.approx(900 * 900 - 200 * 200)


def test_multipolygon_and_multiline_keep_their_parts() -> None:
    squares = MultiPolygon([shapely.box(10, 10, 100, 100), shapely.box(2000, 2000, 2100, 2100)])
    lines = MultiLineString([[(0, 0), (10, 10)], [(500, 500), (600, 500)]])
    features = decode(encode_layer("m", [squares, lines], bounds=BOUNDS, tolerance=0))["m"][
        "features"
    ]
    kinds = sorted(f["geometry"]["type"] for f in features)
    assert kinds == ["MultiLineString", "MultiPolygon"]
    multi = next(f for f in features if f["geometry"]["type"] == "MultiPolygon")
    assert len(multi["geometry"]["coordinates"]) == 2


def test_points_inside_the_buffer_are_kept() -> None:
    points = [Point(30, 40), shapely.MultiPoint([(1, 2), (3, 4)]), Point(-5000, -5000)]
    features = decode(encode_layer("p", points, {"i": [0, 1, 2]}, bounds=BOUNDS))["p"]["features"]
    assert [f["properties"]["i"] for f in features] == [0, 1]
    assert features[0]["geometry"]["coordinates"] == [30, 4056]
    assert features[1]["geometry"]["coordinates"] == [[1, 4094], [3, 4092]]


def test_lines_are_clipped_to_the_buffer() -> None:
    line = LineString([(100, 100), (9000, 100)])
    coords = decode(encode_layer("c", [line], bounds=BOUNDS, buffer=64))["c"]["features"][0][
        "geometry"
    ]["coordinates"]
    assert coords == [[100, 3996], [4160, 3996]]


def test_features_that_collapse_are_dropped() -> None:
    tiny = LineString([(10.1, 10.1), (10.2, 10.3)])  # one tile unit: a single point
    assert encode_layer("t", [tiny], bounds=BOUNDS) == b""
    sliver = Polygon([(10, 10), (10.2, 10), (10.2, 500), (10, 500)])
    assert encode_layer("t", [sliver], bounds=BOUNDS, tolerance=0) == b""
    assert encode_layer("t", [shapely.Point()], bounds=BOUNDS) == b""


def test_generalisation_removes_sub_pixel_detail() -> None:
    x = np.linspace(0, 4000, 2000)
    wiggly = LineString(np.c_[x, 2000 + np.sin(x) * 0.5])
    full = decode(encode_layer("w", [wiggly], bounds=BOUNDS, tolerance=0))["w"]["features"]
    simple = decode(encode_layer("w", [wiggly], bounds=BOUNDS))["w"]["features"]
    assert len(simple[0]["geometry"]["coordinates"]) < 10 < len(full[0]["geometry"]["coordinates"])


def test_encode_value_types() -> None:
    assert encode_value(None) is None and encode_value(float("nan")) is None
    assert encode_value(True) == b"\x38\x01"
    assert encode_value(300) == b"\x28\xac\x02"
    assert encode_value(-1) == b"\x30\x01"
    assert encode_value("河") == b"\x0a\x03" + "河".encode()


def test_agrees_with_mapbox_vector_tile_on_random_lines() -> None:
    rng = np.random.default_rng(5)
    lines = [LineString(rng.uniform(200, 3800, (20, 2))) for _ in range(50)]
    props = pd.DataFrame({"id": np.arange(50), "name": [f"河{i % 7}" for i in range(50)]})
    ours = decode(encode_layer("r", lines, props, bounds=BOUNDS, tolerance=0))["r"]
    features = [
        {"geometry": g, "properties": r}
        for g, r in zip(lines, props.to_dict("records"), strict=True)
    ]
    # BOUNDS are the tile extent, so no quantize_bounds is needed (mapbox-vector-tile's
    # quantisation goes through the deprecated shapely.ops.transform)
    reference = mapbox_vector_tile.encode({"name": "r", "features": features})
    theirs = decode(reference)["r"]
    assert [f["geometry"] for f in ours["features"]] == [f["geometry"] for f in theirs["features"]]
    assert [f["properties"] for f in ours["features"]] == [
        f["properties"] for f in theirs["features"]
    ]


def test_tile_layer_needs_a_crs() -> None:
    import geopandas as gpd

    frame = gpd.GeoDataFrame({"a": [1]}, geometry=[Point(0, 0)])
    with pytest.raises(CRSError, match="no CRS"):
        TileLayer.from_frame("x", frame)


@pytest.fixture(scope="module")
def sample_layers() -> dict[str, tuple[TileLayer, object]]:
    project = open_project(SAMPLE)
    layers = {}
    for entry in CATALOG:
        if entry.id in ("reaches", "admin_units", "lakes"):
            frame = layer_frame(project, entry)
            layers[entry.id] = (TileLayer.from_frame(entry.id, frame), frame)
    return layers


@pytest.mark.parametrize("zoom", [5, 6, 7, 8])
def test_sample_low_zoom_tiles_stay_small(sample_layers: dict, zoom: int) -> None:
    reaches = sample_layers["reaches"][1]
    west, south, east, north = reaches.total_bounds
    largest = 0
    for tile in TMS.tiles(west, south, east, north, [zoom]):
        b = TMS.xy_bounds(tile)
        data = b"".join(
            layer.encode((b.left, b.bottom, b.right, b.top)) for layer, _ in sample_layers.values()
        )
        largest = max(largest, len(data))
        decoded = decode(data)
        assert set(decoded) <= set(sample_layers)
    assert 0 < largest < 500 * 1024


def test_sample_tile_matches_the_source_features(sample_layers: dict) -> None:
    layer, frame = sample_layers["reaches"]
    anchor = frame.geometry.iloc[len(frame) // 2].interpolate(0.5, normalized=True)
    tile = TMS.tile(anchor.x, anchor.y, 11)
    b = TMS.xy_bounds(tile)
    bounds = (b.left, b.bottom, b.right, b.top)
    features = decode(layer.encode(bounds, tolerance=0))["reaches"]["features"]
    assert features
    source = frame.set_index("reach_id")
    mercator = source.to_crs(3857)
    scale = EXTENT / (bounds[2] - bounds[0])
    pad = 64 / scale  # the default buffer
    buffered = shapely.box(bounds[0] - pad, bounds[1] - pad, bounds[2] + pad, bounds[3] + pad)
    inside_length = shapely.length(shapely.clip_by_rect(mercator.geometry.values, *bounds))
    core = set(mercator.index[inside_length * scale >= 2])  # at least two tile units inside
    encoded = {f["properties"]["reach_id"] for f in features}
    assert core <= encoded <= set(mercator.index[mercator.intersects(buffered)])
    for feature in features:
        row = source.loc[feature["properties"]["reach_id"]]
        assert feature["properties"]["ORD_STRA"] == row["ORD_STRA"]
        assert feature["properties"]["length_m"] == pytest.approx(row["length_m"])
        # every decoded vertex lies within half a tile unit of the source line (in the tile)
        line = shapely.clip_by_rect(
            mercator.geometry.loc[feature["properties"]["reach_id"]], *bounds
        )
        coords = np.array(
            shapely.get_coordinates(shapely.from_geojson(_geojson(feature["geometry"])))
        )
        x = bounds[0] + coords[:, 0] / scale
        y = bounds[3] - coords[:, 1] / scale
        inside = (coords[:, 0] >= 0) & (coords[:, 0] <= EXTENT) & (coords[:, 1] >= 0)
        inside &= coords[:, 1] <= EXTENT
        distances = shapely.distance(shapely.points(x[inside], y[inside]), line)
        assert np.all(distances * scale <= 0.75)


def _geojson(geometry: dict) -> str:
    import json

    return json.dumps(geometry)


@given(st.lists(st.integers(min_value=0, max_value=2**63 - 1), max_size=50))
def test_vectorised_varints_match_the_scalar_encoding(values: list[int]) -> None:
    from rivernet.layers.mvt import _varint, _varints

    assert _varints(np.array(values, dtype=np.uint64)) == b"".join(_varint(v) for v in values)


@given(
    st.lists(
        st.tuples(st.floats(0, 4096, allow_nan=False), st.floats(0, 4096, allow_nan=False)),
        min_size=2,
        max_size=30,
    )
)
def test_line_coordinates_are_rounded_and_deduplicated(points: list[tuple[float, float]]) -> None:
    expected = []
    for x, y in points:
        vertex = [int(np.rint(x)), int(np.rint(4096 - y))]
        if not expected or expected[-1] != vertex:
            expected.append(vertex)
    tile = encode_layer("h", [LineString(points)], bounds=BOUNDS, tolerance=0)
    if len(expected) < 2:
        assert tile == b""
    else:
        assert decode(tile)["h"]["features"][0]["geometry"]["coordinates"] == expected
