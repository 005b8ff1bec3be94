"""The `backoffice` command line: serve, scheduler, migrate, ingest, directory import, chat, and evals."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from bot.privacy import install_log_redaction
from bot.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from bot.db import Database
    from bot.runtime import Runtime

app = typer.Typer(
    help="Back Office Assistant: HR answers with sources, IT, expenses and leave — in Slack.", no_args_is_help=True
)
directory_app = typer.Typer(help="The employee directory.", no_args_is_help=True)
eval_app = typer.Typer(help="Measure routing, retrieval and ticket-triage quality.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for the HTTP API (shown once; only a hash is stored).", no_args_is_help=True)
app.add_typer(directory_app, name="directory")
expenses_app = typer.Typer(help="Expense claims for accounting and payroll.", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(expenses_app, name="expenses")
app.add_typer(eval_app, name="eval")
console = Console(stderr=True)
out = Console(soft_wrap=True)


def _settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        console.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug output.")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    # Personal data and confidential topics never reach the log output, whichever library logs them.
    install_log_redaction()


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (Alembic), and re-embed a knowledge index written by an earlier
    release's embedding model (once, with progress; no document is lost if it is interrupted)."""
    from bot.migrate import upgrade
    from bot.runtime import open_index

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    console.print(f"Database is up to date: {settings.resolved_database_url.split('@')[-1]}")
    index = open_index(settings)
    if index.needs_upgrade():
        with _progress() as progress:
            task = progress.add_task("Re-embedding the knowledge index", total=None)
            moved = index.upgrade_store(lambda done, total: progress.update(task, completed=done, total=total))
        console.print(f"Knowledge index re-embedded for {index.embeddings.name}: {moved} chunks")


@app.command()
def bootstrap() -> None:
    """Migrate, load the sample directory if empty, and ingest the bundled sample SOPs."""
    from bot.runtime import bootstrap_samples, build_runtime

    runtime = build_runtime(_settings())
    with _progress() as progress:
        task = progress.add_task("Ingesting sample SOPs", total=None)
        report = bootstrap_samples(runtime, lambda done, total, _p: progress.update(task, completed=done, total=total))
    console.print(f"Sample SOPs: {report.summary()}")
    runtime.close()


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (.md .txt .html .pdf .docx).")],
    keep_samples: Annotated[
        bool, typer.Option(help="Keep the bundled sample SOPs searchable beside your documents (demo only).")
    ] = False,
) -> None:
    """Add or refresh documents in the knowledge base. Unchanged files are skipped; deleted ones removed. Your
    first documents take the bundled sample SOPs out of the index (unless --keep-samples)."""
    from bot.runtime import build_runtime, company_documents, remove_samples

    runtime = build_runtime(_settings())
    with _progress() as progress:
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
    settings = _settings()
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

    settings = _settings()
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

    settings = _settings()
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

    settings = _settings()
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


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    socket_mode: Annotated[
        bool, typer.Option("--socket-mode", help="Connect to Slack over Socket Mode (needs SLACK_APP_TOKEN).")
    ] = False,
    samples: Annotated[bool, typer.Option(help="Load the sample directory and SOPs on start.")] = True,
    run_scheduler: Annotated[
        bool,
        typer.Option(
            "--scheduler/--no-scheduler",
            help="Run the scheduled jobs in this process (leader-elected, so several processes are safe). "
            "Use --no-scheduler for web workers when a dedicated `backoffice scheduler` process runs them.",
        ),
    ] = True,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Web worker processes (uvicorn). Above 1 the schema is migrated and the samples loaded once, "
            "before the workers start; needs BACKOFFICE_CHROMA_URL (a Chroma server). See docs/deploy.md.",
        ),
    ] = 1,
    event_workers: Annotated[
        int,
        typer.Option(
            min=0,
            help="Processes that answer Slack events (`backoffice events`). Above 0 the web process only stores "
            "each event and acks it, so acks stay fast under load; 0 answers in the web process. See docs/deploy.md.",
        ),
    ] = 0,
) -> None:
    """Serve the Slack endpoint (/slack/events), the local web chat (/) and /healthz."""
    import signal

    from bot.event_workers import EventWorkers
    from bot.runtime import bootstrap_samples, build_runtime

    if event_workers:
        os.environ["BACKOFFICE_DEFER_EVENTS"] = "true"  # read by this process and by the uvicorn workers
    settings = _settings()
    if workers > 1 and socket_mode:
        console.print("[red]Socket Mode runs in one process: use --workers 1, or the HTTP endpoint.[/red]")
        raise typer.Exit(2)
    if workers > 1 and not settings.chroma_url:
        # An embedded Chroma store is not safe for several processes writing (HR answers become FAQs).
        console.print("[red]--workers above 1 needs BACKOFFICE_CHROMA_URL (a `chroma run` server).[/red]")
        raise typer.Exit(2)
    # Migrating here, once, before any worker starts: workers build their runtime without migrating.
    runtime = build_runtime(settings)
    if samples:
        report = bootstrap_samples(runtime)
        console.print(f"Sample SOPs: {report.summary()}")
    helpers = EventWorkers(event_workers if runtime.slack is not None else 0)
    if helpers.count:
        helpers.start()
        console.print(f"{helpers.count} event worker(s) answer Slack events: pids {helpers.pids}")
        # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; exiting through SystemExit instead lets
        # the `finally` below stop the workers.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: sys.exit(0))
    try:
        _serve(runtime, host=host, port=port, workers=workers, run_scheduler=run_scheduler, socket_mode=socket_mode)
    finally:
        helpers.stop()


