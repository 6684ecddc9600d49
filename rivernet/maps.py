"""Maps and reports at the top level: ``explore``, ``render`` and ``unit_report``.

Thin wrappers around the renderers in the ``layers`` package (interactive folium maps, static
images, printable reports). Data flows files -> rivernet -> layers, so ``rivernet`` never imports
``layers`` at import time: each wrapper imports its renderer when called.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import folium
    import geopandas as gpd

    from rivernet.project import Project

__all__ = ["explore", "render", "unit_report"]


def explore(
    data: Project | gpd.GeoDataFrame,
    *,
    layer: str = "coverage",
    as_of: dt.date | str | None = None,
    level: str = "county",
    lang: str = "zh",
    **options: Any,
) -> folium.Map:
    """An interactive, offline folium map of a catalog layer of a project or of a result.

    Parameters
    ----------
    data
        A project, or a result GeoDataFrame drawn with the symbols of catalog layer ``layer``
        (for example ``explore(rivernet.coverage_gaps(project), layer="coverage_gaps")``).
    layer
        A catalog layer id: ``coverage``, ``coverage_gaps``, ``crossings``,
        ``boundary_rivers``, ``reaches``, ``lakes`` or ``admin_units``.
    as_of
        Date for roster-dependent layers; default today.
    level
        Admin level for level-dependent layers.
    lang
        ``"zh"`` (default) or ``"en"``.
    **options
        More keyword options of :func:`layers.folium.explore` (``policy``, ``offline``,
        ``max_inline_features``, ``server_url``, ``context``, ``simplify_m``, ``height``).

    Returns
    -------
    folium.Map
        The map; display it in Jupyter or ``.save("map.html")``.
    """
    from layers.folium import explore as explore_layer

    return explore_layer(data, layer=layer, as_of=as_of, level=level, lang=lang, **options)


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
    **options: Any,
) -> Path:
    """Draw a catalog layer to a PNG, SVG or PDF file with title, legend, scale bar and north arrow.

    Parameters
    ----------
    data
        A project or a result GeoDataFrame.
    layer
        A catalog layer id.
    extent
        A unit code, a ``(west, south, east, north)`` box in degrees, or None for everything.
    path
        The file to write (``.png``, ``.svg`` or ``.pdf``).
    as_of
        Date for roster-dependent layers; default today.
    level
        Admin level for level-dependent layers.
    lang
        ``"zh"`` (default) or ``"en"``.
    title
        The map title; default from the unit, layer, level and date.
    **options
        More keyword options of :func:`layers.static.render` (``policy``, ``font``,
        ``size_in``, ``dpi``, ``project``).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    from layers.static import render as render_layer

    return render_layer(
        data, layer=layer, extent=extent, path=path, as_of=as_of, level=level, lang=lang,
        title=title, **options,
    )  # fmt: skip


def unit_report(
    project: Project,
    *,
    unit: str,
    as_of: dt.date | str | None = None,
    lang: str = "zh",
    path: str | Path = "report.html",
    **options: Any,
) -> Path:
    """Write the printable report of one admin unit (HTML, or PDF with headless Chromium).

    Parameters
    ----------
    project
        The project.
    unit
        The unit's code.
    as_of
        The day; default today.
    lang
        ``"zh"`` (default) or ``"en"``.
    path
        ``.html`` or ``.pdf`` file to write.
    **options
        More keyword options of :func:`layers.report.unit_report` (``policy``, ``maps``).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    from layers.report import unit_report as write_report

    return write_report(project, unit=unit, as_of=as_of, lang=lang, path=path, **options)
