"""``rivernet crossings``, ``boundary-rivers``, ``partners`` and ``incident``: cross-boundary work.

Each command reads a project file, prints a readable table in Chinese (``--lang zh``, the
default) or English, with ``--output`` writes the full result as CSV, Excel, GeoJSON or
GeoPackage (the suffix chooses), and with ``--json`` prints it as JSON instead of the table.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click
import pandas as pd

from rivernet import messages
from rivernet.admin import POLYGON_LEVELS
from rivernet.cli._help import HelpCommand
from rivernet.cli._options import PROJECT, CommandError, as_of_option, lang_option, require_unit
from rivernet.cli._output import (
    echo_json,
    json_option,
    json_value,
    note,
    output_option,
    text_table,
)
from rivernet.cli._output import write_table as write_output

LEVEL_CHOICE = click.Choice(POLYGON_LEVELS)


def _project(path: Path) -> Any:
    from rivernet.project import open_project

    return open_project(path)


def _table(frame: pd.DataFrame, columns: list[str], lang: str, *, limit: int = 40) -> str:
    """A readable plain-text table of some columns, headed in the chosen language."""
    return text_table(frame, columns, lang, limit=limit)


def _named(frame: pd.DataFrame) -> list[str]:
    """``["river_name"]`` when some row names its river (the project has named rivers)."""
    names = frame["river_name"] if "river_name" in frame.columns else pd.Series(dtype=object)
    return ["river_name"] if (names.notna() & (names != "")).any() else []


def _blank_names(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with missing river names shown blank."""
    if "river_name" not in frame.columns:
        return frame
    return frame.assign(
        river_name=frame["river_name"].astype(object).where(frame["river_name"].notna(), "")
    )


def _write(frame: pd.DataFrame, output: Path | None, lang: str, *, what: str = "rows") -> None:
    """Write the full result to ``output`` (if given) and say so in one line."""
    if output is None:
        return
    note(write_output(frame, output, what=what))


_PROJECT = click.argument("project", type=PROJECT)
_OUTPUT = output_option()
_LANG = lang_option()
_AS_OF = as_of_option()


@click.command(cls=HelpCommand)
@_PROJECT
@click.option("--level", type=LEVEL_CHOICE, default="province", show_default=True)
@click.option("--no-lakes", is_flag=True)
@click.option("--merge-within-m", type=click.FloatRange(min=0.0), default=1000.0,
              show_default=True)  # fmt: skip
@_AS_OF
@_OUTPUT
@json_option
@_LANG
def crossings(
    project: Path,
    level: str,
    no_lakes: bool,
    merge_within_m: float,
    as_of: dt.date | None,
    output: Path | None,
    as_json: bool,
    lang: str,
) -> None:
    """List the handover sections where rivers cross unit boundaries.

    A river that crosses a boundary and crosses back within --merge-within-m metres (along
    the river) is one section; its passes are listed in the pass_ids column.
    """
    from rivernet.boundary import crossings as find_crossings

    result = find_crossings(
        _project(project), level=level, as_of=as_of, include_lakes=not no_lakes,
        merge_within_m=merge_within_m,
    )  # fmt: skip
    _write(result, output, lang, what="handover sections")
    if as_json:
        echo_json(result)
        return
    pairs = result.groupby(["upstream_name", "downstream_name"]).size()
    passes = int(result["passes"].sum())
    click.echo(
        messages.text(
            "cli.crossings_count",
            lang,
            n=len(result),
            level=messages.level(level, lang),
            passes=passes,
        )
    )
    for (up, down), count in pairs.items():
        click.echo(f"  {up} → {down}: {count}")
    click.echo(
        _table(result, ["crossing_id", "reach_id", "upstream_name", "downstream_name",
                        "responsible_name", "passes", "in_lake", "upstream_chiefs",
                        "downstream_chiefs"], lang)
    )  # fmt: skip


