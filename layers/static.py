"""Static maps for reports: :func:`render` draws a catalog layer to PNG, SVG or PDF.

A map has a title, the layer in the catalog's colours over admin outlines and lakes, a legend of
the catalog categories, Chinese place labels, a metric scale bar (true at the map's central
latitude) and a north arrow. Longitude/latitude are drawn with the aspect ratio of the central
latitude (a plate carrée scaled by ``1 / cos(lat)``), so shapes look right at county and city
scale and the axes are plain degrees: the extent of a unit is its bounds.

Chinese text needs a CJK font. :func:`cjk_font` finds one: a system font when there is one (Noto
Sans CJK, Source Han Sans, WenQuanYi), else Noto Sans SC from the ``pylopdf-fonts-zh-cn`` package
that ``pip install rivernet[maps]`` brings (SIL Open Font License 1.1), and registers it with
matplotlib; without any, rendering stops with an error naming what to install instead of drawing
empty boxes.
"""

from __future__ import annotations

import datetime as dt
import glob
import io
import math
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rivernet import messages
from rivernet.errors import InputError, NotFoundError, RivernetError
from rivernet.layers import catalog
from rivernet.layers.catalog import Layer
from rivernet.roster import today

if TYPE_CHECKING:
    import geopandas as gpd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from rivernet.project import Project

__all__ = ["CJK_FONT_PACKAGES", "cjk_font", "extent_bounds", "map_figure", "render", "svg_text"]

CJK_FONT_PACKAGES = "pylopdf-fonts-zh-cn (pip; or Debian's fonts-noto-cjk)"
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK JP",
    "Noto Serif CJK SC",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
)
CJK_FONT_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/**/NotoSansCJK*.ttc",
    "/usr/share/fonts/**/*CJK*.tt[cf]",
    "/usr/share/fonts/**/*.otf",
)
FORMATS = ("png", "svg", "pdf")
_PAD = 0.04
_NICE = (1, 2, 5)
_HALO: list[Any] = []
_ASPECT_LIMITS = (0.35, 2.0)  # height / width of the map frame
_LEGEND_IN = {"zh": 1.8, "en": 2.6}  # width of the legend column, inches
_TITLE_IN = 0.6  # height of the title row, inches


def render(
    data: Project | gpd.GeoDataFrame,
    *,
    layer: str = "coverage",
    extent: str | Sequence[float] | None = None,
    path: str | Path = "map.png",
    as_of: dt.date | str | None = None,
    level: str = "county",
    lang: str = "zh",
    title: str | None = None,
    font: str | Path | None = None,
    size_in: tuple[float, float] = (8.0, 8.0),
    dpi: int = 150,
    project: Project | None = None,
    policy: Any = None,
) -> Path:
    """Draw a catalog layer to an image file (PNG, SVG or PDF, by the file suffix).

    Parameters
    ----------
    data
        A project, or a result GeoDataFrame drawn with the symbols of catalog layer ``layer``.
    layer
        A catalog layer id.
    extent
        A unit code (the map shows that unit's bounds), a ``(west, south, east, north)`` box in
        degrees, or None for everything.
    path
        Output file; ``.png``, ``.svg`` or ``.pdf``.
    as_of
        Date for roster-dependent layers; default today.
    level
        Admin level for level-dependent layers.
    lang
        ``"zh"`` (default) or ``"en"`` for the title, legend and scale bar.
    title
        Map title; default: unit name, layer title, level and date.
    font
        A font file or family name to use instead of the CJK font found automatically.
    size_in
        Largest figure size in inches; the figure takes the shape of the extent (at its
        latitude, within limits) plus a legend column beside the map.
    dpi
        Resolution of PNG output.
    project
        With a GeoDataFrame as ``data``: the project giving context (admin units, lakes) and
        unit extents.
    policy
        Coverage policy (object or TOML path) for the coverage layers; default the library's.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    InputError
        For an unknown suffix, ``lang`` or extent.
    NotFoundError
        For an unknown layer or unit code.
    RivernetError
        When no CJK font is installed (the message names the package to install).
    """
    target = Path(path)
    fmt = target.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise InputError.from_key("err_static.suffix", name=repr(target.name))
    figure = map_figure(
        data, layer=layer, extent=extent, as_of=as_of, level=level, lang=lang, title=title,
        font=font, size_in=size_in, project=project, policy=policy,
    )  # fmt: skip
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, format=fmt, dpi=dpi, metadata=_metadata(fmt, figure))
    return target


