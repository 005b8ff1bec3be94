"""The staff console over real HTTP (SQLite and PostgreSQL): sign-in (local and Slack's OpenID Connect through the
stand-in), CSRF, who may see what, and each role's main action reaching the database and Slack (the stand-in).
The same flows in a real browser are in tests/bot/test_console_browser.py."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.models import AuditEntry, Escalation, Faq, LeaveRequest
from bot.runtime import Runtime, bootstrap_samples, build_runtime
from skills.it.models import Ticket
from tests.chat import month_day, working_days_ahead
from tests.conftest import LiveServer, make_settings
from tests.slack_payloads import app_mention, block_actions, message_event, post_event, post_interaction
from tests.slack_standin import SlackStandIn

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
QUESTION = "can I bring my dog to the office on fridays?"


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text[:500]
    return found.group(1)


@contextmanager
def browser(base: str) -> Iterator[httpx.Client]:
    """A cookie jar of its own, like one person's browser; redirects are followed by hand."""
    with httpx.Client(base_url=base, timeout=30) as client:
        yield client


def sign_in(client: httpx.Client, slack_id: str) -> None:
    form = client.get("/console/login")
    assert form.status_code == 200
    done = client.post("/console/login", data={"csrf": csrf_of(form), "slack_id": slack_id})
    assert done.status_code == 303 and done.headers["location"] == "/console", done.text


def post_form(client: httpx.Client, page: str, action: str, **fields: str) -> httpx.Response:
    token = csrf_of(client.get(page))
    return client.post(action, data={"csrf": token, **fields})


def escalate(http: httpx.Client, server: LiveServer, slack: SlackStandIn, runtime: Runtime) -> int:
    ask = app_mention("U0000DEVONE", QUESTION)
    assert post_event(http, server.url, ask).status_code == 200
    slack.wait_for("chat.postMessage", 2)
    with runtime.database.session_scope() as db:
        return db.scalars(select(Escalation.id)).one()


def test_signed_out_visitors_are_sent_to_sign_in_and_forms_need_the_csrf_token(server: LiveServer) -> None:
    with browser(server.url) as client:
        assert client.get("/console").headers["location"] == "/console/login"
        assert client.get("/console/hr").status_code == 303
        page = client.get("/console/login")
        assert "Local sign-in" in page.text and "Sofia Rossi" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        # No token, a wrong token, or a token from another browser's session: refused, nobody signed in.
        assert client.post("/console/login", data={"slack_id": "U0000HRLEAD"}).status_code == 403
        assert client.post("/console/login", data={"slack_id": "U0000HRLEAD", "csrf": "x"}).status_code == 403
        with browser(server.url) as other:
            foreign = csrf_of(other.get("/console/login"))
        assert client.post("/console/login", data={"slack_id": "U0000HRLEAD", "csrf": foreign}).status_code == 403
        assert client.get("/console").status_code == 303
        assert client.post("/console/login", data={"slack_id": "U0NOBODY01", "csrf": csrf_of(page)}).status_code == 403
        sign_in(client, "U0000HRLEAD")
        home = client.get("/console")
        assert home.status_code == 200 and "Hello, Priya Natarajan" in home.text
        # Signed in, a form post still needs this session's token.
        assert client.post("/console/hr/faqs/1/publish", data={"csrf": foreign}).status_code == 403
        logout = client.post("/console/logout", data={"csrf": csrf_of(home)})
        assert logout.status_code == 303
        assert client.get("/console").status_code == 303


