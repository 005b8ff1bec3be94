"""Notifications go through the outbox: 429 Retry-After is honoured by the real slack_sdk client,
a Slack outage leaves items pending (never lost) until a later run delivers them exactly once, and
an update_key edits the delivered message in place instead of posting a duplicate."""

from __future__ import annotations

import time

from sqlalchemy import select

from bot.models import ChatMessage, OutboxItem
from bot.runtime import Runtime
from tests.slack_standin import SlackStandIn


def queue(runtime: Runtime, text: str, update_key: str | None = None) -> int:
    with runtime.database.session_scope() as session:
        item = OutboxItem(channel="C0HRQUEUE1", text=text, update_key=update_key, payload={})
        session.add(item)
        session.flush()
        return item.id


def test_rate_limited_post_waits_for_retry_after_then_succeeds(runtime: Runtime, slack: SlackStandIn) -> None:
    slack.rate_limits["chat.postMessage"] = [1]
    item_id = queue(runtime, "new escalation")
    started = time.monotonic()
    assert runtime.outbox.deliver_pending() == 1
    assert time.monotonic() - started >= 0.9  # the client waited as Slack asked
    assert len(slack.calls_to("chat.postMessage")) == 2  # the 429, then the successful retry
    with runtime.database.session_scope() as session:
        assert session.get_one(OutboxItem, item_id).status == "sent"
        stored = session.scalars(select(ChatMessage).where(ChatMessage.channel == "C0HRQUEUE1")).all()
        assert len(stored) == 1 and stored[0].slack_ts


def test_outage_keeps_items_pending_until_a_later_delivery(runtime: Runtime, slack: SlackStandIn) -> None:
    slack.failures["chat.postMessage"] = 100
    item_id = queue(runtime, "card while Slack is down")
    assert runtime.outbox.deliver_pending() == 0
    with runtime.database.session_scope() as session:
        item = session.get_one(OutboxItem, item_id)
        assert item.status == "pending" and item.attempts == 1 and item.last_error
    slack.failures["chat.postMessage"] = 0
    assert runtime.outbox.deliver_pending() == 1
    assert runtime.outbox.deliver_pending() == 0
    ok_posts = [c for c in slack.calls_to("chat.postMessage") if c.params.get("text") == "card while Slack is down"]
    with runtime.database.session_scope() as session:
        assert session.get_one(OutboxItem, item_id).status == "sent"
        assert len(session.scalars(select(ChatMessage).where(ChatMessage.channel == "C0HRQUEUE1")).all()) == 1
    assert len(ok_posts) >= 2  # failed tries + one success; the success is recorded once


def test_update_key_edits_the_card_in_place(runtime: Runtime, slack: SlackStandIn) -> None:
    queue(runtime, "card v1", update_key="escalation:42")
    runtime.outbox.deliver_pending()
    queue(runtime, "card v2", update_key="escalation:42")
    runtime.outbox.deliver_pending()
    assert len(slack.calls_to("chat.postMessage")) == 1
    update = slack.calls_to("chat.update")[0]
    assert update.params["text"] == "card v2"
    with runtime.database.session_scope() as session:
        card = session.scalar(select(ChatMessage).where(ChatMessage.update_key == "escalation:42"))
        assert card is not None and card.text == "card v2"
        assert card.slack_ts == update.params["ts"]  # the update targeted the message first posted
