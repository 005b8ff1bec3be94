"""No database transaction is open on a thread while it runs OCR, retrieval, an embedding, an LLM call or a Slack
call (issue 18 point 2): every such call made while Slack events and clicks are handled over signed HTTP, a new
person is looked up, receipts and screenshots are read, answers are written by the LLM stand-in and the outbox
posts, is recorded with whether its thread held a transaction (tests/transaction_watch.py)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.runtime import Runtime, bootstrap_samples, build_runtime
from skills.it.models import Ticket
from tests.chat import say
from tests.conftest import LiveServer, make_settings
from tests.llm_standin import OpenAIStandIn
from tests.skills.expenses.test_receipts import render_receipt
from tests.slack_payloads import message_event, post_event
from tests.slack_standin import Call, SlackStandIn
from tests.transaction_watch import TransactionWatch


@pytest.fixture
def watched(
    tmp_path: Path, database_url: str, slack: SlackStandIn, llm: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Runtime, TransactionWatch]]:
    """The whole system with Slack and an LLM (both stand-ins), its engine watched from the first event on."""
    settings = make_settings(
        tmp_path,
        database_url,
        slack,
        llm=llm,
    )
    rt = build_runtime(settings)
    bootstrap_samples(rt)
    watch = TransactionWatch(rt.database.engine)
    watch.wrap(monkeypatch)
    yield rt, watch
    watch.close()
    rt.close()


def dm(http: httpx.Client, server: LiveServer, user: str, channel: str, text: str, **extra: Any) -> str:
    event = message_event(user, text, channel, "im", **extra)
    if "files" in extra:
        event["event"]["subtype"] = "file_share"
    assert post_event(http, server.url, event).status_code == 200
    return str(event["event"]["ts"])


def in_thread(ts: str) -> Callable[[Call], bool]:
    return lambda call: call.params.get("thread_ts") == ts


def receipt_png() -> bytes:
    buffer = io.BytesIO()
    lines = [("HARBOUR CAFE", ""), ("DATE: 18/11/2026", ""), ("LUNCH SET 2 x 14.50", "29.00"), ("TOTAL", "29.00")]
    render_receipt(lines).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.slow
def test_no_transaction_is_open_while_slow_work_runs(
    watched: tuple[Runtime, TransactionWatch],
    slack: SlackStandIn,
    llm: OpenAIStandIn,
    http: httpx.Client,
    tesseract: None,
) -> None:
    runtime, watch = watched
    llm.reply = "You get 25 vacation days a year [1]."
    with LiveServer(runtime) as server:
        # A person the directory doesn't know yet (users.info), asking the documents (retrieval + the LLM); the
        # answer is posted by the outbox (chat.postMessage).
        ts = dm(http, server, "U0NEWHIRE1", "D0NEWHIRE1", "how many vacation days do I get?")
        slack.wait_for_post(lambda c: c.params.get("thread_ts") == ts)
        # A message no skill fits, looked up in the documents before the menu.
        ts = dm(http, server, "U0000DEVONE", "D0SOFIA001", "what's the weather like in lisbon today?")
        slack.wait_for_post(lambda c: c.params.get("thread_ts") == ts)
        # A receipt shared with a caption: downloaded and read by OCR on the file pool before the claim is drafted.
        shot = slack.add_file("F0RCPTTX01", receipt_png(), "receipt.png", "image/png")
        ts = dm(http, server, "U0000DEVONE", "D0SOFIA001", "client lunch, 2 people", files=[shot])
        card = slack.wait_for_post(lambda c: c.params.get("thread_ts") == ts)
    assert "29.00" in card.params["text"]
    assert {"file", "ocr", "retrieval", "embedding", "llm", "slack"} <= watch.kinds()
    assert {c.detail for c in watch.calls if c.kind == "slack"} >= {"users.info", "chat.postMessage"}
    assert watch.inside() == [], "\n".join(f"{c.kind}: {c.detail}" for c in watch.inside())


@pytest.mark.slow
def test_no_transaction_is_open_while_problem_reports_are_triaged_and_compared(
    watched: tuple[Runtime, TransactionWatch], slack: SlackStandIn, http: httpx.Client
) -> None:
    runtime, watch = watched
    with LiveServer(runtime) as server:
        # A problem report, the same person's repeat (compared with their open ticket), another person's report
        # of the same problem (compared with others' recent tickets: an outage) and a security incident (its
        # first steps looked up in the documents).
        for user, channel, text in (
            ("U0000DEVTWO", "D0000DEVTWO", "my laptop won't turn on, I can't work"),
            ("U0000DEVTWO", "D0000DEVTWO", "the laptop still does not power on at all"),
            ("U0000DEVONE", "D0SOFIA001", "my laptop won't turn on either"),
            ("U0000DEVONE", "D0SOFIA001", "I clicked a link in a phishing email and typed my password"),
        ):
            slack.wait_for_post(in_thread(dm(http, server, user, channel, text)))
    with runtime.database.session_scope() as session:
        tickets = session.scalars(select(Ticket).order_by(Ticket.id)).all()
        assert [(t.requester.slack_id, t.security) for t in tickets] == [
            ("U0000DEVTWO", False),
            ("U0000DEVONE", False),
            ("U0000DEVONE", True),
        ]
        assert "still does not power on" in tickets[0].description  # the repeat was added to the first ticket
    assert {"embedding", "retrieval", "slack"} <= watch.kinds()
    assert watch.inside() == [], "\n".join(f"{c.kind}: {c.detail}" for c in watch.inside())


def test_no_transaction_is_open_while_questions_between_a_form_are_answered(
    watched: tuple[Runtime, TransactionWatch], llm: OpenAIStandIn
) -> None:
    runtime, watch = watched
    llm.reply = "NO_ANSWER"  # the extractive answer stands
    conversations = [
        ["I'll need to take sick leave", "do I need a doctor's note?"],
        ["taxi to the airport for the offsite", "do I need a receipt for a taxi?"],
        ["how do I set up the VPN on my mac?"],
        ["can I carry over unused vacation days?"],
    ]
    for turns in conversations:
        for text in turns:
            reply = say(runtime, "U0000DEVONE", text)
            assert reply.text
    assert {"retrieval", "llm"} <= watch.kinds()
    assert watch.inside() == [], "\n".join(f"{c.kind}: {c.detail}" for c in watch.inside())
