"""``rivernet coverage`` and ``rivernet roster import/check/export``: the full-coverage commands."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click
import pandas as pd

from rivernet import messages
from rivernet._files import LOCK_TIMEOUT, project_lock
from rivernet.admin import LEVELS
from rivernet.cli._help import HelpCommand, HelpGroup
from rivernet.cli._options import PROJECT, CommandError, as_of_option, lang_option, require_unit
from rivernet.cli._output import (
    check_output_path,
    echo_json,
    json_option,
    note,
    output_option,
    text_table,
    write_table,
    write_tables,
)
from rivernet.errors import RosterError

LEVEL_CHOICE = click.Choice(LEVELS)


def register(group: click.Group) -> None:
    """Add the coverage, chiefs and roster commands to the ``rivernet`` group."""
    group.add_command(coverage)
    group.add_command(chiefs)
    group.add_command(roster)


@click.command(cls=HelpCommand)
@click.argument("project", type=PROJECT)
@as_of_option()
@click.option("--unit")
@click.option("--level", type=LEVEL_CHOICE)
@click.option(
    "--policy",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@output_option(
    suffixes=(".gpkg", ".xlsx", ".csv"),
)
@json_option
@lang_option()
def coverage(
    project: Path,
    as_of: dt.date | None,
    unit: str | None,
    level: str | None,
    policy: Path | None,
    output: Path | None,
    as_json: bool,
    lang: str,
) -> None:
    """Audit full coverage of PROJECT's roster and print the summary per unit."""
    from rivernet.coverage import _within, coverage_gaps, coverage_summary
    from rivernet.problems import coverage_problems
    from rivernet.project import open_project

    opened = open_project(project, policy=policy)  # None: the project's own policy
    if unit is not None:
        unit = require_unit(opened, unit, path=project)
    summary = coverage_summary(opened, as_of=as_of, unit=unit, level=level)
    if output is not None:
        gaps = coverage_gaps(opened, as_of=as_of)
        problems = coverage_problems(opened, as_of=as_of, lang=lang)
        if level is not None:
            gaps, problems = gaps[gaps["level"] == level], problems[problems["level"] == level]
        if unit is not None:
            gaps = gaps[_within(gaps["unit_code"], unit)]
            problems = problems[_within(problems["unit_code"], unit)]
        tables = {"coverage_summary": summary, "coverage_gaps": gaps, "coverage_problems": problems}
        files = write_tables(tables, output)
        note(messages.text("cli_wrote.coverage", lang, summary=len(summary), gaps=len(gaps),
                           problems=len(problems), files=", ".join(map(str, files))))  # fmt: skip
    if as_json:
        echo_json(summary)
    else:
        click.echo(format_summary(summary, lang=lang))


@click.command(cls=HelpCommand)
@click.argument("project", type=PROJECT)
@click.option("--reach")
@click.option("--measure-m", type=float)
@click.option("--lon", type=float)
@click.option("--lat", type=float)
@click.option("--max-snap-m", type=float, default=1000.0, show_default=True)
@as_of_option()
@output_option()
@json_option
@lang_option()
def chiefs(
    project: Path,
    reach: str | None,
    measure_m: float | None,
    lon: float | None,
    lat: float | None,
    max_snap_m: float,
    as_of: dt.date | None,
    output: Path | None,
    as_json: bool,
    lang: str,
) -> None:
    """Every chief responsible at a reach (--reach) or a point (--lon/--lat), province first."""
    from rivernet.chiefs import chiefs_at
    from rivernet.project import open_project

    at_point = lon is not None or lat is not None
    if (reach is not None) == at_point:
        raise CommandError.from_key("cli_error.reach_or_point")
    opened = open_project(project)
    target: object
    if reach is not None:
        target = int(reach) if reach.lstrip("-").isdigit() else reach
    elif lon is None or lat is None:
        raise CommandError.from_key("cli_error.reach_or_point")
    else:
        import geopandas as gpd
        from shapely import Point

        point = gpd.GeoSeries([Point(lon, lat)], crs="EPSG:4326").to_crs(opened.network.crs)
        target = point.iloc[0]
    found = chiefs_at(opened, target, as_of=as_of, measure_m=measure_m, max_distance_m=max_snap_m)
    result = found
    if output is not None:
        note(write_table(result, output, what="chiefs"))
    if as_json:
        echo_json(result)
        return
    columns = ["level", "role", "person", "post", "unit_code", "unit_name", "reach_id"]
    if result["river_name"].notna().any():
        columns.append("river_name")
    if not len(result):
        click.echo(messages.text("cli.no_chief_here", lang))
        return
    shown = result.assign(river_name=result["river_name"].fillna(""))
    click.echo(text_table(shown.rename(columns={"name": "person"}), columns, lang, limit=None))


def format_summary(summary: pd.DataFrame, *, lang: str = "zh") -> str:
    """The summary table as aligned text (lengths in km), in ``lang``."""
    if summary.empty:
        return messages.text("cli.nothing_required", lang)
    table = summary.assign(
        required_km=(summary["required_m"] / 1000).round(1),
        covered_km=(summary["covered_m"] / 1000).round(1),
    )
    columns = ["unit_code", "unit_name", "level", "required_km", "covered_km", "coverage_pct",
               "gaps", "overlaps", "expired"]  # fmt: skip
    return text_table(table, columns, lang, limit=None)


@click.group(cls=HelpGroup)
@lang_option(group=True)
def roster(lang: str | None) -> None:
    """Import, check and export chief rosters (CSV or Excel, Chinese or English headers)."""


