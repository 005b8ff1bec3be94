"""Inbound Slack events, stored before any work: a retried delivery is dropped, a person writing faster than
the rate limit is queued, and an event whose process died before finishing is run again. This is the inbound
queue of `bot.work_queue`: a row is pending (deferred, or queued for its turn: `next_attempt_at`), running,
then done | ignored | failed. The skill's changes and "done" commit together (see
`bot.assistant.mark_event_done`), so running an event again after a crash acts once.

With deferred events (`BACKOFFICE_DEFER_EVENTS`, what `serve --event-workers N` gives its web process) the web
process only stores each event and acks; the queue workers (`backoffice events`) claim and run them, so the ack
never waits behind an answer's CPU work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import Database, aware, utcnow
from bot.models import ProcessedEvent
from bot.text_clean import clean_json
from bot.work_queue import RetryPolicy, WorkQueue, finish_row

MAX_RUNS = 5  # an event that keeps killing its process is given up after this many starts
RATE_WINDOW = timedelta(seconds=60)


@dataclass(frozen=True)
class Accepted:
    outcome: Literal["run", "duplicate", "queued"]
    wait_seconds: float = 0.0
    first_queued: bool = False  # the first of this person's queued messages (tell them once)


def counts_toward_limit(body: dict[str, Any]) -> bool:
    """Messages written to the bot: DMs and mentions (not every message in channels the bot is in)."""
    event = _event_of(body)
    if event.get("bot_id") or event.get("subtype") not in (None, "file_share"):
        return False
    return event.get("type") == "app_mention" or (event.get("type") == "message" and event.get("channel_type") == "im")


def accept(
    database: Database, body: dict[str, Any], *, per_minute: int, deferred: bool = False, now: datetime | None = None
) -> Accepted:
    """Store the event before any work. A `deferred` event is left for an event worker (`claim_due`) instead of
    being run by the caller. Raises SQLAlchemyError when the database is unreachable."""
    now = now or utcnow()
    event = _event_of(body)
    user = str(event.get("user") or "") or None
    limited = user is not None and counts_toward_limit(body)
    try:
        with database.session_scope() as session:
            row = ProcessedEvent(
                event_id=str(body["event_id"]),
                event_type=str(event.get("type", "")),
                payload=clean_json(body),  # PostgreSQL's json refuses "\u0000": a NUL would make it unstorable
                user_id=user if limited else None,
                status="pending" if deferred else "running",
                claimed_at=None if deferred else now,
            )
            session.add(row)
            session.flush()
            if not limited:
                return Accepted("run")
            # One round trip on the ack path: this person's events in the window, and their last queued turn.
            recent, last_queued = session.execute(
                select(
                    func.count().filter(ProcessedEvent.received_at >= now - RATE_WINDOW),
                    func.max(ProcessedEvent.next_attempt_at).filter(ProcessedEvent.status == "pending"),
                ).where(ProcessedEvent.user_id == user)
            ).one()
            if last_queued is None and (recent or 0) <= per_minute:
                return Accepted("run")
            # Over the limit (or others already waiting, to keep their order): answer at the allowed pace.
            start = max(now, aware(last_queued, now) or now)
            row.status = "pending"
            row.next_attempt_at = start + timedelta(seconds=60.0 / per_minute)
            row.claimed_at = None
            return Accepted(
                "queued",
                wait_seconds=(row.next_attempt_at - now).total_seconds(),
                first_queued=last_queued is None,
            )
    except IntegrityError:
        return Accepted("duplicate")


def _event_of(body: dict[str, Any]) -> dict[str, Any]:
    """The event inside an event callback, or {} when there is none (or it is not an object)."""
    event = body.get("event")
    return event if isinstance(event, dict) else {}


def finish(database: Database, event_id: str, status: str = "done") -> None:
    """Finish an event that was not finished with a skill's changes (ignored, a problem reply, a failure)."""
    with database.session_scope() as session:
        mark_finished(session, event_id, status)


def mark_finished(session: Session, event_id: str, status: str = "done") -> None:
    """Finish a stored event in the caller's transaction (one not finished yet); its text is not kept."""
    one_event = ProcessedEvent.event_id == event_id
    finish_row(session, ProcessedEvent, one_event, now=utcnow(), status=status, also={"payload": None})


def claim_due(
    database: Database, *, stale_seconds: float, now: datetime | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Claim the events to run now: queued ones whose turn came, deferred ones (never started), and running ones
    whose process died (claimed longer than `stale_seconds` ago); only one process gets each. Returns their
    payloads, oldest first."""
    # An event is not retried after an error (its reply said so); only one whose process died is run again.
    queue = WorkQueue(
        database,
        ProcessedEvent,
        RetryPolicy(max_attempts=MAX_RUNS, stale_seconds=stale_seconds),
        clock=(lambda: now) if now is not None else utcnow,
    )
    claimed: list[dict[str, Any]] = []
    for due in queue.due(limit=limit, where=(ProcessedEvent.payload.is_not(None),), now=now):
        if queue.claim(due) is None:
            continue
        with database.session_scope() as session:
            payload = session.scalar(select(ProcessedEvent.payload).where(ProcessedEvent.id == due.id))
        if payload:
            claimed.append(dict(payload))
    return claimed
