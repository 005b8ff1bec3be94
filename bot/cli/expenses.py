"""`backoffice expenses`: expense claims exported for accounting and payroll."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.terminal import console, settings_or_exit

expenses_app = typer.Typer(help="Expense claims for accounting and payroll.", no_args_is_help=True)


@expenses_app.command("export")
def expenses_export(
    file: Annotated[Path, typer.Argument(help="CSV file to write")],
    date_from: Annotated[str, typer.Option("--from", help="first spending date, YYYY-MM-DD")],
    date_to: Annotated[str, typer.Option("--to", help="last spending date, YYYY-MM-DD")],
    status: Annotated[
        list[str] | None, typer.Option(help="claim states to include (repeatable)", show_default="approved, reimbursed")
    ] = None,
) -> None:
    """Write claims spent between two dates to CSV: original amount and currency, rate, base-currency amount."""
    from datetime import date

    from bot.db import Database
    from bot.migrate import upgrade
    from skills.expenses.export import EXPORTABLE, export_csv
    from skills.expenses.service import LABELS

    try:
        start, end = date.fromisoformat(date_from), date.fromisoformat(date_to)
    except ValueError as exc:
        console.print(f"[red]Dates must be YYYY-MM-DD:[/red] {exc}")
        raise typer.Exit(2) from exc
    if end < start:
        console.print("[red]--to is before --from.[/red]")
        raise typer.Exit(2)
    statuses = tuple(status or EXPORTABLE)
    unknown = [s for s in statuses if s not in LABELS]
    if unknown:
        console.print(f"[red]Unknown status {', '.join(unknown)}; one of {', '.join(LABELS)}.[/red]")
        raise typer.Exit(2)
    settings = settings_or_exit()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    database = Database(settings.resolved_database_url)
    with database.session_scope() as session:
        result = export_csv(session, start=start, end=end, statuses=statuses)
    database.dispose()
    try:
        file.write_text(result.csv_text, encoding="utf-8")
    except OSError as exc:
        console.print(f"[red]Cannot write {file}:[/red] {exc}")
        raise typer.Exit(1) from exc
    total = f"{result.total_base:,.2f} {result.base_currency}" if result.base_currency else "no claims"
    console.print(f"Wrote {result.rows} claims to {file}; total {total}.")
