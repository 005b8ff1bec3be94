"""The staff console's pages and form posts under /console.

Pages read the database directly (read-only queries). Every change a form makes goes through the assistant as the
signed-in person's click on the same action Slack's buttons send (`Assistant.handle`), so the console obeys the
same permission checks, writes the same audit rows and sends the same Slack messages as Slack does."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile as StarletteUpload

from bot import audit, directory, insights
from bot.console import auth, charts
from bot.console.auth import ConsoleSession
from bot.db import utcnow
from bot.digest import format_duration, format_share
from bot.directory import get_by_slack_id
from bot.messages import Message, Reply, seen
from bot.models import (
    AuditEntry,
    ChatMessage,
    Employee,
    Escalation,
    Expense,
    Faq,
    Incident,
    KnowledgeDocument,
    LeaveRequest,
    Ticket,
)
from bot.runtime import Runtime
from bot.spreadsheet import cell
from integrations.files import sniff_kind, too_big
from knowledge.loaders import AUDIENCES
from skills.expenses.export import export_csv
from skills.it.service import OPEN
from skills.it.sla import sla_state

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
# Pages load the console's own script and styles only; style attributes are allowed because the chart library
# sets them as it draws (a style cannot run code).
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_SIZE = 100
MAX_DIRECTORY_BYTES = 5_000_000
CITED_DAYS = 90  # the window for "most cited" and "never cited" on the HR page
CITED_CACHE_SECONDS = 300
ROLE_PAGES = (
    ("hr", "HR", "/console/hr"),
    ("it", "IT", "/console/it"),
    ("finance", "Finance", "/console/finance"),
    ("manager", "Team", "/console/team"),
    ("admin", "Directory", "/console/admin"),
    ("admin", "Audit log", "/console/audit"),
)


class SignInNeeded(Exception):
    """Raised by `current_user` for a signed-out visitor; answered with a redirect to the sign-in page."""


@dataclass(frozen=True)
class Viewer:
    """The signed-in person, as the directory has them now."""

    id: int
    slack_id: str
    name: str
    roles: frozenset[str]
    manages: bool

    def has(self, role: str) -> bool:
        if role == "manager":
            return self.manages or "manager" in self.roles or "admin" in self.roles
        return role in self.roles or "admin" in self.roles


def citation_counts(request: Request) -> CitationCounts:
    """The app's citation counter (made by `install`)."""
    counter: CitationCounts = request.app.state.console_citations
    return counter


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(runtime_of)]


def session_of(request: Request) -> ConsoleSession:
    return auth.read_session(request, runtime_of(request).settings)


SessionDep = Annotated[ConsoleSession, Depends(session_of)]


def current_user(request: Request, session: SessionDep) -> Viewer:
    if not session.slack_id:
        raise SignInNeeded
    with runtime_of(request).database.session_scope() as db:
        employee = get_by_slack_id(db, session.slack_id)
        if employee is None:
            raise SignInNeeded
        manages = bool(db.scalar(select(func.count()).where(Employee.manager_id == employee.id)))
        return Viewer(employee.id, employee.slack_id, employee.name, employee.role_set, manages)


ViewerDep = Annotated[Viewer, Depends(current_user)]
CsrfField = Annotated[str, Form(alias="csrf")]


def poster(session: SessionDep, viewer: ViewerDep, csrf: CsrfField = "") -> Viewer:
    """The signed-in person sending a form, once the form's CSRF token is this session's."""
    auth.check_csrf(session, csrf)
    return viewer


# Every form post that changes something takes its sender through this, so none can skip the CSRF check.
PosterDep = Annotated[Viewer, Depends(poster)]


def require(viewer: Viewer, role: str) -> None:
    if not viewer.has(role):
        raise HTTPException(
            status_code=403, detail=f"This page is for {role.upper() if role != 'manager' else 'managers'}."
        )


