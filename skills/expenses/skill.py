"""Expenses: a sentence, a receipt, or both become a checked claim card; the manager approves, finance too
above the threshold, then finance marks it reimbursed. Policy findings are explained and cited."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from bot.db import local_date
from bot.messages import Button, Citation, FileRef, Message, Modal, ModalField, Reply, escape_mrkdwn, seen
from bot.models import Expense
from bot.outbox import person_channel
from bot.router import QUESTION, drops_it, read_act
from bot.settings import Settings
from integrations.files import (
    ALL_KINDS,
    READ_SECONDS,
    FetchFailed,
    ReadTooSlow,
    StoredFile,
    TooLargeToRead,
    UploadRejected,
    discard,
    fetch_slack_file,
    read_in_pool,
)
from integrations.ocr import OcrUnavailable
from knowledge.answer import best_sentence, citations_for
from skills.base import (
    Ahead,
    NotACorrection,
    SkillContext,
    ask_for_text,
    changed_since_shown,
    date_order,
    load_examples,
    pending_memo,
    row_id,
)
from skills.expenses import service
from skills.expenses.categories import CATEGORIES
from skills.expenses.config import ExpensePolicy, load_expense_policy
from skills.expenses.currencies import minor_units
from skills.expenses.parse import ParsedExpense, parse_correction, parse_expense
from skills.expenses.receipts import ReceiptFields, ReceiptUnreadable, read_receipt
from skills.expenses.service import LABELS, Draft, Flag, money
from skills.policy import answer_from_sources, answer_in_between, cited_reply

log = logging.getLogger(__name__)
_STATUS = re.compile(
    r"\b(approved|status|pending|rejected|hear back|get my money|been (processed|paid|reimbursed))\b", re.IGNORECASE
)
_QUESTION = re.compile(r"^(how|what|when|can|do|does|is|are|which|who)\b|\?$", re.IGNORECASE)


PENDING = "expense_claim"  # the memo key of a claim waiting for one more detail

START_CLAIM = (
    "Tell me what you spent, for what and when — e.g. “45.20 USD taxi to the client site yesterday” — or attach "
    "a photo or PDF of the receipt."
)


def card_key(expense: Expense) -> str:
    return f"expense:{expense.id}:card"


def approval_key(expense: Expense) -> str:
    return f"expense:{expense.id}:approval"


@dataclass(frozen=True)
class ReceiptRead:
    """A message's receipt, read before the claim's transaction opens: the stored file and its fields; nothing
    (no Slack token, or Slack would not hand the file over); or why it was refused, in words for the employee."""

    receipt: tuple[StoredFile, ReceiptFields] | None = None
    refused: str | None = None


class ExpenseSkill:
    name = "expense"
    description = "Expense claims: submit from a sentence or a receipt, approvals, reimbursement status"

    def __init__(self, policy: ExpensePolicy | None = None) -> None:
        self.policy = policy or load_expense_policy()
        self.examples: Sequence[str] = load_examples("expense")
        self.file_seconds = READ_SECONDS  # how long one receipt may take to download and read

    def prepare(self, message: Message, ahead: Ahead) -> Callable[[Message, SkillContext], Reply]:
        """Read the message's receipt (download, PDF, OCR: the slow part) with no transaction open, and return
        the handler that answers with it (see skills.base.Prepares)."""
        if message.action_id or not message.files:
            return self.handle
        read = self._read_receipt(message, ahead.settings)
        return lambda message, ctx: self.handle(message, ctx, read=read)

    def handle(self, message: Message, ctx: SkillContext, *, read: ReceiptRead | None = None) -> Reply:
        """Answer a message; `read` is its receipt as `prepare` read it (read here when not given)."""
        if message.action_id:
            return self._action(message, ctx)
        text = message.text.strip()
        receipt: tuple[StoredFile, ReceiptFields] | None = None
        if message.files:
            if read is None:
                read = self._read_receipt(message, ctx.settings)
            if read.refused is not None:  # a refused file writes nothing
                return Reply(text=f"{read.refused} Nothing was saved.", ephemeral=True, skill=self.name)
            receipt = read.receipt
        # A claim this skill asked one more detail of ("When did you spend it?"), if that was the last thing said.
        pending = pending_memo(ctx, self.name, PENDING) if receipt is None else None
        if pending is not None and drops_it(text):
            return Reply(text="Okay, I've dropped that claim. Nothing was saved.", skill=self.name)
        if receipt is None and (ctx.about_own_records or _STATUS.search(text)) and not re.search(r"\d", text):
            return self._status(ctx)
        today = local_date(ctx.now(), ctx.employee.tz)
        parsed = self._parse(text, ctx, today)
        if receipt is None and parsed.amount is None and pending is not None and read_act(text) == QUESTION:
            # A question in between ("do I need a receipt?"): answered, and the claim still waits for its detail.
            return answer_in_between(
                text,
                ctx,
                message.channel_type,
                self.name,
                waiting={PENDING: pending},
                ask_again="Now, about your claim: " + self._still_missing(pending, ctx, today),
            )
        if receipt is None and parsed.amount is None and _QUESTION.search(text):
            answer = answer_from_sources(text, ctx, message.channel_type)
            if answer.confident:
                return cited_reply(text, answer, ctx, self.name)
        if pending is not None and self._missing(parsed, None) and (parsed.amount or parsed.spent_on):
            # The answer to the question (an amount, a date): read together with the claim it completes. The
            # kind of expense is asked once: still unsaid, it is "other" on the card, which Edit changes.
            text = f"{pending} {text}"
            parsed = self._parse(text, ctx, today)
            if parsed.category is None:
                parsed = replace(
                    parsed, category="other", questions=tuple(q for q in parsed.questions if "kind of" not in q)
                )
        return self._claim(text, parsed, receipt, message, ctx, today)

    def _parse(self, text: str, ctx: SkillContext, today: date) -> ParsedExpense:
        return parse_expense(
            text,
            today=today,
            default_currency=self.policy.base_currency,
            mileage_rate=self.policy.mileage_rate,
            mileage_unit=self.policy.mileage_unit,
            known_currencies=tuple(self.policy.rates),
            date_order=date_order(ctx.employee),
        )

    def _still_missing(self, pending: str, ctx: SkillContext, today: date) -> str:
        parsed = self._parse(pending, ctx, today)
        return " ".join(self._missing(parsed, None)) or "please send it again with the amount and the date."

    @staticmethod
    def _missing(parsed: ParsedExpense, fields: ReceiptFields | None) -> list[str]:
        """The questions to ask before a claim can be drafted: its own, then the amount and the date."""
        asked = " ".join(parsed.questions).lower()
        missing = []
        if parsed.amount is None and (fields is None or fields.total is None) and "how much" not in asked:
            missing.append("How much was it (with the currency)?")
        if parsed.spent_on is None and (fields is None or fields.date is None) and "when" not in asked:
            missing.append("On which date?")
        if missing or (parsed.questions and not fields):
            return list(dict.fromkeys([*parsed.questions, *missing]))
        return []

    # ------------------------------------------------------------ claims

    def _read_receipt(self, message: Message, settings: Settings) -> ReceiptRead:
        """The message's first file as a receipt, downloaded and read on the shared file pool within
        file_seconds (integrations.files.read_in_pool)."""
        token = settings.slack_bot_token
        if not token:
            return ReceiptRead()
        ref = message.files[0]
        deadline = time.monotonic() + self.file_seconds
        try:
            stored, fields = read_in_pool(
                partial(_fetch_and_read, ref, settings, token=token, deadline=deadline),
                name=ref.name,
                seconds=self.file_seconds,
            )
        except FetchFailed as exc:
            log.warning("receipt %s not fetched: %s", ref.id, exc)
            return ReceiptRead()
        except (TooLargeToRead, ReadTooSlow) as exc:
            return ReceiptRead(refused=f"{exc} Please send a smaller scan or a photo of the receipt.")
        except UploadRejected as exc:
            return ReceiptRead(refused=str(exc))
        if fields.currency is not None and fields.currency not in self.policy.rates:
            # "$" or "¥" alone, or a currency we don't take: the sentence or the default decides, and the
            # card shows the currency used.
            fields = replace(fields, currency=None)
        return ReceiptRead(receipt=(stored, fields))

    def _claim(
        self,
        text: str,
        parsed: ParsedExpense,
        receipt: tuple[StoredFile, ReceiptFields] | None,
        message: Message,
        ctx: SkillContext,
        today: date,
    ) -> Reply:
        if parsed.problems:
            return Reply(text=" ".join(parsed.problems) + " Nothing was saved.", skill=self.name)
        fields = receipt[1] if receipt else None
        amount = parsed.amount if parsed.amount is not None else (fields.total if fields else None)
        currency = parsed.currency or (fields.currency if fields and fields.currency else None)
        if amount is not None and currency is None:
            currency = self.policy.base_currency
        spent_on = parsed.spent_on or (fields.date if fields else None)
        questions = self._missing(parsed, fields)
        if questions:
            # The next message here is the answer: it is read together with this one (see handle).
            ctx.conversation.awaiting_skill = self.name
            return Reply(text=" ".join(questions) + " Nothing was saved yet.", skill=self.name, memo={PENDING: text})
        assert amount is not None and currency is not None and spent_on is not None
        if currency not in self.policy.rates:
            return Reply(
                text=f"I can't take claims in {currency}; allowed: {', '.join(sorted(self.policy.rates))}. "
                "Nothing was saved.",
                skill=self.name,
            )
        if spent_on > today:
            return Reply(text=f"{spent_on:%d %b %Y} is in the future. Nothing was saved.", skill=self.name)
        stored = receipt[0] if receipt else None
        draft = Draft(
            amount=amount,
            currency=currency,
            spent_on=spent_on,
            category=parsed.category or _category_guess(fields),
            merchant=parsed.merchant or (fields.merchant if fields else None),
            attendees=parsed.attendees,
            description=parsed.description or text or "Receipt",
            distance=parsed.distance,
            distance_unit=parsed.distance_unit,
            receipt_sha256=stored.sha256 if stored else None,
            receipt_path=str(stored.path) if stored else None,
            receipt_total=fields.total if fields and parsed.amount is not None else None,
            receipt_date=fields.date if fields else None,
            receipt_merchant=fields.merchant if fields else None,
        )
        flags = service.audit_claim(
            ctx.session, policy=self.policy, employee=ctx.employee, draft=draft, today=today, exclude_id=None
        )
        thread = message.conversation_thread if message.platform == "slack" else None
        expense = service.create_draft(
            ctx.session,
            policy=self.policy,
            employee=ctx.employee,
            draft=draft,
            flags=flags,
            platform=message.platform,
            channel=message.channel,
            thread_ts=thread,
            conversation_id=ctx.conversation.id,
        )
        cited = self._cite(ctx, flags)
        text_out = self._card_text(expense, "Please check your claim", notes=parsed.notes, quotes=cited)
        return Reply(
            text=text_out,
            citations=[c for citations, _ in cited.values() for c in citations],
            buttons=_draft_buttons(expense),
            skill=self.name,
            update_key=card_key(expense),
        )

    def _cite(self, ctx: SkillContext, flags: list[Flag]) -> dict[str, tuple[list[Citation], str]]:
        cited: dict[str, tuple[list[Citation], str]] = {}
        for flag in flags:
            query = self.policy.policy.get(flag.rule)
            if not query:
                continue
            hits = ctx.index.search(query, k=1, audiences=["everyone"])
            if hits:
                cited[flag.message] = (citations_for(hits, limit=1), best_sentence(flag.message, hits, ctx.index))
        return cited

    def _card_text(
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

    # ------------------------------------------------------------ editing before approval

    def _edit_form(self, expense: Expense, ctx: SkillContext) -> Reply:
        service.check_editor(expense, ctx.employee)
        currencies = tuple((code, code) for code in sorted(self.policy.rates))
        return Reply(
            text="",
            modal=Modal(
                callback_id="expense:edit_submit",
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

    def _edited(self, expense: Expense, form: dict[str, str], ctx: SkillContext) -> Reply:
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
        cited = self._cite(ctx, flags)
        if expense.status == "submitted":
            # Still waiting for the manager: their card shows the new figures, and the employee's card too.
            self._update_card(ctx, expense)
            if expense.approver is not None:
                ctx.notify(
                    channel=person_channel(expense.approver, expense.platform),
                    text=self._approval_text(expense, "Expense claim to approve (edited)"),
                    update_key=approval_key(expense),
                    buttons=self._decision_buttons(expense),
                )
            return Reply(text=f"Updated claim #{expense.id}; your manager sees the new details.", skill=self.name)
        ctx.notify(
            channel=expense.channel,
            thread_ts=expense.thread_ts,
            text=self._card_text(expense, "Please check your claim", quotes=cited),
            update_key=card_key(expense),
            buttons=_draft_buttons(expense),
            citations=[c for citations, _ in cited.values() for c in citations],
        )
        return Reply(text=f"Updated claim #{expense.id}; check the card and press Submit.", skill=self.name)

    def _correct(self, expense: Expense, message: Message, ctx: SkillContext) -> Reply:
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
            buttons=_draft_buttons(expense),
            skill=self.name,
        )

    # ------------------------------------------------------------ approvals

    def _action(self, message: Message, ctx: SkillContext) -> Reply:
        action = (message.action_id or "").removeprefix("expense:")
        if action == "start":
            ctx.conversation.awaiting_skill = self.name  # the next message here is the claim
            return Reply(text=START_CLAIM, skill=self.name)
        expense = ctx.session.get(Expense, row_id(message.action_value) or 0)
        if expense is None:
            return Reply(text="I couldn't find that claim any more.", ephemeral=True)
        now = ctx.now()
        if action == "confirm":
            return self._submit(expense, ctx)
        if action == "edit":
            return self._edit_form(expense, ctx)
        if action == "edit_submit":
            return self._edited(expense, message.form, ctx)
        if action == "correct":
            return self._correct(expense, message, ctx)
        if action in ("discard", "withdraw"):
            target = "discarded" if action == "discard" else "withdrawn"
            service.transition(ctx.session, expense, target, actor=ctx.employee, now=now, policy=self.policy)
            self._update_card(ctx, expense)
            if target == "withdrawn":
                self._close_cards(ctx, expense, f"↩️ Withdrawn by {expense.employee.name}")
            return Reply(text=f"Claim #{expense.id}: {LABELS[expense.status].lower()}.", skill=self.name)
        if action in ("approve", "reject") and changed_since_shown(message, expense.revision):
            # Edited after this card was sent: deciding it would decide figures the approver never saw.
            if expense.status in service.PENDING and expense.approver is not None:
                ctx.notify(
                    channel=person_channel(expense.approver, expense.platform),
                    text=self._approval_text(expense, "Expense claim to approve (edited)"),
                    update_key=approval_key(expense),
                    buttons=self._decision_buttons(expense),
                )
            return Reply(
                text=(
                    f"Claim #{expense.id} was changed after that card was sent: it is now "
                    f"{money(expense.amount, expense.currency)} on {expense.spent_on:%d %b %Y}. Nothing was decided; "
                    "the card shows it as it is now."
                ),
                ephemeral=True,
                skill=self.name,
            )
        if action == "approve":
            service.approve(ctx.session, expense, actor=ctx.employee, now=now, policy=self.policy)
            self._after_approval(expense, ctx)
            return Reply(
                text=f"Claim #{expense.id}: {LABELS[expense.status].lower()}.", skill=self.name, ephemeral=True
            )
        if action == "reject":
            # The same check as the rejection itself, so only someone who may decide the claim gets the form.
            service.check_move(expense, "rejected", actor=ctx.employee, policy=self.policy)
            return ask_for_text(
                callback_id="expense:reject_submit",
                title=f"Reject claim #{expense.id}",
                field="reason",
                label="Why? (the employee sees this)",
                target_id=expense.id,
                submit_label="Reject",
            )
        if action == "reject_submit":
            reason = message.form.get("reason", "").strip()
            if not reason:
                return Reply(text="Please give a reason when rejecting a claim.", ephemeral=True)
            service.transition(
                ctx.session, expense, "rejected", actor=ctx.employee, now=now, policy=self.policy, note=reason
            )
            self._tell(ctx, expense, f"❌ {ctx.employee.name} rejected claim #{expense.id}: {reason}")
            self._update_card(ctx, expense)
            self._close_cards(ctx, expense, f"❌ Rejected by {ctx.employee.name}: {reason}")
            return Reply(text=f"Rejected claim #{expense.id}.", skill=self.name, ephemeral=True)
        if action == "reimbursed":
            service.transition(ctx.session, expense, "reimbursed", actor=ctx.employee, now=now, policy=self.policy)
            self._tell(ctx, expense, f"💸 Claim #{expense.id} ({money(expense.amount, expense.currency)}) was paid.")
            self._update_card(ctx, expense)
            self._close_cards(ctx, expense, "💸 Reimbursed")
            return Reply(text=f"Claim #{expense.id} marked reimbursed.", skill=self.name, ephemeral=True)
        return Reply(text="That button is no longer available.", ephemeral=True)

    def _submit(self, expense: Expense, ctx: SkillContext) -> Reply:
        today = local_date(ctx.now(), ctx.employee.tz)
        approver, why = service.claim_approver(ctx.session, ctx.employee, today)
        service.transition(ctx.session, expense, "submitted", actor=ctx.employee, now=ctx.now(), policy=self.policy)
        expense.approver_id = approver.id if approver else None
        ctx.session.flush()
        self._update_card(ctx, expense)
        if approver is None:
            self._to_finance(ctx, expense, "No manager in the directory: finance decides.")
            return Reply(text=f"Submitted claim #{expense.id}; finance will decide it.", skill=self.name)
        ctx.notify(
            channel=person_channel(approver, expense.platform),
            text=self._approval_text(expense, "Expense claim to approve", why),
            update_key=approval_key(expense),
            buttons=self._decision_buttons(expense),
        )
        return Reply(
            text=f"Submitted claim #{expense.id} to {approver.name}. I'll tell you here at each step.", skill=self.name
        )

    def _approval_text(self, expense: Expense, heading: str, why: str | None = None) -> str:
        text = self._card_text(expense, f"{heading} — {expense.employee.name}")
        if why:
            text += f"\n• Why you: _{why}_"
        if service.needs_finance(expense, self.policy):
            threshold = money(self.policy.finance_approval_over, self.policy.base_currency)
            text += f"\n• Above {threshold}: finance approves too."
        return text

    def _decision_buttons(self, expense: Expense) -> list[Button]:
        return [
            Button("expense:approve", "Approve", seen(expense.id, expense.revision), "primary"),
            Button("expense:reject", "Reject", seen(expense.id, expense.revision), "danger"),
        ]

    def _to_finance(self, ctx: SkillContext, expense: Expense, heading: str) -> None:
        ctx.notify(
            channel=ctx.settings.finance_destination,
            text=self._approval_text(expense, heading),
            update_key=f"expense:{expense.id}:finance",
            buttons=self._decision_buttons(expense),
        )

    def _after_approval(self, expense: Expense, ctx: SkillContext) -> None:
        self._update_card(ctx, expense)
        if expense.status == "manager_approved":
            self._tell(ctx, expense, f"✅ {ctx.employee.name} approved claim #{expense.id}; finance approves it next.")
            self._close_cards(ctx, expense, f"✅ Approved by {ctx.employee.name} — now with finance", finance=False)
            self._to_finance(ctx, expense, "Expense claim for finance approval")
            return
        self._tell(ctx, expense, f"✅ Claim #{expense.id} approved by {ctx.employee.name}; it will be reimbursed.")
        self._close_cards(ctx, expense, f"✅ Approved by {ctx.employee.name}")
        ctx.notify(
            channel=ctx.settings.finance_destination,
            text=self._card_text(expense, "Approved — to reimburse"),
            update_key=f"expense:{expense.id}:finance",
            buttons=[Button("expense:reimbursed", "Mark reimbursed", str(expense.id), "primary")],
        )

    def _close_cards(self, ctx: SkillContext, expense: Expense, outcome: str, *, finance: bool = True) -> None:
        if expense.approver is not None:
            ctx.notify(
                channel=person_channel(expense.approver, expense.platform),
                text=self._approval_text(expense, outcome),
                update_key=approval_key(expense),
            )
        if finance and expense.status not in ("approved",):
            ctx.notify(
                channel=ctx.settings.finance_destination,
                text=self._approval_text(expense, outcome),
                update_key=f"expense:{expense.id}:finance",
            )

    def _update_card(self, ctx: SkillContext, expense: Expense) -> None:
        buttons = []
        if expense.status == "submitted":
            buttons = [
                Button("expense:edit", "Edit", str(expense.id)),
                Button("expense:withdraw", "Withdraw", str(expense.id), "danger"),
            ]
        ctx.notify(
            channel=expense.channel,
            thread_ts=expense.thread_ts,
            text=self._card_text(expense, "Your claim"),
            update_key=card_key(expense),
            buttons=buttons,
        )

    def _tell(self, ctx: SkillContext, expense: Expense, text: str) -> None:
        ctx.notify(channel=expense.channel, thread_ts=expense.thread_ts, text=text)

    # ------------------------------------------------------------ status from the database

    def _status(self, ctx: SkillContext) -> Reply:
        claims = service.claims_of(ctx.session, ctx.employee)
        if not claims:
            return Reply(text="You have no expense claims yet.", skill=self.name)
        lines = ["Your expense claims:"]
        for claim in claims:
            where = f" at {claim.merchant}" if claim.merchant else ""
            lines.append(
                f"• #{claim.id} {money(claim.amount, claim.currency)}{where} on {claim.spent_on:%d %b}: "
                f"*{LABELS[claim.status]}*" + (f" — {claim.decision_note}" if claim.decision_note else "")
            )
        return Reply(text="\n".join(lines), skill=self.name)


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


def _fetch_and_read(
    ref: FileRef, settings: Settings, *, token: str, deadline: float
) -> tuple[StoredFile, ReceiptFields]:
    """Download a receipt and read it (on the file pool); a file refused once read is not kept."""
    stored = fetch_slack_file(
        ref,
        token=token,
        api_base_url=settings.slack_api_url,
        dest_dir=settings.uploads_dir,
        max_bytes=settings.max_upload_bytes,
        allowed=ALL_KINDS,
    )
    try:
        return stored, read_receipt(stored.path, stored.kind, ocr_timeout=max(deadline - time.monotonic(), 1.0))
    except TooLargeToRead:
        discard(stored)
        raise
    except (OcrUnavailable, ReceiptUnreadable) as exc:
        discard(stored)
        raise UploadRejected(f"I couldn't read {ref.name or 'that file'}: {exc}") from exc


def _draft_buttons(expense: Expense) -> list[Button]:
    return [
        Button("expense:confirm", "Submit", str(expense.id), "primary"),
        Button("expense:edit", "Edit", str(expense.id)),
        Button("expense:discard", "Cancel", str(expense.id), "danger"),
    ]


def _category_guess(fields: ReceiptFields | None) -> str:
    """A receipt alone: restaurants and cafés are meals, anything else "other" (the card lets them see it)."""
    if fields and fields.merchant and re.search(r"restaurant|cafe|café|coffee|kopitiam|food", fields.merchant, re.I):
        return "meals"
    return "other"
