"""IT in the console: the ticket queue with SLA states, open incidents, a ticket's own page, and the ticket and
incident actions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import directory
from bot.console.items import ITEM_PAGE, allowed, employee_of, history, item_page, moment, state, visible_row, words
from bot.console.shell import (
    PAGE_SIZE,
    ConsolePages,
    ItemKind,
    Owned,
    PosterDep,
    RuntimeDep,
    SessionDep,
    Viewer,
    ViewerDep,
    act,
    back,
    count,
    page,
    require,
)
from bot.db import utcnow
from bot.runtime import Runtime
from skills.it import action_ids
from skills.it.cards import CATEGORY_LABELS
from skills.it.models import Incident, Ticket
from skills.it.service import OPEN, STATUS_LABELS, check_move
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
CLOCK_WORDS = {
    "ok": "on time",
    "warn": "close to the target",
    "breach": "past the target",
    "met": "met",
    "missed": "missed",
}
VERBS = {
    "in_progress": "Moved to in progress by {who}",
    "waiting": "Set to wait for the requester by {who}",
    "resolved": "Resolved by {who}",
    "closed": "Closed by {who}",
}
# Which state each status button moves the ticket to, for the page's checks.
MOVES_TO = {"progress": "in_progress", "waiting": "waiting", "resolve": "resolved"}
ToField = Annotated[str, Form(pattern=f"^(/console/it|{ITEM_PAGE})$")]


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
        me = employee_of(db, viewer)
        tickets = [
            {
                "id": t.id,
                "title": t.title,
                "who": t.requester.name,
                "category": CATEGORY_LABELS.get(t.category) or words(t.category),
                "priority": t.priority,
                "status": t.status,
                "status_words": state(STATUS_LABELS, t.status),
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
                "category": CATEGORY_LABELS.get(i.category) or words(i.category),
                "created": moment(i.created_at, me.tz),
                "tickets": db.scalar(select(func.count()).where(Ticket.incident_id == i.id)) or 0,
            }
            for i in db.scalars(select(Incident).where(Incident.status == "open").order_by(Incident.id))
        ]
        team = [(e.slack_id, e.name) for e in directory.members_with_role(db, "it")]
    filters = {"status": status, "priority": priority, "category": category, "assignee": assignee}
    return page(
        request,
        "it.html",
        session,
        user=viewer,
        tickets=tickets,
        filters=filters,
        incidents=incidents,
        team=team,
        statuses=[("open", "Open"), *STATUS_LABELS.items(), ("", "any")],
        categories=CATEGORY_LABELS,
    )


@router.get("/items/ticket/{ticket_id}")
def ticket_item(
    ticket_id: int, request: Request, session: SessionDep, viewer: ViewerDep, rt: RuntimeDep
) -> HTMLResponse:
    now = utcnow()
    with rt.database.session_scope() as db:
        ticket = visible_row(db, Ticket, "ticket", ticket_id, viewer)
        me = employee_of(db, viewer)
        clocks = {c.name: f"{CLOCK_WORDS[c.state]} ({span(c.target)})" for c in sla_clocks(ticket, rt.it_config, now)}
        facts = [
            ("Title", ticket.title),
            ("Reported by", ticket.requester.name),
            ("Category", CATEGORY_LABELS.get(ticket.category) or words(ticket.category)),
            ("Priority", ticket.priority),
            ("Assigned to", ticket.assignee.name if ticket.assignee else "Nobody yet"),
            ("What happened", ticket.description),
            ("Security matter", "Yes" if ticket.security else ""),
            ("Part of incident", ticket.incident.title if ticket.incident else ""),
            ("Reported", moment(ticket.created_at, me.tz)),
            ("First response", moment(ticket.first_response_at, me.tz)),
            ("Response target", clocks.get("response", "")),
            ("Resolution target", clocks.get("resolution", "")),
            ("Resolved", moment(ticket.resolved_at, me.tz)),
            ("What fixed it", ticket.resolution_note or ""),
            ("Rating", f"{ticket.rating} out of 5" if ticket.rating else ""),
        ]
        it = viewer.has("it")  # IT's actions, as on IT's queue (its routes require the role)
        open_ = ticket.status in OPEN
        own_resolved = ticket.requester_id == me.id and ticket.status == "resolved"
        may = {
            "claim": it and open_ and ticket.assignee_id != me.id,
            "assign": it and open_,
            **{name: it and allowed(check_move, ticket, to, actor=me) for name, to in MOVES_TO.items()},
            # The requester's, once IT resolved it: as the buttons on their ticket card.
            "confirm": own_resolved and allowed(check_move, ticket, "closed", actor=me),
            "reopen": own_resolved and allowed(check_move, ticket, "in_progress", actor=me),
        }
        team = [(e.slack_id, e.name) for e in directory.members_with_role(db, "it")] if may["assign"] else []
        trail = history(db, entity="ticket", entity_id=ticket.id, verbs=VERBS, tz=me.tz, now=now)
        return item_page(
            request,
            session,
            viewer,
            "ticket_item.html",
            kind="ticket",
            item_id=ticket.id,
            title=f"Ticket #{ticket.id}: {ticket.title}",
            statuses=STATUS_LABELS,
            status_key=ticket.status,
            facts=facts,
            trail=trail,
            may=may,
            team=team,
        )


REQUESTER_ACTIONS = {"confirm": action_ids.CONFIRM, "reopen": action_ids.REOPEN}


@router.post("/tickets/{ticket_id}/{choice}")
def ticket_requester_act(ticket_id: int, choice: str, viewer: PosterDep, rt: RuntimeDep, to: ToField) -> Response:
    """The requester confirms the fix or reopens the ticket; the skill refuses anyone else, as on Slack."""
    if choice not in REQUESTER_ACTIONS:
        raise HTTPException(status_code=404, detail="No such ticket action.")
    reply = act(rt, viewer, REQUESTER_ACTIONS[choice], str(ticket_id))
    return back(to, reply.text)


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
    to: ToField = "/console/it",
) -> Response:
    require(viewer, "it")
    if action not in TICKET_ACTIONS:
        raise HTTPException(status_code=404, detail="No such ticket action.")
    if action == "assign" and not assignee:
        return back(to, f"Ticket #{ticket_id} not assigned: choose who to assign it to.")
    form = {"note": note} if action == "resolve" else {"selected": assignee} if action == "assign" else None
    reply = act(rt, viewer, TICKET_ACTIONS[action], str(ticket_id), form)
    return back(to, reply.text)


def my_tickets(db: Session, viewer: Viewer, rt: Runtime) -> list[Owned]:
    """The viewer's ten newest tickets, for the home page."""
    newest = select(Ticket).where(Ticket.requester_id == viewer.id).order_by(Ticket.id.desc())
    return [Owned(t.id, t.title, t.status) for t in db.scalars(newest.limit(10))]


def home_counts(db: Session, viewer: Viewer) -> dict[str, int | None]:
    """The open tickets, for IT only."""
    return {"tickets": count(db, Ticket, Ticket.status.in_(("new", "in_progress"))) if viewer.has("it") else None}


ITEMS = (
    ItemKind("ticket", "Ticket", "ticket", STATUS_LABELS, my_tickets),
    ItemKind("incident", "Incident"),
)
PAGES = ConsolePages(router, TEMPLATES, items=ITEMS, home_counts=home_counts)
