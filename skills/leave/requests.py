"""Leave requests: checking a proposed request against the rules, choosing the approver, and every state
change (through `transition`, which also writes the audit row and the ledger)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit
from bot.date_words import fmt_day
from bot.db import local_date
from bot.escalations import TransitionError
from bot.models import Employee, LeaveRequest
from skills.leave import ledger
from skills.leave.config import LeavePolicy, LeaveType
from skills.leave.proposals import Assessment, Proposal, RuleBreak
from skills.leave.workdays import working_days, working_days_until

ACTIVE = ("pending", "approved")
# state → states it may move to. "pending → pending" is an edit while waiting for approval.
MOVES: dict[str, frozenset[str]] = {
    "draft": frozenset({"pending", "approved", "discarded"}),
    "pending": frozenset({"approved", "denied", "withdrawn"}),
    "approved": frozenset({"cancelled"}),
    "denied": frozenset(),
    "withdrawn": frozenset(),
    "cancelled": frozenset(),
    "discarded": frozenset(),
}


def fmt_days(value: Decimal) -> str:
    """1 → "1", 2.5 → "2.5", 22.9167 → "22.9"."""
    rounded = value.quantize(Decimal("0.1"))
    return f"{rounded:f}".rstrip("0").rstrip(".") if "." in f"{rounded:f}" else f"{rounded:f}"


# The old name of bot.date_words.fmt_day, which skills/leave/drafts.py still imports from here.
fmt_date = fmt_day


def fmt_range(start: date, end: date, start_half: str | None = None, end_half: str | None = None) -> str:
    half = {"am": " (morning)", "pm": " (afternoon)", None: ""}
    if start == end:
        return fmt_day(start) + half[start_half or end_half]
    return f"{fmt_day(start)}{half[start_half]} – {fmt_day(end)}{half[end_half]}"


def check_dates(proposal: Proposal, leave_type: LeaveType, policy: LeavePolicy, today: date) -> list[str]:
    """Problems that make a request impossible as written (nothing is saved for these)."""
    problems: list[str] = []
    if proposal.end < proposal.start:
        problems.append(f"The end date ({fmt_day(proposal.end)}) is before the start date ({fmt_day(proposal.start)}).")
        return problems
    span = (proposal.end - proposal.start).days + 1
    if span > policy.max_request_days:
        problems.append(
            f"That is {span} calendar days; one request can cover at most {policy.max_request_days}. "
            "Please split it, or talk to People Ops about a longer absence."
        )
    earliest = today - timedelta(days=leave_type.past_days_allowed)
    if proposal.start < earliest:
        if leave_type.past_days_allowed:
            problems.append(
                f"{leave_type.label} can be recorded up to {leave_type.past_days_allowed} days back; "
                f"{fmt_day(proposal.start)} is further in the past. Please contact People Ops."
            )
        else:
            problems.append(
                f"{fmt_day(proposal.start)} is in the past. {leave_type.label} can only be requested for "
                "today or later."
            )
    if (proposal.start_half or proposal.end_half) and not leave_type.half_days:
        problems.append(f"{leave_type.label} can't be split into half days.")
    return problems


def overlapping(
    session: Session, *, employee_id: int, start: date, end: date, exclude_id: int | None = None
) -> list[LeaveRequest]:
    query = select(LeaveRequest).where(
        LeaveRequest.employee_id == employee_id,
        LeaveRequest.status.in_(ACTIVE),
        LeaveRequest.start_date <= end,
        LeaveRequest.end_date >= start,
    )
    if exclude_id is not None:
        query = query.where(LeaveRequest.id != exclude_id)
    return list(session.scalars(query.order_by(LeaveRequest.start_date)))


def assess(
    session: Session,
    *,
    policy: LeavePolicy,
    employee: Employee,
    proposal: Proposal,
    today: date,
    exclude_id: int | None = None,
) -> Assessment:
    """Count the working days and check the rules (notice, balance, carry-over, overlap, maximum)."""
    leave_type = policy.types[proposal.leave_type]
    days = working_days(
        proposal.start,
        proposal.end,
        country=employee.country,
        start_half=proposal.start_half,
        end_half=proposal.end_half,
    )
    result = Assessment(proposal=proposal, leave_type=leave_type, workdays=days)
    if days.days <= 0:
        result.breaks.append(
            RuleBreak("none", "Those dates have no working days for you (weekend or public holidays).", True)
        )
        return result
    for other in overlapping(
        session, employee_id=employee.id, start=proposal.start, end=proposal.end, exclude_id=exclude_id
    ):
        result.breaks.append(
            RuleBreak(
                "overlap",
                f"Overlaps your {other.status} {policy.types[other.leave_type].label.lower()} request "
                f"#{other.id} ({fmt_range(other.start_date, other.end_date)}). Change or cancel that one first.",
                True,
            )
        )
    if leave_type.max_days is not None and days.days > leave_type.max_days:
        result.breaks.append(
            RuleBreak(
                "max_days",
                f"{leave_type.label} is at most {fmt_days(leave_type.max_days)} working days; "
                f"this is {fmt_days(days.days)}.",
                True,
            )
        )
    notice_days = (proposal.start - today).days
    for rule in leave_type.notice:
        if days.days <= rule.over_days:
            continue
        short = (rule.min_days is not None and notice_days < rule.min_days) or (
            rule.min_working_days is not None
            and working_days_until(today, proposal.start, country=employee.country) < rule.min_working_days
        )
        if short:
            result.breaks.append(
                RuleBreak(
                    "notice",
                    f"Short notice: {rule.text}. Your manager may still approve it, but doesn't have to.",
                    False,
                )
            )
        break
    if leave_type.tracked:
        _check_balance(session, policy, employee, proposal, leave_type, today, result, exclude_id)
    return result


def _check_balance(
    session: Session,
    policy: LeavePolicy,
    employee: Employee,
    proposal: Proposal,
    leave_type: LeaveType,
    today: date,
    result: Assessment,
    exclude_id: int | None,
) -> None:
    now_balance = ledger.booked_balance(session, employee_id=employee.id, leave_type=leave_type.key, as_of=today)
    pending = ledger.pending_days(session, employee_id=employee.id, leave_type=leave_type.key, exclude_id=exclude_id)
    at_start = ledger.project(
        session, policy=policy, employee=employee, leave_type=leave_type, today=today, on=proposal.start
    )
    result.balance_before = now_balance
    result.pending = pending
    result.balance_after = now_balance - pending - result.days
    available = at_start.days - pending
    floor = leave_type.negative_allowed
    if floor is None or available - result.days >= -floor:
        return
    by = "" if proposal.start <= today else f" by {fmt_day(proposal.start)}"
    if at_start.expiring > 0 and at_start.days + at_start.expiring - pending - result.days >= -floor:
        result.breaks.append(
            RuleBreak(
                "carry_over",
                f"Over the carry-over limit: at most {fmt_days(leave_type.carry_over_cap or Decimal(0))} unused days "
                f"carry into a new year and carried days expire if unused, so {fmt_days(at_start.expiring)} of your "
                f"days lapse before {fmt_day(proposal.start)}. That leaves {fmt_days(available)} for the "
                f"{fmt_days(result.days)} days asked.",
                True,
            )
        )
        return
    pending_text = f" ({fmt_days(pending)} more are in pending requests)" if pending else ""
    result.breaks.append(
        RuleBreak(
            "balance",
            f"Over your balance: you will have {fmt_days(available)} {leave_type.label.lower()} days{by}"
            f"{pending_text}, and this needs {fmt_days(result.days)}.",
            True,
        )
    )


# ------------------------------------------------------------------ approvers and coverage


def away_on(session: Session, employee: Employee, day: date) -> LeaveRequest | None:
    """The approved leave `employee` is on that day, if any."""
    return session.scalar(
        select(LeaveRequest).where(
            LeaveRequest.employee_id == employee.id,
            LeaveRequest.status == "approved",
            LeaveRequest.start_date <= day,
            LeaveRequest.end_date >= day,
        )
    )


def choose_approver(session: Session, employee: Employee, today: date) -> tuple[Employee | None, str | None]:
    """The manager from the directory; if they are away on approved leave, their delegate (or else their
    own manager), with the reason. Never the employee themself."""
    candidate = employee.manager
    reason: str | None = None
    if candidate is None:
        candidate = _hr_fallback(session, employee)
        reason = "You have no manager in the directory, so People Ops approves this request."
    seen: set[int] = set()
    while candidate is not None and candidate.id not in seen:
        seen.add(candidate.id)
        leave = away_on(session, candidate, today)
        if candidate.id != employee.id and leave is None:
            return candidate, reason
        if candidate.id == employee.id:
            nxt = candidate.manager or _hr_fallback(session, employee)
            reason = "Nobody approves their own leave, so this goes one level up."
        else:
            assert leave is not None
            delegate = candidate.delegate
            if delegate is not None and delegate.id != employee.id and away_on(session, delegate, today) is None:
                nxt = delegate
                via = "their delegate"
            else:
                nxt = candidate.manager
                via = "their manager"
            if nxt is not None:
                reason = (
                    f"{candidate.name} is on leave until {fmt_day(leave.end_date)}, so this goes to {via}, {nxt.name}."
                )
        candidate = nxt
    return None, reason


def _hr_fallback(session: Session, employee: Employee) -> Employee | None:
    for person in session.scalars(select(Employee).order_by(Employee.id)):
        if person.id != employee.id and "hr" in person.role_set:
            return person
    return None


def team_absences(session: Session, request: LeaveRequest) -> list[LeaveRequest]:
    """Who else on the requester's team (same manager) is off, or asked to be, on overlapping days."""
    employee = request.employee
    if employee.manager_id is None:
        return []
    teammates = select(Employee.id).where(Employee.manager_id == employee.manager_id, Employee.id != employee.id)
    return list(
        session.scalars(
            select(LeaveRequest)
            .where(
                LeaveRequest.employee_id.in_(teammates),
                LeaveRequest.status.in_(ACTIVE),
                LeaveRequest.start_date <= request.end_date,
                LeaveRequest.end_date >= request.start_date,
            )
            .order_by(LeaveRequest.start_date)
        )
    )


