"""The console shell's pages under /console (sign-in, home, team, insights) and `install`, which mounts them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, HTTPException, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot import insights
from bot.console import admin, auth, charts
from bot.console.auth import ConsoleSession
from bot.console.items import day_count, day_range, expense_category, money, state, words
from bot.console.shell import (
    PAGE_SIZE,
    CsrfField,
    RuntimeDep,
    SessionDep,
    SignInNeeded,
    ViewerDep,
    back,
    count,
    page,
    refused,
    require,
    skill_pages,
    wants_json,
)
from bot.date_words import fmt_day
from bot.db import utcnow
from bot.directory import get_by_slack_id
from bot.models import Employee, Expense, LeaveRequest
from bot.runtime import Runtime
from skills.base import Skill

HERE = Path(__file__).parent

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
    """The tiles (each skill's `home_counts`) and "Your requests" (each item kind's `mine`), in the skills' order."""
    pages = skill_pages(rt.assistant.skills.values())
    counts: dict[str, int | None] = {}
    mine: list[dict[str, Any]] = []
    with rt.database.session_scope() as db:
        for skill in pages:
            if skill.home_counts is not None:
                counts.update(skill.home_counts(db, viewer))
            for kind in skill.items:
                for item in kind.mine(db, viewer, rt) if kind.mine is not None else ():
                    mine.append(
                        {
                            "entity": kind.page,
                            "id": item.id,
                            "kind": kind.label,
                            "what": item.what,
                            "status": item.status,
                            "status_words": state(kind.states, item.status),
                        }
                    )
    return page(request, "home.html", session, user=viewer, counts=counts, mine=mine)


def leave_type(rt: Runtime, key: str) -> str:
    """A leave type as the leave policy names it ("vacation" → "Vacation")."""
    kind = rt.leave_policy.types.get(key)
    return kind.label if kind is not None else words(key)


# ---------------------------------------------------------------- managers: team approvals and calendar


@router.get("/team")
def team_page(request: Request, session: SessionDep, viewer: ViewerDep, rt: RuntimeDep) -> HTMLResponse:
    require(viewer, "manager")
    today = utcnow().date()
    pending_leave = (LeaveRequest.status == "pending", LeaveRequest.approver_id == viewer.id)
    pending_expenses = (Expense.status == "submitted", Expense.approver_id == viewer.id)
    with rt.database.session_scope() as db:
        totals = {"leave": count(db, LeaveRequest, *pending_leave), "expenses": count(db, Expense, *pending_expenses)}
        leave = [
            {
                "id": r.id,
                "who": r.employee.name,
                "type": leave_type(rt, r.leave_type),
                "dates": day_range(r.start_date, r.end_date, r.start_half, r.end_half),
                "days": day_count(r.days),
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
                "amount": money(x.amount, x.currency),
                "spent_on": fmt_day(x.spent_on),
                "merchant": x.merchant or "",
                "category": expense_category(x.category),
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
        tiles=charts.tiles(figures),
        charts_json=charts.chart_json(figures),
        clusters=clusters,
    )


# ---------------------------------------------------------------- wiring


def plotly_js() -> Path:
    """plotly.js as shipped inside the `plotly` wheel: served from here, never from a CDN."""
    import plotly  # noqa: PLC0415

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def routers(skills: Iterable[Skill]) -> list[APIRouter]:
    """Every router under /console: the shell's, then the skills'."""
    return [router, admin.router, *(pages.router for pages in skill_pages(skills))]


def install(app: FastAPI, skills: Iterable[Skill]) -> None:
    """Add the console's pages, the skills' pages (each skill's `console`), its static files and its sign-in
    redirect to `app`."""
    pages = skill_pages(skills)
    for each in routers(skills):
        app.include_router(each)
    for skill in pages:
        if skill.on_install is not None:
            skill.on_install(app)
    # One loader for the shell's templates and the skills': a skill's page extends the shell's base.html.
    folders = [HERE / "templates", *(skill.templates for skill in pages if skill.templates is not None)]
    app.state.console_templates = Jinja2Templates(directory=folders)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")

    @app.get("/console/vendor/plotly.min.js", include_in_schema=False)
    def plotly_script() -> FileResponse:
        return FileResponse(plotly_js(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # A person's browser refused under /console gets a page saying why; API clients keep FastAPI's JSON.
        if exc.status_code == 403 and request.url.path.startswith("/console") and not wants_json(request):
            return await run_in_threadpool(refused, request, str(exc.detail))  # it reads the directory
        return await http_exception_handler(request, exc)

    @app.exception_handler(SignInNeeded)
    def sign_in(request: Request, _exc: SignInNeeded) -> Response:
        if request.method == "GET":
            return RedirectResponse("/console/login", status_code=303)
        return HTMLResponse("Please sign in again.", status_code=401)
