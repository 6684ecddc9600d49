"""``rivernet new``: build a project file from an office's own files, or from a TOML manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rivernet import messages
from rivernet.cli._help import HelpCommand
from rivernet.cli._options import CommandError, lang_option
from rivernet.cli._output import note

_FILE = click.Path(dir_okay=False, path_type=Path)


def register(group: click.Group) -> None:
    """Add the ``new`` command to the command group."""
    group.add_command(new)


@click.command("new", cls=HelpCommand)
@click.argument("output", type=_FILE, required=False)
@click.option("--from", "manifest", type=_FILE)
@click.option("--rivers", type=_FILE)
@click.option("--units", type=_FILE, multiple=True)
@click.option("--lakes", type=_FILE)
@click.option("--roster", type=_FILE)
@click.option("--policy", type=_FILE)
@click.option("--crs")
@click.option("--dem", type=_FILE)
@click.option("--river-id-column")
@click.option("--river-downstream-column")
@click.option("--outlet-value")
@click.option("--river-name-column")
@click.option("--river-code-column")
@click.option("--unit-code-column")
@click.option("--unit-name-column")
@click.option("--unit-level-column")
@click.option("--unit-parent-column")
@click.option("--names", type=_FILE)
@click.option("--names-column")
@click.option("--force", is_flag=True)
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
            raise CommandError.from_key("cli_usage.from_manifest", option=given[0])
        loaded = Manifest.from_toml(manifest)
        kwargs = loaded.options()
        output = output or loaded.output
    else:
        if options["rivers"] is None or not options["units"]:
            raise CommandError.from_key("cli_usage.new_inputs")
        kwargs = {k: v for k, v in options.items() if v not in (None, ())}
    if output is None:
        raise CommandError.from_key("cli_usage.new_output")
    refuse_overwrite(output, force=force, policy=kwargs.get("policy"))
    build = plan_project(progress=not quiet, lang=lang, **kwargs)
    for line in build.notes:
        note(messages.text("cli_wrote.note", lang, line=messages.render(line, lang)))
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
