"""Slack ack latency under load: Slack-signed `event_callback` requests sent to a real server process at a fixed
open-loop rate, and the time until each gets its HTTP answer.

The load generator schedules request i at start + i/rate and never waits for earlier answers, so a slow server
cannot slow the arrivals down (no coordinated omission); latency is measured from the scheduled time. Slack
gives up on an answer after 3 seconds and retries, so a request still unanswered after 3 s counts as an error
(and at 3 s in the percentiles), like any non-2xx answer or connection error.

Each event is a policy question from our dev set, alternately a DM (`message.im`) and an @mention
(`app_mention`), from one of many employees, with a unique event id. The Slack Web API is the stand-in from
tests/slack_standin.py, in this process; it notes when each reply arrives, which gives the reply latency
(event sent → answer posted in its thread)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from slack_sdk.signature import SignatureVerifier

from benchmarks.common import REPO, SIGNING_SECRET, latency_summary, log, policy_questions
from tests.slack_standin import SlackStandIn

SLACK_DEADLINE = 3.0  # seconds Slack waits for the HTTP answer before it retries the event
BOT_USER = "UBOTUSER01"
PG_ADMIN_URL = os.environ.get("BACKOFFICE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
# What each server variant runs (benchmarks/ack_server.py --mode) and on which database.
VARIANTS = {
    "app": ("app", "sqlite"),
    "app-postgresql": ("app", "postgresql"),
    "app-event-worker": ("events", "sqlite"),
    "app-event-worker-postgresql": ("events", "postgresql"),
    "naive": ("naive", "sqlite"),
    "app-serial": ("serial", "sqlite"),
    "floor": ("floor", "none"),
}


@dataclass
class TimedStandIn(SlackStandIn):
    """The Slack Web API stand-in, noting when the reply to each message (by thread ts) was posted."""

    posted_at: dict[str, float] = field(default_factory=dict)

    def answer(self, method: str, params: dict[str, Any], token: str | None) -> tuple[int, dict[str, str], Any]:
        if method == "chat.postMessage" and params.get("thread_ts"):
            self.posted_at.setdefault(str(params["thread_ts"]), time.perf_counter())
        return super().answer(method, params, token)


@dataclass
class Event:
    ts: str
    body: bytes


class EventFactory:
    """Unique, realistic Slack event payloads."""

    def __init__(self, users: int, run: str) -> None:
        self.users = users
        self.run = run
        self.count = 0
        self.questions = policy_questions()

    def make(self) -> Event:
        n = self.count
        self.count += 1
        user = f"U0BENCH{n % self.users:04d}"
        ts = f"{1_800_000_000 + n}.{n % 1_000_000:06d}"
        text = self.questions[n % len(self.questions)]
        if n % 2:
            event = {
                "type": "app_mention",
                "user": user,
                "text": f"<@{BOT_USER}> {text}",
                "ts": ts,
                "channel": "C0BENCHCH1",
                "event_ts": ts,
            }
        else:
            event = {
                "type": "message",
                "user": user,
                "text": text,
                "ts": ts,
                "channel": "D" + user[1:],
                "channel_type": "im",
                "event_ts": ts,
            }
        payload = {
            "token": "legacy-verification-token",
            "team_id": "T0001",
            "api_app_id": "A0001",
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{self.run}{n:08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": "T0001", "user_id": BOT_USER, "is_bot": True}],
        }
        return Event(ts=ts, body=json.dumps(payload).encode())


def _signed(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stamp, body=body)
    return {"Content-Type": "application/json", "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}


async def _drive(url: str, events: list[Event], rate: float) -> list[tuple[float, float, float, str]]:
    """Send `events` at `rate` per second; (scheduled, sent, answered, status) for each."""
    signed = [(e.body, _signed(e.body)) for e in events]
    results: list[tuple[float, float, float, str]] = [(0.0, 0.0, 0.0, "")] * len(events)
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=2000)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(SLACK_DEADLINE + 1)) as client:

        async def one(i: int, scheduled: float) -> None:
            sent = time.perf_counter()
            body, headers = signed[i]
            try:
                response = await asyncio.wait_for(client.post(url, content=body, headers=headers), SLACK_DEADLINE)
                status = str(response.status_code)
            except TimeoutError:
                status = "timeout"
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            results[i] = (scheduled, sent, time.perf_counter(), status)

        start = time.perf_counter() + 0.2
        tasks = []
        for i in range(len(events)):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, scheduled)))
        await asyncio.gather(*tasks)
    return results


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """benchmarks/ack_server.py in its own process."""

    def __init__(self, variant: str, work: Path, slack_url: str, users: int) -> None:
        self.mode = variant
        mode, database = VARIANTS[variant]
        self.database = f"bo_bench_{uuid.uuid4().hex[:12]}" if database == "postgresql" else None
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stats = work / f"{variant}-stats.json"
        self.log = work / f"{variant}-server.log"
        data_dir = work / f"{variant}-data"
        command = [
            sys.executable,
            "-m",
            "benchmarks.ack_server",
            f"--mode={mode}",
            f"--data-dir={data_dir}",
            f"--slack-url={slack_url}",
            f"--port={self.port}",
            f"--users={users}",
            f"--stats={self.stats}",
        ]
        if self.database:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.database}"')
            base = PG_ADMIN_URL.rsplit("/", 1)[0].split("://", 1)[1]
            command.append(f"--database-url=postgresql+psycopg://{base}/{self.database}")
        self._log_file = self.log.open("w")
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.process = subprocess.Popen(command, cwd=REPO, stdout=self._log_file, stderr=subprocess.STDOUT, env=env)

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.mode} server exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.mode} server did not start in {timeout}s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> dict[str, Any]:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log_file.close()
        if self.database:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        if self.stats.exists():
            stats: dict[str, Any] = json.loads(self.stats.read_text(encoding="utf-8"))
            return stats
        return {}


def run_rate(
    server: Server, standin: TimedStandIn, factory: EventFactory, rate: float, duration: float, drain: float
) -> dict[str, Any]:
    events = [factory.make() for _ in range(max(1, round(rate * duration)))]
    log(f"  {server.mode}: {len(events)} events at {rate:g}/s…")
    cpu_before = _process_cpu(server.process.pid)
    results = asyncio.run(_drive(f"{server.url}/slack/events", events, rate))
    load_cpu = _process_cpu(server.process.pid) - cpu_before
    last_answer = max(r[2] for r in results)
    latencies = [(answered - scheduled) * 1000 for scheduled, _sent, answered, _status in results]
    errors: dict[str, int] = {}
    for *_times, status in results:
        if not status.startswith("2"):
            errors[status] = errors.get(status, 0) + 1
    # Replies keep coming after the last ack when answering is slower than arriving: wait for them.
    acked = {e.ts: r[0] for e, r in zip(events, results, strict=True) if r[3].startswith("2")}
    deadline = time.perf_counter() + drain
    settled_at = time.perf_counter()
    seen = -1
    while time.perf_counter() < deadline:
        replied = sum(1 for ts in acked if ts in standin.posted_at)
        if replied >= len(acked):
            break
        if replied != seen:
            seen, settled_at = replied, time.perf_counter()
        elif time.perf_counter() - settled_at > 30:
            break  # no progress for 30 s: whatever is missing will not come
        time.sleep(0.25)
    posted = standin.posted_at
    reply_ms = [(posted[ts] - scheduled) * 1000 for ts, scheduled in acked.items() if ts in posted]
    replies_done = max((standin.posted_at[ts] for ts in acked if ts in standin.posted_at), default=last_answer)
    return {
        "mode": server.mode,
        "rate": rate,
        "duration_s": duration,
        "sent": len(events),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "error_rate": round(sum(errors.values()) / len(events), 4),
        "ack_ms": latency_summary(latencies),
        "send_lag_ms_max": round(max((sent - scheduled) * 1000 for scheduled, sent, _a, _s in results), 1),
        "replied": len(reply_ms),
        "reply_ms": latency_summary(reply_ms),
        "replies_finished_s_after_last_send": round(replies_done - results[-1][0], 1),
        "server_cpu_s_during_load": round(load_cpu, 1),
    }


def _process_cpu(pid: int) -> float:
    """CPU seconds used so far by process `pid` (all its threads), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(
    *, modes: list[str], rates: list[float], duration: float, users: int, drain: float, floor_rate: float | None
) -> dict[str, Any]:
    """Every mode at every rate (ascending), one server process per mode; `floor` only at `floor_rate`."""
    standin = TimedStandIn(bot_user_id=BOT_USER).start()
    factory = EventFactory(users, run="")
    out: dict[str, Any] = {"runs": [], "servers": {}}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for mode in modes:
                mode_rates = [floor_rate] if mode == "floor" and floor_rate else sorted(rates)
                log(f"ack: starting the {mode} server…")
                server = Server(mode, Path(tmp), standin.base_url, users)
                try:
                    server.wait_ready()
                    factory.run = mode[:2].upper()  # one factory for all: every event's ts stays unique
                    for rate in mode_rates:
                        result = run_rate(server, standin, factory, rate, duration, drain)
                        a = result["ack_ms"]
                        log(
                            f"  {mode} @ {rate:g}/s: ack p50 {a['p50']:.1f} ms, p99 {a['p99']:.1f} ms, "
                            f"errors {result['errors']}/{result['sent']}, replies {result['replied']}"
                        )
                        out["runs"].append(result)
                finally:
                    out["servers"][mode] = server.stop()
    finally:
        standin.stop()
    return out
