"""Confidential matters end to end over real HTTP with signed Slack payloads: a harassment report in a shared
channel is moved to the employee's DM and a private HR queue, stored redacted, kept out of the logs, and
answered by HR (only HR) privately — never through the public thread or the FAQ flow."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from bot.models import ChatMessage, Escalation, Expense, Faq
from bot.privacy import WITHHELD, RedactingFilter
from bot.runtime import Runtime, bootstrap_samples, build_runtime
from skills.it.models import Ticket
from tests.chat import block_element, say
from tests.conftest import LiveServer, make_settings
from tests.slack_payloads import (
    app_mention,
    block_actions,
    message_event,
    post_event,
    post_interaction,
    view_submission,
)
from tests.slack_standin import Call, SlackStandIn

PRIVATE_HR = "G0HRPRIV01"
REPORT = "my manager keeps making comments about my body and I don't know what to do"
ANSWER = "I'm sorry this is happening. Let's talk today at 3pm, just the two of us; you are not in trouble."


@pytest.fixture
def runtime(tmp_path: Path, database_url: str, slack: SlackStandIn) -> Iterator[Runtime]:
    """The whole system with a private HR channel besides the general HR queue."""
    rt = build_runtime(make_settings(tmp_path, database_url, slack, BACKOFFICE_HR_PRIVATE_CHANNEL=PRIVATE_HR))
    bootstrap_samples(rt)
    yield rt
    rt.close()


def _everything(call: Call) -> str:
    return json.dumps(call.params)


def test_harassment_report_in_a_channel_goes_private_and_hr_answers_by_dm(
    server: LiveServer,
    slack: SlackStandIn,
    runtime: Runtime,
    http: httpx.Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.handler.addFilter(RedactingFilter())  # as `backoffice serve` installs it on the root handlers
    caplog.set_level(logging.DEBUG)

    ask = app_mention("U0000DEVONE", REPORT, channel="C0GENERAL1")
    assert post_event(http, server.url, ask).status_code == 200

    # In the channel: an ephemeral note only the writer sees, without a word of what they wrote.
    note = slack.wait_for("chat.postEphemeral")[0]
    assert note.params["channel"] == "C0GENERAL1" and note.params["user"] == "U0000DEVONE"
    assert "private message" in note.params["text"]
    assert "comments" not in _everything(note) and "body" not in note.params["text"]

    # The substance goes to their DM; the account goes to the private HR queue only.
    dm = slack.wait_for_post(lambda c: c.params["channel"] == "U0000DEVONE")
    assert "confidentially" in dm.params["text"] and "comments" not in _everything(dm)
    card = slack.wait_for_post(lambda c: c.params["channel"] == PRIVATE_HR)
    assert REPORT in card.params["text"] and "Sofia Rossi" in card.params["text"]
    assert "harassment" in card.params["text"]
    escalation_id = block_element(card, "sensitive:answer")["value"]
    posted_to = {c.params["channel"] for c in slack.calls_to("chat.postMessage")}
    assert posted_to == {"U0000DEVONE", PRIVATE_HR}  # nothing in #general, nothing in the general HR queue
    assert all(c.params["unfurl_links"] is False for c in slack.calls_to("chat.postMessage"))

    with runtime.database.session_scope() as session:
        escalation = session.get_one(Escalation, int(escalation_id))
        assert escalation.sensitive and escalation.status == "open" and escalation.question == REPORT
        inbound = session.scalars(select(ChatMessage).where(ChatMessage.direction == "in")).all()
        assert len(inbound) == 1 and inbound[0].skill == "sensitive"
        assert "body" not in inbound[0].text and inbound[0].text.startswith("[confidential")
        stored = " ".join(m.text for m in session.scalars(select(ChatMessage).where(ChatMessage.channel != PRIVATE_HR)))
        assert "comments" not in stored

    card_ts = "1700000002.000000"
    # A non-HR employee clicking Answer (say, the card was forwarded) is refused; no form opens.
    post_interaction(
        http, server.url, block_actions("U0000DEVTWO", "sensitive:answer", escalation_id, PRIVATE_HR, card_ts)
    )
    refusal = slack.wait_for("chat.postEphemeral", 2)[1]
    assert "Only HR" in refusal.params["text"]
    assert slack.calls_to("views.open") == []

    # The general policy flow cannot answer it or turn it into an FAQ, even when HR submits its form.
    post_interaction(
        http,
        server.url,
        view_submission("U0000HRLEAD", "policy:answer_submit", escalation_id, {"answer": "posted to the thread"}),
    )
    assert "confidential" in slack.wait_for("chat.postEphemeral", 3)[2].params["text"]
    with runtime.database.session_scope() as session:
        assert session.get_one(Escalation, int(escalation_id)).status == "open"
        assert session.scalar(select(func.count()).select_from(Faq)) == 0

    # HR answers from the card: a private form, then the answer reaches the employee's DM.
    post_interaction(
        http, server.url, block_actions("U0000HRLEAD", "sensitive:answer", escalation_id, PRIVATE_HR, card_ts)
    )
    modal = slack.wait_for("views.open")[0].params["view"]
    assert modal["callback_id"] == "sensitive:answer_submit" and modal["private_metadata"] == escalation_id
    before = len(slack.calls_to("chat.postMessage"))
    post_interaction(
        http,
        server.url,
        view_submission("U0000HRLEAD", "sensitive:answer_submit", escalation_id, {"answer": ANSWER}),
    )
    answer = slack.wait_for_post(lambda c: ANSWER in c.params["text"])
    assert answer.params["channel"] == "U0000DEVONE" and not answer.params.get("thread_ts")
    update = slack.wait_for("chat.update")[0]
    assert update.params["channel"] == PRIVATE_HR and "Answered by Priya Natarajan" in update.params["text"]
    assert "sensitive:answer" not in json.dumps(update.params["blocks"])
    new_posts = slack.calls_to("chat.postMessage")[before:]
    assert [c.params["channel"] for c in new_posts] == ["U0000DEVONE"]
    with runtime.database.session_scope() as session:
        escalation = session.get_one(Escalation, int(escalation_id))
        assert escalation.status == "answered" and escalation.answer == ANSWER
        assert session.scalar(select(func.count()).select_from(Faq)) == 0

    # Nothing of the report reached the logs (the debug output of Slack's client included).
    assert caplog.records, "debug logging was on, so something was logged"
    assert "comments about my body" not in caplog.text
    assert WITHHELD in caplog.text  # Slack's client logged the request bodies; the filter withheld them
    assert "comments+about+my+body" not in caplog.text and "comments%20about" not in caplog.text


def test_medical_disclosure_in_a_dm_is_answered_there_and_routine_sick_leave_is_not_diverted(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    post_event(
        http,
        server.url,
        message_event(
            "U0000DEVTWO", "my doctor says I need surgery on my spine, card 4111 1111 1111 1111", "D0DEVTWO1", "im"
        ),
    )
    reply = slack.wait_for_post(lambda c: c.params["channel"] == "D0DEVTWO1")
    assert "confidentially" in reply.params["text"] and "emergency" in reply.params["text"]
    assert slack.calls_to("chat.postEphemeral") == []
    card = slack.wait_for_post(lambda c: c.params["channel"] == PRIVATE_HR)
    assert "surgery" in card.params["text"] and "[card number]" in card.params["text"]
    assert "4111" not in _everything(card)
    with runtime.database.session_scope() as session:
        escalation = session.scalars(select(Escalation)).one()
        assert escalation.sensitive and "4111" not in escalation.question

    # In the web chat (a private conversation already) the answer comes straight back.
    web = say(runtime, "U0000SALONE", "I'm being bullied by my manager")
    assert web.skill == "sensitive" and not web.ephemeral and "confidentially" in web.text
    assert "bullied" not in web.text

    # Routine sick leave is still the leave skill's (nothing more goes to the private queue).
    sick = say(runtime, "U0000DEVTHR", "calling in sick today, sore throat")
    assert sick.skill == "leave"
    assert len([c for c in slack.calls_to("chat.postMessage") if c.params["channel"] == PRIVATE_HR]) == 2
    with runtime.database.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Escalation).where(Escalation.sensitive)) == 2


def test_bank_and_card_numbers_are_neither_kept_nor_echoed_nor_made_a_claim(runtime: Runtime) -> None:
    for text in (
        "please pay my reimbursements into GB82WEST12345698765432 from now on",
        "new iban is nl91abna0417164300",
        "refund the taxi to my card 4111 1111 1111 1111",
    ):
        reply = say(runtime, "U0000DEVTWO", text)
        assert reply.ephemeral and "bank details" in reply.text
        assert not any(number in reply.text.lower() for number in ("12345698765432", "0417164300", "4111"))
    with runtime.database.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(ChatMessage)) == 0
        assert session.scalar(select(func.count()).select_from(Expense)) == 0
        assert session.scalar(select(func.count()).select_from(Ticket)) == 0
