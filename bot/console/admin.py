"""The console's admin pages: the directory and the audit log (items have their own pages in their skills)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile as StarletteUpload

from bot import audit, directory
from bot.console import auth
from bot.console.shell import PAGE_SIZE, RuntimeDep, SessionDep, ViewerDep, back, page, parse_day, require
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


def _audit_rows(db: Session, query: Any) -> list[dict[str, Any]]:
    entries = db.scalars(query.order_by(AuditEntry.at, AuditEntry.id)).all()
    actors = {
        e.id: e.name
        for e in db.scalars(select(Employee).where(Employee.id.in_({a.actor_id for a in entries if a.actor_id})))
    }
    return [
        {
            "id": a.id,
            "at": a.at,
            "who": actors.get(a.actor_id or 0, "the bot"),
            "entity": a.entity,
            "entity_id": a.entity_id,
            "action": a.action,
            "from": a.from_state or "",
            "to": a.to_state or "",
            "detail": a.detail or {},
        }
        for a in entries
    ]


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
    with rt.database.session_scope() as db:
        query = _audit_query(entity, actor, action, since, until).order_by(AuditEntry.id.desc()).limit(PAGE_SIZE)
        rows = _audit_rows(db, query)
    filters = {"entity": entity, "actor": actor, "action": action, "since": since, "until": until}
    return page(request, "audit.html", session, user=viewer, rows=rows, filters=filters)


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
        rows = _audit_rows(db, _audit_query(entity, actor, action, since, until))
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
