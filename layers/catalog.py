"""The layer catalog: how each analysis result looks on every map.

Each layer is declared once: which result it shows (``source``), which properties a popup or
tooltip shows, how features are classified into categories (colour and legend text in Chinese
and English), and the zoom range. The web map style, vector and raster tiles, Jupyter maps and
report images all read this catalog, so a coverage gap is the same red everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rivernet.errors import NotFoundError

GeometryType = Literal["line", "polygon", "point"]


@dataclass(frozen=True)
class Category:
    """One class of features: the property value, its colour and its legend labels."""

    value: str
    color: str
    label_zh: str
    label_en: str

    def label(self, lang: str = "zh") -> str:
        """The legend label in ``"zh"`` or ``"en"``."""
        return self.label_zh if lang == "zh" else self.label_en


@dataclass(frozen=True)
class Layer:
    """One map layer.

    Parameters
    ----------
    id
        Stable identifier used in URLs, styles and APIs.
    title_zh, title_en
        Layer titles for legends and layer lists.
    source
        The result the layer shows: ``reaches``, ``admin_units``, ``lakes``, ``coverage``
        (reaches with a coverage status per level), ``coverage_gaps``, ``crossings``,
        ``boundary_rivers``.
    geometry_type
        ``line``, ``polygon`` or ``point``.
    properties
        Feature properties shown in tooltips and popups, in order.
    category_property
        Property whose value picks the category; None for a single-colour layer.
    categories
        The categories, in legend order.
    color
        Colour of features that match no category (and of single-colour layers).
    width
        Line width (or point radius) in CSS pixels at the layer's base zoom.
    fill_opacity
        Fill opacity for polygons (0 = outline only).
    dash
        Dash pattern for lines, empty for solid.
    minzoom, maxzoom
        Zoom range in the WebMercatorQuad tile matrix set.
    """

    id: str
    title_zh: str
    title_en: str
    source: str
    geometry_type: GeometryType
    properties: tuple[str, ...] = ()
    category_property: str | None = None
    categories: tuple[Category, ...] = ()
    color: str = "#555555"
    width: float = 1.0
    fill_opacity: float = 0.0
    dash: tuple[float, ...] = ()
    minzoom: int = 0
    maxzoom: int = 22
    legend: bool = True
    extra: dict[str, str] = field(default_factory=dict)

    def title(self, lang: str = "zh") -> str:
        """The layer title in ``"zh"`` or ``"en"``."""
        return self.title_zh if lang == "zh" else self.title_en

    def color_of(self, value: object) -> str:
        """The colour for a category value (the layer colour when none matches)."""
        for category in self.categories:
            if category.value == value:
                return category.color
        return self.color


COVERAGE_STATUS = (
    Category("covered", "#1a9850", "已覆盖", "covered"),
    Category("partial", "#fdae61", "部分覆盖", "partly covered"),
    Category("gap", "#d73027", "缺失河长", "gap (no chief)"),
    Category("overlap", "#7b3294", "重复任命", "overlap"),
    Category("expired", "#bf812d", "任期已满", "term expired"),
    Category("exempt", "#4393c3", "湖长负责", "covered by lake chief"),
    Category("not_required", "#bababa", "该级不要求", "not required at this level"),
)

ADMIN_LEVELS = (
    Category("province", "#444444", "省界", "province"),
    Category("city", "#777777", "市界", "city"),
    Category("county", "#aaaaaa", "县界", "county"),
)

CATALOG: tuple[Layer, ...] = (
    Layer("admin_units", "行政区", "Administrative units", "admin_units", "polygon",
          properties=("name", "code", "level"), category_property="level",
          categories=ADMIN_LEVELS, color="#999999", width=1.0),
    Layer("lakes", "湖泊", "Lakes", "lakes", "polygon", properties=("name_zh", "name"),
          color="#6baed6", fill_opacity=0.45, width=0.5),
    Layer("reaches", "河流", "Rivers", "reaches", "line",
          properties=("reach_id", "ORD_STRA", "length_m"), color="#2171b5", width=1.2),
    Layer("coverage", "河长覆盖", "Chief coverage", "coverage", "line",
          properties=("reach_id", "status", "level", "chiefs"), category_property="status",
          categories=COVERAGE_STATUS, color="#bababa", width=2.0),
    Layer("coverage_gaps", "缺失河段", "Coverage gaps", "coverage_gaps", "line",
          properties=("reach_id", "level", "unit_name", "length_m"), color="#d73027",
          width=3.0, minzoom=5),
    Layer("crossings", "交接断面", "Handover sections", "crossings", "point",
          properties=("reach_id", "upstream_name", "downstream_name", "level"),
          color="#e7298a", width=5.0, minzoom=6),
    Layer("boundary_rivers", "界河", "Boundary rivers", "boundary_rivers", "line",
          properties=("reach_id", "left_name", "right_name", "rule"), color="#ff7f00",
          width=2.5, dash=(4.0, 2.0), minzoom=6),
)  # fmt: skip


def layer(layer_id: str | Layer) -> Layer:
    """The catalog entry for ``layer_id`` (a :class:`Layer` is returned as it is).

    Raises
    ------
    NotFoundError
        If no layer has that id (the message lists the ids that exist).
    """
    if isinstance(layer_id, Layer):
        return layer_id
    for entry in CATALOG:
        if entry.id == layer_id:
            return entry
    known = ", ".join(entry.id for entry in CATALOG)
    raise NotFoundError(f"no map layer {layer_id!r}; the catalog has: {known}.")
