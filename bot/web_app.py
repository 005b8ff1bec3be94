"""The FastAPI app: Slack's HTTP endpoint, health, and the local web chat (same pipeline, no Slack)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from slack_bolt.request import BoltRequest
from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from bot.body_limit import MAX_BODY_BYTES, BodyLimit, nests_deeper_than
from bot.console import routes as console
from bot.console.admin import MAX_DIRECTORY_BYTES
from bot.console.auth import open_playground, read_session
from bot.directory import get_by_slack_id
from bot.messages import Message, Reply
from bot.models import ChatMessage, Employee, Expense
from bot.runtime import Runtime
from bot.scheduler import SchedulerService
from bot.security_headers import CHAT_POLICY, SWAGGER_POLICY, SecurityHeaders, with_policy
from bot.slack_edge import SWITCH_INTERVAL_SECONDS
from bot.text_clean import clean_text
from bot.tokens import authenticate
from skills.expenses.export import expense_row
from skills.it.models import Ticket
from skills.it.service import snapshot
from skills.leave.calendar import team_calendar
from skills.leave.home import calendar_token

log = logging.getLogger(__name__)
MAX_SLACK_BODY = 1_000_000
CHAT_PAGE = Path(__file__).parent / "web" / "chat.html"

# A Slack member id ("U0000DEVONE"). Checked at the edge so odd bytes never reach a query: PostgreSQL refuses a
# NUL in text, which made such an id a 500 instead of a 4xx.
SLACK_ID = r"^[A-Za-z0-9]{1,32}$"
NO_NUL = r"^[^\x00]*$"  # free text: anything PostgreSQL can store
# The values the database holds (skills.it.service.STATUSES, skills.it.classify.PRIORITIES and CATEGORIES,
# skills.expenses.service.LABELS; tests/test_openapi_fuzz.py checks they agree), so the OpenAPI lists them.
TicketStatus = Literal["new", "in_progress", "waiting", "resolved", "closed"]
TicketPriority = Literal["P1", "P2", "P3", "P4"]
TicketCategory = Literal["access", "account", "hardware", "software", "network", "security", "other"]
ExpenseStatus = Literal[
    "draft", "submitted", "manager_approved", "approved", "rejected", "withdrawn", "discarded", "reimbursed"
]


class ChatIn(BaseModel):
    user: str = Field(pattern=SLACK_ID, examples=["U0000DEVONE"])
    text: str = Field(max_length=100_000, pattern=NO_NUL, examples=["how many vacation days do I get?"])


class ActionIn(BaseModel):
    user: str = Field(pattern=SLACK_ID, examples=["U0000DEVONE"])
    action_id: str = Field(min_length=1, max_length=120, pattern=NO_NUL)
    value: str = Field(default="", max_length=4000, pattern=NO_NUL)
    form: dict[str, Annotated[str, Field(pattern=NO_NUL)]] = Field(default_factory=dict)


class Problem(BaseModel):
    """What an error response says (FastAPI's HTTPException body)."""

    detail: str


class SlackError(BaseModel):
    error: str


class Health(BaseModel):
    status: str
    documents_chunks: int
    slack: bool


class TicketOut(BaseModel):
    id: int
    title: str
    category: str
    priority: str
    status: str
    security: bool
    requester: str | None
    assignee: str | None
    incident_id: int | None
    created_at: str


class TicketList(BaseModel):
    tickets: list[TicketOut]
    count: int


class ExpenseList(BaseModel):
    expenses: list[dict[str, str]]  # one row per claim, the columns of the CSV export (skills.expenses.export)
    count: int


class EmployeeOut(BaseModel):
    slack_id: str
    name: str
    roles: list[str]
    label: str = Field(description="What the web chat's picker shows: the name, and the staff roles when any")


def picker_label(name: str, roles: list[str]) -> str:
    """The name with the staff roles, as in "Daniel Kim (manager)"; the name alone for someone only an employee."""
    staff = [role for role in roles if role != "employee"]
    return f"{name} ({', '.join(staff)})" if staff else name


UNAUTHORIZED: dict[int | str, dict[str, Any]] = {401: {"model": Problem, "description": "No valid API token"}}
UNKNOWN_USER: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "Unknown employee"}}
NOT_YOU: dict[int | str, dict[str, Any]] = {403: {"model": Problem, "description": "Not the signed-in person"}}
NOT_JSON: dict[int | str, dict[str, Any]] = {400: {"model": Problem, "description": "The body is not JSON"}}
bearer = HTTPBearer(auto_error=False, description="An API token (`backoffice token create`)")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def reply_json(reply: Reply) -> dict[str, Any]:
    data = reply.payload()
    data.update(
        text=reply.text,
        ephemeral=reply.ephemeral,
        skill=reply.skill,
        confidence=reply.confidence,
        answered=reply.answered,
        message_id=reply.message_id,
        modal=None,
        more=[reply_json(other) for other in reply.more],
    )
    if reply.modal is not None:
        data["modal"] = {
            "callback_id": reply.modal.callback_id,
            "title": reply.modal.title,
            "private_metadata": reply.modal.private_metadata,
            "submit_label": reply.modal.submit_label,
            "fields": [f.__dict__ for f in reply.modal.fields],
        }
    return data


