"""Sending an expense claim on: submitting it to the manager, then to finance above the threshold."""

from __future__ import annotations

from bot.db import local_date
from bot.messages import Button, Reply
from bot.models import Expense
from bot.outbox import person_channel
from skills.base import SkillContext
from skills.expenses import action_ids, service
from skills.expenses.cards import NAME, ExpenseCards, approval_key
from skills.expenses.config import ExpensePolicy


class ExpenseApprovals:
    """Submitting a claim and moving it on after each approval: to finance, or to be reimbursed."""

    name = NAME

    def __init__(self, policy: ExpensePolicy, cards: ExpenseCards) -> None:
        self.policy = policy
        self.cards = cards

    def submit(self, expense: Expense, ctx: SkillContext) -> Reply:
        today = local_date(ctx.now(), ctx.employee.tz)
        approver, why = service.claim_approver(ctx.session, ctx.employee, today)
        service.transition(ctx.session, expense, "submitted", actor=ctx.employee, now=ctx.now(), policy=self.policy)
        expense.approver_id = approver.id if approver else None
        ctx.session.flush()
        self.cards.update_card(ctx, expense)
        if approver is None:
            self._to_finance(ctx, expense, "No manager in the directory: finance decides.")
            return Reply(text=f"Submitted claim #{expense.id}; finance will decide it.", skill=self.name)
        ctx.notify(
            channel=person_channel(approver, expense.platform),
            text=self.cards.approval_text(expense, "Expense claim to approve", why, public_url=ctx.settings.public_url),
            update_key=approval_key(expense),
            buttons=self.cards.decision_buttons(expense),
        )
        return Reply(
            text=f"Submitted claim #{expense.id} to {approver.name}. I'll tell you here at each step.", skill=self.name
        )

    def _to_finance(self, ctx: SkillContext, expense: Expense, heading: str) -> None:
        ctx.notify(
            channel=ctx.settings.finance_destination,
            text=self.cards.approval_text(expense, heading, public_url=ctx.settings.public_url),
            update_key=f"expense:{expense.id}:finance",
            buttons=self.cards.decision_buttons(expense),
        )

    def after_approval(self, expense: Expense, ctx: SkillContext) -> None:
        self.cards.update_card(ctx, expense)
        if expense.status == "manager_approved":
            self.cards.tell(
                ctx, expense, f"✅ {ctx.employee.name} approved claim #{expense.id}; finance approves it next."
            )
            self.cards.close_cards(
                ctx, expense, f"✅ Approved by {ctx.employee.name} — now with finance", finance=False
            )
            self._to_finance(ctx, expense, "Expense claim for finance approval")
            return
        self.cards.tell(ctx, expense, f"✅ Claim #{expense.id} approved by {ctx.employee.name}; it will be reimbursed.")
        self.cards.close_cards(ctx, expense, f"✅ Approved by {ctx.employee.name}")
        ctx.notify(
            channel=ctx.settings.finance_destination,
            text=self.cards.card_text(expense, "Approved — to reimburse"),
            update_key=f"expense:{expense.id}:finance",
            buttons=[Button(action_ids.REIMBURSED, "Mark reimbursed", str(expense.id), "primary")],
        )
