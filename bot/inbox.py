"""Inbound Slack events, stored before any work: a retried delivery is dropped, a person writing faster than
the rate limit is queued, and an event whose process died before finishing is run again.

An event row moves received → done | ignored | failed, or queued → received (when its turn comes). The skill's
changes and "done" commit together (see `bot.assistant.mark_event_done`), so running an event again after a
crash acts once.

With deferred events (`BACKOFFICE_DEFER_EVENTS`, what `serve --event-workers N` sets) the web process only stores
each event, "received" with no start time, and acks; `backoffice events` processes claim and run them, so the ack
never waits behind an answer's CPU work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.db import Database, aware, utcnow
from bot.models import ProcessedEvent
from bot.text_clean import clean_json

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
                started_at=None if deferred else now,
            )
            session.add(row)
            session.flush()
            if not limited:
                return Accepted("run")
            # One round trip on the ack path: this person's events in the window, and their last queued turn.
            recent, last_queued = session.execute(
                select(
                    func.count().filter(ProcessedEvent.received_at >= now - RATE_WINDOW),
                    func.max(ProcessedEvent.not_before).filter(ProcessedEvent.status == "queued"),
                ).where(ProcessedEvent.user_id == user)
            ).one()
            if last_queued is None and (recent or 0) <= per_minute:
                return Accepted("run")
            # Over the limit (or others already waiting, to keep their order): answer at the allowed pace.
            start = max(now, aware(last_queued, now) or now)
            row.status = "queued"
            row.not_before = start + timedelta(seconds=60.0 / per_minute)
            row.started_at = None
            return Accepted(
                "queued",
                wait_seconds=(row.not_before - now).total_seconds(),
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
        session.execute(
            update(ProcessedEvent)
            .where(ProcessedEvent.event_id == event_id, ProcessedEvent.status.in_(("received", "queued")))
            .values(status=status, finished_at=utcnow(), payload=None)  # the text is not kept once handled
        )


def claim_due(
    database: Database, *, stale_seconds: float, now: datetime | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Claim the events to run now: queued ones whose turn came, deferred ones (received, never started), and
    received ones whose process died (started longer than `stale_seconds` ago). Each is claimed by a conditional
    update, so only one process runs it. Returns their payloads, oldest first."""
    now = now or utcnow()
    stale_before = now - timedelta(seconds=stale_seconds)
    claimed: list[dict[str, Any]] = []
    with database.session_scope() as session:
        rows = session.execute(
            select(ProcessedEvent.id, ProcessedEvent.status, ProcessedEvent.started_at)
            .where(
                ProcessedEvent.status.in_(("received", "queued")),
                ProcessedEvent.payload.is_not(None),
                or_(
                    and_(ProcessedEvent.status == "queued", ProcessedEvent.not_before <= now),
                    and_(
                        ProcessedEvent.status == "received",
                        or_(ProcessedEvent.started_at.is_(None), ProcessedEvent.started_at < stale_before),
                    ),
                ),
            )
            .order_by(ProcessedEvent.id)
            .limit(limit)
        ).all()
    for row_id, status, started_at in rows:
        with database.session_scope() as session:
            condition = [ProcessedEvent.id == row_id, ProcessedEvent.status == status]
            condition.append(
                ProcessedEvent.started_at == started_at
                if started_at is not None
                else ProcessedEvent.started_at.is_(None)
            )
            done = session.execute(
                update(ProcessedEvent)
                .where(*condition)
                .values(status="received", started_at=now, attempts=ProcessedEvent.attempts + 1)
            )
            if done.rowcount != 1:  # type: ignore[attr-defined]
                continue  # another process claimed it first
            row = session.get_one(ProcessedEvent, row_id)
            if row.attempts > MAX_RUNS:
                row.status, row.finished_at = "failed", now
                continue
            if row.payload:
                claimed.append(dict(row.payload))
    return claimed
