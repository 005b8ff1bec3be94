"""Fault suite: the real server (`backoffice serve`, its scheduler included) in its own process, the Slack Web
API stand-in, and real databases, put through what production throws at them:

- SIGKILL mid-approval (between "Slack has the notification" and "we know it"), then a restart;
- SIGKILL while an event is being worked on (a receipt being fetched), then a restart;
- Slack answering 429 + Retry-After, then 500s, for a minute;
- PostgreSQL stopped for 30 s.

Each must end with every action done once and every message delivered once, in order per thread.
These tests take minutes, so they run in `make faults` (which CI runs after `make test`)."""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.db import Database
from bot.models import AuditEntry, Expense, LeaveLedgerEntry, LeaveRequest, OutboxItem, ProcessedEvent
from tests.chat import block_element, working_days_ahead
from tests.conftest import SIGNING_SECRET, python_path
from tests.slack_payloads import block_actions, message_event, post_event, post_interaction
from tests.slack_standin import Call, SlackStandIn

pytestmark = pytest.mark.faults

JAMAL, DANIEL, SOFIA = "U0000DEVTWO", "U0000ENGMGR", "U0000DEVONE"
JAMAL_DM, DANIEL_DM, SOFIA_DM = "D0JAMAL001", "D0000ENGMGR", "D0SOFIA001"
JAMAL_COUNTRY = "US"  # his row in bot/samples/directory.csv


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], Any], what: str, timeout: float = 60.0, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
        except Exception:  # noqa: BLE001 - e.g. the database is still coming back
            result = None
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


class ServerProcess:
    """`backoffice serve` in its own process (scheduler included), pointed at the Slack stand-in."""

    def __init__(self, tmp_path: Path, database_url: str, slack: SlackStandIn, **env: str) -> None:
        self.tmp_path = tmp_path
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "BACKOFFICE_DATABASE_URL": database_url,
            "BACKOFFICE_DATA_DIR": str(tmp_path / "data"),
            "BACKOFFICE_LLM": "",
            "SLACK_BOT_TOKEN": slack.token,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.base_url,
            # A process killed mid-send or mid-event is recovered after this long (minutes in production).
            "BACKOFFICE_OUTBOX_STALE_SECONDS": "3",
            "BACKOFFICE_EVENT_STALE_SECONDS": "3",
            "PYTHONPATH": python_path(),
            "NO_COLOR": "1",
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self) -> ServerProcess:
        self.runs += 1
        log = (self.tmp_path / f"server-{self.runs}.log").open("wb")
        command = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        # cwd is the temporary folder so a developer's .env cannot leak in.
        self.proc = subprocess.Popen(command, cwd=self.tmp_path, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._healthy, "the server to answer /healthz", timeout=120, every=0.25)
        return self

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited:\n{self.output()}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no lease release, no rollback but the database's own."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-6000:] for p in sorted(self.tmp_path.glob("server-*.log")))


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    standin = SlackStandIn().start()
    yield standin
    standin.stop()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client


def leave_dates() -> tuple[date, date]:
    """Monday to Wednesday about five weeks ahead, working days for Jamal (US), whatever today is."""
    return working_days_ahead(3, country=JAMAL_COUNTRY)


def outbox_ids(calls: list[dict[str, Any]]) -> list[int]:
    return [int(m["metadata"]["event_payload"]["outbox_id"]) for m in calls if m.get("metadata")]


def all_delivered(database: Database) -> bool:
    with database.session_scope() as session:
        waiting = session.scalar(
            select(func.count()).select_from(OutboxItem).where(OutboxItem.status.in_(("pending", "running")))
        )
        return waiting == 0


def assert_each_post_once(slack: SlackStandIn, database: Database) -> None:
    """Every outbox item for Slack was posted (or edited) and no post was made twice."""
    ids = outbox_ids(slack.messages)
    assert len(ids) == len(set(ids)), f"duplicate posts: {sorted(ids)}"
    with database.session_scope() as session:
        failed = session.scalars(select(OutboxItem).where(OutboxItem.status != "done")).all()
        assert not failed, [(i.id, i.status, i.last_error) for i in failed]


