"""Slow files don't hold up other people (issue 17, point 11): a file is downloaded and read before the database
transaction opens, on a small shared pool, within a time limit. Over signed Slack HTTP on SQLite and PostgreSQL;
the Slack stand-in holds the file downloads (`hold`) so a file stays "being read" for as long as the test needs,
and the tests assert the order things happen in, with generous bounds, not tight timings."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
from sqlalchemy import select

from bot.models import Expense
from bot.runtime import Runtime
from skills.expenses.skill import ExpenseSkill
from tests.conftest import LiveServer
from tests.knowledge.test_loaders import make_pdf
from tests.slack_payloads import message_event, post_event
from tests.slack_standin import Call, SlackStandIn

RECEIPT = "KEDAI RUNCIT SRI MELATI SDN BHD\nDATE: 14/04/2025 TIME: 13:05\nTOTAL (RM) 7.70"
QUESTION = "how many vacation days do I get?"
PROMPT = 20.0  # "promptly", on a loaded machine: a plain answer takes well under a second here


def receipt_event(user: str, channel: str, file: dict[str, Any], thread_ts: str | None = None) -> dict[str, Any]:
    event = message_event(user, "here is the receipt", channel, "im", thread_ts=thread_ts, files=[file])
    event["event"]["subtype"] = "file_share"
    return event


def post_in_background(server: LiveServer, event: dict[str, Any]) -> None:
    """Post an event without waiting for the ack: an ack held up by a database lock must not stall the test."""

    def post() -> None:
        with httpx.Client(timeout=90) as client:
            post_event(client, server.url, event)

    threading.Thread(target=post, daemon=True).start()


def answers_in(slack: SlackStandIn, channel: str) -> list[Call]:
    """What the bot said in a channel, messages and notes only the person sees alike, in order."""
    said = ("chat.postMessage", "chat.postEphemeral")
    return [c for c in slack.calls if c.method in said and c.params.get("channel") == channel]


def wait_for_answer(slack: SlackStandIn, channel: str, count: int = 1, timeout: float = PROMPT) -> list[Call]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = answers_in(slack, channel)
        if len(found) >= count:
            return found
        time.sleep(0.02)
    raise AssertionError(f"no answer in {channel} within {timeout:g}s: {[(c.method, c.params) for c in slack.calls]}")


def test_a_question_is_answered_while_someone_elses_receipt_is_being_read(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    # Sofia starts a claim; the bot asks for the amount and the date, and she answers with the receipt. (Answering
    # the bot's question is the route that changes the conversation row before her receipt is read: inside the
    # transaction, that write held SQLite's one write lock for the whole download and OCR.)
    start = message_event("U0000DEVONE", "taxi to the airport", "D0SOFIA001", "im")
    assert post_event(http, server.url, start).status_code == 200
    (asked,) = wait_for_answer(slack, "D0SOFIA001")
    assert "How much" in asked.params["text"]
    receipt = slack.add_file("F0SLOWRCP1", make_pdf([RECEIPT]), "receipt.pdf", "application/pdf")
    slack.hold = lambda method, _params: method == "files.download"  # the receipt takes as long as the test says
    try:
        post_in_background(server, receipt_event("U0000DEVONE", "D0SOFIA001", receipt, start["event"]["ts"]))
        slack.wait_for("files.download")  # Sofia's receipt is being read
        started = time.monotonic()
        post_in_background(server, message_event("U0000DEVTWO", QUESTION, "D0JAMAL001", "im"))
        answered = wait_for_answer(slack, "D0JAMAL001")[0]
        latency = time.monotonic() - started
        assert len(answers_in(slack, "D0SOFIA001")) == 1, "Sofia's receipt was answered before it was read"
    finally:
        slack.release()
    print(f"\nanswered {latency:.2f}s after asking, while another person's receipt was being read")
    assert answered.method == "chat.postMessage"
    card = wait_for_answer(slack, "D0SOFIA001", count=2, timeout=60)[1]
    assert "claim #" in card.params["text"] and "7.70" in card.params["text"]
    with runtime.database.session_scope() as session:
        assert len(session.scalars(select(Expense)).all()) == 1


def test_receipts_that_take_too_long_get_a_clear_answer_and_free_the_threads_for_others(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    # Two receipts at once, both stuck (their downloads never finish while the test runs): without a time limit
    # they hold both threads that answer Slack events, and everyone else waits behind them.
    expenses = runtime.assistant.skills["expense"]
    assert isinstance(expenses, ExpenseSkill)
    expenses.file_seconds = 2.0
    slack.hold = lambda method, _params: method == "files.download"
    senders = [("U0000DEVONE", "D0SOFIA001"), ("U0000DEVTHR", "D0MEILIN01")]
    try:
        for number, (user, channel) in enumerate(senders):
            shared = slack.add_file(f"F0STUCK00{number}", make_pdf([RECEIPT]), "receipt.pdf", "application/pdf")
            post_in_background(server, receipt_event(user, channel, shared))
        slack.wait_for("files.download", 2)
        started = time.monotonic()
        post_in_background(server, message_event("U0000DEVTWO", QUESTION, "D0JAMAL001", "im"))
        answered = wait_for_answer(slack, "D0JAMAL001")[0]
        latency = time.monotonic() - started
        told = [wait_for_answer(slack, channel)[0] for _user, channel in senders]
    finally:
        slack.release()
    print(f"\nanswered {latency:.2f}s after asking, with two stuck receipts (limit 2s each)")
    assert answered.method == "chat.postMessage"
    for note in told:
        assert note.method == "chat.postEphemeral"
        assert note.params["text"] == (
            "Reading receipt.pdf took longer than 2 seconds, so I stopped. Please send a smaller scan or a photo of"
            " the receipt. Nothing was saved."
        )
    with runtime.database.session_scope() as session:
        assert session.scalars(select(Expense)).all() == []


def test_two_slow_receipts_at_once_never_hold_up_anyone_elses_answer(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    # Two receipts being read at the same moment, each for as long as the test holds them (the limit is the
    # default 60 s): they keep the file threads busy, never the threads that answer everyone else.
    slack.hold = lambda method, _params: method == "files.download"
    senders = [("U0000DEVONE", "D0SOFIA001"), ("U0000DEVTHR", "D0MEILIN01")]
    try:
        for number, (user, channel) in enumerate(senders):
            shared = slack.add_file(f"F0SLOW000{number}", make_pdf([RECEIPT]), "receipt.pdf", "application/pdf")
            post_in_background(server, receipt_event(user, channel, shared))
        slack.wait_for("files.download", 2)
        started = time.monotonic()
        post_in_background(server, message_event("U0000DEVTWO", QUESTION, "D0JAMAL001", "im"))
        answered = wait_for_answer(slack, "D0JAMAL001")[0]
        latency = time.monotonic() - started
        assert all(answers_in(slack, channel) == [] for _user, channel in senders), "a receipt was answered unread"
    finally:
        slack.release()
    print(f"\nanswered {latency:.2f}s after asking, while two receipts were being read")
    assert answered.method == "chat.postMessage" and latency < PROMPT
    for _user, channel in senders:  # once read, each receipt gets its claim
        card = wait_for_answer(slack, channel, timeout=60)[0]
        assert "7.70" in card.params["text"], card.params["text"]
