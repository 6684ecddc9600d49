"""MapLibre GL style JSON generated from the layer catalog.

:func:`maplibre_style` writes one vector source per catalog layer (pointing at the server's
TileJSON documents) and the style layers that draw it: fills and outlines for polygons, lines
(dashed where the catalog says so) and circles for points. Colours, widths and drawing order come
only from the catalog: a layer with categories gets ``match`` expressions on its category
property for ``line-color``, ``line-width`` and ``line-sort-key`` (problems wide and on top).
The legend (titles and category labels in Chinese and English) travels in the style's
``metadata`` under ``rivernet:legend``, so a web page can draw it without a second request.

The style has no ``glyphs`` or ``sprite`` URL and no symbol layers: every resource it names is
on the serving machine, so the map works offline; labels (Chinese included) are HTML. Which
property labels which layer from which zoom (river names on reaches) travels in ``metadata``
under ``rivernet:labels`` (:func:`labels`), with an invisible line layer ``<id>-label`` per
labelled layer whose features the web page reads (so labels show while the layer itself is
hidden under the coverage); the page places one HTML label per name in view.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

from rivernet.layers.catalog import MAP_LAYERS, Category, Layer

__all__ = [
    "BACKGROUND",
    "color_expression",
    "labels",
    "legend",
    "maplibre_style",
    "sort_key_expression",
    "style_layers",
    "width_expression",
]

BACKGROUND = "#f4f1ea"
"""Background colour of the map (there is no online base map by default)."""

_LINE_ZOOM_SCALE = ((4, 0.5), (8, 1.0), (12, 2.0), (16, 3.0))  # (zoom, width factor)
_LEGEND_KEY = "rivernet:legend"
_LABELS_KEY = "rivernet:labels"
_LAYER_KEY = "rivernet:layer"
_ROLE_KEY = "rivernet:role"

Json = dict[str, Any]


def maplibre_style(
    tilejson_url: Callable[[Layer], str],
    *,
    layers: Sequence[Layer] = MAP_LAYERS,
    visible: Collection[str] | None = None,
    name: str = "rivernet",
    center: tuple[float, float] | None = None,
    zoom: float | None = None,
    basemap_url: str | None = None,
    basemap_attribution: str = "",
) -> Json:
    """A MapLibre GL style (version 8) drawing catalog layers from vector tiles.

    Parameters
    ----------
    tilejson_url
        The absolute TileJSON URL of a layer's tiles (the server builds it).
    layers
        Catalog layers to include, drawn in this order (the first at the bottom).
    visible
        Ids of layers shown at first; the others get ``visibility: none``. Default: all.
    name
        Style name.
    center, zoom
        Initial view (longitude, latitude) and zoom.
    basemap_url
        An optional raster tile URL template (``{z}/{x}/{y}``), added under everything;
        none by default, so nothing is fetched from another machine.
    basemap_attribution
        Attribution shown for the base map.

    Returns
    -------
    dict
        The style document, ready for ``json.dumps``.
    """
    sources: Json = {}
    style_layers_: list[Json] = [
        {"id": "background", "type": "background", "paint": {"background-color": BACKGROUND}}
    ]
    if basemap_url:
        sources["basemap"] = {
            "type": "raster",
            "tiles": [basemap_url],
            "tileSize": 256,
            "attribution": basemap_attribution,
        }
        style_layers_.append({"id": "basemap", "type": "raster", "source": "basemap"})
    for entry in layers:
        sources[entry.id] = {"type": "vector", "url": tilejson_url(entry)}
        shown = visible is None or entry.id in visible
        style_layers_.extend(style_layers(entry, visible=shown))
    style_layers_.extend(label_layer(entry) for entry in layers if entry.label is not None)
    style: Json = {
        "version": 8,
        "name": name,
        "metadata": {_LEGEND_KEY: legend(layers), _LABELS_KEY: labels(layers)},
        "sources": sources,
        "layers": style_layers_,
    }
    if center is not None:
        style["center"] = [round(center[0], 6), round(center[1], 6)]
    if zoom is not None:
        style["zoom"] = zoom
    return style


def labels(layers: Sequence[Layer] = MAP_LAYERS) -> list[Json]:
    """The label rules of catalog layers: ``{"layer", "property", "minzoom", "style_layers"}``.

    ``style_layers`` are the ids of the style layers whose rendered features carry the label
    property (the web page queries them); layers without a ``label`` are left out.
    """
    return [
        {
            "layer": entry.id,
            "property": entry.label,
            "minzoom": entry.label_minzoom,
            "style_layers": [label_layer(entry)["id"]],
        }
        for entry in layers
        if entry.label is not None
    ]


def label_layer(entry: Layer) -> Json:
    """The invisible style layer holding the labelled features of a layer (from its minzoom)."""
    return {
        "id": f"{entry.id}-label",
        "type": "line",
        "source": entry.id,
        "source-layer": entry.id,
        "minzoom": max(entry.minzoom, entry.label_minzoom),
        "filter": ["has", entry.label],
        "paint": {"line-opacity": 0, "line-width": 1},
    }


def style_layers(entry: Layer, *, visible: bool = True) -> list[Json]:
    """The MapLibre style layers that draw one catalog layer.

    Parameters
    ----------
    entry
        The catalog layer; its source and source-layer are both named ``entry.id``.
    visible
        Whether the layers are shown at first.

    Returns
    -------
    list of dict
        Style layers with ids ``<id>`` (and ``<id>-outline`` for filled polygons).
    """
    common: Json = {
        "source": entry.id,
        "source-layer": entry.id,
        "minzoom": entry.minzoom,
        "maxzoom": min(entry.maxzoom + 1, 24),
        "layout": {"visibility": "visible" if visible else "none"},
        "metadata": {_LAYER_KEY: entry.id},
    }
    color = color_expression(entry)
    if entry.geometry_type == "point":
        paint = {
            "circle-color": color,
            "circle-radius": entry.width,
            "circle-stroke-color": "#ffffff",
            "circle-stroke-width": 1,
        }
        return [{"id": entry.id, "type": "circle", **common, "paint": paint}]
    if entry.geometry_type == "line":
        return [{"id": entry.id, "type": "line", **_line(entry, color, common)}]
    outline = {
        "id": f"{entry.id}-outline",
        "type": "line",
        **_line(entry, color, common),
        "metadata": {_LAYER_KEY: entry.id, _ROLE_KEY: "outline"},
    }
    if entry.fill_opacity <= 0:
        return [outline]
    fill = {
        "id": entry.id,
        "type": "fill",
        **common,
        "paint": {"fill-color": color, "fill-opacity": entry.fill_opacity},
    }
    return [fill, outline]


def _line(entry: Layer, color: Any, common: Json) -> Json:
    """Source, zoom range, layout and paint of a line layer.

    A categorised layer gets a data-driven width (each category's catalog width at every zoom
    stop) and a ``line-sort-key`` of the category's ``z``, so problems lie wide and on top.
    """
    stops: list[Any] = []
    for zoom, factor in _LINE_ZOOM_SCALE:
        stops += [zoom, width_expression(entry, factor)]
    paint: Json = {
        "line-color": color,
        "line-width": ["interpolate", ["linear"], ["zoom"], *stops],
    }
    if entry.dash:
        paint["line-dasharray"] = list(entry.dash)
    layout: Json = {**common["layout"], "line-join": "round", "line-cap": "round"}
    if _categorised(entry):
        layout["line-sort-key"] = sort_key_expression(entry)
    return {**common, "layout": layout, "paint": paint}


def _categorised(entry: Layer) -> bool:
    return entry.category_property is not None and bool(entry.categories)


def _match(entry: Layer, value: Callable[[Category], Any], default: Any) -> Any:
    """``["match", category property, value, output, ..., default]``, or ``default`` alone."""
    if not _categorised(entry):
        return default
    expression: list[Any] = ["match", ["to-string", ["get", entry.category_property]]]
    for category in entry.categories:
        expression += [category.value, value(category)]
    return [*expression, default]


def width_expression(entry: Layer, factor: float = 1.0) -> Any:
    """The line width of each category (catalog ``width``) times ``factor``.

    Returns
    -------
    float or list
        The layer width, or a ``match`` expression when categories have their own widths.
    """
    widths = {entry.width_of(category.value) for category in entry.categories}
    if widths <= {entry.width}:
        return round(entry.width * factor, 3)
    return _match(
        entry, lambda c: round(entry.width_of(c.value) * factor, 3), round(entry.width * factor, 3)
    )


def sort_key_expression(entry: Layer) -> Any:
    """The drawing priority (catalog ``z``) of each category: higher keys are drawn on top."""
    return _match(entry, lambda c: c.z, 0)


def color_expression(entry: Layer) -> Any:
    """The layer colour, or a ``match`` expression on its category property.

    Parameters
    ----------
    entry
        The catalog layer.

    Returns
    -------
    str or list
        ``"#rrggbb"`` or ``["match", ["get", prop], value, colour, ..., default]``.
    """
    return _match(entry, lambda c: c.color, entry.color)


def legend(layers: Sequence[Layer] = MAP_LAYERS) -> list[Json]:
    """Legend entries of catalog layers (titles and category labels in Chinese and English).

    Parameters
    ----------
    layers
        The catalog layers, in legend order.

    Returns
    -------
    list of dict
        ``{"id", "title_zh", "title_en", "geometry_type", "color", "width", "dash",
        "fill_opacity", "property", "categories": [{"value", "color", "label_zh",
        "label_en", "width", "z", "problem"}]}`` per layer that has ``legend`` set.
    """
    return [
        {
            "id": entry.id,
            "title_zh": entry.title_zh,
            "title_en": entry.title_en,
            "geometry_type": entry.geometry_type,
            "color": entry.color,
            "width": entry.width,
            "dash": list(entry.dash),
            "fill_opacity": entry.fill_opacity,
            "property": entry.category_property,
            "properties": list(entry.properties),
            "categories": [
                {
                    "value": c.value,
                    "color": c.color,
                    "label_zh": c.label_zh,
                    "label_en": c.label_en,
                    "width": entry.width_of(c.value),
                    "z": c.z,
                    "problem": c.problem,
                }
                for c in entry.categories
            ],
        }
        for entry in layers
        if entry.legend
    ]
