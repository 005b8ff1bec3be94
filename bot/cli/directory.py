"""`backoffice directory`: the employee directory imported from CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.terminal import console, settings_or_exit

directory_app = typer.Typer(help="The employee directory.", no_args_is_help=True)


@directory_app.command("import")
def directory_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: " + ",".join(("slack_id", "name", "email", "tz", "country", "manager_slack_id", "roles"))
        ),
    ],
) -> None:
    """Create or update employees from a CSV file (all rows are checked before anything is written)."""
    from bot.db import Database
    from bot.directory import DirectoryError, import_csv
    from bot.migrate import upgrade

    settings = settings_or_exit()
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        console.print(f"[red]Cannot read {file}:[/red] {exc}")
        raise typer.Exit(1) from exc
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    database = Database(settings.resolved_database_url)
    try:
        with database.session_scope() as session:
            report = import_csv(session, text)
            if report.errors:
                session.rollback()
    except DirectoryError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    if report.errors:
        for error in report.errors:
            console.print(f"[red]{error}[/red]")
        console.print("Nothing was imported.")
        raise typer.Exit(1)
    console.print(f"{report.created} created, {report.updated} updated.")