@click.command("boundary-rivers", cls=HelpCommand)
@_PROJECT
@click.option("--level", type=LEVEL_CHOICE, default="province", show_default=True)
@click.option("--tolerance-m", type=float, default=250.0, show_default=True)
@click.option("--rule", type=click.Choice(["split_by_bank", "split_by_length", "escalate"]))
@_OUTPUT
@json_option
@_LANG
def boundary_rivers(
    project: Path,
    level: str,
    tolerance_m: float,
    rule: str | None,
    output: Path | None,
    as_json: bool,
    lang: str,
) -> None:
    """List boundary rivers: stretches with each bank in a different unit."""
    from rivernet.boundary import boundary_rivers as find_rivers

    result = find_rivers(_project(project), level=level, tolerance_m=tolerance_m, rule=rule)
    _write(result, output, lang, what="boundary-river stretches")
    if as_json:
        echo_json(result)
        return
    km = float(result["length_m"].sum()) / 1000.0
    click.echo(messages.text("cli.boundary_count", lang, n=len(result), km=f"{km:.1f}"))
    shown = result.assign(responsible=_responsible(result, lang))
    click.echo(
        _table(shown, ["reach_id", "left_name", "right_name", "length_m", "rule", "responsible",
                       "ambiguous"], lang)
    )  # fmt: skip


def _one_subject(unit: str | None, chief: str | None, reach: str | None) -> None:
    """Refuse more than one of --unit, --chief and --reach."""
    given = [name for name, value in (("unit", unit), ("chief", chief), ("reach", reach))
             if value is not None]  # fmt: skip
    if len(given) > 1:
        flags = [messages.Message("err_cli_boundary.flag", name=name) for name in given]
        raise CommandError.from_key("err_cli_boundary.one_subject", given=messages.items(flags))


@click.command(cls=HelpCommand)
@_PROJECT
@click.option("--unit")
@click.option("--chief")
@click.option("--reach")
@click.option("--level", type=LEVEL_CHOICE)
@click.option("--distance-km", type=float)
@_AS_OF
@_OUTPUT
@json_option
@_LANG
def partners(
    project: Path,
    unit: str | None,
    chief: str | None,
    reach: str | None,
    level: str | None,
    distance_km: float | None,
    as_of: dt.date | None,
    output: Path | None,
    as_json: bool,
    lang: str,
) -> None:
    """Joint-control partners of a unit, chief or reach; without one, the pair summary."""
    from rivernet.joint_control import partner_summary
    from rivernet.joint_control import partners as find_partners

    opened = _project(project)
    if unit is not None:
        unit = require_unit(opened, unit, path=project)
    if unit is None and chief is None and reach is None:
        summary = partner_summary(opened, level=level or "province", as_of=as_of)
        _write(summary, output, lang, what="unit pairs")
        if as_json:
            echo_json(summary)
            return
        column = "summary_zh" if lang == "zh" else "summary_en"
        for line in summary[column]:
            click.echo(line)
        return
    _one_subject(unit, chief, reach)
    reach_id: Any = None
    if reach is not None:
        reach_id = int(reach) if reach.lstrip("-").isdigit() else reach
    result = find_partners(
        opened, unit=unit, chief=chief, reach=reach_id, level=level,
        distance_km=distance_km, as_of=as_of,
    )  # fmt: skip
    _write(result, output, lang, what="partners")
    if as_json:
        echo_json(result)
        return
    columns = ["unit_name", "relation", "partner_name", "river_id", *_named(result),
               "distance_km", "crossing_id", "partner_chiefs"]  # fmt: skip
    if reach_id is not None:  # the reach is the subject: its own units are the 本河段 rows
        click.echo(messages.text("pair.reach_partners", lang, reach=reach_id))
        columns = columns[1:]
    click.echo(_table(_blank_names(result), columns, lang))


