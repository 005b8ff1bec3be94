"""The one durable queue scheme: inbound Slack events, the outbox and webhook deliveries are rows with the same
`Queued` columns, worked by the same steps: find what is due, claim a row with a conditional UPDATE (so exactly
one worker runs it), finish it, or on failure retry it with back-off until its attempts are spent and it is
dead-lettered ("failed"). A claim older than the queue's stale time (its worker died) is claimed again.

Each queue keeps only what is its own: what running a row means (answer an event, post to Slack, POST a
webhook) and its order (the outbox holds a thread back behind an undelivered message)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from bot.db import Database, utcnow
from bot.models import Queued

log = logging.getLogger(__name__)
Q = TypeVar("Q", bound=Queued)
ERROR_CHARS = 2000


@dataclass(frozen=True)
class RetryPolicy:
    """How a queue retries: `max_attempts` runs in all (a row that keeps failing, or keeps killing its worker, is
    then dead-lettered), fewer for an error retrying cannot fix; back-off doubling from `first_delay` up to
    `max_delay`, or the receiver's own Retry-After; a claim older than `stale_seconds` is taken over."""

    max_attempts: int
    permanent_attempts: int = 1
    first_delay: float = 1.0
    max_delay: float = 300.0
    stale_seconds: float = 300.0

    def wait(self, attempts: int, retry_after: float | None = None) -> timedelta:
        """The back-off after `attempts` failed runs: the receiver's Retry-After when given, else doubling."""
        if retry_after is not None:
            return timedelta(seconds=max(retry_after, 0.5))
        return timedelta(seconds=min(self.first_delay * 2 ** min(max(attempts - 1, 0), 32), self.max_delay))


@dataclass(frozen=True)
class Due:
    """A row that may be claimed, as it was read: the claim succeeds only if it is still so."""

    id: int
    status: str
    claimed_at: datetime | None
    next_attempt_at: datetime | None = None


class WorkQueue(Generic[Q]):
    """The queue steps over one table of `Queued` rows."""

    def __init__(
        self, database: Database, model: type[Q], policy: RetryPolicy, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.database = database
        self.model = model
        self.policy = policy
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    def due_condition(self, now: datetime) -> ColumnElement[bool]:
        """Due now: pending past its back-off, or running with a claim older than the stale time."""
        model = self.model
        stale_before = now - timedelta(seconds=self.policy.stale_seconds)
        return or_(
            and_(model.status == "pending", or_(model.next_attempt_at.is_(None), model.next_attempt_at <= now)),
            and_(model.status == "running", model.claimed_at < stale_before),
        )

    def due(
        self,
        *,
        limit: int,
        where: Sequence[ColumnElement[bool]] = (),
        order_by: Sequence[Any] = (),
        now: datetime | None = None,
    ) -> list[Due]:
        """Rows to run now, oldest first (or by `order_by`): pending ones past their back-off, and running ones
        whose worker has not finished them within the stale time."""
        model = self.model
        with self.database.session_scope() as session:
            rows = session.execute(
                select(model.id, model.status, model.claimed_at, model.next_attempt_at)
                .where(self.due_condition(now or self.now()), *where)
                .order_by(*(order_by or (model.id,)))
                .limit(limit)
            ).all()
        return [Due(*row) for row in rows]

    def claim(self, due: Due) -> int | None:
        """Take `due` for this worker: running, claimed now, one more attempt. Returns the attempt number, or
        None when another worker took it first or its attempts are spent (then it is dead-lettered)."""
        model = self.model
        now = self.now()
        claimed_at = model.claimed_at == due.claimed_at if due.claimed_at is not None else model.claimed_at.is_(None)
        still_due = (model.id == due.id, model.status == due.status, claimed_at)
        with self.database.session_scope() as session:
            # A row whose worker died on its last allowed attempt (it kills its worker, or never ends): set aside.
            spent = session.execute(
                update(model)
                .where(*still_due, model.attempts >= self.policy.max_attempts)
                .values(
                    status="failed",
                    finished_at=now,
                    last_error="interrupted (its worker stopped) on its last allowed attempt; given up",
                )
                .returning(model.attempts)
                .execution_options(synchronize_session=False)
            ).scalar_one_or_none()
            if spent is not None:
                log.error("%s %s dead-lettered: its worker stopped on each of %d attempts", _name(model), due.id, spent)
                return None
            attempts = session.execute(
                update(model)
                .where(*still_due)
                .values(status="running", claimed_at=now, attempts=model.attempts + 1)
                .returning(model.attempts)
                .execution_options(synchronize_session=False)
            ).scalar_one_or_none()
        return attempts  # None: another worker claimed it first

    def finish(self, session: Session, row_id: int, *, attempts: int | None = None, status: str = "done") -> bool:
        """Mark a claimed row finished, in the caller's transaction (see `finish_row`)."""
        return finish_row(session, self.model, row_id, now=self.now(), attempts=attempts, status=status)

    def failed(
        self,
        row_id: int,
        error: str,
        *,
        attempts: int | None = None,
        transient: bool = True,
        retry_after: float | None = None,
    ) -> str | None:
        """Record a failed run: pending again after the back-off, or "failed" (the dead letter) once the attempts
        for this kind of error are spent. Returns the new status (None when the claim no longer held)."""
        model = self.model
        now = self.now()
        with self.database.session_scope() as session:
            condition = [model.id == row_id, model.status == "running"]
            if attempts is not None:
                condition.append(model.attempts == attempts)
            row = session.scalars(select(model).where(*condition)).first()
            if row is None:
                return None
            limit = self.policy.max_attempts if transient else self.policy.permanent_attempts
            row.last_error = error[:ERROR_CHARS]
            if row.attempts >= limit:
                row.status, row.finished_at = "failed", now
                log.error("%s %s given up after %d attempts: %s", _name(model), row_id, row.attempts, error)
            else:
                row.status = "pending"
                row.next_attempt_at = now + self.policy.wait(row.attempts, retry_after)
                log.warning("%s %s failed (attempt %d): %s", _name(model), row_id, row.attempts, error)
            return row.status


def finish_row(
    session: Session,
    model: type[Queued],
    row: int | ColumnElement[bool],
    *,
    now: datetime,
    attempts: int | None = None,
    status: str = "done",
    also: Mapping[str, Any] | None = None,
) -> bool:
    """Mark a row (by id, or by a condition naming one row) finished in the caller's transaction, together with
    the effects it had (so they land once), in one UPDATE that also sets `also`. With `attempts`, only while that
    claim holds (another worker may have taken a stale claim over)."""
    condition = [model.id == row if isinstance(row, int) else row, model.status.in_(("pending", "running"))]
    if attempts is not None:
        condition.append(model.attempts == attempts)
    result = session.execute(
        update(model)
        .where(*condition)
        .values(status=status, finished_at=now, last_error=None, **(also or {}))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def _name(model: type[Queued]) -> str:
    return str(getattr(model, "__tablename__", model.__name__))
