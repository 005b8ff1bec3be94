"""Delivery of queued notifications. Items are written in the same transaction as the change that
caused them, then delivered here; a failed send stays pending and is retried (nothing is lost).

A notification with an `update_key` edits the message already delivered under that key (Slack
`chat.update`), so cards change in place and a resend never shows up as a duplicate post."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.db import Database, utcnow
from bot.messages import Button, Citation, Reply, Select
from bot.models import ChatMessage, Employee, OutboxItem, find_conversation

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Posted:
    """Where a message landed: the real channel id (a DM's "D…" when posted to a user id) and its ts."""

    channel: str
    ts: str


class SlackPoster(Protocol):
    """The part of the Slack Web API the outbox needs (see integrations.slack)."""

    def post(self, *, channel: str, text: str, thread_ts: str | None, payload: dict[str, Any]) -> Posted: ...

    def update(self, *, channel: str, ts: str, text: str, payload: dict[str, Any]) -> None: ...


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


class Outbox:
    def __init__(self, database: Database, slack: SlackPoster | None) -> None:
        self._database = database
        self._slack = slack
        self._lock = threading.Lock()

    def deliver_pending(self, limit: int = 100) -> int:
        """Send what is pending; returns how many were delivered."""
        delivered = 0
        with self._lock:
            with self._database.session_scope() as session:
                ids = list(
                    session.scalars(
                        select(OutboxItem.id).where(OutboxItem.status == "pending").order_by(OutboxItem.id).limit(limit)
                    )
                )
            for item_id in ids:
                delivered += self._deliver_one(item_id)
        return delivered

    def _deliver_one(self, item_id: int) -> int:
        with self._database.session_scope() as session:
            # Claim the row so another process running the dispatcher cannot send it too.
            claimed = session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item_id, OutboxItem.status == "pending")
                .values(status="sending", attempts=OutboxItem.attempts + 1)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return 0
        try:
            with self._database.session_scope() as session:
                item = session.get_one(OutboxItem, item_id)
                self._send(session, item)
                item.status = "sent"
                item.sent_at = utcnow()
                item.last_error = None
            return 1
        except Exception as exc:  # noqa: BLE001 - any failure must leave the item retryable
            log.warning("outbox item %s not delivered: %s", item_id, exc)
            with self._database.session_scope() as session:
                item = session.get_one(OutboxItem, item_id)
                item.status = "failed" if item.attempts >= MAX_ATTEMPTS else "pending"
                item.last_error = str(exc)[:2000]
            return 0

    def _send(self, session: Session, item: OutboxItem) -> None:
        existing = (
            session.scalar(select(ChatMessage).where(ChatMessage.update_key == item.update_key))
            if item.update_key
            else None
        )
        channel, slack_ts = item.channel, None
        if is_web_channel(item.channel) or self._slack is None:
            pass
        elif existing is not None and existing.slack_ts:
            self._slack.update(channel=existing.channel, ts=existing.slack_ts, text=item.text, payload=item.payload)
            slack_ts = existing.slack_ts
        else:
            posted = self._slack.post(
                channel=item.channel, text=item.text, thread_ts=item.thread_ts, payload=item.payload
            )
            channel, slack_ts = posted.channel, posted.ts
        if existing is not None:
            existing.text = item.text
            existing.payload = item.payload
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