def svg_text(figure: Figure) -> str:
    """The figure as an SVG document (for inlining into HTML reports)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.DOTALL)
    return text[text.find("<svg") :]


def map_figure(
    data: Project | gpd.GeoDataFrame,
    *,
    layer: str = "coverage",
    extent: str | Sequence[float] | None = None,
    as_of: dt.date | str | None = None,
    level: str = "county",
    lang: str = "zh",
    title: str | None = None,
    font: str | Path | None = None,
    size_in: tuple[float, float] = (8.0, 8.0),
    project: Project | None = None,
    policy: Any = None,
) -> Figure:
    """The map as a matplotlib figure (what :func:`render` saves); same parameters.

    The axes carry the map extent in degrees (``ax.get_xlim()``, ``ax.get_ylim()``) and
    ``figure.rivernet_extent`` holds the requested ``(west, south, east, north)``.
    """
    from matplotlib.figure import Figure

    from rivernet.layers.folium import _check_lang, _is_frame, _layer_data

    _check_lang(lang)
    entry = catalog.layer(layer)
    context = project if _is_frame(data) else data
    frame = _layer_data(data, entry, as_of=as_of, level=level, policy=policy)
    bounds, unit_name = _extent(context, frame, extent)
    texts = _Texts(font)
    figure = Figure(figsize=_figure_size(bounds, size_in, lang=lang), layout="constrained")
    ax = figure.add_subplot()
    _frame_axes(ax, bounds)
    if context is not None:
        _draw_context(ax, context, bounds, extent=extent, texts=texts)
    _draw_layer(ax, frame, entry, bounds)
    heading = title if title is not None else _title(entry, unit_name, lang, level, as_of)
    ax.set_title(heading, fontproperties=texts.props(heading, 14))
    _legend(ax, entry, lang=lang, texts=texts)
    _scale_bar(ax, bounds, lang=lang, texts=texts)
    _north_arrow(ax, lang=lang, texts=texts)
    ax.set_xlabel("")
    ax.set_ylabel("")
    texts.check()
    figure.rivernet_extent = bounds  # type: ignore[attr-defined]
    return figure


def cjk_font(font: str | Path | None = None) -> str:
    """The family name of a font that has Chinese glyphs, registered with matplotlib.

    Parameters
    ----------
    font
        A font file or a family name to use; default: the first CJK font found among the
        families in :data:`CJK_FAMILIES`, the files in :data:`CJK_FONT_FILES` and fontconfig's
        answer for Chinese.

    Returns
    -------
    str
        The family name, usable as ``fontproperties=FontProperties(family=name)``.

    Raises
    ------
    RivernetError
        If no CJK font is installed; the message names the package to install.
    """
    from matplotlib import font_manager

    if font is not None:
        candidate = Path(font)
        if candidate.suffix.lower() in (".ttf", ".ttc", ".otf") or candidate.exists():
            if not candidate.exists():
                raise NotFoundError.from_key("err_static.no_font_file", path=repr(str(candidate)))
            font_manager.fontManager.addfont(str(candidate))
            return str(font_manager.FontProperties(fname=str(candidate)).get_name())
        return str(font)
    known = {entry.name for entry in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in known:
            return family
    for file in _font_files():
        font_manager.fontManager.addfont(file)
        known = {entry.name for entry in font_manager.fontManager.ttflist}
        for family in CJK_FAMILIES:
            if family in known:
                return family
    raise RivernetError.from_key("err_static.no_cjk_font")


def _font_files() -> list[str]:
    """Candidate CJK font files: well-known paths, then fontconfig's match for Chinese."""
    files: list[str] = []
    for pattern in CJK_FONT_FILES:
        files += sorted(glob.glob(pattern, recursive=True))
    fc_match = shutil.which("fc-match")
    if fc_match:
        answer = subprocess.run(
            [fc_match, "-f", "%{file}", ":lang=zh-cn"], capture_output=True, text=True, check=False
        )
        if answer.returncode == 0 and answer.stdout.strip():
            files.append(answer.stdout.strip())
    files += pip_font_files()
    return [f for f in dict.fromkeys(files) if Path(f).is_file()]


