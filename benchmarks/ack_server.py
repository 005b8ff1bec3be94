"""The server side of the Slack ack benchmark, run in its own process by benchmarks/ack_bench.py.

Modes:
- `app`: the real app (`build_runtime` + `create_app` under uvicorn, as `backoffice serve` runs it), Slack enabled
  with the Web API pointed at the stand-in: bolt acks, then the listener answers in the same process;
- `naive`: the same app with bolt's `process_before_response=True`, the naive way: the answer is worked out and
  posted before Slack gets its 200;
- `events`: the real app as `backoffice serve --event-workers 1` runs it: the web process stores each event and
  acks; one `backoffice events` process answers (its CPU and memory are not in this process's stats);
- `serial` (an experiment): the real app with bolt's listener pool cut from 5 threads to 1, to see how much of
  the ack latency is the listeners competing with the ack path (for the GIL and SQLite's write lock);
- `floor`: a bare FastAPI endpoint that only checks Slack's signature and answers 200: what HTTP, JSON and
  verification cost on this machine, with no work at all.

On exit it writes its own peak memory and CPU time to `--stats`."""

from __future__ import annotations

import argparse
import json
import resource
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response


def _environment(data_dir: Path, slack_url: str, database_url: str | None, *, deferred: bool) -> dict[str, str]:
    from benchmarks.common import SIGNING_SECRET

    environment = {
        "BACKOFFICE_DATA_DIR": str(data_dir),
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_url,
        "BACKOFFICE_HR_CHANNEL": "C0HRQUEUE1",
        "BACKOFFICE_DEFER_EVENTS": "true" if deferred else "false",
    }
    if database_url:
        environment["BACKOFFICE_DATABASE_URL"] = database_url
    return environment


def _settings(environment: dict[str, str]) -> Any:
    from bot.settings import Settings

    return Settings(_env_file=None, **environment)  # type: ignore[call-arg]


def bench_directory_csv(users: int) -> str:
    """Employees who send the benchmark's messages: many people, as in a company, so that no one person goes
    over the per-person rate limit (which would queue their messages instead of answering them)."""
    lines = ["slack_id,name,email,tz,country,manager_slack_id,roles,delegate_slack_id,hired_on"]
    for n in range(users):
        person = f"U0BENCH{n:04d},Bench Person {n},bench{n}@larkspur.example"
        lines.append(f"{person},Europe/Berlin,DE,U0000ENGMGR,employee,,2024-01-08")
    return "\n".join(lines) + "\n"


def build_app(
    mode: str, data_dir: Path, slack_url: str, users: int, database_url: str | None = None
) -> tuple[Any, Any]:
    """The ASGI app, and the event workers it needs (started here, for the caller to stop) or None."""
    from slack_sdk.signature import SignatureVerifier

    from benchmarks.common import SIGNING_SECRET

    if mode == "floor":
        verifier = SignatureVerifier(SIGNING_SECRET)
        floor = FastAPI()

        @floor.get("/healthz")
        def healthz() -> dict[str, str]:
            return {"status": "ok"}

        @floor.post("/slack/events")
        async def events(request: Request) -> Response:
            body = await request.body()
            stamp = request.headers.get("x-slack-request-timestamp", "")
            signature = request.headers.get("x-slack-signature", "")
            if not verifier.is_valid(body, stamp, signature):
                return Response(status_code=401)
            json.loads(body)
            return Response(status_code=200)

        return floor, None

    from bot import directory
    from bot.event_workers import EventWorkers
    from bot.runtime import bootstrap_samples, build_runtime
    from bot.web_app import create_app

    environment = _environment(data_dir, slack_url, database_url, deferred=mode == "events")
    runtime = build_runtime(_settings(environment))
    bootstrap_samples(runtime)
    with runtime.database.session_scope() as session:
        directory.import_csv(session, bench_directory_csv(users))
    runtime.index.search("warm up", k=5)  # load the model and the index cache before the clock starts
    if mode == "naive":
        _replace_bolt_app(runtime, process_before_response=True)
    if mode == "serial":
        from concurrent.futures import ThreadPoolExecutor

        _replace_bolt_app(runtime, process_before_response=False, listener_executor=ThreadPoolExecutor(max_workers=1))
    workers = None
    if mode == "events":
        import os

        workers = EventWorkers(1, {**os.environ, **environment})
        workers.start()
        _warm_up_workers(runtime)
    return create_app(runtime), workers


def _replace_bolt_app(runtime: Any, **options: Any) -> None:
    """Give the Slack edge a bolt App built with `options` (the baseline and experiment variants), same listeners."""
    from slack_bolt import App

    from benchmarks.common import SIGNING_SECRET

    edge = runtime.slack
    assert edge is not None
    app = App(
        client=edge.client,
        signing_secret=SIGNING_SECRET,
        token_verification_enabled=False,
        request_verification_enabled=True,
        **options,
    )
    edge.register(app)
    edge.app = app


def _warm_up_workers(runtime: Any, questions: int = 4, timeout: float = 180) -> None:
    """Store a few questions as the web process would and wait until the event worker answered them all, so its
    start-up (model and index loading) is over before the clock starts."""
    import time

    from sqlalchemy import func, select

    from bot import inbox
    from bot.models import ProcessedEvent

    ids = [f"EvWARMUP{n}" for n in range(questions)]
    for n, event_id in enumerate(ids):
        event = {
            "type": "message",
            "channel_type": "im",
            "channel": f"D0WARMUP{n}",
            "user": "U0BENCH0000",
            "text": "how many vacation days do I get?",
            "ts": f"1.{n:06d}",
        }
        body = {"type": "event_callback", "event_id": event_id, "event": event}
        inbox.accept(runtime.database, body, per_minute=1000, deferred=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with runtime.database.session_scope() as session:
            open_events = session.scalar(
                select(func.count()).where(ProcessedEvent.event_id.in_(ids), ProcessedEvent.status != "done")
            )
        if not open_events:
            return
        time.sleep(0.2)
    raise RuntimeError("the event worker did not answer the warm-up questions")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["app", "events", "naive", "serial", "floor"], required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--slack-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--stats", type=Path, required=True)
    parser.add_argument("--database-url", help="default: SQLite in the data dir (the embedded default)")
    args = parser.parse_args()

    import uvicorn

    app, workers = build_app(args.mode, args.data_dir, args.slack_url, args.users, args.database_url)
    try:
        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
    finally:
        if workers is not None:
            workers.stop()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    args.stats.write_text(
        json.dumps(
            {"peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2)}
        ),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
