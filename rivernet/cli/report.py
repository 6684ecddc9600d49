"""``rivernet report``: the printable report of one admin unit (HTML, or PDF via Chromium)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from rivernet.cli._options import as_of_option, require_unit
from rivernet.cli._output import note, output_option


@click.command("report")
@click.argument("project", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--unit", required=True, help="Admin code of the unit, e.g. 320583.")
@as_of_option()
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option(
    "--policy",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Coverage policy TOML file.",
)
@click.option("--no-maps", is_flag=True, help="Leave the maps out (faster, smaller).")
@output_option(
    suffixes=(".html", ".pdf"),
    default=Path("report.html"),
    show_default=True,
    help="Output file: .html, or .pdf when headless Chromium is installed.",
)
def report(
    project: Path,
    unit: str,
    as_of: dt.date | None,
    lang: str,
    policy: Path | None,
    no_maps: bool,
    output: Path,
) -> None:
    """Write the report of one unit of PROJECT: coverage, problems, cross-boundary rivers, maps."""
    from rivernet.layers.report import unit_report
    from rivernet.project import open_project

    loaded = open_project(project)
    unit = require_unit(loaded, unit, path=project)
    written = unit_report(
        loaded, unit=unit, as_of=as_of, lang=lang, path=output, policy=policy, maps=not no_maps
    )
    note(f"wrote the report of unit {unit} to {written}")


def register(group: click.Group) -> None:
    """Add ``report`` to the ``rivernet`` command group."""
    group.add_command(report)
