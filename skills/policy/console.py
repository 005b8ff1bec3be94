"""HR's console page (escalated questions, draft FAQs, the knowledge documents answers cite) and a question's page."""

from __future__ import annotations

import math
import re
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit
from bot.console.items import ITEM_PAGE, ago, employee_of, history, item_page, moment, state, visible_row, words
from bot.console.shell import (
    PAGE_SIZE,
    ConsolePages,
    ItemKind,
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
from bot.db import aware, utcnow
from bot.escalations import ESCALATION_MOVES
from bot.models import ChatMessage, Escalation, Faq, KnowledgeDocument
from bot.runtime import Runtime
from integrations.files import sniff_kind, too_big
from knowledge.loaders import AUDIENCES
from skills import sensitive_action_ids
from skills.policy import action_ids as policy_action_ids

TEMPLATES = Path(__file__).parent / "templates"
CITED_DAYS = 90  # the window for "most cited" and "never cited" on the HR page
CITED_CACHE_SECONDS = 300


def citation_counts(request: Request) -> CitationCounts:
    """The app's citation counter (made by `install`)."""
    counter: CitationCounts = request.app.state.console_citations
    return counter


router = APIRouter(prefix="/console", include_in_schema=False)


# ---------------------------------------------------------------- HR


@router.get("/hr")
def hr_page(request: Request, session: SessionDep, viewer: ViewerDep, rt: RuntimeDep) -> HTMLResponse:
    require(viewer, "hr")
    now = utcnow()
    with rt.database.session_scope() as db:
        tz = employee_of(db, viewer).tz
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
                "status_words": state(STATUS, e.status),
                "sensitive": e.sensitive,
                "asked": moment(e.created_at, tz),
                "age": waited(now - (aware(e.created_at, now) or now)),
                "answer": e.answer,
            }
            for e in escalations  # open ones first, each group oldest first: the longest wait on top
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
                "ingested": moment(d.ingested_at, tz),
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
        audiences={a: AUDIENCE_WORDS.get(a) or words(a) for a in AUDIENCES},
    )


def waited(age: timedelta) -> str:
    """How long a question has waited, as a queue shows it: "40 min", "3 h", "2 d"."""
    minutes = int(age.total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 0)} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"


STATUS = {"open": "Waiting for HR", "answered": "Answered", "resolved": "Resolved"}
AUDIENCE_WORDS = {"everyone": "Everyone", "managers": "Managers", "hr": "HR", "it": "IT"}
VERBS = {"created": "Sent to HR by {who}", "answered": "Answered by {who}", "resolved": "Marked resolved by {who}"}
ToField = Annotated[str, Form(pattern=f"^(/console/hr|{ITEM_PAGE})$")]


@router.get("/items/escalation/{escalation_id}")
def escalation_item(
    escalation_id: int, request: Request, session: SessionDep, viewer: ViewerDep, rt: RuntimeDep
) -> HTMLResponse:
    now = utcnow()
    with rt.database.session_scope() as db:
        escalation = visible_row(db, Escalation, "escalation", escalation_id, viewer)
        me = employee_of(db, viewer)
        titles = sorted({str(s["title"]) for s in escalation.sources or [] if isinstance(s, dict) and s.get("title")})
        facts = [
            ("Asked by", escalation.employee.name),
            ("Question", escalation.question),
            ("Confidential", "Yes: only HR sees it" if escalation.sensitive else ""),
            ("Asked", f"{moment(escalation.created_at, me.tz)} ({ago(escalation.created_at, now)})"),
            ("Documents the assistant looked at", ", ".join(titles)),
            ("Answer", escalation.answer or ""),
            ("Answered by", escalation.answered_by.name if escalation.answered_by else ""),
        ]
        moves = ESCALATION_MOVES.get(escalation.status, frozenset())
        hr = viewer.has("hr")  # HR's actions, as on HR's queue (its routes require the role)
        may = {"answer": hr and "answered" in moves, "resolve": hr and "resolved" in moves}
        trail = history(db, entity="escalation", entity_id=escalation.id, verbs=VERBS, tz=me.tz, now=now)
        return item_page(
            request,
            session,
            viewer,
            "escalation_item.html",
            kind="escalation",
            item_id=escalation.id,
            title=f"Question for HR #{escalation.id}",
            statuses=STATUS,
            status_key=escalation.status,
            facts=facts,
            trail=trail,
            may=may,
        )


def _escalation_action(rt: Runtime, escalation_id: int, policy_action: str, sensitive_action: str) -> str:
    """Which of the two actions (the policy skill's, the sensitive skill's) does the same thing to an escalation:
    confidential matters belong to the sensitive skill."""
    with rt.database.session_scope() as db:
        escalation = db.get(Escalation, escalation_id)
        return sensitive_action if escalation is not None and escalation.sensitive else policy_action


@router.post("/hr/escalations/{escalation_id}/answer")
def hr_answer(
    escalation_id: int,
    viewer: PosterDep,
    rt: RuntimeDep,
    answer: Annotated[str, Form(max_length=4000)],
    to: ToField = "/console/hr",
) -> Response:
    require(viewer, "hr")
    reply = act(
        rt,
        viewer,
        _escalation_action(rt, escalation_id, policy_action_ids.ANSWER_SUBMIT, sensitive_action_ids.ANSWER_SUBMIT),
        str(escalation_id),
        {"answer": answer},
    )
    return back(to, reply.text)


@router.post("/hr/escalations/{escalation_id}/resolve")
def hr_resolve(escalation_id: int, viewer: PosterDep, rt: RuntimeDep, to: ToField = "/console/hr") -> Response:
    require(viewer, "hr")
    reply = act(
        rt,
        viewer,
        _escalation_action(rt, escalation_id, policy_action_ids.RESOLVE, sensitive_action_ids.RESOLVE),
        str(escalation_id),
    )
    return back(to, reply.text)


@router.post("/hr/faqs/{faq_id}/publish")
def hr_publish(faq_id: int, viewer: PosterDep, rt: RuntimeDep) -> Response:
    require(viewer, "hr")
    reply = act(rt, viewer, policy_action_ids.PUBLISH, str(faq_id))
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


def keep_citation_counts(app: FastAPI) -> None:
    """Give `app` its own citation counter, which `citation_counts` reads."""
    app.state.console_citations = CitationCounts()


def home_counts(db: Session, viewer: Viewer) -> dict[str, int | None]:
    """The open questions for HR and the draft FAQs, for HR only."""
    hr = viewer.has("hr")
    return {
        "escalations": count(db, Escalation, Escalation.status == "open") if hr else None,
        "faqs": count(db, Faq, Faq.status == "draft") if hr else None,
    }


# A question for HR has a page but no `mine`: the home page's "Your requests" does not list them.
ESCALATION = ItemKind("escalation", "Question for HR", "escalation", STATUS)
PAGES = ConsolePages(router, TEMPLATES, on_install=keep_citation_counts, items=(ESCALATION,), home_counts=home_counts)