def _serve(runtime: Runtime, *, host: str, port: int, workers: int, run_scheduler: bool, socket_mode: bool) -> None:
    import uvicorn

    from bot.web_app import create_app

    settings = runtime.settings
    slack_note = "" if runtime.slack else " — Slack not configured"
    if workers > 1:
        runtime.close()
        console.print(f"Web chat: http://{host}:{port}/ on {workers} workers (Slack events: /slack/events{slack_note})")
        factory = "bot.cli:worker_app" if run_scheduler else "bot.cli:worker_app_without_scheduler"
        uvicorn.run(factory, factory=True, workers=workers, host=host, port=port, log_level="warning")
        return
    if socket_mode:
        if runtime.slack is None or not settings.slack_app_token:
            console.print("[red]Socket Mode needs SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and SLACK_APP_TOKEN.[/red]")
            raise typer.Exit(2)
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        SocketModeHandler(runtime.slack.app, settings.slack_app_token).connect()  # type: ignore[no-untyped-call]
        console.print("Connected to Slack over Socket Mode.")
    app = create_app(runtime, run_scheduler=run_scheduler, bind_host=host)
    if app.state.open_playground:
        mode = "development mode: pick anyone, no sign-in"
    else:
        mode = "people sign in: /console/login"
    console.print(f"Web chat: http://{host}:{port}/ ({mode}; Slack events: /slack/events{slack_note})")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def worker_app() -> FastAPI:
    """The app of one `serve --workers N` worker (also `uvicorn --factory bot.cli:worker_app`): its own runtime
    from the environment, on a schema already migrated; it stands for scheduler leader with the other workers."""
    return _worker_app(run_scheduler=True)


def worker_app_without_scheduler() -> FastAPI:
    """Like `worker_app`, for `serve --workers N --no-scheduler` (a dedicated `backoffice scheduler` runs the jobs)."""
    return _worker_app(run_scheduler=False)


def _worker_app(*, run_scheduler: bool) -> FastAPI:
    from bot.runtime import build_runtime
    from bot.web_app import create_app

    main(verbose=False)  # a worker is a fresh interpreter: set up logging as the command line does
    return create_app(build_runtime(Settings(), migrate=False), run_scheduler=run_scheduler)


