"""The one worker loop over the durable queues (bot.work_queue): inbound Slack events (where this process
answers them), the outbox, and webhook deliveries. The scheduler leader runs a pass every few seconds; an
event worker (`backoffice events`) runs the loop, claiming events as they come and sweeping the others."""

from __future__ import annotations

import logging
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from bot.slack_edge import LISTENER_THREADS, SWITCH_INTERVAL_SECONDS

if TYPE_CHECKING:
    from bot.outbox import Outbox
    from bot.slack_edge import SlackEdge
    from integrations.webhooks import WebhookDispatcher

log = logging.getLogger(__name__)
SWEEP_SECONDS = 1.0  # how often the loop also delivers the outbox and webhooks


class QueueWorker:
    """Works the queues: `events` (None where another process answers them), the outbox and the webhooks (None
    when no webhook URL is configured)."""

    def __init__(self, *, outbox: Outbox, events: SlackEdge | None, webhooks: WebhookDispatcher | None) -> None:
        self.outbox = outbox
        self.events = events
        self.webhooks = webhooks

    def run_once(self) -> int:
        """One pass over every queue: what is due now. Returns how many items were worked."""
        worked = self.events.resume_events() if self.events is not None else 0
        return worked + self._sweep()

    def _sweep(self) -> int:
        worked = self.outbox.deliver_pending()
        if self.webhooks is not None:
            worked += self.webhooks.deliver_pending()
        return worked

    def run(self, stop: threading.Event, *, poll_seconds: float = 0.05) -> None:
        """The loop, until `stop` is set: claim a few due events at a time and answer them on listener threads
        (claiming only what the threads can start leaves the rest to other workers); every `SWEEP_SECONDS` also
        deliver the outbox and webhooks; when nothing is due, look again after `poll_seconds`."""
        # A thread holding SQLite's write lock gets the GIL back sooner from a thread busy answering, so the web
        # process's pre-ack INSERT waits less for that lock (benchmarks: ack p99 with an event worker).
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        next_sweep = 0.0
        with ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="event-worker") as pool:
            while not stop.is_set():
                try:
                    answered = self.events.resume_events(pool, limit=LISTENER_THREADS) if self.events is not None else 0
                    if time.monotonic() >= next_sweep:
                        self._sweep()
                        next_sweep = time.monotonic() + SWEEP_SECONDS
                except SQLAlchemyError:
                    log.exception("cannot work the queues; trying again shortly")
                    stop.wait(1.0)
                    continue
                if not answered:
                    stop.wait(poll_seconds)
