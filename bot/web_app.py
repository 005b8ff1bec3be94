"""The FastAPI app: Slack's HTTP endpoint, health, the REST API and the web chat (bot.web_chat: same pipeline)."""

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
from typing import Annotated, Literal

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from slack_bolt.request import BoltRequest
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from bot.body_limit import MAX_BODY_BYTES, BodyLimit, nests_deeper_than
from bot.console import routes as console
from bot.console.admin import MAX_DIRECTORY_BYTES
from bot.console.auth import open_playground
from bot.directory import get_by_slack_id
from bot.models import Employee, Expense
from bot.runtime import Runtime
from bot.scheduler import SchedulerService
from bot.security_headers import SWAGGER_POLICY, SecurityHeaders, with_policy
from bot.slack_edge import SWITCH_INTERVAL_SECONDS
from bot.web_chat import (
    SLACK_ID as SLACK_ID,  # also the API's, as tests/test_openapi_fuzz.py reads it
)
from bot.web_chat import (
    UNAUTHORIZED,
    Credentials,
    Problem,
    RuntimeDep,
    add_web_chat,
    api_caller,
)
from skills.expenses.export import expense_row
from skills.it.models import Ticket
from skills.it.service import snapshot
from skills.leave.calendar import team_calendar
from skills.leave.home import calendar_token

log = logging.getLogger(__name__)
MAX_SLACK_BODY = 1_000_000

# The values the database holds (skills.it.service.STATUSES, skills.it.classify.PRIORITIES and CATEGORIES,
# skills.expenses.service.LABELS; tests/test_openapi_fuzz.py checks they agree), so the OpenAPI lists them.
TicketStatus = Literal["new", "in_progress", "waiting", "resolved", "closed"]
TicketPriority = Literal["P1", "P2", "P3", "P4"]
TicketCategory = Literal["access", "account", "hardware", "software", "network", "security", "other"]
ExpenseStatus = Literal[
    "draft", "submitted", "manager_approved", "approved", "rejected", "withdrawn", "discarded", "reimbursed"
]


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
    # One limit for every body but the file uploads (the web chat's receipts and screenshots and the console's
    # documents, up to 10 MB; a directory CSV of 5 MB): those may send twice their own limit, so a file a little too
    # big still gets the page's own message.
    uploads = {
        "/api/upload": 2 * runtime.settings.max_upload_bytes + MAX_BODY_BYTES,  # the file, and a caption
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
        caller_id, roles = api_caller(rt, credentials)
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
        caller_id, roles = api_caller(rt, credentials)
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