@app.command()
def events(
    poll: Annotated[float, typer.Option(min=0.01, help="Seconds between looks for new events when idle.")] = 0.05,
) -> None:
    """Answer Slack events that web processes stored and acked, in the foreground until Ctrl-C or SIGTERM.

    `serve --event-workers N` starts these itself. For other deployments: run any number of these next to web
    processes started with BACKOFFICE_DEFER_EVENTS=true; each event is claimed by exactly one of them, and an
    event whose worker died is claimed again after BACKOFFICE_EVENT_STALE_SECONDS.
    """
    import signal
    import threading

    from bot.event_workers import stop_when_parent_exits
    from bot.runtime import build_runtime

    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    stop_when_parent_exits(stopping)  # from the start: a serve killed while this one starts up must not orphan it
    runtime = build_runtime(_settings(), migrate=False)
    if runtime.slack is None:
        console.print("[red]Slack is not configured (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET): nothing to answer.[/red]")
        runtime.close()
        raise typer.Exit(2)
    if stopping.is_set():
        runtime.close()
        return
    try:
        runtime.slack.run_events(stopping, poll_seconds=poll)
    finally:
        runtime.close()


@app.command()
def scheduler(
    ttl: Annotated[
        float, typer.Option(help="Seconds the leader's lease lasts unrenewed; a standby takes over after that.")
    ] = 30.0,
    renew: Annotated[float, typer.Option(help="Seconds between lease renewals; under half of --ttl.")] = 10.0,
) -> None:
    """Run only the scheduled jobs, in the foreground until Ctrl-C or SIGTERM.

    For scale-out deployments: run this next to web workers started with `serve --no-scheduler`. Any number of
    these (and of `serve --scheduler`) may run against one database; they elect one leader through a lease in the
    database and only the leader runs the jobs. When it stops or dies, a standby takes over within --ttl seconds.
    """
    import signal
    import threading

    from bot.runtime import build_runtime
    from bot.scheduler import SchedulerService, check_timing

    try:
        check_timing(ttl, renew)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    runtime = build_runtime(_settings())
    service = SchedulerService(runtime, ttl_seconds=ttl, renew_seconds=renew)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    # Leadership changes are what an operator watches this process for, whatever the log level.
    logging.getLogger("bot.scheduler").setLevel(logging.INFO)
    console.print(f"Scheduler {service.holder}: lease ttl {ttl:g}s, renewed every {renew:g}s. Ctrl-C to stop.")
    service.start()
    try:
        stopping.wait()
    finally:
        service.stop()
        runtime.close()
    console.print("Scheduler stopped; lease released.")


@app.command()
def chat(
    text: Annotated[str | None, typer.Argument(help="Question to ask once; omit for an interactive session.")] = None,
    as_user: Annotated[str, typer.Option("--as", help="Slack id of the employee you are.")] = "U0000DEVONE",
) -> None:
    """Talk to the assistant in the terminal (same pipeline as Slack and the web chat)."""
    from bot.messages import Message, Reply
    from bot.runtime import bootstrap_samples, build_runtime

    runtime = build_runtime(_settings())
    bootstrap_samples(runtime)

    def show(reply: Reply) -> None:
        out.print(reply.text, markup=False, highlight=False)
        for citation in reply.citations:
            out.print(f"  📄 {citation.label} — {citation.location}", markup=False, highlight=False)

    def ask(line: str) -> None:
        show(runtime.assistant.handle(Message(user_id=as_user, text=line, channel=f"cli:{as_user}", platform="cli")))

    if text is not None:
        ask(text)
    else:
        out.print("Ask me anything (Ctrl-D to quit).")
        while True:
            try:
                line = input("> ") if sys.stdin.isatty() else sys.stdin.readline()
            except (EOFError, KeyboardInterrupt):
                break
            if not sys.stdin.isatty() and not line:
                break
            if line.strip():
                ask(line.strip())
    runtime.close()


