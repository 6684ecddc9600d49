"""The MapLibre style generated from the layer catalog."""

from __future__ import annotations

import json

from rivernet.layers.catalog import CATALOG, MAP_LAYERS, Layer, layer
from rivernet.layers.style import BACKGROUND, color_expression, legend, maplibre_style, style_layers

BASE = "http://127.0.0.1:8000"


def url(entry: Layer) -> str:
    return f"{BASE}/tiles/{entry.id}/tilejson.json"


def test_style_has_a_vector_source_per_layer_and_nothing_off_machine() -> None:
    style = maplibre_style(url)
    assert style["version"] == 8
    assert set(style["sources"]) == {entry.id for entry in MAP_LAYERS}
    assert all(s == {"type": "vector", "url": url(layer(i))} for i, s in style["sources"].items())
    assert "glyphs" not in style and "sprite" not in style
    assert not [lyr for lyr in style["layers"] if lyr["type"] == "symbol"]
    text = json.dumps(style, ensure_ascii=False)
    assert text.count("http") == text.count(BASE)  # every URL is the server's own
    assert style["layers"][0] == {
        "id": "background",
        "type": "background",
        "paint": {"background-color": BACKGROUND},
    }


def test_category_colours_come_from_the_catalog() -> None:
    coverage = layer("coverage")
    expression = color_expression(coverage)
    assert expression[0] == "match"
    assert expression[1] == ["to-string", ["get", "status"]]
    pairs = dict(zip(expression[2:-1:2], expression[3:-1:2], strict=True))
    assert pairs == {c.value: c.color for c in coverage.categories}
    assert expression[-1] == coverage.color
    assert color_expression(layer("lakes")) == layer("lakes").color


def test_layer_types_follow_geometry_types() -> None:
    kinds = {e.id: [s["type"] for s in style_layers(e)] for e in MAP_LAYERS}
    assert kinds["lakes"] == ["fill", "line"]
    assert kinds["admin_units"] == ["line"]  # outline only: fill_opacity is 0
    assert kinds["crossings"] == ["circle"]
    assert kinds["coverage"] == ["line"]
    (boundary,) = style_layers(layer("boundary_rivers"))
    assert boundary["paint"]["line-dasharray"] == list(layer("boundary_rivers").dash)
    assert boundary["minzoom"] == layer("boundary_rivers").minzoom
    assert all(s["source-layer"] == e.id for e in MAP_LAYERS for s in style_layers(e))


def test_map_layers_are_the_drawn_catalog_layers() -> None:
    assert [e.id for e in MAP_LAYERS] == [e.id for e in CATALOG if e.drawn]
    assert "chiefs" in {e.id for e in CATALOG} - {e.id for e in MAP_LAYERS}
    assert {"reaches", "coverage", "crossings"} <= {e.id for e in MAP_LAYERS}


def test_legend_metadata_has_both_languages() -> None:
    style = maplibre_style(url, layers=[layer("coverage"), layer("lakes")])
    entries = style["metadata"]["rivernet:legend"]
    assert entries == legend([layer("coverage"), layer("lakes")])
    coverage = entries[0]
    assert coverage["title_zh"] == "河长覆盖" and coverage["title_en"] == "Chief coverage"
    labels = {c["value"]: (c["label_zh"], c["label_en"]) for c in coverage["categories"]}
    assert labels["gap"] == ("缺失河长", "gap (no chief)")


def test_visibility_and_optional_basemap() -> None:
    style = maplibre_style(url, visible={"coverage"})
    shown = {s["metadata"]["rivernet:layer"]: s["layout"]["visibility"] for s in style["layers"]
             if "metadata" in s}  # fmt: skip
    assert shown["coverage"] == "visible" and shown["reaches"] == "none"
    assert "basemap" not in style["sources"]
    tianditu = "https://t0.tianditu.gov.cn/vec_w/wmts?tk=KEY&x={x}&y={y}&l={z}"
    with_base = maplibre_style(url, basemap_url=tianditu, basemap_attribution="天地图")
    assert with_base["sources"]["basemap"]["tiles"] == [tianditu]
    assert [s["id"] for s in with_base["layers"][:2]] == ["background", "basemap"]


def test_legend_carries_widths_and_drawing_order() -> None:
    (coverage,) = legend([layer("coverage")])
    by_value = {c["value"]: c for c in coverage["categories"]}
    entry = layer("coverage")
    for value, item in by_value.items():
        assert item["width"] == entry.width_of(value) and item["z"] == entry.z_of(value)
    assert by_value["expired"]["problem"] and not by_value["covered"]["problem"]
    assert by_value["expired"]["z"] > by_value["gap"]["z"] > by_value["covered"]["z"]