def request_leave(server: ServerProcess, slack: SlackStandIn, http: httpx.Client) -> tuple[str, dict[str, Any]]:
    """Jamal asks for leave in his DM and confirms; returns the request id and his message event."""
    start, end = leave_dates()
    ask = message_event(JAMAL, f"vacation {start:%B} {start.day} to {end:%B} {end.day}", JAMAL_DM, "im")
    assert post_event(http, server.url, ask).status_code == 200
    card = slack.wait_for_post(lambda c: c.params["channel"] == JAMAL_DM and "leave:confirm" in str(c.params), 60)
    request_id = block_element(card, "leave:confirm")["value"]
    confirm = block_actions(JAMAL, "leave:confirm", request_id, JAMAL_DM, card_ts(slack, card), ask["event"]["ts"])
    assert post_interaction(http, server.url, confirm).status_code == 200
    slack.wait_for_post(lambda c: c.params["channel"] == DANIEL and "leave:approve" in str(c.params), 60)
    return request_id, ask


def card_ts(slack: SlackStandIn, call: Call) -> str:
    """The ts Slack gave a post (the stand-in stores it with the message)."""
    for message in slack.messages:
        if message.get("text") == call.params.get("text") and message["channel"].endswith(
            str(call.params["channel"])[1:]
        ):
            return str(message["ts"])
    raise AssertionError("post not stored")


# --------------------------------------------------------------------------- SIGKILL


def test_sigkill_mid_approval_then_restart_approves_once_and_notifies_once(
    tmp_path: Path, database_url: str, slack: SlackStandIn, http: httpx.Client
) -> None:
    server = ServerProcess(tmp_path, database_url, slack).start()
    database = Database(database_url)
    try:
        request_id, ask = request_leave(server, slack, http)

        # Slack takes the "approved" notification, but the answer never reaches the server: it is killed first.
        slack.hold = lambda method, params: method == "chat.postMessage" and "approved your" in str(params.get("text"))
        approve = block_actions(DANIEL, "leave:approve", request_id, DANIEL_DM, "1.2")
        assert post_interaction(http, server.url, approve).status_code == 200
        wait_until(lambda: any("approved your" in str(m["text"]) for m in slack.messages), "the held post")
        server.kill()
        slack.hold = None
        slack.release()
        with database.session_scope() as session:  # the approval itself had committed
            assert session.get_one(LeaveRequest, int(request_id)).status == "approved"
            stuck = session.scalars(select(OutboxItem).where(OutboxItem.status == "running")).all()
            assert stuck, "the kill should leave the notification marked as being sent"

        server.start()
        wait_until(lambda: all_delivered(database), "the outbox to drain after the restart", timeout=90)
        told = [m for m in slack.messages if "approved your" in str(m["text"])]
        assert len(told) == 1, told
        assert told[0]["channel"] == JAMAL_DM and told[0]["thread_ts"] == ask["event"]["ts"]
        assert_each_post_once(slack, database)
        assert slack.calls_to("conversations.history") or slack.calls_to("conversations.replies")
        # A second click after the restart changes nothing either.
        post_interaction(http, server.url, approve)
        wait_until(lambda: len(slack.calls_to("chat.postEphemeral")) >= 1, "the refusal of the second click")
        with database.session_scope() as session:
            approvals = session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.entity == "leave_request", AuditEntry.action == "approved")
            )
            usage = session.scalar(
                select(func.count())
                .select_from(LeaveLedgerEntry)
                .where(LeaveLedgerEntry.period == f"request:{request_id}")
            )
        assert (approvals, usage) == (1, 1)
    finally:
        server.stop()
        database.dispose()


