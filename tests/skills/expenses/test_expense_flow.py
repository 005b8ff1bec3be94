"""Expenses end to end on real SQLite and PostgreSQL: a sentence or a receipt becomes a checked claim card;
manager and (above the threshold) finance approve over signed Slack HTTP; double clicks change it once; the
policy audit flags and cites; bad input writes nothing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select

from bot.models import AuditEntry, Expense, OutboxItem
from bot.runtime import Runtime
from tests.chat import block_element, button, click, say
from tests.conftest import LiveServer
from tests.slack_payloads import block_actions, message_event, post_event, post_interaction
from tests.slack_standin import SlackStandIn

NOW = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # Monday


def claims(runtime: Runtime) -> list[tuple[str, Decimal, str]]:
    with runtime.database.session_scope() as session:
        return [(e.status, e.amount, e.currency) for e in session.scalars(select(Expense).order_by(Expense.id))]


def test_sentence_claim_is_checked_submitted_and_approved(runtime: Runtime) -> None:
    runtime.assistant.clock = lambda: NOW
    card = say(runtime, "U0000DEVTWO", "I spent $45.20 on a taxi to the client site yesterday")
    assert "45.20 USD" in card.text and "Sun 22 Nov 2026" in card.text and "transport" in card.text
    assert "Receipt needed" in card.text and card.citations  # over 25 USD without a receipt, cited
    expense_id = button(card, "expense:confirm")
    submitted = click(runtime, "U0000DEVTWO", "expense:confirm", expense_id)
    assert "Daniel Kim" in submitted.text
    assert "own expense" in click(runtime, "U0000DEVTWO", "expense:approve", expense_id).text
    click(runtime, "U0000ENGMGR", "expense:approve", expense_id)
    assert claims(runtime) == [("approved", Decimal("45.20"), "USD")]
    again = click(runtime, "U0000ENGMGR", "expense:approve", expense_id)
    assert "already" in again.text
    paid = click(runtime, "U0000FINANC", "expense:reimbursed", expense_id)
    assert "reimbursed" in paid.text and claims(runtime)[0][0] == "reimbursed"
    status = say(runtime, "U0000DEVTWO", "did my expense get approved?")
    assert f"#{expense_id}" in status.text and "Reimbursed" in status.text


def test_over_the_threshold_needs_finance_and_an_over_limit_meal_cites_the_policy(runtime: Runtime) -> None:
    runtime.assistant.clock = lambda: NOW
    meal = say(runtime, "U0000DEVONE", "team lunch 386.50 EUR on nov 20, 4 people")
    assert "per person" in meal.text and any("meals" in c.heading.lower() for c in meal.citations), meal.citations
    big = say(runtime, "U0000DEVONE", "flight to the Lisbon offsite 1,450.00 EUR on nov 19, receipt to follow")
    expense_id = button(big, "expense:confirm")
    click(runtime, "U0000DEVONE", "expense:confirm", expense_id)
    click(runtime, "U0000ENGMGR", "expense:approve", expense_id)
    assert claims(runtime)[-1][0] == "manager_approved"
    assert "waiting for finance" in click(runtime, "U0000ENGMGR", "expense:reimbursed", expense_id).text
    assert "waits for finance" in click(runtime, "U0000ENGMGR", "expense:approve", expense_id).text
    click(runtime, "U0000FINANC", "expense:approve", expense_id)
    assert claims(runtime)[-1][0] == "approved"
    assert "Only finance" in click(runtime, "U0000ENGMGR", "expense:reimbursed", expense_id).text
    with runtime.database.session_scope() as session:
        told = session.scalars(select(OutboxItem).where(OutboxItem.channel == "web:U0000DEVONE")).all()
        steps = [i.text for i in told if "claim #" in i.text.lower() and "approved" in i.text]
        assert any("finance approves it next" in t for t in steps) and any("will be reimbursed" in t for t in steps)


def test_same_amount_date_and_merchant_is_flagged(runtime: Runtime) -> None:
    runtime.assistant.clock = lambda: NOW
    first = say(runtime, "U0000DEVTHR", "$18.40 lunch at Joe's Diner on friday")
    click(runtime, "U0000DEVTHR", "expense:confirm", button(first, "expense:confirm"))
    second = say(runtime, "U0000DEVTHR", "$18.40 lunch at Joe's Diner on friday")
    assert "Possible duplicate of claim" in second.text


def test_bad_input_gets_a_clear_answer_and_writes_nothing(runtime: Runtime) -> None:
    runtime.assistant.clock = lambda: NOW
    for text in ("spent a lot on lunch", "-20 dollars taxi yesterday", "50 zorkmids for a cab yesterday"):
        reply = say(runtime, "U0000DEVTWO", text)
        assert "Nothing was saved" in reply.text, (text, reply.text)
    assert claims(runtime) == []
    with runtime.database.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity == "expense")) == 0


def test_receipt_file_over_slack_to_finance_approval_with_racing_clicks(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client, tesseract: None
) -> None:
    import io

    from tests.skills.expenses.test_receipts import render_receipt

    runtime.assistant.clock = lambda: NOW
    runtime.settings.finance_channel = "C0FINANCE1"
    lines = [
        ("GREEN LEAF BISTRO", ""),
        ("12 HARBOUR ROAD, BOSTON MA", ""),
        ("DATE: 20/11/2026 TIME: 13:05", ""),
        ("TASTING MENU 4 x 295.00", "1,180.00"),
        ("TOTAL", "1,180.00"),
        ("VISA", "1,180.00"),
    ]
    buffer = io.BytesIO()
    render_receipt(lines).save(buffer, "PNG")
    shot = slack.add_file("F0RCPT0001", buffer.getvalue(), "receipt.png", "image/png")
    event = message_event("U0000DEVONE", "client lunch, 4 people", "D0SOFIA001", "im", files=[shot])
    event["event"]["subtype"] = "file_share"
    assert post_event(http, server.url, event).status_code == 200
    card = slack.wait_for_post(lambda c: c.params["channel"] == "D0SOFIA001" and "claim #" in c.params["text"])
    assert "1,180.00" in card.params["text"] and "Receipt: attached" in card.params["text"]
    assert slack.calls_to("files.download")
    expense_id = block_element(card, "expense:confirm")["value"]
    post_interaction(http, server.url, block_actions("U0000DEVONE", "expense:confirm", expense_id, "D0SOFIA001", "1.1"))
    slack.wait_for_post(lambda c: c.params["channel"] == "U0000ENGMGR")

    def race(user: str, channel: str) -> None:
        payload = block_actions(user, "expense:approve", expense_id, channel, "1.2")
        threads = [threading.Thread(target=post_interaction, args=(httpx.Client(), server.url, payload)) for _ in "ab"]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    race("U0000ENGMGR", "D0000ENGMGR")
    slack.wait_for_post(lambda c: c.params["channel"] == "C0FINANCE1")
    race("U0000FINANC", "C0FINANCE1")
    told = slack.wait_for_post(lambda c: "will be reimbursed" in c.params["text"])
    assert told.params["channel"] == "D0SOFIA001" and told.params["thread_ts"] == event["event"]["ts"]
    with runtime.database.session_scope() as session:
        steps = session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity == "expense").order_by(AuditEntry.id)
        ).all()
    assert steps == ["drafted", "submitted", "manager_approved", "approved"]

    # The same receipt sent again is flagged as a duplicate, not silently accepted.
    again = message_event("U0000DEVONE", "client lunch, 4 people", "D0SOFIA001", "im", files=[shot])
    again["event"]["subtype"] = "file_share"
    post_event(http, server.url, again)
    second = slack.wait_for_post(lambda c: c.params.get("thread_ts") == again["event"]["ts"])
    assert f"Possible duplicate of claim #{expense_id}" in second.params["text"]


def test_export_round_trips_and_the_api_shows_each_role_what_it_may_see(runtime: Runtime, http: httpx.Client) -> None:
    import csv
    import io
    from datetime import date

    from bot.models import Employee
    from bot.tokens import create_token
    from skills.expenses.export import export_csv

    runtime.assistant.clock = lambda: NOW
    texts = {
        "U0000DEVONE": "taxi 23,40 € on nov 19",
        "U0000DEVTWO": "$12.35 coffee with a client on nov 18",
        "U0000SALONE": "train ticket 59,99 EUR on nov 17",
    }
    for user, text in texts.items():
        card = say(runtime, user, text)
        expense_id = button(card, "expense:confirm")
        click(runtime, user, "expense:confirm", expense_id)
        manager = "U0000SALMGR" if user == "U0000SALONE" else "U0000ENGMGR"
        click(runtime, manager, "expense:approve", expense_id)
    rejected = say(runtime, "U0000DEVTHR", "$40 taxi on nov 18")
    click(runtime, "U0000DEVTHR", "expense:confirm", button(rejected, "expense:confirm"))
    click(runtime, "U0000ENGMGR", "expense:reject_submit", button(rejected, "expense:confirm"), {"reason": "personal"})

    with runtime.database.session_scope() as session:
        result = export_csv(session, start=date(2026, 11, 1), end=date(2026, 11, 30))
        approved = session.scalars(select(Expense).where(Expense.status == "approved")).all()
        expected = sum((e.base_amount for e in approved), Decimal("0"))
        people = {e.slack_id: e for e in session.scalars(select(Employee))}
        tokens = {
            who: create_token(session, employee=people[who], name=who)
            for who in ("U0000FINANC", "U0000ENGMGR", "U0000DEVONE")
        }
    rows = list(csv.DictReader(io.StringIO(result.csv_text)))
    assert result.rows == len(rows) == 3 and result.base_currency == "USD"
    assert sum(Decimal(r["base_amount"]) for r in rows) == result.total_base == expected
    for row in rows:  # the original amount and the rate give back the base amount, to the cent
        assert (Decimal(row["amount"]) * Decimal(row["rate"])).quantize(Decimal("0.01")) == Decimal(row["base_amount"])
    assert {r["currency"] for r in rows} == {"EUR", "USD"}

    with LiveServer(runtime) as live:

        def visible(who: str) -> set[str]:
            response = http.get(f"{live.url}/api/expenses", headers={"Authorization": f"Bearer {tokens[who]}"})
            assert response.status_code == 200
            return {row["employee_slack_id"] for row in response.json()["expenses"]}

        assert visible("U0000FINANC") == {"U0000DEVONE", "U0000DEVTWO", "U0000SALONE", "U0000DEVTHR"}
        assert visible("U0000ENGMGR") == {"U0000DEVONE", "U0000DEVTWO", "U0000DEVTHR"}  # his reports only
        assert visible("U0000DEVONE") == {"U0000DEVONE"}
        assert http.get(f"{live.url}/api/expenses").status_code == 401


def test_edit_before_submitting_rechecks_the_claim(runtime: Runtime) -> None:
    runtime.assistant.clock = lambda: NOW
    card = say(runtime, "U0000DEVTWO", "£59.99 keyboard for work on nov 20")
    expense_id = button(card, "expense:edit")
    modal = click(runtime, "U0000DEVTWO", "expense:edit", expense_id).modal
    assert modal is not None and {f.name: f.initial for f in modal.fields}["currency"] == "GBP"
    form = {"amount": "612.00", "currency": "GBP", "spent_on": "2026-11-20", "category": "equipment"}
    bad = click(runtime, "U0000DEVTWO", "expense:edit_submit", expense_id, {**form, "amount": "lots"})
    assert "not an amount" in bad.text and claims(runtime) == [("draft", Decimal("59.99"), "GBP")]
    saved = click(runtime, "U0000DEVTWO", "expense:edit_submit", expense_id, form)
    assert "Updated claim" in saved.text and claims(runtime) == [("draft", Decimal("612.00"), "GBP")]
    with runtime.database.session_scope() as session:
        expense = session.get_one(Expense, int(expense_id))
        assert expense.base_amount == Decimal("777.24") and any("equipment limit" in f for f in expense.flags)
    assert "Only the person" in click(runtime, "U0000DEVONE", "expense:edit", expense_id).text


def test_bad_receipt_files_get_a_clear_answer_and_write_nothing(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client, tesseract: None
) -> None:
    runtime.assistant.clock = lambda: NOW
    big = slack.add_file(
        "F0BIG00001", b"%PDF-1.4\n" + b"0" * 64, "scan.pdf", "application/pdf", declared_size=40_000_000
    )
    exe = slack.add_file("F0EXE00001", b"MZ\x90\x00" + b"\x00" * 200, "receipt.pdf", "application/pdf")
    corrupt = slack.add_file("F0BAD00001", b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 20, "receipt.png", "image/png")
    for number, bad in enumerate((big, exe, corrupt)):
        event = message_event("U0000DEVTWO", "taxi receipt", "D0JAMAL001", "im", files=[bad])
        event["event"]["subtype"] = "file_share"
        post_event(http, server.url, event)
        slack.wait_for("chat.postEphemeral", number + 1)
    answers = [c.params["text"] for c in slack.calls_to("chat.postEphemeral")]
    assert "40.0 MB" in answers[0] and "Nothing was saved" in answers[0]
    assert "isn't" in answers[1] or "not" in answers[1]
    assert "couldn't read" in answers[2]
    assert claims(runtime) == []


@pytest.mark.calendar
def test_waiting_claims_remind_the_manager_then_finance_once(runtime: Runtime) -> None:
    from datetime import timedelta

    from skills.expenses.jobs import remind_expense_approvers

    runtime.assistant.clock = lambda: NOW
    card = say(runtime, "U0000DEVTWO", "$42.10 uber to the airport on nov 20")
    click(runtime, "U0000DEVTWO", "expense:confirm", button(card, "expense:confirm"))

    def run(hours: float) -> list[tuple[str, str]]:
        with runtime.database.session_scope() as session:
            before = {i.id for i in session.scalars(select(OutboxItem))}
            remind_expense_approvers(
                session,
                policy=runtime.expense_policy,
                now=NOW + timedelta(hours=hours),
                finance_destination=runtime.settings.finance_destination,
            )
            return [(i.channel, i.text) for i in session.scalars(select(OutboxItem)) if i.id not in before]

    assert run(47) == []
    first = run(49)
    assert [c for c, _ in first] == ["web:U0000ENGMGR"] and "Reminder" in first[0][1]
    assert run(60) == []
    assert [c for c, _ in run(97)] == ["web:U0000ENGMGR"]
    to_finance = run(145)
    assert [c for c, _ in to_finance] == [runtime.settings.finance_destination] and "finance" in to_finance[0][1]
    assert run(400) == []


def test_a_submitted_claim_can_still_be_edited_until_approved(runtime: Runtime) -> None:
    runtime.assistant.clock = lambda: NOW
    card = say(runtime, "U0000DEVTHR", "$31.00 train to the conference on nov 19")
    expense_id = button(card, "expense:confirm")
    click(runtime, "U0000DEVTHR", "expense:confirm", expense_id)
    form = {"amount": "13.00", "currency": "USD", "spent_on": "2026-11-19", "category": "transport"}
    edited = click(runtime, "U0000DEVTHR", "expense:edit_submit", expense_id, form)
    assert "your manager sees the new details" in edited.text
    with runtime.database.session_scope() as session:
        card_for_manager = session.scalars(
            select(OutboxItem).where(OutboxItem.update_key == f"expense:{expense_id}:approval").order_by(OutboxItem.id)
        ).all()[-1]
        assert "(edited)" in card_for_manager.text and "13.00 USD" in card_for_manager.text
    click(runtime, "U0000ENGMGR", "expense:approve", expense_id)
    late = click(runtime, "U0000DEVTHR", "expense:edit_submit", expense_id, {**form, "amount": "99.00"})
    assert "can't be edited" in late.text and claims(runtime) == [("approved", Decimal("13.00"), "USD")]
