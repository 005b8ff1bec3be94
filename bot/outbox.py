"""Delivery of queued notifications and replies. Items are written in the same transaction as the change
that caused them, then delivered here: the outbound queue of `bot.work_queue`. A failed send stays pending and is
retried with back-off (Slack's `Retry-After` on 429, exponential on 5xx and connection errors), so nothing is
lost.

Order: items for the same channel and thread go out in the order they were queued; one that cannot be sent
yet holds back the ones after it.

No visible duplicates: a notification with an `update_key` edits the message already delivered under that
key (`chat.update`). Every post carries its outbox id in Slack message metadata; an item found "running" for
longer than the stale time (the process died between Slack's answer and our commit) is first looked up in the
channel's history by that id, and only posted if Slack does not have it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import Database, utcnow
from bot.messages import Button, Citation, Reply, Select
from bot.models import ChatMessage, Employee, OutboxItem, find_conversation
from bot.work_queue import Due, RetryPolicy, WorkQueue

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 40  # with back-off capped at MAX_DELAY this keeps retrying for about three hours
MAX_DELAY = 300.0
PERMANENT_ATTEMPTS = 3  # Slack said no (e.g. channel_not_found): a few tries, then the item is marked failed
STALE_SECONDS = 300.0


@dataclass(frozen=True)
class Posted:
    """Where a message landed: the real channel id (a DM's "D…" when posted to a user id) and its ts."""

    channel: str
    ts: str


@dataclass(frozen=True)
class _Send:
    """One delivery, as read from the database before any Slack call: store it only (a web channel, or no Slack),
    edit the message posted earlier under its update key, or post it."""

    outbox_id: int
    channel: str
    thread_ts: str | None
    text: str
    payload: dict[str, Any]
    message_id: int | None
    created_at: datetime
    recovering: bool
    edits: int | None  # the stored message this edits, by update key
    how: Literal["store", "update", "post"] = "post"
    edit_channel: str | None = None
    edit_ts: str | None = None


class DeliveryError(Exception):
    """A send that failed. `transient` ones (429, 5xx, connection) are retried until MAX_ATTEMPTS;
    `retry_after` is the server's own wait (Slack's Retry-After)."""

    def __init__(self, message: str, *, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after


class SlackPoster(Protocol):
    """The part of the Slack Web API the outbox needs (see integrations.slack). Failures raise DeliveryError."""

    def post(
        self,
        *,
        channel: str,
        text: str,
        thread_ts: str | None,
        payload: dict[str, Any],
        message_id: int | None = None,
        outbox_id: int | None = None,
    ) -> Posted: ...

    def update(self, *, channel: str, ts: str, text: str, payload: dict[str, Any]) -> None: ...

    def find_posted(self, *, channel: str, thread_ts: str | None, outbox_id: int, since: datetime) -> Posted | None:
        """The message posted earlier for this outbox item, if Slack has it."""
        ...


def is_web_channel(channel: str) -> bool:
    """Channels of the local web chat (no Slack): 'web:<slack id>' and 'web:hr'."""
    return channel.startswith("web:") or channel.startswith("cli:")


def person_channel(employee: Employee, platform: str) -> str:
    """Where to reach someone directly: their Slack DM (posting to a user id opens it), or their web/CLI feed."""
    return employee.slack_id if platform == "slack" else f"{platform}:{employee.slack_id}"


def queue(
    session: Session,
    *,
    channel: str,
    text: str,
    thread_ts: str | None = None,
    update_key: str | None = None,
    buttons: Sequence[Button] = (),
    citations: Sequence[Citation] = (),
    selects: Sequence[Select] = (),
) -> OutboxItem:
    """Queue a message in the same transaction as the change that caused it."""
    item = OutboxItem(
        channel=channel,
        thread_ts=thread_ts,
        update_key=update_key,
        text=text,
        payload=Reply(text=text, buttons=list(buttons), citations=list(citations), selects=list(selects)).payload(),
    )
    session.add(item)
    return item


def queue_reply(session: Session, *, channel: str, thread_ts: str | None, reply: Reply, message_id: int) -> OutboxItem:
    """Queue the delivery of a stored bot reply (its Slack ts is written back to the stored message)."""
    item = OutboxItem(
        channel=channel, thread_ts=thread_ts, text=reply.text, payload=reply.payload(), message_id=message_id
    )
    session.add(item)
    return item


class Outbox:
    def __init__(
        self,
        database: Database,
        slack: SlackPoster | None,
        *,
        stale_seconds: float = STALE_SECONDS,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._database = database
        self._slack = slack
        self.queue = WorkQueue(
            database,
            OutboxItem,
            RetryPolicy(
                max_attempts=MAX_ATTEMPTS,
                permanent_attempts=PERMANENT_ATTEMPTS,
                max_delay=MAX_DELAY,
                stale_seconds=stale_seconds,
            ),
            clock=clock,
        )
        self._lock = threading.Lock()
        self._wanted = threading.Event()

    def deliver_pending(self, limit: int = 200) -> int:
        """Send what is due; returns how many were delivered. Never blocks behind another thread's pass:
        that pass runs again for whatever was queued meanwhile."""
        self._wanted.set()
        delivered = 0
        while self._wanted.is_set():
            if not self._lock.acquire(blocking=False):
                return delivered
            try:
                self._wanted.clear()
                delivered += self._pass(limit)
            finally:
                self._lock.release()
        return delivered

    def _pass(self, limit: int) -> int:
        now = self.queue.now()
        with self._database.session_scope() as session:
            rows = session.execute(
                select(
                    OutboxItem.id,
                    OutboxItem.status,
                    OutboxItem.claimed_at,
                    OutboxItem.next_attempt_at,
                    OutboxItem.channel,
                    OutboxItem.thread_ts,
                    self.queue.due_condition(now),
                )
                .where(OutboxItem.status.in_(("pending", "running")))
                .order_by(OutboxItem.id)
                .limit(limit)
            ).all()
        held: set[tuple[str, str]] = set()  # channel + thread with an earlier item not yet delivered
        delivered = 0
        for row_id, status, claimed_at, next_attempt_at, channel, thread_ts, due in rows:
            key = (channel, thread_ts or "")
            if key in held:
                continue
            # Not due (backing off, or being sent right now by another dispatcher) or not sent: it goes first.
            if due and self._deliver_one(Due(row_id, status, claimed_at, next_attempt_at)):
                delivered += 1
            else:
                held.add(key)
        return delivered

    def _deliver_one(self, due: Due) -> bool:
        attempts = self.queue.claim(due)  # only one dispatcher sends it; a stale claim is taken over
        if attempts is None:
            return False
        try:
            # Read what the send needs, call Slack with no transaction open, then record where it landed.
            with self._database.session_scope() as session:
                plan = self._plan(session, session.get_one(OutboxItem, due.id), recovering=due.status == "running")
            channel, slack_ts = self._send(plan)
            with self._database.session_scope() as session:
                item = session.get_one(OutboxItem, due.id)
                self._record_sent(session, item, plan, channel, slack_ts)
                self.queue.finish(session, due.id)
            return True
        except Exception as exc:  # noqa: BLE001 - any failure must leave the item retryable
            transient = not isinstance(exc, DeliveryError) or exc.transient
            retry_after = exc.retry_after if isinstance(exc, DeliveryError) else None
            try:
                self.queue.failed(due.id, str(exc), transient=transient, retry_after=retry_after)
            except Exception:  # noqa: BLE001 - the database is gone too: the stale claim is recovered later
                log.exception("outbox item %s: could not record the failed attempt", due.id)
            return False

    def _plan(self, session: Session, item: OutboxItem, *, recovering: bool) -> _Send:
        """What delivering `item` takes, read from the database (no Slack call here)."""
        existing = (
            session.scalar(select(ChatMessage).where(ChatMessage.update_key == item.update_key))
            if item.update_key
            else None
        )
        plan = _Send(
            outbox_id=item.id,
            channel=item.channel,
            thread_ts=item.thread_ts,
            text=item.text,
            payload=item.payload,
            message_id=item.message_id,
            created_at=item.created_at,
            recovering=recovering,
            edits=existing.id if existing is not None else None,
        )
        if self._slack is None or is_web_channel(item.channel):
            return replace(plan, how="store")
        if existing is not None and existing.slack_ts:
            return replace(plan, how="update", edit_channel=existing.channel, edit_ts=existing.slack_ts)
        if existing is not None and self._card_pending(session, existing.id):
            raise DeliveryError("the card this edits is not posted yet", transient=True, retry_after=1.0)
        return plan

    def _send(self, plan: _Send) -> tuple[str, str | None]:
        """Make the Slack call a plan asks for (with no transaction open); the channel and ts it landed at."""
        slack = self._slack
        if plan.how == "store" or slack is None:
            return plan.channel, None
        if plan.how == "update":
            assert plan.edit_channel is not None and plan.edit_ts is not None
            slack.update(channel=plan.edit_channel, ts=plan.edit_ts, text=plan.text, payload=plan.payload)
            return plan.edit_channel, plan.edit_ts
        found = None
        if plan.recovering:
            found = slack.find_posted(
                channel=plan.channel, thread_ts=plan.thread_ts, outbox_id=plan.outbox_id, since=plan.created_at
            )
            if found is not None:
                log.info("outbox item %s was already posted (%s); not posting again", plan.outbox_id, found.ts)
        posted = found or slack.post(
            channel=plan.channel,
            text=plan.text,
            thread_ts=plan.thread_ts,
            payload=plan.payload,
            message_id=plan.message_id,
            outbox_id=plan.outbox_id,
        )
        return posted.channel, posted.ts

    @staticmethod
    def _record_sent(session: Session, item: OutboxItem, plan: _Send, channel: str, slack_ts: str | None) -> None:
        """Where the message landed, on the stored message it belongs to (or a new one for a notification)."""
        own = session.get(ChatMessage, item.message_id) if item.message_id else None
        existing = session.get(ChatMessage, plan.edits) if plan.edits is not None else None
        if own is not None:
            own.slack_ts = slack_ts or own.slack_ts
            own.channel = channel if slack_ts else own.channel
            return
        if existing is not None:
            existing.text = item.text
            existing.payload = item.payload
            if slack_ts and not existing.slack_ts:
                existing.slack_ts, existing.channel = slack_ts, channel
            return
        conversation = find_conversation(session, channel=item.channel, thread_ts=item.thread_ts or "main")
        session.add(
            ChatMessage(
                conversation_id=conversation.id if conversation else None,
                channel=channel,
                direction="out",
                text=item.text,
                slack_ts=slack_ts,
                update_key=item.update_key,
                payload=item.payload,
            )
        )

    @staticmethod
    def _card_pending(session: Session, message_id: int) -> bool:
        """Whether the stored card's own post is still waiting in the outbox (an edit must wait for it)."""
        return (
            session.scalar(
                select(OutboxItem.id).where(
                    OutboxItem.message_id == message_id, OutboxItem.status.in_(("pending", "running"))
                )
            )
            is not None
        )