# ------------------------------------------------------------------ creating and changing


def create_draft(
    session: Session,
    *,
    employee: Employee,
    assessment: Assessment,
    platform: str,
    channel: str,
    thread_ts: str | None,
    conversation_id: int | None,
) -> LeaveRequest:
    proposal = assessment.proposal
    request = LeaveRequest(
        employee_id=employee.id,
        leave_type=proposal.leave_type,
        start_date=proposal.start,
        end_date=proposal.end,
        start_half=proposal.start_half,
        end_half=proposal.end_half,
        days=assessment.days,
        reason=proposal.reason,
        status="draft",
        warnings=[b.message for b in assessment.breaks],
        platform=platform,
        channel=channel,
        thread_ts=thread_ts,
        conversation_id=conversation_id,
    )
    session.add(request)
    session.flush()
    audit.record(
        session,
        entity="leave_request",
        entity_id=request.id,
        action="drafted",
        actor_id=employee.id,
        to_state="draft",
        detail=_snapshot(request),
    )
    return request


def apply_edit(session: Session, request: LeaveRequest, assessment: Assessment, *, actor: Employee) -> LeaveRequest:
    """Change the dates/type/reason of a request that is not decided yet (draft or pending)."""
    check_editor(request, actor)
    before = _snapshot(request)
    proposal = assessment.proposal
    request.leave_type = proposal.leave_type
    request.start_date = proposal.start
    request.end_date = proposal.end
    request.start_half = proposal.start_half
    request.end_half = proposal.end_half
    request.reason = proposal.reason
    request.days = assessment.days
    request.warnings = [b.message for b in assessment.breaks]
    request.revision += 1  # an approval of what was shown before is refused (the buttons carry the revision)
    session.flush()
    audit.record(
        session,
        entity="leave_request",
        entity_id=request.id,
        action="edited",
        actor_id=actor.id,
        from_state=request.status,
        to_state=request.status,
        detail={"before": before, "after": _snapshot(request)},
    )
    return request


