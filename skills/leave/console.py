"""Leave in the console: a request's page (what, when, who decides, its history, its actions) and the decisions
and take-backs sent from it or from the team page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.console.items import ITEM_PAGE, allowed, day_range, employee_of, history, item_page, moment, visible_row, words
from bot.console.shell import (
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
)
from bot.db import local_date, utcnow
from bot.messages import seen
from bot.models import LeaveRequest
from bot.runtime import Runtime
from skills.leave import action_ids
from skills.leave.config import LeavePolicy
from skills.leave.requests import check_move, fmt_days, fmt_range

TEMPLATES = Path(__file__).parent / "templates"

router = APIRouter(prefix="/console", include_in_schema=False)

STATUS = {
    "draft": "Draft, not sent yet",
    "pending": "Waiting for approval",
    "approved": "Approved",
    "denied": "Denied",
    "withdrawn": "Withdrawn",
    "cancelled": "Cancelled",
    "discarded": "Discarded",
}
VERBS = {
    "pending": "Sent for approval by {who}",
    "approved": "Approved by {who}",
    "denied": "Denied by {who}",
    "withdrawn": "Withdrawn by {who}",
    "cancelled": "Cancelled by {who}",
    "discarded": "Discarded by {who}",
}
# The button or form each console decision is, and the state it moves the request to (for the page's checks).
DECISIONS = {
    "approve": (action_ids.APPROVE, "approved"),
    "deny": (action_ids.DENY_SUBMIT, "denied"),
    "withdraw": (action_ids.WITHDRAW, "withdrawn"),
    "cancel": (action_ids.CANCEL, "cancelled"),
}


@router.get("/items/leave/{request_id}")
def leave_item(
    request_id: int, request: Request, session: SessionDep, viewer: ViewerDep, rt: RuntimeDep
) -> HTMLResponse:
    now = utcnow()
    policy = rt.leave_policy
    with rt.database.session_scope() as db:
        leave = visible_row(db, LeaveRequest, "leave", request_id, viewer)
        me = employee_of(db, viewer)
        approver = leave.approver
        facts = [
            ("Requested by", leave.employee.name),
            ("Type", leave_label(policy, leave.leave_type)),
            ("Dates", fmt_range(leave.start_date, leave.end_date, leave.start_half, leave.end_half)),
            ("Working days", fmt_days(leave.days)),
            ("Reason", leave.reason or ""),
            (
                "Approver",
                (approver.name if approver else "") + (f" ({leave.approver_note})" if leave.approver_note else ""),
            ),
            ("Decision note", leave.decision_note or ""),
            ("Warnings", "; ".join(leave.warnings or [])),
            ("Sent for approval", moment(leave.submitted_at, me.tz)),
            ("Decided", moment(leave.decided_at, me.tz)),
        ]
        may = {name: allowed(check_move, leave, to, actor=me, policy=policy) for name, (_, to) in DECISIONS.items()}
        may["approve"] = may["approve"] and leave.status == "pending"  # a draft "approved" is the owner's own booking
        # Leave that has started can't be cancelled here (its days were taken) unless People Ops do it.
        may["cancel"] = may["cancel"] and (me.has_role("hr") or leave.start_date >= local_date(now, leave.employee.tz))
        trail = history(db, entity="leave_request", entity_id=leave.id, verbs=VERBS, tz=me.tz, now=now)
        return item_page(
            request,
            session,
            viewer,
            "leave_item.html",
            kind="leave",
            item_id=leave.id,
            title=f"Leave request #{leave.id}",
            statuses=STATUS,
            status_key=leave.status,
            facts=facts,
            trail=trail,
            may=may,
            revision=leave.revision,
        )


@router.post("/leave/{request_id}/{decision}")
def leave_decide(
    request_id: int,
    decision: str,
    viewer: PosterDep,
    rt: RuntimeDep,
    reason: Annotated[str, Form(max_length=2000)] = "",
    revision: Annotated[int | None, Form(description="the revision the page showed")] = None,
    to: Annotated[str, Form(pattern=f"^(/console/team|{ITEM_PAGE})$")] = "/console/team",
) -> Response:
    if decision not in DECISIONS:
        raise HTTPException(status_code=404, detail="No such decision.")
    action = DECISIONS[decision][0]
    value = seen(request_id, revision) if revision is not None and decision == "approve" else str(request_id)
    reply = act(rt, viewer, action, value, {"reason": reason} if decision == "deny" else None)
    return back(to, reply.text)


def leave_label(policy: LeavePolicy, key: str) -> str:
    """A leave type as the leave policy names it ("vacation" → "Vacation")."""
    kind = policy.types.get(key)
    return kind.label if kind is not None else words(key)


def my_requests(db: Session, viewer: Viewer, rt: Runtime) -> list[Owned]:
    """The viewer's ten newest leave requests, for the home page."""
    newest = select(LeaveRequest).where(LeaveRequest.employee_id == viewer.id).order_by(LeaveRequest.id.desc())
    mine: list[Owned] = []
    for r in db.scalars(newest.limit(10)):
        days = day_range(r.start_date, r.end_date, r.start_half, r.end_half)
        what = f"{leave_label(rt.leave_policy, r.leave_type)}, {days}"
        mine.append(Owned(r.id, what, r.status))
    return mine


def home_counts(db: Session, viewer: Viewer) -> dict[str, int | None]:
    """The leave waiting for the viewer's decision."""
    waiting = (LeaveRequest.status == "pending", LeaveRequest.approver_id == viewer.id)
    return {"team_leave": count(db, LeaveRequest, *waiting)}


LEAVE_REQUEST = ItemKind("leave_request", "Leave request", "leave", STATUS, my_requests)
PAGES = ConsolePages(router, TEMPLATES, items=(LEAVE_REQUEST,), home_counts=home_counts)