@roster.command("import")
@click.argument("project", type=PROJECT)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sheet")
@click.option(
    "--replace",
    is_flag=True,
)
@click.option("--dry-run", is_flag=True)
@click.option(
    "--lock-timeout",
    type=float,
    default=LOCK_TIMEOUT,
    show_default=True,
)
@lang_option()
def import_roster(
    project: Path | str,
    file: Path,
    sheet: str | None,
    replace: bool,
    dry_run: bool,
    lock_timeout: float,
    lang: str,
) -> None:
    """Validate FILE against PROJECT and store it as the project's roster (all or nothing).

    FILE's companion tables (sheets or NAME.boards.csv / NAME.units.csv / NAME.people.csv, see
    `rivernet roster export`) are imported too; tables FILE lacks are kept from the project.
    The changes (added, ended, removed, per unit) are printed first; an import that would
    remove more than 10 % of the current assignments needs --replace.
    """
    from rivernet.edits import import_roster as store_import
    from rivernet.roster import REMOVAL_LIMIT, carry_over, read_roster, roster_changes
    from rivernet.store import open_store

    store = open_store(project)
    with _import_lock(store, lock_timeout):  # the whole read-check-write
        opened = store.read_project()
        current = opened.roster
        new, notes = carry_over(read_roster(file, project=opened, sheet=sheet), current)
        changes = roster_changes(current, new)
        click.echo(
            format_changes(
                changes, total=0 if current is None else len(current.assignments), lang=lang
            )
        )
        for note in notes:
            click.echo(messages.render(note, lang))
        removed = int(changes["removed"].sum())
        total = 0 if current is None else len(current.assignments)
        too_many = bool(total) and removed > REMOVAL_LIMIT * total
        if dry_run:
            needs = messages.text("cli.roster_needs_replace", lang) if too_many else ""
            click.echo(messages.text("cli.roster_dry_run", lang, project=project) + needs)
            return
        if too_many and not replace:
            raise CommandError.from_key(
                "cli_error.import_removes", file=file.name, removed=removed, total=total,
                share=f"{removed / total:.0%}", limit=f"{REMOVAL_LIMIT:.0%}",
            )  # fmt: skip
        store_import(store, new, reason=f"import {file.name}", lock_timeout=lock_timeout)
    click.echo(
        messages.text(
            "cli.roster_imported", lang, assignments=len(new.assignments), people=len(new.people),
            boards=len(new.boards), units=len(new.units), file=file.name, project=project,
        )
    )  # fmt: skip


def _import_lock(store: Any, timeout: float) -> Any:
    """One import at a time: the project file's lock, or the database's import lock."""
    from rivernet.store import GeoPackageStore

    if isinstance(store, GeoPackageStore):
        return project_lock(store.path, timeout=timeout)
    return store.import_lock()


def format_changes(changes: pd.DataFrame, *, total: int, limit: int = 20, lang: str = "zh") -> str:
    """The changes of an import as text: totals, then the units with changes.

    Parameters
    ----------
    changes
        :func:`rivernet.roster.roster_changes`.
    total
        How many assignments the project holds now.
    limit
        How many units to list.
    lang
        ``"zh"`` or ``"en"``.

    Returns
    -------
    str
        The summary.
    """
    sums = {c: int(changes[c].sum()) for c in ("added", "ended", "removed", "kept")}
    lines = [messages.text("cli.roster_changes", lang, total=total, **sums)]
    changed = changes[changes[["added", "ended", "removed"]].sum(axis=1) > 0]
    if len(changed):
        lines.append(text_table(changed, list(changed.columns), lang, limit=limit))
    return "\n".join(lines)


@roster.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--project",
    type=PROJECT,
)
@click.option("--sheet")
@lang_option()
def check_roster(file: Path, project: Path | None, sheet: str | None, lang: str) -> None:
    """Check a roster FILE and list every problem with its row number."""
    from rivernet.project import open_project
    from rivernet.roster import read_roster

    opened = open_project(project) if project is not None else None
    try:
        checked = read_roster(file, project=opened, sheet=sheet)
    except RosterError as error:
        click.echo(error.text(lang), err=True)
        raise SystemExit(1) from None
    click.echo(
        messages.text(
            "cli.roster_ok", lang, file=file.name, assignments=len(checked.assignments),
            people=len(checked.people),
        )
    )  # fmt: skip


@roster.command("export")
@click.argument("project", type=PROJECT)
@output_option(
    suffixes=(".csv", ".xlsx"),
)
@json_option
@click.option("--include-contact", is_flag=True)
@lang_option()
def export_roster(
    project: Path, output: Path | None, as_json: bool, include_contact: bool, lang: str
) -> None:
    """Write PROJECT's roster, one row per assignment, to a .csv or .xlsx file (or --json).

    The people, sign boards and units go with it: as the sheets people, boards and
    units of a workbook, or as NAME.people.csv, NAME.boards.csv and NAME.units.csv beside
    NAME.csv. Cells that a spreadsheet would run as formulas get a protective leading quote.
    With --json, the assignments (one record each, with the person's details) are printed.
    """
    from rivernet.project import open_project
    from rivernet.roster import export_roster as export

    if output is None and not as_json:
        raise CommandError.from_key("cli_error.export_needs_output")
    roster = open_project(project).require_roster()
    if output is not None:
        check_output_path(output, suffixes=(".csv", ".xlsx"))  # the library creates folders
        export(roster, output, include_contact=include_contact)
        counts = {"assignments": len(roster.assignments), "boards": len(roster.boards),
                  "units": len(roster.units)}  # fmt: skip
        note(messages.text("cli_wrote.roster", lang, path=output, **counts))
    if as_json:
        echo_json(roster.to_frame(include_contact=include_contact))
