"""Console pages as a person reads them (issue 19): refusals as pages, the IT and HR queues' clocks and ages,
the IT assign control and the insights tiles; over real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import insights
from bot.console import charts
from bot.db import utcnow
from bot.directory import get_by_slack_id
from bot.escalations import create_escalation
from bot.insight_measures import Durations
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


NONE = Durations(count=0, median_seconds=None, p90_seconds=None)


def figures_with(
    *,
    deflection: insights.Deflection | None = None,
    tickets: insights.ResponseTimes | None = None,
    sla: insights.SlaShare | None = None,
    leave_pending: int = 0,
) -> charts.Figures:
    quiet = insights.ResponseTimes(opened=0, first_response=NONE, resolution=NONE, awaiting_response=0, unresolved=0)
    no_sla = insights.SlaShare(met=0, breached=0, pending=0, share_met=None)
    return charts.Figures(
        messages=insights.MessagesPerDay(days=(), series=(), total=0),
        deflection=deflection
        or insights.Deflection(questions=0, deflected=0, followed_up=0, pending=0, window_days=7, rate=None),
        feedback=insights.FeedbackSummary(up=0, down=0, share_positive=None),
        tickets=tickets or quiet,
        escalations=quiet,
        sla=insights.SlaCompliance(response=no_sla, resolution=sla or no_sla),
        leave=insights.ApprovalTimes(
            submitted=leave_pending, approved=0, declined=0, pending=leave_pending, time_to_decision=NONE
        ),
        expenses=insights.ApprovalTimes(submitted=0, approved=0, declined=0, pending=0, time_to_decision=NONE),
    )


def test_insight_tiles_say_no_data_only_when_there_is_none() -> None:
    empty = {tile.id: tile for tile in charts.tiles(figures_with())}
    assert all(tile.value == "no data" for tile in empty.values()), empty
    waiting = charts.tiles(
        figures_with(
            deflection=insights.Deflection(
                questions=4, deflected=0, followed_up=0, pending=4, window_days=7, rate=None
            ),
            tickets=insights.ResponseTimes(
                opened=3, first_response=NONE, resolution=NONE, awaiting_response=3, unresolved=3
            ),
            sla=insights.SlaShare(met=0, breached=0, pending=3, share_met=None),
            leave_pending=2,
        )
    )
    shown = {tile.id: tile for tile in waiting}
    for name in ("deflection", "tickets-response", "tickets-resolution", "sla", "leave"):
        assert shown[name].value == "pending", shown[name]
        assert "no data" not in shown[name].text, shown[name]
    assert shown["tickets-response"].text == "ticket first response, median, 3 awaiting one"
    assert shown["leave"].text == "leave time to approval, median, 2 awaiting a decision"
    assert shown["feedback"].value == "no data"  # no votes at all


def test_charts_draw_without_the_toolbar_over_their_titles_and_title_pending_figures_as_pending() -> None:
    figures = figures_with(
        deflection=insights.Deflection(questions=4, deflected=0, followed_up=0, pending=4, window_days=7, rate=None),
        sla=insights.SlaShare(met=0, breached=0, pending=3, share_met=None),
    )
    drawn = json.loads(charts.chart_json(figures))
    assert {name: chart["config"]["displayModeBar"] for name, chart in drawn.items()} == dict.fromkeys(drawn, False)
    titles = {name: chart["layout"]["title"]["text"] for name, chart in drawn.items()}
    assert titles["deflection"] == "Questions: deflection pending (within 7 days)"
    assert titles["feedback"] == "Answer feedback: no votes yet"
    assert titles["sla"] == "Ticket SLA met: response no data, resolution pending"  # no response figures at all
    script = (Path(charts.__file__).parent / "static" / "charts.js").read_text(encoding="utf-8")
    assert "figure.config" in script


def test_the_insights_page_shows_a_waiting_hr_question_as_pending(server: LiveServer, runtime: Runtime) -> None:
    with runtime.database.session_scope() as db:
        asker = get_by_slack_id(db, "U0000DEVTWO")
        assert asker is not None
        create_escalation(db, employee=asker, conversation=None, question="may I?", sources=[])
    with browser(server.url) as client:
        sign_in(client, "U0000HRLEAD")
        page = client.get("/console/insights").text
    tile = page.split('id="escalations-response"', 1)[1].split("</div>", 1)[0]
    assert "<b>pending</b>" in tile and "1 awaiting one" in tile and "no data" not in tile
    assert '"displayModeBar": false' in page
