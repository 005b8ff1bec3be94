"""Outbound webhooks for ticket events (a Jira or ServiceNow bridge can listen). An event is queued in the same
transaction as the change that caused it, so it is durable and never sent for a change that was rolled back;
the dispatcher then POSTs it as signed JSON and retries with backoff until the receiver takes it.

This is the webhook queue of `bot.work_queue`. Delivery is at least once: a crash between "sent" and "marked
done" sends the event again, with the same
`X-Backoffice-Delivery` id, which receivers use to drop the duplicate.

Receivers check `X-Backoffice-Signature` with `verify`: "sha256=" + hex HMAC-SHA256 under the shared secret
over `f"{X-Backoffice-Timestamp}."` + the raw body; the timestamp (Unix seconds) bounds replays."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from sqlalchemy.orm import Session

from bot.db import Database, utcnow
from bot.models import WebhookDelivery
from bot.work_queue import Due, RetryPolicy, WorkQueue

log = logging.getLogger(__name__)

SIGNATURE_PREFIX = "sha256="
FIRST_RETRY = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=1)
# A receiver's Retry-After is honoured, but a broken one must not park an event for weeks.
MAX_RETRY_AFTER = timedelta(days=1)
# Longer than any send can take (the HTTP timeout), so only a dispatcher that died mid-send loses its claim.
STALE_SENDING = timedelta(minutes=5)
HTTP_TIMEOUT = 10.0
RETRYABLE_STATUSES = frozenset({408, 429})
MAX_ATTEMPTS = 10


def queue_event(
    session: Session, *, enabled: bool, event: str, entity: str, entity_id: int, payload: dict[str, Any]
) -> WebhookDelivery | None:
    """Queue an event in the caller's transaction (sent only if it commits); None when webhooks are off."""
    if not enabled:
        return None
    # Fail here, inside the change that caused the event, rather than in the dispatcher much later.
    json.dumps(payload)
    now = utcnow()
    delivery = WebhookDelivery(
        event=event,
        entity=entity,
        entity_id=entity_id,
        payload=payload,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(delivery)
    return delivery


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value: "sha256=<hex>" of HMAC-SHA256 over f"{timestamp}.".encode() + body."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, now: float, tolerance: int = 300) -> bool:
    """True if `signature` is ours for this body and the timestamp is within `tolerance` seconds of `now`."""
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    # Future timestamps are as suspect as old ones: either way the request may be a replay.
    if abs(now - sent_at) > tolerance:
        return False
    # Bytes, because compare_digest refuses non-ASCII str and a forged header may contain anything.
    return hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode("utf-8", "replace"))