def _snapshot(request: LeaveRequest) -> dict[str, str | None]:
    return {
        "leave_type": request.leave_type,
        "start": request.start_date.isoformat(),
        "end": request.end_date.isoformat(),
        "start_half": request.start_half,
        "end_half": request.end_half,
        "days": str(request.days),
        "reason": request.reason,
    }


def check_editor(request: LeaveRequest, actor: Employee) -> None:
    """Raise unless `actor` may change this request now: only its owner, only before it is decided."""
    if actor.id != request.employee_id:
        raise TransitionError("Only the person who asked can change this request.")
    if request.status not in ("draft", "pending"):
        raise TransitionError(f"This request is already {request.status}; it can't be edited any more.")


def check_move(request: LeaveRequest, to_state: str, *, actor: Employee, policy: LeavePolicy) -> None:
    """Raise unless `actor` may move the request to `to_state` now (forms ask this before they open)."""
    if to_state not in MOVES.get(request.status, frozenset()):
        raise TransitionError(f"This request is already {request.status}.")
    _may(request, to_state, actor, policy)


def _may(request: LeaveRequest, to_state: str, actor: Employee, policy: LeavePolicy) -> None:
    own = actor.id == request.employee_id
    leave_type = policy.types.get(request.leave_type)
    needs_approval = leave_type is None or leave_type.requires_approval
    if own and request.status == "draft" and to_state == "approved" and needs_approval:
        # Only types that need no approval are recorded straight from a draft; the rest go to an approver.
        raise TransitionError("Nobody approves their own leave: confirm the request to send it to your approver.")
    if to_state in ("approved", "denied") and request.status == "pending":
        if own:
            raise TransitionError("Nobody approves their own leave.")
        if actor.id != request.approver_id and not actor.has_role("hr"):
            raise TransitionError("Only the approver of this request (or People Ops) can decide it.")
        return
    if to_state == "cancelled" and not (own or actor.has_role("hr")):
        raise TransitionError("Only the person who asked (or People Ops) can cancel this leave.")
    if to_state in ("pending", "approved", "discarded", "withdrawn") and not own:
        raise TransitionError("Only the person who asked can do that.")


