"""``rivernet prepare``: write a project's prepared sidecar (tile pyramids) next to it.

The sidecar (:mod:`rivernet.prepare`) lets ``rivernet serve`` answer map tiles within a second of
starting on a national project, from memory-mapped arrays shared by all its workers. It belongs
to the project file's bytes: prepare again after the file is replaced (the server meanwhile
builds what it needs from the project itself).
"""

from __future__ import annotations

from pathlib import Path

import click

from rivernet import messages
from rivernet.cli._help import HelpCommand
from rivernet.cli._options import lang_option


@click.command("prepare", cls=HelpCommand)
@click.argument("project", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--force", is_flag=True)
@lang_option()
@click.pass_context
def prepare(ctx: click.Context, project: Path, force: bool, lang: str) -> None:
    """Write PROJECT's tile pyramids to PROJECT.prepared/ for a fast server start.

    Reaches are kept by importance (length of river upstream) with a bounded number per tile
    and generalised per zoom; admin units and lakes likewise. Prepare again after the project
    file changes; a sidecar written for other bytes is ignored.
    """
    from rivernet.prepare import prepare as write_prepared

    quiet = bool((ctx.obj or {}).get("quiet", False))

    def progress(layer_id: str) -> None:
        if not quiet:
            click.echo(f"  {layer_id} ...", err=True)

    summary = write_prepared(project, force=force, progress=progress)
    if not summary.written:
        click.echo(messages.text("national.prepare_fresh", lang, path=summary.path))
        return
    size = f"{summary.bytes / 1e6:,.0f} MB"
    click.echo(messages.text("national.prepared", lang, path=summary.path, size=size,
                             seconds=f"{summary.seconds:.1f}"))  # fmt: skip


def register(group: click.Group) -> None:
    """Add ``prepare`` to the ``rivernet`` command group."""
    group.add_command(prepare)
