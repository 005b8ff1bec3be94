"""The leave ledger at calendar edges, on real SQLite and PostgreSQL: what an employee is promised for a future
day (the projection) is what the bookings job writes by then, from New Year's Eve, the day carried-over leave
expires, a leap day, or across a service outage over New Year; and today's bookings hold on whatever day the
suite runs (`make test-dates` runs these at the odd moments in tests/travel.py)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.db import local_date, utcnow
from bot.models import Employee, LeaveLedgerEntry
from bot.runtime import Runtime
from skills.leave import ledger
from skills.leave.config import LeavePolicy
from tests.chat import say

pytestmark = pytest.mark.calendar

_serial = itertools.count(1)


def new_employee(session: Session, *, hired_on: date | None = date(2020, 3, 2)) -> Employee:
    number = next(_serial)
    employee = Employee(slack_id=f"U0EDGE{number:05d}", name=f"Edge Case {number}", hired_on=hired_on)
    session.add(employee)
    session.flush()
    return employee


def vacation(session: Session, employee: Employee, on: date) -> Decimal:
    return ledger.booked_balance(session, employee_id=employee.id, leave_type="vacation", as_of=on)


def take(session: Session, employee: Employee, day: date, days: str, label: str) -> None:
    """Approved vacation on `day` (a usage row, as an approval books it)."""
    ledger.book(
        session,
        employee_id=employee.id,
        leave_type="vacation",
        kind="usage",
        days=-Decimal(days),
        effective_on=day,
        period=f"usage:edge:{label}",
    )


def with_history(session: Session, policy: LeavePolicy, today: date) -> Employee:
    """Someone hired years ago whose ledger started last summer, with leave taken and leave booked ahead."""
    employee = new_employee(session)
    ledger.catch_up(session, policy=policy, employee=employee, today=date(today.year - 1, 7, 15))
    take(session, employee, date(today.year - 1, 8, 3), "4", "summer")
    ledger.catch_up(session, policy=policy, employee=employee, today=today)
    take(
        session, employee, date(today.year, 1, 12), "1", "january"
    )  # in the carry-over's window (or, after it, just used)
    take(session, employee, today + timedelta(days=9), "2", "ahead")  # approved, still ahead
    return employee


# (today, a later day): New Year's Eve, the carry-over's last day, a leap day, a Friday before a long weekend,
# 1 January, a whole year ahead, and gaps a stopped service leaves (over New Year, and past an expiry date).
EDGES = [
    (date(2026, 12, 31), date(2027, 1, 1)),
    (date(2026, 12, 31), date(2027, 1, 4)),
    (date(2026, 12, 31), date(2027, 4, 1)),
    (date(2027, 3, 31), date(2027, 4, 1)),
    (date(2027, 3, 30), date(2027, 3, 31)),
    (date(2028, 2, 29), date(2028, 3, 1)),
    (date(2028, 2, 29), date(2029, 2, 28)),
    (date(2027, 5, 28), date(2027, 6, 1)),
    (date(2027, 1, 1), date(2027, 12, 31)),
    (date(2027, 1, 1), date(2028, 1, 1)),
    (date(2026, 11, 30), date(2027, 2, 1)),
    (date(2027, 2, 10), date(2028, 1, 5)),
]


def test_projection_is_what_gets_booked_across_calendar_edges(runtime: Runtime) -> None:
    policy = runtime.leave_policy
    vacation_type = policy.types["vacation"]
    wrong = []
    for today, later in EDGES:
        with runtime.database.session_scope() as session:
            employee = with_history(session, policy, today)
            promised = ledger.project(
                session, policy=policy, employee=employee, leave_type=vacation_type, today=today, on=later
            )
            ledger.catch_up(session, policy=policy, employee=employee, today=later)
            booked = vacation(session, employee, later)
            if promised.days != booked:
                wrong.append((today, later, promised.days, booked))
    assert not wrong, wrong


def test_new_years_eve_projection_applies_the_carry_over_cap(runtime: Runtime) -> None:
    policy = runtime.leave_policy
    with runtime.database.session_scope() as session:
        employee = new_employee(session)
        eve = date(2026, 12, 31)
        ledger.catch_up(session, policy=policy, employee=employee, today=eve)
        assert vacation(session, employee, eve) == Decimal("25")
        promised = ledger.project(
            session,
            policy=policy,
            employee=employee,
            leave_type=policy.types["vacation"],
            today=eve,
            on=date(2027, 1, 1),
        )
    # 5 days survive 31 December, 20 are forfeited, and January's accrual arrives.
    assert (promised.days, promised.expiring, promised.accrued) == (Decimal("7.0833"), Decimal("20"), Decimal("2.0833"))


def test_carried_days_are_still_there_on_their_last_day_and_gone_the_next(runtime: Runtime) -> None:
    policy = runtime.leave_policy
    vacation_type = policy.types["vacation"]
    with runtime.database.session_scope() as session:
        employee = new_employee(session)
        ledger.catch_up(session, policy=policy, employee=employee, today=date(2026, 12, 31))
        last_day = date(2027, 3, 31)
        ledger.catch_up(session, policy=policy, employee=employee, today=last_day)
        on_last_day = vacation(session, employee, last_day)
        tomorrow = ledger.project(
            session, policy=policy, employee=employee, leave_type=vacation_type, today=last_day, on=date(2027, 4, 1)
        )
    assert on_last_day == Decimal("5") + Decimal("6.2500")  # carried, plus January to March
    assert tomorrow.expiring == Decimal("5") and tomorrow.days == Decimal("6.2500") + Decimal("2.0833")


def test_a_leap_day_expiry_date_falls_on_28_february_in_other_years() -> None:
    from skills.leave.config import load_policy

    vacation_type = replace(load_policy().types["vacation"], carry_over_expires=(2, 29))
    assert ledger.carry_expiry_date(vacation_type, 2026) == date(2027, 2, 28)
    assert ledger.carry_expiry_date(vacation_type, 2027) == date(2028, 2, 29)
    assert ledger.carry_expiry_date(replace(vacation_type, carry_over_expires=(4, 31)), 2026) == date(2027, 4, 30)


def test_december_is_booked_before_the_year_closes_after_an_outage(runtime: Runtime) -> None:
    """The bookings job last ran on 30 November and the service came back on 2 February."""
    policy = runtime.leave_policy
    with runtime.database.session_scope() as session:
        employee = new_employee(session)
        ledger.catch_up(session, policy=policy, employee=employee, today=date(2026, 11, 30))
        ledger.catch_up(session, policy=policy, employee=employee, today=date(2027, 2, 2))
        periods = set(
            session.scalars(select(LeaveLedgerEntry.period).where(LeaveLedgerEntry.employee_id == employee.id))
        )
        balance = vacation(session, employee, date(2027, 2, 2))
    assert "accrual:2026-12" in periods and {"carry-in:2026", "forfeit:2026"} <= periods
    assert balance == Decimal("5") + Decimal("4.1667")  # January and February


# ------------------------------------------------------------------ on the day the suite runs (or `--at`)


def test_bookings_due_today_are_complete_and_written_once(runtime: Runtime) -> None:
    """The `runtime` fixture booked what is due today on its first start; nothing is due twice, this year's
    accruals so far sum to the months passed, and next month's accrual books once."""
    policy = runtime.leave_policy
    today = utcnow().date()
    vacation_type = policy.types["vacation"]
    with runtime.database.session_scope() as session:
        assert ledger.run_due_bookings(session, policy=policy, today=today) == 0
        employee = new_employee(session, hired_on=date(today.year - 3, 1, 1))
        ledger.catch_up(session, policy=policy, employee=employee, today=today)
        accrued = session.scalar(
            select(func.sum(LeaveLedgerEntry.days)).where(
                LeaveLedgerEntry.employee_id == employee.id, LeaveLedgerEntry.kind == "accrual"
            )
        )
        expected = sum(vacation_type.monthly_accrual(month) for month in range(1, today.month + 1))
        assert Decimal(str(accrued)) == expected
        following = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
        twice = [ledger.accrue_month(session, policy=policy, employee=employee, month=following) for _ in range(2)]
        assert twice[0] >= 1 and twice[1] == 0


