"""``rivernet db load | dump | migrate``: a project in a shared PostgreSQL + PostGIS store."""

from __future__ import annotations

from pathlib import Path

import click

from rivernet import messages
from rivernet.cli._help import HelpGroup
from rivernet.cli._options import CommandError, lang_option
from rivernet.cli._output import note


def register(group: click.Group) -> None:
    """Add the ``db`` commands to the ``rivernet`` group."""
    group.add_command(db)


@click.group(cls=HelpGroup)
@lang_option(group=True)
def db(lang: str | None) -> None:
    """The shared store: load a project into PostgreSQL + PostGIS, dump it back, migrate."""


@db.command("load")
@click.argument("project", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("url")
@click.option("--replace", is_flag=True)
@lang_option()
def load_command(project: Path, url: str, replace: bool, lang: str) -> None:
    """Copy PROJECT (a .gpkg) into the database URL: schema and data in one transaction.

    URL: postgresql://USER:PASSWORD@HOST:PORT/DB. A database that holds a project already is
    refused unless --replace is given; nothing is written when any row breaks a rule.
    """
    from rivernet.postgis import check_url, load

    counts = load(project, check_url(url), replace=replace)
    rows = sum(counts.values())
    note(messages.text("store.loaded", lang, rows=rows, layers=len(counts), project=project.name))


@db.command("dump")
@click.argument("url")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
)
@lang_option()
def dump_command(url: str, output: Path, lang: str) -> None:
    """Write the project in the database URL to a GeoPackage (the file `db load` read)."""
    from rivernet.postgis import check_url, dump

    if output.suffix.lower() != ".gpkg":
        raise CommandError.from_key("cli_more.dump_gpkg", path=output)
    dump(check_url(url), output)
    note(messages.text("store.dumped", lang, path=output))


@db.command("migrate")
@click.argument("url")
@lang_option()
def migrate_command(url: str, lang: str) -> None:
    """Bring the schema of the database URL up to date (versioned migrations)."""
    from rivernet.postgis import check_url, migrate

    applied = migrate(check_url(url))
    if applied:
        click.echo(messages.text("store.migrated", lang, versions=", ".join(map(str, applied))))
    else:
        click.echo(messages.text("store.up_to_date", lang))
