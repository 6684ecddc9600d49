"""``rivernet token create | list | revoke``: who may edit which units of a project's roster."""

from __future__ import annotations

import click

from rivernet import messages
from rivernet.cli._help import HelpGroup
from rivernet.cli._options import PROJECT, lang_option
from rivernet.cli._output import echo_json, json_option, text_table

ROLE_CHOICE = click.Choice(["viewer", "editor", "admin"])


def register(group: click.Group) -> None:
    """Add the ``token`` commands to the ``rivernet`` group."""
    group.add_command(token)


@click.group(cls=HelpGroup)
@lang_option(group=True)
def token(lang: str | None) -> None:
    """Access tokens for edits (sent as `Authorization: Bearer TOKEN`)."""


@token.command("create")
@click.argument("project", type=PROJECT)
@click.option("--unit", required=True)
@click.option("--role", type=ROLE_CHOICE, default="editor", show_default=True)
@click.option("--name")
@lang_option()
def create_command(project: object, unit: str, role: str, name: str | None, lang: str) -> None:
    """Create a token for an office of PROJECT and print it (only this once)."""
    from rivernet.store import open_store
    from rivernet.tokens import create_token

    store = open_store(str(project))
    role_word = messages.text(f"edit_role.{role}", lang)
    unit_words = unit or messages.text("cli_more.token_all", lang)
    name = name or messages.text("cli_more.token_name", lang, role=role_word, unit=unit_words)
    secret = create_token(store, unit=unit, role=role, name=name)  # type: ignore[arg-type]
    click.echo(secret)
    click.echo(messages.text("store.token_created", lang, role=role_word, unit=unit_words),
               err=True)  # fmt: skip


@token.command("list")
@click.argument("project", type=PROJECT)
@json_option
@lang_option()
def list_command(project: object, as_json: bool, lang: str) -> None:
    """List the tokens of PROJECT (ids, offices, units, roles; never the secrets)."""
    import pandas as pd

    from rivernet.store import open_store
    from rivernet.tokens import list_tokens

    rows = pd.DataFrame(
        list_tokens(open_store(str(project))),
        columns=["token_id", "name", "unit_code", "role", "created_at", "revoked_at"],
    )
    if as_json:
        echo_json(rows)
        return
    if rows.empty:
        click.echo(messages.text("store.no_tokens", lang))
        return
    shown = rows.rename(columns={"name": "token_name", "role": "access"})
    shown["access"] = [messages.text(f"edit_role.{role}", lang) for role in shown["access"]]
    click.echo(text_table(shown, list(shown.columns), lang, limit=None))


@token.command("revoke")
@click.argument("project", type=PROJECT)
@click.argument("token_id", type=int)
@lang_option()
def revoke_command(project: object, token_id: int, lang: str) -> None:
    """Revoke token TOKEN_ID of PROJECT: it is refused from now on."""
    from rivernet.store import open_store
    from rivernet.tokens import revoke_token

    revoke_token(open_store(str(project)), token_id)
    click.echo(messages.text("store.token_revoked", lang, token_id=token_id))