def test_sigkill_while_an_event_is_worked_on_reruns_it_once_after_restart(
    tmp_path: Path, slack: SlackStandIn, http: httpx.Client, tesseract: None
) -> None:
    from tests.skills.expenses.test_receipts import render_receipt

    database_url = f"sqlite:///{tmp_path / 'faults.db'}"
    server = ServerProcess(tmp_path, database_url, slack).start()
    database = Database(database_url)
    try:
        buffer = io.BytesIO()
        render_receipt([("HARBOUR TAXI CO", ""), ("DATE: 02/11/2026", ""), ("TOTAL", "38.50")]).save(buffer, "PNG")
        receipt = slack.add_file("F0FAULT001", buffer.getvalue(), "taxi.png", "image/png")
        downloads = [0]

        def first_download(method: str, _params: dict[str, Any]) -> bool:
            if method != "files.download":
                return False
            downloads[0] += 1
            return downloads[0] == 1

        slack.hold = first_download  # the process dies while it fetches the receipt (acked, not finished)
        event = message_event(SOFIA, "taxi to the airport", SOFIA_DM, "im", files=[receipt])
        event["event"]["subtype"] = "file_share"
        assert post_event(http, server.url, event).status_code == 200
        wait_until(lambda: slack.calls_to("files.download"), "the receipt download")
        server.kill()
        slack.release()
        with database.session_scope() as session:
            stored = session.scalars(select(ProcessedEvent).where(ProcessedEvent.event_id == event["event_id"])).one()
            assert stored.status == "running" and stored.payload
            assert session.scalar(select(func.count()).select_from(Expense)) == 0

        server.start()
        card = slack.wait_for_post(lambda c: c.params.get("thread_ts") == event["event"]["ts"], timeout=60)
        assert "38.50" in card.params["text"]
        wait_until(lambda: all_delivered(database), "the outbox to drain")
        time.sleep(4)  # longer than the stale time: a second run would have happened by now
        with database.session_scope() as session:
            assert session.scalar(select(func.count()).select_from(Expense)) == 1
            stored = session.scalars(select(ProcessedEvent).where(ProcessedEvent.event_id == event["event_id"])).one()
            assert stored.status == "done" and stored.attempts == 1
        replies = [m for m in slack.messages if m.get("thread_ts") == event["event"]["ts"]]
        assert len(replies) == 1, replies
        assert_each_post_once(slack, database)
    finally:
        server.stop()
        database.dispose()


# --------------------------------------------------------------------------- Slack outage


def test_a_minute_of_429_then_500_delivers_everything_once_in_order(
    tmp_path: Path, slack: SlackStandIn, http: httpx.Client
) -> None:
    database_url = f"sqlite:///{tmp_path / 'faults.db'}"
    server = ServerProcess(tmp_path, database_url, slack).start()
    database = Database(database_url)
    questions = [
        "how many vacation days do I get?",
        "can I carry vacation over to next year?",
        "what is the per diem for meals when travelling?",
        "how long is parental leave?",
        "what is the policy on working from home?",
    ]
    people = [(JAMAL, JAMAL_DM), (SOFIA, SOFIA_DM), (DANIEL, DANIEL_DM)]
    try:
        seconds = float(os.environ.get("BACKOFFICE_FAULT_OUTAGE_SECONDS", "60"))
        slack.outage(rate_limited_for=seconds / 3, failing_for=seconds * 2 / 3, retry_after=2)
        began = time.monotonic()
        threads: dict[str, str] = {}
        for user, channel in people:
            opener = message_event(user, questions[0], channel, "im")
            threads[channel] = opener["event"]["ts"]
        sent: list[str] = []
        for question in questions:  # each person asks the five questions in one thread of their DM
            for user, channel in people:
                event = message_event(user, question, channel, "im", thread_ts=threads[channel])
                assert post_event(http, server.url, event).status_code == 200
                sent.append(event["event_id"])
                # Wait until it is answered (its reply queued) so the expected order in the thread is known.
                wait_until(partial(event_done, database, event["event_id"]), "the event to be handled", 60)
        asked_in, during_outage = time.monotonic() - began, len(slack.messages)
        wait_until(lambda: all_delivered(database), "the outbox to drain", timeout=seconds + 150, every=0.5)
        assert time.monotonic() - began >= seconds, "the outbox drained while Slack was still refusing"
        if asked_in < seconds:  # (on a very slow machine the questions can outlast the outage)
            assert during_outage == 0, "a post got through while Slack was refusing"
        assert_each_post_once(slack, database)
        with database.session_scope() as session:
            items = session.scalars(select(OutboxItem).order_by(OutboxItem.id)).all()
            expected = {ch: [i.id for i in items if i.thread_ts == threads[ch]] for _, ch in people}
            retried = sum(1 for i in items if i.attempts >= 2)
        for _, channel in people:
            posted = outbox_ids([m for m in slack.messages if m.get("thread_ts") == threads[channel]])
            assert posted == expected[channel] and len(posted) == len(questions), (channel, posted, expected)
        tries = [c for c in slack.calls if c.method == "chat.postMessage"]
        assert retried >= len(people) and len(tries) > len(sent), "the outage was met and retried, not dropped"
    finally:
        server.stop()
        database.dispose()


def event_done(database: Database, event_id: str) -> bool:
    with database.session_scope() as session:
        row = session.scalars(select(ProcessedEvent).where(ProcessedEvent.event_id == event_id)).one_or_none()
        return row is not None and row.status == "done"


