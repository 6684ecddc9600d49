"""``rivernet report``: the printable report of one admin unit, or the 一河一档 page of one named
river (HTML, or PDF via Chromium)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from rivernet import messages
from rivernet.cli._help import HelpCommand
from rivernet.cli._options import (
    PROJECT,
    UsageCommandError,
    as_of_option,
    lang_option,
    require_unit,
)
from rivernet.cli._output import note, output_option

WITHIN_KM = 20.0
"""Default of ``--within-km`` (the library's :data:`rivernet.layers.report.WITHIN_KM`)."""


@click.command("report", cls=HelpCommand)
@click.argument("project", type=PROJECT)
@click.option("--unit")
@click.option("--river")
@as_of_option()
@lang_option()
@click.option(
    "--policy",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
)
@click.option("--no-maps", is_flag=True)
@click.option(
    "--within-km",
    type=click.FloatRange(min=0),
    default=WITHIN_KM,
    show_default=True,
)
@click.option("--all-partners", is_flag=True)
@output_option(
    suffixes=(".html", ".pdf"),
    default=Path("report.html"),
    show_default=True,
)
def report(
    project: Path,
    unit: str | None,
    river: str | None,
    as_of: dt.date | None,
    lang: str,
    policy: Path | None,
    no_maps: bool,
    within_km: float,
    all_partners: bool,
    output: Path,
) -> None:
    """Write the report of one unit of PROJECT: coverage, problems, cross-boundary rivers, maps.

    With --river NAME instead of --unit: the river file page of that named river (its units,
    chiefs in office, problems, handover sections and a map).
    """
    from rivernet.layers.report import unit_report
    from rivernet.project import open_project

    if (unit is None) == (river is None):
        raise UsageCommandError.from_key("cli_more.unit_or_river")
    loaded = open_project(project)
    if river is not None:
        from rivernet.layers.river_report import river_report

        written = river_report(
            loaded, river=river, as_of=as_of, lang=lang, path=output, maps=not no_maps
        )
        note(messages.text("cli.wrote_river_report", lang, river=river, path=written))
        return
    assert unit is not None
    unit = require_unit(loaded, unit, path=project)
    written = unit_report(
        loaded, unit=unit, as_of=as_of, lang=lang, path=output, policy=policy, maps=not no_maps,
        within_km=None if all_partners else within_km,
    )  # fmt: skip
    note(messages.text("cli.wrote_report", lang, unit=unit, path=written))


def register(group: click.Group) -> None:
    """Add ``report`` to the ``rivernet`` command group."""
    group.add_command(report)
