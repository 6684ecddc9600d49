"""``rivernet tiles``: the map's vector tiles as one PMTiles archive, or a static web map site.

``rivernet tiles PROJECT -o map.pmtiles`` writes the tiles the server serves (every map layer
the project can draw, merged per tile) for a zoom range; ``-o DIR --site`` writes a folder that
any static web server can publish (archive, style, page, vendored MapLibre and pmtiles JS).
The archive is written to a temporary file and renamed into place; an existing file (or site)
is replaced only with ``--force``.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import click

from rivernet import messages
from rivernet.cli._help import HelpCommand
from rivernet.cli._options import (
    PROJECT,
    CommandError,
    UsageCommandError,
    as_of_option,
    lang_option,
)
from rivernet.cli._output import note
from rivernet.messages import Message

_LEVELS = ("province", "city", "county", "township", "village")


def _layer_list(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise click.BadParameter(Message("cli_more.layers_empty"))
    return names


def _bbox(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        numbers = tuple(float(v) for v in value.split(","))
    except ValueError:
        numbers = ()
    if len(numbers) != 4:
        raise click.BadParameter(Message("cli_more.bbox", value=repr(value)))
    return numbers


def _check_output(output: Path, *, site: bool) -> None:
    """One-line errors for an output that cannot be written, before any work is done."""
    if site:
        if output.exists() and not output.is_dir():
            raise CommandError.from_key("cli_more.site_is_file", path=output)
        probe = output if output.exists() else output.absolute().parent
    else:
        if output.suffix.lower() != ".pmtiles":
            raise CommandError.from_key("cli_more.name_pmtiles", path=output)
        if output.is_dir():
            raise CommandError.from_key("cli_more.is_folder", path=output)
        probe = output.absolute().parent
    if not probe.is_dir():
        raise CommandError.from_key("cli_more.no_folder", path=output, folder=probe)
    if not os.access(probe, os.W_OK | os.X_OK):
        raise CommandError.from_key("cli_more.not_writable", path=output)


@click.command("tiles", cls=HelpCommand)
@click.argument("project", type=PROJECT)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    metavar="FILE|DIR",
)
@click.option("--minzoom", type=click.IntRange(0, 14), default=0, show_default=True)
@click.option(
    "--maxzoom",
    type=click.IntRange(0, 14),
    default=12,
    show_default=True,
)
@click.option(
    "--layers",
    callback=_layer_list,
    metavar="A,B",
)
@click.option("--bbox", callback=_bbox, metavar="W,S,E,N")
@as_of_option()
@click.option(
    "--level",
    type=click.Choice(_LEVELS),
    default="county",
    show_default=True,
)
@click.option("--site", is_flag=True)
@lang_option()
@click.option("--force", is_flag=True)
@click.pass_context
def tiles(
    ctx: click.Context,
    project: Path,
    output: Path,
    minzoom: int,
    maxzoom: int,
    layers: list[str] | None,
    bbox: tuple[float, ...] | None,
    as_of: dt.date | None,
    level: str,
    site: bool,
    lang: str,
    force: bool,
) -> None:
    """Write the vector tiles of PROJECT to a PMTiles archive (or, with --site, a static map).

    The archive holds every chosen layer in each tile, as the server's tiles do; GDAL and QGIS
    read it, and MapLibre shows it through the pmtiles protocol. A site folder (index.html,
    style.json, map.pmtiles, vendor/) works offline from any static web server that answers
    HTTP range requests (nginx, Apache, Caddy, object storage).
    """
    from rivernet.layers.pmtiles import write_pmtiles, write_site
    from rivernet.project import open_project

    if minzoom > maxzoom:
        raise UsageCommandError.from_key("cli_more.zoom_order", minzoom=minzoom, maxzoom=maxzoom)
    _check_output(output, site=site)
    if not site and output.exists() and not force:
        raise CommandError.from_key("cli_more.exists", path=output)
    quiet = bool((ctx.obj or {}).get("quiet"))
    loaded = open_project(project)
    options: dict[str, Any] = {
        "layers": layers,
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bbox": bbox,
        "as_of": as_of,
        "level": level,
        "progress": not quiet,
    }
    if site:
        summary = write_site(loaded, output, force=force, lang=lang, **options)
    else:
        summary = write_pmtiles(loaded, output, force=force, **options)
    from rivernet.layers.catalog import layer

    titles = [layer(name).title(lang) for name in summary.layers]
    wrote = messages.text("cli_more.tiles_wrote", lang, path=summary.path, tiles=summary.tiles,
                          minzoom=summary.minzoom, maxzoom=summary.maxzoom,
                          size=f"{summary.bytes / 1e6:.1f}",
                          layers=messages.items(titles, limit=50))  # fmt: skip
    note(wrote)
    if site:
        note(messages.text("cli_more.site_publish", lang, path=output))


def register(group: click.Group) -> None:
    """Add ``tiles`` to the ``rivernet`` command group."""
    group.add_command(tiles)
