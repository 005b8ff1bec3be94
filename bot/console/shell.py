"""The console shell's shared pieces: the signed-in viewer, access checks, page rendering and form helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, unquote

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.console import auth
from bot.console.auth import ConsoleSession
from bot.directory import get_by_slack_id
from bot.messages import Message, Reply
from bot.models import Employee
from bot.runtime import Runtime

if TYPE_CHECKING:
    from skills.base import Skill

# Pages load the console's own script and styles only; style attributes are allowed because the chart library
# sets them as it draws (a style cannot run code).
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_SIZE = 100
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


# Who a role's pages are for, as the refusal names them.
AUDIENCES = {"hr": "HR", "it": "IT", "finance": "finance", "manager": "managers", "admin": "admins"}


def require(viewer: Viewer, role: str) -> None:
    if not viewer.has(role):
        raise HTTPException(status_code=403, detail=f"This page is for {AUDIENCES.get(role, role)}.")


def wants_json(request: Request) -> bool:
    """An API client rather than a browser: under /api/, or asking for JSON."""
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def refused(request: Request, reason: str) -> HTMLResponse:
    """A console refusal as a page for a person: why, and where to go (home, or sign in as someone else)."""
    session = session_of(request)
    try:
        viewer: Viewer | None = current_user(request, session)
    except SignInNeeded:
        viewer = None
    response = page(request, "denied.html", session, user=viewer, reason=reason)
    response.status_code = 403
    return response


def page(request: Request, name: str, session: ConsoleSession, **context: Any) -> HTMLResponse:
    settings = runtime_of(request).settings
    templates: Jinja2Templates = request.app.state.console_templates
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


# Pages read the database directly (read-only queries). Every change a form makes goes through the assistant as
# the signed-in person's click on the same action Slack's buttons send (`Assistant.handle`), so the console obeys
# the same permission checks, writes the same audit rows and sends the same Slack messages as Slack does.
def act(rt: Runtime, viewer: Viewer, action_id: str, value: str, form: dict[str, str] | None = None) -> Reply:
    """The signed-in person's click on `action_id`, handled exactly as the same button in Slack."""
    return rt.assistant.handle(Message.web_click(viewer.slack_id, action_id, value, form))


def count(db: Session, model: Any, *where: Any) -> int:
    return int(db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def parse_day(value: str, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(status_code=400, detail=f"“{value}” is not a date for {name} (use YYYY-MM-DD).") from None


@dataclass(frozen=True)
class Owned:
    """One of the viewer's own items on the home page's "Your requests": its number, what it is, its state."""

    id: int
    what: str
    status: str


@dataclass(frozen=True)
class ItemKind:
    """A kind of item a skill keeps: the entity its audit rows name ("leave_request"), what a person calls one
    ("Leave request"), the kind of its page (/console/items/<page>/<id>; None if it has none), its states in words,
    and (for a kind with a page) the viewer's own recent ones for the home page."""

    entity: str
    label: str
    page: str | None = None
    states: Mapping[str, str] = field(default_factory=dict)
    mine: Callable[[Session, Viewer, Runtime], Sequence[Owned]] | None = None


# The counts a skill puts on the home page's tiles (home.html names them), for this viewer; None hides a tile.
HomeCounts = Callable[[Session, Viewer], Mapping[str, int | None]]


@dataclass(frozen=True)
class ConsolePages:
    """What a skill adds to the console: its router, the folder of the templates only it uses, what it keeps
    per app (`on_install`, called once the app is made), the kinds of item it keeps (the audit log and the home
    page's "Your requests" read them) and its counts for the home page's tiles."""

    router: APIRouter
    templates: Path | None = None
    on_install: Callable[[FastAPI], None] | None = None
    items: Sequence[ItemKind] = ()
    home_counts: HomeCounts | None = None


def skill_pages(skills: Iterable[Skill]) -> list[ConsolePages]:
    """The console pages the skills declare (`Skill.console`), in the registry's order."""
    return [pages for pages in (skill.console for skill in skills) if pages is not None]