def test_hr_answers_an_escalation_and_publishes_the_faq_from_the_console(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    escalation_id = escalate(http, server, slack, runtime)
    with browser(server.url) as client:
        sign_in(client, "U0000HRLEAD")
        page = client.get("/console/hr")
        assert QUESTION in page.text and f"escalation-{escalation_id}" in page.text
        answer = "Yes, on Fridays, if the dog is house-trained and stays in the pet zone."
        done = post_form(client, "/console/hr", f"/console/hr/escalations/{escalation_id}/answer", answer=answer)
        assert done.status_code == 303
        page = client.get("/console/hr")
        assert "was sent to Sofia Rossi" in page.text  # the note shown once after the redirect
        told = slack.wait_for_post(lambda c: "HR answered your question" in str(c.params.get("text")))
        assert told.params["channel"] == "C0GENERAL1" and answer in told.params["text"]
        with runtime.database.session_scope() as db:
            escalation = db.get_one(Escalation, escalation_id)
            assert escalation.status == "answered" and escalation.answer == answer
            faq = db.scalars(select(Faq).where(Faq.escalation_id == escalation_id)).one()
            assert faq.status == "draft"
            faq_id = faq.id
        assert post_form(client, "/console/hr", f"/console/hr/faqs/{faq_id}/publish").status_code == 303
        assert f"FAQ #{faq_id} is published" in client.get("/console/hr").text
    with runtime.database.session_scope() as db:
        assert db.get_one(Faq, faq_id).status == "published"
        actions = db.scalars(select(AuditEntry.action).where(AuditEntry.entity.in_(("escalation", "faq")))).all()
        assert len(actions) >= 2
    hits = runtime.index.search("dog in the office on friday", k=3)
    assert any(hit.source == f"faq:{faq_id}" for hit in hits)


def test_it_claims_and_resolves_a_ticket_from_the_console(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    report = message_event("U0000DEVTWO", "my laptop won't turn on, I can't work", "D0JAMAL001", "im")
    assert post_event(http, server.url, report).status_code == 200
    slack.wait_for_post(lambda c: "opened a ticket" in str(c.params.get("text")))
    with runtime.database.session_scope() as db:
        ticket_id = db.scalars(select(Ticket.id)).one()
    with browser(server.url) as client:
        sign_in(client, "U0000ITDESK")
        page = client.get("/console/it")
        assert f"ticket-{ticket_id}" in page.text and 'class="sla ok"' in page.text
        assert client.get("/console/it?status=closed").text.count("ticket-") == 0
        assigned = post_form(client, "/console/it", f"/console/it/tickets/{ticket_id}/assign", assignee="U0000ITLEAD")
        assert assigned.status_code == 303, assigned.text
        assert "is now with Grace Okafor" in client.get("/console/it").text
        assert post_form(client, "/console/it", f"/console/it/tickets/{ticket_id}/claim").status_code == 303
        resolve = post_form(
            client, "/console/it", f"/console/it/tickets/{ticket_id}/resolve", note="Reseated the battery"
        )
        assert resolve.status_code == 303
        assert client.post(f"/console/it/tickets/{ticket_id}/delete", data={"csrf": "x"}).status_code == 403
    with runtime.database.session_scope() as db:
        ticket = db.get_one(Ticket, ticket_id)
        assert ticket.status == "resolved" and ticket.assignee is not None and ticket.assignee.slack_id == "U0000ITDESK"
        assert ticket.resolution_note == "Reseated the battery"
    slack.wait_for_post(lambda c: c.params.get("channel") == "D0JAMAL001" and "Reseated the battery" in str(c.params))


def test_manager_approves_leave_from_the_console_and_the_employee_hears_in_slack(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    start, end = working_days_ahead(5)  # a working week ahead, in the US where Jamal and Mei work
    ask = message_event(
        "U0000DEVTWO", f"PTO {month_day(start)}-{month_day(end)} for my sister's wedding", "D0JAMAL001", "im"
    )
    assert post_event(http, server.url, ask).status_code == 200
    slack.wait_for("chat.postMessage", 1)
    with runtime.database.session_scope() as db:
        request_id = db.scalars(select(LeaveRequest.id)).one()
    confirm = block_actions("U0000DEVTWO", "leave:confirm", str(request_id), "D0JAMAL001", "1.1", ask["event"]["ts"])
    assert post_interaction(http, server.url, confirm).status_code == 200
    slack.wait_for_post(
        lambda c: "approve" in str(c.params.get("blocks", "")).lower() and c.params.get("channel") != "D0JAMAL001"
    )
    with browser(server.url) as client:
        sign_in(client, "U0000DEVONE")  # a colleague, not the approver
        assert client.get("/console/team").status_code == 403
        assert client.get(f"/console/items/leave/{request_id}").status_code == 403
        refused = post_form(client, "/console", f"/console/leave/{request_id}/approve")
        assert refused.status_code == 303
        with runtime.database.session_scope() as db:
            assert db.get_one(LeaveRequest, request_id).status == "pending"
    with browser(server.url) as client:
        sign_in(client, "U0000ENGMGR")
        page = client.get("/console/team")
        assert f"leave-{request_id}" in page.text and "Jamal Carter" in page.text
        assert post_form(client, "/console/team", f"/console/leave/{request_id}/approve").status_code == 303
        item = client.get(f"/console/items/leave/{request_id}")
        assert item.status_code == 200 and "Approved by Daniel Kim" in item.text
    with runtime.database.session_scope() as db:
        assert db.get_one(LeaveRequest, request_id).status == "approved"
    slack.wait_for_post(lambda c: c.params.get("channel") == "D0JAMAL001" and "approved" in str(c.params.get("text")))


def test_employee_editing_urls_gets_403_on_other_peoples_items_and_staff_pages(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    escalation_id = escalate(http, server, slack, runtime)
    with browser(server.url) as client:
        sign_in(client, "U0000DEVTWO")
        for path in (
            "/console/hr",
            "/console/it",
            "/console/finance",
            "/console/team",
            "/console/audit",
            "/console/audit.csv",
        ):
            assert client.get(path).status_code == 403, path
        assert client.get(f"/console/items/escalation/{escalation_id}").status_code == 403
        answer = post_form(
            client, "/console", f"/console/hr/escalations/{escalation_id}/answer", answer="Sure, bring it."
        )
        assert answer.status_code == 403
    with browser(server.url) as client:
        sign_in(client, "U0000DEVONE")  # the person who asked sees their own item
        assert client.get(f"/console/items/escalation/{escalation_id}").status_code == 200
    with runtime.database.session_scope() as db:
        assert db.get_one(Escalation, escalation_id).status == "open"


def test_admin_searches_the_audit_log_and_exports_csv(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    escalation_id = escalate(http, server, slack, runtime)
    with browser(server.url) as client:
        sign_in(client, "U0000HRLEAD")
        post_form(client, "/console/hr", f"/console/hr/escalations/{escalation_id}/resolve")
    with browser(server.url) as client:
        sign_in(client, "U0000ADMIN1")
        page = client.get("/console/audit", params={"entity": "escalation", "actor": "Priya"})
        assert page.status_code == 200 and "Waiting for HR → Resolved" in page.text and "Priya Natarajan" in page.text
        assert client.get("/console/audit", params={"since": "yesterday"}).status_code == 400
        export = client.get("/console/audit.csv", params={"entity": "escalation"})
        assert export.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(export.text)))
        assert any(
            r["entity_id"] == str(escalation_id) and r["to"] == "resolved" and r["who"] == "Priya Natarajan"
            for r in rows
        )


@pytest.fixture
def oidc_runtime(tmp_path: Path, slack: SlackStandIn) -> Iterator[Runtime]:
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'oidc.db'}",
        slack,
        SLACK_CLIENT_ID=slack.oidc_client_id,
        SLACK_CLIENT_SECRET=slack.oidc_client_secret,
        SLACK_TEAM_ID="T0001",
        SLACK_AUTHORIZE_URL=slack.authorize_url,
    )
    rt = build_runtime(settings)
    bootstrap_samples(rt)
    yield rt
    rt.close()


def follow(client: httpx.Client, response: httpx.Response) -> httpx.Response:
    """Follow redirects across hosts (the console, then the stand-in's consent page, then the console)."""
    while response.status_code in (302, 303):
        response = client.get(response.headers["location"])
    return response


def test_sign_in_with_slack_openid_connect(oidc_runtime: Runtime, slack: SlackStandIn) -> None:
    with LiveServer(oidc_runtime) as server:
        oidc_runtime.settings.public_url = server.url
        with browser(server.url) as client:
            slack.oidc_user = "U0000ITLEAD"
            landed = follow(client, client.get("/console/login/slack"))
            assert landed.status_code == 200 and "Hello, Grace Okafor" in landed.text
            authorize = slack.calls_to("openid.connect.authorize")[0].params
            assert authorize["scope"] == "openid profile email" and authorize["team"] == "T0001"
        with browser(server.url) as client:
            # Slack sends the browser back with a state this browser did not start (a forged or stale link).
            start = client.get("/console/login/slack")
            params = dict(httpx.URL(start.headers["location"]).params)
            page = client.get(slack.authorize({**params, "state": "forged-state"}))
            assert "Sign-in failed" in page.text and "expired" in page.text
            assert client.get("/console").status_code == 303
        with browser(server.url) as client:
            slack.oidc_user = None  # the person cancels on Slack's page
            page = follow(client, client.get("/console/login/slack"))
            assert "Sign-in failed" in page.text and "access_denied" in page.text
        with browser(server.url) as client:
            slack.oidc_user = "U0STRANGER"  # a Slack account that is not in the directory
            page = follow(client, client.get("/console/login/slack"))
            assert "not in the back office directory" in page.text
            assert client.get("/console").status_code == 303


def test_manager_then_finance_approve_an_expense_and_finance_exports_it(server: LiveServer, runtime: Runtime) -> None:
    from datetime import UTC, datetime

    from bot.models import Expense
    from tests.chat import button, click, say

    runtime.assistant.clock = lambda: datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    big = say(runtime, "U0000DEVONE", "flight to the Lisbon offsite 1,450.00 EUR on nov 19, receipt to follow")
    expense_id = button(big, "expense:confirm")
    click(runtime, "U0000DEVONE", "expense:confirm", expense_id)
    with browser(server.url) as client:
        sign_in(client, "U0000ENGMGR")
        assert f"expense-{expense_id}" in client.get("/console/team").text
        post_form(client, "/console/team", f"/console/expenses/{expense_id}/approve")
    with browser(server.url) as client:
        sign_in(client, "U0000DEVTWO")
        assert client.get("/console/finance/export.csv").status_code == 403
    with browser(server.url) as client:
        sign_in(client, "U0000FINANC")
        page = client.get("/console/finance")
        assert f"expense-{expense_id}" in page.text and "manager_approved" in page.text
        done = post_form(client, "/console/finance", f"/console/expenses/{expense_id}/approve", to="/console/finance")
        assert done.headers["location"] == "/console/finance"
        with runtime.database.session_scope() as db:
            expense = db.get_one(Expense, int(expense_id))
            assert expense.status == "approved"
        export = client.get("/console/finance/export.csv", params={"since": "2026-11-01", "until": "2026-11-30"})
        rows = list(csv.DictReader(io.StringIO(export.text)))
        assert [r["amount"] for r in rows if r["claim_id"] == expense_id] == ["1450.00"], rows[:2]


def test_admin_imports_the_directory_and_the_new_person_signs_in(server: LiveServer, runtime: Runtime) -> None:
    header = "slack_id,name,email,tz,country,manager_slack_id,roles\n"
    good = (
        header
        + "U0NEWFIN01,Ada Lindqvist,ada.lindqvist@larkspur.example,Europe/Stockholm,SE,U0000ADMIN1,employee;finance\n"
    )
    bad = header + "U0BROKEN01,Broken Person,broken@larkspur.example,Mars/Olympus,XX,,employee\n"
    with browser(server.url) as client:
        sign_in(client, "U0000DEVONE")
        form = client.get("/console")
        refused = client.post(
            "/console/admin/directory", data={"csrf": csrf_of(form)}, files={"file": ("d.csv", good, "text/csv")}
        )
        assert refused.status_code == 403
    with browser(server.url) as client:
        sign_in(client, "U0000ADMIN1")
        token = csrf_of(client.get("/console/admin"))
        no_token = client.post("/console/admin/directory", files={"file": ("d.csv", good, "text/csv")})
        assert no_token.status_code == 403
        client.post("/console/admin/directory", data={"csrf": token}, files={"file": ("d.csv", bad, "text/csv")})
        assert "Nothing was imported" in client.get("/console/admin").text
        client.post("/console/admin/directory", data={"csrf": token}, files={"file": ("d.csv", good, "text/csv")})
        page = client.get("/console/admin")
        assert "1 created" in page.text and "Ada Lindqvist" in page.text and "Broken Person" not in page.text
    with browser(server.url) as client:
        sign_in(client, "U0NEWFIN01")
        assert client.get("/console/finance").status_code == 200


def test_insights_page_shows_the_figures_to_hr_and_it_only(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    escalate(http, server, slack, runtime)  # one policy question, followed by an HR request at once
    with browser(server.url) as client:
        sign_in(client, "U0000DEVONE")
        assert client.get("/console/insights").status_code == 403
    with browser(server.url) as client:
        sign_in(client, "U0000HRLEAD")
        page = client.get("/console/insights", params={"days": "7"})
        assert page.status_code == 200
        # The question is still inside its 7-day window, so it is pending, not counted either way.
        assert "0 of 0 questions" in page.text and "(1 still in their window)" in page.text
        assert QUESTION in page.text  # the unanswered-question clusters
        assert '<script type="application/json" id="chart-data">' in page.text
        assert client.get("/console/insights", params={"days": "5"}).status_code == 422
        script = client.get("/console/vendor/plotly.min.js")
        assert script.status_code == 200 and len(script.content) > 1_000_000
    with browser(server.url) as client:
        sign_in(client, "U0000ITDESK")
        page = client.get("/console/insights")
        assert page.status_code == 200 and "What the knowledge base is missing" not in page.text


PARKING = """---
title: Bicycle Parking
---
## Where to park your bicycle

Bicycles are parked in the basement garage on level minus two. The bicycle room opens with your badge.
"""


def test_hr_uploads_a_document_for_an_audience_changes_it_and_reingests(server: LiveServer, runtime: Runtime) -> None:
    from bot.models import KnowledgeDocument

    question = "where do I park my bicycle?"

    def cited(audiences: list[str]) -> bool:
        return any(hit.title == "Bicycle Parking" for hit in runtime.index.search(question, k=3, audiences=audiences))

    def upload(client: httpx.Client, name: str, data: bytes, audience: str) -> httpx.Response:
        token = csrf_of(client.get("/console/hr"))
        return client.post(
            "/console/hr/documents", data={"csrf": token, "audience": audience}, files={"file": (name, data)}
        )

    with browser(server.url) as client:
        sign_in(client, "U0000DEVONE")
        assert upload_refused(client)
    with browser(server.url) as client:
        sign_in(client, "U0000HRLEAD")
        upload(client, "setup.exe", b"MZ\x90\x00" + b"\x00" * 200, "everyone")
        assert "it looks like exe" in client.get("/console/hr").text
        runtime.settings.max_upload_bytes = 100
        upload(client, "parking.md", PARKING.encode(), "everyone")
        assert "That file is larger than the 0.0001 MB I can read. Nothing was added." in client.get("/console/hr").text
        runtime.settings.max_upload_bytes = 10_000_000
        assert not cited(["everyone"]) and not cited(["everyone", "hr"])

        upload(client, "Bicycle parking (2026).md", PARKING.encode(), "hr")
        page = client.get("/console/hr")
        assert "“Bicycle Parking” is in the knowledge base" in page.text and "for hr" in page.text
        assert cited(["everyone", "hr"]) and not cited(["everyone"])  # HR-only: never cited to others
        with runtime.database.session_scope() as db:
            row = db.scalars(select(KnowledgeDocument).where(KnowledgeDocument.title == "Bicycle Parking")).one()
            document_id, source = row.id, row.source
        assert source.endswith("/documents/hr/Bicycle-parking-2026.md")

        token = csrf_of(client.get("/console/hr"))
        client.post(f"/console/hr/documents/{document_id}/audience", data={"csrf": token, "audience": "everyone"})
        assert "for everyone" in client.get("/console/hr").text
        assert cited(["everyone"])
        with runtime.database.session_scope() as db:
            rows = db.scalars(select(KnowledgeDocument).where(KnowledgeDocument.title == "Bicycle Parking")).all()
            assert [r.audience for r in rows] == ["everyone"]
            new_id = rows[0].id
            sample = db.scalars(select(KnowledgeDocument).where(KnowledgeDocument.source.contains("/samples/"))).first()
            assert sample is not None
            sample_id = sample.id
        assert not Path(source).exists()

        token = csrf_of(client.get("/console/hr"))
        client.post(f"/console/hr/documents/{new_id}/reingest", data={"csrf": token})
        assert "“Bicycle Parking” is in the knowledge base" in client.get("/console/hr").text
        client.post(f"/console/hr/documents/{sample_id}/audience", data={"csrf": token, "audience": "hr"})
        assert "takes its audience from its file" in client.get("/console/hr").text
        client.post(f"/console/hr/documents/{sample_id}/reingest", data={"csrf": token})
        assert "is in the knowledge base" in client.get("/console/hr").text
    with runtime.database.session_scope() as db:
        actions = db.scalars(
            select(AuditEntry.action).where(AuditEntry.entity == "knowledge_document").order_by(AuditEntry.id)
        ).all()
    assert actions == ["upload", "audience", "reingest", "reingest"]


def upload_refused(client: httpx.Client) -> bool:
    token = csrf_of(client.get("/console"))
    response = client.post(
        "/console/hr/documents", data={"csrf": token, "audience": "everyone"}, files={"file": ("p.md", PARKING)}
    )
    return response.status_code == 403


def test_every_console_form_post_refuses_a_missing_or_foreign_csrf_token(server: LiveServer, runtime: Runtime) -> None:
    """Signed in as an admin (who may do everything), no form post under /console works without this session's
    token, and none changes anything."""
    from fastapi.routing import APIRoute

    from bot.console.routes import routers

    posts = sorted(
        route.path
        for router in routers(runtime.assistant.skills.values())
        for route in router.routes
        if isinstance(route, APIRoute) and route.methods is not None and "POST" in route.methods
    )
    assert len(posts) >= 12, posts

    def audit_rows() -> int:
        with runtime.database.session_scope() as db:
            return len(db.scalars(select(AuditEntry.id)).all())

    before = audit_rows()
    with browser(server.url) as client:
        sign_in(client, "U0000ADMIN1")
        with browser(server.url) as other:
            foreign = csrf_of(other.get("/console/login"))
        for template in posts:
            path = re.sub(r"\{(action|decision)\}", "approve", re.sub(r"\{\w+_id\}", "1", template))
            form = {"answer": "x", "note": "x", "reason": "x", "audience": "everyone", "slack_id": "U0000ADMIN1"}
            for token in (None, foreign):
                data = form if token is None else {**form, "csrf": token}
                response = client.post(path, data=data, files={"file": ("d.csv", "slack_id\n")})
                assert response.status_code == 403, (path, token, response.status_code, response.text[:200])
        assert client.get("/console").status_code == 200  # still signed in as before
    assert audit_rows() == before
