"""Expenses: a sentence, a receipt, or both become a checked claim card; the manager approves, finance too
above the threshold, then finance marks it reimbursed. Policy findings are explained and cited."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import partial
from typing import TYPE_CHECKING

from bot.db import local_date
from bot.jobs import Job
from bot.messages import FileRef, Message, Reply
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
    fetch_file,
    read_in_pool,
)
from integrations.ocr import OcrUnavailable
from skills.base import (
    ActionHandler,
    Ahead,
    SkillContext,
    ask_for_text,
    changed_since_shown,
    date_order,
    load_examples,
    no_longer_available,
    on_row,
    pending_memo,
)
from skills.expenses import action_ids, service
from skills.expenses import jobs as expense_jobs
from skills.expenses.approvals import ExpenseApprovals
from skills.expenses.cards import NAME, ExpenseCards, approval_key, card_key, draft_buttons
from skills.expenses.config import ExpensePolicy, load_expense_policy
from skills.expenses.currencies import currency_named, home_currency, symbol_of
from skills.expenses.edits import ExpenseEdits
from skills.expenses.parse import ParsedExpense, parse_expense
from skills.expenses.pending import RECEIPT, kept_receipt, receipt_memo
from skills.expenses.receipts import ReceiptFields, ReceiptUnreadable, read_receipt
from skills.expenses.service import LABELS, Draft, money
from skills.policy.skill import answer_from_sources, answer_in_between, cited_reply

if TYPE_CHECKING:
    from bot.console.shell import ConsolePages

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


@dataclass(frozen=True)
class ReceiptRead:
    """A message's receipt, read before the claim's transaction opens: the stored file and its fields; nothing
    (no Slack token, or Slack would not hand the file over); or why it was refused, in words for the employee."""

    receipt: tuple[StoredFile, ReceiptFields] | None = None
    refused: str | None = None


class ExpenseSkill:
    name = NAME
    description = "Expense claims: submit from a sentence or a receipt, approvals, reimbursement status"

    def __init__(self, policy: ExpensePolicy | None = None) -> None:
        self.policy = policy or load_expense_policy()
        self.jobs: Sequence[Job] = expense_jobs.scheduled(self.policy)
        self.examples: Sequence[str] = load_examples("expense")
        self.file_seconds = READ_SECONDS  # how long one receipt may take to download and read
        self.cards = ExpenseCards(self.policy)
        self.edits = ExpenseEdits(self.policy, self.cards)
        self.approvals = ExpenseApprovals(self.policy, self.cards)
        on = partial(on_row, Expense, "I couldn't find that claim any more.")
        self.actions: Mapping[str, ActionHandler] = {
            action_ids.START: self._start,
            action_ids.CONFIRM: on(lambda expense, message, ctx: self.approvals.submit(expense, ctx)),
            action_ids.EDIT: on(lambda expense, message, ctx: self.edits.edit_form(expense, ctx)),
            action_ids.EDIT_SUBMIT: on(lambda expense, message, ctx: self.edits.edited(expense, message.form, ctx)),
            action_ids.CORRECT: on(self.edits.correct),
            action_ids.DISCARD: on(lambda expense, message, ctx: self._take_back(expense, "discarded", ctx)),
            action_ids.WITHDRAW: on(lambda expense, message, ctx: self._take_back(expense, "withdrawn", ctx)),
            action_ids.APPROVE: on(self._approve),
            action_ids.REJECT: on(self._reject_form),
            action_ids.REJECT_SUBMIT: on(self._rejected),
            action_ids.REIMBURSED: on(self._reimbursed),
        }
        # An id not (or no longer) declared: as for the others, a claim that is gone is said so first.
        self._unknown_action = on(lambda expense, message, ctx: no_longer_available(message, ctx))

    def prepare(self, message: Message, ahead: Ahead) -> Callable[[Message, SkillContext], Reply]:
        """Read the message's receipt (download, PDF, OCR: the slow part) with no transaction open, and return
        the handler that answers with it (see skills.base.Prepares)."""
        if message.action_id or not message.files:
            return self.handle
        read = self._read_receipt(message, ahead.settings)
        return lambda message, ctx: self.handle(message, ctx, read=read)

    @property
    def console(self) -> ConsolePages:
        """Its staff console pages (imported here: they import the console shell, which imports the runtime)."""
        from skills.expenses.console import PAGES  # noqa: PLC0415

        return PAGES

    def handle(self, message: Message, ctx: SkillContext, *, read: ReceiptRead | None = None) -> Reply:
        """Answer a message; `read` is its receipt as `prepare` read it (read here when not given)."""
        if message.action_id:
            return self.actions.get(message.action_id, self._unknown_action)(message, ctx)
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
        # The receipt that question was about, if any: the answer completes the claim with it.
        kept_memo = pending_memo(ctx, self.name, RECEIPT) if pending is not None else None
        kept = kept_receipt(kept_memo)
        if pending is not None and drops_it(text):
            return Reply(text="Okay, I've dropped that claim. Nothing was saved.", skill=self.name)
        if (
            receipt is None
            and kept is None
            and (ctx.about_own_records or _STATUS.search(text))
            and not re.search(r"\d", text)
        ):
            return self._status(ctx)
        today = local_date(ctx.now(), ctx.employee.tz)
        parsed = self._parse(text, ctx, today, receipt[1] if receipt else None)
        if receipt is None and parsed.amount is None and pending is not None and read_act(text) == QUESTION:
            # A question in between ("do I need a receipt?"): answered, and the claim still waits for its detail.
            return answer_in_between(
                text,
                ctx,
                message.channel_type,
                self.name,
                waiting={PENDING: pending, **receipt_memo(kept)},
                ask_again="Now, about your claim: " + self._still_missing(pending, ctx, today),
            )
        if receipt is None and parsed.amount is None and _QUESTION.search(text):
            answer = answer_from_sources(text, ctx, message.channel_type)
            if answer.confident:
                return cited_reply(text, answer, ctx, self.name)
        named = currency_named(text, tuple(self.policy.rates))
        if pending is not None and (
            kept is not None or (self._missing(parsed, None) and (parsed.amount or parsed.spent_on or named))
        ):
            # The answer to the question (an amount, a date, the currency, what it was for): read together with the
            # claim it completes, and its receipt. The kind of expense is asked once: still unsaid, it is guessed
            # from the receipt or "other" on the card, which Edit changes.
            text = f"{pending} {text}".strip()
            parsed = self._parse(text, ctx, today, kept[1] if kept else None)
            receipt = kept
            if parsed.category is None:
                parsed = replace(
                    parsed,
                    category=_category_guess(kept[1] if kept else None),
                    questions=tuple(q for q in parsed.questions if "kind of" not in q),
                )
        return self._claim(text, parsed, receipt, message, ctx, today)

    def _parse(self, text: str, ctx: SkillContext, today: date, fields: ReceiptFields | None = None) -> ParsedExpense:
        """The words read as a claim; an amount written without a currency takes `_default_currency`'s, said on
        the card, or is asked about. Mileage is paid at the policy's rate, in the base currency."""
        default, why = self._default_currency(text, fields, ctx, today)
        parsed = self._parse_in(text, ctx, today, default)
        if parsed.category == "mileage" and default != self.policy.base_currency:
            return self._parse_in(text, ctx, today, self.policy.base_currency)
        if why and parsed.amount is not None and self._parse_in(text, ctx, today, None).currency is None:
            parsed = replace(parsed, notes=(*parsed.notes, why))
        return parsed

    def _parse_in(self, text: str, ctx: SkillContext, today: date, default: str | None) -> ParsedExpense:
        return parse_expense(
            text,
            today=today,
            default_currency=default,
            mileage_rate=self.policy.mileage_rate,
            mileage_unit=self.policy.mileage_unit,
            known_currencies=tuple(self.policy.rates),
            date_order=date_order(ctx.employee),
        )

    def _default_currency(
        self, text: str, fields: ReceiptFields | None, ctx: SkillContext, today: date
    ) -> tuple[str | None, str]:
        """The currency of an amount no currency is written with, and how it was chosen (a note for the card):
        one the words name ("it was in ringgit"), else the receipt's, else the one of the employee's country;
        None (asked) when the receipt's symbol could be several ("$" for someone outside a dollar country) or the
        country has none we take. Never silently the base currency."""
        allowed = tuple(self.policy.rates)
        named = currency_named(text, allowed)
        if named is not None:
            return named, ""
        home = home_currency(ctx.employee.country, allowed, today)
        shown = fields.currency if fields else None
        if shown is not None:
            if re.fullmatch(r"[A-Z]{3}", shown):
                return shown, f"currency {shown}, as on the receipt"
            if home is not None and symbol_of(shown, home):
                return home, f"read the receipt's “{shown}” as {home}, the currency where you work"
            return None, ""
        if home is None:
            return None, ""
        return home, f"{home}: the currency where you work (Edit changes it)"

    def _still_missing(self, pending: str, ctx: SkillContext, today: date) -> str:
        parsed = self._parse(pending, ctx, today)
        return " ".join(self._missing(parsed, None)) or "please send it again with the amount and the date."

    @staticmethod
    def _missing(parsed: ParsedExpense, fields: ReceiptFields | None) -> list[str]:
        """The questions to ask before a claim can be drafted: its own, then the amount and the date."""
        questions = [q for q in parsed.questions if not _receipt_answers(q, fields)]
        asked = " ".join(questions).lower()
        no_amount = parsed.amount is None and (fields is None or fields.total is None)
        no_date = parsed.spent_on is None and (fields is None or fields.date is None)
        missing = []
        if no_amount and "how much" not in asked:
            missing.append("How much was it (with the currency)?")
        if no_date and "when" not in asked:
            missing.append("On which date?")
        if no_amount or no_date or (questions and not fields):
            return list(dict.fromkeys([*questions, *missing]))
        return []

    # ------------------------------------------------------------ claims

    def _read_receipt(self, message: Message, settings: Settings) -> ReceiptRead:
        """The message's first file as a receipt, downloaded and read on the shared file pool within
        file_seconds (integrations.files.read_in_pool)."""
        ref = message.files[0]
        deadline = time.monotonic() + self.file_seconds
        try:
            stored, fields = read_in_pool(
                partial(_fetch_and_read, ref, settings, deadline=deadline),
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
        notes = parsed.notes
        currency = parsed.currency
        if parsed.amount is None and fields is not None and fields.total is not None:
            currency, why = self._default_currency(text, fields, ctx, today)
            notes = (*notes, why) if why else notes
        spent_on = parsed.spent_on or (fields.date if fields else None)
        questions = self._missing(parsed, fields)
        if amount is not None and currency is None and not any(q.startswith("Which currency") for q in questions):
            questions.append("Which currency was this in?")  # never guessed: see _default_currency
        if questions:
            # The next message here is the answer: it is read together with this one (see handle).
            ctx.conversation.awaiting_skill = self.name
            memo = {PENDING: text, **receipt_memo(receipt)}
            return Reply(text=" ".join(questions) + " Nothing was saved yet.", skill=self.name, memo=memo)
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
        cited = self.cards.cite(ctx, flags)
        text_out = self.cards.card_text(expense, "Please check your claim", notes=notes, quotes=cited)
        return Reply(
            text=text_out,
            citations=[c for citations, _ in cited.values() for c in citations],
            buttons=draft_buttons(expense),
            skill=self.name,
            update_key=card_key(expense),
        )

    # ------------------------------------------------------------ approvals

    def _start(self, message: Message, ctx: SkillContext) -> Reply:
        ctx.conversation.awaiting_skill = self.name  # the next message here is the claim
        return Reply(text=START_CLAIM, skill=self.name)

    def _take_back(self, expense: Expense, target: str, ctx: SkillContext) -> Reply:
        """A draft discarded or a submitted claim withdrawn by the employee."""
        service.transition(ctx.session, expense, target, actor=ctx.employee, now=ctx.now(), policy=self.policy)
        self.cards.update_card(ctx, expense)
        if target == "withdrawn":
            self.cards.close_cards(ctx, expense, f"↩️ Withdrawn by {expense.employee.name}")
        return Reply(text=f"Claim #{expense.id}: {LABELS[expense.status].lower()}.", skill=self.name)

    def _changed_since_card(self, expense: Expense, message: Message, ctx: SkillContext) -> Reply | None:
        """Approve or Reject pressed on a card sent before the claim was edited: deciding it would decide figures
        the approver never saw, so nothing is decided and the card is sent again as the claim is now."""
        if not changed_since_shown(message, expense.revision):
            return None
        if expense.status in service.PENDING and expense.approver is not None:
            ctx.notify(
                channel=person_channel(expense.approver, expense.platform),
                text=self.cards.approval_text(expense, "Expense claim to approve (edited)"),
                update_key=approval_key(expense),
                buttons=self.cards.decision_buttons(expense),
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

    def _approve(self, expense: Expense, message: Message, ctx: SkillContext) -> Reply:
        changed = self._changed_since_card(expense, message, ctx)
        if changed is not None:
            return changed
        service.approve(ctx.session, expense, actor=ctx.employee, now=ctx.now(), policy=self.policy)
        self.approvals.after_approval(expense, ctx)
        return Reply(text=f"Claim #{expense.id}: {LABELS[expense.status].lower()}.", skill=self.name, ephemeral=True)

    def _reject_form(self, expense: Expense, message: Message, ctx: SkillContext) -> Reply:
        changed = self._changed_since_card(expense, message, ctx)
        if changed is not None:
            return changed
        # The same check as the rejection itself, so only someone who may decide the claim gets the form.
        service.check_move(expense, "rejected", actor=ctx.employee, policy=self.policy)
        return ask_for_text(
            callback_id=action_ids.REJECT_SUBMIT,
            title=f"Reject claim #{expense.id}",
            field="reason",
            label="Why? (the employee sees this)",
            target_id=expense.id,
            submit_label="Reject",
        )

    def _rejected(self, expense: Expense, message: Message, ctx: SkillContext) -> Reply:
        reason = message.form.get("reason", "").strip()
        if not reason:
            return Reply(text="Please give a reason when rejecting a claim.", ephemeral=True)
        service.transition(
            ctx.session, expense, "rejected", actor=ctx.employee, now=ctx.now(), policy=self.policy, note=reason
        )
        self.cards.tell(ctx, expense, f"❌ {ctx.employee.name} rejected claim #{expense.id}: {reason}")
        self.cards.update_card(ctx, expense)
        self.cards.close_cards(ctx, expense, f"❌ Rejected by {ctx.employee.name}: {reason}")
        return Reply(text=f"Rejected claim #{expense.id}.", skill=self.name, ephemeral=True)

    def _reimbursed(self, expense: Expense, message: Message, ctx: SkillContext) -> Reply:
        service.transition(ctx.session, expense, "reimbursed", actor=ctx.employee, now=ctx.now(), policy=self.policy)
        self.cards.tell(ctx, expense, f"💸 Claim #{expense.id} ({money(expense.amount, expense.currency)}) was paid.")
        self.cards.update_card(ctx, expense)
        self.cards.close_cards(ctx, expense, "💸 Reimbursed")
        return Reply(text=f"Claim #{expense.id} marked reimbursed.", skill=self.name, ephemeral=True)

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


def _fetch_and_read(ref: FileRef, settings: Settings, *, deadline: float) -> tuple[StoredFile, ReceiptFields]:
    """Fetch a receipt (from Slack or the web chat's uploads) and read it (on the file pool); a file refused once
    read is not kept."""
    stored = fetch_file(
        ref,
        token=settings.slack_bot_token,
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


def _category_guess(fields: ReceiptFields | None) -> str:
    """A receipt alone: restaurants and cafés are meals, anything else "other" (the card lets them see it)."""
    if fields and fields.merchant and re.search(r"restaurant|cafe|café|coffee|kopitiam|food", fields.merchant, re.I):
        return "meals"
    return "other"


def _receipt_answers(question: str, fields: ReceiptFields | None) -> bool:
    """The sentence's "How much was it?" or "When did you spend it?" when the receipt shows the total or date."""
    if fields is None:
        return False
    return (fields.total is not None and question.startswith("How much was it?")) or (
        fields.date is not None and question == "When did you spend it?"
    )
