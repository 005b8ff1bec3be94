"""The console's list pages read as the item pages do (issue 19): home, team, finance, IT, HR, the directory and the
audit log show policy labels, days in words, money with its currency first, statuses in words and times in the
viewer's zone, never an ISO date or a stored state; signed in over real HTTP as the people whose pages they are."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from bot.console.items import day_count, day_range, moment
from bot.date_words import fmt_day
from bot.escalations import create_escalation
from bot.models import AuditEntry, LeaveRequest
from bot.runtime import Runtime
from skills.expenses import service as expenses
from skills.expenses.service import Draft
from skills.it import service as tickets
from skills.it.models import Incident, Ticket
from skills.leave import requests as leave_requests
from skills.leave.proposals import Proposal
from tests.bot.test_console import browser, sign_in
from tests.bot.test_console_items import (
    DANIEL,
    HR_LEAD,
    IT_DESK,
    JAMAL,
    SOFIA,
    SUBMITTED,
    open_ticket,
    person,
    visible,
)
from tests.chat import working_days_ahead
from tests.conftest import LiveServer

FINANCE, ADMIN = "U0000FINANC", "U0000ADMIN1"
SPENT_ON = date(2026, 12, 4)  # a Friday
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# A stored state or key (in_progress, manager_approved, phone_internet), a bare "pending", a whole number with ".0".
RAW = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b|\b[Pp]ending\b|\b\d+\.0\b(?!\d)")


def shown(page: str) -> str:
    """What a person reads: the words of the page and the tips its titles show on hover."""
    return visible(page) + " " + " ".join(re.findall(r'title="([^"]*)"', page.split("<main>", 1)[1]))


def assert_plain(page: str) -> str:
    words = shown(page)
    assert not ISO_DAY.search(words), ISO_DAY.search(words)
    assert not RAW.search(words), RAW.search(words)
    return words


def row(page: str, row_id: str) -> str:
    found = re.search(rf'<(tr|article)[^>]* id="{row_id}">(.*?)</(tr|article)>', page, re.S)
    assert found, (row_id, page[:3000])
    return visible("<main>" + found.group(2))


def make_items(runtime: Runtime) -> dict[str, int]:
    """Jamal's five days of vacation and MYR 42.20 lunch waiting for Daniel, Sofia's flight waiting for finance,
    Jamal's ticket that Lukas took, a network incident and Sofia's question for HR."""
    start, end = working_days_ahead(5)
    leave_policy, expense_policy = runtime.leave_policy, runtime.expense_policy
    ids: dict[str, int] = {}
    with runtime.database.session_scope() as db:
        jamal, sofia, daniel = person(db, JAMAL), person(db, SOFIA), person(db, DANIEL)
        proposal = Proposal(leave_type="vacation", start=start, end=end)
        assessment = leave_requests.assess(db, policy=leave_policy, employee=jamal, proposal=proposal, today=start)
        leave = leave_requests.create_draft(
            db,
            employee=jamal,
            assessment=assessment,
            platform="web",
            channel=f"web:{JAMAL}",
            thread_ts=None,
            conversation_id=None,
        )
        leave_requests.transition(db, leave, "pending", actor=jamal, now=SUBMITTED, policy=leave_policy)
        leave_requests.assign_approver(db, leave, daniel, None)
        ids["leave"] = leave.id
        for key, owner, draft in (
            ("lunch", jamal, Draft(Decimal("42.20"), "MYR", SPENT_ON, "meals", merchant="Nasi Lemak House")),
            ("flight", sofia, Draft(Decimal("1450.00"), "EUR", SPENT_ON, "travel", merchant="Lufthansa")),
        ):
            claim = expenses.create_draft(
                db,
                policy=expense_policy,
                employee=owner,
                draft=draft,
                flags=[],
                platform="web",
                channel=f"web:{owner.slack_id}",
                thread_ts=None,
                conversation_id=None,
            )
            expenses.transition(db, claim, "submitted", actor=owner, now=SUBMITTED, policy=expense_policy)
            claim.approver_id = daniel.id
            db.flush()
            if key == "flight":  # over the finance threshold: Daniel's approval sends it on to finance
                expenses.approve(db, claim, actor=daniel, now=SUBMITTED, policy=expense_policy)
                assert claim.status == "manager_approved"
            ids[key] = claim.id
        outage = Incident(title="Wi-Fi down on floor 2", category="network", status="open", created_at=SUBMITTED)
        db.add(outage)
        escalation = create_escalation(
            db, employee=sofia, conversation=None, question="Can I work from Lisbon in May?", sources=[]
        )
        escalation.created_at = SUBMITTED
        db.flush()
        ids["incident"], ids["escalation"] = outage.id, escalation.id
    ids["ticket"] = open_ticket(runtime)
    with runtime.database.session_scope() as db:
        lukas = person(db, IT_DESK)
        ticket = db.get_one(Ticket, ids["ticket"])
        tickets.assign(db, ticket, lukas, actor=lukas, now=SUBMITTED)
        assert ticket.status == "in_progress"
    return ids


def test_the_words_the_lists_use() -> None:
    assert day_range(date(2027, 1, 11), date(2027, 1, 15)) == "Mon 11 – Fri 15 Jan 2027"
    assert day_range(date(2027, 1, 29), date(2027, 2, 2)) == "Fri 29 Jan – Tue 2 Feb 2027"
    assert day_range(date(2026, 12, 31), date(2027, 1, 4)) == "Thu 31 Dec 2026 – Mon 4 Jan 2027"
    assert day_range(date(2027, 1, 11), date(2027, 1, 11), "am") == "Mon 11 Jan 2027 (morning)"
    assert day_range(date(2027, 1, 11), date(2027, 1, 12), "pm") == "Mon 11 Jan (afternoon) – Tue 12 Jan 2027"
    assert [day_count(Decimal(d)) for d in ("5.0", "1", "0.5", "2.5", "10.00")] == [
        "5 days",
        "1 day",
        "½ day",
        "2.5 days",
        "10 days",
    ]


def test_every_list_page_reads_as_words_for_the_person_whose_page_it_is(server: LiveServer, runtime: Runtime) -> None:
    ids = make_items(runtime)
    with runtime.database.session_scope() as db:
        leave = db.get_one(LeaveRequest, ids["leave"])
        start, dates = leave.start_date, day_range(leave.start_date, leave.end_date)
        sent_at = db.scalars(
            select(AuditEntry.at).where(AuditEntry.entity == "leave_request", AuditEntry.action == "pending")
        ).one()
    assert "–" in dates and str(start.year) in dates

    with browser(server.url) as client:  # Jamal's home: his own requests
        sign_in(client, JAMAL)
        page = client.get("/console").text
        assert_plain(page)
        mine = visible(page)
        for words in (
            f"Leave request #{ids['leave']} Vacation, {dates} Waiting for approval",
            f"Ticket #{ids['ticket']} Laptop fan grinding In progress",
            f"Expense claim #{ids['lunch']} MYR 42.20, Nasi Lemak House Waiting for the manager's approval",
        ):
            assert words in mine, (words, mine)
        assert '<span class="status pending">Waiting for approval</span>' in page
        assert '<span class="status in_progress">In progress</span>' in page

    with browser(server.url) as client:  # Daniel's team page: what waits for him
        sign_in(client, DANIEL)
        page = client.get("/console/team").text
        assert_plain(page)
        assert f"{ids['leave']} Jamal Carter Vacation {dates} 5 days" in row(page, f"leave-{ids['leave']}")
        lunch = row(page, f"expense-{ids['lunch']}")
        assert f"{ids['lunch']} Jamal Carter MYR 42.20 Fri 4 Dec 2026 Nasi Lemak House Meals" in lunch, lunch
        assert 'name="approve"' in page  # the buttons are where they were

    with browser(server.url) as client:  # Amara's finance page: the flight Daniel sent on
        sign_in(client, FINANCE)
        page = client.get("/console/finance").text
        assert_plain(page)
        flight = row(page, f"expense-{ids['flight']}")
        for words in ("Sofia Rossi", "Fri 4 Dec 2026", "EUR 1,450.00", "USD 1,566.00", "Lufthansa", "Travel"):
            assert words in flight, (words, flight)
        assert '<span class="status manager_approved">Approved by the manager, waiting for finance</span>' in page

    with browser(server.url) as client:  # Lukas's IT queue, in Berlin time
        sign_in(client, IT_DESK)
        page = client.get("/console/it").text
        words = assert_plain(page)
        ticket = row(page, f"ticket-{ids['ticket']}")
        assert "Laptop fan grinding Jamal Carter Hardware In progress Lukas Brandt" in ticket, ticket
        assert "Wi-Fi down on floor 2 Network 0 Tue 8 Dec 2026, 23:05" in row(page, f"incident-{ids['incident']}")
        assert '<option value="in_progress" >In progress</option>' in page
        assert "Waiting on requester" in words

    with browser(server.url) as client:  # Priya's HR page, in New York time
        sign_in(client, HR_LEAD)
        page = client.get("/console/hr").text
        words = assert_plain(page)
        card = page.split(f'id="escalation-{ids["escalation"]}"', 1)[1].split("</article>", 1)[0]
        assert '<span class="status open">Waiting for HR</span>' in card
        assert 'title="asked Tue 8 Dec 2026, 17:05"' in card
        assert "Last ingested" in words and "Everyone" in words

    with browser(server.url) as client:  # Morgan's directory and audit log, in New York time
        sign_in(client, ADMIN)
        directory = client.get("/console/admin").text
        assert_plain(re.sub(r"<form.*?</form>", "", directory, flags=re.S))  # the import form names the CSV columns
        page = client.get("/console/audit", params={"entity": "leave_request"}).text
        words = assert_plain(page)
        link = f'<a href="/console/items/leave/{ids["leave"]}">Leave request #{ids["leave"]}</a>'
        assert link in page
        sent = f"{moment(sent_at, 'America/New_York')} Jamal Carter Leave request #{ids['leave']} Status changed"
        assert f"{sent} Draft, not sent yet → Waiting for approval" in words, words
        assert f"Leave type: Vacation; Start: {fmt_day(start)}" in words and "Days: 5 days" in words
        claims = assert_plain(client.get("/console/audit", params={"entity": "expense"}).text)
        assert "Waiting for the manager's approval → Approved by the manager, waiting for finance" in claims
        assert "Amount: MYR 42.20" in claims and "Amount: EUR 1,450.00" in claims
        tickets_shown = assert_plain(client.get("/console/audit", params={"entity": "ticket"}).text)
        assert "Requester: Jamal Carter" in tickets_shown and "To: Lukas Brandt" in tickets_shown
