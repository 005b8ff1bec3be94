"""SLA watch: for every open ticket, warn in the IT channel at a share of its response and resolution
targets and escalate at breach — each alert exactly once (recorded on the ticket). Time waiting on the
requester does not count."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit, outbox
from bot.jobs import Job, JobContext
from skills.it.config import ItConfig
from skills.it.models import Ticket
from skills.it.service import OPEN, sla_elapsed


def _due_alerts(ticket: Ticket, config: ItConfig, now: datetime) -> list[tuple[str, str]]:
    sla = config.sla.get(ticket.priority)
    if sla is None:
        return []
    elapsed = sla_elapsed(ticket, now)
    targets = [("resolution", sla.resolution)]
    if ticket.first_response_at is None:
        targets.insert(0, ("response", sla.response))
    due: list[tuple[str, str]] = []
    for name, target in targets:
        if elapsed >= target:
            due.append((f"{name}:breach", f"🚨 SLA breached: {name} target of {_span(target)} passed"))
        elif elapsed >= target * config.warn_at:
            due.append((f"{name}:warn", f"⚠️ {int(config.warn_at * 100)}% of the {_span(target)} {name} target used"))
    return [(key, text) for key, text in due if key not in (ticket.sla_alerts or [])]


def _span(target: object) -> str:
    seconds = int(target.total_seconds())  # type: ignore[attr-defined]
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


def sla_state(ticket: Ticket, config: ItConfig, now: datetime) -> str:
    """Where a ticket stands against its resolution target, for colouring queues: "ok", "warn" (past the warning
    share), "breach" (open past the target), "met" or "missed" (resolved within or after it), "none" (no target)."""
    sla = config.sla.get(ticket.priority)
    if sla is None:
        return "none"
    elapsed = sla_elapsed(ticket, ticket.resolved_at or now)
    if ticket.status not in OPEN:
        return "met" if elapsed <= sla.resolution else "missed"
    if elapsed >= sla.resolution:
        return "breach"
    return "warn" if elapsed >= sla.resolution * config.warn_at else "ok"


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
