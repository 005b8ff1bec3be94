"""Expense claims: the policy audit (limits, receipts, window, duplicates, weekend and holiday dates) and every
state change, through `transition`, which checks who may act, changes the row once, and writes the audit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import audit
from bot.escalations import TransitionError
from bot.models import Employee, Expense
from skills.expenses.config import ExpensePolicy
from skills.leave.requests import choose_approver
from skills.leave.workdays import is_working_day

# state → states it may move to
MOVES: dict[str, frozenset[str]] = {
    "draft": frozenset({"submitted", "discarded"}),
    "submitted": frozenset({"manager_approved", "approved", "rejected", "withdrawn"}),
    "manager_approved": frozenset({"approved", "rejected"}),
    "approved": frozenset({"reimbursed"}),
    "rejected": frozenset(),
    "withdrawn": frozenset(),
    "discarded": frozenset(),
    "reimbursed": frozenset(),
}
PENDING = ("submitted", "manager_approved")
# The claimant may change a claim until someone has approved any part of it.
EDITABLE = ("draft", "submitted")
LABELS = {
    "draft": "Draft",
    "submitted": "Waiting for your manager",
    "manager_approved": "Approved by your manager, waiting for finance",
    "approved": "Approved, to be reimbursed",
    "rejected": "Rejected",
    "withdrawn": "Withdrawn",
    "discarded": "Discarded",
    "reimbursed": "Reimbursed",
}


@dataclass(frozen=True)
class Flag:
    """A policy finding on a claim; `rule` names the policy passage to cite (ExpensePolicy.policy key)."""

    rule: str
    message: str


@dataclass(frozen=True)
class Draft:
    amount: Decimal
    currency: str
    spent_on: date
    category: str
    merchant: str | None = None
    attendees: int | None = None
    description: str = ""
    distance: Decimal | None = None
    distance_unit: str | None = None
    receipt_sha256: str | None = None
    receipt_path: str | None = None
    receipt_total: Decimal | None = None
    receipt_date: date | None = None
    receipt_merchant: str | None = None


def money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def audit_claim(
    session: Session, *, policy: ExpensePolicy, employee: Employee, draft: Draft, today: date, exclude_id: int | None
) -> list[Flag]:
    """Every rule the claim breaks, explained (the claim may still be submitted; approvers see the flags)."""
    flags: list[Flag] = []
    base, _rate = policy.to_base(draft.amount, draft.currency)
    base_text = money(base, policy.base_currency)
    if base > policy.receipt_required_over and draft.receipt_sha256 is None and draft.category != "mileage":
        flags.append(
            Flag(
                "receipt",
                f"Receipt needed: claims over {money(policy.receipt_required_over, policy.base_currency)} "
                "need one — attach a photo or PDF of it.",
            )
        )
    age = (today - draft.spent_on).days
    if age > policy.submission_window_days:
        flags.append(
            Flag(
                "window", f"Late: this was {age} days ago; claims are due within {policy.submission_window_days} days."
            )
        )
    limit = policy.limits.get(draft.category)
    if limit is not None:
        if limit.per_item is not None and base > limit.per_item:
            flags.append(
                Flag(
                    draft.category,
                    f"Over the {draft.category} limit of {money(limit.per_item, policy.base_currency)} ({base_text}).",
                )
            )
        if limit.per_attendee is not None and draft.attendees:
            each = (base / draft.attendees).quantize(Decimal("0.01"))
            if each > limit.per_attendee:
                flags.append(
                    Flag(
                        f"{draft.category}_per_attendee",
                        f"Over the limit of {money(limit.per_attendee, policy.base_currency)} per person: "
                        f"{money(each, policy.base_currency)} each for {draft.attendees}.",
                    )
                )
        elif limit.per_day is not None:
            day_total = base + _same_day_total(session, employee, draft, policy, exclude_id)
            if day_total > limit.per_day:
                flags.append(
                    Flag(
                        f"{draft.category}_per_day",
                        f"Over the daily {draft.category} limit of {money(limit.per_day, policy.base_currency)}: "
                        f"{money(day_total, policy.base_currency)} on {draft.spent_on:%d %b}.",
                    )
                )
    duplicate = _duplicate(session, employee, draft, exclude_id)
    if duplicate is not None:
        which = "claim"
        if duplicate.status == "draft":
            which = "your draft claim" if duplicate.employee_id == employee.id else "draft claim"
        flags.append(
            Flag(
                "duplicate",
                f"Possible duplicate of {which} #{duplicate.id} ({money(duplicate.amount, duplicate.currency)}"
                f" on {duplicate.spent_on:%d %b}) — same receipt or same amount, date and merchant.",
            )
        )
    if not is_working_day(draft.spent_on, country=employee.country):
        flags.append(
            Flag("weekend", f"{draft.spent_on:%a %d %b} is a weekend or public holiday: add the business reason.")
        )
    if draft.receipt_total is not None and draft.receipt_total != draft.amount:
        flags.append(
            Flag("receipt_mismatch", f"The receipt says {draft.receipt_total:,.2f}, you wrote {draft.amount:,.2f}.")
        )
    return flags


def _same_day_total(
    session: Session, employee: Employee, draft: Draft, policy: ExpensePolicy, exclude_id: int | None
) -> Decimal:
    query = select(func.coalesce(func.sum(Expense.base_amount), 0)).where(
        Expense.employee_id == employee.id,
        Expense.category == draft.category,
        Expense.spent_on == draft.spent_on,
        Expense.status.not_in(("draft", "discarded", "withdrawn", "rejected")),
    )
    if exclude_id is not None:
        query = query.where(Expense.id != exclude_id)
    return Decimal(str(session.scalar(query)))


def _duplicate(session: Session, employee: Employee, draft: Draft, exclude_id: int | None) -> Expense | None:
    """The first live claim (a draft too: the first copy is often still one) with the same receipt, or the same
    person's with the same amount, currency, date and merchant."""
    live = Expense.status.not_in(("discarded", "withdrawn", "rejected"))
    candidates = []
    if draft.receipt_sha256:
        candidates.append(select(Expense).where(Expense.receipt_sha256 == draft.receipt_sha256, live))
    candidates.append(
        select(Expense).where(
            Expense.employee_id == employee.id,
            Expense.amount == draft.amount,
            Expense.currency == draft.currency,
            Expense.spent_on == draft.spent_on,
            func.lower(func.coalesce(Expense.merchant, "")) == (draft.merchant or "").lower(),
            live,
        )
    )
    for query in candidates:
        if exclude_id is not None:
            query = query.where(Expense.id != exclude_id)
        found = session.scalar(query.order_by(Expense.id).limit(1))
        if found is not None:
            return found
    return None


