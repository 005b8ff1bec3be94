"""Key figures for the staff console and the weekly digest, read from the database.

Every function takes a period [start, end) of timezone-aware datetimes and returns a small frozen dataclass.
Durations are seconds; a figure with nothing to measure is None, never a division by zero.

Cohorts: a record belongs to the period by the moment it was *created* (a message sent, a ticket or HR request
opened, a leave request or claim submitted). Durations are measured for the records of that cohort that have
reached the milestone; the others are counted as pending, so a young cohort's fast-only medians can be read
for what they are.

Counting and grouping that SQL does well (messages per day, feedback votes) is done in SQL; medians,
percentiles and the per-person deflection windows are computed in Python over a few columns of the period's
rows (the same on SQLite and PostgreSQL, which lack a shared percentile or interval arithmetic)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from bot.insight_measures import (
    Durations,
    durations,
    epoch_seconds,
    rounded_seconds,
    share_of,
    utc_bounds,
    utc_day,
    within,
)
from bot.insight_questions import QUESTION_SKILLS, follow_up_times, question_rows
from bot.models import AuditEntry, ChatMessage, Escalation, Expense, Feedback, LeaveRequest
from bot.privacy import redact_pii, sensitive_topic
from knowledge.terms import stem_terms
from skills.it.config import ItConfig
from skills.it.models import Ticket

# Two escalated questions belong to one cluster when their stemmed content words overlap this much (Jaccard).
CLUSTER_SIMILARITY = 0.5


# ------------------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class SkillSeries:
    """Inbound messages of one skill, one count per day of `MessagesPerDay.days`."""

    skill: str
    counts: tuple[int, ...]
    total: int


@dataclass(frozen=True)
class MessagesPerDay:
    """Inbound messages per UTC day and skill, ready to chart: `days` is the x axis, one series per skill
    (busiest first)."""

    days: tuple[date, ...]
    series: tuple[SkillSeries, ...]
    total: int


@dataclass(frozen=True)
class Deflection:
    """Questions the bot answered without a ticket or HR request following within `window_days`.

    `rate` = deflected / (deflected + followed_up); questions whose window is still open at `now` are
    `pending` and in neither."""

    questions: int
    deflected: int
    followed_up: int
    pending: int
    window_days: int
    rate: float | None


@dataclass(frozen=True)
class FeedbackSummary:
    """👍/👎 votes on answers given in the period."""

    up: int
    down: int
    share_positive: float | None


@dataclass(frozen=True)
class ResponseTimes:
    """Tickets or HR requests opened in the period: time to first response and to resolution."""

    opened: int
    first_response: Durations
    resolution: Durations
    awaiting_response: int
    unresolved: int


@dataclass(frozen=True)
class SlaShare:
    """One SLA target over the period's tickets: met, breached (including open tickets already past it),
    pending (open and still within it). `share_met` = met / (met + breached)."""

    met: int
    breached: int
    pending: int
    share_met: float | None


@dataclass(frozen=True)
class SlaCompliance:
    response: SlaShare
    resolution: SlaShare


@dataclass(frozen=True)
class ApprovalTimes:
    """Leave requests or expense claims submitted in the period: decisions and time from submission to
    the final decision."""

    submitted: int
    approved: int
    declined: int
    pending: int
    time_to_decision: Durations


@dataclass(frozen=True)
class QuestionCluster:
    """Escalated questions that share most of their content words."""

    count: int
    example: str
    terms: tuple[str, ...]
    escalation_ids: tuple[int, ...]


# ------------------------------------------------------------------------------------------------ messages


def messages_per_skill_per_day(session: Session, *, start: datetime, end: datetime) -> MessagesPerDay:
    """Inbound messages (direction "in") per UTC day and the skill they were routed to."""
    start, end = utc_bounds(start, end)
    day = utc_day(session, ChatMessage.created_at)
    rows = session.execute(
        select(day, ChatMessage.skill, func.count())
        .where(ChatMessage.direction == "in", within(ChatMessage.created_at, start, end))
        .group_by(day, ChatMessage.skill)
    ).all()
    days: list[date] = []
    current = start.date()
    while datetime(current.year, current.month, current.day, tzinfo=UTC) < end:
        days.append(current)
        current += timedelta(days=1)
    position = {d: i for i, d in enumerate(days)}
    counts: dict[str, list[int]] = {}
    for raw_day, skill, count in rows:
        when = raw_day if isinstance(raw_day, date) else date.fromisoformat(str(raw_day))
        series = counts.setdefault(skill or "unknown", [0] * len(days))
        series[position[when]] += int(count)
    series_list = sorted(
        (SkillSeries(skill=skill, counts=tuple(values), total=sum(values)) for skill, values in counts.items()),
        key=lambda s: (-s.total, s.skill),
    )
    return MessagesPerDay(days=tuple(days), series=tuple(series_list), total=sum(s.total for s in series_list))


# ------------------------------------------------------------------------------------------------ deflection


def deflection(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    window_days: int,
    skills: Sequence[str] = QUESTION_SKILLS,
) -> Deflection:
    """Honest deflection: how many questions were NOT followed by a ticket or an HR request.

    Questions are the period's inbound messages from a known person that are either
    - routed to the policy skill ("policy" in `skills`): every HR/policy question, including the ones the bot
      was unsure about and escalated at once (those count as followed up), or
    - IT how-to questions ("it" in `skills`): inbound messages the IT skill answered from the knowledge base
      (its reply carries the "Still stuck? Open a ticket" button whose value is the question's id). Problem
      reports that opened a ticket straight away are not questions.

    A question asked at t by person p is *followed up* when p opened any ticket or any HR request (sensitive
    ones included) in [t, t + window_days); otherwise it is *deflected*. A thumbs-up or the lack of a rating
    does not matter. Questions whose window has not closed by `now` are *pending*, whatever happened so far:
    counting only their early failures would bias the rate down."""
    start, end = utc_bounds(start, end)
    window = timedelta(days=window_days).total_seconds()
    now_epoch = now.timestamp()
    questions = question_rows(session, start, end, skills)
    follow_ups = follow_up_times(session, start, end + timedelta(days=window_days)) if questions else {}
    deflected = followed_up = pending = 0
    for who, asked in questions:
        # Compared in whole milliseconds, so float noise cannot move a follow-up across the window's edge.
        if round(asked + window - now_epoch, 3) > 0:
            pending += 1
            continue
        times = follow_ups.get(who, [])
        first = bisect.bisect_left(times, asked)
        if first < len(times) and round(times[first] - asked - window, 3) < 0:
            followed_up += 1
        else:
            deflected += 1
    return Deflection(
        questions=len(questions),
        deflected=deflected,
        followed_up=followed_up,
        pending=pending,
        window_days=window_days,
        rate=share_of(deflected, deflected + followed_up),
    )


# ------------------------------------------------------------------------------------------------ feedback


def answer_feedback(session: Session, *, start: datetime, end: datetime) -> FeedbackSummary:
    """👍/👎 votes cast in the period (one per person per answer; the last click counts)."""
    start, end = utc_bounds(start, end)
    up, down = session.execute(
        select(
            func.coalesce(func.sum(case((Feedback.value > 0, 1), else_=0)), 0),
            func.coalesce(func.sum(case((Feedback.value < 0, 1), else_=0)), 0),
        ).where(within(Feedback.created_at, start, end))
    ).one()
    up, down = int(up), int(down)
    return FeedbackSummary(up=up, down=down, share_positive=share_of(up, up + down))


# ------------------------------------------------------------------------------------------------ tickets and HR


def ticket_response_times(session: Session, *, start: datetime, end: datetime) -> ResponseTimes:
    """Tickets opened in the period: created → first response by IT (claim, assignment, reply or status
    change), and created → resolved (wall-clock, waiting time included; the SLA figure excludes it)."""
    start, end = utc_bounds(start, end)
    created = epoch_seconds(session, Ticket.created_at)
    rows = session.execute(
        select(
            epoch_seconds(session, Ticket.first_response_at) - created,
            epoch_seconds(session, Ticket.resolved_at) - created,
        ).where(within(Ticket.created_at, start, end))
    ).all()
    first = [rounded_seconds(value) for value, _ in rows]
    resolved = [rounded_seconds(value) for _, value in rows]
    return ResponseTimes(
        opened=len(rows),
        first_response=durations(value for value in first if value is not None),
        resolution=durations(value for value in resolved if value is not None),
        awaiting_response=first.count(None),
        unresolved=resolved.count(None),
    )


def escalation_response_times(
    session: Session, *, start: datetime, end: datetime, include_sensitive: bool = False
) -> ResponseTimes:
    """HR requests opened in the period, timed from the audit log that bot.escalations writes: first response
    = the first move to "answered" or "resolved", resolution = the move to "resolved". Sensitive requests are
    left out unless `include_sensitive` (the digest never includes them)."""
    start, end = utc_bounds(start, end)
    period = within(Escalation.created_at, start, end)
    if not include_sensitive:
        period = period & Escalation.sensitive.is_(False)
    statuses = {
        int(row_id): status
        for row_id, status in session.execute(select(Escalation.id, Escalation.status).where(period)).all()
    }
    moves = session.execute(
        select(
            AuditEntry.entity_id,
            AuditEntry.action,
            func.min(epoch_seconds(session, AuditEntry.at) - epoch_seconds(session, Escalation.created_at)),
        )
        .join(Escalation, Escalation.id == AuditEntry.entity_id)
        .where(AuditEntry.entity == "escalation", AuditEntry.action.in_(("answered", "resolved")), period)
        .group_by(AuditEntry.entity_id, AuditEntry.action)
    ).all()
    first: dict[int, float] = {}
    resolved: dict[int, float] = {}
    for row_id, action, after in moves:
        seconds = rounded_seconds(after) or 0.0
        first[int(row_id)] = min(seconds, first.get(int(row_id), seconds))
        if action == "resolved":
            resolved[int(row_id)] = seconds
    return ResponseTimes(
        opened=len(statuses),
        first_response=durations(first.values()),
        resolution=durations(resolved.values()),
        awaiting_response=sum(1 for i in statuses if i not in first),
        unresolved=sum(1 for status in statuses.values() if status != "resolved"),
    )


def ticket_sla_compliance(
    session: Session, *, start: datetime, end: datetime, now: datetime, config: ItConfig
) -> SlaCompliance:
    """Tickets opened in the period against their priority's targets (skills/it/it_config.yml), with the
    SLA clock of skills.it: time since creation minus time waiting on the requester. As in
    skills.it.sla, a ticket that responded or was resolved within the target (at most the target) met it,
    and an open ticket whose clock has reached the target has breached it.

    Response: first response − created (a ticket waits on its requester only after IT acted, so nothing is
    paused before the first response). Resolution: resolved − created − paused seconds. An open ticket counts
    as breached once its clock at `now` has reached the target, else as pending; a ticket closed without
    being resolved (e.g. a duplicate) is not counted for resolution; unknown priorities are skipped."""
    start, end = utc_bounds(start, end)
    now_epoch = now.timestamp()
    created = epoch_seconds(session, Ticket.created_at)
    rows = session.execute(
        select(
            Ticket.priority,
            Ticket.status,
            created,
            epoch_seconds(session, Ticket.first_response_at) - created,
            epoch_seconds(session, Ticket.resolved_at) - created,
            Ticket.paused_seconds,
            epoch_seconds(session, Ticket.waiting_since),
        ).where(within(Ticket.created_at, start, end))
    ).all()
    response = [0, 0, 0]  # met, breached, pending
    resolution = [0, 0, 0]
    for priority, status, created_at, first, resolved, paused_seconds, waiting_since in rows:
        sla = config.sla.get(priority)
        if sla is None:
            continue
        paused = float(paused_seconds or 0)
        waiting_now = now_epoch - float(waiting_since) if status == "waiting" and waiting_since is not None else 0.0
        clock_now = round(now_epoch - float(created_at) - paused - waiting_now, 3)
        response_target, resolution_target = sla.response.total_seconds(), sla.resolution.total_seconds()
        if first is not None:
            response[0 if (rounded_seconds(first) or 0.0) <= response_target else 1] += 1
        else:
            response[1 if clock_now >= response_target else 2] += 1
        if resolved is not None:
            resolution[0 if (rounded_seconds(resolved) or 0.0) - paused <= resolution_target else 1] += 1
        elif status != "closed":
            resolution[1 if clock_now >= resolution_target else 2] += 1
    return SlaCompliance(response=_sla_share(*response), resolution=_sla_share(*resolution))


def _sla_share(met: int, breached: int, pending: int) -> SlaShare:
    return SlaShare(met=met, breached=breached, pending=pending, share_met=share_of(met, met + breached))


# ------------------------------------------------------------------------------------------------ approvals


def leave_approval_times(session: Session, *, start: datetime, end: datetime) -> ApprovalTimes:
    """Leave requests submitted for approval in the period: submitted → approved or denied. A request
    approved and later cancelled counts as approved; withdrawn ones are neither decided nor pending."""
    start, end = utc_bounds(start, end)
    rows = session.execute(
        select(
            LeaveRequest.status,
            epoch_seconds(session, LeaveRequest.decided_at) - epoch_seconds(session, LeaveRequest.submitted_at),
        ).where(within(LeaveRequest.submitted_at, start, end))
    ).all()
    return _approvals(rows, approved=("approved", "cancelled"), declined=("denied",), pending=("pending",))


def expense_approval_times(session: Session, *, start: datetime, end: datetime) -> ApprovalTimes:
    """Expense claims submitted in the period: submitted → the final decision (finance's, when a claim also
    needs finance; approved-then-reimbursed counts as approved). Claims approved by the manager and waiting
    for finance are pending."""
    start, end = utc_bounds(start, end)
    rows = session.execute(
        select(
            Expense.status, epoch_seconds(session, Expense.decided_at) - epoch_seconds(session, Expense.submitted_at)
        ).where(within(Expense.submitted_at, start, end))
    ).all()
    return _approvals(
        rows,
        approved=("approved", "reimbursed"),
        declined=("rejected",),
        pending=("submitted", "manager_approved"),
    )


def _approvals(
    rows: Sequence[tuple[str, object]],
    *,
    approved: tuple[str, ...],
    declined: tuple[str, ...],
    pending: tuple[str, ...],
) -> ApprovalTimes:
    """`rows`: (status, seconds from submission to decision or None)."""
    decided = [rounded_seconds(seconds) for status, seconds in rows if status in approved + declined]
    return ApprovalTimes(
        submitted=len(rows),
        approved=sum(1 for status, _ in rows if status in approved),
        declined=sum(1 for status, _ in rows if status in declined),
        pending=sum(1 for status, _ in rows if status in pending),
        time_to_decision=durations(value for value in decided if value is not None),
    )


# ------------------------------------------------------------------------------------------------ unanswered


def unanswered_question_clusters(
    session: Session, *, start: datetime, end: datetime, limit: int = 10
) -> tuple[QuestionCluster, ...]:
    """Questions the bot could not answer (HR requests opened in the period — the policy answers it was
    unsure of and the ones people sent to HR), grouped, biggest group first.

    Grouping is deterministic: questions are taken in the order asked; each joins the earliest group whose
    first question shares at least CLUSTER_SIMILARITY (Jaccard) of its stemmed content words, else starts a
    new group. The example is the group's first question, with personal data redacted. Sensitive requests
    never appear, nor does any question that reads as a medical, harassment or grievance matter even if it
    was not flagged (this list is shown in a shared channel)."""
    start, end = utc_bounds(start, end)
    rows = session.execute(
        select(Escalation.id, Escalation.question)
        .where(within(Escalation.created_at, start, end), Escalation.sensitive.is_(False))
        .order_by(Escalation.created_at, Escalation.id)
    ).all()
    groups: list[tuple[frozenset[str], str, list[int]]] = []  # (first question's terms, example, ids)
    for row_id, question in rows:
        if sensitive_topic(question) is not None:
            continue
        terms = frozenset(stem_terms(question))
        best, best_score = None, 0.0
        for index, (group_terms, _, _) in enumerate(groups):
            union = terms | group_terms
            score = len(terms & group_terms) / len(union) if union else 0.0
            if score > best_score:
                best, best_score = index, score
        if best is not None and best_score >= CLUSTER_SIMILARITY:
            groups[best][2].append(int(row_id))
        else:
            groups.append((terms, question, [int(row_id)]))
    ranked = sorted(enumerate(groups), key=lambda item: (-len(item[1][2]), item[0]))
    return tuple(
        QuestionCluster(
            count=len(ids), example=redact_pii(example.strip()), terms=tuple(sorted(terms)), escalation_ids=tuple(ids)
        )
        for _, (terms, example, ids) in ranked[:limit]
    )
