"""Deferred Slack events: the web process only stores and acks them; event workers (`backoffice events`, started by
`serve --event-workers N`) claim and answer each exactly once, and a killed worker is replaced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.models import ProcessedEvent
from bot.runtime import Runtime, bootstrap_samples, build_runtime
from tests.conftest import SIGNING_SECRET, LiveServer, _free_port, make_settings, python_path
from tests.slack_payloads import app_mention, message_event, post_event
from tests.slack_standin import SlackStandIn


@pytest.fixture
def deferred_runtime(tmp_path: Path, database_url: str, slack: SlackStandIn) -> Iterator[Runtime]:
    rt = build_runtime(make_settings(tmp_path, database_url, slack, BACKOFFICE_DEFER_EVENTS="true"))
    bootstrap_samples(rt)
    yield rt
    rt.close()


def event_rows(runtime: Runtime) -> list[ProcessedEvent]:
    with runtime.database.session_scope() as session:
        rows = list(session.scalars(select(ProcessedEvent).order_by(ProcessedEvent.id)))
        session.expunge_all()
        return rows


def test_web_process_stores_and_acks_then_two_workers_answer_each_event_once(
    deferred_runtime: Runtime, slack: SlackStandIn, http: httpx.Client
) -> None:
    edge = deferred_runtime.slack
    assert edge is not None and edge.deferred
    asked = {
        "U0000DEVONE": "how many vacation days do I get?",
        "U0000DEVTWO": "what is the hotel limit per night?",
        "U0000DEVTHR": "how long is parental leave?",
    }
    events = [message_event(person, q, f"D0DIRECT0{n}", "im") for n, (person, q) in enumerate(asked.items())]
    with LiveServer(deferred_runtime) as server:
        for event in events:
            assert post_event(http, server.url, event).status_code == 200
        assert post_event(http, server.url, events[0], retry=1).status_code == 200  # Slack's retry: dropped
        time.sleep(0.5)
        assert slack.calls_to("chat.postMessage") == []  # stored and acked; nobody answered yet
        rows = event_rows(deferred_runtime)
        assert [(r.status, r.claimed_at, r.payload is not None) for r in rows] == [("pending", None, True)] * 3

        # Two workers racing for the same events (threads here; separate processes in the test below).
        stop = threading.Event()
        queue_workers = [deferred_runtime.queue_worker(answer_events=True) for _ in "ab"]
        workers = [threading.Thread(target=w.run, args=(stop,), kwargs={"poll_seconds": 0.02}) for w in queue_workers]
        for worker in workers:
            worker.start()
        try:
            slack.wait_for("chat.postMessage", 3)
            time.sleep(0.5)
        finally:
            stop.set()
            for worker in workers:
                worker.join(timeout=30)
    posts = slack.calls_to("chat.postMessage")
    assert sorted(p.params["thread_ts"] for p in posts) == sorted(e["event"]["ts"] for e in events)
    assert "25" in next(p.params["text"] for p in posts if p.params["thread_ts"] == events[0]["event"]["ts"])
    rows = event_rows(deferred_runtime)
    assert [(r.status, r.attempts, r.payload) for r in rows] == [("done", 1, None)] * 3


def test_rate_limited_events_stay_queued_for_their_turn(
    deferred_runtime: Runtime, slack: SlackStandIn, http: httpx.Client
) -> None:
    """Deferred events still count toward the per-person limit; the ones over it wait for their turn."""
    edge = deferred_runtime.slack
    assert edge is not None
    deferred_runtime.settings.rate_limit_per_minute = 1
    first = app_mention("U0000DEVONE", "how many vacation days do I get?")
    second = app_mention("U0000DEVONE", "what is the hotel limit per night?")
    with LiveServer(deferred_runtime) as server:
        assert post_event(http, server.url, first).status_code == 200
        assert post_event(http, server.url, second).status_code == 200
    assert "you're queued" in slack.wait_for("chat.postEphemeral")[0].params["text"]
    assert edge.resume_events() == 1  # the first only: the second's turn is a minute away
    assert [(r.status, r.next_attempt_at is not None) for r in event_rows(deferred_runtime)] == [
        ("done", False),
        ("pending", True),  # queued for its turn
    ]


def child_pids(parent: int, marker: bytes) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if ppid == parent and marker in command:
            found.add(int(entry.name))
    return found


def gone(pid: int) -> bool:
    """Exited: reaped, or a zombie waiting to be (its command line is empty)."""
    try:
        return not Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def start_serve(tmp_path: Path, slack: SlackStandIn, http: httpx.Client) -> tuple[subprocess.Popen[bytes], str, Path]:
    """`backoffice serve --event-workers 1` on SQLite, ready; returns the process, its URL and its log file."""
    port = _free_port()
    env = {
        **os.environ,
        "BACKOFFICE_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "BACKOFFICE_DATA_DIR": str(tmp_path / "var"),
        "BACKOFFICE_LLM": "",
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.base_url,
        "PYTHONPATH": python_path(),
    }
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "bot.cli", "serve", "--event-workers", "1", "--port", str(port)]
    with log.open("wb") as out:
        serve = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert serve.poll() is None, log.read_text()
        try:
            return http.get(f"{url}/healthz").status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, 120, "serve did not start")
    return serve, url, log


@pytest.mark.slow
def test_serve_with_an_event_worker_answers_and_replaces_a_killed_worker(
    tmp_path: Path, slack: SlackStandIn, http: httpx.Client
) -> None:
    serve, url, log = start_serve(tmp_path, slack, http)
    try:
        workers = child_pids(serve.pid, b"events")
        assert len(workers) == 1, log.read_text()
        first = app_mention("U0000DEVONE", "how many vacation days do I get?")
        assert post_event(http, url, first).status_code == 200
        assert "25" in slack.wait_for("chat.postMessage", 1, timeout=60)[0].params["text"]

        os.kill(workers.pop(), signal.SIGKILL)
        wait_until(lambda: len(child_pids(serve.pid, b"events")) == 1, 30, "the killed worker was not replaced")
        second = app_mention("U0000DEVONE", "what is the hotel limit per night?")
        assert post_event(http, url, second).status_code == 200
        posts = slack.wait_for("chat.postMessage", 2, timeout=60)
        assert [p.params["thread_ts"] for p in posts] == [first["event"]["ts"], second["event"]["ts"]]
        workers = child_pids(serve.pid, b"events")
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=60)
    assert serve.returncode == 0, log.read_text()
    assert workers and all(gone(pid) for pid in workers)  # the workers stopped with it


@pytest.mark.slow
def test_event_workers_stop_when_serve_is_killed(tmp_path: Path, slack: SlackStandIn, http: httpx.Client) -> None:
    serve, _, log = start_serve(tmp_path, slack, http)
    workers = child_pids(serve.pid, b"events")
    assert len(workers) == 1, log.read_text()
    serve.kill()
    serve.wait()
    wait_until(lambda: gone(next(iter(workers))), 15, "the orphaned worker runs on")
