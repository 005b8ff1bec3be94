"""The FastAPI app: Slack's HTTP endpoint, health, and the local web chat (same pipeline, no Slack)."""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from bot.directory import get_by_slack_id
from bot.expenses.export import expense_row
from bot.expenses.service import LABELS as EXPENSE_LABELS
from bot.leave.calendar import team_calendar
from bot.leave.home import calendar_token
from bot.messages import Message, Reply
from bot.models import ChatMessage, Employee, Expense, Ticket
from bot.runtime import Runtime
from bot.scheduler import SchedulerService
from bot.tickets.classify import CATEGORIES, PRIORITIES
from bot.tickets.service import STATUSES, snapshot
from bot.tokens import authenticate

log = logging.getLogger(__name__)
MAX_SLACK_BODY = 1_000_000
CHAT_PAGE = Path(__file__).parent / "web" / "chat.html"


class ChatIn(BaseModel):
    user: str = Field(min_length=1, max_length=32)
    text: str = Field(max_length=100_000)


class ActionIn(BaseModel):
    user: str = Field(min_length=1, max_length=32)
    action_id: str = Field(min_length=1, max_length=120)
    value: str = Field(default="", max_length=4000)
    form: dict[str, str] = Field(default_factory=dict)


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
        message_id=reply.message_id,
        modal=None,
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


def _caller(rt: Runtime, authorization: str | None) -> tuple[int, frozenset[str]]:
    """The person behind an API token (their id and roles), or 401."""
    scheme, _, token = (authorization or "").partition(" ")
    with rt.database.session_scope() as session:
        caller = authenticate(session, token.strip(), now=rt.assistant.clock()) if scheme == "Bearer" else None
        if caller is None:
            raise HTTPException(
                status_code=401, detail="a valid API token is required", headers={"WWW-Authenticate": "Bearer"}
            )
        return caller.id, caller.role_set