@pytest.mark.parametrize("ahead", [1, 2, 31, 92, 366])
def test_projection_from_today_is_what_gets_booked(runtime: Runtime, ahead: int) -> None:
    policy = runtime.leave_policy
    today = utcnow().date()
    with runtime.database.session_scope() as session:
        employee = with_history(session, policy, today)
        later = today + timedelta(days=ahead)
        promised = ledger.project(
            session, policy=policy, employee=employee, leave_type=policy.types["vacation"], today=today, on=later
        )
        ledger.catch_up(session, policy=policy, employee=employee, today=later)
        assert promised.days == vacation(session, employee, later)


def local_days(tz: str) -> set[date]:
    return {local_date(utcnow(), tz)}


def test_yesterday_is_the_employees_own_yesterday(runtime: Runtime) -> None:
    """At 23:59 in Honolulu it is already tomorrow in UTC: a claim for "yesterday" is dated in the zone the
    employee is in, whatever the server's clock says."""
    with runtime.database.session_scope() as session:
        jamal = session.scalars(select(Employee).where(Employee.slack_id == "U0000DEVTWO")).one()
        jamal.tz = "Pacific/Honolulu"
    before = local_days("Pacific/Honolulu")
    card = say(runtime, "U0000DEVTWO", "taxi to the airport 20 USD yesterday")
    today = before | local_days("Pacific/Honolulu")  # in case the test itself ran past midnight
    shown = [f"{day - timedelta(days=1):%a %d %b %Y}" for day in today]
    assert any(text in card.text for text in shown), (shown, card.text)


def test_the_submission_window_counts_back_from_today(runtime: Runtime) -> None:
    window = runtime.expense_policy.submission_window_days
    today = local_date(utcnow(), "Europe/Rome")  # Sofia's zone
    on_time = say(runtime, "U0000DEVONE", f"taxi 20 EUR on {today - timedelta(days=window):%d %B %Y}")
    late = say(runtime, "U0000DEVONE", f"taxi 20 EUR on {today - timedelta(days=window + 1):%d %B %Y}")
    assert "20.00 EUR" in on_time.text and "Late" not in on_time.text, on_time.text
    assert f"Late: this was {window + 1} days ago" in late.text, late.text
