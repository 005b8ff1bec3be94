"""Leave end to end on real SQLite and PostgreSQL: one-message requests, working days and holidays by
country, time zones, the ledger, approvals over signed Slack HTTP (double clicks and races), edits,
cancellation, bad input, status and balance questions, App Home and the team calendar."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
import time_machine
from sqlalchemy import func, select

from bot.models import AuditEntry, Employee, LeaveLedgerEntry, LeaveRequest, OutboxItem
from bot.runtime import Runtime
from skills.leave import ledger
from tests.chat import block_element, button, click, say
from tests.conftest import LiveServer
from tests.slack_payloads import (
    app_mention,
    block_actions,
    event_callback,
    message_event,
    post_event,
    post_interaction,
)
from tests.slack_standin import SlackStandIn

NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)  # Sunday afternoon in the US, Sunday evening in Europe


class Clock:
    """An injected clock the tests move by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(autouse=True)
def machine_clock_at_now() -> Iterator[None]:
    """The machine's clock starts at NOW too (and ticks), before the `runtime` fixture's first start books
    the accruals due "so far": these tests are written around NOW, whatever day they run on."""
    with time_machine.travel(NOW, tick=True):
        yield


def use_clock(runtime: Runtime, now: datetime = NOW) -> Clock:
    clock = Clock(now)
    runtime.assistant.clock = clock
    with runtime.database.session_scope() as session:
        ledger.run_due_bookings(session, policy=runtime.leave_policy, today=now.date())
    return clock


def count(runtime: Runtime, model: type) -> int:
    with runtime.database.session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def usage_rows(runtime: Runtime, request_id: int) -> list[LeaveLedgerEntry]:
    with runtime.database.session_scope() as session:
        return list(session.scalars(select(LeaveLedgerEntry).where(LeaveLedgerEntry.request_id == request_id)))


# ------------------------------------------------------------------ the acceptance examples


def test_vacation_over_new_year_counts_us_holidays(runtime: Runtime) -> None:
    use_clock(runtime)
    reply = say(runtime, "U0000DEVTWO", "Vacation Dec 22 to Jan 2")  # Jamal, US
    assert "Tue 22 Dec 2026 – Sat 2 Jan 2027" in reply.text
    assert "Working days: *7*" in reply.text
    assert "Dec 25" in reply.text and "Jan 1" in reply.text and "holiday" in reply.text
    assert "Balance: 22.9 → 15.9" in reply.text
    assert [b.action_id for b in reply.buttons] == ["leave:confirm", "leave:edit", "leave:discard"]
    with runtime.database.session_scope() as session:
        request = session.scalars(select(LeaveRequest)).one()
        assert (request.start_date, request.end_date, request.status) == (date(2026, 12, 22), date(2027, 1, 2), "draft")
        assert request.days == Decimal("7")
    click(runtime, "U0000DEVTWO", "leave:confirm", button(reply, "leave:confirm"))
    click(runtime, "U0000ENGMGR", "leave:approve", button(reply, "leave:confirm"))
    with runtime.database.session_scope() as session:
        card = session.scalars(
            select(OutboxItem).where(OutboxItem.update_key == "leave:1:card").order_by(OutboxItem.id)
        ).all()[-1]
    assert "Approved by Daniel Kim" in card.text and "Dec 25 and Jan 1 are holidays" in card.text


def test_same_dates_use_the_employees_country(runtime: Runtime) -> None:
    use_clock(runtime)
    # Amara works in GB: Christmas is Friday, Boxing Day (Saturday) is observed on Monday 28 Dec.
    reply = say(runtime, "U0000FINANC", "Vacation Dec 22 to Jan 2")
    assert "Working days: *6*" in reply.text, reply.text
    assert "Dec 28" in reply.text
    # Sofia works in Italy: 26 Dec falls on a Saturday and is not moved, so 7 days again.
    reply = say(runtime, "U0000DEVONE", "vacation 22/12 to 2/1")
    assert "Working days: *7*" in reply.text, reply.text


