"""The console's admin pages: the directory and the audit log in words (items have their own pages in their skills)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile as StarletteUpload

from bot import audit, directory
from bot.console import auth
from bot.console.items import day_count, employee_of, moment, money, state, words
from bot.console.shell import (
    PAGE_SIZE,
    ConsolePages,
    ItemKind,
    RuntimeDep,
    SessionDep,
    ViewerDep,
    back,
    page,
    parse_day,
    require,
    skill_pages,
)
from bot.date_words import fmt_day
from bot.models import AuditEntry, Employee
from bot.spreadsheet import cell
from integrations.files import too_big

MAX_DIRECTORY_BYTES = 5_000_000

router = APIRouter(prefix="/console", include_in_schema=False)


# ---------------------------------------------------------------- admin


@router.get("/admin")
def admin_page(request: Request, session: SessionDep, viewer: ViewerDep, rt: RuntimeDep) -> HTMLResponse:
    require(viewer, "admin")
    with rt.database.session_scope() as db:
        managers = {e.id: e.name for e in db.scalars(select(Employee))}
        people = [
            {
                "slack_id": e.slack_id,
                "name": e.name,
                "email": e.email or "",
                "roles": ", ".join(sorted(e.role_set)),
                "manager": managers.get(e.manager_id or 0, ""),
                "country": e.country,
                "tz": e.tz,
            }
            for e in db.scalars(select(Employee).order_by(Employee.name).limit(2000))
        ]
    return page(request, "admin.html", session, user=viewer, people=people)


@router.post("/admin/directory")
async def admin_import(request: Request, session: SessionDep, viewer: ViewerDep, rt: RuntimeDep) -> Response:
    """Import the directory CSV (the columns of `backoffice directory import`); all or nothing."""
    if int(request.headers.get("content-length") or 0) > MAX_DIRECTORY_BYTES + 100_000:
        return back("/console/admin", f"{too_big(0, MAX_DIRECTORY_BYTES, at_least=True)} Nothing was imported.")
    form = await request.form(max_files=1, max_fields=20)
    auth.check_csrf(session, str(form.get("csrf") or ""))
    require(viewer, "admin")
    upload = form.get("file")
    if not isinstance(upload, StarletteUpload):
        return back("/console/admin", "Choose a CSV file to import.")
    data = await upload.read(MAX_DIRECTORY_BYTES + 1)
    if len(data) > MAX_DIRECTORY_BYTES:
        return back("/console/admin", f"{too_big(len(data), MAX_DIRECTORY_BYTES, at_least=True)} Nothing was imported.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return back("/console/admin", "That file is not UTF-8 text; nothing was imported.")
    with rt.database.session_scope() as db:
        report = directory.import_csv(db, text)
        if report.errors:
            db.rollback()
            return back("/console/admin", "Nothing was imported: " + "; ".join(report.errors[:5]))
        audit.record(
            db,
            entity="employee",
            entity_id=viewer.id,
            action="directory_import",
            actor_id=viewer.id,
            detail={"created": report.created, "updated": report.updated},
        )
    return back("/console/admin", f"Directory imported: {report.created} created, {report.updated} updated.")


# ---------------------------------------------------------------- audit trail


# The kinds of audited item the platform itself keeps; the skills declare theirs (`ConsolePages.items`).
PLATFORM_ITEMS = (
    ItemKind("faq", "FAQ"),
    ItemKind("employee", "Person"),
    ItemKind("api_token", "API token"),
    ItemKind("knowledge_document", "Knowledge document"),
)
# Actions whose key does not read as words by itself.
ACTION_WORDS = {
    "comment_it": "IT replied",
    "comment_requester": "Requester replied",
    "sla_response_warn": "Near the response target",
    "sla_response_breach": "Response target missed",
    "sla_resolution_warn": "Near the resolution target",
    "sla_resolution_breach": "Resolution target missed",
    "directory_import": "Directory imported",
}
Labels = Mapping[str, Mapping[str, str]]
ISO_DAY = re.compile(r"\d{4}-\d\d-\d\d")
SNAKE = re.compile(r"[a-z]+(?:_[a-z]+)+")


def entities(pages: Iterable[ConsolePages]) -> dict[str, ItemKind]:
    """Each kind of audited item by its entity name: the skills' (in their order), then the platform's."""
    return {kind.entity: kind for kind in (*(k for each in pages for k in each.items), *PLATFORM_ITEMS)}


def _detail_value(key: str, value: Any, tz: str | None, labels: Labels) -> str:
    if isinstance(value, str) and value in labels.get(key, {}):
        return labels[key][value]
    if key == "days" and isinstance(value, str | int | float):
        try:
            return day_count(Decimal(str(value)))
        except ArithmeticError:
            return str(value)
    if isinstance(value, dict):
        return f"({detail_words(value, tz, labels)})"
    if isinstance(value, list):
        return ", ".join(_detail_value("", each, tz, labels) for each in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    try:
        if ISO_DAY.fullmatch(text):
            return fmt_day(date.fromisoformat(text))
        if ISO_DAY.match(text):
            return moment(datetime.fromisoformat(text), tz)
    except ValueError:
        return text
    return text.replace("_", " ") if SNAKE.fullmatch(text) else text


def detail_words(detail: Mapping[str, Any], tz: str | None, labels: Labels) -> str:
    """An audit row's detail as a person reads it: "Start: Mon 11 Jan 2027; Days: 5 days" (the CSV keeps the JSON);
    `labels` names the values of some keys ("leave_type": "vacation" → "Vacation")."""
    if isinstance(detail.get("amount"), str) and isinstance(detail.get("currency"), str):
        try:  # one figure, as the pages write money: "Amount: MYR 42.20"
            amount = money(Decimal(detail["amount"]), detail["currency"])
            detail = {**{k: v for k, v in detail.items() if k != "currency"}, "amount": amount}
        except ArithmeticError:
            pass
    return "; ".join(
        f"{words(key)}: {_detail_value(key, value, tz, labels)}"
        for key, value in detail.items()
        if value not in (None, "", [], {}) and key != "id"  # the item's own number is in the Item column
    )


def _audit_rows(
    db: Session, query: Any, kinds: Mapping[str, ItemKind], tz: str | None = None, labels: Labels | None = None
) -> list[dict[str, Any]]:
    entries = db.scalars(query.order_by(AuditEntry.at, AuditEntry.id)).all()
    actors = {
        e.id: e.name
        for e in db.scalars(select(Employee).where(Employee.id.in_({a.actor_id for a in entries if a.actor_id})))
    }
    rows = []
    for a in entries:
        kind = kinds.get(a.entity) or ItemKind(a.entity, words(a.entity))
        rows.append(
            {
                "id": a.id,
                "at": a.at,
                "when": moment(a.at, tz),
                "who": actors.get(a.actor_id or 0, "the bot"),
                "entity": a.entity,
                "entity_id": a.entity_id,
                "item": f"{kind.label} #{a.entity_id}",
                "link": f"/console/items/{kind.page}/{a.entity_id}" if kind.page else "",
                "action": a.action,
                "action_words": "Status changed"
                if a.to_state and a.action == a.to_state
                else ACTION_WORDS.get(a.action) or words(a.action),
                "from": a.from_state or "",
                "to": a.to_state or "",
                "change": " → ".join(state(kind.states, s) for s in (a.from_state, a.to_state) if s),
                "detail": a.detail or {},
                "detail_words": detail_words(a.detail or {}, tz, labels or {}),
            }
        )
    return rows


def _audit_query(entity: str, actor: str, action: str, since_text: str, until_text: str) -> Any:
    since, until = parse_day(since_text, "from"), parse_day(until_text, "to")
    query = select(AuditEntry)
    if entity:
        query = query.where(AuditEntry.entity == entity)
    if action:
        query = query.where(AuditEntry.action.contains(action))
    if actor:
        query = query.where(
            AuditEntry.actor_id.in_(
                select(Employee.id).where(or_(Employee.slack_id == actor, Employee.name.contains(actor)))
            )
        )
    if since:
        query = query.where(AuditEntry.at >= datetime.combine(since, datetime.min.time()))
    if until:
        query = query.where(AuditEntry.at < datetime.combine(until + timedelta(days=1), datetime.min.time()))
    return query


AuditFilter = Annotated[str, Query(max_length=64)]


@router.get("/audit")
def audit_page(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    rt: RuntimeDep,
    entity: AuditFilter = "",
    actor: AuditFilter = "",
    action: AuditFilter = "",
    since: AuditFilter = "",
    until: AuditFilter = "",
) -> HTMLResponse:
    require(viewer, "admin")
    kinds = entities(skill_pages(rt.assistant.skills.values()))
    with rt.database.session_scope() as db:
        query = _audit_query(entity, actor, action, since, until).order_by(AuditEntry.id.desc()).limit(PAGE_SIZE)
        leave_types = {key: kind.label for key, kind in rt.leave_policy.types.items()}
        # Details name people by Slack id (a ticket's requester, who it was assigned from and to).
        people = dict(db.execute(select(Employee.slack_id, Employee.name)).tuples().all())
        labels = {"leave_type": leave_types, **dict.fromkeys(("requester", "assignee", "from", "to", "for"), people)}
        rows = _audit_rows(db, query, kinds, employee_of(db, viewer).tz, labels)
    filters = {"entity": entity, "actor": actor, "action": action, "since": since, "until": until}
    names = {key: kind.label for key, kind in kinds.items()}
    return page(request, "audit.html", session, user=viewer, rows=rows, filters=filters, kinds=names)


@router.get("/audit.csv")
def audit_csv(
    viewer: ViewerDep,
    rt: RuntimeDep,
    entity: AuditFilter = "",
    actor: AuditFilter = "",
    action: AuditFilter = "",
    since: AuditFilter = "",
    until: AuditFilter = "",
) -> Response:
    require(viewer, "admin")
    with rt.database.session_scope() as db:
        query = _audit_query(entity, actor, action, since, until)
        rows = _audit_rows(db, query, entities(skill_pages(rt.assistant.skills.values())))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "at", "who", "entity", "entity_id", "action", "from", "to", "detail"])
    for r in rows:
        cells = [r["id"], r["at"].isoformat(), r["who"], r["entity"], r["entity_id"], r["action"], r["from"], r["to"]]
        writer.writerow([cell(value) for value in [*cells, json.dumps(r["detail"], default=str)]])
    return StreamingResponse(
        iter([out.getvalue()]),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )
