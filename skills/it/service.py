"""IT tickets: creation, every state change (through `transition`, which checks who may do it, writes the
audit row and queues the webhook event), and the SLA clock that pauses while waiting on the requester."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot import audit
from bot.db import aware
from bot.escalations import TransitionError
from bot.models import Employee
from integrations import webhooks
from skills.it.models import Ticket

STATUSES = ("new", "in_progress", "waiting", "resolved", "closed")
STATUS_LABELS = {
    "new": "New",
    "in_progress": "In progress",
    "waiting": "Waiting on requester",
    "resolved": "Resolved",
    "closed": "Closed",
}
OPEN = ("new", "in_progress", "waiting")
# state → states it may move to; resolved → in_progress reopens a ticket.
MOVES: dict[str, frozenset[str]] = {
    "new": frozenset({"in_progress", "waiting", "resolved", "closed"}),
    "in_progress": frozenset({"waiting", "resolved", "closed"}),
    "waiting": frozenset({"in_progress", "resolved", "closed"}),
    "resolved": frozenset({"closed", "in_progress"}),
    "closed": frozenset(),
}
# What a requester may do to their own ticket: reply while waiting, confirm or reopen after resolution.
REQUESTER_MOVES = {("waiting", "in_progress"), ("resolved", "closed"), ("resolved", "in_progress")}


def snapshot(ticket: Ticket) -> dict[str, Any]:
    """The ticket as sent to webhooks and shown in the audit detail."""
    return {
        "id": ticket.id,
        "title": ticket.title,
        "category": ticket.category,
        "priority": ticket.priority,
        "status": ticket.status,
        "security": ticket.security,
        "requester": ticket.requester.slack_id if ticket.requester else None,
        "assignee": ticket.assignee.slack_id if ticket.assignee else None,
        "incident_id": ticket.incident_id,
    }


def create_ticket(
    session: Session,
    *,
    requester: Employee,
    title: str,
    description: str,
    category: str,
    priority: str,
    security: bool,
    platform: str,
    channel: str,
    thread_ts: str | None,
    conversation_id: int | None,
    ocr_text: str | None = None,
    now: datetime,
    webhook: bool = False,
) -> Ticket:
    ticket = Ticket(
        requester_id=requester.id,
        title=title[:300],
        description=description,
        category=category,
        priority=priority,
        security=security,
        status="new",
        platform=platform,
        channel=channel,
        thread_ts=thread_ts,
        conversation_id=conversation_id,
        ocr_text=ocr_text,
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    session.flush()
    session.refresh(ticket)
    audit.record(
        session,
        entity="ticket",
        entity_id=ticket.id,
        action="created",
        actor_id=requester.id,
        to_state="new",
        detail=snapshot(ticket),
    )
    _emit(session, ticket, "ticket.created", webhook)
    return ticket


def _check_actor(ticket: Ticket, from_state: str, to_state: str, actor: Employee) -> None:
    if actor.has_role("it"):
        return
    if actor.id == ticket.requester_id and (from_state, to_state) in REQUESTER_MOVES:
        return
    if actor.id == ticket.requester_id:
        raise TransitionError("Only IT can change the status of a ticket; you can reply in its thread.")
    raise TransitionError("Only IT can triage tickets.")


def check_move(ticket: Ticket, to_state: str, *, actor: Employee) -> None:
    """Raise unless `actor` may move the ticket to `to_state` now (forms ask this before they open)."""
    if to_state not in MOVES.get(ticket.status, frozenset()):
        raise TransitionError(
            f"Ticket #{ticket.id} is already {STATUS_LABELS.get(ticket.status, ticket.status).lower()}."
        )
    _check_actor(ticket, ticket.status, to_state, actor)


def transition(
    session: Session,
    ticket: Ticket,
    to_state: str,
    *,
    actor: Employee,
    now: datetime,
    note: str | None = None,
    webhook: bool = False,
) -> Ticket:
    """Move a ticket to `to_state` once (a double click changes it once), keep the SLA pause clock, and
    write the audit row."""
    from_state = ticket.status
    check_move(ticket, to_state, actor=actor)
    values: dict[str, Any] = {"status": to_state, "updated_at": now}
    if from_state == "waiting":
        since = aware(ticket.waiting_since, now)
        paused = int((now - since).total_seconds()) if since else 0
        values.update(waiting_since=None, paused_seconds=ticket.paused_seconds + max(paused, 0))
    if to_state == "waiting":
        values["waiting_since"] = now
    if to_state == "resolved":
        values["resolved_at"] = now
        if note:
            values["resolution_note"] = note
    if to_state == "closed":
        values["closed_at"] = now
    if to_state == "in_progress" and from_state == "resolved":
        values["resolved_at"] = None
    if actor.has_role("it") and ticket.first_response_at is None:
        values["first_response_at"] = now
    detail = {"note": note} if note else None
    if not audit.change_state(session, ticket, entity="ticket", values=values, actor_id=actor.id, detail=detail):
        raise TransitionError(
            f"Ticket #{ticket.id} is already {STATUS_LABELS.get(ticket.status, ticket.status).lower()}."
        )
    _emit(session, ticket, f"ticket.{to_state}", webhook)
    return ticket


def assign(
    session: Session,
    ticket: Ticket,
    assignee: Employee,
    *,
    actor: Employee,
    now: datetime,
    webhook: bool = False,
) -> bool:
    """Give the ticket to someone in IT (claiming is assigning to yourself); a new ticket starts moving.
    Returns False when it already was theirs (a double click), having changed and told nothing. The row changes
    only if its assignee is still the one read, so of two people pressing Claim at once one has it and the other
    is told; taking over a colleague's ticket later is a new assignment."""
    if not actor.has_role("it"):
        raise TransitionError("Only IT can claim or assign tickets.")
    if not assignee.has_role("it"):
        raise TransitionError(f"{assignee.name} is not in IT, so they can't take tickets.")
    if ticket.status in ("resolved", "closed"):
        raise TransitionError(f"Ticket #{ticket.id} is already {ticket.status}.")
    before = ticket.assignee
    if before is not None and before.id == assignee.id:
        return False
    values: dict[str, Any] = {"assignee_id": assignee.id}
    if ticket.first_response_at is None:
        values["first_response_at"] = now
    still = Ticket.assignee_id.is_(None) if before is None else Ticket.assignee_id == before.id
    query = update(Ticket).where(Ticket.id == ticket.id, still).values(**values)
    changed = session.execute(query.execution_options(synchronize_session=False))
    session.refresh(ticket)
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        if ticket.assignee_id == assignee.id:
            return False
        holder = ticket.assignee.name if ticket.assignee else "someone else"
        raise TransitionError(f"Ticket #{ticket.id} was just taken by {holder}.")
    audit.record(
        session,
        entity="ticket",
        entity_id=ticket.id,
        action="assigned",
        actor_id=actor.id,
        detail={"from": before.slack_id if before else None, "to": assignee.slack_id},
    )
    if ticket.status == "new":
        transition(session, ticket, "in_progress", actor=actor, now=now, webhook=webhook)
    session.refresh(ticket)
    _emit(session, ticket, "ticket.assigned", webhook)
    return True


def change_field(
    session: Session, ticket: Ticket, field: str, value: str, *, actor: Employee, webhook: bool = False
) -> Ticket:
    """Correct category or priority: IT, or the requester on their own open ticket."""
    if field not in ("category", "priority"):
        raise ValueError(field)
    if not (actor.has_role("it") or (actor.id == ticket.requester_id and ticket.status in OPEN)):
        raise TransitionError("Only IT or the person who reported it can change this ticket.")
    before = getattr(ticket, field)
    if before == value:
        return ticket
    setattr(ticket, field, value)
    session.flush()
    audit.record(
        session,
        entity="ticket",
        entity_id=ticket.id,
        action=f"{field}_changed",
        actor_id=actor.id,
        detail={"from": before, "to": value},
    )
    _emit(session, ticket, f"ticket.{field}_changed", webhook)
    return ticket


def _emit(session: Session, ticket: Ticket, event: str, enabled: bool) -> None:
    """Queue the outbound webhook event in the same transaction as the change (sent by the dispatcher)."""
    webhooks.queue_event(
        session, enabled=enabled, event=event, entity="ticket", entity_id=ticket.id, payload=snapshot(ticket)
    )


def sla_elapsed(ticket: Ticket, now: datetime) -> timedelta:
    """Time on the SLA clock: since creation, minus time spent waiting on the requester."""
    created = aware(ticket.created_at, now) or now
    paused = timedelta(seconds=ticket.paused_seconds)
    since = aware(ticket.waiting_since, now)
    if ticket.status == "waiting" and since is not None:
        paused += now - since
    return now - created - paused


def open_tickets_of(session: Session, employee: Employee) -> list[Ticket]:
    return list(
        session.scalars(
            select(Ticket)
            .where(Ticket.requester_id == employee.id, Ticket.status.in_(OPEN))
            .order_by(Ticket.created_at.desc())
        )
    )


def recent_tickets_of(session: Session, employee: Employee, limit: int = 5) -> list[Ticket]:
    return list(
        session.scalars(
            select(Ticket).where(Ticket.requester_id == employee.id).order_by(Ticket.id.desc()).limit(limit)
        )
    )