def test_us_holiday_on_a_saturday_is_observed_on_friday(runtime: Runtime) -> None:
    use_clock(runtime)
    reply = say(runtime, "U0000DEVTWO", "vacation 2027-12-20 to 2027-12-24")
    # Christmas 2027 is a Saturday; the US observes it on Friday 24 December.
    assert "Working days: *4*" in reply.text, reply.text
    assert "Dec 24" in reply.text


def test_tomorrow_means_the_employees_tomorrow(runtime: Runtime) -> None:
    # 00:30 on Tuesday 24 Nov in Tokyo is still Monday 23 Nov in UTC.
    use_clock(runtime, datetime(2026, 11, 23, 15, 30, tzinfo=UTC))
    with runtime.database.session_scope() as session:
        mei = session.scalars(select(Employee).where(Employee.slack_id == "U0000DEVTHR")).one()
        mei.tz, mei.country = "Asia/Tokyo", "JP"
    reply = say(runtime, "U0000DEVTHR", "sick tomorrow")
    assert "Wed 25 Nov 2026" in reply.text, reply.text


# ------------------------------------------------------------------ approval over signed Slack HTTP


def test_request_confirm_approve_over_slack(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    use_clock(runtime)
    ask = message_event("U0000DEVTWO", "PTO 12/14-12/18 for my sister's wedding", "D0JAMAL001", "im")
    assert post_event(http, server.url, ask).status_code == 200
    card = slack.wait_for("chat.postMessage")[0]
    assert card.params["channel"] == "D0JAMAL001" and card.params["thread_ts"] == ask["event"]["ts"]
    assert "my sister's wedding" in card.params["text"] and "Working days: *5*" in card.params["text"]
    request_id = block_element(card, "leave:confirm")["value"]

    # Two confirmations racing (double click on a slow connection): one submission.
    confirm = block_actions("U0000DEVTWO", "leave:confirm", request_id, "D0JAMAL001", "1.1", ask["event"]["ts"])
    threads = [threading.Thread(target=post_interaction, args=(httpx.Client(), server.url, confirm)) for _ in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    approval = slack.wait_for_post(lambda c: c.params["channel"] == "U0000ENGMGR")
    assert "Jamal Carter" in approval.params["text"] and "Approve" in str(approval.params["blocks"])
    with runtime.database.session_scope() as session:
        assert session.get_one(LeaveRequest, int(request_id)).status == "pending"
        submitted = session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "leave_request", AuditEntry.action == "pending")
        ).all()
        assert len(submitted) == 1
    loser = slack.wait_for("chat.postEphemeral")[0]  # the second click is told, not submitted again
    assert "already pending" in loser.params["text"]

    # The requester cannot approve their own request.
    own = block_actions("U0000DEVTWO", "leave:approve", request_id, "D0JAMAL001", "1.1")
    post_interaction(http, server.url, own)
    refusal = slack.wait_for("chat.postEphemeral", 2)[1]
    assert "own leave" in refusal.params["text"]

    # The manager double-clicks Approve: one approval, one ledger entry.
    approve = block_actions("U0000ENGMGR", "leave:approve", request_id, "D0000ENGMGR", "1.2")
    threads = [threading.Thread(target=post_interaction, args=(httpx.Client(), server.url, approve)) for _ in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    told = slack.wait_for_post(lambda c: "approved your vacation" in c.params["text"])
    assert told.params["channel"] == "D0JAMAL001" and told.params["thread_ts"] == ask["event"]["ts"]
    updates = slack.wait_for("chat.update", 2)
    assert any("Approved by Daniel Kim" in u.params["text"] for u in updates)
    approved_card = next(u for u in updates if "Approved by Daniel Kim" in u.params["text"])
    assert "Working days: *5*" in approved_card.params["text"]
    assert all(u.params["channel"].startswith(("D", "C")) for u in updates)
    with runtime.database.session_scope() as session:
        assert session.get_one(LeaveRequest, int(request_id)).status == "approved"
        approvals = session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "leave_request", AuditEntry.action == "approved")
        ).all()
        assert len(approvals) == 1
        jamal = session.scalars(select(Employee).where(Employee.slack_id == "U0000DEVTWO")).one()
        balance = ledger.booked_balance(session, employee_id=jamal.id, leave_type="vacation", as_of=NOW.date())
    rows = usage_rows(runtime, int(request_id))
    assert [(r.kind, r.days) for r in rows] == [("usage", Decimal("-5"))]
    assert balance == Decimal("22.9167") - 5


