"""Interactive maps for Jupyter: :func:`explore` returns a ``folium.Map`` of a catalog layer.

The maps work offline. Leaflet is vendored (``layers/vendor/leaflet``) and inlined into the page,
folium's CDN scripts and styles (jQuery, Bootstrap, Font Awesome, awesome-markers) are left out,
and there is no online basemap: administrative units and lakes from the project are the base.

Features are not embedded as GeoJSON. Each layer is sent as one compact record: coordinates
quantised to 1e-5 degree (about 1 m), delta-encoded and packed into a string with the
encoded-polyline scheme, property columns dictionary-encoded, and a category index per feature;
a small inline decoder turns it into Leaflet vectors drawn on a canvas. Ten thousand reaches make
well under 1 MB of HTML. Above ``max_inline_features`` and with ``server_url`` given, the layer is
shown as raster tiles from a running ``rivernet serve`` instead.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard, cast

import numpy as np

from rivernet import messages
from rivernet.errors import InputError
from rivernet.layers import catalog
from rivernet.layers._labels import CODED, display_value, property_label
from rivernet.layers.catalog import Layer

if TYPE_CHECKING:
    import folium
    import geopandas as gpd

    from rivernet.project import Project

__all__ = ["DEFAULT_MAX_INLINE_FEATURES", "TILE_URL", "encode_layer", "explore"]

logger = logging.getLogger(__name__)

VENDOR = Path(__file__).resolve().parent / "vendor" / "leaflet"
DEFAULT_MAX_INLINE_FEATURES = 20_000
SCALE = 100_000  # quantisation: 1e-5 degree, about 1.1 m
TILE_URL = "{server}/tiles/{layer}/{{z}}/{{x}}/{{y}}.png?level={level}"
_CONTEXT_LAYERS = ("admin_units", "lakes")
CONTEXT_SIMPLIFY_M = 30.0  # admin outlines and lakes below the layer need no finer detail
_TOOLTIP_PROPERTIES = 3

_PAGE_CSS = "<style>.leaflet-container { background: #f7f9fb; }</style>"
_RUNTIME_JS = """
window.rivernet = window.rivernet || (function () {
  function ints(s) {
    var out = [], i = 0, n = s.length, r, sh, b;
    while (i < n) {
      r = 0; sh = 0;
      do { b = s.charCodeAt(i++) - 63; r |= (b & 31) << sh; sh += 5; } while (b >= 32);
      out.push((r & 1) ? ~(r >>> 1) : (r >>> 1));
    }
    return out;
  }
  function esc(v) {
    return String(v).replace(/[&<>"']/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; });
  }
  function value(col, i) { return col.i ? col.v[col.i[i]] : col.a[i]; }
  function features(d) {
    var q = ints(d.coords), x = 0, y = 0, items = [], k, lv, c, grouped, pos;
    for (k = 0; k < q.length; k += 2) {
      x += q[k]; y += q[k + 1]; items.push(L.latLng(y / d.scale, x / d.scale));
    }
    for (lv = d.counts.length - 1; lv >= 0; lv--) {
      c = d.counts[lv]; grouped = []; pos = 0;
      for (k = 0; k < d.n[lv]; k++) {
        var size = c ? c[k] : 1;
        grouped.push(items.slice(pos, pos + size)); pos += size;
      }
      items = grouped;
    }
    return items;
  }
  function rows(d, i, last) {
    var html = "", k, p, v;
    for (k = 0; k < last; k++) {
      p = d.props[k]; v = value(p.col, i);
      if (v === null || v === "") continue;
      if (p.name === d.catProp && d.cat) v = d.labels[d.cat[i]];
      html += "<tr><th style='text-align:left;padding-right:6px'>" + esc(p.label) +
        "</th><td>" + esc(v).replace(/\\n/g, "<br>") + "</td></tr>";
    }
    return "<table>" + html + "</table>";
  }
  function layer(d) {
    var group = L.featureGroup(), feats = features(d), i, p, st, f;
    for (i = 0; i < feats.length; i++) {
      st = d.styles[d.cat ? d.cat[i] : d.styles.length - 1];
      if (d.kind === "point") {
        for (p = 0; p < feats[i].length; p++) {
          f = L.circleMarker(feats[i][p][0], st); f.rnIndex = i; group.addLayer(f);
        }
        continue;
      }
      f = d.kind === "polygon" ? L.polygon(feats[i], st) : L.polyline(feats[i], st);
      f.rnIndex = i; group.addLayer(f);
    }
    api.drawn += feats.length;
    if (d.props.length) {
      group.bindTooltip(function (l) {
        return "<b>" + esc(d.title) + "</b>" + rows(d, l.rnIndex, Math.min(d.tip, d.props.length));
      }, {sticky: true});
      group.bindPopup(function (l) {
        return "<b>" + esc(d.title) + "</b>" + rows(d, l.rnIndex, d.props.length);
      }, {maxWidth: 420});
    }
    return group;
  }
  function legend(map, html) {
    var control = L.control({position: "bottomright"});
    control.onAdd = function () {
      var div = L.DomUtil.create("div", "rivernet-legend");
      div.style.cssText = "background:#fff;padding:6px 8px;font:12px/1.5 sans-serif;" +
        "border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.35);max-width:240px";
      div.innerHTML = html;
      return div;
    };
    control.addTo(map);
    return control;
  }
  function furniture(map, credits) {
    L.control.scale({position: "bottomleft", metric: true, imperial: false}).addTo(map);
    if (credits) {
      L.control.attribution({prefix: false}).addAttribution(esc(credits)).addTo(map);
    }
  }
  var api = {layer: layer, legend: legend, furniture: furniture, ints: ints, data: {}, drawn: 0};
  return api;
})();
"""


def explore(
    data: Project | gpd.GeoDataFrame,
    *,
    layer: str = "coverage",
    as_of: dt.date | str | None = None,
    level: str = "county",
    lang: str = "zh",
    offline: bool = True,
    max_inline_features: int = DEFAULT_MAX_INLINE_FEATURES,
    server_url: str | None = None,
    policy: Any = None,
    context: bool = True,
    simplify_m: float | None = None,
    height: int | str = 600,
) -> folium.Map:
    """An interactive map of a catalog layer, for Jupyter or a standalone HTML file.

    Parameters
    ----------
    data
        A project (the layer's data comes from
        :func:`~rivernet.layers.sources.layer_frame`) or a result
        GeoDataFrame, drawn with the symbols of catalog layer ``layer``.
    layer
        A catalog layer id (see :data:`rivernet.layers.CATALOG`).
    as_of
        Date for roster-dependent layers; default today.
    level
        Admin level for level-dependent layers (coverage, crossings, boundary rivers).
    lang
        ``"zh"`` (default) or ``"en"`` for the legend, tooltips and popups.
    offline
        Inline the vendored Leaflet and load nothing from the network (default). With False,
        folium's usual CDN links are kept.
    max_inline_features
        Layers with more features are shown as tiles from ``server_url`` when one is given;
        without a server they are still inlined (and a warning is logged).
    server_url
        Base URL of a running ``rivernet serve`` (for example ``http://localhost:8000``).
    policy
        Coverage policy (a :class:`~rivernet.policy.CoveragePolicy` or a TOML path) for the
        coverage layers; default the library's.
    context
        For a project: also draw admin unit outlines and lakes below the layer.
    simplify_m
        Simplify geometry to this tolerance in metres before encoding; default: none up to
        5,000 features, 10 m above.
    height
        Map height in pixels (or a CSS size such as ``"100%"``).

    Returns
    -------
    folium.Map
        The map, with the layer (problem categories wide and on top, as the catalog says), a
        legend, tooltips, popups, a layer control, a metric scale bar and the project's data
        credits (``project_meta`` ``attribution`` or ``sources``).

    Raises
    ------
    NotFoundError
        If ``layer`` is not in the catalog.
    InputError
        If ``lang`` is not ``"zh"`` or ``"en"``, or the data has no features with geometry.
    """
    import folium

    messages.check_lang(lang)
    entry = catalog.layer(layer)
    project = None if _is_frame(data) else data
    frame = _layer_data(data, entry, as_of=as_of, level=level, policy=policy)
    if frame.empty and project is None:
        raise InputError.from_key("err_folium.no_features", layer=entry.id)
    if project is not None:
        frame = _with_popup_columns(project, frame, entry, as_of=as_of, level=level, lang=lang)
    fmap = _new_map(offline=offline, height=height)
    if project is not None and context:
        for context_id in _CONTEXT_LAYERS:
            if context_id != entry.id:
                context_layer = catalog.layer(context_id)
                context_frame = _layer_data(project, context_layer, as_of=as_of, level=level)
                _add_inline(fmap, context_frame, context_layer, lang=lang, show=True,
                            simplify_m=CONTEXT_SIMPLIFY_M)  # fmt: skip
    use_tiles = server_url is not None and len(frame) > max_inline_features
    if use_tiles:
        _add_tiles(fmap, entry, server_url=str(server_url), level=level, as_of=as_of, lang=lang)
    else:
        if len(frame) > max_inline_features:
            logger.warning(
                "layer %r has %d features (more than max_inline_features=%d); inlining them all."
                " Pass server_url of a running `rivernet serve` to show it as tiles instead.",
                entry.id, len(frame), max_inline_features,
            )  # fmt: skip
        tolerance = simplify_m if simplify_m is not None else (10.0 if len(frame) > 5000 else 0.0)
        _add_inline(fmap, frame, entry, lang=lang, show=True, simplify_m=tolerance)
    fmap.add_child(_legend(entry, lang=lang, level=level, as_of=as_of))
    fmap.add_child(_furniture(catalog.data_credits(project, lang=lang)))
    folium.LayerControl(collapsed=True).add_to(fmap)
    _fit(fmap, frame if not frame.empty or project is None else project.admin_units)
    return fmap


def _check_lang(lang: str) -> None:
    messages.check_lang(lang)


def _is_frame(data: object) -> TypeGuard[gpd.GeoDataFrame]:
    import geopandas as gpd

    return isinstance(data, gpd.GeoDataFrame)


def _layer_data(
    data: Project | gpd.GeoDataFrame,
    entry: Layer,
    *,
    as_of: dt.date | str | None,
    level: str,
    policy: Any = None,
) -> gpd.GeoDataFrame:
    """The features to draw, in EPSG:4326, without empty geometries.

    With a coverage ``policy``, the coverage layers are computed under it (by
    :func:`rivernet.layers.sources.layer_frame`; the library's default policy otherwise).
    """
    from rivernet.layers.sources import layer_frame, to_wgs84

    if _is_frame(data):
        frame = data
        if frame.index.name is not None and frame.index.name not in frame.columns:
            frame = frame.reset_index()
        frame = to_wgs84(frame)
    else:
        frame = layer_frame(data, entry, as_of=as_of, level=level, policy=policy)
    keep = ~(frame.geometry.isna() | frame.geometry.is_empty)
    return frame[keep.to_numpy()]


def _with_popup_columns(
    project: Project,
    frame: gpd.GeoDataFrame,
    entry: Layer,
    *,
    as_of: dt.date | str | None,
    level: str,
    lang: str,
) -> gpd.GeoDataFrame:
    """Add the popup's extra columns: chiefs by level and partner chiefs, where known."""
    from rivernet.layers._popups import popup_columns

    extra = popup_columns(project, frame, entry, as_of=as_of, level=level, lang=lang)
    if extra.empty:
        return frame
    frame = frame.copy()
    for name in extra.columns:
        if name not in frame.columns:
            frame[name] = extra[name].to_numpy()
    return frame


def _new_map(*, offline: bool, height: int | str) -> folium.Map:
    """A folium map without basemap; with offline, the vendored Leaflet inlined."""
    import folium

    cls = _offline_map_class() if offline else folium.Map
    fmap = cls(
        location=(31.0, 120.0),
        zoom_start=8,
        tiles=None,
        prefer_canvas=True,
        height=height,
        attribution_control=False,
    )
    root = cast(Any, fmap.get_root())
    root.header.add_child(raw_html(f"<script>{_RUNTIME_JS}</script>"), name="rivernet")
    root.header.add_child(raw_html(_PAGE_CSS), name="rivernet_css")
    return fmap


def raw_html(html: str) -> Any:
    """A branca element that renders ``html`` verbatim (never parsed as a Jinja template)."""
    return _raw_class()(html)


@lru_cache(maxsize=1)
def _raw_class() -> type:
    from branca.element import Element

    class RawHTML(Element):
        """Verbatim HTML: large data and vendored code are not run through Jinja."""

        def __init__(self, html: str) -> None:
            super().__init__()
            self.html = html

        def render(self, **kwargs: Any) -> str:
            return self.html

    return RawHTML


@lru_cache(maxsize=1)
def _offline_map_class() -> type[folium.Map]:
    """A ``folium.Map`` subclass that inlines the vendored Leaflet instead of CDN links."""
    import folium

    class OfflineMap(folium.Map):
        """A folium map whose page loads nothing from the network."""

        __qualname__ = "OfflineMap"

        default_js: list[tuple[str, str]] = []  # noqa: RUF012 (folium's class attribute)
        default_css: list[tuple[str, str]] = []  # noqa: RUF012

        def render(self, **kwargs: Any) -> Any:
            css, js = leaflet_assets()
            header = cast(Any, self.get_root()).header
            header.add_child(raw_html(f"<style>{css}</style>"), name="leaflet_css", index=0)
            header.add_child(raw_html(f"<script>{js}</script>"), name="leaflet_js", index=1)
            super().render(**kwargs)

    return OfflineMap


@lru_cache(maxsize=1)
def leaflet_assets() -> tuple[str, str]:
    """The vendored Leaflet CSS (images as ``data:`` URIs) and JavaScript, ready to inline.

    Returns
    -------
    tuple of str
        ``(css, js)``.
    """
    css = (VENDOR / "leaflet.css").read_text(encoding="utf-8")
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)

    def data_uri(match: re.Match[str]) -> str:
        image = (VENDOR / "images" / match.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(image).decode('ascii')})"

    css = re.sub(r"url\(images/([\w.-]+\.png)\)", data_uri, css)
    js = (VENDOR / "leaflet.js").read_text(encoding="utf-8")
    js = re.sub(r"//# sourceMappingURL=\S+", "", js)
    return css, js


def _add_inline(
    fmap: folium.Map,
    frame: gpd.GeoDataFrame,
    entry: Layer,
    *,
    lang: str,
    show: bool,
    simplify_m: float = 0.0,
) -> None:
    """Add a layer drawn from a compact inline record."""
    if frame.empty:
        return
    payload = encode_layer(frame, entry, lang=lang, simplify_m=simplify_m)
    element = _compact_layer_class()(name=entry.title(lang), overlay=True, control=True, show=show)
    element._name = "RivernetLayer"
    data = f"<script>rivernet.data[{element.get_name()!r}] = {script_json(payload)};</script>"
    cast(Any, fmap.get_root()).header.add_child(raw_html(data), name=f"{element.get_name()}_data")
    fmap.add_child(element)


@lru_cache(maxsize=1)
def _compact_layer_class() -> type:
    """A folium layer whose script decodes its inline record into Leaflet vectors."""
    from folium.map import Layer as FoliumLayer
    from folium.template import Template

    class CompactLayer(FoliumLayer):
        _template = Template(
            "{% macro script(this, kwargs) %}\n"
            "var {{ this.get_name() }} = "
            "rivernet.layer(rivernet.data[{{ this.get_name()|tojson }}]);\n"
            "{% endmacro %}"
        )

    return CompactLayer


def script_json(value: object) -> str:
    """JSON safe to place inside an HTML ``<script>`` element."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def encode_layer(
    frame: gpd.GeoDataFrame, entry: Layer, *, lang: str = "zh", simplify_m: float = 0.0
) -> dict[str, Any]:
    """The compact record of a layer that the inline decoder draws.

    Features are listed (and so drawn) in the catalog's drawing order: a problem category
    after, and so above, the categories below it.

    Parameters
    ----------
    frame
        Features in EPSG:4326.
    entry
        The catalog layer giving symbols, properties and categories.
    lang
        Language of labels.
    simplify_m
        Simplification tolerance in metres (0: none).

    Returns
    -------
    dict
        ``kind, title, scale, coords`` (encoded-polyline string of coordinate deltas),
        ``counts``/``n`` (nesting of vertices into parts and features), ``styles``, ``labels``,
        ``cat`` (category index per feature), ``props`` and ``tip``.
    """
    frame = in_drawing_order(frame, entry)
    geometry = _simplified(frame.geometry.to_numpy(), simplify_m)
    coords, counts, sizes = _flatten(geometry, entry.geometry_type)
    quantised = np.round(coords * SCALE).astype(np.int64)
    deltas = np.diff(quantised, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    categories, labels, styles = _symbols(frame, entry, lang=lang)
    return {
        "kind": entry.geometry_type,
        "title": entry.title(lang),
        "scale": SCALE,
        "coords": encode_ints(deltas.ravel()),
        "counts": counts,
        "n": sizes,
        "styles": styles,
        "labels": labels,
        "cat": categories,
        "catProp": entry.category_property,
        "props": _properties(frame, entry, lang=lang),
        "tip": _TOOLTIP_PROPERTIES,
    }


def in_drawing_order(frame: gpd.GeoDataFrame, entry: Layer) -> gpd.GeoDataFrame:
    """The features sorted bottom to top by their category's ``z`` (stable within one)."""
    prop = entry.category_property
    if prop is None or prop not in frame.columns or not entry.categories:
        return frame
    rank = frame[prop].map(entry.z_of).to_numpy()
    return frame.iloc[np.argsort(rank, kind="stable")]


def encode_ints(values: np.ndarray[Any, np.dtype[np.int64]]) -> str:
    """Pack signed integers into text with the encoded-polyline scheme (zigzag, 5-bit groups).

    Every character lies in ``?`` .. ``~`` (63-126), so the text never contains ``</``.
    """
    values = np.asarray(values, dtype=np.int64)
    zigzag = (values << 1) ^ (values >> 63)
    chunks = np.ones(len(zigzag), dtype=np.int64)
    for bits in (5, 10, 15, 20, 25, 30, 35, 40):
        chunks += zigzag >= (1 << bits)
    repeated = np.repeat(zigzag, chunks)
    starts = np.repeat(np.cumsum(chunks) - chunks, chunks)
    position = np.arange(len(repeated)) - starts
    groups = (repeated >> (5 * position)) & 31
    last = position == np.repeat(chunks - 1, chunks)
    characters = np.where(last, groups, groups | 32) + 63
    return characters.astype(np.uint8).tobytes().decode("ascii")


def decode_ints(text: str) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Unpack :func:`encode_ints` (the Python twin of the inline decoder, for tests)."""
    out: list[int] = []
    result = shift = 0
    for char in text.encode("ascii"):
        group = char - 63
        result |= (group & 31) << shift
        shift += 5
        if group < 32:
            out.append(~(result >> 1) if result & 1 else result >> 1)
            result = shift = 0
    return np.array(out, dtype=np.int64)


def _simplified(geometry: np.ndarray[Any, Any], tolerance_m: float) -> np.ndarray[Any, Any]:
    """Geometry simplified to ``tolerance_m`` metres (converted to degrees of latitude)."""
    import shapely

    if tolerance_m <= 0:
        return geometry
    return shapely.simplify(geometry, tolerance_m / 111_320.0, preserve_topology=False)


def _flatten(
    geometry: np.ndarray[Any, Any], kind: str
) -> tuple[np.ndarray[Any, Any], list[list[int] | None], list[int]]:
    """Coordinates of all features and the counts that nest them back.

    Lines and points: feature -> parts -> vertices. Polygons: feature -> polygons -> rings ->
    vertices. A counts entry is None when every group has exactly one member.
    """
    import shapely

    parts, feature_of_part = shapely.get_parts(geometry, return_index=True)
    levels = [np.bincount(feature_of_part, minlength=len(geometry))]
    if kind == "polygon":
        polygons = len(parts)
        parts, polygon_of_ring = shapely.get_rings(parts, return_index=True)
        levels.append(np.bincount(polygon_of_ring, minlength=polygons))
    coords, part_of_vertex = shapely.get_coordinates(parts, return_index=True)
    levels.append(np.bincount(part_of_vertex, minlength=len(parts)))
    counts: list[list[int] | None] = [
        None if bool(np.all(level == 1)) else level.tolist() for level in levels
    ]
    return coords, counts, [len(level) for level in levels]


def _symbols(
    frame: gpd.GeoDataFrame, entry: Layer, *, lang: str
) -> tuple[list[int] | None, list[str], list[dict[str, Any]]]:
    """Category index per feature, legend labels and Leaflet path styles (fallback last)."""
    styles = [_style(entry, c.color, entry.width_of(c.value)) for c in entry.categories]
    styles.append(_style(entry, entry.color, entry.width))
    labels = [category.label(lang) for category in entry.categories] + [""]
    prop = entry.category_property
    if prop is None or prop not in frame.columns or not entry.categories:
        return None, labels, styles
    index = {category.value: i for i, category in enumerate(entry.categories)}
    codes = frame[prop].map(index).fillna(len(entry.categories)).astype(int)
    return codes.tolist(), labels, styles


def _style(entry: Layer, color: str, width: float) -> dict[str, Any]:
    """The Leaflet path options of one category."""
    style: dict[str, Any] = {"color": color, "weight": width, "opacity": 0.9}
    if entry.geometry_type == "polygon":
        style["fill"] = entry.fill_opacity > 0
        style["fillColor"] = color
        style["fillOpacity"] = entry.fill_opacity
    if entry.geometry_type == "point":
        style.update(radius=width, fillColor=color, fillOpacity=0.9, weight=1)
    if entry.dash:
        style["dashArray"] = " ".join(f"{d:g}" for d in entry.dash)
    return style


def _properties(frame: gpd.GeoDataFrame, entry: Layer, *, lang: str) -> list[dict[str, Any]]:
    """Property columns for tooltips and popups: the catalog's, then any extra popup columns."""
    names = [p for p in entry.properties if p in frame.columns]
    extra = [c for c in frame.columns if c.startswith("chiefs_") or c == "partners"]
    names += [c for c in extra if c not in names]
    return [
        {
            "name": name,
            "label": property_label(name, lang),
            "col": _column(_shown(frame[name], lang)),
        }
        for name in names
    ]


def _shown(series: Any, lang: str) -> Any:
    """Coded values (levels, rules, ...) and booleans in words; other columns unchanged."""
    import pandas as pd

    if series.name in CODED or pd.api.types.is_bool_dtype(series.dtype):
        return pd.Series([display_value(str(series.name), v, lang) for v in series], dtype=object)
    return series


def _column(series: Any) -> dict[str, Any]:
    """A property column, dictionary-encoded when values repeat."""
    import pandas as pd

    if pd.api.types.is_float_dtype(series.dtype):
        rounded = series.round(1)
        return {"a": [None if pd.isna(v) else float(v) for v in rounded]}
    if pd.api.types.is_integer_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        return {"a": [None if pd.isna(v) else int(v) for v in series]}
    codes, uniques = pd.factorize(series, use_na_sentinel=False)
    values = [None if _missing(v) else str(v) for v in uniques]
    if len(values) * 2 > len(series):
        return {"a": [values[c] for c in codes]}
    return {"v": values, "i": codes.tolist()}


def _missing(value: object) -> bool:
    import pandas as pd

    return value is None or (not isinstance(value, str) and bool(pd.isna(cast(Any, value))))


def _legend(entry: Layer, *, lang: str, level: str, as_of: dt.date | str | None) -> Any:
    """A Leaflet control listing the layer's categories with their colours (from the catalog)."""
    from branca.element import MacroElement
    from folium.template import Template

    class Legend(MacroElement):
        _template = Template(
            "{% macro script(this, kwargs) %}\n"
            "rivernet.legend({{ this._parent.get_name() }}, {{ this.html }});\n"
            "{% endmacro %}"
        )

        def __init__(self, html: str) -> None:
            super().__init__()
            self._name = "RivernetLegend"
            self.html = html

    return Legend(script_json(legend_html(entry, lang=lang, level=level, as_of=as_of)))


def _furniture(credits: str) -> Any:
    """A metric scale bar (Leaflet's ``L.control.scale``) and the data credits, if any."""
    from branca.element import MacroElement
    from folium.template import Template

    class Furniture(MacroElement):
        _template = Template(
            "{% macro script(this, kwargs) %}\n"
            "rivernet.furniture({{ this._parent.get_name() }}, {{ this.credits }});\n"
            "{% endmacro %}"
        )

        def __init__(self, credits: str) -> None:
            super().__init__()
            self._name = "RivernetFurniture"
            self.credits = script_json(credits)

    return Furniture(credits)


def legend_html(
    entry: Layer, *, lang: str = "zh", level: str = "county", as_of: dt.date | str | None = None
) -> str:
    """The legend of a layer as an HTML fragment (title, then one swatch per category).

    Parameters
    ----------
    entry
        The catalog layer.
    lang
        ``"zh"`` or ``"en"``.
    level
        Admin level shown in the subtitle of level-dependent layers.
    as_of
        Date shown in the subtitle of roster-dependent layers.

    Returns
    -------
    str
        HTML using only inline styles.
    """
    from html import escape

    subtitle = []
    if entry.by_level:
        subtitle.append(messages.level_of(level, lang))
    if entry.temporal and as_of is not None:
        subtitle.append(str(as_of))
    rows = [f"<div style='font-weight:bold'>{escape(entry.title(lang))}</div>"]
    if subtitle:
        rows.append(f"<div style='color:#555'>{escape(' · '.join(subtitle))}</div>")
    swatches = [(c.color, c.label(lang), entry.width_of(c.value)) for c in entry.categories] or [
        (entry.color, entry.title(lang), entry.width)
    ]
    for color, label, width in swatches:
        height = f"{max(round(width) + 1, 3)}px"  # problems wider, as on the map
        rows.append(
            f"<div><span style='display:inline-block;width:18px;height:"
            f"{'10px;border-radius:50%' if entry.geometry_type == 'point' else height};"
            f"background:{color};vertical-align:middle;margin-right:6px'></span>"
            f"{escape(label)}</div>"
        )
    return "".join(rows)


def _add_tiles(
    fmap: folium.Map,
    entry: Layer,
    *,
    server_url: str,
    level: str,
    as_of: dt.date | str | None,
    lang: str,
) -> None:
    """Show a layer as raster tiles (``/tiles/{layer}/{z}/{x}/{y}.png``) of a rivernet server."""
    import folium

    url = TILE_URL.format(server=server_url.rstrip("/"), layer=entry.id, level=level)
    if as_of is not None:
        url += f"&datetime={as_of}"
    folium.TileLayer(
        tiles=url,
        attr="rivernet",
        name=entry.title(lang),
        overlay=True,
        control=True,
        max_zoom=22,
    ).add_to(fmap)


def _fit(fmap: folium.Map, frame: gpd.GeoDataFrame) -> None:
    """Zoom the map to the frame's bounds."""
    if frame.empty:
        return
    west, south, east, north = (float(v) for v in frame.total_bounds)
    fmap.location = [(south + north) / 2, (west + east) / 2]
    fmap.fit_bounds([[south, west], [north, east]])