def create_draft(
    session: Session,
    *,
    policy: ExpensePolicy,
    employee: Employee,
    draft: Draft,
    flags: list[Flag],
    platform: str,
    channel: str,
    thread_ts: str | None,
    conversation_id: int | None,
) -> Expense:
    base, rate = policy.to_base(draft.amount, draft.currency)
    expense = Expense(
        employee_id=employee.id,
        status="draft",
        amount=draft.amount,
        currency=draft.currency,
        base_amount=base,
        base_currency=policy.base_currency,
        rate=rate,
        spent_on=draft.spent_on,
        merchant=draft.merchant,
        category=draft.category,
        attendees=draft.attendees,
        distance=draft.distance,
        distance_unit=draft.distance_unit,
        description=draft.description,
        receipt_sha256=draft.receipt_sha256,
        receipt_path=draft.receipt_path,
        receipt_total=draft.receipt_total,
        receipt_date=draft.receipt_date,
        receipt_merchant=draft.receipt_merchant,
        flags=[f.message for f in flags],
        platform=platform,
        channel=channel,
        thread_ts=thread_ts,
        conversation_id=conversation_id,
    )
    session.add(expense)
    session.flush()
    audit.record(
        session,
        entity="expense",
        entity_id=expense.id,
        action="drafted",
        actor_id=employee.id,
        to_state="draft",
        detail={"amount": str(draft.amount), "currency": draft.currency, "base_amount": str(base)},
    )
    return expense


def apply_edit(
    session: Session, expense: Expense, draft: Draft, flags: list[Flag], *, policy: ExpensePolicy, actor: Employee
) -> Expense:
    """Change a claim (only its owner, only before any approval) and write the audit row."""
    check_editor(expense, actor)
    before = {"amount": str(expense.amount), "currency": expense.currency, "spent_on": expense.spent_on.isoformat()}
    base, rate = policy.to_base(draft.amount, draft.currency)
    expense.amount, expense.currency, expense.base_amount, expense.rate = draft.amount, draft.currency, base, rate
    expense.spent_on, expense.category, expense.merchant = draft.spent_on, draft.category, draft.merchant
    expense.attendees, expense.description = draft.attendees, draft.description
    expense.flags = [f.message for f in flags]
    expense.revision += 1  # an approval of what was shown before is refused (the buttons carry the revision)
    session.flush()
    audit.record(
        session,
        entity="expense",
        entity_id=expense.id,
        action="edited",
        actor_id=actor.id,
        from_state=expense.status,
        to_state=expense.status,
        detail={"before": before, "after": {"amount": str(draft.amount), "currency": draft.currency}},
    )
    return expense


