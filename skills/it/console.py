"""IT's console page: the ticket queue with SLA states, open incidents, and the ticket and incident actions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select

from bot import directory
from bot.console.shell import (
    PAGE_SIZE,
    ConsolePages,
    PosterDep,
    RuntimeDep,
    SessionDep,
    ViewerDep,
    act,
    back,
    page,
    require,
)
from bot.date_words import fmt_moment
from bot.db import utcnow
from skills.it import action_ids
from skills.it.models import Incident, Ticket
from skills.it.service import OPEN
from skills.it.sla import sla_clocks, span

TEMPLATES = Path(__file__).parent / "templates"

router = APIRouter(prefix="/console", include_in_schema=False)


# ---------------------------------------------------------------- IT

TICKET_ACTIONS = {
    "claim": action_ids.CLAIM,
    "assign": action_ids.ASSIGN,
    "progress": action_ids.PROGRESS,
    "waiting": action_ids.WAITING,
    "resolve": action_ids.RESOLVE_SUBMIT,
}


CLOCK_LABELS = {"ok": "ok", "warn": "warning", "breach": "breached", "met": "met", "missed": "missed"}


@router.get("/it")
def it_page(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    rt: RuntimeDep,
    status: Annotated[str, Query(max_length=20)] = "open",
    priority: Annotated[str, Query(max_length=4)] = "",
    category: Annotated[str, Query(max_length=32)] = "",
    assignee: Annotated[str, Query(max_length=8)] = "",
) -> HTMLResponse:
    require(viewer, "it")
    query = select(Ticket).order_by(Ticket.priority, Ticket.created_at).limit(PAGE_SIZE)
    if status == "open":
        query = query.where(Ticket.status.in_(OPEN))
    elif status:
        query = query.where(Ticket.status == status)
    if priority:
        query = query.where(Ticket.priority == priority)
    if category:
        query = query.where(Ticket.category == category)
    if assignee == "me":
        query = query.where(Ticket.assignee_id == viewer.id)
    elif assignee == "none":
        query = query.where(Ticket.assignee_id.is_(None))
    now = utcnow()
    with rt.database.session_scope() as db:
        tickets = [
            {
                "id": t.id,
                "title": t.title,
                "who": t.requester.name,
                "category": t.category,
                "priority": t.priority,
                "status": t.status,
                "assignee": t.assignee.name if t.assignee else "",
                "created": t.created_at,
                "clocks": {
                    c.name: {"state": c.state, "label": CLOCK_LABELS[c.state], "target": span(c.target)}
                    for c in sla_clocks(t, rt.it_config, now)
                },
            }
            for t in db.scalars(query)
        ]
        incidents = [
            {
                "id": i.id,
                "title": i.title,
                "category": i.category,
                "created": fmt_moment(i.created_at),
                "tickets": db.scalar(select(func.count()).where(Ticket.incident_id == i.id)) or 0,
            }
            for i in db.scalars(select(Incident).where(Incident.status == "open").order_by(Incident.id))
        ]
        team = [(e.slack_id, e.name) for e in directory.members_with_role(db, "it")]
    filters = {"status": status, "priority": priority, "category": category, "assignee": assignee}
    return page(
        request, "it.html", session, user=viewer, tickets=tickets, filters=filters, incidents=incidents, team=team
    )


@router.post("/it/incidents/{incident_id}/resolve")
def it_incident_resolve(
    incident_id: int,
    viewer: PosterDep,
    rt: RuntimeDep,
    note: Annotated[str, Form(max_length=4000)],
) -> Response:
    require(viewer, "it")
    reply = act(rt, viewer, action_ids.INCIDENT_RESOLVE_SUBMIT, str(incident_id), {"note": note})
    return back("/console/it", reply.text)


@router.post("/it/tickets/{ticket_id}/{action}")
def it_act(
    ticket_id: int,
    action: str,
    viewer: PosterDep,
    rt: RuntimeDep,
    note: Annotated[str, Form(max_length=4000)] = "",
    assignee: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    require(viewer, "it")
    if action not in TICKET_ACTIONS:
        raise HTTPException(status_code=404, detail="No such ticket action.")
    if action == "assign" and not assignee:
        return back("/console/it", f"Ticket #{ticket_id} not assigned: choose who to assign it to.")
    form = {"note": note} if action == "resolve" else {"selected": assignee} if action == "assign" else None
    reply = act(rt, viewer, TICKET_ACTIONS[action], str(ticket_id), form)
    return back("/console/it", reply.text)


PAGES = ConsolePages(router, TEMPLATES)