@app.command()
def explain(
    text: Annotated[str, typer.Argument(help="The message, as an employee would write it.")],
) -> None:
    """Why a message goes where it goes: the input checks, the classifier's top skills, whether it is a question,
    a request or about one's own records, the route, and for a question the documents' answer and what the
    employee gets (an answer, HR, IT or the menu). Read-only: nothing is stored or sent."""
    from bot.explain import explain as explain_message
    from bot.runtime import build_runtime

    runtime = build_runtime(_settings(), migrate=False)
    try:
        table = Table(title=f"Why {text[:60]!r} goes where it goes")
        for column in ("step", "outcome", "why"):
            table.add_column(column)
        for step in explain_message(runtime, text):
            table.add_row(step.name, step.outcome, step.why)
        out.print(table)
    finally:
        runtime.close()


def _print_figures(title: str, figures: dict[str, Any], misses: list[dict[str, Any]], as_json: bool) -> None:
    """An eval's figures as a table, then the misses asked for, then (--json) the figures as the last line."""
    table = Table(title=title)
    table.add_column("figure")
    table.add_column("value")
    for name, value in figures.items():
        table.add_row(escape(name), str(value))  # "fact_hit[paraphrase]" is not a style tag
    out.print(table)
    for miss in misses:
        out.print(miss, markup=False)
    if as_json:
        print(json.dumps(figures))


