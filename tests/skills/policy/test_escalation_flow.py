"""The HR escalation loop end to end over real HTTP with real-shaped interactivity payloads:
unsure answer → HR card → Answer modal → answer in the employee's thread → FAQ published → next
employee gets the answer from the bot."""

from __future__ import annotations

import json

import httpx
from sqlalchemy import func, select

from bot.models import AuditEntry, Escalation, Faq, KnowledgeDocument
from bot.runtime import Runtime
from tests.chat import block_element
from tests.conftest import LiveServer
from tests.slack_payloads import app_mention, block_actions, post_event, post_interaction, view_submission
from tests.slack_standin import SlackStandIn

QUESTION = "can I bring my dog to the office on fridays?"
ANSWER = "Yes: dogs are welcome in the office on Fridays if they are house-trained and stay in the pet zone."


def test_escalation_answer_publish_and_reuse(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    ask = app_mention("U0000DEVONE", QUESTION)
    assert post_event(http, server.url, ask).status_code == 200
    posts = slack.wait_for("chat.postMessage", 2)
    to_employee = next(c for c in posts if c.params["channel"] == "C0GENERAL1")
    card = next(c for c in posts if c.params["channel"] == "C0HRQUEUE1")
    assert "passed your question to HR" in to_employee.params["text"]
    assert to_employee.params["thread_ts"] == ask["event"]["ts"]
    assert QUESTION in card.params["text"] and "Sofia Rossi" in card.params["text"]
    escalation_id = block_element(card, "policy:answer")["value"]
    card_ts = slack.calls_to("chat.postMessage")[posts.index(card)].params.get("ts") or "1700000002.000000"

    # A non-HR employee cannot answer: they are told so, and no modal opens.
    post_interaction(
        http, server.url, block_actions("U0000DEVTWO", "policy:answer", escalation_id, "C0HRQUEUE1", card_ts)
    )
    refusal = slack.wait_for("chat.postEphemeral")[0]
    assert "Only HR" in refusal.params["text"]
    assert slack.calls_to("views.open") == []

    # HR clicks Answer → a modal opens with the escalation id in private_metadata.
    response = post_interaction(
        http, server.url, block_actions("U0000HRLEAD", "policy:answer", escalation_id, "C0HRQUEUE1", card_ts)
    )
    assert response.status_code == 200
    modal = slack.wait_for("views.open")[0].params["view"]
    assert modal["callback_id"] == "policy:answer_submit" and modal["private_metadata"] == escalation_id

    # HR submits the modal → the answer reaches the employee's original thread; the card is edited in place.
    submitted = post_interaction(
        http, server.url, view_submission("U0000HRLEAD", "policy:answer_submit", escalation_id, {"answer": ANSWER})
    )
    assert submitted.status_code == 200
    posts = slack.wait_for("chat.postMessage", 3)
    answer_post = posts[2]
    assert answer_post.params["channel"] == "C0GENERAL1"
    assert answer_post.params["thread_ts"] == ask["event"]["ts"]
    assert ANSWER in answer_post.params["text"]
    update = slack.wait_for("chat.update")[0]
    assert update.params["channel"] == "C0HRQUEUE1"
    assert "Answered by Priya Natarajan" in update.params["text"]
    faq_id = block_element(update, "policy:publish")["value"]

    # Submitting the same modal again (double click) changes nothing.
    post_interaction(
        http, server.url, view_submission("U0000HRLEAD", "policy:answer_submit", escalation_id, {"answer": "again"})
    )
    slack.wait_for("chat.postEphemeral", 2)
    with runtime.database.session_scope() as session:
        escalation = session.get_one(Escalation, int(escalation_id))
        assert escalation.status == "answered" and escalation.answer == ANSWER
        assert session.scalar(select(func.count()).select_from(Faq)) == 1

    # HR publishes the FAQ → it becomes a knowledge document.
    post_interaction(http, server.url, block_actions("U0000HRLEAD", "policy:publish", faq_id, "C0HRQUEUE1", card_ts))
    slack.wait_for("chat.update", 2)
    with runtime.database.session_scope() as session:
        assert session.get_one(Faq, int(faq_id)).status == "published"
        assert session.scalar(select(KnowledgeDocument).where(KnowledgeDocument.source == f"faq:{faq_id}")) is not None
        actions = [
            a.action for a in session.scalars(select(AuditEntry).where(AuditEntry.entity.in_(["escalation", "faq"])))
        ]
        assert actions == ["created", "answered", "drafted", "published"]

    # The next employee asking gets HR's answer from the bot, citing the FAQ.
    before = len(slack.calls_to("chat.postMessage"))
    post_event(http, server.url, app_mention("U0000DEVTHR", "are dogs allowed in the office on a friday?"))
    reply = slack.wait_for("chat.postMessage", before + 1)[before]
    assert "house-trained" in reply.params["text"]
    assert "HR FAQ" in json.dumps(reply.params["blocks"])
    with runtime.database.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Escalation)) == 1


def test_ask_hr_button_and_resolve(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    ask = app_mention("U0000DEVTWO", "how many vacation days do I get?")
    post_event(http, server.url, ask)
    answer = slack.wait_for("chat.postMessage")[0]
    question_id = block_element(answer, "policy:ask_hr")["value"]
    post_interaction(
        http,
        server.url,
        block_actions(
            "U0000DEVTWO", "policy:ask_hr", question_id, "C0GENERAL1", "1700000001.000001", thread_ts=ask["event"]["ts"]
        ),
    )
    posts = slack.wait_for("chat.postMessage", 3)
    card = next(c for c in posts if c.params["channel"] == "C0HRQUEUE1")
    confirmation = next(c for c in posts[1:] if c.params["channel"] == "C0GENERAL1")
    assert "sent your question to HR" in confirmation.params["text"]
    assert "how many vacation days" in card.params["text"]
    escalation_id = block_element(card, "policy:resolve")["value"]
    post_interaction(
        http,
        server.url,
        block_actions("U0000HRPART", "policy:resolve", escalation_id, "C0HRQUEUE1", "1700000009.000001"),
    )
    update = slack.wait_for("chat.update")[0]
    assert "resolved" in update.params["text"]
    notice = slack.wait_for("chat.postMessage", 4)[3]
    assert notice.params["thread_ts"] == ask["event"]["ts"] and "resolved" in notice.params["text"]
    with runtime.database.session_scope() as session:
        assert session.get_one(Escalation, int(escalation_id)).status == "resolved"


def test_feedback_buttons_are_stored_once_per_person(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    post_event(http, server.url, app_mention("U0000DEVONE", "what is the hotel limit per night?"))
    answer = slack.wait_for("chat.postMessage")[0]
    message_id = block_element(answer, "feedback:up")["value"]
    post_interaction(http, server.url, block_actions("U0000DEVONE", "feedback:up", message_id, "C0GENERAL1", "1"))
    slack.wait_for("chat.postEphemeral", 1)  # a person clicks one button after the other
    post_interaction(http, server.url, block_actions("U0000DEVONE", "feedback:down", message_id, "C0GENERAL1", "1"))
    slack.wait_for("chat.postEphemeral", 2)
    from bot.models import Feedback

    with runtime.database.session_scope() as session:
        votes = session.scalars(select(Feedback)).all()
        assert [(v.message_id, v.value) for v in votes] == [(int(message_id), -1)]
