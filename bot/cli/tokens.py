"""`backoffice token`: API tokens for the HTTP API, created, listed and revoked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from bot.cli.terminal import console, settings_or_exit

if TYPE_CHECKING:
    from bot.db import Database

token_app = typer.Typer(help="API tokens for the HTTP API (shown once; only a hash is stored).", no_args_is_help=True)


@token_app.command("create")
def token_create(
    slack_id: Annotated[str, typer.Option("--as", help="Slack id of the person the token acts as (their roles apply)")],
    name: Annotated[str, typer.Option(help="What the token is for, e.g. 'staff console'")] = "api",
) -> None:
    """Create an API token for a person in the directory and print it once."""
    from bot.db import Database
    from bot.directory import get_by_slack_id
    from bot.migrate import upgrade
    from bot.tokens import create_token

    settings = settings_or_exit()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    database = Database(settings.resolved_database_url)
    with database.session_scope() as session:
        employee = get_by_slack_id(session, slack_id)
        if employee is None:
            console.print(f"[red]{slack_id} is not in the directory.[/red]")
            raise typer.Exit(1)
        token = create_token(session, employee=employee, name=name)
        roles = ", ".join(sorted(employee.role_set))
    database.dispose()
    console.print(f"Token for {employee.name} ({roles}). Store it now; it cannot be shown again:")
    print(token)


def _token_database() -> Database:
    from bot.db import Database
    from bot.migrate import upgrade

    settings = settings_or_exit()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    return Database(settings.resolved_database_url)


@token_app.command("list")
def token_list() -> None:
    """List API tokens: id, name, owner, created, last used, revoked (the tokens themselves are not stored)."""
    from sqlalchemy import select

    from bot.models import ApiToken

    database = _token_database()
    table = Table("id", "name", "for", "created", "last used", "revoked")
    with database.session_scope() as session:
        for row in session.scalars(select(ApiToken).order_by(ApiToken.id)):
            table.add_row(
                str(row.id),
                row.name,
                f"{row.employee.name} ({row.employee.slack_id})",
                f"{row.created_at:%Y-%m-%d %H:%M}",
                f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never",
                f"{row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "",
            )
    database.dispose()
    console.print(table)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="The token's id (see `backoffice token list`)")]) -> None:
    """Revoke an API token at once; requests with it get 401 from then on. The revocation is audited."""
    from bot.db import utcnow
    from bot.tokens import revoke

    database = _token_database()
    with database.session_scope() as session:
        done = revoke(session, token_id, now=utcnow())
    database.dispose()
    if not done:
        console.print(f"[red]No active token with id {token_id}.[/red]")
        raise typer.Exit(1)
    console.print(f"Token {token_id} revoked.")