@eval_app.command("routing")
def eval_routing(
    file: Annotated[Path, typer.Argument(help='JSONL lines {"text": ..., "skill": ...}.')],
    predictions: Annotated[Path | None, typer.Option(help="Write one JSON line per input with the prediction.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as one JSON object (last line).")] = False,
) -> None:
    """Route every line and print accuracy, per-skill precision/recall and out-of-scope recall."""
    from bot.evals.jsonl import EvalFileError, read_jsonl
    from bot.evals.routing import evaluate_routing
    from bot.runtime import build_router
    from knowledge.embeddings import MiniLMEmbeddings
    from skills.expenses.config import load_expense_policy
    from skills.it.config import load_it_config
    from skills.leave.config import load_policy
    from skills.registry import build_skills

    try:
        rows = read_jsonl(file, ("text", "skill"))
    except (EvalFileError, OSError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    settings = _settings()

    skills = build_skills(
        load_policy(settings.leave_config),
        load_expense_policy(settings.expense_config),
        load_it_config(settings.it_config),
    )
    router = build_router(settings, MiniLMEmbeddings(), {s.name: tuple(s.examples) for s in skills})
    result = evaluate_routing(router, rows)
    if predictions:
        predictions.write_text("".join(json.dumps(p) + "\n" for p in result.predictions), encoding="utf-8")
    table = Table(title=f"Routing: accuracy {result.accuracy:.3f} on {result.total} lines")
    for column in ("skill", "precision", "recall", "support"):
        table.add_column(column)
    for skill, figures in result.per_skill.items():
        table.add_row(skill, f"{figures['precision']:.3f}", f"{figures['recall']:.3f}", str(int(figures["support"])))
    out.print(table)
    if result.out_of_scope_recall is not None:
        out.print(f"out-of-scope recall: {result.out_of_scope_recall:.3f}")
    if as_json:
        print(json.dumps(result.figures()))


@eval_app.command("retrieval")
def eval_retrieval(
    file: Annotated[
        Path, typer.Argument(help='JSONL lines {"question", "relevant": [paths], "answer_keywords", "answerable"}.')
    ],
    corpus: Annotated[
        Path, typer.Option(help="Folder the relevant paths are relative to; ingested into a fresh store.")
    ],
    k: Annotated[int, typer.Option(help="Cut-off for the headline recall.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as one JSON object (last line).")] = False,
    show_misses: Annotated[bool, typer.Option(help="List the questions that missed.")] = False,
) -> None:
    """Recall@1/3/5, MRR@10, answer keyword hit rate, abstention on unanswerables, latency."""
    from bot.evals.jsonl import EvalFileError, read_jsonl
    from bot.evals.retrieval import evaluate_retrieval

    if not corpus.is_dir():
        console.print(f"[red]--corpus {corpus} is not a folder[/red]")
        raise typer.Exit(2)
    try:
        rows = read_jsonl(file, ("question",))
    except (EvalFileError, OSError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    settings = _settings()
    console.print(f"Ingesting {corpus} into a temporary store…")
    result = evaluate_retrieval(rows, corpus, k=k, min_score=settings.answer_min_score)
    _print_figures(f"Retrieval over {corpus}", result.figures, result.misses if show_misses else [], as_json)


@eval_app.command("answers")
def eval_answers(
    corpus: Annotated[Path, typer.Argument(help="The company's documents (a folder), the only thing ingested.")],
    qa: Annotated[
        Path,
        typer.Argument(
            help='JSONL lines {"question", "answer_keywords": [...], "kind"}; a personal question has '
            '"skill" (leave, expense, it) instead of keywords.'
        ),
    ],
    unanswerable: Annotated[
        Path | None, typer.Argument(help='JSONL lines {"question"} the documents do not answer.')
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as one JSON object (last line).")] = False,
    show_misses: Annotated[bool, typer.Option(help="List every question answered wrongly, with the reply.")] = False,
) -> None:
    """Deploy with only CORPUS (migrate, directory import, ingest, serve --no-samples, in a temporary folder),
    ask every question over HTTP as a different employee, and print what they saw: fact hit (answered, with
    every answer keyword in the reply), abstain rate on unanswerable questions, misrouted rate (a question
    that got a form, a ticket or the menu), p50/p95 latency."""
    from bot.evals.answers import answer_rows, evaluate_answers
    from bot.evals.jsonl import EvalFileError, read_jsonl

    if not corpus.is_dir():
        console.print(f"[red]{corpus} is not a folder[/red]")
        raise typer.Exit(2)
    try:
        rows = answer_rows(
            read_jsonl(qa, ("question",)), read_jsonl(unanswerable, ("question",)) if unanswerable else []
        )
    except (EvalFileError, OSError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    try:
        result = evaluate_answers(corpus, rows, on_step=lambda text: console.print(f"… {text}"))
    except RuntimeError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    _print_figures(f"Answers over HTTP, {corpus} only", result.figures, result.misses if show_misses else [], as_json)


@eval_app.command("intents")
def eval_intents(
    data: Annotated[Path, typer.Argument(help="CLINC150's data_full.json.")],
    mapping: Annotated[
        Path, typer.Option(help="Intent -> skill(s) JSON; an intent it does not list is out of scope.")
    ] = Path("benchmarks/clinc150_skills.json"),
    split: Annotated[str, typer.Option(help="val (a dev set) or test (held out: never tune on it).")] = "val",
    corpus: Annotated[
        Path | None, typer.Option(help="The company's documents to deploy with (none: no documents).")
    ] = None,
    per_intent: Annotated[int | None, typer.Option(help="At most this many messages of each intent.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as one JSON object (last line).")] = False,
    show_misses: Annotated[bool, typer.Option(help="List the commonest mistakes with an example each.")] = False,
) -> None:
    """Deploy (as `eval answers` does), send every message of a CLINC150 split over HTTP, each from another
    employee, and print where the replies went: in-scope accuracy (the mapped skill took it, or a policy answer
    offered its action), out-of-scope recall (no skill acted: the smalltalk reply or the menu), p50/p95."""
    from bot.evals.intents import evaluate_intents, intent_rows
    from bot.evals.jsonl import EvalFileError

    try:
        rows = intent_rows(data, mapping, split, per_intent)
    except (EvalFileError, OSError, ValueError, KeyError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    if corpus is not None and not corpus.is_dir():
        console.print(f"[red]--corpus {corpus} is not a folder[/red]")
        raise typer.Exit(2)
    try:
        result = evaluate_intents(corpus, rows, on_step=lambda text: console.print(f"… {text}"))
    except RuntimeError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    title = f"Intents over HTTP, {data.name} {split}" + (f", {corpus} only" if corpus else ", no documents")
    _print_figures(title, result.figures, result.confusions() if show_misses else [], as_json)


@eval_app.command("dialogues")
def eval_dialogues(
    file: Annotated[
        Path,
        typer.Argument(
            help='JSONL dialogues {"id", "behaviour", "turns": [{"say" | "click", "expect"}], "records"}; '
            "the format is in docs/benchmarks.md."
        ),
    ],
    corpus: Annotated[
        Path | None, typer.Option(help="The company's documents to deploy with (none: no documents).")
    ] = None,
    today: Annotated[
        str, typer.Option(help="The moment the deployment's clock starts at (ISO, UTC); relative dates use it.")
    ] = "2027-03-09T10:00:00",
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as one JSON object (last line).")] = False,
    show_misses: Annotated[bool, typer.Option(help="List the failed dialogues, why, and what was said.")] = False,
) -> None:
    """Deploy (as `eval answers` does, with the clock pinned at --today), play every scripted conversation over
    HTTP as a new employee (web chat, buttons pressed through /api/action) and print the share that passed,
    overall and per behaviour: each turn's reply as expected, and the leave requests, expense claims and
    tickets on record at the end exactly those expected. Needs the dev install (the clock is pinned with
    time-machine)."""
    from datetime import UTC, datetime

    from bot.evals.dialogues import dialogue_rows, evaluate_dialogues
    from bot.evals.jsonl import EvalFileError

    try:
        rows = dialogue_rows(file)
        moment = datetime.fromisoformat(today)
    except (EvalFileError, OSError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    if corpus is not None and not corpus.is_dir():
        console.print(f"[red]--corpus {corpus} is not a folder[/red]")
        raise typer.Exit(2)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        result = evaluate_dialogues(corpus, rows, today=moment, on_step=lambda text: console.print(f"… {text}"))
    except RuntimeError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    title = f"Dialogues over HTTP, {file.name}" + (f", {corpus} only" if corpus else ", no documents")
    _print_figures(title, result.figures, result.misses if show_misses else [], as_json)


@eval_app.command("tickets")
def eval_tickets(
    file: Annotated[
        Path,
        typer.Argument(
            help='JSONL lines {"text", "category", "priority", "security": bool, "is_problem": bool}; '
            "category is one of access, account, hardware, software, network, security, other; priority P1-P4."
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as one JSON object (last line).")] = False,
    show_misses: Annotated[
        bool, typer.Option(help="List the lines where any label was wrong, with the reasons.")
    ] = False,
) -> None:
    """Triage every line offline (no LLM) and print category and priority accuracy, priority within one level,
    security precision/recall, how-to detection accuracy, per-category figures and the commonest confusions."""
    from bot.evals.jsonl import EvalFileError, read_jsonl
    from skills.it.evals import TICKET_KEYS, evaluate_tickets

    try:
        rows = read_jsonl(file, TICKET_KEYS)
    except (EvalFileError, OSError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    from knowledge.embeddings import MiniLMEmbeddings
    from skills.it.incidents import IncidentModel

    try:
        incidents = IncidentModel.from_examples(MiniLMEmbeddings(), vector_cache=_settings().cache_dir)
        result = evaluate_tickets(rows, incidents)
    except EvalFileError as exc:
        console.print(f"{file}: {exc}", style="red", markup=False)
        raise typer.Exit(2) from exc

    def shown(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    summary = Table(title=f"Ticket triage over {result.total} lines")
    summary.add_column("figure")
    summary.add_column("value")
    for name, value in (
        ("category accuracy", result.category_accuracy),
        ("priority accuracy", result.priority_accuracy),
        ("priority within one level", result.priority_within_one),
        ("security precision", result.security_precision),
        ("security recall", result.security_recall),
        ("is_problem accuracy", result.is_problem_accuracy),
    ):
        summary.add_row(name, shown(value))
    out.print(summary)
    per_category = Table(title="Per category")
    for column in ("category", "support", "predicted", "correct", "precision", "recall"):
        per_category.add_column(column)
    for label, figures in result.per_category.items():
        per_category.add_row(
            label,
            *(str(int(figures[key])) for key in ("support", "predicted", "correct")),
            f"{figures['precision']:.3f}",
            f"{figures['recall']:.3f}",
        )
    out.print(per_category)
    for title, pairs in (
        ("Category confusions", result.category_confusions),
        ("Priority confusions", result.priority_confusions),
    ):
        if pairs:
            table = Table(title=title)
            for column in ("gold", "predicted", "count"):
                table.add_column(column)
            for pair in pairs:
                table.add_row(str(pair["gold"]), str(pair["predicted"]), str(pair["count"]))
            out.print(table)
    if show_misses:
        for miss in result.misses:
            out.print(miss, markup=False)
    if as_json:
        print(json.dumps(result.figures()))


@eval_app.command("receipts")
def eval_receipts(
    directory: Annotated[
        Path,
        typer.Argument(
            help="Folder of receipts with ground truth: img/NNN.jpg + key/NNN.json (SROIE layout), or NNN.jpg + "
            'NNN.json side by side; each key {"company", "date", "total"}. Images or PDFs.'
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as one JSON object (last line).")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="Read only the first N receipts (by file name).")] = None,
    show_misses: Annotated[
        bool, typer.Option(help="List every receipt where a field was wrong: expected and read values.")
    ] = False,
) -> None:
    """Read every receipt (PDF text layer or Tesseract) and print the accuracy of total (to the cent), date
    (same day) and company (normalised exact, and token F1 ≥ 0.8), and seconds per receipt. Receipts whose
    ground truth for a field is empty are left out of that field's figure and counted."""
    from bot.evals.jsonl import EvalFileError
    from skills.expenses.evals import evaluate_receipts, receipt_pairs

    try:
        count = len(receipt_pairs(directory))
    except EvalFileError as exc:
        console.print(str(exc), style="red", markup=False)
        raise typer.Exit(2) from exc
    count = min(count, limit) if limit else count
    with _progress() as progress:
        task = progress.add_task("Reading receipts", total=count)
        try:
            result = evaluate_receipts(
                directory, limit=limit, on_progress=lambda done, _total: progress.update(task, completed=done)
            )
        except EvalFileError as exc:
            console.print(str(exc), style="red", markup=False)
            raise typer.Exit(2) from exc
    figures = result.figures()

    def shown(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    table = Table(title=f"Receipts: {result.receipts} read from {directory}")
    for column in ("field", "accuracy", "correct", "graded", "skipped (no ground truth)"):
        table.add_column(column)
    for field, label in (("total", "total (to the cent)"), ("date", "date (same day)"), ("company", "company exact")):
        table.add_row(
            label,
            shown(result.accuracy(field)),
            str(result.correct[field]),
            str(result.graded[field]),
            str(result.skipped[field]),
        )
    table.add_row(
        "company token F1 ≥ 0.8",
        shown(result.company_lenient_rate),
        str(result.company_lenient),
        str(result.graded["company"]),
        str(result.skipped["company"]),
    )
    out.print(table)
    out.print(
        f"seconds per receipt: {figures['seconds_per_receipt']} (p50 {figures['seconds_p50']}, "
        f"max {figures['seconds_max']}); unreadable: {result.unreadable}",
        markup=False,
    )
    if show_misses:
        for miss in result.misses:
            out.print(miss, markup=False)
    if as_json:
        print(json.dumps(figures))


if __name__ == "__main__":
    app()
