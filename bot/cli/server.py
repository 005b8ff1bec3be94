"""Running the assistant: `serve` (web, Slack, uvicorn workers), `events` (Slack event workers) and `scheduler`."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.terminal import console, set_up_logging, settings_or_exit
from bot.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from bot.runtime import Runtime


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

    settings = settings_or_exit()
    if event_workers:
        # The web process only stores and acks events; the event workers answer them.
        settings = settings.model_copy(update={"defer_events": True})
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
        factory = WORKER_APPS[(run_scheduler, settings.defer_events)]
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
    """The app of one `serve --workers N` worker (also `uvicorn --factory bot.cli.server:worker_app`): its own runtime
    from the environment, on a schema already migrated; it stands for scheduler leader with the other workers."""
    return _worker_app(run_scheduler=True, defer_events=False)


def worker_app_without_scheduler() -> FastAPI:
    """Like `worker_app`, for `serve --workers N --no-scheduler` (a dedicated `backoffice scheduler` runs the jobs)."""
    return _worker_app(run_scheduler=False, defer_events=False)


def worker_app_deferring_events() -> FastAPI:
    """Like `worker_app`, for `serve --workers N --event-workers M`: events are stored and acked, not answered."""
    return _worker_app(run_scheduler=True, defer_events=True)


def worker_app_deferring_events_without_scheduler() -> FastAPI:
    """`serve --workers N --event-workers M --no-scheduler`."""
    return _worker_app(run_scheduler=False, defer_events=True)


# The uvicorn factory for each (scheduler, deferred events): a worker process is started by an import string, so
# what `serve` was told reaches it through the factory's name rather than through the environment.
WORKER_APPS = {
    (True, False): "bot.cli.server:worker_app",
    (False, False): "bot.cli.server:worker_app_without_scheduler",
    (True, True): "bot.cli.server:worker_app_deferring_events",
    (False, True): "bot.cli.server:worker_app_deferring_events_without_scheduler",
}


def _worker_app(*, run_scheduler: bool, defer_events: bool) -> FastAPI:
    from bot.runtime import build_runtime
    from bot.web_app import create_app

    set_up_logging(verbose=False)  # a worker is a fresh interpreter: set up logging as the command line does
    settings = Settings()
    if defer_events:
        settings = settings.model_copy(update={"defer_events": True})
    return create_app(build_runtime(settings, migrate=False), run_scheduler=run_scheduler)


def events(
    poll: Annotated[float, typer.Option(min=0.01, help="Seconds between looks for new events when idle.")] = 0.05,
) -> None:
    """Answer Slack events that web processes stored and acked, and deliver the outbox and webhooks (the queue
    worker), in the foreground until Ctrl-C or SIGTERM.

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
    # An event worker answers what web processes defer; as a web process it would only defer too.
    runtime = build_runtime(settings_or_exit().model_copy(update={"defer_events": True}), migrate=False)
    if runtime.slack is None:
        console.print("[red]Slack is not configured (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET): nothing to answer.[/red]")
        runtime.close()
        raise typer.Exit(2)
    if stopping.is_set():
        runtime.close()
        return
    try:
        runtime.queue_worker(answer_events=True).run(stopping, poll_seconds=poll)
    finally:
        runtime.close()


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
    runtime = build_runtime(settings_or_exit())
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
