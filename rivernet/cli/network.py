"""``rivernet check``, ``rivernet navigate`` and ``rivernet info``: the network commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pandas as pd
import pyogrio

from rivernet import messages
from rivernet.cli._help import HelpCommand
from rivernet.cli._options import FILE_OR_STORE, current_lang, lang_option
from rivernet.cli._output import echo_json, json_option, note, output_option, write_table
from rivernet.errors import InputError
from rivernet.io import DOWNSTREAM_COLUMNS
from rivernet.messages import Message, items
from rivernet.network import RiverNetwork


def load_network(
    path: Path,
    *,
    layer: str | None = None,
    id_column: str | None = None,
    downstream_column: str | None = None,
    outlet_value: str | None = None,
    crs: str | None = None,
    quiet: bool = True,
) -> RiverNetwork:
    """Read a project file or a line file and build its network.

    Parameters
    ----------
    path
        A project GeoPackage (with a ``reaches`` layer) or a shapefile/GeoJSON/GeoPackage of
        reach lines.
    layer
        Layer to read from a multi-layer file.
    id_column, downstream_column
        Column names; detected from well-known names (HydroRIVERS, NHDPlus, project files)
        when omitted. Without a downstream column, topology comes from shared endpoints.
    outlet_value
        Downstream value that marks an outlet (default 0, or -1 for TauDEM-style tables).
    crs
        CRS to assume when the file declares none.
    quiet
        Hide the progress bar (its labels are in the running command's ``--lang``).

    Returns
    -------
    RiverNetwork
        The network (not yet validated).
    """
    from tqdm import tqdm

    from rivernet.io import read_lines
    from rivernet.project import read_meta

    def label(step: str) -> str:
        return messages.text(f"build_step.{step}", current_lang())

    with tqdm(total=2, desc=label("reading"), disable=quiet, unit="step") as bar:
        is_project = path.suffix.lower() == ".gpkg" and layer is None and _has_reaches(path)
        if is_project:
            meta = read_meta(path)
            id_column = id_column or meta["id_column"]
            downstream_column = downstream_column or meta["downstream_column"]
            outlet_value = outlet_value or meta["outlet_values"].split(",")[0]
        lines = read_lines(path, layer="reaches" if is_project else layer, crs=crs)
        bar.update()
        bar.set_description(label("building_network"))
        id_column, downstream_column, default_outlet = _columns(lines, id_column, downstream_column)
        if downstream_column is None or id_column is None:
            net = RiverNetwork.from_lines(lines, id_column=id_column)
        else:
            outlet = _outlet(outlet_value, default_outlet, lines[downstream_column])
            net = RiverNetwork.from_downstream_ids(
                lines,
                id_column=id_column,
                downstream_column=downstream_column,
                outlet_values=(outlet,),
            )
        bar.update()
    return net


def _is_project(path: Path, options: dict[str, Any]) -> bool:
    """Whether ``check`` should check a whole project: a .gpkg given without --layer.

    A damaged GeoPackage counts, so that its damage is reported as a finding.
    """
    if path.suffix.lower() != ".gpkg" or options.get("layer") is not None:
        return False
    try:
        return "reaches" in {str(name) for name, _ in pyogrio.list_layers(path)}
    except Exception:  # unreadable: the project check reports why
        return True


def _has_reaches(path: Path) -> bool:
    """Whether a GeoPackage has a ``reaches`` layer (i.e. is a project file)."""
    try:
        return "reaches" in {str(name) for name, _ in pyogrio.list_layers(path)}
    except Exception:  # not readable as a GeoPackage: read_lines will say why
        return False


def _columns(
    lines: Any, id_column: str | None, downstream_column: str | None
) -> tuple[str | None, str | None, int]:
    """The id and downstream columns to use, detected when not given."""
    for ident, down, outlet in DOWNSTREAM_COLUMNS:
        wanted = id_column in (None, ident) and downstream_column in (None, down)
        if wanted and ident in lines.columns and down in lines.columns:
            return ident, down, outlet
    for given in (id_column, downstream_column):
        if given is not None and given not in lines.columns:
            names = [Message("err_core.code", name=str(c)) for c in lines.columns]
            raise InputError.from_key(
                "err_cli_network.no_column", column=repr(given),
                columns=items(names, limit=len(names)),
            )  # fmt: skip
    return id_column, downstream_column, 0


def _outlet(value: str | None, default: int, column: Any) -> Any:
    """The outlet value, cast to the type of the downstream column."""
    if value is None:
        return default
    if column.dtype.kind in "iu":
        try:
            return int(value)
        except ValueError as error:
            raise InputError.from_key(
                "err_cli_network.outlet_not_integer", value=repr(value)
            ) from error
    return value


def _file_options(func: Any) -> Any:
    """Options shared by the commands that read a network file."""
    options = [
        click.option("--layer"),
        click.option("--id-column"),
        click.option("--downstream-column"),
        click.option("--outlet-value"),
        click.option("--crs"),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.command(cls=HelpCommand)
@click.argument("path", type=FILE_OR_STORE)
@_file_options
@click.option("--json", "as_json", is_flag=True)
@output_option(
    suffixes=(".csv", ".xlsx", ".gpkg"),
)
@lang_option()
@click.pass_context
def check(
    ctx: click.Context,
    path: Path,
    as_json: bool,
    output: Path | None,
    lang: str,
    **options: Any,
) -> None:
    """Validate a project or network file; exit status 1 when it has errors.

    A project GeoPackage (a file with a ``reaches`` layer, without --layer) is checked whole:
    reaches, admin units, lakes, policy and roster.
    """
    if _is_project(path, options):
        from rivernet.project import check_project

        report = check_project(path)
    else:
        report = load_network(path, quiet=ctx.obj["quiet"], **options).validate()
    if output is not None:
        note(write_table(findings_table(report, lang), output, what="findings"))
    click.echo(report.to_json(lang=lang) if as_json else report_text(report, lang))
    if not report.ok:
        ctx.exit(1)


@click.command(cls=HelpCommand)
@click.argument("path", type=FILE_OR_STORE)
@_file_options
@click.option("--reach", "reach", required=True)
@click.option(
    "--mode",
    type=click.Choice(["UT", "UM", "DM", "DD"]),
    default="UT",
    show_default=True,
)
@click.option("--distance-km", type=float)
@output_option()
@json_option
@click.pass_context
@lang_option()
def navigate(
    ctx: click.Context,
    path: Path,
    reach: str,
    mode: str,
    distance_km: float | None,
    output: Path | None,
    as_json: bool,
    lang: str,
    **options: Any,
) -> None:
    """List the reaches upstream or downstream of a reach, with their distances."""
    net = load_network(path, quiet=ctx.obj["quiet"], **options)
    start = _typed_id(net, reach)
    if mode in ("UT", "UM"):
        result = net.upstream(start, mode=mode, distance_km=distance_km)
    else:
        result = net.downstream(start, mode=mode, distance_km=distance_km)
    if output is not None:
        note(write_table(result, output, what="reaches"))
    if as_json:
        echo_json(result)
        return
    total = float(net.reaches.loc[result["reach_id"], "length_m"].sum()) / 1000.0
    from rivernet import messages
    from rivernet.cli._output import text_table

    farthest = f"{result['distance_km'].max():.1f}"
    shown_mode = messages.label("mode", mode, lang)
    click.echo(
        messages.text("cli.navigate_summary", lang, mode=shown_mode, start=start, n=len(result),
                      km=f"{total:.1f}", farthest=farthest)
    )  # fmt: skip
    if output is None:
        click.echo(text_table(result, ["reach_id", "distance_km"], lang, limit=20))


@click.command(cls=HelpCommand)
@click.argument("path", type=FILE_OR_STORE)
@_file_options
@click.option("--units", "list_units", is_flag=True)
@click.pass_context
@lang_option()
def info(ctx: click.Context, path: Path, list_units: bool, lang: str, **options: Any) -> None:
    """Summarise a network: reaches, length, outlets, orders, extent.

    With --units, list the admin unit codes of a project instead (the codes --unit takes).
    """
    if list_units:
        click.echo(units_table(path, lang))
        return
    net = load_network(path, quiet=ctx.obj["quiet"], **options)
    core = net.core
    strahler = net.strahler_order().value_counts().sort_index()
    from rivernet import messages

    def line(key: str, value: Any, **more: Any) -> str:
        return messages.text(f"cli.info_{key}", lang, value=value, **more)

    lines = [
        line("file", path),
        line("crs", f"{net.crs.to_string()} ({net.crs.name})"),
        line("reaches", len(net)),
        line("length", f"{net.reaches['length_m'].sum() / 1000.0:,.1f}"),
        line("outlets", int((core.downstream < 0).sum()), clipped=len(core.dangling)),
        line("braids", len(core.secondary)),
        line("extent", ", ".join(f"{v:.4f}" for v in net.reaches.total_bounds)),
        line("strahler", ", ".join(f"{k}: {v}" for k, v in strahler.items())),
    ]
    click.echo("\n".join(lines))


def report_text(report: Any, lang: str) -> str:
    """A validation report as text: the verdict and one line per finding, in ``lang``.

    The verdict, the severities and the findings' messages come from the message catalogue
    (a finding not made from it shows its own text); the English text also names each
    finding's code.
    """
    from rivernet import messages

    counts = {"errors": len(report.errors), "warnings": len(report.warnings),
              "notes": len(report.infos)}  # fmt: skip
    key = "cli.validation_ok" if report.ok else "cli.validation_failed"
    lines = [messages.text(key, lang, **counts)]
    for finding in report.findings:
        severity = messages.label("severity", finding.severity, lang)
        code = f" [{finding.code}]" if lang == "en" else ""
        lines.append(f"  {severity:7}{code} {finding.text(lang)}")
    return "\n".join(lines)


def findings_table(report: Any, lang: str = "zh") -> pd.DataFrame:
    """The findings of a validation report as a table, one row per finding, text in ``lang``."""
    rows = [finding.to_dict(lang=lang) for finding in report.findings]
    table = pd.DataFrame(rows, columns=["code", "severity", "layer", "message", "reach_ids"])
    table["reach_ids"] = table["reach_ids"].map(lambda ids: ", ".join(map(str, ids)))
    return table


def units_table(path: Path, lang: str = "zh") -> str:
    """The admin units (and the roster's sub-county units) of a project, as text in ``lang``."""
    from rivernet.coverage import unit_names
    from rivernet.project import open_project

    if not _has_reaches(path):
        raise InputError.from_key("error.not_a_project", file=path.name)
    project = open_project(path)
    names = unit_names(project)
    levels = dict(zip(project.admin_units["code"], project.admin_units["level"], strict=True))
    if project.roster is not None and len(project.roster.units):
        units = project.roster.units
        levels.update(zip(units["code"], units["level"].astype(str), strict=True))
    table = pd.DataFrame({"code": list(names), "name": list(names.values())})
    table["level"] = table["code"].map(levels).fillna("")
    from rivernet.cli._output import text_table

    return text_table(table.sort_values("code"), ["code", "name", "level"], lang, limit=None)


def _typed_id(net: RiverNetwork, text: str) -> Any:
    """A reach id typed like the network's ids (the CLI receives text)."""
    if net.reaches.index.dtype.kind in "iu":
        try:
            return int(text)
        except ValueError as error:
            raise InputError.from_key("error.integer_ids", value=repr(text)) from error
    return text


def register(group: click.Group) -> None:
    """Add the network commands to the ``rivernet`` group."""
    for command in (check, navigate, info):
        group.add_command(command)
