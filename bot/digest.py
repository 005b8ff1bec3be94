"""The weekly digest: last week's key figures for HR (questions, deflection, feedback, HR requests, approvals,
top unanswered questions) and for IT (tickets, SLA, response and resolution times, how-to deflection).

Posted through the outbox (durable, retried) once per ISO week and channel: `digest_posts` has a unique
(kind, period) key, so running the job twice, or on two processes at once, posts once. The job runs hourly
and posts the previous week's digest from Monday 08:00 UTC, so a process down at eight posts it when back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import insights, outbox
from bot.insight_measures import Durations
from bot.insights import ApprovalTimes, Deflection
from bot.messages import escape_mrkdwn
from bot.models import DigestPost, OutboxItem
from skills.it.config import ItConfig

POST_AFTER = timedelta(hours=8)  # Monday 08:00 UTC: people read it at the start of the week
TOP_QUESTIONS = 5
NO_DATA = "no data"


def digest_week(now: datetime) -> tuple[datetime, datetime]:
    """The last complete ISO week before `now`: [Monday 00:00 UTC, next Monday 00:00 UTC)."""
    today = now.astimezone(UTC).date()
    monday = today - timedelta(days=today.weekday())
    end = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
    return end - timedelta(days=7), end


def week_key(start: datetime) -> str:
    """The ISO week of `start`, e.g. "2026-W47" (the digest's idempotency key)."""
    year, week, _ = start.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"


# ------------------------------------------------------------------------------------------------ formatting


def format_duration(seconds: float | None) -> str:
    """Seconds as a readable span with its unit: 45 s, 12 min, 3.5 h, 2.1 days."""
    if seconds is None:
        return NO_DATA
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def format_share(share: float | None) -> str:
    return NO_DATA if share is None else f"{share:.0%}"


def format_span(start: datetime, end: datetime) -> str:
    """The days of [start, end) as "16–22 Nov 2026" (UTC)."""
    first, last = start.astimezone(UTC).date(), (end.astimezone(UTC) - timedelta(microseconds=1)).date()
    if first.year != last.year:
        return f"{first:%-d %b %Y} – {last:%-d %b %Y}"
    if first.month != last.month:
        return f"{first:%-d %b} – {last:%-d %b %Y}"
    return f"{first:%-d}–{last:%-d %b %Y}"


def _durations(value: Durations, done: str) -> str:
    if value.count == 0:
        return NO_DATA
    return (
        f"median {format_duration(value.median_seconds)} · p90 {format_duration(value.p90_seconds)} "
        f"({value.count} {done})"
    )


def _deflection(value: Deflection, asked: str, what: str) -> str:
    if value.rate is None:
        return f"{NO_DATA} ({what} asked {asked})"
    decided = value.deflected + value.followed_up
    return (
        f"{format_share(value.rate)} — {value.deflected} of {decided} {what} asked {asked} were not followed by a "
        f"ticket or HR request within {value.window_days} days"
    )


def _approvals(value: ApprovalTimes, approved: str, declined: str) -> str:
    if value.submitted == 0:
        return NO_DATA
    timing = value.time_to_decision
    took = (
        ""
        if timing.count == 0
        else f" · time to decision median {format_duration(timing.median_seconds)}"
        f" · p90 {format_duration(timing.p90_seconds)}"
    )
    return (
        f"{value.submitted} submitted — {value.approved} {approved}, {value.declined} {declined}, "
        f"{value.pending} pending{took}"
    )


def _deflection_period(start: datetime, end: datetime, days: int) -> tuple[datetime, datetime]:
    # Last week's questions are still inside their follow-up window: report the questions whose window has
    # closed, i.e. the week that ended `days` days before the digest's week.
    shift = timedelta(days=days)
    return start - shift, end - shift


def hr_digest(
    session: Session, *, start: datetime, end: datetime, now: datetime, deflection_days: int, slack: bool = True
) -> str:
    """The HR channel's digest of [start, end). Sensitive HR requests appear in no figure or question. With
    `slack`, people's questions are escaped for Slack (the web chat's channels show text as it is)."""
    messages = insights.messages_per_skill_per_day(session, start=start, end=end)
    asked_from, asked_to = _deflection_period(start, end, deflection_days)
    deflected = insights.deflection(
        session, start=asked_from, end=asked_to, now=now, window_days=deflection_days, skills=("policy",)
    )
    feedback = insights.answer_feedback(session, start=start, end=end)
    requests = insights.escalation_response_times(session, start=start, end=end)
    leave = insights.leave_approval_times(session, start=start, end=end)
    expenses = insights.expense_approval_times(session, start=start, end=end)
    clusters = insights.unanswered_question_clusters(session, start=start, end=end, limit=TOP_QUESTIONS)

    by_skill = " · ".join(f"{s.skill} {s.total}" for s in messages.series)
    votes = feedback.up + feedback.down
    lines = [
        f"*Weekly HR digest — {format_span(start, end)} (UTC)*",
        "",
        "*Questions*",
        f"• Messages to the bot: {messages.total}" + (f" ({by_skill})" if by_skill else ""),
        f"• Deflection of policy questions: {_deflection(deflected, format_span(asked_from, asked_to), 'questions')}",
        "• Answer feedback: "
        + (
            NO_DATA
            if votes == 0
            else f"👍 {feedback.up} · 👎 {feedback.down} ({format_share(feedback.share_positive)} positive)"
        ),
        "",
        "*HR requests*",
        f"• Opened: {requests.opened}"
        + (
            f" · {requests.awaiting_response} awaiting an answer · {requests.unresolved} not resolved"
            if requests.opened
            else ""
        ),
        f"• First response: {_durations(requests.first_response, 'answered')}",
        f"• Resolution: {_durations(requests.resolution, 'resolved')}",
        "",
        "*Approvals (submission to decision)*",
        f"• Leave: {_approvals(leave, 'approved', 'denied')}",
        f"• Expenses: {_approvals(expenses, 'approved', 'rejected')}",
        "",
        "*Top unanswered questions*",
    ]
    if clusters:
        quote = escape_mrkdwn if slack else str
        lines += [f"{i}. ×{c.count} “{quote(c.example)}”" for i, c in enumerate(clusters, start=1)]
    else:
        lines.append(NO_DATA)
    return "\n".join(lines)


def it_digest(
    session: Session, *, start: datetime, end: datetime, now: datetime, deflection_days: int, it_config: ItConfig
) -> str:
    """The IT channel's digest of [start, end): tickets, SLA, response and resolution, how-to deflection."""
    tickets = insights.ticket_response_times(session, start=start, end=end)
    sla = insights.ticket_sla_compliance(session, start=start, end=end, now=now, config=it_config)
    asked_from, asked_to = _deflection_period(start, end, deflection_days)
    deflected = insights.deflection(
        session, start=asked_from, end=asked_to, now=now, window_days=deflection_days, skills=("it",)
    )

    def share(value: insights.SlaShare) -> str:
        if value.share_met is None:
            return f"{NO_DATA} ({value.pending} pending)"
        return f"{format_share(value.share_met)} ({value.met} of {value.met + value.breached}, {value.pending} pending)"

    return "\n".join(
        [
            f"*Weekly IT digest — {format_span(start, end)} (UTC)*",
            "",
            f"• Tickets opened: {tickets.opened}"
            + (
                f" · {tickets.awaiting_response} awaiting a first response · {tickets.unresolved} not resolved"
                if tickets.opened
                else ""
            ),
            f"• First response: {_durations(tickets.first_response, 'responded')}",
            f"• Resolution: {_durations(tickets.resolution, 'resolved')}",
            f"• SLA met — response: {share(sla.response)} · resolution: {share(sla.resolution)}",
            "• Deflection of how-to questions: "
            + _deflection(deflected, format_span(asked_from, asked_to), "questions"),
        ]
    )


# ------------------------------------------------------------------------------------------------ posting


def post_weekly_digests(
    session: Session,
    *,
    now: datetime,
    hr_destination: str,
    it_destination: str,
    it_config: ItConfig,
    deflection_days: int,
) -> list[OutboxItem]:
    """Queue last week's HR and IT digests unless already queued; nothing before Monday 08:00 UTC. Returns
    the outbox items queued by this call."""
    start, end = digest_week(now)
    if now < end + POST_AFTER:
        return []
    period = week_key(start)
    queued: list[OutboxItem] = []
    for kind, channel in (("hr", hr_destination), ("it", it_destination)):
        if session.scalar(select(DigestPost.id).where(DigestPost.kind == kind, DigestPost.period == period)):
            continue
        if kind == "hr":
            text = hr_digest(
                session,
                start=start,
                end=end,
                now=now,
                deflection_days=deflection_days,
                slack=not channel.startswith("web:"),
            )
        else:
            text = it_digest(
                session, start=start, end=end, now=now, deflection_days=deflection_days, it_config=it_config
            )
        try:
            with session.begin_nested():
                item = outbox.queue(session, channel=channel, text=text)
                session.flush()
                session.add(DigestPost(kind=kind, period=period, channel=channel, outbox_id=item.id))
                session.flush()
        except IntegrityError:
            continue  # another process queued this digest a moment ago
        queued.append(item)
    return queued
