"""End to end over real HTTP: signed Slack events in, Web API calls out to the Slack stand-in,
rows in a real database (SQLite and PostgreSQL) and a real Chroma store."""

from __future__ import annotations

import json
import time

import httpx
from sqlalchemy import func, select

from bot.models import ChatMessage, Employee, ProcessedEvent
from bot.runtime import Runtime
from tests.conftest import LiveServer
from tests.slack_payloads import app_mention, message_event, post_event, signed_headers
from tests.slack_standin import SlackStandIn


def count(runtime: Runtime, model: type) -> int:
    with runtime.database.session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_app_mention_gets_a_cited_answer_in_the_thread(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    payload = app_mention("U0000DEVONE", "how many vacation days do I get?")
    response = post_event(http, server.url, payload)
    assert response.status_code == 200
    post = slack.wait_for("chat.postMessage")[0]
    assert post.params["channel"] == "C0GENERAL1"
    assert post.params["thread_ts"] == payload["event"]["ts"]
    assert "25" in post.params["text"]
    blocks = json.dumps(post.params["blocks"])
    assert "Vacation and Annual Leave" in blocks and "leave-and-vacation.md" in blocks
    assert "feedback:up" in blocks and "policy:ask_hr" in blocks
    assert post.params["unfurl_links"] in (False, "false", "0", 0)


def test_forged_signature_and_stale_timestamp_are_rejected(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    forged = post_event(http, server.url, app_mention("U0000DEVONE", "vacation days?"), secret="not-the-secret")
    stale = post_event(
        http, server.url, app_mention("U0000DEVONE", "vacation days?"), timestamp=int(time.time()) - 6 * 60
    )
    assert forged.status_code == 401
    assert stale.status_code == 401
    time.sleep(0.5)
    assert slack.calls_to("chat.postMessage") == []
    assert count(runtime, ProcessedEvent) == 0
    assert count(runtime, ChatMessage) == 0


def test_retried_event_is_processed_once(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    payload = app_mention("U0000DEVONE", "what is the hotel limit per night?")
    for retry in (None, 1, 2):
        assert post_event(http, server.url, payload, retry=retry).status_code == 200
    slack.wait_for("chat.postMessage")
    time.sleep(0.7)
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert count(runtime, ProcessedEvent) == 1
    with runtime.database.session_scope() as session:
        inbound = session.scalars(select(ChatMessage).where(ChatMessage.direction == "in")).all()
        assert len(inbound) == 1


def test_direct_message_and_thread_follow_up_without_mention(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    dm = message_event("U0000DEVTWO", "how long is parental leave?", "D0DIRECT01", "im")
    post_event(http, server.url, dm)
    first = slack.wait_for("chat.postMessage")[0]
    assert first.params["channel"] == "D0DIRECT01" and "16" in first.params["text"]

    mention = app_mention("U0000DEVTWO", "what is the mileage rate?", channel="C0GENERAL1")
    post_event(http, server.url, mention)
    slack.wait_for("chat.postMessage", 2)
    follow_up = message_event(
        "U0000DEVTWO",
        "and how long do I have to submit the claim?",
        "C0GENERAL1",
        "channel",
        thread_ts=mention["event"]["ts"],
    )
    post_event(http, server.url, follow_up)
    third = slack.wait_for("chat.postMessage", 3)[2]
    assert third.params["thread_ts"] == mention["event"]["ts"]
    assert "30" in third.params["text"]


def test_ignores_other_threads_bot_echoes_and_edits(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    events = [
        message_event("U0000DEVONE", "lunch anyone?", "C0GENERAL1", "channel", thread_ts="1600000000.000001"),
        message_event("U0000DEVONE", "top level chatter", "C0GENERAL1", "channel"),
        message_event("UBOTUSER01", "my own answer", "D0DIRECT01", "im", bot_id="BBOT01"),
        message_event("U0000DEVONE", "edited", "D0DIRECT01", "im", subtype="message_changed"),
    ]
    for payload in events:
        assert post_event(http, server.url, payload).status_code == 200
    time.sleep(0.8)
    assert slack.calls_to("chat.postMessage") == []
    assert count(runtime, ChatMessage) == 0


def test_unknown_slack_user_is_created_from_users_info(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    post_event(http, server.url, message_event("U0NEWHIRE1", "hi there", "D0DIRECT02", "im"))
    post = slack.wait_for("chat.postMessage")[0]
    assert "Nina" in post.params["text"]
    with runtime.database.session_scope() as session:
        nina = session.scalar(select(Employee).where(Employee.slack_id == "U0NEWHIRE1"))
        assert nina is not None and nina.tz == "Europe/Berlin" and nina.email == "nina@larkspur.example"


def test_bad_input_gets_a_clear_answer_and_no_rows(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    post_event(http, server.url, message_event("U0000DEVONE", "x" * 40_000, "D0DIRECT01", "im"))
    post_event(http, server.url, message_event("U0000DEVONE", ":tada: :rocket:", "D0DIRECT01", "im"))
    replies = slack.wait_for("chat.postEphemeral", 2)
    texts = sorted(c.params["text"] for c in replies)
    assert any("40,000 characters" in t for t in texts)
    assert any("emoji" in t for t in texts)
    assert count(runtime, ChatMessage) == 0


def test_malformed_payloads_get_a_4xx(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    for body, content_type in (
        ("{not json", "application/json"),
        ("payload=%7Bbroken", "application/x-www-form-urlencoded"),
        ("", "application/json"),
    ):
        response = http.post(
            f"{server.url}/slack/events", content=body, headers={"Content-Type": content_type, **signed_headers(body)}
        )
        assert 400 <= response.status_code < 500, (body, response.status_code)
    unsigned = http.post(f"{server.url}/slack/events", json={"type": "event_callback"})
    assert unsigned.status_code == 401
    assert count(runtime, ProcessedEvent) == 0


def test_url_verification_challenge(server: LiveServer, http: httpx.Client) -> None:
    response = post_event(http, server.url, {"type": "url_verification", "challenge": "abc123", "token": "t"})
    assert response.status_code == 200
    assert "abc123" in response.text


def test_over_the_rate_limit_messages_are_queued_with_one_notice_then_answered_in_order(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    from datetime import timedelta

    from bot.db import utcnow

    assert runtime.slack is not None
    runtime.settings.rate_limit_per_minute = 2
    questions = [
        "how many vacation days do I get?",
        "what is the hotel limit per night?",
        "how long is parental leave?",
        "can I carry vacation over to next year?",
    ]
    events = [message_event("U0000DEVONE", q, "D0SOFIA001", "im") for q in questions]
    for event in events:
        assert post_event(http, server.url, event).status_code == 200  # acked at once, queued or not
    slack.wait_for("chat.postMessage", 2)
    notices = slack.wait_for("chat.postEphemeral")
    time.sleep(0.5)
    assert len(slack.calls_to("chat.postMessage")) == 2  # the first two answered, the others wait their turn
    assert len(slack.calls_to("chat.postEphemeral")) == 1  # told once, not for every queued message
    assert "you're queued" in notices[0].params["text"] and notices[0].params["user"] == "U0000DEVONE"
    with runtime.database.session_scope() as session:
        queued = session.scalars(
            select(ProcessedEvent)
            .where(ProcessedEvent.status == "pending", ProcessedEvent.next_attempt_at.is_not(None))
            .order_by(ProcessedEvent.id)
        ).all()
        assert [q.event_id for q in queued] == [e["event_id"] for e in events[2:]]
        earlier, later = queued[0].next_attempt_at, queued[1].next_attempt_at
        assert earlier is not None and later is not None and earlier < later  # spaced at the allowed pace
        for row in queued:  # their turn has come (instead of waiting 30 s each in a test)
            row.next_attempt_at = utcnow() - timedelta(seconds=1)
    assert runtime.slack.resume_events() == 2
    slack.wait_for("chat.postMessage", 4)
    threads = [c.params["thread_ts"] for c in slack.calls_to("chat.postMessage")]
    # Every question answered once; the queued ones after the first two (which ran side by side), in order.
    assert sorted(threads[:2]) == sorted(e["event"]["ts"] for e in events[:2])
    assert threads[2:] == [e["event"]["ts"] for e in events[2:]]
    assert runtime.slack.resume_events() == 0
    with runtime.database.session_scope() as session:
        statuses = session.scalars(select(ProcessedEvent.status)).all()
        assert sorted(statuses) == ["done"] * 4
