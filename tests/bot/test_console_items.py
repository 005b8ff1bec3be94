"""Each item's console page as a person reads it (issue 19): labels, names, times in the viewer's zone, status and
history in words, and exactly the actions the viewer may take there, which the server still refuses to anyone
else; over real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.directory import get_by_slack_id
from bot.escalations import create_escalation
from bot.models import Employee, Escalation, LeaveRequest
from bot.runtime import Runtime
from skills.it import service as tickets
from skills.it.models import Ticket
from skills.it.service import create_ticket
from skills.leave import requests as leave_requests
from skills.leave.proposals import Proposal
from tests.bot.test_console import CSRF, browser, csrf_of, sign_in
from tests.chat import working_days_ahead
from tests.conftest import LiveServer

JAMAL, DANIEL, SOFIA = "U0000DEVTWO", "U0000ENGMGR", "U0000DEVONE"  # Jamal and Sofia report to Daniel
IT_DESK, HR_LEAD = "U0000ITDESK", "U0000HRLEAD"
SUBMITTED = datetime(2026, 12, 8, 22, 5, tzinfo=UTC)  # 14:05 in Los Angeles, where Daniel is
# Column names and moments as the database holds them: none belongs on a page a person reads.
RAW = re.compile(
    r"\b(\w+_id|\w+_at|start_date|end_date|leave_type|in_progress|manager_approved|thread_ts|revision)\b"
    r"|\d{4}-\d\d-\d\d[T ]\d\d:\d\d"
)


def person(db: Session, slack_id: str) -> Employee:
    found = get_by_slack_id(db, slack_id)
    assert found is not None
    return found


def visible(page: str) -> str:
    """The words a person sees: the page without its tags (so not the forms' hidden fields)."""
    body = page.split("<main>", 1)[1]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def token(page: str) -> str:
    """The page's CSRF token, as its forms send it."""
    found = CSRF.search(page)
    assert found, page[:500]
    return found.group(1)


def buttons(page: str) -> set[str]:
    return set(re.findall(r'<button type="submit"[^>]* name="(\w+)"', page))


def pending_leave(runtime: Runtime) -> tuple[int, date, date]:
    start, end = working_days_ahead(3)
    policy = runtime.leave_policy
    with runtime.database.session_scope() as db:
        jamal, daniel = person(db, JAMAL), person(db, DANIEL)
        proposal = Proposal(leave_type="vacation", start=start, end=end)
        assessment = leave_requests.assess(db, policy=policy, employee=jamal, proposal=proposal, today=date.today())
        request = leave_requests.create_draft(
            db,
            employee=jamal,
            assessment=assessment,
            platform="web",
            channel=f"web:{JAMAL}",
            thread_ts=None,
            conversation_id=None,
        )
        leave_requests.transition(db, request, "pending", actor=jamal, now=SUBMITTED, policy=policy)
        leave_requests.assign_approver(db, request, daniel, None)
        return request.id, start, end


def test_a_leave_request_reads_as_words_with_the_approvers_actions_only_for_the_approver(
    server: LiveServer, runtime: Runtime
) -> None:
    request_id, start, end = pending_leave(runtime)
    path = f"/console/items/leave/{request_id}"
    with browser(server.url) as client:
        sign_in(client, DANIEL)
        page = client.get(path).text
        words = visible(page)
        for shown in (
            f"Leave request #{request_id}",
            "Waiting for approval",
            "Requested by Jamal Carter",
            "Type Vacation",
            f"Dates {leave_requests.fmt_range(start, end)}",
            "Working days 3",
            "Approver Daniel Kim",
            "Sent for approval Tue 8 Dec 2026, 14:05",  # in Daniel's time zone
            "Sent for approval by Jamal Carter",
        ):
            assert shown in words, (shown, words)
        assert not RAW.search(words), RAW.search(words)
        assert buttons(page) == {"approve", "deny"}
        approved = client.post(
            f"/console/leave/{request_id}/approve",
            data={"csrf": csrf_of(client.get(path)), "to": path, "revision": "1"},
        )
        assert approved.status_code == 303 and approved.headers["location"] == path
        after = client.get(path).text
        assert "Approved by Daniel Kim" in visible(after)
        assert '<span class="status approved">Approved</span>' in after
        assert buttons(after) & {"approve", "deny"} == set()
    with runtime.database.session_scope() as db:
        assert db.get_one(LeaveRequest, request_id).status == "approved"


def test_a_leave_request_shows_its_owner_only_their_own_actions_and_a_forced_approval_is_refused(
    server: LiveServer, runtime: Runtime
) -> None:
    request_id, _start, _end = pending_leave(runtime)
    path = f"/console/items/leave/{request_id}"
    with browser(server.url) as client:
        sign_in(client, JAMAL)
        page = client.get(path).text
        assert buttons(page) == {"withdraw"}
        forced = client.post(f"/console/leave/{request_id}/approve", data={"csrf": token(page), "to": path})
        assert forced.status_code == 303
        assert "Nobody approves their own leave." in client.get(path).text  # the refusal, shown once
    with browser(server.url) as client:
        sign_in(client, SOFIA)  # a colleague: not hers to see, nor to decide
        refused = client.get(path, headers={"Accept": "text/html"})
        assert refused.status_code == 403 and "not yours to see" in refused.text
        forced = client.post(f"/console/leave/{request_id}/approve", data={"csrf": csrf_of(client.get("/console"))})
        assert forced.status_code == 303
    with runtime.database.session_scope() as db:
        assert db.get_one(LeaveRequest, request_id).status == "pending"


def open_ticket(runtime: Runtime) -> int:
    with runtime.database.session_scope() as db:
        ticket = create_ticket(
            db,
            requester=person(db, JAMAL),
            title="Laptop fan grinding",
            description="The fan grinds loudly all day",
            category="hardware",
            priority="P3",
            security=False,
            platform="web",
            channel=f"web:{JAMAL}",
            thread_ts=None,
            conversation_id=None,
            now=SUBMITTED,
        )
        return ticket.id


def test_a_ticket_page_gives_it_its_actions_and_the_requester_none(server: LiveServer, runtime: Runtime) -> None:
    ticket_id = open_ticket(runtime)
    path = f"/console/items/ticket/{ticket_id}"
    with browser(server.url) as client:
        sign_in(client, JAMAL)
        page = client.get(path).text
        words = visible(page)
        assert "Reported by Jamal Carter" in words and "Assigned to Nobody yet" in words
        assert "Reported Tue 8 Dec 2026, 14:05" in words and "Opened by Jamal Carter" in words
        assert not RAW.search(words), RAW.search(words)
        assert buttons(page) == set() and "Nothing for you to do on this now." in words
        forced = client.post(f"/console/it/tickets/{ticket_id}/claim", data={"csrf": token(page), "to": path})
        assert forced.status_code == 403
    with browser(server.url) as client:
        sign_in(client, IT_DESK)
        page = client.get(path).text
        assert buttons(page) == {"claim", "assign", "progress", "waiting", "resolve"}
        assert "Reported Tue 8 Dec 2026, 23:05" in visible(page)  # Lukas is in Berlin
        claimed = client.post(f"/console/it/tickets/{ticket_id}/claim", data={"csrf": token(page), "to": path})
        assert claimed.status_code == 303 and claimed.headers["location"] == path
        after = visible(client.get(path).text)
        assert "Assigned to Lukas Brandt by Lukas Brandt" in after and "In progress" in after
        assert "Assigned to Lukas Brandt" in after
    with runtime.database.session_scope() as db:
        ticket = db.get_one(Ticket, ticket_id)
        assert ticket.status == "in_progress" and ticket.assignee is not None
        assert ticket.assignee.slack_id == IT_DESK


def test_a_resolved_ticket_lets_its_requester_confirm_or_reopen_it_and_nobody_else(
    server: LiveServer, runtime: Runtime
) -> None:
    ticket_id = open_ticket(runtime)
    with runtime.database.session_scope() as db:
        lukas = person(db, IT_DESK)
        ticket = db.get_one(Ticket, ticket_id)
        tickets.assign(db, ticket, lukas, actor=lukas, now=SUBMITTED)
        tickets.transition(db, ticket, "resolved", actor=lukas, now=SUBMITTED, note="Cleaned the fan")
    path = f"/console/items/ticket/{ticket_id}"
    with browser(server.url) as client:
        sign_in(client, SOFIA)  # not her ticket: the skill refuses her click as it would on Slack
        forced = client.post(
            f"/console/tickets/{ticket_id}/confirm", data={"csrf": csrf_of(client.get("/console")), "to": path}
        )
        assert forced.status_code == 303
    with runtime.database.session_scope() as db:
        assert db.get_one(Ticket, ticket_id).status == "resolved"
    with browser(server.url) as client:
        sign_in(client, JAMAL)
        page = client.get(path).text
        assert buttons(page) == {"confirm", "reopen"}
        assert "What fixed it Cleaned the fan" in visible(page) and "Resolved by Lukas Brandt" in visible(page)
        reopened = client.post(f"/console/tickets/{ticket_id}/reopen", data={"csrf": token(page), "to": path})
        assert reopened.status_code == 303 and reopened.headers["location"] == path
        after = client.get(path).text
        assert "Reopened by Jamal Carter" in visible(after) and buttons(after) == set()
    with runtime.database.session_scope() as db:
        assert db.get_one(Ticket, ticket_id).status == "in_progress"


def test_a_question_for_hr_gives_hr_the_answer_form_and_the_asker_only_the_page(
    server: LiveServer, runtime: Runtime
) -> None:
    with runtime.database.session_scope() as db:
        escalation = create_escalation(
            db, employee=person(db, SOFIA), conversation=None, question="Can I work from Lisbon in May?", sources=[]
        )
        escalation.created_at = utcnow()
        escalation_id = escalation.id
    path = f"/console/items/escalation/{escalation_id}"
    with browser(server.url) as client:
        sign_in(client, SOFIA)
        page = client.get(path).text
        words = visible(page)
        assert "Asked by Sofia Rossi" in words and "Waiting for HR" in words and "Sent to HR by Sofia Rossi" in words
        assert not RAW.search(words), RAW.search(words)
        assert buttons(page) == set()
        forced = client.post(
            f"/console/hr/escalations/{escalation_id}/answer",
            data={"csrf": token(page), "answer": "Yes.", "to": path},
        )
        assert forced.status_code == 403
    with browser(server.url) as client:
        sign_in(client, JAMAL)
        assert client.get(path).status_code == 403
    with browser(server.url) as client:
        sign_in(client, HR_LEAD)
        page = client.get(path).text
        assert buttons(page) == {"answer", "resolve"}
        answer = "Yes, for up to four weeks: tell your manager first."
        sent = client.post(
            f"/console/hr/escalations/{escalation_id}/answer",
            data={"csrf": token(page), "answer": answer, "to": path},
        )
        assert sent.status_code == 303 and sent.headers["location"] == path
        after = visible(client.get(path).text)
        assert "Answered by Priya Natarajan" in after and answer in after
    with runtime.database.session_scope() as db:
        assert db.get_one(Escalation, escalation_id).status == "answered"


@pytest.mark.parametrize("to", ["https://evil.example/", "/console/items/leave/1/../../admin", "//evil.example"])
def test_a_form_sends_back_only_to_a_console_page(server: LiveServer, runtime: Runtime, to: str) -> None:
    request_id, _start, _end = pending_leave(runtime)
    with browser(server.url) as client:
        sign_in(client, DANIEL)
        token = csrf_of(client.get("/console"))
        response = client.post(f"/console/leave/{request_id}/approve", data={"csrf": token, "to": to})
        assert response.status_code == 422
    with runtime.database.session_scope() as db:
        assert db.get_one(LeaveRequest, request_id).status == "pending"


def test_an_unknown_kind_of_item_is_not_found(server: LiveServer) -> None:
    with browser(server.url) as client:
        sign_in(client, DANIEL)
        assert client.get("/console/items/payslip/1").status_code == 404