def page(request: Request, name: str, session: ConsoleSession, **context: Any) -> HTMLResponse:
    settings = runtime_of(request).settings
    flash = unquote(request.cookies.get("bo_flash") or "")
    response = templates.TemplateResponse(
        request, name, {"csrf": session.csrf, "flash": flash, "role_pages": ROLE_PAGES, **context}
    )
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["Cache-Control"] = "no-store"
    if flash:
        response.delete_cookie("bo_flash", path="/console")
    auth.write_session(response, session, settings)
    return response


def back(to: str, note: str | None = None) -> RedirectResponse:
    """Post/redirect/get: the browser lands on `to`, which shows `note` once."""
    response = RedirectResponse(to, status_code=303)
    if note:
        # Percent-encoded: a header is Latin-1, and notes have names and quotes in any script.
        value = quote(note[:300], safe="")
        response.set_cookie("bo_flash", value, max_age=60, httponly=True, samesite="lax", path="/console")
    return response


def act(rt: Runtime, viewer: Viewer, action_id: str, value: str, form: dict[str, str] | None = None) -> Reply:
    """The signed-in person's click on `action_id`, handled exactly as the same button in Slack."""
    return rt.assistant.handle(Message.web_click(viewer.slack_id, action_id, value, form))


router = APIRouter(prefix="/console", include_in_schema=False)


# ---------------------------------------------------------------- sign-in


@router.get("/login")
def login_page(request: Request, session: SessionDep, rt: RuntimeDep) -> HTMLResponse:
    people: list[Employee] = []
    if auth.local_sign_in_allowed(request):
        with rt.database.session_scope() as db:
            people = list(db.scalars(select(Employee).order_by(Employee.name).limit(500)))
            db.expunge_all()
    return page(
        request,
        "login.html",
        session,
        people=people,
        local=auth.local_sign_in_allowed(request),
        slack=auth.slack_sign_in_configured(rt.settings),
        user=None,
    )


@router.post("/login")
def login_local(
    request: Request,
    session: SessionDep,
    rt: RuntimeDep,
    slack_id: Annotated[str, Form(max_length=32)],
    csrf: CsrfField = "",
) -> Response:
    auth.check_csrf(session, csrf)
    if not auth.local_sign_in_allowed(request):
        raise HTTPException(
            status_code=404,
            detail="Local sign-in is only for development mode (BACKOFFICE_DEV_MODE): sign in with Slack.",
        )
    with rt.database.session_scope() as db:
        if get_by_slack_id(db, slack_id) is None:
            raise HTTPException(status_code=403, detail="That person is not in the directory.")
    response = back("/console")
    auth.write_session(response, auth.signed_in(session, slack_id), rt.settings)
    return response


@router.get("/login/slack")
def login_slack(session: SessionDep, rt: RuntimeDep) -> Response:
    if not auth.slack_sign_in_configured(rt.settings):
        raise HTTPException(status_code=404, detail="Sign in with Slack is not configured (SLACK_CLIENT_ID).")
    url, pending = auth.slack_authorize(rt.settings, session)
    response = RedirectResponse(url, status_code=303)
    auth.write_session(response, pending, rt.settings)
    return response


