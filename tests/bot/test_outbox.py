"""Notifications go through the outbox: 429 Retry-After is honoured by the real slack_sdk client,
a Slack outage leaves items pending (never lost) until a later run delivers them exactly once, and
an update_key edits the delivered message in place instead of posting a duplicate."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.db import aware, utcnow
from bot.models import ChatMessage, OutboxItem
from bot.runtime import Runtime
from tests.slack_standin import SlackStandIn


def queue(
    runtime: Runtime,
    text: str,
    update_key: str | None = None,
    channel: str = "C0HRQUEUE1",
    thread_ts: str | None = None,
) -> int:
    with runtime.database.session_scope() as session:
        item = OutboxItem(channel=channel, thread_ts=thread_ts, text=text, update_key=update_key, payload={})
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
        assert session.get_one(OutboxItem, item_id).status == "done"
        stored = session.scalars(select(ChatMessage).where(ChatMessage.channel == "C0HRQUEUE1")).all()
        assert len(stored) == 1 and stored[0].slack_ts


def test_outage_keeps_items_pending_until_a_later_delivery(runtime: Runtime, slack: SlackStandIn) -> None:
    slack.failures["chat.postMessage"] = 100
    item_id = queue(runtime, "card while Slack is down")
    assert runtime.outbox.deliver_pending() == 0
    with runtime.database.session_scope() as session:
        item = session.get_one(OutboxItem, item_id)
        assert item.status == "pending" and item.attempts == 1 and item.last_error
        assert item.next_attempt_at is not None  # backing off (1 s after the first failure)
        due = aware(item.next_attempt_at, utcnow())
        assert due is not None
        wait = (due - utcnow()).total_seconds()
    assert 0 < wait <= 1.0
    slack.failures["chat.postMessage"] = 0
    calls = len(slack.calls_to("chat.postMessage"))
    assert runtime.outbox.deliver_pending() == 0  # not before its time
    assert len(slack.calls_to("chat.postMessage")) == calls
    time.sleep(wait + 0.05)
    assert runtime.outbox.deliver_pending() == 1
    assert runtime.outbox.deliver_pending() == 0
    ok_posts = [c for c in slack.calls_to("chat.postMessage") if c.params.get("text") == "card while Slack is down"]
    with runtime.database.session_scope() as session:
        assert session.get_one(OutboxItem, item_id).status == "done"
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


def test_a_failed_item_holds_back_later_ones_in_its_thread_only(runtime: Runtime, slack: SlackStandIn) -> None:
    slack.failures["chat.postMessage"] = 3  # the first post fails (the client itself tries 3 times)
    first = queue(runtime, "thread A: 1", thread_ts="111.1")
    queue(runtime, "thread A: 2", thread_ts="111.1")
    queue(runtime, "thread B: 1", thread_ts="222.2")
    assert runtime.outbox.deliver_pending() == 1  # only thread B went out; A:2 waits behind A:1
    assert [m["text"] for m in slack.posts_in("C0HRQUEUE1")] == ["thread B: 1"]
    with runtime.database.session_scope() as session:
        next_at = aware(session.get_one(OutboxItem, first).next_attempt_at, utcnow())
    assert next_at is not None
    time.sleep(max(0.0, (next_at - utcnow()).total_seconds()) + 0.05)
    assert runtime.outbox.deliver_pending() == 2
    assert [m["text"] for m in slack.posts_in("C0HRQUEUE1")] == ["thread B: 1", "thread A: 1", "thread A: 2"]


@pytest.mark.calendar  # the lookup window must not move with the server's own time zone
def test_a_send_interrupted_after_slack_took_it_is_found_not_reposted(runtime: Runtime, slack: SlackStandIn) -> None:
    item_id = queue(runtime, "approved!", channel="U0EMPLOYEE")
    # What a process killed between Slack's answer and its commit leaves behind: the post is in Slack (with
    # its outbox id in the metadata) and the row still says "running", claimed long ago.
    assert runtime.outbox._slack is not None
    runtime.outbox._slack.post(channel="U0EMPLOYEE", text="approved!", thread_ts=None, payload={}, outbox_id=item_id)
    with runtime.database.session_scope() as session:
        item = session.get_one(OutboxItem, item_id)
        item.status, item.attempts = "running", 1
        item.claimed_at = utcnow() - timedelta(hours=1)
    assert runtime.outbox.deliver_pending() == 1
    assert len(slack.calls_to("chat.postMessage")) == 1  # not posted again
    assert slack.calls_to("conversations.history")  # looked up instead
    with runtime.database.session_scope() as session:
        assert session.get_one(OutboxItem, item_id).status == "done"
        stored = session.scalar(select(ChatMessage).where(ChatMessage.text == "approved!"))
        assert stored is not None and stored.slack_ts == slack.posts_in("D0EMPLOYEE")[0]["ts"]


def test_a_send_in_flight_elsewhere_is_left_alone_until_stale(runtime: Runtime, slack: SlackStandIn) -> None:
    item_id = queue(runtime, "in flight")
    with runtime.database.session_scope() as session:
        item = session.get_one(OutboxItem, item_id)
        item.status, item.claimed_at = "running", utcnow()
    assert runtime.outbox.deliver_pending() == 0
    assert not slack.calls_to("chat.postMessage")


def test_slack_refusing_a_message_marks_it_failed_after_a_few_tries(runtime: Runtime, slack: SlackStandIn) -> None:
    item_id = queue(runtime, "to nowhere")
    slack.token = "xoxb-another-token"  # every call now answers ok=false invalid_auth: not worth retrying for hours
    for _ in range(3):
        runtime.outbox.deliver_pending()
        with runtime.database.session_scope() as session:
            session.get_one(OutboxItem, item_id).next_attempt_at = None
    with runtime.database.session_scope() as session:
        item = session.get_one(OutboxItem, item_id)
        assert item.status == "failed" and item.attempts == 3 and "invalid_auth" in (item.last_error or "")


def test_an_edit_waits_for_the_card_it_edits(runtime: Runtime, slack: SlackStandIn) -> None:
    slack.failures["chat.postMessage"] = 3
    queue(runtime, "card v1", update_key="ticket:7")
    queue(runtime, "card v2", update_key="ticket:7", channel="C0OTHER")
    runtime.outbox.deliver_pending()
    assert not slack.calls_to("chat.update")
