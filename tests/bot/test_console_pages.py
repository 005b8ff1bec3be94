"""Console pages as a person reads them (issue 19): refusals as pages, the IT and HR queues' clocks and ages,
the IT assign control and the insights tiles; over real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.db import utcnow
from bot.directory import get_by_slack_id
from bot.escalations import create_escalation
from bot.runtime import Runtime
from skills.it.models import Ticket
from skills.it.service import create_ticket
from skills.it.sla import check_slas
from tests.bot.test_console import browser, csrf_of, sign_in
from tests.conftest import LiveServer

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.mark.parametrize(
    ("path", "audience"),
    [
        ("/console/hr", "HR"),
        ("/console/it", "IT"),
        ("/console/finance", "finance"),
        ("/console/team", "managers"),
        ("/console/admin", "admins"),
    ],
)
def test_a_refused_browser_gets_a_page_saying_who_it_is_for_and_where_to_go(
    server: LiveServer, path: str, audience: str
) -> None:
    with browser(server.url) as client:
        sign_in(client, "U0000DEVTWO")  # an employee, no staff role
        response = client.get(path, headers=BROWSER)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert f"This page is for {audience}." in response.text
    assert "Back Office console" in response.text  # the console's own base page, with its header
    assert 'href="/console"' in response.text and 'href="/console/login"' in response.text
    assert "Jamal Carter" in response.text  # who is signed in, so the reason makes sense


def test_api_clients_keep_json_refusals(server: LiveServer) -> None:
    with browser(server.url) as client:
        sign_in(client, "U0000DEVTWO")
        response = client.get("/console/hr", headers={"Accept": "application/json"})
        assert response.status_code == 403
        assert response.json() == {"detail": "This page is for HR."}


def test_insights_refusal_is_a_page_too(server: LiveServer) -> None:
    with browser(server.url) as client:
        sign_in(client, "U0000DEVTWO")
        response = client.get("/console/insights", headers=BROWSER)
    assert response.status_code == 403 and response.headers["content-type"].startswith("text/html")
    assert "Insights are for HR, IT and admins." in response.text


def open_ticket(runtime: Runtime, priority: str, age: timedelta, responded_after: timedelta | None = None) -> int:
    now = utcnow()
    with runtime.database.session_scope() as db:
        requester = get_by_slack_id(db, "U0000DEVTWO")
        assert requester is not None
        ticket = create_ticket(
            db,
            requester=requester,
            title=f"{priority} trouble",
            description="it broke",
            category="hardware",
            priority=priority,
            security=False,
            platform="web",
            channel="web:U0000DEVTWO",
            thread_ts=None,
            conversation_id=None,
            now=now - age,
        )
        if responded_after is not None:
            ticket.first_response_at = now - age + responded_after
        return ticket.id


def row(page: str, ticket_id: int) -> str:
    found = re.search(rf'<tr id="ticket-{ticket_id}">(.*?)</tr>', page, re.S)
    assert found, page[:2000]
    return found.group(1)


def clock(row_html: str, name: str) -> tuple[str, str]:
    """The state class and the words shown in the row's `name` clock cell."""
    found = re.search(rf'class="clock-{name}"><span class="sla (\w+)"[^>]*>([^<]+)</span>', row_html)
    assert found, row_html
    return found.group(1), found.group(2)


def test_the_it_queue_shows_the_response_and_resolution_clocks_as_the_sla_watch_counts_them(
    server: LiveServer, runtime: Runtime
) -> None:
    late_p1 = open_ticket(runtime, "P1", timedelta(minutes=20))  # 15 min response target passed, 4 h not near
    near_p2 = open_ticket(runtime, "P2", timedelta(minutes=50))  # 50 of 60 min: past the 75 % warning share
    answered_p3 = open_ticket(runtime, "P3", timedelta(hours=20), responded_after=timedelta(minutes=30))
    with browser(server.url) as client:
        sign_in(client, "U0000ITDESK")
        page = client.get("/console/it").text
    assert clock(row(page, late_p1), "response") == ("breach", "breached")
    assert clock(row(page, late_p1), "resolution") == ("ok", "ok")
    assert clock(row(page, near_p2), "response") == ("warn", "warning")
    assert clock(row(page, answered_p3), "response") == ("met", "met")
    assert clock(row(page, answered_p3), "resolution") == ("warn", "warning")  # 20 of 24 h
    # The SLA watch sees the same clocks: it alerts on exactly the running ones past a share or a target.
    with runtime.database.session_scope() as db:
        check_slas(db, config=runtime.it_config, now=utcnow(), it_destination="web:it", mention="@it")
        alerts = {t.id: sorted(t.sla_alerts or []) for t in db.scalars(select(Ticket))}
    assert alerts == {late_p1: ["response:breach"], near_p2: ["response:warn"], answered_p3: ["resolution:warn"]}


def test_the_assign_control_starts_unassigned_and_an_unchosen_click_changes_nothing(
    server: LiveServer, runtime: Runtime
) -> None:
    ticket_id = open_ticket(runtime, "P3", timedelta(minutes=5))
    with browser(server.url) as client:
        sign_in(client, "U0000ITDESK")
        page = client.get("/console/it").text
        select_html = re.search(r'<select name="assignee" aria-label="Assign to">(.*?)</select>', row(page, ticket_id))
        assert select_html, page
        options = re.findall(r"<option[^>]*>[^<]*</option>", select_html.group(1))
        assert options[0] == '<option value="" selected>— unassigned —</option>'
        assert not any("selected" in option for option in options[1:])
        token = csrf_of(client.get("/console/it"))
        done = client.post(f"/console/it/tickets/{ticket_id}/assign", data={"csrf": token, "assignee": ""})
        assert done.status_code == 303
        assert f"Ticket #{ticket_id} not assigned: choose who to assign it to." in client.get("/console/it").text
    with runtime.database.session_scope() as db:
        ticket = db.get_one(Ticket, ticket_id)
        assert ticket.assignee_id is None and ticket.status == "new"


def test_the_hr_queue_shows_how_long_each_question_has_waited_oldest_first(
    server: LiveServer, runtime: Runtime
) -> None:
    now = utcnow()
    ages = {"fresh": timedelta(minutes=20), "hours": timedelta(hours=3, minutes=10), "days": timedelta(days=2, hours=1)}
    ids: dict[str, int] = {}
    with runtime.database.session_scope() as db:
        asker = get_by_slack_id(db, "U0000DEVTWO")
        assert asker is not None
        for key, age in ages.items():  # made newest first, so the ids run against the ages
            escalation = create_escalation(db, employee=asker, conversation=None, question=f"{key}?", sources=[])
            escalation.created_at = now - age
            ids[key] = escalation.id
    with browser(server.url) as client:
        sign_in(client, "U0000HRLEAD")
        page = client.get("/console/hr").text
    shown = [int(found) for found in re.findall(r'<article class="card escalation" id="escalation-(\d+)">', page)]
    assert shown == [ids["days"], ids["hours"], ids["fresh"]]
    for key, words in (("days", "waiting 2 d"), ("hours", "waiting 3 h"), ("fresh", "waiting 20 min")):
        card = page.split(f'id="escalation-{ids[key]}"', 1)[1].split("</article>", 1)[0]
        assert words in card, card
