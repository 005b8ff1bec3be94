"""Outages: other people's reports of the same problem grouped into one incident, the incident's card in IT's
channel, and resolving it for everyone who reported it."""

from __future__ import annotations

from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit
from bot.messages import Button, Message, Reply, escape_mrkdwn
from skills.base import SkillContext, ask_for_text, row_id
from skills.it import action_ids, service
from skills.it.cards import SKILL, refresh_cards, sends_webhooks, tell_requester
from skills.it.config import ItConfig
from skills.it.models import Incident, Ticket
from skills.it.repeats import vectors_of

# Cosine similarity (the documents' embedding model, all-MiniLM-L6-v2) above which two people's reports are taken
# as the same outage; measured: room-B Wi-Fi phrasings 0.63-0.87, the same fault elsewhere ("wifi on floor 4 is
# slow") 0.44-0.56, unrelated problems below 0.3.
SAME_OUTAGE = 0.62


def group_into_incident(
    ctx: SkillContext, ticket: Ticket, vectors: dict[str, np.ndarray], *, config: ItConfig
) -> Incident | None:
    """Join or start an incident when other people reported the same problem within the window."""
    since = ticket.created_at - config.incident_window
    others = [
        t for t in others_open_tickets(ctx.session, ticket.category, ticket.requester_id, since) if t.id != ticket.id
    ]
    if not others:
        return None
    embedded = vectors_of(ctx, [ticket.description] + [t.description for t in others], vectors)
    similar = [t for t, score in zip(others, embedded[1:] @ embedded[0], strict=True) if score >= SAME_OUTAGE]
    if len(similar) + 1 < config.incident_min_reports:
        return None
    incident = next((t.incident for t in similar if t.incident is not None and t.incident.status == "open"), None)
    if incident is None:
        incident = Incident(title=similar[0].title, category=ticket.category, status="open")
        ctx.session.add(incident)
        ctx.session.flush()
        audit.record(
            ctx.session, entity="incident", entity_id=incident.id, action="opened", actor_id=None, to_state="open"
        )
        for other in similar:
            other.incident_id = incident.id
    ticket.incident_id = incident.id
    ctx.session.flush()
    post_incident_card(ctx, incident)
    return incident


def post_incident_card(ctx: SkillContext, incident: Incident) -> None:
    members = incident_tickets(ctx.session, incident)
    people = ", ".join(sorted({t.requester.name for t in members}))
    status = "open" if incident.status == "open" else f"resolved: {incident.resolution_note}"
    ctx.notify(
        channel=ctx.settings.it_destination,
        text=(
            f"🔥 *Incident #{incident.id}: {escape_mrkdwn(incident.title)}* — {len(members)} reports "
            f"({people}); {status}. "
            f"Tickets: {', '.join(f'#{t.id}' for t in members)}"
        ),
        update_key=f"it:incident:{incident.id}",
        buttons=[Button(action_ids.INCIDENT_RESOLVE, "Resolve incident", str(incident.id), "primary")]
        if incident.status == "open"
        else [],
    )


def incident_resolve_form(message: Message, ctx: SkillContext) -> Reply:
    """Resolve incident pressed on the card: the form asking what was wrong."""
    return _resolve_incident(message, ctx, submitted=False)


def incident_resolved(message: Message, ctx: SkillContext) -> Reply:
    """That form sent: the incident and its open tickets resolved, everyone who reported it told."""
    return _resolve_incident(message, ctx, submitted=True)


def _resolve_incident(message: Message, ctx: SkillContext, *, submitted: bool) -> Reply:
    incident = ctx.session.get(Incident, row_id(message.action_value) or 0)
    if incident is None:
        return Reply(text="I couldn't find that incident.", ephemeral=True)
    if not ctx.employee.has_role("it"):
        return Reply(text="Only IT can resolve incidents.", ephemeral=True)
    if incident.status != "open":
        return Reply(text=f"Incident #{incident.id} is already resolved.", ephemeral=True)
    note = message.form.get("note", "").strip()
    if not submitted or not note:
        return ask_for_text(
            callback_id=action_ids.INCIDENT_RESOLVE_SUBMIT,
            title=f"Resolve incident #{incident.id}",
            field="note",
            label="What was wrong and is it fixed? (everyone affected sees this)",
            target_id=incident.id,
            submit_label="Resolve",
        )
    now = ctx.now()
    resolved = audit.change_state(
        ctx.session,
        incident,
        entity="incident",
        values={"status": "resolved", "resolved_at": now, "resolution_note": note},
        actor_id=ctx.employee.id,
        detail={"note": note},
    )
    if not resolved:
        return Reply(text=f"Incident #{incident.id} is already resolved.", ephemeral=True)
    members = incident_tickets(ctx.session, incident)
    for ticket in members:
        if ticket.status in service.OPEN:
            service.transition(
                ctx.session, ticket, "resolved", actor=ctx.employee, now=now, note=note, webhook=sends_webhooks(ctx)
            )
            refresh_cards(ctx, ticket, "Your ticket is resolved")
            tell_requester(ctx, ticket, f"✅ The problem you reported (incident #{incident.id}) is fixed: {note}")
    post_incident_card(ctx, incident)
    return Reply(text=f"Resolved incident #{incident.id}; {len(members)} people told.", skill=SKILL, ephemeral=True)


def incident_tickets(session: Session, incident: Incident) -> list[Ticket]:
    return list(session.scalars(select(Ticket).where(Ticket.incident_id == incident.id).order_by(Ticket.id)))


def others_open_tickets(session: Session, category: str, requester_id: int, since: datetime) -> list[Ticket]:
    """Other people's open tickets of a category reported since `since` (an outage's other reports)."""
    query = select(Ticket).where(
        Ticket.requester_id != requester_id,
        Ticket.category == category,
        Ticket.status.in_(service.OPEN),
        Ticket.security.is_(False),
        Ticket.created_at >= since,
    )
    return list(session.scalars(query))