def create_app(runtime: Runtime, *, run_scheduler: bool = True) -> FastAPI:
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

    app = FastAPI(title="Back Office Assistant", lifespan=lifespan)
    app.state.runtime = runtime

    @app.get("/healthz", responses={503: {"description": "The database is unreachable"}})
    def healthz(rt: RuntimeDep, response: Response) -> dict[str, Any]:
        status = "ok"
        try:
            with rt.database.session_scope() as session:
                session.execute(select(1))
        except SQLAlchemyError:
            # A load balancer takes the worker out of rotation; the process itself keeps running.
            response.status_code, status = 503, "database unreachable"
        return {"status": status, "documents_chunks": rt.index.count(), "slack": rt.slack is not None}

    @app.post("/slack/events")
    async def slack_events(request: Request, rt: RuntimeDep) -> Response:
        if rt.slack is None:
            return JSONResponse({"error": "Slack is not configured on this server"}, status_code=503)
        body = await request.body()
        if len(body) > MAX_SLACK_BODY:
            return JSONResponse({"error": "payload too large"}, status_code=413)
        # The signature is checked before the body is even parsed (bolt checks it again): whatever is unsigned,
        # replayed (older than 5 minutes) or changed after signing gets 401, however malformed it is.
        stamp = request.headers.get("x-slack-request-timestamp", "")
        signature = request.headers.get("x-slack-signature", "")
        verifier = SignatureVerifier(rt.settings.slack_signing_secret or "")
        if not stamp.isdigit() or not verifier.is_valid(body=body, timestamp=stamp, signature=signature):
            return JSONResponse({"error": "invalid or missing Slack signature"}, status_code=401)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return JSONResponse({"error": "body is not UTF-8"}, status_code=400)
        try:
            bolt_request = BoltRequest(body=text, query=request.url.query, headers=dict(request.headers))
            bolt_response = await run_in_threadpool(rt.slack.dispatch, bolt_request)
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("malformed Slack payload rejected", exc_info=True)
            return JSONResponse({"error": "malformed Slack payload"}, status_code=400)
        return Response(
            content=bolt_response.body,
            status_code=bolt_response.status,
            headers=bolt_response.first_headers_without_set_cookie(),
        )

    @app.get("/api/tickets")
    def list_tickets(
        rt: RuntimeDep,
        authorization: Annotated[str | None, Header()] = None,
        status: str | None = None,
        priority: str | None = None,
        assignee: str | None = None,
        category: str | None = None,
        limit: int = 100,
    ) -> dict[str, Any]:
        """Tickets for the staff console: IT (and admins) see all, anyone else only the ones they reported."""
        caller_id, roles = _caller(rt, authorization)
        with rt.database.session_scope() as session:
            query = select(Ticket).order_by(Ticket.id.desc()).limit(max(1, min(limit, 500)))
            if "it" not in roles and "admin" not in roles:
                query = query.where(Ticket.requester_id == caller_id)
            for column, value, allowed in (
                (Ticket.status, status, STATUSES),
                (Ticket.priority, priority, PRIORITIES),
                (Ticket.category, category, CATEGORIES),
            ):
                if value is not None:
                    if value not in allowed:
                        raise HTTPException(status_code=422, detail=f"{value!r} is not one of {', '.join(allowed)}")
                    query = query.where(column == value)
            if assignee is not None:
                person = get_by_slack_id(session, assignee)
                query = query.where(Ticket.assignee_id == (person.id if person else -1))
            tickets = [snapshot(t) | {"created_at": t.created_at.isoformat()} for t in session.scalars(query)]
        return {"tickets": tickets, "count": len(tickets)}

    @app.get("/api/expenses")
    def list_expenses(
        rt: RuntimeDep,
        authorization: Annotated[str | None, Header()] = None,
        status: str | None = None,
        date_from: Annotated[date | None, Query(alias="from")] = None,
        date_to: Annotated[date | None, Query(alias="to")] = None,
        limit: int = 500,
    ) -> dict[str, Any]:
        """Claims for accounting: finance (and admins) see all, managers their reports', others their own.
        Amounts keep their original currency beside the base-currency amount."""
        caller_id, roles = _caller(rt, authorization)
        with rt.database.session_scope() as session:
            query = select(Expense).order_by(Expense.spent_on, Expense.id).limit(max(1, min(limit, 5000)))
            if "finance" not in roles and "admin" not in roles:
                reports = select(Employee.id).where(Employee.manager_id == caller_id)
                query = query.where((Expense.employee_id == caller_id) | Expense.employee_id.in_(reports))
            if status is not None:
                if status not in EXPENSE_LABELS:
                    raise HTTPException(status_code=422, detail=f"{status!r} is not a claim status")
                query = query.where(Expense.status == status)
            if date_from is not None:
                query = query.where(Expense.spent_on >= date_from)
            if date_to is not None:
                query = query.where(Expense.spent_on <= date_to)
            rows = [expense_row(e) for e in session.scalars(query)]
        return {"expenses": rows, "count": len(rows)}

    @app.get("/calendar/{slack_id}.ics")
    def team_calendar_feed(slack_id: str, token: str, rt: RuntimeDep) -> Response:
        """A manager's team leave calendar; the token in the link is the credential (calendar apps
        cannot send headers), compared in constant time."""
        with rt.database.session_scope() as session:
            manager = get_by_slack_id(session, slack_id)
            if manager is None:
                raise HTTPException(status_code=404, detail="no such calendar")
            if not hmac.compare_digest(token, calendar_token(rt.settings.secret_key, manager)):
                raise HTTPException(status_code=403, detail="invalid calendar token")
            now = rt.assistant.clock()
            body = team_calendar(
                session, policy=rt.leave_policy, manager=manager, since=now.date() - timedelta(days=90), now=now
            )
        return Response(content=body, media_type="text/calendar; charset=utf-8")

    if runtime.settings.environment != "production":
        # The playground lets you pick who you are, so it is never served in production.
        add_web_chat(app)
    return app


def add_web_chat(app: FastAPI) -> None:
    """The local web chat: pick a sample employee and use the same pipeline as Slack."""

    @app.get("/", response_class=HTMLResponse)
    def chat_page() -> str:
        return CHAT_PAGE.read_text(encoding="utf-8")

    @app.get("/api/employees")
    def employees(rt: RuntimeDep) -> list[dict[str, Any]]:
        with rt.database.session_scope() as session:
            return [
                {"slack_id": e.slack_id, "name": e.name, "roles": sorted(e.role_set)}
                for e in session.scalars(select(Employee).order_by(Employee.name))
            ]

    def known_user(rt: Runtime, slack_id: str) -> Employee:
        with rt.database.session_scope() as session:
            employee = get_by_slack_id(session, slack_id)
        if employee is None:
            raise HTTPException(status_code=404, detail=f"unknown employee {slack_id}")
        return employee

    @app.post("/api/chat")
    def chat(body: ChatIn, rt: RuntimeDep) -> dict[str, Any]:
        known_user(rt, body.user)
        message = Message(user_id=body.user, text=body.text, channel=f"web:{body.user}", platform="web")
        return reply_json(rt.assistant.handle(message))

    @app.post("/api/action")
    def action(body: ActionIn, rt: RuntimeDep) -> dict[str, Any]:
        known_user(rt, body.user)
        message = Message(
            user_id=body.user,
            text="",
            channel=f"web:{body.user}",
            platform="web",
            action_id=body.action_id,
            action_value=body.value,
            form=body.form,
        )
        return reply_json(rt.assistant.handle(message))

    @app.get("/api/feed")
    def feed(user: str, rt: RuntimeDep) -> dict[str, Any]:
        employee = known_user(rt, user)
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
