"""Scheduled leave work: ledger bookings that fall due (accruals, grants, year end, carry-over expiry) and
reminders for requests waiting on an approver — a bounded number, then People Ops is told. A request is
never expired silently."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit, outbox
from bot.db import aware
from bot.jobs import Job, JobContext
from bot.messages import Button, seen
from bot.models import LeaveRequest
from skills.leave import action_ids, ledger
from skills.leave.config import LeavePolicy
from skills.leave.requests import fmt_days, fmt_range


def decision_buttons(request: LeaveRequest) -> list[Button]:
    return [
        Button(action_ids.APPROVE, "Approve", seen(request.id, request.revision), "primary"),
        Button(action_ids.DENY, "Deny", seen(request.id, request.revision), "danger"),
    ]


def _hours(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours} hours" if hours < 48 else f"{hours // 24} days"


def remind_approvers(session: Session, *, policy: LeavePolicy, now: datetime, hr_destination: str) -> int:
    """Remind approvers of requests pending too long; after the last reminder and one more interval, tell
    People Ops (who may decide it). Returns how many notifications were queued."""
    rules = policy.reminders
    first = timedelta(hours=rules.first_after_hours)
    every = timedelta(hours=rules.every_hours)
    queued = 0
    pending = session.scalars(
        select(LeaveRequest).where(
            LeaveRequest.status == "pending",
            LeaveRequest.escalated_at.is_(None),
            LeaveRequest.submitted_at.is_not(None),
        )
    )
    for request in pending:
        assert request.submitted_at is not None
        submitted = aware(request.submitted_at, now)
        assert submitted is not None
        due = submitted + first + every * request.reminders_sent
        if now < due:
            continue
        waited = now - submitted
        label = policy.types[request.leave_type].label.lower() if request.leave_type in policy.types else "leave"
        when = fmt_range(request.start_date, request.end_date, request.start_half, request.end_half)
        summary = f"{request.employee.name}'s {label} request #{request.id} ({when}, {fmt_days(request.days)} days)"
        if request.reminders_sent < rules.max_reminders and request.approver is not None:
            outbox.queue(
                session,
                channel=outbox.person_channel(request.approver, request.platform),
                text=f"⏰ Reminder: {summary} has been waiting {_hours(waited)} for your decision.",
                buttons=decision_buttons(request),
            )
            request.reminders_sent += 1
            request.last_reminded_at = now
            _audit_pending(session, request, "reminded", {"reminder": request.reminders_sent})
        else:
            approver = request.approver.name if request.approver else "no approver"
            outbox.queue(
                session,
                channel=hr_destination,
                text=(
                    f"⚠️ {summary} has been waiting {_hours(waited)} for {approver} after "
                    f"{request.reminders_sent} reminder(s). People Ops may decide it here."
                ),
                update_key=f"leave:{request.id}:hr",
                buttons=decision_buttons(request),
            )
            outbox.queue(
                session,
                channel=request.channel,
                thread_ts=request.thread_ts,
                text="Your request is still waiting for a decision, so I've asked People Ops to follow up.",
            )
            request.escalated_at = now
            _audit_pending(session, request, "escalated", {"after_reminders": request.reminders_sent})
        queued += 1
    session.flush()
    return queued


def _audit_pending(session: Session, request: LeaveRequest, action: str, detail: dict[str, int]) -> None:
    """A scheduler action on a waiting request (no state change, but part of its history)."""
    audit.record(
        session,
        entity="leave_request",
        entity_id=request.id,
        action=action,
        actor_id=None,
        from_state="pending",
        to_state="pending",
        detail=detail,
    )


def book_due(session: Session, *, policy: LeavePolicy, now: datetime) -> int:
    """Accruals, grants, year-end close and carry-over expiry due by today (idempotent)."""
    return ledger.run_due_bookings(session, policy=policy, today=now.date())


def scheduled(policy: LeavePolicy) -> tuple[Job, ...]:
    """The leave skill's jobs. Bookings hourly rather than monthly: a missed run (server down on the 1st) is
    caught up, and booking twice is impossible (the ledger's period key), so running often costs nothing."""

    def bookings(ctx: JobContext) -> None:
        with ctx.database.session_scope() as session:
            book_due(session, policy=policy, now=ctx.now)

    def reminders(ctx: JobContext) -> None:
        with ctx.database.session_scope() as session:
            remind_approvers(session, policy=policy, now=ctx.now, hr_destination=ctx.settings.hr_destination)

    return (
        Job("leave_bookings", bookings, "interval", {"hours": 1}),
        Job("leave_reminders", reminders, "interval", {"minutes": 15}),
    )