@click.command(cls=HelpCommand)
@_PROJECT
@click.option("--reach")
@click.option(
    "--measure-m",
    type=float,
)
@click.option("--lon", type=float)
@click.option("--lat", type=float)
@click.option("--distance-km", type=float)
@click.option("--velocity", "velocity_m_s", type=float)
@click.option("--max-snap-m", type=float, default=1000.0, show_default=True)
@click.option("--include-contact", is_flag=True)
@_AS_OF
@output_option()
@json_option
@_LANG
def incident(
    project: Path,
    reach: str | None,
    measure_m: float | None,
    lon: float | None,
    lat: float | None,
    distance_km: float | None,
    velocity_m_s: float | None,
    max_snap_m: float,
    include_contact: bool,
    as_of: dt.date | None,
    output: Path | None,
    as_json: bool,
    lang: str,
) -> None:
    """Route a pollution incident: which chiefs to call, in order, and when it arrives.

    "Pollution enters reach 40652917 and flows into Jiangsu: which chiefs do I call, in
    order, and when does it arrive?" is

    \b
        rivernet incident data/sample/taihu.gpkg --reach 40652917 --velocity 0.5 -o calls.xlsx

    The call list starts with the chiefs of the incident's reach (the same as `rivernet chiefs
    --reach`), then, in flow order, the chiefs of every unit the plume enters, with the
    distance and the arrival time (distance / velocity). A unit with nobody of its level
    assigned where the plume enters is called through its general chief (basis "unit"). -o
    writes the call list; contacts only with --include-contact. Also printed: the handover
    sections passed and the units upstream to check.
    """
    import geopandas as gpd
    from shapely import Point

    from rivernet.incidents import incident as route

    if (reach is None) == (lon is None and lat is None) or (lon is None) != (lat is None):
        raise CommandError.from_key("cli_error.reach_or_point")
    if measure_m is not None and reach is None:
        raise CommandError.from_key("cli_error.measure_needs_reach")
    point: Any = None
    reach_id: Any = None
    if reach is not None:
        reach_id = int(reach) if reach.lstrip("-").isdigit() else reach
    elif lon is not None and lat is not None:
        point = gpd.GeoSeries([Point(lon, lat)], crs="EPSG:4326")  # to the network's CRS
    report = route(
        _project(project), point, reach=reach_id, measure_m=measure_m, distance_km=distance_km,
        as_of=as_of, velocity_m_s=velocity_m_s, max_snap_m=max_snap_m,
        include_contact=include_contact,
    )  # fmt: skip
    _write(report.call_list, output, lang, what="chiefs to call")
    snapped = report.snapped
    if as_json:
        body = {
            "snapped": {key: _scalar(value) for key, value in dict(snapped).items()},
            "notify": json_value(report.notify),
            "sections": json_value(report.sections),
            "upstream": json_value(report.upstream),
            "call_list": json_value(report.call_list),
        }
        click.echo(json.dumps(body, ensure_ascii=False, indent=1))
        return
    where = f"{snapped['measure_m']:.0f}" if reach is None or measure_m is not None else "0"
    snap = f"{snapped['distance_m']:.0f}" if reach is None else ""
    click.echo(
        messages.text("cli.incident_at", lang, reach=snapped["reach_id"], measure=where)
        + (messages.text("cli.incident_snap", lang, distance=snap) if snap else "")
    )
    click.echo("\n" + messages.text("cli.call_list", lang))
    timing = ["distance_km", "arrival_h"] if velocity_m_s is not None else ["distance_km"]
    level = "level"
    calls = _blank_names(report.call_list).rename(columns={"name": "person"})
    click.echo(
        _table(calls, ["order", "unit_name", level, "role", "person", "post", *_named(calls),
                       *timing,
                       *(["contact"] if include_contact else [])], lang, limit=60)
    )  # fmt: skip
    click.echo("\n" + messages.text("cli.notify", lang))
    columns = ["order", level, "unit_name", *timing]
    click.echo(_table(report.notify, [*columns, "chiefs"], lang))
    click.echo("\n" + messages.text("cli.sections_passed", lang))
    click.echo(
        _table(report.sections, ["crossing_id", "level", "upstream_name", "downstream_name",
                                 "distance_km"], lang)
    )  # fmt: skip
    click.echo("\n" + messages.text("cli.check_upstream", lang))
    click.echo(_table(report.upstream, ["level", "unit_name", "distance_km", "chiefs"], lang))


def _responsible(stretches: pd.DataFrame, lang: str) -> list[str]:
    """Who answers for each boundary-river stretch, in words (bank split named per bank)."""
    texts = []
    for row in stretches.itertuples(index=False):
        if getattr(row, "rule", None) == "split_by_bank":
            texts.append(
                messages.text(
                    "cli.responsible_bank", lang, left=row.left_name, right=row.right_name
                )
            )
        else:
            texts.append(str(getattr(row, "responsible", "") or ""))
    return texts


def _scalar(value: Any) -> Any:
    """A JSON-ready value (numpy scalars become Python numbers)."""
    if hasattr(value, "item"):
        return value.item()
    return value if isinstance(value, int | float | str | bool | None) else str(value)


def register(group: click.Group) -> None:
    """Add the cross-boundary commands to the ``rivernet`` group."""
    for command in (crossings, boundary_rivers, partners, incident):
        group.add_command(command)
