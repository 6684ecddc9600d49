"""``rivernet new``: build a project file from an office's own files, or from a TOML manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rivernet import messages
from rivernet.cli._options import lang_option
from rivernet.cli._output import note

_FILE = click.Path(dir_okay=False, path_type=Path)


def register(group: click.Group) -> None:
    """Add the ``new`` command to the command group."""
    group.add_command(new)


@click.command("new")
@click.argument("output", type=_FILE, required=False)
@click.option("--from", "manifest", type=_FILE, help="Build from a TOML manifest (same keys).")
@click.option("--rivers", type=_FILE, help="River lines (shapefile, GeoPackage, GeoJSON).")
@click.option("--units", type=_FILE, multiple=True, help="Admin units: one file, or one per level.")
@click.option("--lakes", type=_FILE, help="Lake polygons.")
@click.option("--roster", type=_FILE, help="Chief roster (CSV, Excel).")
@click.option("--policy", type=_FILE, help="Coverage policy TOML, copied beside the project.")
@click.option("--crs", help="CRS of files that declare none, e.g. EPSG:4490 (CGCS2000).")
@click.option("--dem", type=_FILE, help="Elevation raster: flow direction of bare lines.")
@click.option("--river-id-column", help="Reach id column (detected when omitted).")
@click.option("--river-downstream-column", help="Downstream reach id column (detected).")
@click.option("--outlet-value", help="Downstream value that marks an outlet (default 0).")
@click.option("--river-name-column", help="Column of river names.")
@click.option("--river-code-column", help="Column of official reach codes.")
@click.option("--unit-code-column", help="Admin code column of the unit files (detected).")
@click.option("--unit-name-column", help="Name column of the unit files (detected).")
@click.option("--unit-level-column", help="Level column (省/市/县... or province/city/...).")
@click.option("--unit-parent-column", help="Parent code column (derived from codes if absent).")
@click.option("--names", type=_FILE, help="Named lines (register, OSM extract) naming the reaches.")
@click.option("--names-column", help="Name column of --names (default name:zh, else name).")
@click.option("--force", is_flag=True, help="Replace an existing project file.")
@lang_option()
@click.pass_context
def new(ctx: click.Context, output: Path | None, manifest: Path | None, **options: Any) -> None:
    """Build the project file OUTPUT (.gpkg) from rivers, admin units, lakes and a roster.

    Every problem of every input is reported at once, by file, row and id; nothing is written
    unless all inputs are valid. GBK text, files without .prj (with --crs), CGCS2000 and admin
    polygons in GCJ-02 (detected against the rivers and converted) are handled. --names
    attaches the names of a named line layer (OpenStreetMap: name:zh first) to the reaches.
    """
    from rivernet.build import Manifest, plan_project, refuse_overwrite, write_project

    force = options.pop("force")
    lang = options.pop("lang")
    quiet = bool((ctx.obj or {}).get("quiet"))
    if manifest is not None:
        given = [f"--{k.replace('_', '-')}" for k, v in options.items() if v not in (None, ())]
        if given:
            raise click.UsageError(f"--from takes every input from the manifest; drop {given[0]}")
        loaded = Manifest.from_toml(manifest)
        kwargs = loaded.options()
        output = output or loaded.output
    else:
        if options["rivers"] is None or not options["units"]:
            raise click.UsageError("give --rivers and --units (or --from MANIFEST.toml)")
        kwargs = {k: v for k, v in options.items() if v not in (None, ())}
    if output is None:
        raise click.UsageError("give the project file to write (OUTPUT), or `output` in --from")
    refuse_overwrite(output, force=force, policy=kwargs.get("policy"))
    build = plan_project(progress=not quiet, **kwargs)
    for line in build.notes:
        note(f"note: {line}")
    write_project(build, output, force=force)
    layers = [
        messages.text("cli.new_reaches", lang, n=len(build.reaches)),
        messages.text("cli.new_units", lang, n=len(build.admin_units)),
    ]
    if build.lakes is not None:
        layers.append(messages.text("cli.new_lakes", lang, n=len(build.lakes)))
    if build.roster is not None:
        layers.append(messages.text("cli.new_roster", lang, n=len(build.roster.assignments)))
    note(messages.text("cli.new_wrote", lang, path=output, layers="、".join(layers)
                       if lang == "zh" else ", ".join(layers)))  # fmt: skip
    if build.policy is not None:
        note(messages.text("cli.wrote_file", lang, path=output.with_name("policy.toml")))
