"""Clicks that arrive when they should change nothing, over signed Slack HTTP on real SQLite and PostgreSQL
(issue 17, point 5): a `leave:cancel` for leave already taken (an old card, or a crafted payload) gives no days
back, and an IT *Claim* pressed again (at the same moment, or after it landed) claims once: one audit row, one
note to the requester."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import time_machine
from sqlalchemy import select

from bot.models import AuditEntry, LeaveLedgerEntry, LeaveRequest
from bot.runtime import Runtime
from skills.it.models import Ticket
from skills.leave import ledger
from tests.chat import button, click, say
from tests.conftest import LiveServer
from tests.slack_payloads import block_actions, message_event, post_event, post_interaction
from tests.slack_standin import SlackStandIn

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # a Monday
IT_CHANNEL = "C0ITTRIAGE"


@pytest.fixture(autouse=True)
def machine_clock_at_now() -> Iterator[None]:
    with time_machine.travel(NOW, tick=True):
        yield


def at(runtime: Runtime, moment: datetime) -> None:
    runtime.assistant.clock = lambda: moment
    with runtime.database.session_scope() as session:
        ledger.run_due_bookings(session, policy=runtime.leave_policy, today=moment.date())


def approved_vacation(runtime: Runtime, text: str) -> int:
    card = say(runtime, "U0000DEVTHR", text)
    request_id = button(card, "leave:confirm")
    click(runtime, "U0000DEVTHR", "leave:confirm", request_id)
    click(runtime, "U0000ENGMGR", "leave:approve", request_id)
    return int(request_id)


def ledger_kinds(runtime: Runtime, request_id: int) -> list[str]:
    with runtime.database.session_scope() as session:
        rows = session.scalars(select(LeaveLedgerEntry).where(LeaveLedgerEntry.request_id == request_id))
        return sorted(r.kind for r in rows)


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_cancelling_leave_already_taken_gives_no_days_back(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    at(runtime, NOW)
    taken = approved_vacation(runtime, "vacation Nov 24 to Nov 26")
    upcoming = approved_vacation(runtime, "vacation Dec 14 to Dec 15")
    assert ledger_kinds(runtime, taken) == ["usage"]

    # Friday: the leave of Tue–Thu is over. The card's old "Cancel this leave" button (or a crafted click) is
    # refused, privately, and the days stay taken.
    at(runtime, NOW + timedelta(days=4))
    post_interaction(http, server.url, block_actions("U0000DEVTHR", "leave:cancel", str(taken), "D0MEI00001", "1.1"))
    refusal = slack.wait_for("chat.postEphemeral")[0]
    assert "already started" in refusal.params["text"] and refusal.params["user"] == "U0000DEVTHR"
    assert ledger_kinds(runtime, taken) == ["usage"]
    with runtime.database.session_scope() as session:
        assert session.get_one(LeaveRequest, taken).status == "approved"
        cancelled = session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "leave_request", AuditEntry.action == "cancelled")
        ).all()
        assert cancelled == []

    # Leave that has not started is still cancelled, days back; "cancel my leave" offers only that one.
    options = say(runtime, "U0000DEVTHR", "cancel my vacation")
    assert f"#{upcoming}" in options.text and f"#{taken}" not in options.text
    post_interaction(http, server.url, block_actions("U0000DEVTHR", "leave:cancel", str(upcoming), "D0MEI00001", "1.2"))
    wait_until(lambda: ledger_kinds(runtime, upcoming) == ["reversal", "usage"])

    # People Ops may still correct leave cut short (they cancel it for the person).
    post_interaction(http, server.url, block_actions("U0000HRPART", "leave:cancel", str(taken), "D0TOMAS001", "1.3"))
    wait_until(lambda: ledger_kinds(runtime, taken) == ["reversal", "usage"])


def test_it_claim_pressed_again_claims_once(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    runtime.settings.it_channel = IT_CHANNEL
    at(runtime, NOW)
    report = message_event("U0000DEVONE", "my laptop won't turn on, I can't work", "D0SOFIA001", "im")
    assert post_event(http, server.url, report).status_code == 200
    slack.wait_for_post(lambda c: c.params["channel"] == IT_CHANNEL)
    with runtime.database.session_scope() as session:
        ticket_id = session.scalars(select(Ticket.id)).one()

    # A double click on a slow connection: two identical clicks at once, then a third after the first landed.
    claim = block_actions("U0000ITDESK", "it:claim", str(ticket_id), IT_CHANNEL, "1.1")
    threads = [threading.Thread(target=post_interaction, args=(httpx.Client(), server.url, claim)) for _ in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    slack.wait_for("chat.postEphemeral", 2)
    post_interaction(http, server.url, claim)
    notes = [c.params["text"] for c in slack.wait_for("chat.postEphemeral", 3)]
    assert sum("You have ticket" in n for n in notes) == 1, notes
    assert sum("You already have ticket" in n for n in notes) == 2, notes

    with runtime.database.session_scope() as session:
        ticket = session.get_one(Ticket, ticket_id)
        assert ticket.assignee is not None and ticket.assignee.slack_id == "U0000ITDESK"
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity == "ticket", AuditEntry.entity_id == ticket_id)
        ).all()
    assert actions.count("assigned") == 1 and actions.count("in_progress") == 1, actions
    time.sleep(0.5)  # anything sent late by a second claim would show now
    told = [c for c in slack.calls_to("chat.postMessage") if "is on your ticket" in c.params["text"]]
    assert len(told) == 1
