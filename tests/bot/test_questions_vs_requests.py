"""Questions told from requests: a question on leave, expenses or IT is answered from the documents with the
skill's action offered (never a form or a ticket); a personal question goes to the skill's records; a request
with its details goes to the skill's flow. Over HTTP on the embedded default (the sample SOPs)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.messages import Message
from bot.models import ChatMessage, Escalation, Expense, LeaveRequest
from bot.router import (
    DOCUMENTS_FIRST,
    PERSONAL,
    POLICY,
    QUESTION,
    REQUEST,
    Route,
    error_output,
    read_act,
    records_skill,
    spelled_out,
)
from bot.runtime import Runtime
from knowledge.answer import Answer
from skills.it.models import Ticket
from skills.policy.skill import looked_up_off_topic
from tests.conftest import LiveServer


@pytest.mark.parametrize(
    ("text", "act"),
    [
        ("do I get time off if a family member dies?", QUESTION),
        ("is home internet reimbursed?", QUESTION),
        ("what are the rules for receipts?", QUESTION),
        ("how do I add a printer?", QUESTION),
        ("can I carry over vacation?", QUESTION),
        ("who do I tell about a name change", QUESTION),
        ("do I have to keep receipts for my claims?", QUESTION),
        ("how many vacation days do I have left", PERSONAL),
        ("how much leave will I have by June", PERSONAL),
        ("has my expense claim been approved?", PERSONAL),
        ("what's the status of my laptop ticket?", PERSONAL),
        ("Has my new laptop shipped yet?", PERSONAL),
        ("Did my manager approve my leave request for next Friday yet?", PERSONAL),
        ("When is my parental leave scheduled to end?", PERSONAL),
        ("did HR approve the new remote policy?", QUESTION),
        # asking for information, though worded as a request
        ("can you tell me how to submit a receipt", QUESTION),
        ("walk me through setting up the vpn on a mac", QUESTION),
        ("I need to know the deadline for expense claims", QUESTION),
        ("i dont know how to request leave", QUESTION),
        # my own case, listed or looked up
        ("did my manager sign off on my friday off", PERSONAL),
        ("wheres my reimbursement for the conference", PERSONAL),
        ("is my helpdesk ticket still open", PERSONAL),
        ("list my pending expense claims", PERSONAL),
        ("have i used all my floating holidays", PERSONAL),
        # worded about my own things, but asking how the rules or the process go
        ("who should I contact about my missing reimbursement", QUESTION),
        ("what happens to my unused comp time when I leave", QUESTION),
        ("do my vacation balances carry over when I change teams", QUESTION),
        ("how soon should I expect to hear back about my tuition request", QUESTION),
        ("if I quit in May is my leave balance paid out", QUESTION),
        ("how many vacation days do I have left if I take Friday off", PERSONAL),
        ("is there any way you could reset my password", REQUEST),
        ("why wont my laptop turn on", REQUEST),
        ("can I take Friday off?", REQUEST),
        ("vacation Dec 22 to Jan 2", REQUEST),
        ("I spent $45.20 on a taxi yesterday", REQUEST),
        ("can you reset my password", REQUEST),
        ("my laptop won't turn on", REQUEST),
        ("I need a new monitor", REQUEST),
        ("the vpn keeps disconnecting", REQUEST),
        # the details of a case, then a question about it
        ("My anniversary is next week. When does the higher accrual start?", QUESTION),
        ("Got my booster yesterday and feel awful. Is there leave besides sick leave for that?", QUESTION),
        ("is next Friday a public holiday?", QUESTION),
        ("would it be ok to take monday off?", REQUEST),
        ("I'll be out next Friday, is that ok?", REQUEST),
        ("Taxi $45 yesterday, how do I claim it?", REQUEST),
        ("I'm moving desks next week, can IT move my monitor?", REQUEST),
        # a question about using work things is not a fault report; chat spellings are questions too
        ("is it fine to stream films on my work laptop in the evening?", QUESTION),
        ("the printer on floor 2 is broken", REQUEST),
        ("wat is the screen lock timeout supposed to be", QUESTION),
        # a lead-in before the question, and asking for a day "soon"
        ("wait do i need a doctors note for that", QUESTION),
        ("oh and how do I reset my password", QUESTION),
        ("could I take a day off sometime soon?", REQUEST),
        # a day and only a question mark asks for that day; chat shorthand is read as the words it stands for
        ("day off next thu?", REQUEST),
        ("ooo on the 3rd", REQUEST),
        ("am I allowed to take the 3rd off", REQUEST),
        ("is it fine to work half a day tmrw or is it whole days only", QUESTION),
        ("is it ok to leave early tomorrow or do I need to book a half day", QUESTION),
        # my own records: what is still waiting, what was recorded, my count, when I am back
        ("has my sick leave from monday been recorded yet", PERSONAL),
        ("how much am I still owed for expenses", PERSONAL),
        ("which of my vacation requests are waiting on my manager", PERSONAL),
        ("what's my vacation day count", PERSONAL),
        ("when do I come back from leave", PERSONAL),
        ("does caring for my sick parent count as sick leave?", QUESTION),
    ],
)
def test_read_act(text: str, act: str) -> None:
    assert read_act(text) == act


def test_chat_shorthand_is_spelled_out_as_whole_words_only() -> None:
    assert spelled_out("ooo tmrw, pls approve") == "out of office tomorrow, please approve"
    assert spelled_out("my U2F key and the Toolbox app") == "my U2F key and the Toolbox app"


def test_records_skill_names_whose_records_answer() -> None:
    assert records_skill("has my IT ticket been closed") == "it"
    assert records_skill("is my claim paid") == "expense"
    assert records_skill("is it approved yet? my leave request") == "leave"  # "it" is a word, not IT
    assert records_skill("how are you") is None


def count(runtime: Runtime, model: type) -> int:
    with runtime.database.session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_questions_on_a_skills_topic_are_answered_with_its_action_offered(
    offline_runtime: Runtime, offline_server: LiveServer, http: httpx.Client
) -> None:
    def ask(user: str, text: str) -> dict[str, Any]:
        reply: dict[str, Any] = http.post(f"{offline_server.url}/api/chat", json={"user": user, "text": text}).json()
        return reply

    leave = ask("U0000DEVONE", "can I carry over unused vacation days into next year?")
    assert leave["answered"] is True and leave["citations"]
    assert "leave:open_form" in [b["action_id"] for b in leave["buttons"]]
    claim = ask("U0000DEVTWO", "what is the hotel limit per night?")
    assert claim["answered"] is True and claim["citations"]
    how_to = ask("U0000DEVTHR", "how do I set up the VPN on my mac?")
    assert how_to["answered"] is True and [b["action_id"] for b in how_to["buttons"]] == ["it:open_ticket"]
    # Each message is stored with why it went where it went.
    with offline_runtime.database.session_scope() as session:
        stored = select(ChatMessage.text, ChatMessage.route).where(ChatMessage.direction == "in")
        routes = {text: route for text, route in session.execute(stored).tuples() if route is not None}
    assert "act question" in routes["can I carry over unused vacation days into next year?"]
    assert "topic it" in routes["how do I set up the VPN on my mac?"]
    # Nothing was started on anyone's behalf: no leave request, claim or ticket.
    assert (count(offline_runtime, LeaveRequest), count(offline_runtime, Expense), count(offline_runtime, Ticket)) == (
        0,
        0,
        0,
    )


def test_a_question_about_my_own_leave_or_spending_is_answered_from_my_records(
    offline_server: LiveServer, http: httpx.Client
) -> None:
    def ask(text: str) -> dict[str, Any]:
        reply: dict[str, Any] = http.post(
            f"{offline_server.url}/api/chat", json={"user": "U0000DEVTHR", "text": text}
        ).json()
        return reply

    # Not the handbook's rules on parental leave: this person's own requests (none yet).
    ending = ask("when does my parental leave finish?")
    assert ending["skill"] == "leave" and ending["answered"] is False
    assert "leave requests of yours" in ending["text"]
    spent = ask("how much of my training budget have I spent so far this year?")
    assert spent["skill"] == "expense" and spent["answered"] is False


def test_a_question_no_skill_fits_is_looked_up_before_the_menu_and_never_sent_to_hr(
    offline_runtime: Runtime, offline_server: LiveServer, http: httpx.Client
) -> None:
    def ask(text: str) -> dict[str, Any]:
        reply: dict[str, Any] = http.post(
            f"{offline_server.url}/api/chat", json={"user": "U0000DEVTWO", "text": text}
        ).json()
        return reply

    weather = ask("what's the weather like in Lisbon tomorrow?")
    assert weather["skill"] == "out_of_scope" and weather["answered"] is False
    assert count(offline_runtime, Escalation) == 0


def test_start_a_claim_asks_for_the_details_and_the_next_message_is_the_claim(
    offline_server: LiveServer, http: httpx.Client
) -> None:
    url = offline_server.url
    prompt = http.post(
        f"{url}/api/action", json={"user": "U0000DEVONE", "action_id": "expense:start", "value": ""}
    ).json()
    assert "what you spent" in prompt["text"]
    card = http.post(
        f"{url}/api/chat", json={"user": "U0000DEVONE", "text": "28 EUR train to Bologna yesterday"}
    ).json()
    assert card["skill"] == "expense" and "28.00 EUR" in card["text"]


def _looked_up(act: str, off_topic: float, *, confident: bool, score: float) -> bool:
    route = Route(POLICY, 0.9, DOCUMENTS_FIRST, act=act, off_topic=off_topic)
    return looked_up_off_topic(route, Answer(text="", citations=[], confident=confident, score=score, hits=[]))


def test_what_the_documents_return_is_weighed_against_how_surely_no_skill_fits() -> None:
    # A question the documents don't answer: HR when it may be a work question, the menu when surely not.
    assert not _looked_up(QUESTION, 0.3, confident=False, score=0.45)
    assert _looked_up(QUESTION, 0.8, confident=False, score=0.45)
    assert _looked_up(QUESTION, 0.3, confident=False, score=0.2)  # the documents are not even on its subject
    # Answered: kept, unless the router is sure it is off topic and the answer is weak.
    assert not _looked_up(QUESTION, 0.8, confident=True, score=0.55)
    assert _looked_up(QUESTION, 0.95, confident=True, score=0.55)
    assert not _looked_up(QUESTION, 0.95, confident=True, score=0.7)
    # Not a question ("cancel my table for eight"): answered only when the router doubts it is off topic.
    assert not _looked_up(REQUEST, 0.3, confident=True, score=0.55)
    assert _looked_up(REQUEST, 0.6, confident=True, score=0.7)
    assert _looked_up(REQUEST, 0.3, confident=False, score=0.45)
    # Only the documents-first path is weighed this way.
    topic = Route(POLICY, 0.9, "question", act=QUESTION, topic="leave", off_topic=0.99)
    assert not looked_up_off_topic(topic, Answer(text="", citations=[], confident=False, score=0.1, hits=[]))


def test_a_pasted_stack_trace_is_error_output_a_mention_of_an_error_is_not() -> None:
    java = (
        'Exception in thread "main" java.lang.NullPointerException: name is null\n'
        "    at com.acme.payroll.Export.run(Export.java:88)\n"
        "    at com.acme.payroll.Main.main(Main.java:12)"
    )
    python = 'Traceback (most recent call last):\n  File "sync.py", line 3, in <module>\nValueError: bad date'
    assert error_output(java) and error_output(python)
    assert not error_output("I get KeyError: 'amount' when I export my expenses, what does that mean?")
    assert not error_output("how do I file an expense claim?")


def test_being_ill_and_away_is_a_sick_day_to_record_whatever_the_classifier_says(offline_runtime: Runtime) -> None:
    router = offline_runtime.assistant.router
    for text in ("migraine, not coming in", "fever, staying home today", "my dad died last night"):
        route = router.route(Message(user_id="U0000DEVONE", text=text, channel="web:U0000DEVONE", platform="web"))
        assert route.skill == "leave", (text, route)
    # A question about it is still a question.
    question = "do I need a doctor's note if I have a fever and stay home?"
    route = router.route(Message(user_id="U0000DEVONE", text=question, channel="web:U0000DEVONE", platform="web"))
    assert route.skill == "policy"
