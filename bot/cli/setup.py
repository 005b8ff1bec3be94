"""Setting a deployment up: `migrate`, `bootstrap` (the samples) and `ingest` (the company's documents)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.terminal import console, progress_bar, settings_or_exit


def migrate() -> None:
    """Create or upgrade the database schema (Alembic), and re-embed a knowledge index written by an earlier
    release's embedding model (once, with progress; no document is lost if it is interrupted)."""
    from bot.migrate import upgrade
    from bot.runtime import open_index

    settings = settings_or_exit()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    console.print(f"Database is up to date: {settings.resolved_database_url.split('@')[-1]}")
    index = open_index(settings)
    if index.needs_upgrade():
        with progress_bar() as progress:
            task = progress.add_task("Re-embedding the knowledge index", total=None)
            moved = index.upgrade_store(lambda done, total: progress.update(task, completed=done, total=total))
        console.print(f"Knowledge index re-embedded for {index.embeddings.name}: {moved} chunks")


def bootstrap() -> None:
    """Migrate, load the sample directory if empty, and ingest the bundled sample SOPs."""
    from bot.runtime import bootstrap_samples, build_runtime

    runtime = build_runtime(settings_or_exit())
    with progress_bar() as progress:
        task = progress.add_task("Ingesting sample SOPs", total=None)
        report = bootstrap_samples(runtime, lambda done, total, _p: progress.update(task, completed=done, total=total))
    console.print(f"Sample SOPs: {report.summary()}")
    runtime.close()


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (.md .txt .html .pdf .docx).")],
    keep_samples: Annotated[
        bool, typer.Option(help="Keep the bundled sample SOPs searchable beside your documents (demo only).")
    ] = False,
) -> None:
    """Add or refresh documents in the knowledge base. Unchanged files are skipped; deleted ones removed. Your
    first documents take the bundled sample SOPs out of the index (unless --keep-samples)."""
    from bot.runtime import build_runtime, company_documents, remove_samples

    runtime = build_runtime(settings_or_exit())
    with progress_bar() as progress:
        task = progress.add_task("Ingesting", total=None)
        with runtime.database.session_scope() as session:
            report = runtime.index.ingest(
                session, paths, on_progress=lambda done, total, _p: progress.update(task, completed=done, total=total)
            )
    for path, reason in report.failed.items():
        console.print(f"[red]failed[/red] {path}: {reason}")
    for path, reason in list(report.skipped.items())[:20]:
        console.print(f"[yellow]skipped[/yellow] {path}: {reason}")
    console.print(report.summary())
    with runtime.database.session_scope() as session:
        own = company_documents(session)
    if own and not keep_samples:
        removed = remove_samples(runtime)
        if removed:
            console.print(
                f"Took the {len(removed)} sample SOPs out of the index: answers now come from your documents."
            )
    runtime.close()
    if report.failed:
        raise typer.Exit(1)
