"""Scheduled expense work: remind approvers of claims waiting too long (a bounded number of times, then
finance is told). A claim is never approved or dropped silently."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit, outbox
from bot.db import aware
from bot.jobs import Job, JobContext
from bot.messages import Button, seen
from bot.models import Expense
from skills.expenses import action_ids
from skills.expenses.config import ExpensePolicy
from skills.expenses.service import PENDING, money


def remind_expense_approvers(
    session: Session, *, policy: ExpensePolicy, now: datetime, finance_destination: str
) -> int:
    """Queue reminders for claims pending past the configured time; returns how many were queued."""
    first = timedelta(hours=policy.reminder_first_hours)
    every = timedelta(hours=policy.reminder_every_hours)
    queued = 0
    for expense in session.scalars(
        select(Expense).where(Expense.status.in_(PENDING), Expense.submitted_at.is_not(None))
    ):
        submitted = aware(expense.submitted_at, now)
        assert submitted is not None
        if now < submitted + first + every * expense.reminders_sent:
            continue
        if expense.reminders_sent > policy.max_reminders:
            continue  # finance was told already
        buttons = [
            Button(action_ids.APPROVE, "Approve", seen(expense.id, expense.revision), "primary"),
            Button(action_ids.REJECT, "Reject", seen(expense.id, expense.revision), "danger"),
        ]
        summary = (
            f"{expense.employee.name}'s claim #{expense.id} ({money(expense.amount, expense.currency)}, "
            f"{expense.category}) has waited {int((now - submitted).total_seconds() // 3600)} hours"
        )
        waiting_on_manager = expense.status == "submitted" and expense.approver is not None
        if waiting_on_manager and expense.reminders_sent < policy.max_reminders:
            assert expense.approver is not None
            channel = outbox.person_channel(expense.approver, expense.platform)
            outbox.queue(session, channel=channel, text=f"⏰ Reminder: {summary} for your decision.", buttons=buttons)
        else:
            outbox.queue(
                session,
                channel=finance_destination,
                text=f"⚠️ {summary}; finance, please decide or chase it.",
                buttons=buttons,
            )
        expense.reminders_sent += 1
        audit.record(
            session,
            entity="expense",
            entity_id=expense.id,
            action="reminded",
            actor_id=None,
            from_state=expense.status,
            to_state=expense.status,
            detail={"reminder": expense.reminders_sent},
        )
        queued += 1
    session.flush()
    return queued


def scheduled(policy: ExpensePolicy) -> tuple[Job, ...]:
    """The expense skill's jobs: reminders to approvers, every half hour."""

    def reminders(ctx: JobContext) -> None:
        with ctx.database.session_scope() as session:
            remind_expense_approvers(
                session, policy=policy, now=ctx.now, finance_destination=ctx.settings.finance_destination
            )

    return (Job("expense_reminders", reminders, "interval", {"minutes": 30}),)
