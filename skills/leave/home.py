"""What the Slack App Home shows about leave: balances, the employee's upcoming and pending leave, the
requests waiting for them as an approver, and (for managers) their team calendar feed."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import Employee, LeaveRequest
from skills.leave import ledger
from skills.leave.config import LeavePolicy
from skills.leave.requests import fmt_days, fmt_range

UPCOMING_SHOWN = 20  # the employee's own upcoming and pending leave listed; the rest are counted


@dataclass
class HomeSection:
    title: str
    lines: list[str] = field(default_factory=list)
    hidden: int = 0  # items of the list left out of `lines`
    more_url: str = ""  # where the whole list is (the staff console)


def calendar_token(secret_key: str, manager: Employee) -> str:
    """The secret part of a manager's calendar link (calendar apps cannot send auth headers)."""
    digest = hmac.new(secret_key.encode(), f"team-calendar:{manager.slack_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def calendar_url(public_url: str, secret_key: str, manager: Employee) -> str:
    return f"{public_url.rstrip('/')}/calendar/{manager.slack_id}.ics?token={calendar_token(secret_key, manager)}"


def has_reports(session: Session, employee: Employee) -> bool:
    return session.scalar(select(Employee.id).where(Employee.manager_id == employee.id).limit(1)) is not None


def home_sections(
    session: Session, *, policy: LeavePolicy, employee: Employee, today: date, public_url: str, secret_key: str
) -> list[HomeSection]:
    balances = HomeSection("Your leave balances")
    for kind in policy.types.values():
        if not kind.tracked:
            continue
        balance = ledger.booked_balance(session, employee_id=employee.id, leave_type=kind.key, as_of=today)
        pending = ledger.pending_days(session, employee_id=employee.id, leave_type=kind.key)
        extra = f" ({fmt_days(pending)} pending)" if pending else ""
        balances.lines.append(f"{kind.label}: *{fmt_days(balance)}* days{extra}")
    console = f"{public_url.rstrip('/')}/console"
    upcoming = (
        LeaveRequest.employee_id == employee.id,
        LeaveRequest.status.in_(("pending", "approved")),
        LeaveRequest.end_date >= today,
    )
    mine = HomeSection("Your upcoming and pending leave", more_url=console)
    for request in session.scalars(
        select(LeaveRequest).where(*upcoming).order_by(LeaveRequest.start_date).limit(UPCOMING_SHOWN)
    ):
        label = policy.types[request.leave_type].label if request.leave_type in policy.types else "Leave"
        when = fmt_range(request.start_date, request.end_date, request.start_half, request.end_half)
        mine.lines.append(f"#{request.id} {label}, {when} — {request.status}")
    total = session.scalar(select(func.count()).select_from(LeaveRequest).where(*upcoming)) or 0
    mine.hidden = total - len(mine.lines)
    if not mine.lines:
        mine.lines.append("Nothing booked. Tell me e.g. “vacation Dec 22 to Jan 2”.")
    sections = [balances, mine]
    waiting = list(
        session.scalars(
            select(LeaveRequest)
            .where(LeaveRequest.approver_id == employee.id, LeaveRequest.status == "pending")
            .order_by(LeaveRequest.submitted_at)
        )
    )
    if waiting:
        approvals = HomeSection("Waiting for your approval", more_url=f"{console}/team")
        for request in waiting:
            when = fmt_range(request.start_date, request.end_date, request.start_half, request.end_half)
            approvals.lines.append(f"#{request.id} {request.employee.name}: {when} ({fmt_days(request.days)} days)")
        sections.append(approvals)
    if has_reports(session, employee):
        sections.append(
            HomeSection(
                "Team calendar",
                [f"Subscribe in your calendar app: {calendar_url(public_url, secret_key, employee)}"],
            )
        )
    return sections
