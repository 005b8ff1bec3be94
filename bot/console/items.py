"""An item's console page in words: who may see it, its times, money and history as a person reads them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.console.auth import ConsoleSession
from bot.console.shell import Viewer, page
from bot.date_words import fmt_day
from bot.escalations import TransitionError
from bot.models import AuditEntry, Employee

Row = TypeVar("Row")

# Where a form on an item page sends the person back to: the page it was posted from.
ITEM_PAGE = r"/console/items/(leave|expense|ticket|escalation)/\d+"


def can_see(viewer: Viewer, entity: str, row: Any) -> bool:
    """Owners see their own items; approvers theirs; HR escalations and leave, IT tickets, finance expenses;
    admins everything."""
    if viewer.has("admin"):
        return True
    if entity == "leave":
        return bool(row.employee_id == viewer.id or row.approver_id == viewer.id or viewer.has("hr"))
    if entity == "ticket":
        return bool(row.requester_id == viewer.id or viewer.has("it"))
    if entity == "expense":
        return bool(row.employee_id == viewer.id or row.approver_id == viewer.id or viewer.has("finance"))
    if entity == "escalation":
        return bool(row.employee_id == viewer.id or viewer.has("hr"))
    return False


def visible_row(db: Session, model: type[Row], entity: str, item_id: int, viewer: Viewer) -> Row:
    """The item, if it exists (404) and `viewer` may see it (403)."""
    row = db.get(model, item_id)
    if row is None:
        raise HTTPException(status_code=404, detail="No such item.")
    if not can_see(viewer, entity, row):
        raise HTTPException(status_code=403, detail="This item is not yours to see.")
    return row


def allowed(check: Callable[..., object], *args: Any, **kwargs: Any) -> bool:
    """Whether the transition check `check(*args, **kwargs)` lets the move through: the same check the action
    itself runs, so a page shows exactly the actions its viewer may take."""
    try:
        check(*args, **kwargs)
    except TransitionError:
        return False
    return True


def zone(tz: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name like "Europe" is a folder
        return ZoneInfo("UTC")


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # SQLite gives back naive UTC


def moment(at: datetime | None, tz: str | None) -> str:
    """A moment in the viewer's time zone as a person reads it: "Tue 8 Dec 2026, 14:05"; "" for None."""
    if at is None:
        return ""
    local = _aware(at).astimezone(zone(tz))
    return f"{fmt_day(local.date())}, {local:%H:%M}"


def ago(at: datetime, now: datetime) -> str:
    """How long ago: "just now", "5 min ago", "2 h ago", "3 d ago"."""
    minutes = int((now - _aware(at)) / timedelta(minutes=1))
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h ago"
    return f"{minutes // (24 * 60)} d ago"


def money(amount: Decimal, currency: str) -> str:
    """Money with its currency first, as a person reads it: "MYR 1,042.50"."""
    return f"{currency} {amount:,.2f}"


def words(key: str) -> str:
    """A stored key as a person reads it: "in_progress" → "In progress"."""
    return key.replace("_", " ").capitalize()


def state(statuses: Mapping[str, str], key: str) -> str:
    """A status in words from an item kind's mapping ("pending" → "Waiting for approval"); any other in words."""
    return statuses.get(key) or words(key)


def expense_category(key: str) -> str:
    """An expense category as the claim's page names it: "phone_internet" → "Phone / internet"."""
    return key.replace("_", " / ").capitalize()


def day_count(value: Decimal) -> str:
    """Working days without a needless ".0": "5 days", "1 day", "½ day", "2.5 days"."""
    rounded = value.quantize(Decimal("0.1"))
    if rounded == Decimal("0.5"):
        return "½ day"
    text = f"{rounded:f}".removesuffix(".0")
    return f"{text} day" if rounded == 1 else f"{text} days"


HALVES = {"am": " (morning)", "pm": " (afternoon)"}


def day_range(start: date, end: date, start_half: str | None = None, end_half: str | None = None) -> str:
    """A span of days saying the month and year once where they are shared: "Mon 11 – Fri 15 Jan 2027",
    "Fri 29 Jan – Tue 2 Feb 2027", "Mon 11 Jan 2027 (morning)"."""
    if start == end:
        return fmt_day(start) + HALVES.get(start_half or end_half or "", "")
    first = fmt_day(start, year=start.year != end.year)
    if (start.year, start.month) == (end.year, end.month) and not start_half:
        first = f"{start:%a} {start.day}"
    return f"{first}{HALVES.get(start_half or '', '')} – {fmt_day(end)}{HALVES.get(end_half or '', '')}"