@router.get("/auth/slack")
def slack_callback(
    request: Request,
    session: SessionDep,
    rt: RuntimeDep,
    code: Annotated[str, Query(max_length=500)] = "",
    state: Annotated[str, Query(max_length=200)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    try:
        if error or not code:
            raise auth.SignInRefused(f"Slack did not sign you in ({error or 'no code'}).")
        slack_id = auth.slack_user_id(rt.settings, session, code, state)
    except auth.SignInRefused as exc:
        return page(
            request, "message.html", auth.ConsoleSession.fresh(), title="Sign-in failed", text=str(exc), user=None
        )
    with rt.database.session_scope() as db:
        known = get_by_slack_id(db, slack_id) is not None
    if not known:
        text = "Your Slack account is not in the back office directory. Ask an admin to add you."
        return page(
            request, "message.html", auth.ConsoleSession.fresh(), title="Not in the directory", text=text, user=None
        )
    response = back("/console")
    auth.write_session(response, auth.signed_in(session, slack_id), rt.settings)
    return response


@router.post("/logout")
def logout(session: SessionDep, rt: RuntimeDep, csrf: CsrfField = "") -> Response:
    auth.check_csrf(session, csrf)
    response = back("/console/login")
    auth.write_session(response, ConsoleSession.fresh(), rt.settings)
    return response


# ---------------------------------------------------------------- home


@router.get("")
def home(request: Request, session: SessionDep, viewer: ViewerDep, rt: RuntimeDep) -> HTMLResponse:
    with rt.database.session_scope() as db:
        counts = {
            "escalations": _count(db, Escalation, Escalation.status == "open") if viewer.has("hr") else None,
            "faqs": _count(db, Faq, Faq.status == "draft") if viewer.has("hr") else None,
            "tickets": _count(db, Ticket, Ticket.status.in_(("new", "in_progress"))) if viewer.has("it") else None,
            "finance": _count(db, Expense, Expense.status == "manager_approved") if viewer.has("finance") else None,
            "team_leave": _count(
                db, LeaveRequest, LeaveRequest.status == "pending", LeaveRequest.approver_id == viewer.id
            ),
            "team_expenses": _count(db, Expense, Expense.status == "submitted", Expense.approver_id == viewer.id),
        }
        mine = _my_items(db, viewer)
    return page(request, "home.html", session, user=viewer, counts=counts, mine=mine)


def _count(db: Session, model: Any, *where: Any) -> int:
    return int(db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _my_items(db: Session, viewer: Viewer) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for leave in db.scalars(
        select(LeaveRequest).where(LeaveRequest.employee_id == viewer.id).order_by(LeaveRequest.id.desc()).limit(10)
    ):
        items.append(
            {
                "entity": "leave",
                "id": leave.id,
                "what": f"{leave.leave_type} {leave.start_date}–{leave.end_date}",
                "status": leave.status,
            }
        )
    for ticket in db.scalars(
        select(Ticket).where(Ticket.requester_id == viewer.id).order_by(Ticket.id.desc()).limit(10)
    ):
        items.append({"entity": "ticket", "id": ticket.id, "what": ticket.title, "status": ticket.status})
    for expense in db.scalars(
        select(Expense).where(Expense.employee_id == viewer.id).order_by(Expense.id.desc()).limit(10)
    ):
        items.append(
            {
                "entity": "expense",
                "id": expense.id,
                "what": f"{expense.amount} {expense.currency} {expense.merchant or expense.category}",
                "status": expense.status,
            }
        )
    return items


# ---------------------------------------------------------------- HR


@router.get("/hr")
def hr_page(request: Request, session: SessionDep, viewer: ViewerDep, rt: RuntimeDep) -> HTMLResponse:
    require(viewer, "hr")
    with rt.database.session_scope() as db:
        escalations = list(
            db.scalars(
                select(Escalation)
                .where(Escalation.status.in_(("open", "answered")))
                .order_by(Escalation.status.desc(), Escalation.created_at)
                .limit(PAGE_SIZE)
            )
        )
        rows = [
            {
                "id": e.id,
                "who": e.employee.name,
                "question": e.question,
                "status": e.status,
                "sensitive": e.sensitive,
                "asked": e.created_at,
                "answer": e.answer,
            }
            for e in escalations
        ]
        faqs = [
            {"id": f.id, "question": f.question, "answer": f.answer}
            for f in db.scalars(select(Faq).where(Faq.status == "draft").order_by(Faq.id).limit(PAGE_SIZE))
        ]
        cited = citation_counts(request).get(db)
        documents = [
            {
                "id": d.id,
                "uploaded": _uploaded_audience(rt, d.source) is not None,
                "title": d.title,
                "source": d.source,
                "audience": d.audience,
                "chunks": d.chunk_count,
                "ingested": d.ingested_at,
                "cited": cited.get(d.title, 0),
            }
            for d in sorted(
                db.scalars(select(KnowledgeDocument).limit(500)), key=lambda d: (-cited.get(d.title, 0), d.title)
            )
        ]
    return page(
        request,
        "hr.html",
        session,
        user=viewer,
        escalations=rows,
        faqs=faqs,
        documents=documents,
        audiences=AUDIENCES,
    )


def _escalation_action(rt: Runtime, escalation_id: int, verb: str) -> str:
    """The action that does `verb` to an escalation: confidential matters belong to the sensitive skill."""
    with rt.database.session_scope() as db:
        escalation = db.get(Escalation, escalation_id)
        return f"sensitive:{verb}" if escalation is not None and escalation.sensitive else f"policy:{verb}"


@router.post("/hr/escalations/{escalation_id}/answer")
def hr_answer(
    escalation_id: int,
    viewer: PosterDep,
    rt: RuntimeDep,
    answer: Annotated[str, Form(max_length=4000)],
) -> Response:
    require(viewer, "hr")
    reply = act(
        rt, viewer, _escalation_action(rt, escalation_id, "answer_submit"), str(escalation_id), {"answer": answer}
    )
    return back("/console/hr", reply.text)


@router.post("/hr/escalations/{escalation_id}/resolve")
def hr_resolve(escalation_id: int, viewer: PosterDep, rt: RuntimeDep) -> Response:
    require(viewer, "hr")
    reply = act(rt, viewer, _escalation_action(rt, escalation_id, "resolve"), str(escalation_id))
    return back("/console/hr", reply.text)


@router.post("/hr/faqs/{faq_id}/publish")
def hr_publish(faq_id: int, viewer: PosterDep, rt: RuntimeDep) -> Response:
    require(viewer, "hr")
    reply = act(rt, viewer, "policy:publish", str(faq_id))
    return back("/console/hr", reply.text)


class CitationCounts:
    """How many bot answers in the last CITED_DAYS cited each document, by title (citations store the title).
    Counting reads every recent answer, so the result is kept for CITED_CACHE_SECONDS: HR's page stays fast
    with many answers, and the counts are at most that old."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counted_at = -math.inf
        self._counts: dict[str, int] = {}

    def get(self, db: Session) -> dict[str, int]:
        with self._lock:
            if time.monotonic() - self._counted_at > CITED_CACHE_SECONDS:
                self._counts = self._count(db, since=utcnow() - timedelta(days=CITED_DAYS))
                self._counted_at = time.monotonic()
            return self._counts

    @staticmethod
    def _count(db: Session, *, since: datetime) -> dict[str, int]:
        counts: dict[str, int] = {}
        payloads = db.scalars(
            select(ChatMessage.payload).where(
                ChatMessage.direction == "out", ChatMessage.created_at >= since, ChatMessage.payload.is_not(None)
            )
        )
        for payload in payloads:
            titles = {c.get("title") for c in (payload or {}).get("citations") or [] if isinstance(c, dict)}
            for title in titles:
                if isinstance(title, str):
                    counts[title] = counts.get(title, 0) + 1
        return counts


# ---------------------------------------------------------------- HR: knowledge documents

# What an uploaded document may be, by its content (not its name), and the suffix it is stored under.
DOCUMENT_KINDS = {"pdf": ".pdf", "zip": ".docx", "html": ".html", "text": ".md"}


def documents_dir(rt: Runtime) -> Path:
    """Where documents uploaded in the console live: one folder per audience, so the audience survives re-ingests."""
    return rt.settings.data_dir / "documents"


def _uploaded_audience(rt: Runtime, source: str) -> str | None:
    """The audience of a console-uploaded document (its folder), or None for documents ingested otherwise."""
    path = Path(source)
    base = documents_dir(rt).resolve()
    if path.parent.parent != base or path.parent.name not in AUDIENCES:
        return None
    return path.parent.name


def _check_audience(audience: str) -> None:
    if audience not in AUDIENCES:
        raise HTTPException(status_code=422, detail=f"The audience is one of: {', '.join(AUDIENCES)}.")


def _safe_name(name: str, suffix: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(name).stem).strip("-")[:80] or "document"
    return stem + suffix


def _ingest_one(rt: Runtime, db: Session, path: Path, audience: str | None) -> tuple[KnowledgeDocument | None, str]:
    """Ingest one file; returns its row (None if refused) and what to tell HR."""
    report = rt.index.ingest(db, [path], location_base=documents_dir(rt), audience=audience)
    if report.failed or report.skipped:
        reason = next(iter({**report.failed, **report.skipped}.values()))
        return None, f"{path.name} was not added: {reason}"
    row = db.scalar(select(KnowledgeDocument).where(KnowledgeDocument.source == path.resolve().as_posix()))
    if row is None:
        return None, f"{path.name} was not added."
    return row, f"“{row.title}” is in the knowledge base ({row.chunk_count} passages, for {row.audience})."


@router.post("/hr/documents")
def hr_upload(
    viewer: PosterDep,
    rt: RuntimeDep,
    file: UploadFile,
    audience: Annotated[str, Form(max_length=16)] = "everyone",
) -> Response:
    require(viewer, "hr")
    _check_audience(audience)
    limit = rt.settings.max_upload_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        return back("/console/hr#documents", f"{too_big(len(data), limit, at_least=True)} Nothing was added.")
    kind = sniff_kind(data[:512])
    if kind not in DOCUMENT_KINDS:
        found = f"it looks like {kind}" if kind else "its type is unknown"
        return back("/console/hr#documents", f"Upload PDF, Word (.docx), HTML, Markdown or text; {found}.")
    suffix = DOCUMENT_KINDS[kind]
    if kind == "text" and (file.filename or "").lower().endswith(".txt"):
        suffix = ".txt"
    target = documents_dir(rt) / audience / _safe_name(file.filename or "document", suffix)
    target.parent.mkdir(parents=True, exist_ok=True)
    existed = target.exists()
    previous = target.read_bytes() if existed else None
    target.write_bytes(data)
    with rt.database.session_scope() as db:
        row, note = _ingest_one(rt, db, target, audience)
        if row is None:
            if previous is not None:
                target.write_bytes(previous)
            else:
                target.unlink(missing_ok=True)
            return back("/console/hr#documents", note)
        audit.record(
            db,
            entity="knowledge_document",
            entity_id=row.id,
            action="replace" if existed else "upload",
            actor_id=viewer.id,
            to_state=audience,
            detail={"title": row.title, "file": target.name},
        )
    return back("/console/hr#documents", note)


@router.post("/hr/documents/{document_id}/reingest")
def hr_reingest(document_id: int, viewer: PosterDep, rt: RuntimeDep) -> Response:
    """Read the document's file again and rebuild its passages (even when the file is unchanged)."""
    require(viewer, "hr")
    with rt.database.session_scope() as db:
        row = db.get(KnowledgeDocument, document_id)
        if row is None:
            raise HTTPException(status_code=404, detail="No such document.")
        path = Path(row.source)
        if row.source.startswith("faq:") or not path.is_file():
            return back("/console/hr#documents", f"“{row.title}” has no file here to read again.")
        # Forgetting the stored hash makes ingest read the file again; its passages are replaced only once the
        # file has been read, so a file that became unreadable leaves the old ones in place.
        row.content_hash = ""
        db.flush()
        new_row, note = _ingest_one(rt, db, path, _uploaded_audience(rt, row.source))
        if new_row is None:
            db.rollback()
            return back("/console/hr#documents", note)
        audit.record(
            db,
            entity="knowledge_document",
            entity_id=new_row.id,
            action="reingest",
            actor_id=viewer.id,
            detail={"title": new_row.title},
        )
    return back("/console/hr#documents", note)


@router.post("/hr/documents/{document_id}/audience")
def hr_audience(
    document_id: int,
    viewer: PosterDep,
    rt: RuntimeDep,
    audience: Annotated[str, Form(max_length=16)],
) -> Response:
    """Who may be answered from a console-uploaded document (others follow their file's front matter)."""
    require(viewer, "hr")
    _check_audience(audience)
    with rt.database.session_scope() as db:
        row = db.get(KnowledgeDocument, document_id)
        if row is None:
            raise HTTPException(status_code=404, detail="No such document.")
        before = _uploaded_audience(rt, row.source)
        if before is None:
            return back("/console/hr#documents", f"“{row.title}” takes its audience from its file's front matter.")
        if before == audience:
            return back("/console/hr#documents", f"“{row.title}” is already for {audience}.")
        old = Path(row.source)
        moved = documents_dir(rt) / audience / old.name
        moved.parent.mkdir(parents=True, exist_ok=True)
        if moved.exists():
            return back("/console/hr#documents", f"A document named {old.name} is already for {audience}.")
        old_source = row.source
        old.rename(moved)
        new_row, note = _ingest_one(rt, db, moved, audience)
        if new_row is None:
            moved.rename(old)
            db.rollback()
            return back("/console/hr#documents", note)
        rt.index.remove_document(db, old_source)  # only once the document is in under its new audience
        audit.record(
            db,
            entity="knowledge_document",
            entity_id=new_row.id,
            action="audience",
            actor_id=viewer.id,
            from_state=before,
            to_state=audience,
            detail={"title": new_row.title},
        )
    return back("/console/hr#documents", note)


# ---------------------------------------------------------------- IT

TICKET_ACTIONS = {
    "claim": "it:claim",
    "assign": "it:assign",
    "progress": "it:progress",
    "waiting": "it:waiting",
    "resolve": "it:resolve_submit",
}


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
                "sla": sla_state(t, rt.it_config, now),
            }
            for t in db.scalars(query)
        ]
        incidents = [
            {
                "id": i.id,
                "title": i.title,
                "category": i.category,
                "created": i.created_at,
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
    reply = act(rt, viewer, "it:incident_resolve_submit", str(incident_id), {"note": note})
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
    form = {"note": note} if action == "resolve" else {"selected": assignee} if action == "assign" else None
    reply = act(rt, viewer, TICKET_ACTIONS[action], str(ticket_id), form)
    return back("/console/it", reply.text)


# ---------------------------------------------------------------- managers: team approvals and calendar


@router.get("/team")
def team_page(request: Request, session: SessionDep, viewer: ViewerDep, rt: RuntimeDep) -> HTMLResponse:
    require(viewer, "manager")
    today = utcnow().date()
    pending_leave = (LeaveRequest.status == "pending", LeaveRequest.approver_id == viewer.id)
    pending_expenses = (Expense.status == "submitted", Expense.approver_id == viewer.id)
    with rt.database.session_scope() as db:
        totals = {"leave": _count(db, LeaveRequest, *pending_leave), "expenses": _count(db, Expense, *pending_expenses)}
        leave = [
            {
                "id": r.id,
                "who": r.employee.name,
                "type": r.leave_type,
                "start": r.start_date,
                "end": r.end_date,
                "days": r.days,
                "note": r.approver_note or "",
                "revision": r.revision,
            }
            for r in db.scalars(
                select(LeaveRequest).where(*pending_leave).order_by(LeaveRequest.start_date).limit(PAGE_SIZE)
            )
        ]
        expenses = [
            {
                "id": x.id,
                "who": x.employee.name,
                "amount": x.amount,
                "currency": x.currency,
                "merchant": x.merchant or "",
                "category": x.category,
                "flags": x.flags,
                "revision": x.revision,
            }
            for x in db.scalars(select(Expense).where(*pending_expenses).order_by(Expense.id).limit(PAGE_SIZE))
        ]
        team = list(db.scalars(select(Employee).where(Employee.manager_id == viewer.id).order_by(Employee.name)))
        days = [today + timedelta(days=n) for n in range(28)]
        booked = db.scalars(
            select(LeaveRequest).where(
                LeaveRequest.employee_id.in_([p.id for p in team]),
                LeaveRequest.status.in_(("approved", "pending")),
                LeaveRequest.end_date >= days[0],
                LeaveRequest.start_date <= days[-1],
            )
        ).all()
        marks: dict[tuple[int, date], str] = {}
        for leave_request in booked:  # approved wins over pending on a day with both
            for day in days:
                if (
                    leave_request.start_date <= day <= leave_request.end_date
                    and marks.get((leave_request.employee_id, day)) != "approved"
                ):
                    marks[(leave_request.employee_id, day)] = leave_request.status
        calendar = [{"name": p.name, "days": [marks.get((p.id, d), "") for d in days]} for p in team]
    return page(
        request,
        "team.html",
        session,
        user=viewer,
        leave=leave,
        expenses=expenses,
        totals=totals,
        days=days,
        calendar=calendar,
    )


@router.post("/leave/{request_id}/{decision}")
def leave_decide(
    request_id: int,
    decision: str,
    viewer: PosterDep,
    rt: RuntimeDep,
    reason: Annotated[str, Form(max_length=2000)] = "",
    revision: Annotated[int | None, Form(description="the revision the page showed")] = None,
) -> Response:
    if decision not in ("approve", "deny"):
        raise HTTPException(status_code=404, detail="No such decision.")
    action = "leave:approve" if decision == "approve" else "leave:deny_submit"
    value = seen(request_id, revision) if revision is not None and decision == "approve" else str(request_id)
    reply = act(rt, viewer, action, value, {"reason": reason} if decision == "deny" else None)
    return back("/console/team", reply.text)


@router.post("/expenses/{expense_id}/{decision}")
def expense_decide(
    expense_id: int,
    decision: str,
    viewer: PosterDep,
    rt: RuntimeDep,
    reason: Annotated[str, Form(max_length=2000)] = "",
    to: Annotated[str, Form(pattern="^/console/(team|finance)$")] = "/console/team",
    revision: Annotated[int | None, Form(description="the revision the page showed")] = None,
) -> Response:
    actions = {"approve": "expense:approve", "reject": "expense:reject_submit", "reimbursed": "expense:reimbursed"}
    if decision not in actions:
        raise HTTPException(status_code=404, detail="No such decision.")
    value = seen(expense_id, revision) if revision is not None and decision == "approve" else str(expense_id)
    reply = act(rt, viewer, actions[decision], value, {"reason": reason} if decision == "reject" else None)
    return back(to, reply.text)


# ---------------------------------------------------------------- finance


@router.get("/finance")
def finance_page(request: Request, session: SessionDep, viewer: ViewerDep, rt: RuntimeDep) -> HTMLResponse:
    require(viewer, "finance")
    with rt.database.session_scope() as db:
        rows = [
            {
                "id": x.id,
                "who": x.employee.name,
                "status": x.status,
                "amount": x.amount,
                "currency": x.currency,
                "base": x.base_amount,
                "base_currency": x.base_currency,
                "merchant": x.merchant or "",
                "category": x.category,
                "flags": x.flags,
                "spent_on": x.spent_on,
                "revision": x.revision,
            }
            for x in db.scalars(
                select(Expense)
                .where(Expense.status.in_(("manager_approved", "approved")))
                .order_by(Expense.status.desc(), Expense.id)
                .limit(PAGE_SIZE)
            )
        ]
    return page(request, "finance.html", session, user=viewer, expenses=rows)


@router.get("/finance/export.csv")
def finance_export(
    viewer: ViewerDep,
    rt: RuntimeDep,
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    """Approved and reimbursed claims spent in [since, until] (default: this month so far), as finance's CSV."""
    require(viewer, "finance")
    today = utcnow().date()
    start = _day(since, "from") or today.replace(day=1)
    end = _day(until, "to") or today
    with rt.database.session_scope() as db:
        result = export_csv(db, start=start, end=end)
    return Response(
        result.csv_text,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="expenses-{start}-{end}.csv"'},
    )


# ---------------------------------------------------------------- insights

PERIODS = {"7": 7, "30": 30, "90": 90}


@router.get("/insights")
def insights_page(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    rt: RuntimeDep,
    days: Annotated[str, Query(pattern="^(7|30|90)$")] = "30",
) -> HTMLResponse:
    if not (viewer.has("hr") or viewer.has("it")):
        raise HTTPException(status_code=403, detail="Insights are for HR, IT and admins.")
    now = utcnow()
    start = now - timedelta(days=PERIODS[days])
    window = rt.settings.deflection_days
    with rt.database.session_scope() as db:
        figures = charts.Figures(
            messages=insights.messages_per_skill_per_day(db, start=start, end=now),
            deflection=insights.deflection(db, start=start, end=now, now=now, window_days=window),
            feedback=insights.answer_feedback(db, start=start, end=now),
            tickets=insights.ticket_response_times(db, start=start, end=now),
            escalations=insights.escalation_response_times(db, start=start, end=now),
            sla=insights.ticket_sla_compliance(db, start=start, end=now, now=now, config=rt.it_config),
            leave=insights.leave_approval_times(db, start=start, end=now),
            expenses=insights.expense_approval_times(db, start=start, end=now),
        )
        clusters = insights.unanswered_question_clusters(db, start=start, end=now) if viewer.has("hr") else ()
    return page(
        request,
        "insights.html",
        session,
        user=viewer,
        days=days,
        figures=figures,
        charts_json=charts.chart_json(figures),
        clusters=clusters,
        span=format_duration,
        percent=format_share,
    )


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


ITEM_MODELS: dict[str, Any] = {"leave": LeaveRequest, "ticket": Ticket, "expense": Expense, "escalation": Escalation}
AUDIT_ENTITIES = {"leave": "leave_request", "ticket": "ticket", "expense": "expense", "escalation": "escalation"}


def can_see(viewer: Viewer, entity: str, row: Any) -> bool:
    """Owners see their own items; approvers theirs; HR escalations and leave, IT tickets, finance expenses;
    admins everything."""
    if viewer.has("admin"):
        return True
    if entity == "leave":
        return row.employee_id == viewer.id or row.approver_id == viewer.id or viewer.has("hr")
    if entity == "ticket":
        return bool(row.requester_id == viewer.id or viewer.has("it"))
    if entity == "expense":
        return bool(row.employee_id == viewer.id or row.approver_id == viewer.id or viewer.has("finance"))
    if entity == "escalation":
        return bool(row.employee_id == viewer.id or viewer.has("hr"))
    return False


@router.get("/items/{entity}/{item_id}")
def item_page(
    entity: str, item_id: int, request: Request, session: SessionDep, viewer: ViewerDep, rt: RuntimeDep
) -> HTMLResponse:
    model = ITEM_MODELS.get(entity)
    if model is None:
        raise HTTPException(status_code=404, detail="No such kind of item.")
    with rt.database.session_scope() as db:
        row = db.get(model, item_id)
        if row is None:
            raise HTTPException(status_code=404, detail="No such item.")
        if not can_see(viewer, entity, row):
            raise HTTPException(status_code=403, detail="This item is not yours to see.")
        fields = {
            column.key: getattr(row, column.key)
            for column in model.__table__.columns
            if column.key not in ("payload", "ocr_text", "receipt_path")
        }
        trail = _audit_rows(
            db,
            select(AuditEntry)
            .where(AuditEntry.entity == AUDIT_ENTITIES[entity], AuditEntry.entity_id == item_id)
            .limit(1000),
        )
    return page(request, "item.html", session, user=viewer, entity=entity, item_id=item_id, fields=fields, trail=trail)


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


def _day(value: str, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(status_code=400, detail=f"“{value}” is not a date for {name} (use YYYY-MM-DD).") from None


def _audit_query(entity: str, actor: str, action: str, since_text: str, until_text: str) -> Any:
    since, until = _day(since_text, "from"), _day(until_text, "to")
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


# ---------------------------------------------------------------- wiring


def plotly_js() -> Path:
    """plotly.js as shipped inside the `plotly` wheel: served from here, never from a CDN."""
    import plotly  # noqa: PLC0415

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def install(app: FastAPI) -> None:
    """Add the console's pages, its static files and its sign-in redirect to `app`."""
    app.include_router(router)
    app.state.console_citations = CitationCounts()
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")

    @app.get("/console/vendor/plotly.min.js", include_in_schema=False)
    def plotly_script() -> FileResponse:
        return FileResponse(plotly_js(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    @app.exception_handler(SignInNeeded)
    def sign_in(request: Request, _exc: SignInNeeded) -> Response:
        if request.method == "GET":
            return RedirectResponse("/console/login", status_code=303)
        return HTMLResponse("Please sign in again.", status_code=401)