def _caller(rt: Runtime, credentials: HTTPAuthorizationCredentials | None) -> tuple[int, frozenset[str]]:
    """The person behind an API token (their id and roles), or 401."""
    with rt.database.session_scope() as session:
        token = credentials.credentials.strip() if credentials is not None else ""
        caller = authenticate(session, token, now=rt.assistant.clock()) if token else None
        if caller is None:
            raise HTTPException(
                status_code=401, detail="a valid API token is required", headers={"WWW-Authenticate": "Bearer"}
            )
        return caller.id, caller.role_set


def create_app(runtime: Runtime, *, run_scheduler: bool = True, bind_host: str | None = None) -> FastAPI:
    """The app. `bind_host`: the interface it is served on (None = not known); with the settings it decides
    whether this is the open demo (bot.console.auth.open_playground) or everyone signs in."""
    # Slack's ack and the answers after it share one interpreter: switching threads every 1 ms instead of 5 ms
    # lets a waiting ack run sooner behind CPU-bound answers (benchmarks: ack p99 at 100 events/s 330 → 230 ms,
    # and more answers delivered in the same time).
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Every worker process may start one: the lease lets exactly one of them run the jobs (bot.scheduler).
        scheduler = SchedulerService(runtime) if run_scheduler else None
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                # stop() waits for a running job, so keep it off the event loop.
                await run_in_threadpool(scheduler.stop)

    # ReDoc is left out: it needs styles injected at run time, a blob: worker and Google Fonts; Swagger UI is served
    # below with a policy that names what it loads.
    app = FastAPI(title="Back Office Assistant", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.runtime = runtime
    app.state.open_playground = open_playground(runtime.settings, bind_host)
    # One limit for every body but the console's file uploads (documents of up to 10 MB, a directory CSV of 5 MB):
    # those may send twice their own limit, so a file a little too big still gets the console's own message.
    uploads = {
        "/console/hr/documents": 2 * runtime.settings.max_upload_bytes,
        "/console/admin/directory": 2 * MAX_DIRECTORY_BYTES,
    }
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES, larger=uploads)
    app.add_middleware(SecurityHeaders)  # added last, so it wraps BodyLimit's 413 too
    console.install(app, runtime.assistant.skills.values())

    @app.get("/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        page = get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} – API")
        return with_policy(page, SWAGGER_POLICY)

    @app.get("/healthz", responses={503: {"description": "The database is unreachable"}})
    def healthz(rt: RuntimeDep, response: Response) -> Health:
        try:
            with rt.database.session_scope() as session:
                session.execute(select(1))
        except SQLAlchemyError:
            # A load balancer takes the worker out of rotation; the process itself keeps running.
            response.status_code = 503
            return Health(status="database unreachable", documents_chunks=rt.index.count(), slack=rt.slack is not None)
        return Health(status="ok", documents_chunks=rt.index.count(), slack=rt.slack is not None)

    @app.post(
        "/slack/events",
        responses={
            200: {"description": "Bolt's acknowledgement", "content": {"application/json": {}, "text/plain": {}}},
            **{
                status: {"model": SlackError, "description": description}
                for status, description in (
                    (400, "Not a Slack payload"),
                    (401, "Bad or missing Slack signature"),
                    (413, "Payload too large"),
                    (503, "Slack is not configured on this server"),
                )
            },
        },
    )
    async def slack_events(request: Request, rt: RuntimeDep) -> Response:
        if rt.slack is None:
            return JSONResponse({"error": "Slack is not configured on this server"}, status_code=503)
        body = await request.body()  # BodyLimit already refused anything over MAX_BODY_BYTES
        if len(body) > MAX_SLACK_BODY:
            return JSONResponse({"error": "payload too large"}, status_code=413)
        # The signature is checked before the body is even parsed (bolt checks it again): whatever is unsigned,
        # replayed (older than 5 minutes) or changed after signing gets 401, however malformed it is. It is
        # Slack's HMAC of "v0:{timestamp}:{body}", computed on bytes here: slack_sdk's verifier decodes the body
        # as UTF-8 and compares str, which raised (a 500) on a non-UTF-8 body or a non-ASCII signature. Headers
        # arrive as latin-1, where "²".isdigit() is True but int("²") fails: the timestamp must be ASCII digits.
        stamp = request.headers.get("x-slack-request-timestamp", "")
        signature = request.headers.get("x-slack-signature", "").encode("latin-1")
        secret = (rt.settings.slack_signing_secret or "").encode()
        signed = b"v0:" + stamp.encode("latin-1") + b":" + body
        expected = b"v0=" + hmac.new(secret, signed, hashlib.sha256).hexdigest().encode()
        fresh = re.fullmatch(r"[0-9]{1,12}", stamp) is not None and abs(time.time() - int(stamp)) <= 5 * 60
        if not secret or not fresh or not hmac.compare_digest(expected, signature):
            return JSONResponse({"error": "invalid or missing Slack signature"}, status_code=401)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return JSONResponse({"error": "body is not UTF-8"}, status_code=400)
        malformed = (ValueError, KeyError, TypeError, AttributeError, RecursionError)  # RecursionError: too deep
        try:
            bolt_request = BoltRequest(body=text, query=request.url.query, headers=dict(request.headers))
        except malformed:
            log.warning("malformed Slack payload rejected", exc_info=True)
            return JSONResponse({"error": "malformed Slack payload"}, status_code=400)
        # Slack posts an object, an event callback's event is one too (bolt and the inbox assume both), and
        # neither nests deeply.
        payload = bolt_request.body
        if not isinstance(payload, dict) or not isinstance(payload.get("event", {}), dict):
            return JSONResponse({"error": "not a Slack payload"}, status_code=400)
        if nests_deeper_than(payload):
            return JSONResponse({"error": "Slack payload nested too deeply"}, status_code=400)
        try:
            bolt_response = await run_in_threadpool(rt.slack.dispatch, bolt_request)
        except malformed:
            log.warning("malformed Slack payload rejected", exc_info=True)
            return JSONResponse({"error": "malformed Slack payload"}, status_code=400)
        return Response(
            content=bolt_response.body,
            status_code=bolt_response.status,
            headers=bolt_response.first_headers_without_set_cookie(),
        )

    @app.get("/api/tickets", responses=UNAUTHORIZED)
    def list_tickets(
        rt: RuntimeDep,
        credentials: Credentials,
        status: TicketStatus | None = None,
        priority: TicketPriority | None = None,
        assignee: Annotated[str | None, Query(pattern=SLACK_ID)] = None,
        category: TicketCategory | None = None,
        limit: Annotated[int, Query(description="at most 500; fewer than 1 reads as 1")] = 100,
    ) -> TicketList:
        """Tickets for the staff console: IT (and admins) see all, anyone else only the ones they reported."""
        caller_id, roles = _caller(rt, credentials)
        with rt.database.session_scope() as session:
            query = select(Ticket).order_by(Ticket.id.desc()).limit(max(1, min(limit, 500)))
            if "it" not in roles and "admin" not in roles:
                query = query.where(Ticket.requester_id == caller_id)
            for column, value in ((Ticket.status, status), (Ticket.priority, priority), (Ticket.category, category)):
                if value is not None:
                    query = query.where(column == value)
            if assignee is not None:
                person = get_by_slack_id(session, assignee)
                query = query.where(Ticket.assignee_id == (person.id if person else -1))
            tickets = [TicketOut(**snapshot(t), created_at=t.created_at.isoformat()) for t in session.scalars(query)]
        return TicketList(tickets=tickets, count=len(tickets))

    @app.get("/api/expenses", responses=UNAUTHORIZED)
    def list_expenses(
        rt: RuntimeDep,
        credentials: Credentials,
        status: ExpenseStatus | None = None,
        date_from: Annotated[date | None, Query(alias="from")] = None,
        date_to: Annotated[date | None, Query(alias="to")] = None,
        limit: Annotated[int, Query(description="at most 5000; fewer than 1 reads as 1")] = 500,
    ) -> ExpenseList:
        """Claims for accounting: finance (and admins) see all, managers their reports', others their own.
        Amounts keep their original currency beside the base-currency amount."""
        caller_id, roles = _caller(rt, credentials)
        with rt.database.session_scope() as session:
            query = select(Expense).order_by(Expense.spent_on, Expense.id).limit(max(1, min(limit, 5000)))
            if "finance" not in roles and "admin" not in roles:
                reports = select(Employee.id).where(Employee.manager_id == caller_id)
                query = query.where((Expense.employee_id == caller_id) | Expense.employee_id.in_(reports))
            if status is not None:
                query = query.where(Expense.status == status)
            if date_from is not None:
                query = query.where(Expense.spent_on >= date_from)
            if date_to is not None:
                query = query.where(Expense.spent_on <= date_to)
            rows = [expense_row(e) for e in session.scalars(query)]
        return ExpenseList(expenses=rows, count=len(rows))

    @app.get(
        "/calendar/{slack_id}.ics",
        response_class=Response,
        responses={
            200: {"description": "The team's leave as iCalendar", "content": {"text/calendar": {}}},
            403: {"model": Problem, "description": "Wrong token"},
            404: {"model": Problem, "description": "No such calendar"},
        },
    )
    def team_calendar_feed(
        slack_id: Annotated[str, PathParam(pattern=SLACK_ID)], token: str, rt: RuntimeDep
    ) -> Response:
        """A manager's team leave calendar; the token in the link is the credential (calendar apps
        cannot send headers), compared in constant time."""
        with rt.database.session_scope() as session:
            manager = get_by_slack_id(session, slack_id)
            if manager is None:
                raise HTTPException(status_code=404, detail="no such calendar")
            # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError, so a 500, before).
            expected = calendar_token(rt.settings.secret_key, manager)
            if not hmac.compare_digest(token.encode(), expected.encode()):
                raise HTTPException(status_code=403, detail="invalid calendar token")
            now = rt.assistant.clock()
            body = team_calendar(
                session, policy=rt.leave_policy, manager=manager, since=now.date() - timedelta(days=90), now=now
            )
        return Response(content=body, media_type="text/calendar; charset=utf-8")

    add_web_chat(app)
    return app