@dataclass(frozen=True)
class Event:
    """One line of an item's history: what happened, in words, and when."""

    text: str
    when: str
    ago: str


# What an audit action other than a state change says; {who} is the actor, {note} the note if any.
ACTIONS = {
    "created": "Opened by {who}",
    "drafted": "Drafted by {who}",
    "edited": "Changed by {who}",
    "assigned": "Assigned to {to} by {who}",
    "reminded": "Reminder sent to the approver",
    "comment_it": "IT ({who}) replied in the thread",
    "comment_requester": "{who} replied in the thread",
    "rated": "Rated {rating} out of 5 by {who}",
    "details_added": "More details added by {who}",
    "priority_changed": "Priority changed from {from} to {to} by {who}",
    "category_changed": "Category changed from {from} to {to} by {who}",
    "sla_response_warn": "Nearing the response target",
    "sla_response_breach": "Response target missed",
    "sla_resolution_warn": "Nearing the resolution target",
    "sla_resolution_breach": "Resolution target missed",
}


def history(
    db: Session, *, entity: str, entity_id: int, verbs: Mapping[str, str], tz: str | None, now: datetime
) -> list[Event]:
    """The item's audit rows, oldest first, in words. `verbs` says the item's own actions, its state changes among
    them ("approved" → "Approved by {who}"); a change back from "resolved" to "in_progress" reads as reopened."""
    entries = db.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity == entity, AuditEntry.entity_id == entity_id)
        .order_by(AuditEntry.at, AuditEntry.id)
        .limit(500)
    ).all()
    ids = {e.actor_id for e in entries if e.actor_id}
    slack_ids = {str(v) for e in entries for k, v in (e.detail or {}).items() if k in ("from", "to") and v}
    people = db.scalars(select(Employee).where(Employee.id.in_(ids) | Employee.slack_id.in_(slack_ids))).all()
    by_id = {p.id: p.name for p in people}
    by_slack = {p.slack_id: p.name for p in people}
    events = []
    for entry in entries:
        who = by_id.get(entry.actor_id or 0, "the assistant")
        detail = entry.detail or {}
        if entry.from_state == "resolved" and entry.to_state == "in_progress":
            template = "Reopened by {who}"
        elif entry.action in verbs:
            template = verbs[entry.action]
        elif entry.to_state is not None and entry.action == entry.to_state:
            template = "Now " + entry.to_state.replace("_", " ") + " ({who})"
        else:
            template = ACTIONS.get(entry.action, entry.action.replace("_", " ").capitalize() + " ({who})")
        values = {
            "who": who,
            "from": by_slack.get(str(detail.get("from")), detail.get("from") or "none"),
            "to": by_slack.get(str(detail.get("to")), detail.get("to") or "nobody"),
            "rating": detail.get("rating", "?"),
        }
        text = template.format_map(values)
        note = detail.get("note")
        if isinstance(note, str) and note:
            text += f": “{note}”"
        events.append(Event(text=text, when=moment(entry.at, tz), ago=ago(entry.at, now)))
    return events


def employee_of(db: Session, viewer: Viewer) -> Employee:
    """The viewer's directory row, which the transition checks take."""
    return db.get_one(Employee, viewer.id)


def item_page(
    request: Request,
    session: ConsoleSession,
    viewer: Viewer,
    template: str,
    *,
    kind: str,
    item_id: int,
    title: str,
    statuses: Mapping[str, str],
    status_key: str,
    facts: list[tuple[str, str]],
    trail: Any,
    may: Mapping[str, bool],
    **extra: Any,
) -> HTMLResponse:
    """An item's console page (/console/items/<kind>/<id>): its status in words, facts, history and the actions the
    viewer may take there; `extra` is what only that kind's template shows."""
    return page(
        request,
        template,
        session,
        user=viewer,
        title=title,
        status=statuses.get(status_key, status_key),
        status_key=status_key,
        facts=facts,
        history=trail,
        may=may,
        can_act=any(may.values()),
        item_id=item_id,
        here=f"/console/items/{kind}/{item_id}",
        **extra,
    )
