"""SLA watch: for every open ticket, warn in the IT channel at a share of its response and resolution
targets and escalate at breach — each alert exactly once (recorded on the ticket). Time waiting on the
requester does not count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit, outbox
from bot.db import aware
from bot.jobs import Job, JobContext
from skills.it.config import ItConfig
from skills.it.models import Ticket
from skills.it.service import OPEN, sla_elapsed


def _due_alerts(ticket: Ticket, config: ItConfig, now: datetime) -> list[tuple[str, str]]:
    due: list[tuple[str, str]] = []
    for clock in sla_clocks(ticket, config, now):
        if clock.state == "breach":
            due.append((f"{clock.name}:breach", f"🚨 SLA breached: {clock.name} target of {span(clock.target)} passed"))
        elif clock.state == "warn":
            share = int(config.warn_at * 100)
            due.append((f"{clock.name}:warn", f"⚠️ {share}% of the {span(clock.target)} {clock.name} target used"))
    return [(key, text) for key, text in due if key not in (ticket.sla_alerts or [])]


def span(target: timedelta) -> str:
    """A target as people say it: "4 h", "15 min"."""
    seconds = int(target.total_seconds())
    return f"{seconds // 3600} h" if seconds >= 3600 and seconds % 3600 == 0 else f"{seconds // 60} min"


def check_slas(session: Session, *, config: ItConfig, now: datetime, it_destination: str, mention: str) -> int:
    """Queue the SLA alerts due now; returns how many were queued."""
    queued = 0
    for ticket in session.scalars(select(Ticket).where(Ticket.status.in_(OPEN)).order_by(Ticket.id)):
        alerts = _due_alerts(ticket, config, now)
        for key, text in alerts:
            who = f" — {ticket.assignee.name}" if ticket.assignee else " — unassigned"
            escalate = f"{mention} " if key.endswith(":breach") else ""
            outbox.queue(
                session,
                channel=it_destination,
                text=f"{escalate}{text} on ticket #{ticket.id} {ticket.title} ({ticket.priority}){who}.",
            )
            audit.record(
                session,
                entity="ticket",
                entity_id=ticket.id,
                action=f"sla_{key.replace(':', '_')}",
                actor_id=None,
                detail={"elapsed_seconds": int(sla_elapsed(ticket, now).total_seconds())},
            )
            queued += 1
        if alerts:
            # A new list, so the JSON column is seen as changed.
            ticket.sla_alerts = [*(ticket.sla_alerts or []), *(key for key, _ in alerts)]
    session.flush()
    return queued


@dataclass(frozen=True)
class Clock:
    """One SLA clock of a ticket: "response" or "resolution", its target and where the ticket stands against it:
    "ok", "warn" (past the warning share), "breach" (running past the target), "met" or "missed" (stopped within
    or after it)."""

    name: str
    target: timedelta
    state: str


def clock_state(elapsed: timedelta, target: timedelta, warn_at: float, *, stopped: bool) -> str:
    if stopped:
        return "met" if elapsed <= target else "missed"
    if elapsed >= target:
        return "breach"
    return "warn" if elapsed >= target * warn_at else "ok"


def sla_clocks(ticket: Ticket, config: ItConfig, now: datetime) -> list[Clock]:
    """The ticket's response and resolution clocks (none without a target for its priority). The SLA watch alerts
    on the running ones and the queue shows both. The response clock stops at the first response (or at the
    resolution, if that came first); putting a ticket on hold is itself a response, so it never pauses."""
    sla = config.sla.get(ticket.priority)
    if sla is None:
        return []
    closed = ticket.status not in OPEN
    responded = aware(ticket.first_response_at, now) or (aware(ticket.resolved_at, now) if closed else None)
    if responded is not None:
        response = clock_state(responded - (aware(ticket.created_at, now) or now), sla.response, 1.0, stopped=True)
    else:
        response = clock_state(sla_elapsed(ticket, now), sla.response, config.warn_at, stopped=closed)
    ended = (ticket.resolved_at or now) if closed else now  # a reopened ticket's clock runs on
    resolution = clock_state(sla_elapsed(ticket, ended), sla.resolution, config.warn_at, stopped=closed)
    return [Clock("response", sla.response, response), Clock("resolution", sla.resolution, resolution)]


def scheduled(config: ItConfig) -> tuple[Job, ...]:
    """The IT skill's job: the SLA watch, every minute."""

    def slas(ctx: JobContext) -> None:
        with ctx.database.session_scope() as session:
            check_slas(
                session,
                config=config,
                now=ctx.now,
                it_destination=ctx.settings.it_destination,
                mention=ctx.settings.security_mention,
            )

    return (Job("ticket_slas", slas, "interval", {"minutes": 1}),)