def pip_font_files() -> list[str]:
    """Noto Sans SC from the ``pylopdf-fonts-zh-cn`` package, when it is installed."""
    try:
        import pylopdf_fonts_zh_cn
    except ImportError:
        return []
    return [str(pylopdf_fonts_zh_cn.sans_path())]


def missing_glyphs(family: str, text: str) -> str:
    """The characters of ``text`` that the font ``family`` cannot draw."""
    from matplotlib import font_manager

    file = font_manager.findfont(font_manager.FontProperties(family=family))
    charmap = font_manager.get_font(file).get_charmap()
    return "".join(sorted({c for c in text if not c.isspace() and ord(c) not in charmap}))


class _Texts:
    """The font of a map and every string drawn with it, for one glyph check before saving."""

    def __init__(self, font: str | Path | None) -> None:
        from matplotlib.font_manager import FontProperties

        self.family = cjk_font(font)
        self.font = FontProperties(family=self.family)
        self.strings: list[str] = []

    def props(self, text: str, size: float, **kwargs: Any) -> Any:
        """Font properties of ``size`` for ``text`` (recorded for the check)."""
        self.strings.append(text)
        properties = self.font.copy()
        properties.set_size(size)
        if kwargs.get("weight") == "bold" and not self._has_bold():
            kwargs = {k: v for k, v in kwargs.items() if k != "weight"}  # no fake bold, no warning
        for key, value in kwargs.items():
            getattr(properties, f"set_{key}")(value)
        return properties

    def _has_bold(self) -> bool:
        """Whether the family has a bold face registered with matplotlib."""
        from matplotlib import font_manager

        return any(
            entry.name == self.family and int(entry.weight) >= 600
            for entry in font_manager.fontManager.ttflist
            if isinstance(entry.weight, int) or str(entry.weight).isdigit()
        )

    def check(self) -> None:
        """Raise if the font lacks a glyph of any drawn string (instead of drawing boxes)."""
        missing = missing_glyphs(self.family, "".join(self.strings))
        if missing:
            raise RivernetError.from_key(
                "err_static.missing_glyphs", family=repr(self.family), missing=repr(missing)
            )


def extent_bounds(project: Project | None, extent: str | Sequence[float]) -> tuple[float, ...]:
    """``(west, south, east, north)`` in degrees of a unit code or a box.

    Raises
    ------
    NotFoundError
        If the code is not a unit of the project.
    InputError
        If the box is not four increasing numbers within longitude/latitude ranges.
    """
    if isinstance(extent, str):
        return tuple(float(v) for v in _unit(project, extent).geometry.total_bounds)
    box = tuple(float(v) for v in extent)
    if len(box) != 4 or not (box[0] < box[2] and box[1] < box[3]):
        raise InputError.from_key("err_static.extent_order", extent=repr(extent))
    if not (box[0] >= -180 and box[2] <= 180 and box[1] >= -90 and box[3] <= 90):
        raise InputError.from_key("err_static.extent_degrees", extent=repr(extent))
    return box


def _unit(project: Project | None, code: str) -> gpd.GeoDataFrame:
    from rivernet.layers.sources import to_wgs84

    if project is None:
        raise InputError.from_key("err_static.extent_no_project", code=repr(code))
    units = to_wgs84(project.admin_units)
    found = units[units["code"].astype(str) == str(code)]
    if found.empty:
        raise NotFoundError.from_key(
            "err_static.unknown_unit", code=repr(code), file=project.path.name
        )
    return found