def transition(
    session: Session,
    request: LeaveRequest,
    to_state: str,
    *,
    actor: Employee,
    now: datetime,
    note: str | None = None,
    policy: LeavePolicy,
) -> LeaveRequest:
    """Move a request to `to_state`: check the move and who makes it, change the row only if nobody else
    changed it first (a double click or two racing confirmations end as one change), write the audit row,
    and book or reverse the ledger."""
    check_move(request, to_state, actor=actor, policy=policy)
    if to_state == "cancelled" and not actor.has_role("hr"):
        # Cancelling gives the days back: once a day of the leave has passed it was taken, whatever button
        # (an old card, a crafted click) asks. People Ops correct leave cut short.
        if request.start_date < local_date(now, request.employee.tz):
            raise TransitionError(
                "This leave has already started, so it can't be cancelled here (its days were taken). "
                "If you came back early, ask People Ops to correct it."
            )
    values: dict[str, object] = {"status": to_state, "updated_at": now}
    if to_state == "pending":
        values["submitted_at"] = now
    if to_state in ("approved", "denied"):
        values["decided_at"] = now
        if note is not None:
            values["decision_note"] = note
    detail = {"note": note} if note else None
    if not audit.change_state(
        session, request, entity="leave_request", values=values, actor_id=actor.id, detail=detail
    ):
        raise TransitionError(f"This request is already {request.status}.")
    leave_type = policy.types.get(request.leave_type)
    if leave_type is not None and leave_type.tracked and to_state in ("approved", "cancelled"):
        # Approval books the days taken; cancelling an approved request gives them back.
        taken = to_state == "approved"
        ledger.book(
            session,
            employee_id=request.employee_id,
            leave_type=request.leave_type,
            kind="usage" if taken else "reversal",
            days=-request.days if taken else request.days,
            effective_on=request.start_date,
            period=f"{'request' if taken else 'reversal'}:{request.id}",
            request_id=request.id,
            actor_id=actor.id,
        )
    return request


def assign_approver(session: Session, request: LeaveRequest, approver: Employee | None, reason: str | None) -> None:
    request.approver_id = approver.id if approver else None
    request.approver_note = reason
    session.flush()


def requests_of(session: Session, employee: Employee, *, statuses: tuple[str, ...] | None = None) -> list[LeaveRequest]:
    query = select(LeaveRequest).where(LeaveRequest.employee_id == employee.id)
    if statuses is not None:
        query = query.where(LeaveRequest.status.in_(statuses))
    else:
        query = query.where(LeaveRequest.status.not_in(("draft", "discarded")))
    return list(session.scalars(query.order_by(LeaveRequest.start_date)))