def test_slash_command_opens_the_leave_form(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    from urllib.parse import urlencode

    from tests.slack_payloads import signed_headers

    body = urlencode(
        {
            "command": "/backoffice",
            "text": "leave",
            "user_id": "U0000DEVONE",
            "channel_id": "D0SOFIA001",
            "trigger_id": "13345224609.738474920.8088930838d88f008e0",
            "response_url": f"{slack.base_url}respond/T1/2/3",
            "team_id": "T0001",
        }
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed_headers(body)}
    assert http.post(f"{server.url}/slack/events", content=body, headers=headers).status_code == 200
    view = slack.wait_for("views.open")[0].params["view"]
    assert view["callback_id"] == "leave:form"
    kinds = {b["block_id"]: b["element"]["type"] for b in view["blocks"]}
    assert kinds["start"] == "datepicker" and kinds["leave_type"] == "static_select"


def test_app_home_shows_balances_and_leave(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    use_clock(runtime)
    say(runtime, "U0000ENGMGR", "vacation 2026-12-14 to 2026-12-15")
    opened = event_callback(
        {"type": "app_home_opened", "user": "U0000ENGMGR", "channel": "D0000ENGMGR", "tab": "home", "event_ts": "1.2"}
    )
    assert post_event(http, server.url, opened).status_code == 200
    view = slack.wait_for("views.publish")[0].params["view"]
    text = str(view["blocks"])
    assert view["type"] == "home"
    assert "Vacation: *22.9* days" in text and "Sick leave: *10* days" in text
    assert "/calendar/U0000ENGMGR.ics?token=" in text  # Daniel manages a team


# ------------------------------------------------------------------ rules that cite the policy


def test_short_notice_and_over_balance_name_the_rule_and_cite_the_sop(runtime: Runtime) -> None:
    use_clock(runtime)
    reply = say(runtime, "U0000DEVTWO", "vacation from Nov 30 to Dec 4")
    assert "Short notice" in reply.text and "2 weeks" in reply.text
    assert any("Notice periods" in c.heading for c in reply.citations), reply.citations
    assert "leave:confirm" in [b.action_id for b in reply.buttons]  # a warning: the manager may still approve

    reply = say(runtime, "U0000DEVTWO", "vacation 2027-02-01 to 2027-03-05")
    assert "Over your balance" in reply.text or "carry-over" in reply.text, reply.text
    assert "leave:confirm" not in [b.action_id for b in reply.buttons]
    assert reply.citations and any("Vacation" in c.title for c in reply.citations)


def test_overlapping_request_is_refused(runtime: Runtime) -> None:
    use_clock(runtime)
    first = say(runtime, "U0000DEVTHR", "vacation Dec 14 to Dec 16")
    click(runtime, "U0000DEVTHR", "leave:confirm", button(first, "leave:confirm"))
    second = say(runtime, "U0000DEVTHR", "day off Dec 15")
    assert "Overlaps your pending vacation request" in second.text
    assert "leave:confirm" not in [b.action_id for b in second.buttons]


# ------------------------------------------------------------------ questions, edits and cancellation


def test_missing_details_are_asked_once_then_the_form(runtime: Runtime) -> None:
    use_clock(runtime)
    asked = say(runtime, "U0000DEVONE", "half day on the 9th")
    assert "morning or afternoon" in asked.text.lower()
    assert count(runtime, LeaveRequest) == 0
    done = say(runtime, "U0000DEVONE", "afternoon")
    assert "Wed 9 Dec 2026 (afternoon)" in done.text and "Working days: *0.5*" in done.text

    asked = say(runtime, "U0000DEVONE", "I need some vacation")
    assert "which dates" in asked.text.lower()
    again = say(runtime, "U0000DEVONE", "whenever suits the team")
    assert "leave:open_form" in [b.action_id for b in again.buttons]
    form = click(runtime, "U0000DEVONE", "leave:open_form", "")
    assert form.modal is not None and form.modal.callback_id == "leave:form"


def test_edit_before_approval_and_cancel_after(runtime: Runtime) -> None:
    use_clock(runtime)
    card = say(runtime, "U0000DEVTHR", "vacation Dec 14 to Dec 18")
    request_id = button(card, "leave:confirm")
    modal = click(runtime, "U0000DEVTHR", "leave:edit", request_id).modal
    assert modal is not None and {f.name: f.initial for f in modal.fields}["start"] == "2026-12-14"
    edited = click(
        runtime,
        "U0000DEVTHR",
        "leave:form",
        request_id,
        {"leave_type": "vacation", "start": "2026-12-15", "end": "2026-12-18", "half": "full", "reason": ""},
    )
    assert "Updated request" in edited.text
    click(runtime, "U0000DEVTHR", "leave:confirm", request_id)
    click(runtime, "U0000ENGMGR", "leave:approve", request_id)
    assert [(r.kind, r.days) for r in usage_rows(runtime, int(request_id))] == [("usage", Decimal("-4"))]

    status = say(runtime, "U0000DEVTHR", "did my time off get approved?")
    assert f"#{request_id}" in status.text and "*approved*" in status.text

    options = say(runtime, "U0000DEVTHR", "cancel my vacation in december")
    cancelled = click(runtime, "U0000DEVTHR", "leave:cancel", button(options, "leave:cancel"))
    assert "4 days are back in your balance" in cancelled.text and "Daniel Kim has been told" in cancelled.text
    kinds = sorted((r.kind, r.days) for r in usage_rows(runtime, int(request_id)))
    assert kinds == [("reversal", Decimal("4")), ("usage", Decimal("-4"))]
    with runtime.database.session_scope() as session:
        told = session.scalars(select(OutboxItem).where(OutboxItem.channel == "web:U0000ENGMGR")).all()
        assert any("cancelled their approved vacation" in item.text for item in told)


def test_status_and_balance_questions_come_from_the_database(runtime: Runtime) -> None:
    use_clock(runtime)
    card = say(runtime, "U0000DEVONE", "vacation August 3 to August 7")
    click(runtime, "U0000DEVONE", "leave:confirm", button(card, "leave:confirm"))

    pending = say(runtime, "U0000DEVONE", "is my August request still pending?")
    assert "Tue 3 Aug 2027" in pending.text and "*pending*" in pending.text and "Daniel Kim" in pending.text

    left = say(runtime, "U0000DEVONE", "how many vacation days do I have left")
    assert "22.9" in left.text and "4 more in pending requests" in left.text

    by_june = say(runtime, "U0000DEVONE", "how much leave will I have by June")
    assert "Tue 1 Jun 2027" in by_june.text and "expire" in by_june.text


def test_sick_day_is_recorded_without_approval(runtime: Runtime) -> None:
    use_clock(runtime, datetime(2026, 11, 23, 9, 0, tzinfo=UTC))  # Monday
    card = say(runtime, "U0000DEVONE", "sick today")
    assert "No approval needed" in card.text
    done = click(runtime, "U0000DEVONE", "leave:confirm", button(card, "leave:confirm"))
    assert "Recorded" in done.text and "Daniel Kim" in done.text
    used = say(runtime, "U0000DEVONE", "how many sick days have I used this year")
    assert "used 1 day of sick leave in 2026" in used.text and "9 days are left" in used.text


# ------------------------------------------------------------------ bad input writes nothing


def test_bad_input_gets_a_clear_answer_and_writes_nothing(runtime: Runtime) -> None:
    use_clock(runtime)
    audits = count(runtime, AuditEntry)
    cases = {
        "vacation from friday to monday last year": "past",
        "vacation 2027-03-18 to 2027-03-14": "before",
        "vacation 2027-01-04 to 2028-02-08": "at most",
        "sabbatical leave next week": "leave type",
        "vacation on February 30": "30",
    }
    for text, expected in cases.items():
        reply = say(runtime, "U0000DEVTWO", text)
        assert expected in reply.text, (text, reply.text)
    assert count(runtime, LeaveRequest) == 0
    assert count(runtime, AuditEntry) == audits
    bad_form = click(
        runtime,
        "U0000DEVTWO",
        "leave:form",
        "new",
        {"leave_type": "vacation", "start": "2027-02-30", "end": "2027-03-02", "half": "full"},
    )
    assert "not a date" in bad_form.text and count(runtime, LeaveRequest) == 0


# ------------------------------------------------------------------ scheduled work with an injected clock


@pytest.mark.calendar
def test_accrual_for_a_month_run_twice_books_once(runtime: Runtime) -> None:
    use_clock(runtime)
    with runtime.database.session_scope() as session:
        sofia = session.scalars(select(Employee).where(Employee.slack_id == "U0000DEVONE")).one()
        first = ledger.accrue_month(session, policy=runtime.leave_policy, employee=sofia, month=date(2026, 12, 1))
        second = ledger.accrue_month(session, policy=runtime.leave_policy, employee=sofia, month=date(2026, 12, 1))
        assert (first, second) == (1, 0)
        balance = ledger.booked_balance(session, employee_id=sofia.id, leave_type="vacation", as_of=date(2026, 12, 1))
    assert balance == Decimal("25.0000")  # twelve months sum to the yearly allowance exactly


@pytest.mark.calendar
def test_year_end_carry_over_and_expiry(runtime: Runtime) -> None:
    use_clock(runtime)
    policy = runtime.leave_policy
    with runtime.database.session_scope() as session:
        noah = session.scalars(select(Employee).where(Employee.slack_id == "U0000SALONE")).one()
        ledger.run_due_bookings(session, policy=policy, today=date(2026, 12, 31))
        ledger.run_due_bookings(session, policy=policy, today=date(2027, 1, 1))
        ledger.run_due_bookings(session, policy=policy, today=date(2027, 1, 1))  # twice: nothing more
        on_jan1 = ledger.booked_balance(session, employee_id=noah.id, leave_type="vacation", as_of=date(2027, 1, 1))
        sick = ledger.booked_balance(session, employee_id=noah.id, leave_type="sick", as_of=date(2027, 1, 1))
        assert on_jan1 == Decimal("5") + Decimal("2.0833")  # 25 earned, 5 carried, January's accrual
        assert sick == Decimal("10")  # the old allowance lapsed, the new one was granted
        ledger.run_due_bookings(session, policy=policy, today=date(2027, 4, 1))
        after = ledger.booked_balance(session, employee_id=noah.id, leave_type="vacation", as_of=date(2027, 4, 1))
        assert after == Decimal("8.3333")  # Jan–Apr accruals: the carried days unused by 31 March expired
        kinds = sorted(
            {
                e.period
                for e in session.scalars(select(LeaveLedgerEntry).where(LeaveLedgerEntry.employee_id == noah.id))
                if not e.period.startswith(("accrual", "grant"))
            }
        )
    assert kinds == ["carry-expiry:2026", "carry-in:2026", "carry-out:2026", "forfeit:2026"]


@pytest.mark.calendar
def test_pending_request_reminds_then_escalates_to_hr(runtime: Runtime) -> None:
    from skills.leave.jobs import remind_approvers

    clock = use_clock(runtime)
    card = say(runtime, "U0000DEVTWO", "vacation Dec 14 to Dec 16")
    click(runtime, "U0000DEVTWO", "leave:confirm", button(card, "leave:confirm"))

    def run(hours: float) -> int:
        clock.now = NOW + timedelta(hours=hours)
        with runtime.database.session_scope() as session:
            return remind_approvers(
                session, policy=runtime.leave_policy, now=clock.now, hr_destination=runtime.settings.hr_destination
            )

    assert run(23) == 0
    assert run(25) == 1  # first reminder
    assert run(30) == 0
    assert run(49) == 1  # second reminder
    assert run(73) == 1  # no more reminders: People Ops is told
    assert run(200) == 0  # and only once
    with runtime.database.session_scope() as session:
        items = session.scalars(select(OutboxItem).order_by(OutboxItem.id)).all()
        reminders = [i for i in items if "Reminder" in i.text and i.channel == "web:U0000ENGMGR"]
        to_hr = [i for i in items if i.channel == runtime.settings.hr_destination]
        request = session.scalars(select(LeaveRequest)).one()
        assert len(reminders) == 2 and len(to_hr) == 1 and request.status == "pending"
        assert "People Ops may decide" in to_hr[0].text
    # People Ops decides it from their card.
    done = click(runtime, "U0000HRLEAD", "leave:approve", str(request.id))
    assert "Approved" in done.text


def test_request_to_an_away_approver_goes_to_the_delegate(runtime: Runtime) -> None:
    use_clock(runtime)
    with runtime.database.session_scope() as session:
        daniel = session.scalars(select(Employee).where(Employee.slack_id == "U0000ENGMGR")).one()
        olivia = session.scalars(select(Employee).where(Employee.slack_id == "U0000SALMGR")).one()
        daniel.delegate_id = olivia.id
    away = say(runtime, "U0000ENGMGR", "sick Nov 20 to Nov 27")
    click(runtime, "U0000ENGMGR", "leave:confirm", button(away, "leave:confirm"))

    card = say(runtime, "U0000DEVONE", "vacation Dec 14 to Dec 16")
    assert "Olivia Brooks" in card.text and "Daniel Kim is on leave until Fri 27 Nov 2026" in card.text
    click(runtime, "U0000DEVONE", "leave:confirm", button(card, "leave:confirm"))
    with runtime.database.session_scope() as session:
        request = session.scalars(select(LeaveRequest).where(LeaveRequest.status == "pending")).one()
        assert request.approver is not None and request.approver.slack_id == "U0000SALMGR"
        approval = session.scalars(select(OutboxItem).where(OutboxItem.channel == "web:U0000SALMGR")).one()
        assert "their delegate" in approval.text and "Approve" in str(approval.payload)
    # Daniel is away, so a second teammate's request shows the first one under team coverage.
    card = say(runtime, "U0000DEVTWO", "vacation Dec 15 to Dec 16")
    click(runtime, "U0000DEVTWO", "leave:confirm", button(card, "leave:confirm"))
    with runtime.database.session_scope() as session:
        cards = session.scalars(
            select(OutboxItem).where(OutboxItem.channel == "web:U0000SALMGR").order_by(OutboxItem.id)
        ).all()
        assert "Sofia Rossi" in cards[-1].text and "also away" in cards[-1].text


def test_team_calendar_feed(runtime: Runtime, http: httpx.Client) -> None:
    from skills.leave.home import calendar_token

    use_clock(runtime)
    card = say(runtime, "U0000DEVONE", "vacation Dec 14 to Dec 16")
    click(runtime, "U0000DEVONE", "leave:confirm", button(card, "leave:confirm"))
    with LiveServer(runtime) as live, runtime.database.session_scope() as session:
        daniel = session.scalars(select(Employee).where(Employee.slack_id == "U0000ENGMGR")).one()
        token = calendar_token(runtime.settings.secret_key, daniel)
        feed = http.get(f"{live.url}/calendar/U0000ENGMGR.ics", params={"token": token})
        assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
        assert "Sofia Rossi — Vacation (pending)" in feed.text and "DTSTART;VALUE=DATE:20261214" in feed.text
        assert http.get(f"{live.url}/calendar/U0000ENGMGR.ics", params={"token": "x" * 32}).status_code == 403
        assert http.get(f"{live.url}/calendar/UNOBODY.ics", params={"token": token}).status_code == 404


def test_mention_in_a_channel_threads_the_card(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    use_clock(runtime)
    ask = app_mention("U0000DEVTHR", "<@UBOTUSER01> can I take next friday off")
    assert post_event(http, server.url, ask).status_code == 200
    card = slack.wait_for("chat.postMessage")[0]
    assert card.params["thread_ts"] == ask["event"]["ts"] and "Fri 27 Nov 2026" in card.params["text"]


def test_deny_needs_a_reason_and_withdraw_tells_the_approver(runtime: Runtime) -> None:
    use_clock(runtime)
    card = say(runtime, "U0000DEVTWO", "vacation Dec 14 to Dec 16")
    request_id = button(card, "leave:confirm")
    click(runtime, "U0000DEVTWO", "leave:confirm", request_id)
    form = click(runtime, "U0000ENGMGR", "leave:deny", request_id)
    assert form.modal is not None and form.modal.callback_id == "leave:deny_submit"
    empty = click(runtime, "U0000ENGMGR", "leave:deny_submit", request_id, {"reason": " "})
    assert "give a reason" in empty.text
    denied = click(runtime, "U0000ENGMGR", "leave:deny_submit", request_id, {"reason": "Release week, sorry"})
    assert "Denied" in denied.text
    with runtime.database.session_scope() as session:
        request = session.get_one(LeaveRequest, int(request_id))
        assert (request.status, request.decision_note) == ("denied", "Release week, sorry")
        told = session.scalars(select(OutboxItem).where(OutboxItem.channel == "web:U0000DEVTWO")).all()
        assert any("denied your vacation" in i.text and "Release week" in i.text for i in told)
    assert usage_rows(runtime, int(request_id)) == []
    again = click(runtime, "U0000ENGMGR", "leave:approve", request_id)
    assert "already denied" in again.text

    card = say(runtime, "U0000DEVTWO", "vacation Dec 21 to Dec 23")
    request_id = button(card, "leave:confirm")
    click(runtime, "U0000DEVTWO", "leave:confirm", request_id)
    withdrawn = click(runtime, "U0000DEVTWO", "leave:withdraw", request_id)
    assert "Withdrawn" in withdrawn.text
    with runtime.database.session_scope() as session:
        assert session.get_one(LeaveRequest, int(request_id)).status == "withdrawn"
        cards = session.scalars(
            select(OutboxItem).where(OutboxItem.update_key == f"leave:{request_id}:approval").order_by(OutboxItem.id)
        ).all()
        assert "Withdrawn by Jamal Carter" in cards[-1].text and cards[-1].payload["buttons"] == []


def test_a_new_slack_user_accrues_from_when_we_first_see_them(runtime: Runtime) -> None:
    use_clock(runtime)
    reply = say(runtime, "U0NEWHIRE1", "how many vacation days do I have left")  # unknown: created from users.info
    assert "Vacation: *2.1* days left" in reply.text, reply.text  # this month's accrual only, booked at once
    with runtime.database.session_scope() as session:
        nina = session.scalars(select(Employee).where(Employee.slack_id == "U0NEWHIRE1")).one()
        assert nina.hired_on is not None and nina.tz == "Europe/Berlin"
        periods = sorted(
            e.period for e in session.scalars(select(LeaveLedgerEntry).where(LeaveLedgerEntry.employee_id == nina.id))
        )
    assert periods == ["accrual:2026-11", "grant:2026", "grant:2026"]