def _extent(
    project: Project | None, frame: gpd.GeoDataFrame, extent: str | Sequence[float] | None
) -> tuple[tuple[float, ...], str | None]:
    """The requested bounds and, for a unit, its name."""
    if extent is not None:
        name = str(_unit(project, extent)["name"].iloc[0]) if isinstance(extent, str) else None
        return extent_bounds(project, extent), name
    source = frame if not frame.empty or project is None else project.admin_units
    if source.empty:
        raise InputError.from_key("err_static.nothing_to_draw")
    from rivernet.layers.sources import to_wgs84

    return tuple(float(v) for v in to_wgs84(source).total_bounds), None


def _frame_axes(ax: Axes, bounds: tuple[float, ...]) -> None:
    """Limits (padded bounds), aspect true at the central latitude, no ticks."""
    west, south, east, north = bounds
    pad_x, pad_y = (east - west) * _PAD, (north - south) * _PAD
    ax.set_xlim(west - pad_x, east + pad_x)
    ax.set_ylim(south - pad_y, north + pad_y)
    ax.set_aspect(1.0 / math.cos(math.radians((south + north) / 2)))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor("#ffffff")


def _draw_context(
    ax: Axes,
    project: Project,
    bounds: tuple[float, ...],
    *,
    extent: str | Sequence[float] | None,
    texts: _Texts,
) -> None:
    """Admin outlines (the chosen unit emphasised), lakes and place names."""
    from matplotlib import patheffects

    from rivernet.layers.sources import to_wgs84

    if not _HALO:
        _HALO.append(patheffects.withStroke(linewidth=2.5, foreground="#ffffff"))
    units = to_wgs84(project.admin_units).cx[bounds[0] : bounds[2], bounds[1] : bounds[3]]
    admin = catalog.layer("admin_units")
    for category in reversed(admin.categories):
        part = units[units["level"] == category.value]
        if not part.empty:
            part.boundary.plot(ax=ax, color=category.color, linewidth=admin.width * 0.8, zorder=2)
    lakes_layer = catalog.layer("lakes")
    lakes = to_wgs84(project.lakes).cx[bounds[0] : bounds[2], bounds[1] : bounds[3]]
    if not lakes.empty:
        lakes.plot(ax=ax, color=lakes_layer.color, alpha=lakes_layer.fill_opacity, zorder=1)
    if isinstance(extent, str):
        _unit(project, extent).boundary.plot(ax=ax, color="#222222", linewidth=2.0, zorder=4)
    for name, x, y in _place_names(units, bounds, extent):
        ax.text(x, y, name, fontproperties=texts.props(name, 8), color="#333333", ha="center",
                va="center", zorder=6, path_effects=_HALO)  # fmt: skip


def _place_names(
    units: gpd.GeoDataFrame, bounds: tuple[float, ...], extent: str | Sequence[float] | None
) -> Iterable[tuple[str, float, float]]:
    """Names of the units one level below the extent's unit (or counties), inside the map."""
    from rivernet.admin import LEVELS

    if isinstance(extent, str) and (units["code"].astype(str) == extent).any():
        unit_level = str(units.loc[units["code"].astype(str) == extent, "level"].iloc[0])
        child = LEVELS[min(LEVELS.index(unit_level) + 1, len(LEVELS) - 1)]
        shown = units[units["parent_code"].astype(str) == extent]
        if shown.empty:
            shown = units[units["code"].astype(str) == extent]
        shown = shown[shown["level"] == child] if (shown["level"] == child).any() else shown
    else:
        levels = units["level"].unique()
        chosen = next((lv for lv in ("city", "province", "county") if lv in levels), None)
        shown = units[units["level"] == chosen]
    west, south, east, north = bounds
    for row in shown.itertuples():
        point = row.geometry.representative_point()
        if west <= point.x <= east and south <= point.y <= north:
            yield str(row.name), float(point.x), float(point.y)


