"""Leave balances as a ledger: accruals, grants, usage, reversals, adjustments, carry-over and expiry are
rows; a balance is a sum. Every booking has a `period` key that is unique per employee and type, so a
job run twice, or an approval clicked twice, books once."""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.models import Employee, LeaveLedgerEntry, LeaveRequest
from skills.leave.config import LeavePolicy, LeaveType

log = logging.getLogger(__name__)
ZERO = Decimal(0)
COMMITTED = ("usage", "reversal")  # bookings for dated leave: they count as soon as they are booked


def book(
    session: Session,
    *,
    employee_id: int,
    leave_type: str,
    kind: str,
    days: Decimal,
    effective_on: date,
    period: str,
    request_id: int | None = None,
    note: str | None = None,
    actor_id: int | None = None,
) -> bool:
    """Add one ledger row; False when this period was already booked (nothing is written twice)."""
    exists = session.scalar(
        select(LeaveLedgerEntry.id).where(
            LeaveLedgerEntry.employee_id == employee_id,
            LeaveLedgerEntry.leave_type == leave_type,
            LeaveLedgerEntry.period == period,
        )
    )
    if exists is not None:
        return False
    entry = LeaveLedgerEntry(
        employee_id=employee_id,
        leave_type=leave_type,
        kind=kind,
        days=days,
        effective_on=effective_on,
        period=period,
        request_id=request_id,
        note=note,
        created_by_id=actor_id,
    )
    try:
        with session.begin_nested():  # another process may book the same period at the same moment
            session.add(entry)
    except IntegrityError:
        return False
    return True


def _sum(session: Session, *conditions: object) -> Decimal:
    total = session.scalar(select(func.coalesce(func.sum(LeaveLedgerEntry.days), 0)).where(*conditions))  # type: ignore[arg-type]
    return Decimal(str(total)).quantize(Decimal("0.0001"))


def booked_balance(session: Session, *, employee_id: int, leave_type: str, as_of: date) -> Decimal:
    """Days available on `as_of`: everything effective by then, plus leave already booked for later dates
    (approved future leave is spoken for)."""
    mine = (LeaveLedgerEntry.employee_id == employee_id, LeaveLedgerEntry.leave_type == leave_type)
    upto = _sum(session, *mine, LeaveLedgerEntry.effective_on <= as_of)
    later = _sum(session, *mine, LeaveLedgerEntry.effective_on > as_of, LeaveLedgerEntry.kind.in_(COMMITTED))
    return upto + later


def used_days(session: Session, *, employee_id: int, leave_type: str, year: int) -> Decimal:
    """Days taken (or booked) in a calendar year, net of reversals."""
    total = _sum(
        session,
        LeaveLedgerEntry.employee_id == employee_id,
        LeaveLedgerEntry.leave_type == leave_type,
        LeaveLedgerEntry.kind.in_(COMMITTED),
        LeaveLedgerEntry.effective_on >= date(year, 1, 1),
        LeaveLedgerEntry.effective_on <= date(year, 12, 31),
    )
    return -total


def pending_days(session: Session, *, employee_id: int, leave_type: str, exclude_id: int | None = None) -> Decimal:
    """Days in requests waiting for approval (not yet in the ledger)."""
    query = select(func.coalesce(func.sum(LeaveRequest.days), 0)).where(
        LeaveRequest.employee_id == employee_id,
        LeaveRequest.leave_type == leave_type,
        LeaveRequest.status == "pending",
    )
    if exclude_id is not None:
        query = query.where(LeaveRequest.id != exclude_id)
    return Decimal(str(session.scalar(query)))


# ------------------------------------------------------------------ scheduled bookings


def _first_month(employee: Employee, year: int) -> int:
    if employee.hired_on is None or employee.hired_on.year < year:
        return 1
    if employee.hired_on.year > year:
        return 13
    return employee.hired_on.month


def accrue_month(session: Session, *, policy: LeavePolicy, employee: Employee, month: date) -> int:
    """Book `month`'s accrual (and the yearly grants when it is January, or the hire month) for one
    employee. Returns how many rows were written (0 when this month was already booked)."""
    written = 0
    if month.month < _first_month(employee, month.year):
        return 0
    first = month.replace(day=1)
    for leave_type in policy.types.values():
        if not leave_type.tracked:
            continue
        if leave_type.accrual_per_year is not None:
            written += book(
                session,
                employee_id=employee.id,
                leave_type=leave_type.key,
                kind="accrual",
                days=leave_type.monthly_accrual(first.month),
                effective_on=first,
                period=f"accrual:{first:%Y-%m}",
            )
        if leave_type.grant_per_year is not None:
            written += book(
                session,
                employee_id=employee.id,
                leave_type=leave_type.key,
                kind="grant",
                days=leave_type.grant_per_year,
                effective_on=date(first.year, _first_month(employee, first.year), 1),
                period=f"grant:{first.year}",
            )
    return written