def event_body(delivery: WebhookDelivery) -> bytes:
    """The JSON body of a delivery; the same bytes on every attempt."""
    document = {
        "id": delivery.id,
        "event": delivery.event,
        "entity": delivery.entity,
        "entity_id": delivery.entity_id,
        "occurred_at": as_utc(delivery.created_at).isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; SQLite hands back timezone-aware columns naive (they are stored as UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def retry_policy(max_attempts: int = MAX_ATTEMPTS, stale_after: timedelta = STALE_SENDING) -> RetryPolicy:
    """Webhook retries in the one queue scheme: 30 s, 1 min, 2 min, … capped at 1 h; a refused request (other
    4xx) is not retried; a delivery left running longer than `stale_after` (its dispatcher died) is sent again."""
    return RetryPolicy(
        max_attempts=max_attempts,
        first_delay=FIRST_RETRY.total_seconds(),
        max_delay=MAX_BACKOFF.total_seconds(),
        stale_seconds=stale_after.total_seconds(),
    )


def retry_after(response: httpx.Response, now: datetime) -> timedelta | None:
    """The receiver's Retry-After (seconds or an HTTP date), if it sent a usable one."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        wait = timedelta(seconds=int(value))
    else:
        try:
            wait = as_utc(parsedate_to_datetime(value)) - now
        except (TypeError, ValueError, IndexError):
            return None
    return min(max(wait, timedelta(0)), MAX_RETRY_AFTER)


@dataclass(frozen=True)
class _Claimed:
    id: int
    event: str
    attempts: int
    body: bytes


@dataclass(frozen=True)
class _Outcome:
    delivered: bool = False
    retry: bool = False
    wait: timedelta | None = None
    error: str | None = None


class WebhookDispatcher:
    """Sends due webhook deliveries; several may run at once (processes or threads), each row goes to one."""

    def __init__(
        self,
        database: Database,
        *,
        url: str,
        secret: str,
        http: httpx.Client | None = None,
        clock: Callable[[], datetime] = utcnow,
        max_attempts: int = MAX_ATTEMPTS,
        stale_after: timedelta = STALE_SENDING,
    ) -> None:
        self._database = database
        self._url = url
        self._secret = secret
        self._http = http
        self._clock = clock
        self.queue = WorkQueue(database, WebhookDelivery, retry_policy(max_attempts, stale_after), clock=self._now)

    def deliver_pending(self, limit: int = 100) -> int:
        """Send up to `limit` due deliveries; returns how many the receiver accepted.

        Stops at the first transient failure (5xx, 408, 429, network): the receiver is struggling, and the
        rest are tried on the next run instead of spending their attempts now."""
        due = self.queue.due(limit=limit, order_by=(WebhookDelivery.next_attempt_at, WebhookDelivery.id))
        if not due:
            return 0
        if self._http is not None:
            return self._deliver(self._http, due)
        with httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False) as http:
            return self._deliver(http, due)

    def _deliver(self, http: httpx.Client, due: list[Due]) -> int:
        delivered = 0
        for row in due:
            claimed = self._claim(row)
            if claimed is None:
                continue  # another dispatcher has it
            outcome = self._send(http, claimed)
            if self._record(claimed, outcome) and outcome.delivered:
                delivered += 1
            if outcome.retry:
                break
        return delivered

    def _now(self) -> datetime:
        return as_utc(self._clock())

    def _claim(self, row: Due) -> _Claimed | None:
        attempts = self.queue.claim(row)
        if attempts is None:
            return None
        with self._database.session_scope() as session:
            delivery = session.get_one(WebhookDelivery, row.id)
            # Built now, but sent after the commit: no transaction stays open across the HTTP call.
            return _Claimed(id=delivery.id, event=delivery.event, attempts=attempts, body=event_body(delivery))

    def _send(self, http: httpx.Client, claimed: _Claimed) -> _Outcome:
        now = self._now()
        timestamp = str(int(now.timestamp()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "backoffice-webhooks/1",
            "X-Backoffice-Event": claimed.event,
            "X-Backoffice-Delivery": str(claimed.id),
            "X-Backoffice-Timestamp": timestamp,
            "X-Backoffice-Signature": sign(self._secret, timestamp, claimed.body),
        }
        try:
            response = http.post(self._url, content=claimed.body, headers=headers)
        except Exception as exc:  # noqa: BLE001 - network errors, timeouts and anything else are worth a retry
            return _Outcome(retry=True, error=f"{type(exc).__name__}: {exc}")
        if response.is_success:
            return _Outcome(delivered=True)
        error = f"HTTP {response.status_code}: {response.text}"
        if response.status_code >= 500 or response.status_code in RETRYABLE_STATUSES:
            return _Outcome(retry=True, wait=retry_after(response, now), error=error)
        # Other 4xx (and redirects, which are not followed): the receiver refuses this request as it is, so
        # sending it again cannot help; the row stays as a record for whoever fixes the configuration.
        return _Outcome(error=error)

    def _record(self, claimed: _Claimed, outcome: _Outcome) -> bool:
        """The outcome, only while our claim holds (same attempt): if it went stale and another dispatcher took
        the row over, that one's result stands."""
        if outcome.delivered:
            with self._database.session_scope() as session:
                if self.queue.finish(session, claimed.id, attempts=claimed.attempts):
                    return True
        else:
            wait = outcome.wait.total_seconds() if outcome.wait is not None else None
            status = self.queue.failed(
                claimed.id,
                outcome.error or "failed",
                attempts=claimed.attempts,
                transient=outcome.retry,
                retry_after=wait,
            )
            if status is not None:
                log.warning(
                    "webhook delivery %s (%s) attempt %d -> %s", claimed.id, claimed.event, claimed.attempts, status
                )
                return True
        log.warning("webhook delivery %s: claim expired before its result was recorded", claimed.id)
        return False