def _draw_layer(ax: Axes, frame: gpd.GeoDataFrame, entry: Layer, bounds: tuple[float, ...]) -> None:
    """The layer's features, category by category in the catalog's drawing order.

    Features that match no category come first, in the layer colour; then each category
    bottom to top (``Layer.drawing_order``) with its own width, so problems lie wide on top.
    """
    if frame.empty:
        return
    frame = frame.cx[bounds[0] : bounds[2], bounds[1] : bounds[3]]
    prop = entry.category_property
    values = frame[prop] if prop and prop in frame.columns else None
    order = entry.drawing_order() if values is not None else ()
    known = np.zeros(len(frame), dtype=bool)
    for rank, category in enumerate(order, start=1):
        part = (values == category.value).to_numpy()  # type: ignore[union-attr]
        known |= part
        _plot_part(ax, frame[part], entry, category.color, entry.width_of(category.value),
                   zorder=5 + rank / 100)  # fmt: skip
    _plot_part(ax, frame[~known], entry, entry.color, entry.width, zorder=5)


def _plot_part(
    ax: Axes, part: gpd.GeoDataFrame, entry: Layer, color: str, width: float, *, zorder: float
) -> None:
    """Features of one colour and width."""
    if part.empty:
        return
    style: dict[str, Any] = {"zorder": zorder, "color": color}
    if entry.geometry_type == "line":
        style.update(linewidth=width, linestyle=(0, entry.dash) if entry.dash else "-")
        style["capstyle"] = "round"
    elif entry.geometry_type == "point":
        style.update(markersize=width * 6, edgecolor="#ffffff", linewidth=0.5)
    else:
        style.update(alpha=max(entry.fill_opacity, 0.3), edgecolor=None)
    part.plot(ax=ax, **style)


def _title(
    entry: Layer, unit_name: str | None, lang: str, level: str, as_of: dt.date | str | None
) -> str:
    """Default title: unit, layer, level and date."""
    parts = [unit_name or "", entry.title(lang)]
    if entry.by_level:
        level_text = messages.level_of(level, lang)
        parts.append(f"（{level_text}）" if lang == "zh" else f" ({level_text})")
    if entry.temporal:
        date = str(as_of) if as_of is not None else today().isoformat()
        parts.append(f" {date}")
    return ("" if lang == "zh" else " ").join(p for p in parts if p).strip()


def _legend(ax: Axes, entry: Layer, *, lang: str, texts: _Texts) -> None:
    """A legend with every catalog category of the layer, beside the map frame.

    It stands outside the axes (right of the map), so it never hides a feature; the figure
    leaves room for it (see :func:`_figure_size`).
    """
    from matplotlib.lines import Line2D

    swatches = [(c.color, c.label(lang), entry.width_of(c.value)) for c in entry.categories] or [
        (entry.color, entry.title(lang), entry.width)
    ]
    handles = []
    for color, label, width in swatches:
        if entry.geometry_type == "line":
            handle = Line2D([], [], color=color, linewidth=max(width, 2.5), label=label)
        else:
            marker = "o" if entry.geometry_type == "point" else "s"
            handle = Line2D(
                [], [], color=color, marker=marker, linestyle="", markersize=9, label=label
            )
        handles.append(handle)
    labels = "".join(label for _, label, _ in swatches)
    legend = ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
        framealpha=0.92, prop=texts.props(labels, 9), title=entry.title(lang),
        title_fontproperties=texts.props(entry.title(lang), 10),
    )  # fmt: skip
    legend.set_zorder(10)