def close_year(session: Session, *, policy: LeavePolicy, employee: Employee, year: int) -> int:
    """Year end: days above the carry-over cap are forfeited on 31 December; the rest is carried into
    1 January (a pair of rows, so the ledger shows the carry-over while the sum stays the same)."""
    written = 0
    end = date(year, 12, 31)
    for leave_type in policy.types.values():
        if not leave_type.tracked:
            continue
        mine = (LeaveLedgerEntry.employee_id == employee.id, LeaveLedgerEntry.leave_type == leave_type.key)
        balance = _sum(session, *mine, LeaveLedgerEntry.effective_on <= end)
        if balance <= 0:
            continue
        cap = leave_type.carry_over_cap
        carried = balance if cap is None else min(balance, cap)
        forfeited = balance - carried
        if forfeited > 0:
            written += book(
                session,
                employee_id=employee.id,
                leave_type=leave_type.key,
                kind="expiry",
                days=-forfeited,
                effective_on=end,
                period=f"forfeit:{year}",
                note=f"above the carry-over cap of {cap} days",
            )
        if carried > 0:
            written += book(
                session,
                employee_id=employee.id,
                leave_type=leave_type.key,
                kind="carry_over",
                days=-carried,
                effective_on=end,
                period=f"carry-out:{year}",
            )
            written += book(
                session,
                employee_id=employee.id,
                leave_type=leave_type.key,
                kind="carry_over",
                days=carried,
                effective_on=end + timedelta(days=1),
                period=f"carry-in:{year}",
            )
    return written


def carry_expiry_date(leave_type: LeaveType, year: int) -> date | None:
    """When days carried out of `year` expire (in the following year)."""
    if leave_type.carry_over_expires is None:
        return None
    month, day = leave_type.carry_over_expires
    # "02-29" is 28 February in a common year (and "04-31" is 30 April): the last day of that month.
    return date(year + 1, month, min(day, calendar.monthrange(year + 1, month)[1]))


def expire_carry_over(session: Session, *, policy: LeavePolicy, employee: Employee, year: int) -> int:
    """After the expiry date: carried days from `year` that were not used by then expire. Days used in
    the new year are taken from the carried days first."""
    written = 0
    for leave_type in policy.types.values():
        expires = carry_expiry_date(leave_type, year)
        if not leave_type.tracked or expires is None:
            continue
        remaining = _unused_carry(session, employee.id, leave_type.key, year, expires)
        if remaining > 0:
            written += book(
                session,
                employee_id=employee.id,
                leave_type=leave_type.key,
                kind="expiry",
                days=-remaining,
                effective_on=expires,
                period=f"carry-expiry:{year}",
                note=f"carried-over days not used by {expires:%d %b %Y}",
            )
    return written


def _unused_carry(session: Session, employee_id: int, leave_type: str, year: int, expires: date) -> Decimal:
    mine = (LeaveLedgerEntry.employee_id == employee_id, LeaveLedgerEntry.leave_type == leave_type)
    carried = _sum(session, *mine, LeaveLedgerEntry.period == f"carry-in:{year}")
    used = -_sum(
        session,
        *mine,
        LeaveLedgerEntry.kind.in_(COMMITTED),
        LeaveLedgerEntry.effective_on > date(year, 12, 31),
        LeaveLedgerEntry.effective_on <= expires,
    )
    return max(carried - max(used, ZERO), ZERO)


def run_due_bookings(session: Session, *, policy: LeavePolicy, today: date) -> int:
    """Catch up everything due by `today` for everyone. Safe to run any number of times."""
    employees = list(session.scalars(select(Employee).order_by(Employee.id)))
    return sum(catch_up(session, policy=policy, employee=e, today=today) for e in employees)


def catch_up(session: Session, *, policy: LeavePolicy, employee: Employee, today: date) -> int:
    """Book what is due for one employee by `today`: last year's remaining accruals and its close, this
    year's monthly accruals and grants, and expiry of carried days. Cheap when nothing is due (one query).

    Someone already in the ledger last year gets all of last year's months before the close, so a service
    that was down from late November to February still books December before capping the carry-over."""
    if _is_current(session, policy, employee, today):
        return 0
    written = 0
    if _has_entries_before(session, employee.id, date(today.year, 1, 1)):
        written += expire_carry_over(session, policy=policy, employee=employee, year=today.year - 2)
        for month in range(1, 13):
            written += accrue_month(session, policy=policy, employee=employee, month=date(today.year - 1, month, 1))
        written += close_year(session, policy=policy, employee=employee, year=today.year - 1)
    for month in range(1, today.month + 1):
        written += accrue_month(session, policy=policy, employee=employee, month=date(today.year, month, 1))
    if any(
        (expires := carry_expiry_date(t, today.year - 1)) is not None and today > expires for t in policy.types.values()
    ):
        written += expire_carry_over(session, policy=policy, employee=employee, year=today.year - 1)
    return written


