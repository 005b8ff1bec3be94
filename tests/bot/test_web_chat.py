"""The local web chat and health endpoint on the embedded default (SQLite, no Slack, no LLM)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import time_machine
from sqlalchemy import func, select

from bot.models import ChatMessage, Escalation
from bot.runtime import Runtime, build_runtime
from tests.conftest import LiveServer, make_settings


def test_healthz_and_chat_page(offline_server: LiveServer, http: httpx.Client) -> None:
    health = http.get(f"{offline_server.url}/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    page = http.get(f"{offline_server.url}/")
    assert page.status_code == 200 and "Back Office Assistant" in page.text
    people = http.get(f"{offline_server.url}/api/employees").json()
    assert any("hr" in p["roles"] for p in people)


def test_vacation_question_is_answered_with_a_sample_sop(offline_server: LiveServer, http: httpx.Client) -> None:
    reply = http.post(
        f"{offline_server.url}/api/chat", json={"user": "U0000DEVONE", "text": "how many vacation days do I get?"}
    ).json()
    assert "25" in reply["text"]
    assert reply["citations"][0]["location"].endswith("leave-and-vacation.md")
    assert reply["feedback"] is True and reply["message_id"]
    feed = http.get(f"{offline_server.url}/api/feed", params={"user": "U0000DEVONE"}).json()["messages"]
    assert [m["direction"] for m in feed] == ["in", "out"]


def test_escalation_loop_in_the_web_chat(
    offline_server: LiveServer, offline_runtime: Runtime, http: httpx.Client
) -> None:
    base = offline_server.url
    reply = http.post(
        f"{base}/api/chat", json={"user": "U0000DEVONE", "text": "can I bring my dog to the office?"}
    ).json()
    assert "passed your question to HR" in reply["text"]
    hr_queue = http.get(f"{base}/api/queue/hr", params={"user": "U0000HRLEAD"}).json()["messages"]
    card = next(m for m in hr_queue if m["channel"] == "web:hr")
    answer_button = next(b for b in card["buttons"] if b["action_id"] == "policy:answer")
    modal = http.post(
        f"{base}/api/action",
        json={"user": "U0000HRLEAD", "action_id": "policy:answer", "value": answer_button["value"]},
    ).json()["modal"]
    done = http.post(
        f"{base}/api/action",
        json={
            "user": "U0000HRLEAD",
            "action_id": modal["callback_id"],
            "value": modal["private_metadata"],
            "form": {"answer": "Dogs are welcome on Fridays if they are house-trained."},
        },
    ).json()
    assert done["ephemeral"] and "sent to Sofia Rossi" in done["text"]
    employee_feed = http.get(f"{base}/api/feed", params={"user": "U0000DEVONE"}).json()["messages"]
    assert "house-trained" in employee_feed[-1]["text"]
    # Employees don't see the HR queue.
    assert all(m["channel"] != "web:hr" for m in employee_feed)


def test_bad_input_is_answered_clearly_and_writes_nothing(
    offline_server: LiveServer, offline_runtime: Runtime, http: httpx.Client
) -> None:
    base = offline_server.url
    for text, expected in (
        ("", "didn't get any text"),
        ("   ", "didn't get any text"),
        ("y" * 40_000, "40,000 characters"),
        ("🎉🎉🚀", "emoji"),
    ):
        reply = http.post(f"{base}/api/chat", json={"user": "U0000DEVONE", "text": text}).json()
        assert expected in reply["text"] and reply["ephemeral"]
    assert http.post(f"{base}/api/chat", json={"user": "UNOBODY", "text": "hi"}).status_code == 404
    assert http.post(f"{base}/api/chat", json={"text": "hi"}).status_code == 422
    assert http.post(
        f"{base}/api/action", json={"user": "U0000DEVONE", "action_id": "policy:answer", "value": "999"}
    ).json()["ephemeral"]
    with offline_runtime.database.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(ChatMessage)) == 0
        assert session.scalar(select(func.count()).select_from(Escalation)) == 0


def test_routing_outcomes_in_the_chat(offline_server: LiveServer, http: httpx.Client) -> None:
    def ask(text: str) -> dict[str, Any]:
        reply: dict[str, Any] = http.post(
            f"{offline_server.url}/api/chat", json={"user": "U0000DEVTWO", "text": text}
        ).json()
        return reply

    assert ask("what's the weather like in Lisbon tomorrow?")["skill"] == "out_of_scope"
    assert "Policy questions" in ask("what's the weather like in Lisbon tomorrow?")["text"]
    assert ask("thanks a lot!")["skill"] == "smalltalk"
    with time_machine.travel(datetime(2026, 11, 23, 9, 0, tzinfo=UTC), tick=True):  # a Monday: Friday is working
        leave = ask("book me off next friday please")
    assert leave["skill"] == "leave" and "Please check your request" in leave["text"]
    assert [b["action_id"] for b in leave["buttons"]] == ["leave:confirm", "leave:edit", "leave:discard"]


def test_in_production_nobody_picks_who_they_are(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'prod.db'}",
        BACKOFFICE_ENV="production",
        BACKOFFICE_SECRET_KEY="a-long-random-production-secret",
        dev_mode=None,
    )
    runtime = build_runtime(settings)
    try:
        with LiveServer(runtime) as live, httpx.Client() as client:
            assert client.get(f"{live.url}/healthz").status_code == 200
            # The web chat is there for people without Slack, each signed in as themselves (test_closed_defaults).
            assert client.get(f"{live.url}/").headers["location"] == "/console/login"
            assert client.post(f"{live.url}/api/chat", json={"user": "U0000HRLEAD", "text": "hi"}).status_code == 401
    finally:
        runtime.close()


def test_replies_say_whether_they_answer_from_the_documents(offline_server: LiveServer, http: httpx.Client) -> None:
    def ask(user: str, text: str) -> dict[str, Any]:
        reply: dict[str, Any] = http.post(f"{offline_server.url}/api/chat", json={"user": user, "text": text}).json()
        return reply

    answer = ask("U0000DEVTWO", "how many vacation days do I get per year?")
    assert answer["answered"] is True and answer["citations"] and answer["skill"] == "policy"
    escalated = ask("U0000DEVONE", "how many guests can I bring to the summer offsite?")
    assert escalated["answered"] is False and "passed your question to HR" in escalated["text"]
    # A message the router is fairly sure is not a work question, that the documents don't answer: the menu, not
    # an HR request; HR stays one click away when the documents are on its subject.
    menu = ask("U0000DEVONE", "is there a llama petting zoo at the summer offsite?")
    assert menu["answered"] is False and menu["skill"] == "out_of_scope" and "not sure" in menu["text"]
    form = ask("U0000DEVTHR", "vacation from the 3rd to the 5th of next month")
    assert form["answered"] is False and form["skill"] == "leave"


TRACE = """Traceback (most recent call last):
  File "/srv/app/report.py", line 42, in build
    totals = summarise(rows)
  File "/srv/app/report.py", line 17, in summarise
    return sum(row["amount"] for row in rows)
KeyError: 'amount'"""


def test_other_languages_and_pasted_stack_traces_get_a_clear_reply(
    offline_server: LiveServer, offline_runtime: Runtime, http: httpx.Client
) -> None:
    def say(user: str, text: str) -> httpx.Response:
        return http.post(f"{offline_server.url}/api/chat", json={"user": user, "text": text})

    spanish = say("U0000DEVONE", "¿Dónde puedo encontrar el horario de la cafetería de la oficina?")
    assert spanish.status_code == 200
    assert "Spanish" in spanish.json()["text"] and "only read English" in spanish.json()["text"]
    japanese = say("U0000DEVONE", "会社の駐車場はどこですか")
    assert japanese.status_code == 200 and "only read English" in japanese.json()["text"]
    # A bare stack trace is something that broke: IT gets it as a ticket, and the employee is told so.
    trace = say("U0000DEVTWO", TRACE)
    assert trace.status_code == 200
    body = trace.json()
    assert body["skill"] == "it" and body["text"]
    with offline_runtime.database.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Escalation)) == 0
