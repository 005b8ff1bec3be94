"""IT help end to end on real SQLite and PostgreSQL: answer first, tickets from problem reports, security
incidents, triage over signed Slack HTTP (claim, assign, resolve, card edited in place), thread relay both
ways, ratings, SLA alerts with an injected clock, and the authenticated ticket API."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from bot.models import AuditEntry, Employee, OutboxItem
from bot.runtime import Runtime
from bot.tokens import create_token
from skills.it.config import load_it_config
from skills.it.models import Ticket
from skills.it.sla import check_slas
from tests.chat import block_element, click, say
from tests.conftest import LiveServer
from tests.slack_payloads import block_actions, message_event, post_event, post_interaction, view_submission
from tests.slack_standin import SlackStandIn

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # a Monday
IT_CHANNEL = "C0ITTRIAGE"


def tickets(runtime: Runtime) -> list[Ticket]:
    with runtime.database.session_scope() as session:
        query = select(Ticket).options(selectinload(Ticket.requester), selectinload(Ticket.assignee))
        return list(session.scalars(query.order_by(Ticket.id)))


def test_how_to_is_answered_first_with_a_ticket_button(runtime: Runtime) -> None:
    runtime.assistant.clock = lambda: NOW
    reply = say(runtime, "U0000DEVONE", "How do I set up the VPN on my mac?")
    assert reply.skill == "it" and "Larkspur Connect" in reply.text
    assert reply.citations and "VPN" in reply.citations[0].title
    assert [b.action_id for b in reply.buttons] == ["it:open_ticket"]
    assert tickets(runtime) == []
    opened = click(runtime, "U0000DEVONE", "it:open_ticket", reply.buttons[0].value)
    assert "I've opened a ticket" in opened.text
    assert [t.requester.slack_id for t in tickets(runtime)] == ["U0000DEVONE"]


def test_problem_report_opens_a_ticket_and_a_repeat_is_linked(runtime: Runtime) -> None:
    runtime.assistant.clock = lambda: NOW
    reply = say(runtime, "U0000DEVTWO", "my laptop won't turn on, I can't work")
    assert "I've opened a ticket" in reply.text and "Hardware" in reply.text
    again = say(runtime, "U0000DEVTWO", "my laptop still won't turn on")
    assert "added it there" in again.text
    (ticket,) = tickets(runtime)
    assert ticket.category == "hardware" and ticket.status == "new" and "still won't turn on" in ticket.description
    with runtime.database.session_scope() as session:
        card = session.scalars(select(OutboxItem).where(OutboxItem.channel == "web:it")).one()
        assert card.update_key == f"it:{ticket.id}:triage" and "Claim" in str(card.payload)


def test_security_incident_is_p1_with_first_steps_and_a_mention(runtime: Runtime) -> None:
    runtime.assistant.clock = lambda: NOW
    reply = say(runtime, "U0000DEVTHR", "I clicked a link in a phishing email and typed my password")
    (ticket,) = tickets(runtime)
    assert (ticket.category, ticket.priority, ticket.security) == ("security", "P1", True)
    assert "Do this now" in reply.text and "Change your password from another device" in reply.text
    assert [c.heading for c in reply.citations] == [
        "First steps › Phishing",
        "First steps › Possible password compromise",
    ]
    with runtime.database.session_scope() as session:
        card = session.scalars(select(OutboxItem).where(OutboxItem.channel == "web:it")).one()
        assert card.text.startswith(runtime.settings.security_mention) and "SECURITY" in card.text


def test_triage_over_slack_claim_assign_resolve_and_relay(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    runtime.settings.it_channel = IT_CHANNEL
    runtime.assistant.clock = lambda: NOW
    report = message_event("U0000DEVONE", "outlook keeps crashing when I open attachments", "D0SOFIA001", "im")
    assert post_event(http, server.url, report).status_code == 200
    card = slack.wait_for_post(lambda c: c.params["channel"] == IT_CHANNEL)
    ticket_id = block_element(card, "it:claim")["value"]
    mine = slack.wait_for_post(lambda c: c.params["channel"] == "D0SOFIA001")  # the requester's card, in her thread
    assert mine.params["thread_ts"] == report["event"]["ts"] and "opened a ticket" in mine.params["text"]

    # A non-IT employee cannot claim; a forged ticket id changes nothing.
    post_interaction(http, server.url, block_actions("U0000DEVTWO", "it:claim", ticket_id, IT_CHANNEL, "1.1"))
    assert "Only IT" in slack.wait_for("chat.postEphemeral")[0].params["text"]
    post_interaction(http, server.url, block_actions("U0000ITDESK", "it:claim", "999999", IT_CHANNEL, "1.1"))
    assert "couldn't find" in slack.wait_for("chat.postEphemeral", 2)[1].params["text"]

    # IT claims: row, triage card (chat.update in the IT channel) and the requester's thread all change.
    post_interaction(http, server.url, block_actions("U0000ITDESK", "it:claim", ticket_id, IT_CHANNEL, "1.1"))
    told = slack.wait_for_post(lambda c: "is on your ticket" in c.params["text"])
    assert told.params["channel"] == "D0SOFIA001" and told.params["thread_ts"] == report["event"]["ts"]
    updated = slack.wait_for("chat.update")
    assert any(u.params["channel"] == IT_CHANNEL and "Lukas Brandt" in u.params["text"] for u in updated)
    with runtime.database.session_scope() as session:
        ticket = session.get_one(Ticket, int(ticket_id))
        assert ticket.status == "in_progress" and ticket.assignee is not None
        assert ticket.assignee.slack_id == "U0000ITDESK" and ticket.first_response_at is not None

    # Assign through the user select: its value travels in the action_id.
    select_id = block_element(card, "it:assign")["action_id"]
    assign = block_actions("U0000ITLEAD", select_id, "", IT_CHANNEL, "1.1")
    assign["actions"][0] = {"action_id": select_id, "type": "users_select", "selected_user": "U0000ITLEAD"}
    post_interaction(http, server.url, assign)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and tickets(runtime)[0].assignee.slack_id != "U0000ITLEAD":  # type: ignore[union-attr]  # assigned above
        time.sleep(0.05)
    assert tickets(runtime)[0].assignee.slack_id == "U0000ITLEAD"  # type: ignore[union-attr]  # assigned above

    # IT replies in the ticket's thread in the IT channel → the requester's thread.
    card_message_ts = _stored_ts(runtime, f"it:{ticket_id}:triage")
    reply_it = message_event("U0000ITLEAD", "Which Outlook version is it?", IT_CHANNEL, "channel", card_message_ts)
    post_event(http, server.url, reply_it)
    relayed = slack.wait_for_post(lambda c: "Which Outlook version" in c.params["text"])
    assert relayed.params["channel"] == "D0SOFIA001" and relayed.params["thread_ts"] == report["event"]["ts"]
    # The requester answers in her thread → IT's thread.
    answer = message_event("U0000DEVONE", "Version 16.80", "D0SOFIA001", "im", report["event"]["ts"])
    post_event(http, server.url, answer)
    back = slack.wait_for_post(lambda c: "Version 16.80" in c.params["text"])
    assert back.params["channel"] == IT_CHANNEL and back.params["thread_ts"] == card_message_ts

    # Resolve with a note (modal) → requester asked to confirm and rate.
    post_interaction(http, server.url, block_actions("U0000ITLEAD", "it:resolve", ticket_id, IT_CHANNEL, "1.1"))
    modal = slack.wait_for("views.open")[0].params["view"]
    assert modal["callback_id"] == "it:resolve_submit"
    post_interaction(
        http,
        server.url,
        view_submission("U0000ITLEAD", "it:resolve_submit", ticket_id, {"note": "Repaired the add-in"}),
    )
    asked = slack.wait_for_post(lambda c: "resolved ticket" in c.params["text"])
    assert asked.params["channel"] == "D0SOFIA001" and "5★" in str(asked.params["blocks"])
    rate = block_actions("U0000DEVONE", "it:rate", f"{ticket_id}:5", "D0SOFIA001", "1.3")
    post_interaction(http, server.url, rate)
    confirm = block_actions("U0000DEVONE", "it:confirm", ticket_id, "D0SOFIA001", "1.3")
    post_interaction(http, server.url, confirm)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and tickets(runtime)[0].status != "closed":
        time.sleep(0.05)
    (ticket,) = tickets(runtime)
    assert (ticket.status, ticket.rating, ticket.resolution_note) == ("closed", 5, "Repaired the add-in")


def _stored_ts(runtime: Runtime, update_key: str) -> str:
    from bot.models import ChatMessage

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with runtime.database.session_scope() as session:
            row = session.scalar(select(ChatMessage).where(ChatMessage.update_key == update_key))
            if row is not None and row.slack_ts:
                return row.slack_ts
        time.sleep(0.05)
    raise AssertionError(f"no delivered card {update_key}")


@pytest.mark.calendar
def test_sla_warns_at_75_percent_and_escalates_once_without_waiting_time(runtime: Runtime) -> None:
    runtime.assistant.clock = lambda: NOW
    config = load_it_config()
    say(runtime, "U0000DEVTWO", "the shared drive is very slow for the whole team")
    (ticket,) = tickets(runtime)
    assert ticket.priority == "P2"  # 60 min to respond, 8 h to resolve
    click(runtime, "U0000ITDESK", "it:claim", str(ticket.id))  # responded at once

    def run(minutes: float) -> list[str]:
        with runtime.database.session_scope() as session:
            before = {i.id for i in session.scalars(select(OutboxItem))}
            check_slas(
                session,
                config=config,
                now=NOW + timedelta(minutes=minutes),
                it_destination="web:it",
                mention="@it-leads",
            )
            return [i.text for i in session.scalars(select(OutboxItem)) if i.id not in before]

    assert run(5 * 60) == []
    # Two hours waiting on the requester do not count.
    runtime.assistant.clock = lambda: NOW + timedelta(hours=5)
    click(runtime, "U0000ITDESK", "it:waiting", str(ticket.id))
    runtime.assistant.clock = lambda: NOW + timedelta(hours=7)
    click(runtime, "U0000ITDESK", "it:progress", str(ticket.id))
    assert run(7 * 60) == []  # 5 h on the clock, not 7
    assert run(8 * 60 - 5) == []  # 5 h 55 min on the clock: just below 75 % of 8 h
    warned = run(8 * 60 + 5)  # 6 h 5 min on the clock
    assert len(warned) == 1 and "75%" in warned[0]
    assert run(9 * 60) == []  # warned once only
    breached = run(10 * 60 + 1)  # 8 h 1 min on the clock
    assert len(breached) == 1 and "breached" in breached[0] and breached[0].startswith("@it-leads")
    assert run(20 * 60) == []
    with runtime.database.session_scope() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity == "ticket", AuditEntry.action.like("sla_%"))
        ).all()
    assert sorted(actions) == ["sla_resolution_breach", "sla_resolution_warn"]


def test_ticket_api_needs_a_token_and_shows_only_what_the_caller_may_see(runtime: Runtime, http: httpx.Client) -> None:
    runtime.assistant.clock = lambda: NOW
    say(runtime, "U0000DEVONE", "my monitor flickers all the time")
    say(runtime, "U0000DEVTWO", "excel crashes when I open the budget file, can't work")
    with runtime.database.session_scope() as session:
        people = {e.slack_id: e for e in session.scalars(select(Employee))}
        it_token = create_token(session, employee=people["U0000ITDESK"], name="console")
        sofia_token = create_token(session, employee=people["U0000DEVONE"], name="sofia")
        stored = session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity == "api_token"))
    assert stored == 2
    with LiveServer(runtime) as live:
        url = f"{live.url}/api/tickets"
        assert http.get(url).status_code == 401
        assert http.get(url, headers={"Authorization": "Bearer bo_forged"}).status_code == 401
        everything = http.get(url, headers={"Authorization": f"Bearer {it_token}"}).json()
        assert everything["count"] == 2
        own = http.get(url, headers={"Authorization": f"Bearer {sofia_token}"}).json()
        assert [t["requester"] for t in own["tickets"]] == ["U0000DEVONE"]
        software = http.get(url, params={"category": "software"}, headers={"Authorization": f"Bearer {it_token}"})
        assert [t["requester"] for t in software.json()["tickets"]] == ["U0000DEVTWO"]
        bad = http.get(url, params={"status": "lost"}, headers={"Authorization": f"Bearer {it_token}"})
        assert bad.status_code == 422


def test_bad_input_changes_nothing(runtime: Runtime) -> None:
    runtime.assistant.clock = lambda: NOW
    say(runtime, "U0000DEVONE", "my keyboard is missing keys")
    (ticket,) = tickets(runtime)
    refused = click(runtime, "U0000DEVTWO", "it:resolve_submit", str(ticket.id), {"note": "done"})
    assert "Only IT" in refused.text
    empty = click(runtime, "U0000ITDESK", "it:resolve_submit", str(ticket.id), {"note": "  "})
    assert "say what fixed it" in empty.text
    forged = click(runtime, "U0000ITDESK", "it:priority", f"{ticket.id}:P0")
    assert "not a priority" in forged.text
    assert [(t.status, t.priority) for t in tickets(runtime)] == [(ticket.status, ticket.priority)]
    blank = say(runtime, "U0000DEVONE", "   ")
    assert blank.ephemeral and len(tickets(runtime)) == 1


def test_every_ticket_change_queues_a_webhook_event_when_configured(runtime: Runtime) -> None:
    from bot.models import WebhookDelivery

    runtime.assistant.clock = lambda: NOW
    say(runtime, "U0000DEVONE", "my docking station doesn't charge my laptop")
    runtime.settings.webhook_url = "http://127.0.0.1:9/bridge"
    say(runtime, "U0000DEVTWO", "teams crashes on start")
    (_, ticket) = tickets(runtime)
    click(runtime, "U0000ITDESK", "it:claim", str(ticket.id))
    with runtime.database.session_scope() as session:
        events = [(d.event, d.entity_id) for d in session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))]
    # Only the ticket made after configuring the webhook has events; claiming moves it and assigns it.
    assert events == [
        ("ticket.created", ticket.id),
        ("ticket.in_progress", ticket.id),
        ("ticket.assigned", ticket.id),
    ]


def test_five_reports_of_one_outage_make_one_incident_and_everyone_hears_once(runtime: Runtime) -> None:
    from skills.it.models import Incident

    reports = {
        "U0000DEVONE": "wifi in conference room B is down",
        "U0000DEVTWO": "the wifi in room B isn't working",
        "U0000DEVTHR": "conference room B wifi dead, nobody can connect",
        "U0000SALONE": "wi-fi down in conf room b",
        "U0000FINANC": "no wifi in meeting room B at all",
    }
    for minute, (user, text) in enumerate(reports.items()):

        def clock(minute: int = minute) -> datetime:
            return NOW + timedelta(minutes=minute)

        runtime.assistant.clock = clock
        reply = say(runtime, user, text)
        assert "I've opened a ticket" in reply.text
    say(runtime, "U0000HRPART", "my laptop fan is very loud")  # unrelated: stays out of the incident
    say(runtime, "U0000SALTWO", "wifi on floor 4 is slow")  # the same kind of fault elsewhere: stays out too
    with runtime.database.session_scope() as session:
        incident = session.scalars(select(Incident)).one()
        members = session.scalars(select(Ticket).where(Ticket.incident_id == incident.id)).all()
        assert sorted(t.requester.slack_id for t in members) == sorted(reports)
        card = session.scalars(
            select(OutboxItem).where(OutboxItem.update_key == f"it:incident:{incident.id}").order_by(OutboxItem.id)
        ).all()[-1]
        assert "5 reports" in card.text

    refused = click(runtime, "U0000DEVONE", "it:incident_resolve_submit", str(incident.id), {"note": "fixed"})
    assert "Only IT" in refused.text
    form = click(runtime, "U0000ITDESK", "it:incident_resolve", str(incident.id))
    assert form.modal is not None and form.modal.private_metadata == str(incident.id)
    done = click(
        runtime, "U0000ITDESK", "it:incident_resolve_submit", str(incident.id), {"note": "Access point replaced"}
    )
    assert "5 people told" in done.text
    again = click(runtime, "U0000ITDESK", "it:incident_resolve_submit", str(incident.id), {"note": "again"})
    assert "already resolved" in again.text
    with runtime.database.session_scope() as session:
        for user in reports:
            told = session.scalars(
                select(OutboxItem).where(OutboxItem.channel == f"web:{user}", OutboxItem.text.like("%is fixed%"))
            ).all()
            assert len(told) == 1, user
        statuses = {t.requester.slack_id: t.status for t in session.scalars(select(Ticket))}
    assert all(statuses[u] == "resolved" for u in reports) and statuses["U0000HRPART"] == "new"


def test_screenshot_error_text_is_read_into_the_ticket_and_bad_files_change_nothing(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client, tesseract: None
) -> None:
    from tests.integrations.test_files_ocr import encoded, error_dialog, normalised

    runtime.assistant.clock = lambda: NOW
    shot = slack.add_file("F0SHOT0001", encoded(error_dialog(), "PNG"), "error.png", "image/png")
    report = message_event("U0000DEVONE", "outlook shows this error", "D0SOFIA001", "im", files=[shot])
    report["event"]["subtype"] = "file_share"
    assert post_event(http, server.url, report).status_code == 200
    slack.wait_for_post(lambda c: c.params["channel"] == "D0SOFIA001")
    (ticket,) = tickets(runtime)
    assert "0x80070005 access is denied" in normalised(ticket.ocr_text or "")
    assert "From the screenshot" in ticket.description and slack.calls_to("files.download")

    huge = slack.add_file(
        "F0HUGE0001", b"\x89PNG\r\n\x1a\n" + b"0" * 100, "big.png", "image/png", declared_size=20_000_000
    )
    fake = slack.add_file("F0FAKE0001", b"just some text, not a picture", "screenshot.png", "image/png")
    for number, bad in enumerate((huge, fake)):
        event = message_event("U0000DEVTWO", "my screen shows an error", "D0JAMAL001", "im", files=[bad])
        event["event"]["subtype"] = "file_share"
        post_event(http, server.url, event)
        refusal = slack.wait_for("chat.postEphemeral", number + 1)[number]
        assert "Nothing was opened" in refusal.params["text"]
    assert "20.0 MB" in slack.calls_to("chat.postEphemeral")[0].params["text"]
    assert "isn't an image" in slack.calls_to("chat.postEphemeral")[1].params["text"]
    assert len(tickets(runtime)) == 1


def test_requester_corrects_the_ticket_and_asks_for_an_update(runtime: Runtime) -> None:
    runtime.assistant.clock = lambda: NOW
    say(runtime, "U0000DEVTHR", "the printer on floor 3 jams on every page")
    (ticket,) = tickets(runtime)
    form = click(runtime, "U0000DEVTHR", "it:edit", str(ticket.id))
    assert form.modal is not None and {f.name: f.initial for f in form.modal.fields}["priority"] == ticket.priority
    saved = click(
        runtime,
        "U0000DEVTHR",
        "it:edit_submit",
        str(ticket.id),
        {"category": "hardware", "priority": "P2", "detail": "Client contracts must print today"},
    )
    assert "Updated ticket" in saved.text
    stranger = click(runtime, "U0000DEVONE", "it:edit_submit", str(ticket.id), {"category": "other", "priority": "P4"})
    assert "Only IT or the person who reported it" in stranger.text
    (ticket,) = tickets(runtime)
    assert ticket.priority == "P2" and "Client contracts" in ticket.description
    status = say(runtime, "U0000DEVTHR", "any update on my ticket?")
    assert f"#{ticket.id}" in status.text and "*New*" in status.text
    with runtime.database.session_scope() as session:
        changes = session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity == "ticket", AuditEntry.entity_id == ticket.id)
        ).all()
    assert "priority_changed" in changes
