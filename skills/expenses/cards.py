"""An expense claim's cards: the employee's, the approver's and finance's, their buttons, and the rules they cite."""

from __future__ import annotations

from collections.abc import Sequence

from bot.messages import Button, Citation, escape_mrkdwn, seen
from bot.models import Expense
from bot.outbox import person_channel
from knowledge.answer import best_sentence, citations_for
from skills.base import SkillContext
from skills.expenses import action_ids, service
from skills.expenses.config import ExpensePolicy
from skills.expenses.service import LABELS, Flag, money

NAME = "expense"  # the skill's name: the prefix of its action ids, and the skill its replies come from


def card_key(expense: Expense) -> str:
    return f"expense:{expense.id}:card"


def approval_key(expense: Expense) -> str:
    return f"expense:{expense.id}:approval"


def claim_url(public_url: str, expense: Expense) -> str:
    """The claim's page in the staff console (its receipt shows there, for those who may see it)."""
    return f"{public_url.rstrip('/')}/console/items/expense/{expense.id}"


def draft_buttons(expense: Expense) -> list[Button]:
    """A draft's buttons: submit, edit or cancel it."""
    return [
        Button(action_ids.CONFIRM, "Submit", str(expense.id), "primary"),
        Button(action_ids.EDIT, "Edit", str(expense.id)),
        Button(action_ids.DISCARD, "Cancel", str(expense.id), "danger"),
    ]


class ExpenseCards:
    """The cards that show a claim: their text, decision buttons and cited rules, kept up to date as it moves."""

    name = NAME

    def __init__(self, policy: ExpensePolicy) -> None:
        self.policy = policy

    def cite(self, ctx: SkillContext, flags: list[Flag]) -> dict[str, tuple[list[Citation], str]]:
        cited: dict[str, tuple[list[Citation], str]] = {}
        for flag in flags:
            query = self.policy.policy.get(flag.rule)
            if not query:
                continue
            hits = ctx.index.search(query, k=1, audiences=["everyone"])
            if hits:
                cited[flag.message] = (citations_for(hits, limit=1), best_sentence(flag.message, hits, ctx.index))
        return cited

    def card_text(
        self,
        expense: Expense,
        heading: str,
        *,
        notes: Sequence[str] = (),
        quotes: dict[str, tuple[list[Citation], str]] | None = None,
    ) -> str:
        amount = money(expense.amount, expense.currency)
        if expense.currency != expense.base_currency:
            amount += f" (≈ {money(expense.base_amount, expense.base_currency)} at {expense.rate})"
        lines = [
            f"*{heading}* — claim #{expense.id}",
            f"• Amount: *{amount}*",
            f"• Date: {expense.spent_on:%a %d %b %Y} · Category: {expense.category.replace('_', '/')}",
        ]
        if expense.merchant:
            lines.append(f"• Merchant: {escape_mrkdwn(expense.merchant)}")
        if expense.attendees:
            lines.append(f"• Attendees: {expense.attendees}")
        if expense.distance:
            lines.append(f"• Distance: {expense.distance} {expense.distance_unit}")
        lines.append(f"• Receipt: {'attached' if expense.receipt_sha256 else 'none'}")
        lines.append(f"• Status: {LABELS[expense.status]}")
        for note in notes:
            lines.append(f"• _{note}_")
        for flag in expense.flags:
            lines.append(f"⚠️ {flag}")
            quote = (quotes or {}).get(flag, ([], ""))[1]
            if quote:
                lines.append(f"> {quote}")
        if expense.decision_note:
            lines.append(f"• Note: {expense.decision_note}")
        return "\n".join(lines)

    def approval_text(self, expense: Expense, heading: str, why: str | None = None, *, public_url: str = "") -> str:
        """An approver's card; with the console's `public_url`, a link to the claim's page (and its receipt)."""
        text = self.card_text(expense, f"{heading} — {expense.employee.name}")
        if why:
            text += f"\n• Why you: _{why}_"
        if service.needs_finance(expense, self.policy):
            threshold = money(self.policy.finance_approval_over, self.policy.base_currency)
            text += f"\n• Above {threshold}: finance approves too."
        if public_url:
            what = "See the claim and its receipt" if expense.receipt_sha256 else "See the claim"
            text += f"\n• <{claim_url(public_url, expense)}|{what} in the console>"
        return text

    def decision_buttons(self, expense: Expense) -> list[Button]:
        return [
            Button(action_ids.APPROVE, "Approve", seen(expense.id, expense.revision), "primary"),
            Button(action_ids.REJECT, "Reject", seen(expense.id, expense.revision), "danger"),
        ]

    def close_cards(self, ctx: SkillContext, expense: Expense, outcome: str, *, finance: bool = True) -> None:
        if expense.approver is not None:
            ctx.notify(
                channel=person_channel(expense.approver, expense.platform),
                text=self.approval_text(expense, outcome, public_url=ctx.settings.public_url),
                update_key=approval_key(expense),
            )
        if finance and expense.status not in ("approved",):
            ctx.notify(
                channel=ctx.settings.finance_destination,
                text=self.approval_text(expense, outcome, public_url=ctx.settings.public_url),
                update_key=f"expense:{expense.id}:finance",
            )

    def update_card(self, ctx: SkillContext, expense: Expense) -> None:
        buttons = []
        if expense.status == "submitted":
            buttons = [
                Button(action_ids.EDIT, "Edit", str(expense.id)),
                Button(action_ids.WITHDRAW, "Withdraw", str(expense.id), "danger"),
            ]
        ctx.notify(
            channel=expense.channel,
            thread_ts=expense.thread_ts,
            text=self.card_text(expense, "Your claim"),
            update_key=card_key(expense),
            buttons=buttons,
        )

    def tell(self, ctx: SkillContext, expense: Expense, text: str) -> None:
        ctx.notify(channel=expense.channel, thread_ts=expense.thread_ts, text=text)