# --------------------------------------------------------------------------- PostgreSQL outage


class PrivateCluster:
    """A PostgreSQL server of our own (initdb in a temporary folder, run as the postgres user), so stopping it
    for 30 s does not disturb the machine's shared server."""

    def __init__(self, tmp_path: Path) -> None:
        binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        if not binaries:
            pytest.fail("PostgreSQL server binaries are not installed (.ci/run installs postgresql)")
        self.bin = binaries[-1]
        self.dir = Path(f"/tmp/bo-pg-{uuid.uuid4().hex[:8]}")
        self.port = _free_port()
        self.dir.mkdir()
        shutil.chown(self.dir, "postgres", "postgres")
        self._as_postgres([str(self.bin / "initdb"), "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres"])

    def _as_postgres(self, command: list[str]) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(prefix + command, check=True, capture_output=True, timeout=120)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        log = str(self.dir / "server.log")
        self._as_postgres(
            [str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-o", options, "-l", log, "-w", "start"]
        )

    def stop(self) -> None:
        self._as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop"])

    def remove(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def test_postgresql_stopped_for_30_seconds_nothing_half_written_and_work_resumes(
    tmp_path: Path, slack: SlackStandIn, http: httpx.Client
) -> None:
    cluster = PrivateCluster(tmp_path)
    cluster.start()
    server = ServerProcess(tmp_path, cluster.url, slack).start()
    database = Database(cluster.url)
    try:
        start, end = leave_dates()
        ask = message_event(JAMAL, f"vacation {start:%B} {start.day} to {end:%B} {end.day}", JAMAL_DM, "im")
        assert post_event(http, server.url, ask).status_code == 200
        card = slack.wait_for_post(lambda c: "leave:confirm" in str(c.params), 60)
        request_id = block_element(card, "leave:confirm")["value"]
        database.dispose()

        cluster.stop()
        stopped = time.monotonic()
        # A question arrives: it cannot be stored, so it is not acked and Slack will deliver it again.
        question = message_event(JAMAL, "how many vacation days do I get?", JAMAL_DM, "im")
        refused = post_event(http, server.url, question)
        assert refused.status_code >= 500
        note = wait_until(lambda: slack.calls_to("chat.postEphemeral"), "the note to Jamal")[-1]
        assert "can't reach my database" in note.params["text"]
        # A click: nothing can be saved, and he is told so.
        confirm = block_actions(JAMAL, "leave:confirm", request_id, JAMAL_DM, card_ts(slack, card), ask["event"]["ts"])
        assert post_interaction(http, server.url, confirm).status_code == 200
        told = wait_until(lambda: slack.calls_to("chat.postEphemeral")[1:], "the click's answer")[-1]
        assert "nothing was saved" in told.params["text"]
        assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 503  # out of rotation, still running

        time.sleep(max(0.0, 30 - (time.monotonic() - stopped)))
        cluster.start()
        # Slack's redelivery of the question, and Jamal's second click, now go through, once each.
        redelivered = post_event(http, server.url, question, retry=1)
        assert redelivered.status_code == 200
        answer = slack.wait_for_post(lambda c: c.params.get("thread_ts") == question["event"]["ts"], timeout=60)
        assert "vacation" in answer.params["text"].lower()
        assert post_interaction(http, server.url, confirm).status_code == 200
        slack.wait_for_post(lambda c: c.params["channel"] == DANIEL and "leave:approve" in str(c.params), 60)
        wait_until(lambda: all_delivered(database), "the outbox to drain", timeout=60)
        with database.session_scope() as session:
            request = session.get_one(LeaveRequest, int(request_id))
            steps = session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.entity == "leave_request", AuditEntry.entity_id == int(request_id))
                .order_by(AuditEntry.id)
            ).all()
            events = session.scalars(
                select(ProcessedEvent).where(ProcessedEvent.event_id == question["event_id"])
            ).all()
        assert request.status == "pending" and steps == ["drafted", "pending"], steps
        assert len(events) == 1 and events[0].status == "done"
        assert len([m for m in slack.messages if m.get("thread_ts") == question["event"]["ts"]]) == 1
        assert_each_post_once(slack, database)
        assert server.proc is not None and server.proc.poll() is None, "the server survived the outage"
    finally:
        server.stop()
        database.dispose()
        cluster.remove()