def _figure_size(
    bounds: tuple[float, ...], size_in: tuple[float, float], *, lang: str
) -> tuple[float, float]:
    """The figure size: the map keeps the extent's shape at its latitude, plus legend and title.

    The map's height/width ratio is the extent's, clamped to ``_ASPECT_LIMITS``; the map is as
    large as fits in ``size_in`` once the legend column and the title row are set aside.
    """
    west, south, east, north = bounds
    ground_width = (east - west) * math.cos(math.radians((south + north) / 2))
    aspect = (north - south) / max(ground_width, 1e-12)
    aspect = min(max(aspect, _ASPECT_LIMITS[0]), _ASPECT_LIMITS[1])
    legend_in = _LEGEND_IN[lang]
    map_width = max(size_in[0] - legend_in, 1.0)
    map_height = max(size_in[1] - _TITLE_IN, 1.0)
    if map_height / map_width > aspect:
        map_height = map_width * aspect
    else:
        map_width = map_height / aspect
    return (round(map_width + legend_in, 3), round(map_height + _TITLE_IN, 3))


def _scale_bar(ax: Axes, bounds: tuple[float, ...], *, lang: str, texts: _Texts) -> None:
    """A metric scale bar in the lower left, its length measured on the ellipsoid."""
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    lat = y0 + (y1 - y0) * 0.06
    lon = x0 + (x1 - x0) * 0.05
    width_m = geod.inv(x0, lat, x1, lat)[2]
    length_m = nice_length(width_m / 4)
    end_lon = geod.fwd(lon, lat, 90.0, length_m)[0]
    tick = (y1 - y0) * 0.008
    ax.plot(
        [lon, end_lon], [lat, lat], color="#000000", linewidth=3, solid_capstyle="butt", zorder=9
    )
    for x in (lon, end_lon):
        ax.plot([x, x], [lat - tick, lat + tick], color="#000000", linewidth=1, zorder=9)
    label = _distance_text(length_m, lang)
    ax.text((lon + end_lon) / 2, lat + tick * 1.5, label, fontproperties=texts.props(label, 8),
            ha="center", va="bottom", zorder=9)  # fmt: skip
    ax.rivernet_scale_bar = (lon, end_lon, lat, length_m)  # type: ignore[attr-defined]


def nice_length(limit_m: float) -> float:
    """The largest 1, 2 or 5 x 10^k metres not above ``limit_m`` (at least 1 m)."""
    if limit_m < 1:
        return 1.0
    exponent = math.floor(math.log10(limit_m))
    best = 1.0
    for power in (exponent - 1, exponent):
        for step in _NICE:
            value = step * 10.0**power
            if value <= limit_m:
                best = max(best, value)
    return best


def _distance_text(length_m: float, lang: str) -> str:
    if length_m >= 1000:
        value = f"{length_m / 1000:g}"
        return messages.text("map.scale_km", lang, value=value)
    return messages.text("map.scale_m", lang, value=f"{length_m:g}")


def _north_arrow(ax: Axes, *, lang: str, texts: _Texts) -> None:
    """A north arrow in the upper right, wholly inside the frame (the y axis points north)."""
    ax.annotate(
        "", xy=(0.95, 0.89), xytext=(0.95, 0.80), xycoords="axes fraction", annotation_clip=False,
        arrowprops={"facecolor": "#000000", "width": 4, "headwidth": 12, "headlength": 10},
        zorder=9,
    )  # fmt: skip
    north = messages.text("map.north", lang)
    ax.text(0.95, 0.895, north, transform=ax.transAxes, ha="center", va="bottom", zorder=9,
            fontproperties=texts.props(north, 11, weight="bold"))  # fmt: skip


def _metadata(fmt: str, figure: Figure) -> dict[str, Any]:
    """File metadata: the extent, and no creation date (reproducible SVG/PDF files)."""
    extent = ",".join(f"{v:.6f}" for v in figure.rivernet_extent)  # type: ignore[attr-defined]
    if fmt == "png":
        return {"Description": f"rivernet map; extent (W,S,E,N) {extent}"}
    if fmt == "svg":
        return {"Date": None, "Description": f"rivernet map; extent (W,S,E,N) {extent}"}
    return {"CreationDate": None, "Subject": f"rivernet map; extent (W,S,E,N) {extent}"}
