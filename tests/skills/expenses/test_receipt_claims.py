"""Receipts over Slack as people send them (issue 19): a photo without a word starts a claim, the answer to a
follow-up completes the same claim with its receipt, a draft's copy is a duplicate, and the currency is never
silently the base currency."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select

from bot.models import Expense
from bot.runtime import Runtime
from tests.conftest import LiveServer
from tests.skills.expenses.test_receipts import render_receipt
from tests.slack_payloads import message_event, post_event
from tests.slack_standin import SlackStandIn

NOW = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # Monday
CHANNEL = "D0SOFIA001"
USER = "U0000DEVONE"  # Sofia Rossi, in Italy

RINGGIT = [
    ("KEDAI KOPI SERI MAJU", ""),
    ("NO. 8, JALAN MERANTI 2, PETALING JAYA", ""),
    ("DATE: 20/11/2026 TIME: 13:05", ""),
    ("NASI LEMAK 2 x 21.10", "42.20"),
    ("TOTAL (RM)", "42.20"),
    ("CASH", "50.00"),
]


def receipt_png(lines: list[tuple[str, str]]) -> bytes:
    buffer = io.BytesIO()
    render_receipt(lines).save(buffer, "PNG")
    return buffer.getvalue()


def share(
    slack: SlackStandIn, http: httpx.Client, server: LiveServer, text: str, file: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`USER` writes `text` in their DM with the bot, with `file` shared (a file_share event) when given."""
    if file is None:
        event = message_event(USER, text, CHANNEL, "im")
    else:
        event = message_event(USER, text, CHANNEL, "im", files=[file])
        event["event"]["subtype"] = "file_share"
    assert post_event(http, server.url, event).status_code == 200
    return event


def expenses(runtime: Runtime) -> list[Expense]:
    with runtime.database.session_scope() as session:
        rows = list(session.scalars(select(Expense).order_by(Expense.id)))
        session.expunge_all()
        return rows


def test_a_receipt_photo_without_a_word_starts_a_claim(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client, tesseract: None
) -> None:
    runtime.assistant.clock = lambda: NOW
    photo = slack.add_file("F0PHOTO001", receipt_png(RINGGIT), "IMG_2041.png", "image/png")
    event = share(slack, http, server, "", photo)
    card = slack.wait_for_post(lambda c: c.params.get("thread_ts") == event["event"]["ts"], timeout=30)
    assert "not sure" not in card.params["text"].lower()
    assert "claim #" in card.params["text"] and "42.20 MYR" in card.params["text"], card.params["text"]
    assert "Receipt: attached" in card.params["text"]
    [claim] = expenses(runtime)
    assert (claim.status, claim.amount, claim.currency) == ("draft", Decimal("42.20"), "MYR")
    assert claim.receipt_sha256 is not None


def test_the_answer_to_a_question_about_a_receipt_completes_the_same_claim_with_it(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client, tesseract: None
) -> None:
    runtime.assistant.clock = lambda: NOW
    undated = [line for line in RINGGIT if not line[0].startswith("DATE")]
    photo = slack.add_file("F0PHOTO002", receipt_png(undated), "IMG_2042.png", "image/png")
    event = share(slack, http, server, "", photo)
    thread = event["event"]["ts"]
    asked = slack.wait_for_post(lambda c: c.params.get("thread_ts") == thread, timeout=30)
    assert "when did you spend it" in asked.params["text"].lower() and expenses(runtime) == [], asked.params["text"]

    answer = message_event(USER, "last friday, client lunch with 2 people", CHANNEL, "im", thread_ts=thread)
    assert post_event(http, server.url, answer).status_code == 200
    card = slack.wait_for_post(lambda c: c.params.get("thread_ts") == thread and "claim #" in c.params["text"])
    assert "42.20 MYR" in card.params["text"] and "Receipt: attached" in card.params["text"], card.params["text"]
    [claim] = expenses(runtime)
    assert (claim.amount, claim.currency, claim.spent_on.isoformat()) == (Decimal("42.20"), "MYR", "2026-11-20")
    assert claim.receipt_sha256 is not None and claim.receipt_path is not None
    assert (claim.category, claim.attendees) == ("meals", 3)  # you and 2 people


