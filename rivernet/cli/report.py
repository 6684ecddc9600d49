"""``rivernet report``: the printable report of one admin unit (HTML, or PDF via Chromium)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("report")
@click.argument("project", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--unit", required=True, help="Admin code of the unit, e.g. 320583.")
@click.option(
    "--as-of", "as_of", default=None, help="Day of the roster (YYYY-MM-DD); default today."
)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option(
    "--policy",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Coverage policy TOML file.",
)
@click.option("--no-maps", is_flag=True, help="Leave the maps out (faster, smaller).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("report.html"),
    show_default=True,
    help="Output file: .html, or .pdf when headless Chromium is installed.",
)
@click.pass_context
def report(
    ctx: click.Context,
    project: Path,
    unit: str,
    as_of: str | None,
    lang: str,
    policy: Path | None,
    no_maps: bool,
    output: Path,
) -> None:
    """Write the report of one unit of PROJECT: coverage, problems, cross-boundary rivers, maps."""
    from rivernet.layers.report import unit_report
    from rivernet.project import open_project

    loaded = open_project(project)
    written = unit_report(
        loaded, unit=unit, as_of=as_of, lang=lang, path=output, policy=policy, maps=not no_maps
    )
    if not (ctx.obj or {}).get("quiet", False):
        click.echo(f"wrote {written}", err=True)


def register(group: click.Group) -> None:
    """Add ``report`` to the ``rivernet`` command group."""
    group.add_command(report)