def _is_current(session: Session, policy: LeavePolicy, employee: Employee, today: date) -> bool:
    """Whether this month's accruals are booked already (then everything before them is too), so the
    common case costs one query. Not when a year-end or expiry date has passed this month."""
    expiries = [carry_expiry_date(t, today.year - 1) for t in policy.types.values()]
    if today.month == 1 or any(e is not None and e.year == today.year and e.month == today.month for e in expiries):
        return False
    accruing = [t.key for t in policy.types.values() if t.tracked and t.accrual_per_year is not None]
    if not accruing or today.month < _first_month(employee, today.year):
        return not accruing
    booked = session.scalar(
        select(func.count()).where(
            LeaveLedgerEntry.employee_id == employee.id,
            LeaveLedgerEntry.leave_type.in_(accruing),
            LeaveLedgerEntry.period == f"accrual:{today:%Y-%m}",
        )
    )
    return booked == len(accruing)


def _has_entries_before(session: Session, employee_id: int, day: date) -> bool:
    return (
        session.scalar(
            select(LeaveLedgerEntry.id)
            .where(LeaveLedgerEntry.employee_id == employee_id, LeaveLedgerEntry.effective_on < day)
            .limit(1)
        )
        is not None
    )


# ------------------------------------------------------------------ projections


@dataclass(frozen=True)
class Projection:
    on: date
    days: Decimal
    accrued: Decimal  # accruals and grants still to come before `on`
    expiring: Decimal  # days that will be forfeited or expire before `on`


def project(
    session: Session, *, policy: LeavePolicy, employee: Employee, leave_type: LeaveType, today: date, on: date
) -> Projection:
    """The balance expected on `on`: today's bookings, plus accruals and grants still to come, minus
    year-end forfeits and carry-over expiry on the way. Booked future leave is already subtracted."""
    balance = booked_balance(session, employee_id=employee.id, leave_type=leave_type.key, as_of=today)
    if on <= today or not leave_type.tracked:
        return Projection(on=on, days=balance, accrued=ZERO, expiring=ZERO)
    mine = (LeaveLedgerEntry.employee_id == employee.id, LeaveLedgerEntry.leave_type == leave_type.key)
    accrued = ZERO
    expiring = ZERO
    # Days carried into this year that have not expired yet (used days are subtracted at the expiry step).
    carried_unused = ZERO
    expires_now = carry_expiry_date(leave_type, today.year - 1)
    if expires_now is not None and expires_now >= today:
        carried_unused = _sum(session, *mine, LeaveLedgerEntry.period == f"carry-in:{today.year - 1}")
    # Each event takes effect on the day after the date it is named for, as catch_up books it: the year-end
    # cap on 1 January (so today = 31 December still has it ahead), expiry the day after the expiry date.
    cursor = today
    while True:
        next_month = (cursor.replace(day=1) + timedelta(days=32)).replace(day=1)
        year_closed = date(cursor.year + 1, 1, 1)
        expires = carry_expiry_date(leave_type, cursor.year - 1)
        expired = expires + timedelta(days=1) if expires is not None else None
        events = [d for d in (next_month, year_closed, expired) if d is not None and cursor < d <= on]
        if not events:
            break
        step = min(events)
        if step == expired and expires is not None and carried_unused > 0:
            used_since = -_sum(
                session,
                *mine,
                LeaveLedgerEntry.kind.in_(COMMITTED),
                LeaveLedgerEntry.effective_on > date(expires.year - 1, 12, 31),
                LeaveLedgerEntry.effective_on <= expires,
            )
            lost = max(carried_unused - max(used_since, ZERO), ZERO)
            balance -= lost
            expiring += lost
            carried_unused = ZERO
        if step == year_closed:
            # The year closes on what it holds without leave booked for after it (as close_year sums), so
            # January's booked leave is taken from the carried days, not from the forfeited ones.
            ahead = _sum(
                session,
                *mine,
                LeaveLedgerEntry.kind.in_(COMMITTED),
                LeaveLedgerEntry.effective_on > date(cursor.year, 12, 31),
            )
            held = balance - ahead
            cap = leave_type.carry_over_cap
            carried = held if cap is None else min(held, cap)
            if held > carried:
                expiring += held - carried
                balance = carried + ahead
            carried_unused = max(carried, ZERO)
        if step == next_month and next_month.month >= _first_month(employee, next_month.year):
            gain = leave_type.monthly_accrual(next_month.month)
            if next_month.month == 1 and leave_type.grant_per_year is not None:
                gain += leave_type.grant_per_year
            balance += gain
            accrued += gain
        cursor = step
    return Projection(on=on, days=balance, accrued=accrued, expiring=expiring)