def test_a_claim_like_one_still_in_draft_is_flagged_as_a_duplicate(runtime: Runtime) -> None:
    from tests.chat import button, click, say

    runtime.assistant.clock = lambda: NOW
    first = say(runtime, "U0000DEVTHR", "$18.40 lunch at Joe's Diner on friday")
    assert "duplicate" not in first.text.lower()
    second = say(runtime, "U0000DEVTHR", "$18.40 lunch at Joe's Diner on friday")
    assert f"Possible duplicate of your draft claim #{button(first, 'expense:confirm')}" in second.text, second.text
    click(runtime, "U0000DEVTHR", "expense:discard", button(first, "expense:confirm"))
    click(runtime, "U0000DEVTHR", "expense:discard", button(second, "expense:confirm"))
    third = say(runtime, "U0000DEVTHR", "$18.40 lunch at Joe's Diner on friday")
    assert "duplicate" not in third.text.lower()  # discarded drafts are gone
    other = say(runtime, "U0000DEVTWO", "$18.40 lunch at Joe's Diner on friday")
    assert "duplicate" not in other.text.lower()  # someone else's lunch


def test_the_currency_comes_from_the_words_the_receipt_or_the_country_and_is_otherwise_asked(runtime: Runtime) -> None:
    from bot.models import Employee
    from tests.chat import say

    runtime.assistant.clock = lambda: NOW
    sofia = say(runtime, USER, "taxi to the station 30 on friday")  # in Italy
    assert "30.00 EUR" in sofia.text and "the currency where you work" in sofia.text, sofia.text
    jamal = say(runtime, "U0000DEVTWO", "taxi to the station 30 on friday")  # in the US
    assert "30.00 USD" in jamal.text and "the currency where you work" in jamal.text, jamal.text
    with runtime.database.session_scope() as session:
        mei = session.scalars(select(Employee).where(Employee.slack_id == "U0000DEVTHR")).one()
        mei.country = "SG"  # Singapore dollars: not a currency this company takes, so nothing to assume
    asked = say(runtime, "U0000DEVTHR", "taxi to the station 30 on friday")
    assert "Which currency" in asked.text and "Nothing was saved" in asked.text, asked.text
    answered = say(runtime, "U0000DEVTHR", "in euros")
    assert "30.00 EUR" in answered.text and "claim #" in answered.text, answered.text
    with runtime.database.session_scope() as session:
        claimed = session.execute(select(Employee.slack_id, Expense.currency).join(Expense.employee)).all()
    assert sorted(map(tuple, claimed)) == [("U0000DEVONE", "EUR"), ("U0000DEVTHR", "EUR"), ("U0000DEVTWO", "USD")]


def test_a_receipt_that_shows_only_a_dollar_sign_is_asked_about_and_keeps_its_file(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client, tesseract: None
) -> None:
    runtime.assistant.clock = lambda: NOW
    dollars = [
        ("HARBOUR TAXI CO", ""),
        ("DATE: 20/11/2026 TIME: 09:40", ""),
        ("FARE", "$ 42.20"),
        ("TOTAL", "$ 42.20"),
    ]
    photo = slack.add_file("F0PHOTO003", receipt_png(dollars), "IMG_2043.png", "image/png")
    event = share(slack, http, server, "", photo)  # Sofia works in Italy: "$" is not her currency
    thread = event["event"]["ts"]
    asked = slack.wait_for_post(lambda c: c.params.get("thread_ts") == thread, timeout=30)
    assert "Which currency" in asked.params["text"] and expenses(runtime) == [], asked.params["text"]
    answer = message_event(USER, "US dollars", CHANNEL, "im", thread_ts=thread)
    assert post_event(http, server.url, answer).status_code == 200
    card = slack.wait_for_post(lambda c: c.params.get("thread_ts") == thread and "claim #" in c.params["text"])
    assert "42.20 USD" in card.params["text"] and "Receipt: attached" in card.params["text"], card.params["text"]
    [claim] = expenses(runtime)
    assert (claim.amount, claim.currency, claim.receipt_sha256 is not None) == (Decimal("42.20"), "USD", True)


def test_a_receipt_without_a_currency_takes_the_country_one_and_says_so(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client, tesseract: None
) -> None:
    runtime.assistant.clock = lambda: NOW
    plain = [("HARBOUR TAXI CO", ""), ("DATE: 20/11/2026 TIME: 09:40", ""), ("TOTAL", "42.20")]
    photo = slack.add_file("F0PHOTO004", receipt_png(plain), "IMG_2044.png", "image/png")
    event = share(slack, http, server, "", photo)
    card = slack.wait_for_post(lambda c: c.params.get("thread_ts") == event["event"]["ts"], timeout=30)
    assert "42.20 EUR" in card.params["text"] and "the currency where you work" in card.params["text"]
