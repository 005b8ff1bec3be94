"""Changing an expense claim before it is decided: the edit form, its checks, and typed corrections."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.db import local_date
from bot.messages import Message, Modal, ModalField, Reply
from bot.models import Expense
from bot.outbox import person_channel
from skills.base import NotACorrection, SkillContext, date_order
from skills.expenses import action_ids, service
from skills.expenses.cards import NAME, ExpenseCards, approval_key, card_key, draft_buttons
from skills.expenses.categories import CATEGORIES
from skills.expenses.config import ExpensePolicy
from skills.expenses.currencies import minor_units
from skills.expenses.parse import parse_correction
from skills.expenses.service import Draft, money


class ExpenseEdits:
    """Edits of a claim (the form and typed corrections), saved with their flags recomputed and the cards refreshed."""

    name = NAME

    def __init__(self, policy: ExpensePolicy, cards: ExpenseCards) -> None:
        self.policy = policy
        self.cards = cards

    def edit_form(self, expense: Expense, ctx: SkillContext) -> Reply:
        service.check_editor(expense, ctx.employee)
        currencies = tuple((code, code) for code in sorted(self.policy.rates))
        return Reply(
            text="",
            modal=Modal(
                callback_id=action_ids.EDIT_SUBMIT,
                title=f"Edit claim #{expense.id}",
                fields=(
                    ModalField("amount", "Amount", initial=f"{expense.amount:.2f}"),
                    ModalField("currency", "Currency", kind="select", options=currencies, initial=expense.currency),
                    ModalField("spent_on", "Date", kind="date", initial=expense.spent_on.isoformat()),
                    ModalField(
                        "category",
                        "Category",
                        kind="select",
                        initial=expense.category,
                        options=tuple((c, c.replace("_", "/")) for c in CATEGORIES),
                    ),
                    ModalField("merchant", "Merchant", optional=True, initial=expense.merchant or ""),
                    ModalField("attendees", "Attendees (meals)", optional=True, initial=str(expense.attendees or "")),
                    ModalField("description", "Description", optional=True, initial=expense.description),
                ),
                private_metadata=str(expense.id),
                submit_label="Save",
            ),
        )

    def edited(self, expense: Expense, form: dict[str, str], ctx: SkillContext) -> Reply:
        service.check_editor(expense, ctx.employee)
        today = local_date(ctx.now(), ctx.employee.tz)
        problems: list[str] = []
        try:
            amount = Decimal(form.get("amount", "").replace(",", "").strip()).quantize(Decimal("0.01"))
        except InvalidOperation:
            amount = Decimal(0)
            problems.append(f"“{form.get('amount', '')}” is not an amount.")
        if amount <= 0 and not problems:
            problems.append("The amount must be more than zero.")
        currency = form.get("currency", "")
        if currency not in self.policy.rates:
            problems.append(f"Choose a currency from the list ({', '.join(sorted(self.policy.rates))}).")
        try:
            spent_on = date.fromisoformat(form.get("spent_on", ""))
            if spent_on > today:
                problems.append("The date is in the future.")
        except ValueError:
            spent_on = today
            problems.append(f"“{form.get('spent_on', '')}” is not a date.")
        category = form.get("category", "")
        if category not in CATEGORIES:
            problems.append("Choose a category from the list.")
        attendees_text = form.get("attendees", "").strip()
        if attendees_text and not attendees_text.isdigit():
            problems.append("Attendees must be a whole number.")
        if problems:
            return Reply(text=" ".join(problems) + " Nothing was changed.", ephemeral=True, skill=self.name)
        draft = _draft_of(
            expense,
            amount=amount,
            currency=currency,
            spent_on=spent_on,
            category=category,
            merchant=form.get("merchant", "").strip() or None,
            attendees=int(attendees_text) if attendees_text else None,
            description=form.get("description", "").strip() or expense.description,
        )
        return self._save_edit(expense, draft, ctx, today)

    def _save_edit(self, expense: Expense, draft: Draft, ctx: SkillContext, today: date) -> Reply:
        """Write an edit (audited, flags recomputed) and refresh the cards that show the claim."""
        flags = service.audit_claim(
            ctx.session, policy=self.policy, employee=ctx.employee, draft=draft, today=today, exclude_id=expense.id
        )
        service.apply_edit(ctx.session, expense, draft, flags, policy=self.policy, actor=ctx.employee)
        cited = self.cards.cite(ctx, flags)
        if expense.status == "submitted":
            # Still waiting for the manager: their card shows the new figures, and the employee's card too.
            self.cards.update_card(ctx, expense)
            if expense.approver is not None:
                ctx.notify(
                    channel=person_channel(expense.approver, expense.platform),
                    text=self.cards.approval_text(
                        expense, "Expense claim to approve (edited)", public_url=ctx.settings.public_url
                    ),
                    update_key=approval_key(expense),
                    buttons=self.cards.decision_buttons(expense),
                )
            return Reply(text=f"Updated claim #{expense.id}; your manager sees the new details.", skill=self.name)
        ctx.notify(
            channel=expense.channel,
            thread_ts=expense.thread_ts,
            text=self.cards.card_text(expense, "Please check your claim", quotes=cited),
            update_key=card_key(expense),
            buttons=draft_buttons(expense),
            citations=[c for citations, _ in cited.values() for c in citations],
        )
        return Reply(text=f"Updated claim #{expense.id}; check the card and press Submit.", skill=self.name)

    def correct(self, expense: Expense, message: Message, ctx: SkillContext) -> Reply:
        """A correction typed right after the claim's card ("sorry, it's 64 not 46", "that was in euros", "wrong
        day, it was march 5"): the draft changes, the card shows it. NotACorrection when nothing would change."""
        if expense.status != "draft" or expense.employee_id != ctx.employee.id:
            raise NotACorrection
        today = local_date(ctx.now(), ctx.employee.tz)
        said = parse_correction(
            message.text,
            today=today,
            known_currencies=tuple(self.policy.rates),
            date_order=date_order(ctx.employee),
        )
        amount = said.amount if said.amount is not None and said.amount != expense.amount else expense.amount
        currency = said.currency or expense.currency
        spent_on = said.spent_on or expense.spent_on
        if (amount, currency, spent_on) == (expense.amount, expense.currency, expense.spent_on):
            raise NotACorrection
        if spent_on > today:
            return Reply(text=f"{spent_on:%a %d %b %Y} is in the future. Nothing was changed.", skill=self.name)
        changed = []
        if (amount, currency) != (expense.amount, expense.currency):
            amount = amount.quantize(Decimal(1).scaleb(-minor_units(currency)))
            changed.append(f"{money(expense.amount, expense.currency)} → *{money(amount, currency)}*")
        if spent_on != expense.spent_on:
            changed.append(f"{expense.spent_on:%a %d %b} → *{spent_on:%a %d %b %Y}*")
        self._save_edit(expense, _draft_of(expense, amount=amount, currency=currency, spent_on=spent_on), ctx, today)
        return Reply(
            text=f"Changed claim #{expense.id}: {'; '.join(changed)}. Press Submit when it looks right.",
            buttons=draft_buttons(expense),
            skill=self.name,
        )


def _draft_of(expense: Expense, **changes: Any) -> Draft:
    """The claim as a Draft, with `changes` (amount, currency, spent_on, category, ...) applied."""
    values: dict[str, Any] = {
        "amount": expense.amount,
        "currency": expense.currency,
        "spent_on": expense.spent_on,
        "category": expense.category,
        "merchant": expense.merchant,
        "attendees": expense.attendees,
        "description": expense.description,
        "distance": expense.distance,
        "distance_unit": expense.distance_unit,
        "receipt_sha256": expense.receipt_sha256,
        "receipt_path": expense.receipt_path,
        "receipt_total": expense.receipt_total,
        "receipt_date": expense.receipt_date,
        "receipt_merchant": expense.receipt_merchant,
    }
    return Draft(**{**values, **changes})
