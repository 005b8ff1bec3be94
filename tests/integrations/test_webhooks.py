"""Outbound ticket-event webhooks on real SQLite and PostgreSQL, sent to a real HTTP receiver on localhost that
checks every signature with `verify`: queued only with a committed change, signed as documented, retried with
backoff (the clock is injected, nothing sleeps), given up on 4xx, resumed after a dispatcher dies mid-send
(same delivery id, so the receiver can drop the duplicate), and never sent twice by two racing dispatchers."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.db import Database, utcnow
from bot.migrate import upgrade
from bot.models import WebhookDelivery
from bot.runtime import build_runtime
from bot.scheduler import run_job
from integrations.webhooks import WebhookDispatcher, queue_event, retry_after, retry_policy, sign, verify
from tests.conftest import make_settings

SECRET = "whsec-test"


class FakeClock:
    """The dispatcher's (and receiver's) notion of now, moved by the test instead of sleeping."""

    def __init__(self) -> None:
        # Ahead of the wall clock, so events queued during the test (stamped with real time) are already due.
        self.now = utcnow().replace(microsecond=0) + timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    signed: bool

    @property
    def delivery_id(self) -> int:
        return int(self.headers["X-Backoffice-Delivery"])


class Receiver:
    """A webhook endpoint on a real localhost port: verifies signatures, records requests, answers as scripted
    (then 200); an unsigned or badly signed request gets 401."""

    def __init__(self, clock: Callable[[], datetime], secret: str = SECRET) -> None:
        self.answers: list[Answer] = []
        self.received: list[Received] = []
        self.delay = 0.0
        self._lock = threading.Lock()
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                signed = verify(
                    secret,
                    self.headers.get("X-Backoffice-Timestamp", ""),
                    body,
                    self.headers.get("X-Backoffice-Signature", ""),
                    now=clock().timestamp(),
                )
                with receiver._lock:
                    receiver.received.append(Received(dict(self.headers.items()), body, signed))
                    answer = receiver.answers.pop(0) if receiver.answers else Answer()
                if answer.hang:
                    receiver._release.wait(10)
                elif receiver.delay:
                    receiver._release.wait(receiver.delay)
                status = answer.status if signed else 401
                try:
                    self.send_response(status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the client gave up waiting (the hang case)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks/backoffice"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def script(self, *answers: Answer) -> None:
        with self._lock:
            self.answers.extend(answers)

    def delivery_ids(self) -> list[int]:
        return [request.delivery_id for request in self.received]


class ProcessKilled(BaseException):
    """Stands in for the process dying: not an Exception, so nothing on the way out handles it."""


class KilledAfterSending(httpx.BaseTransport):
    """Really delivers the request, then the dispatcher 'dies' before it can record the result."""

    def __init__(self) -> None:
        self._real = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._real.handle_request(request)
        response.read()
        raise ProcessKilled


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    upgrade(database_url)
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def receiver(clock: FakeClock) -> Iterator[Receiver]:
    standin = Receiver(clock).start()
    yield standin
    standin.stop()


def queue(database: Database, count: int = 1, *, event: str = "ticket.created") -> list[int]:
    with database.session_scope() as session:
        deliveries = [
            queue_event(
                session,
                enabled=True,
                event=event,
                entity="ticket",
                entity_id=40 + n,
                payload={"title": f"VPN down #{n}", "priority": "P2", "requester": "Zoë"},
            )
            for n in range(count)
        ]
        session.flush()
        return [d.id for d in deliveries if d is not None]


def dispatcher(database: Database, receiver: Receiver, clock: FakeClock, **options: Any) -> WebhookDispatcher:
    return WebhookDispatcher(database, url=receiver.url, secret=SECRET, clock=clock, **options)


def stored(database: Database, delivery_id: int) -> WebhookDelivery:
    with database.session_scope() as session:
        return session.get_one(WebhookDelivery, delivery_id)


def next_attempt(delivery: WebhookDelivery) -> datetime:
    # SQLite hands timezone-aware columns back naive (stored as UTC).
    moment = delivery.next_attempt_at
    assert moment is not None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# --- queueing --------------------------------------------------------------------------------------------------


def test_nothing_is_queued_for_a_rolled_back_change_or_when_webhooks_are_disabled(
    database: Database, receiver: Receiver, clock: FakeClock
) -> None:
    with pytest.raises(RuntimeError, match="ticket insert failed"):
        with database.session_scope() as session:
            queue_event(session, enabled=True, event="ticket.created", entity="ticket", entity_id=7, payload={})
            session.flush()
            raise RuntimeError("ticket insert failed")
    with database.session_scope() as session:
        disabled = queue_event(session, enabled=False, event="ticket.created", entity="ticket", entity_id=8, payload={})
    assert disabled is None
    with database.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    assert dispatcher(database, receiver, clock).deliver_pending() == 0
    assert receiver.received == []


# --- one delivery ----------------------------------------------------------------------------------------------


def test_delivery_is_signed_and_carries_the_documented_headers_and_body(
    database: Database, receiver: Receiver, clock: FakeClock
) -> None:
    [delivery_id] = queue(database)
    assert dispatcher(database, receiver, clock).deliver_pending() == 1

    [request] = receiver.received
    assert request.signed
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Backoffice-Event"] == "ticket.created"
    assert request.headers["X-Backoffice-Delivery"] == str(delivery_id)
    assert request.headers["X-Backoffice-Timestamp"] == str(int(clock.now.timestamp()))
    assert request.headers["X-Backoffice-Signature"].startswith("sha256=")
    document = json.loads(request.body.decode("utf-8"))
    assert list(document) == sorted(document)
    assert document["id"] == delivery_id
    assert (document["event"], document["entity"], document["entity_id"]) == ("ticket.created", "ticket", 40)
    assert document["data"] == {"title": "VPN down #0", "priority": "P2", "requester": "Zoë"}
    assert datetime.fromisoformat(document["occurred_at"]).utcoffset() == timedelta(0)

    row = stored(database, delivery_id)
    assert (row.status, row.attempts, row.last_error) == ("done", 1, None)
    assert row.finished_at is not None
    assert dispatcher(database, receiver, clock).deliver_pending() == 0  # nothing is sent twice
    assert len(receiver.received) == 1


def test_verify_rejects_tampering_wrong_secrets_and_stale_or_malformed_timestamps() -> None:
    body, timestamp = b'{"id":1}', "1700000000"
    signature = sign(SECRET, timestamp, body)
    assert verify(SECRET, timestamp, body, signature, now=1_700_000_100)
    assert not verify(SECRET, timestamp, b'{"id":2}', signature, now=1_700_000_100)
    assert not verify("other-secret", timestamp, body, signature, now=1_700_000_100)
    assert not verify(SECRET, "1700000001", body, signature, now=1_700_000_100)  # timestamp is signed too
    assert not verify(SECRET, timestamp, body, signature, now=1_700_000_301)  # replayed too late
    assert not verify(SECRET, timestamp, body, signature, now=1_699_999_699)  # from the future
    assert verify(SECRET, timestamp, body, signature, now=1_700_000_900, tolerance=900)
    assert not verify(SECRET, "soon", body, sign(SECRET, "soon", body), now=1_700_000_000)
    assert not verify(SECRET, timestamp, body, "sha256=zoë", now=1_700_000_000)


# --- retries ---------------------------------------------------------------------------------------------------


def test_server_errors_are_retried_with_backoff_until_delivered(
    database: Database, receiver: Receiver, clock: FakeClock
) -> None:
    receiver.script(Answer(500), Answer(500))
    [delivery_id] = queue(database)
    webhooks = dispatcher(database, receiver, clock)

    assert webhooks.deliver_pending() == 0
    row = stored(database, delivery_id)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error is not None and row.last_error.startswith("HTTP 500")
    assert next_attempt(row) == clock.now + timedelta(seconds=30)
    assert webhooks.deliver_pending() == 0  # not due yet: the receiver is left alone
    assert len(receiver.received) == 1

    clock.advance(seconds=30)
    assert webhooks.deliver_pending() == 0
    assert next_attempt(stored(database, delivery_id)) == clock.now + timedelta(seconds=60)
    clock.advance(seconds=59)
    assert webhooks.deliver_pending() == 0
    assert len(receiver.received) == 2

    clock.advance(seconds=1)
    assert webhooks.deliver_pending() == 1
    row = stored(database, delivery_id)
    assert (row.status, row.attempts, row.last_error) == ("done", 3, None)
    assert receiver.delivery_ids() == [delivery_id] * 3
    assert len({request.body for request in receiver.received}) == 1  # the same bytes on every attempt


def test_rate_limit_waits_as_long_as_retry_after_asks(database: Database, receiver: Receiver, clock: FakeClock) -> None:
    receiver.script(Answer(429, {"Retry-After": "600"}))
    [delivery_id] = queue(database)
    webhooks = dispatcher(database, receiver, clock)

    assert webhooks.deliver_pending() == 0
    assert next_attempt(stored(database, delivery_id)) == clock.now + timedelta(seconds=600)
    clock.advance(seconds=599)
    assert webhooks.deliver_pending() == 0
    clock.advance(seconds=1)
    assert webhooks.deliver_pending() == 1
    assert (stored(database, delivery_id).status, len(receiver.received)) == ("done", 2)


def test_client_error_fails_at_once_and_server_errors_after_max_attempts(
    database: Database, receiver: Receiver, clock: FakeClock
) -> None:
    receiver.script(Answer(400), Answer(503), Answer(503))
    rejected, flaky = queue(database, 2)
    webhooks = dispatcher(database, receiver, clock, max_attempts=2)

    assert webhooks.deliver_pending() == 0
    row = stored(database, rejected)
    assert (row.status, row.attempts) == ("failed", 1)  # not retried: sending it again cannot help
    assert row.last_error is not None and row.last_error.startswith("HTTP 400")
    assert (stored(database, flaky).status, stored(database, flaky).attempts) == ("pending", 1)

    clock.advance(seconds=30)
    assert webhooks.deliver_pending() == 0
    row = stored(database, flaky)
    assert (row.status, row.attempts) == ("failed", 2)
    assert row.last_error is not None and row.last_error.startswith("HTTP 503")

    clock.advance(hours=2)
    assert webhooks.deliver_pending() == 0
    assert receiver.delivery_ids() == [rejected, flaky, flaky]


def test_hanging_or_unreachable_receiver_leaves_the_event_pending(
    database: Database, receiver: Receiver, clock: FakeClock
) -> None:
    receiver.script(Answer(hang=True))
    [delivery_id] = queue(database)
    with httpx.Client(timeout=0.3) as http:
        assert dispatcher(database, receiver, clock, http=http).deliver_pending() == 0
    row = stored(database, delivery_id)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error is not None and "Timeout" in row.last_error

    clock.advance(seconds=30)
    nobody = WebhookDispatcher(database, url="http://127.0.0.1:9/nobody", secret=SECRET, clock=clock)
    assert nobody.deliver_pending() == 0
    row = stored(database, delivery_id)
    assert (row.status, row.attempts) == ("pending", 2)
    assert row.last_error is not None and "Connect" in row.last_error

    clock.advance(seconds=60)
    assert dispatcher(database, receiver, clock).deliver_pending() == 1
    assert stored(database, delivery_id).status == "done"


def test_a_transient_failure_ends_the_run_so_a_struggling_receiver_is_not_hammered(
    database: Database, receiver: Receiver, clock: FakeClock
) -> None:
    receiver.script(Answer(503))
    first, second, third = queue(database, 3)
    webhooks = dispatcher(database, receiver, clock)
    assert webhooks.deliver_pending() == 0
    assert [stored(database, i).attempts for i in (first, second, third)] == [1, 0, 0]
    assert webhooks.deliver_pending() == 2  # the others are due; the first waits out its backoff
    clock.advance(seconds=30)
    assert webhooks.deliver_pending() == 1
    assert sorted(receiver.delivery_ids()) == [first, first, second, third]


def test_backoff_doubles_from_thirty_seconds_up_to_an_hour() -> None:
    backoff = retry_policy().wait
    assert [backoff(n).total_seconds() for n in range(1, 10)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert backoff(10_000) == timedelta(hours=1)


def test_retry_after_accepts_seconds_or_an_http_date() -> None:
    now = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
    request = httpx.Request("POST", "http://receiver.example/")

    def answer(value: str) -> timedelta | None:
        return retry_after(httpx.Response(429, headers={"Retry-After": value}, request=request), now)

    assert answer("120") == timedelta(seconds=120)
    assert answer("Tue, 01 Jan 2030 09:05:00 GMT") == timedelta(minutes=5)
    assert answer("Mon, 31 Dec 2029 09:00:00 GMT") == timedelta(0)
    assert answer("99999999") == timedelta(days=1)
    assert answer("later, please") is None
    assert retry_after(httpx.Response(429, request=request), now) is None


# --- restarts and concurrency ----------------------------------------------------------------------------------


def test_event_left_sending_by_a_killed_dispatcher_is_resent_after_a_restart(
    database_url: str, database: Database, receiver: Receiver, clock: FakeClock
) -> None:
    [delivery_id] = queue(database)
    with httpx.Client(transport=KilledAfterSending()) as http:
        with pytest.raises(ProcessKilled):
            dispatcher(database, receiver, clock, http=http).deliver_pending()
    row = stored(database, delivery_id)
    assert (row.status, row.attempts) == ("running", 1)  # sent, but never marked done
    assert len(receiver.received) == 1

    restarted = Database(database_url)  # a new process: its own engine, its own dispatcher
    try:
        webhooks = dispatcher(restarted, receiver, clock)
        clock.advance(minutes=1)
        assert webhooks.deliver_pending() == 0  # the claim may still be live: do not send alongside it
        clock.advance(minutes=4, seconds=1)
        assert webhooks.deliver_pending() == 1
    finally:
        restarted.dispose()

    row = stored(database, delivery_id)
    assert (row.status, row.attempts, row.last_error) == ("done", 2, None)
    first, again = receiver.received
    assert first.delivery_id == again.delivery_id == delivery_id  # the receiver's dedupe key
    assert first.body == again.body and again.signed

    # A send interrupted on its last allowed attempt is not retried forever.
    [spent] = queue(database)
    with httpx.Client(transport=KilledAfterSending()) as http:
        with pytest.raises(ProcessKilled):
            dispatcher(database, receiver, clock, http=http, max_attempts=1).deliver_pending()
    clock.advance(minutes=5, seconds=1)
    assert dispatcher(database, receiver, clock, max_attempts=1).deliver_pending() == 0
    row = stored(database, spent)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error is not None and "interrupted" in row.last_error


def test_two_dispatchers_racing_deliver_each_event_exactly_once(
    database_url: str, database: Database, receiver: Receiver, clock: FakeClock
) -> None:
    ids = queue(database, 20)
    receiver.delay = 0.005  # keeps both dispatchers busy at the same time
    databases = [Database(database_url), Database(database_url)]
    start = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def run(db: Database) -> None:
        try:
            start.wait()
            results.append(dispatcher(db, receiver, clock).deliver_pending())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(db,)) for db in databases]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        for db in databases:
            db.dispose()

    assert errors == []
    assert sum(results) == 20
    assert sorted(receiver.delivery_ids()) == ids
    assert all(request.signed for request in receiver.received)
    with database.session_scope() as session:
        rows = session.scalars(select(WebhookDelivery)).all()
        assert {(row.status, row.attempts) for row in rows} == {("done", 1)}


# --- the scheduled job -----------------------------------------------------------------------------------------


def test_the_queue_job_delivers_webhooks_only_when_a_url_is_configured(
    tmp_path: Path, database_url: str, database: Database
) -> None:
    wall_clock_receiver = Receiver(utcnow).start()
    [delivery_id] = queue(database)
    try:
        without = build_runtime(make_settings(tmp_path / "without", database_url), migrate=False)
        try:
            assert without.webhooks is None
            assert run_job(without, without.job("queues")) is None
        finally:
            without.close()
        assert stored(database, delivery_id).status == "pending"
        assert wall_clock_receiver.received == []

        settings = make_settings(
            tmp_path / "with",
            database_url,
            BACKOFFICE_WEBHOOK_URL=wall_clock_receiver.url,
            BACKOFFICE_WEBHOOK_SECRET=SECRET,
        )
        runtime = build_runtime(settings, migrate=False)
        try:
            job = runtime.job("queues")
            assert (job.trigger, dict(job.trigger_args)) == ("interval", {"seconds": 3})
            assert run_job(runtime, job) is None
        finally:
            runtime.close()
    finally:
        wall_clock_receiver.stop()
    assert stored(database, delivery_id).status == "done"
    assert [request.signed for request in wall_clock_receiver.received] == [True]