def claim_approver(session: Session, employee: Employee, today: date) -> tuple[Employee | None, str | None]:
    """Who approves `employee`'s claims first, and why them: their manager (a delegate or the next manager
    up while they are away). None: finance decides — unlike leave, a claim never falls back to HR."""
    if employee.manager is None:
        return None, None
    return choose_approver(session, employee, today)


def needs_finance(expense: Expense, policy: ExpensePolicy) -> bool:
    return expense.base_amount > policy.finance_approval_over


def check_editor(expense: Expense, actor: Employee) -> None:
    """Raise unless `actor` may edit the claim now: only its owner, only before anyone approved it."""
    if actor.id != expense.employee_id:
        raise TransitionError("Only the person who claimed it can edit this claim.")
    if expense.status not in EDITABLE:
        raise TransitionError(f"Claim #{expense.id} is already {LABELS[expense.status].lower()}; it can't be edited.")


def check_move(expense: Expense, to_state: str, *, actor: Employee, policy: ExpensePolicy) -> None:
    """Raise unless `actor` may move the claim to `to_state` now (forms ask this before they open)."""
    if to_state not in MOVES.get(expense.status, frozenset()):
        raise TransitionError(f"Claim #{expense.id} is already {LABELS.get(expense.status, expense.status).lower()}.")
    _check_actor(expense, expense.status, to_state, actor, policy)


def _check_actor(expense: Expense, from_state: str, to_state: str, actor: Employee, policy: ExpensePolicy) -> None:
    own = actor.id == expense.employee_id
    if to_state in ("submitted", "discarded", "withdrawn"):
        if not own:
            raise TransitionError("Only the person who claimed it can do that.")
        return
    if own:
        raise TransitionError("Nobody approves their own expense claim.")
    if to_state == "reimbursed":
        if not actor.has_role("finance"):
            raise TransitionError("Only finance marks claims as reimbursed.")
        return
    if from_state == "submitted":
        if actor.id != expense.approver_id and not actor.has_role("finance"):
            raise TransitionError("Only the claimant's manager (or finance) can decide this claim.")
        return
    if from_state == "manager_approved" and not actor.has_role("finance"):
        raise TransitionError("This claim now waits for finance.")


def transition(
    session: Session,
    expense: Expense,
    to_state: str,
    *,
    actor: Employee,
    now: datetime,
    policy: ExpensePolicy,
    note: str | None = None,
) -> Expense:
    """Move a claim once (a double click or two racing approvals change it once) and write the audit row."""
    check_move(expense, to_state, actor=actor, policy=policy)
    values: dict[str, object] = {"status": to_state, "updated_at": now}
    if to_state == "submitted":
        values["submitted_at"] = now
    if to_state in ("approved", "rejected", "manager_approved"):
        values["decided_at"] = now
        if note:
            values["decision_note"] = note
    if to_state == "approved" and actor.has_role("finance"):
        values["finance_approver_id"] = actor.id
    if to_state == "reimbursed":
        values["reimbursed_at"] = now
    detail = {"note": note} if note else None
    if not audit.change_state(session, expense, entity="expense", values=values, actor_id=actor.id, detail=detail):
        raise TransitionError(f"Claim #{expense.id} is already {LABELS.get(expense.status, expense.status).lower()}.")
    return expense


def approve(session: Session, expense: Expense, *, actor: Employee, now: datetime, policy: ExpensePolicy) -> Expense:
    """The next approval step: the manager's, then (above the threshold) finance's."""
    if expense.status == "submitted" and needs_finance(expense, policy) and not actor.has_role("finance"):
        return transition(session, expense, "manager_approved", actor=actor, now=now, policy=policy)
    return transition(session, expense, "approved", actor=actor, now=now, policy=policy)


def claims_of(session: Session, employee: Employee, *, limit: int = 10) -> list[Expense]:
    return list(
        session.scalars(
            select(Expense)
            .where(Expense.employee_id == employee.id, Expense.status.not_in(("draft", "discarded")))
            .order_by(Expense.id.desc())
            .limit(limit)
        )
    )


def approved_between(session: Session, start: date, end: date, statuses: tuple[str, ...]) -> list[Expense]:
    """Claims for export: spent between `start` and `end` (inclusive) in the given states."""
    return list(
        session.scalars(
            select(Expense)
            .where(Expense.spent_on >= start, Expense.spent_on <= end, Expense.status.in_(statuses))
            .order_by(Expense.spent_on, Expense.id)
        )
    )