def add_web_chat(app: FastAPI) -> None:
    """The web chat: the same pipeline as Slack. In development mode anyone picks who they are (a demo on this
    machine); otherwise each person uses it as themselves, signed in to the console (Sign in with Slack) or with
    an API token, and may only read and write their own conversation (and their team's queues)."""

    def chat_user(request: Request, rt: Runtime, credentials: HTTPAuthorizationCredentials | None) -> str | None:
        """The Slack id of who is using the chat; None in development mode (the request names anyone)."""
        if request.app.state.open_playground:
            return None
        if credentials is not None:
            caller_id, _roles = _caller(rt, credentials)
            with rt.database.session_scope() as session:
                return session.get_one(Employee, caller_id).slack_id
        signed_in = read_session(request, rt.settings).slack_id
        if signed_in is None:
            raise HTTPException(
                status_code=401,
                detail="Sign in first: /console/login (Sign in with Slack), or send an API token.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return signed_in

    def as_user(request: Request, rt: Runtime, credentials: HTTPAuthorizationCredentials | None, user: str) -> Employee:
        """The employee the request acts as: `user`, who must be the signed-in person outside development mode."""
        signed_in = chat_user(request, rt, credentials)
        if signed_in is not None and signed_in != user:
            raise HTTPException(status_code=403, detail="You can only use the chat as yourself.")
        return known_user(rt, user)

    @app.get("/", response_class=HTMLResponse, response_model=None)
    def chat_page(request: Request, rt: RuntimeDep) -> HTMLResponse | RedirectResponse:
        if not request.app.state.open_playground and read_session(request, rt.settings).slack_id is None:
            return RedirectResponse("/console/login", status_code=303)
        return with_policy(HTMLResponse(CHAT_PAGE.read_text(encoding="utf-8")), CHAT_POLICY)

    @app.get("/api/employees", responses=UNAUTHORIZED)
    def employees(request: Request, rt: RuntimeDep, credentials: Credentials) -> list[EmployeeOut]:
        """Who the chat may be used as: anyone in development mode, else only the person signed in."""
        signed_in = chat_user(request, rt, credentials)
        with rt.database.session_scope() as session:
            query = select(Employee).order_by(Employee.name)
            if signed_in is not None:
                query = query.where(Employee.slack_id == signed_in)
            return [
                EmployeeOut(
                    slack_id=e.slack_id,
                    name=e.name,
                    roles=sorted(e.role_set),
                    label=picker_label(e.name, sorted(e.role_set)),
                )
                for e in session.scalars(query)
            ]

    def known_user(rt: Runtime, slack_id: str) -> Employee:
        with rt.database.session_scope() as session:
            employee = get_by_slack_id(session, slack_id)
        if employee is None:
            raise HTTPException(status_code=404, detail=f"unknown employee {slack_id}")
        return employee

    @app.post("/api/chat", responses=NOT_JSON | UNKNOWN_USER | UNAUTHORIZED | NOT_YOU)
    def chat(body: ChatIn, request: Request, rt: RuntimeDep, credentials: Credentials) -> dict[str, Any]:
        as_user(request, rt, credentials, body.user)
        message = Message(user_id=body.user, text=clean_text(body.text), channel=f"web:{body.user}", platform="web")
        return reply_json(rt.assistant.handle(message))

    @app.post("/api/action", responses=NOT_JSON | UNKNOWN_USER | UNAUTHORIZED | NOT_YOU)
    def action(body: ActionIn, request: Request, rt: RuntimeDep, credentials: Credentials) -> dict[str, Any]:
        as_user(request, rt, credentials, body.user)
        form = {name: clean_text(value) for name, value in body.form.items()}
        click = Message.web_click(body.user, body.action_id, clean_text(body.value), form)
        return reply_json(rt.assistant.handle(click))

    @app.get("/api/feed", responses=UNKNOWN_USER | UNAUTHORIZED | NOT_YOU)
    def feed(
        user: Annotated[str, Query(pattern=SLACK_ID)], request: Request, rt: RuntimeDep, credentials: Credentials
    ) -> dict[str, Any]:
        employee = as_user(request, rt, credentials, user)
        channels = [f"web:{user}"]
        if employee.has_role("hr"):
            channels.append(rt.settings.hr_destination)
        if employee.has_role("it"):
            channels.append(rt.settings.it_destination)
        if employee.has_role("finance"):
            channels.append(rt.settings.finance_destination)
        with rt.database.session_scope() as session:
            rows = session.scalars(
                select(ChatMessage)
                .where(or_(*(ChatMessage.channel == c for c in channels)))
                .order_by(ChatMessage.id.desc())
                .limit(200)
            ).all()
            items = [
                {
                    "id": m.id,
                    "channel": m.channel,
                    "direction": m.direction,
                    "text": m.text,
                    **(m.payload or {}),
                }
                for m in reversed(rows)
            ]
        return {"messages": items, "hr_channel": rt.settings.hr_destination}
