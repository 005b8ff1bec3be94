"""The web chat (page, chat, buttons, uploads, feed, staff queues) and the request pieces the API endpoints share."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from bot.console.auth import read_session
from bot.directory import get_by_slack_id
from bot.messages import Message, Reply
from bot.models import ChatMessage, Employee
from bot.runtime import Runtime
from bot.security_headers import CHAT_POLICY, with_policy
from bot.text_clean import clean_text
from bot.tokens import authenticate
from integrations.files import ALL_KINDS, UploadRejected, store_bytes, web_file_ref

CHAT_PAGE = Path(__file__).parent / "web" / "chat.html"
# A Slack member id ("U0000DEVONE"). Checked at the edge so odd bytes never reach a query: PostgreSQL refuses a
# NUL in text, which made such an id a 500 instead of a 4xx.
SLACK_ID = r"^[A-Za-z0-9]{1,32}$"
NO_NUL = r"^[^\x00]*$"  # free text: anything PostgreSQL can store
MAX_TEXT = 100_000  # characters of a message or a caption
# A view opens with its newest FEED_SIZE messages; each poll then reports the revision of up to as many cards
# (messages with an update key, which the outbox edits in place) so the page redraws just the ones that changed.
FEED_SIZE = 200
IDS = r"^[0-9]{1,12}(,[0-9]{1,12}){0,49}$"
Team = Literal["hr", "it", "finance"]
# A feed's poll (the person's chat or a team's queue): what is newer than `after`, or just the messages `ids`.
After = Annotated[int, Query(ge=0, le=10**12, description="The newest message id the page has")]
Ids = Annotated[str | None, Query(pattern=IDS, description="Just these messages (comma-separated)")]
TEAM_NAMES = {"hr": "HR", "it": "IT", "finance": "Finance"}


class ChatIn(BaseModel):
    user: str = Field(pattern=SLACK_ID, examples=["U0000DEVONE"])
    text: str = Field(max_length=MAX_TEXT, pattern=NO_NUL, examples=["how many vacation days do I get?"])


class ActionIn(BaseModel):
    user: str = Field(pattern=SLACK_ID, examples=["U0000DEVONE"])
    action_id: str = Field(min_length=1, max_length=120, pattern=NO_NUL)
    value: str = Field(default="", max_length=4000, pattern=NO_NUL)
    form: dict[str, Annotated[str, Field(pattern=NO_NUL)]] = Field(default_factory=dict)


class Problem(BaseModel):
    """What an error response says (FastAPI's HTTPException body)."""

    detail: str


class EmployeeOut(BaseModel):
    slack_id: str
    name: str
    roles: list[str]
    label: str = Field(description="What the web chat's picker shows: the name, and the staff roles when any")
    queues: list[Team] = Field(default_factory=list, description="The staff queues this person works in")


class Feed(BaseModel):
    messages: list[dict[str, Any]] = Field(description="Oldest first: the newest ones, or those after `after`")
    revisions: dict[str, str] = Field(
        description="For cards at or before `after`: their current revision (`rev`), by id; one that differs from "
        "what the page shows was edited in place: fetch it with `ids`"
    )


def picker_label(name: str, roles: list[str]) -> str:
    """The name with the staff roles, as in "Daniel Kim (manager)"; the name alone for someone only an employee."""
    staff = [role for role in roles if role != "employee"]
    return f"{name} ({', '.join(staff)})" if staff else name


Responses = dict[int | str, dict[str, Any]]
UNAUTHORIZED: Responses = {401: {"model": Problem, "description": "No valid API token"}}
UNKNOWN_USER: Responses = {404: {"model": Problem, "description": "Unknown employee"}}
NOT_YOU: Responses = {403: {"model": Problem, "description": "Not the signed-in person"}}
NOT_JSON: Responses = {400: {"model": Problem, "description": "The body is not JSON"}}
NOT_STAFF: Responses = {403: {"model": Problem, "description": "Not the signed-in person, or not on that team"}}
REFUSED_FILE: Responses = {
    400: {"model": Problem, "description": "Not a multipart form"},
    413: {"model": Problem, "description": "The file is over the size limit (the same as for files shared in Slack)"},
    415: {"model": Problem, "description": "Not a kind of file the assistant reads, by its content"},
    422: {"model": Problem, "description": "A form field missing or invalid"},
}
UPLOAD_FORM = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["user", "file"],
                "properties": {
                    "user": {"type": "string", "pattern": SLACK_ID, "examples": ["U0000DEVONE"]},
                    "text": {"type": "string", "maxLength": MAX_TEXT, "description": "An optional caption"},
                    "file": {"type": "string", "format": "binary", "description": "A receipt or a screenshot"},
                },
            }
        }
    },
}
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


def api_caller(rt: Runtime, credentials: HTTPAuthorizationCredentials | None) -> tuple[int, frozenset[str]]:
    """The person behind an API token (their id and roles), or 401."""
    with rt.database.session_scope() as session:
        token = credentials.credentials.strip() if credentials is not None else ""
        caller = authenticate(session, token, now=rt.assistant.clock()) if token else None
        if caller is None:
            raise HTTPException(
                status_code=401, detail="a valid API token is required", headers={"WWW-Authenticate": "Bearer"}
            )
        return caller.id, caller.role_set


def team_channels(rt: Runtime, team: Team) -> list[str]:
    """Where a team's cards are posted (HR: its channel and its private one for confidential matters)."""
    settings = rt.settings
    if team == "hr":
        return list(dict.fromkeys((settings.hr_destination, settings.hr_private_destination)))
    return [settings.it_destination if team == "it" else settings.finance_destination]


def revision(text: str, payload: dict[str, Any] | None) -> str:
    """A short fingerprint of what a stored message shows: it changes when the outbox edits the card."""
    shown = json.dumps([text, payload or {}], sort_keys=True, default=str)
    return hashlib.blake2s(shown.encode(), digest_size=6).hexdigest()


def read_feed(rt: Runtime, channels: list[str], *, after: int, ids: str | None) -> Feed:
    """The messages of `channels` after `after` (the newest FEED_SIZE when 0), or exactly `ids`, and the revisions
    of the cards at or before `after`."""
    in_view = ChatMessage.channel.in_(channels)
    with rt.database.session_scope() as session:
        if ids:
            wanted = [int(part) for part in ids.split(",")]
            rows = list(session.scalars(select(ChatMessage).where(in_view, ChatMessage.id.in_(wanted))))
        else:
            rows = list(
                session.scalars(
                    select(ChatMessage)
                    .where(in_view, ChatMessage.id > after)
                    .order_by(ChatMessage.id.desc())
                    .limit(FEED_SIZE)
                )
            )
        cards = session.execute(
            select(ChatMessage.id, ChatMessage.text, ChatMessage.payload)
            .where(in_view, ChatMessage.update_key.is_not(None), ChatMessage.id <= after)
            .order_by(ChatMessage.id.desc())
            .limit(FEED_SIZE)
        ).all()
        items = [
            {
                "id": m.id,
                "channel": m.channel,
                "direction": m.direction,
                "text": m.text,
                "rev": revision(m.text, m.payload),
                **(m.payload or {}),
            }
            for m in sorted(rows, key=lambda m: m.id)
        ]
        return Feed(messages=items, revisions={str(i): revision(text, payload) for i, text, payload in cards})


def add_web_chat(app: FastAPI) -> None:
    """The web chat: the same pipeline as Slack. In development mode anyone picks who they are (a demo on this
    machine); otherwise each person uses it as themselves, signed in to the console (Sign in with Slack) or with
    an API token, and may only read and write their own conversation (and their team's queues)."""

    def chat_user(request: Request, rt: Runtime, credentials: HTTPAuthorizationCredentials | None) -> str | None:
        """The Slack id of who is using the chat; None in development mode (the request names anyone)."""
        if request.app.state.open_playground:
            return None
        if credentials is not None:
            caller_id, _roles = api_caller(rt, credentials)
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

    def known_user(rt: Runtime, slack_id: str, signed_in: str | None) -> Employee:
        """The employee a request acts as: `slack_id`, who must be the signed-in person outside development mode."""
        if signed_in is not None and signed_in != slack_id:
            raise HTTPException(status_code=403, detail="You can only use the chat as yourself.")
        with rt.database.session_scope() as session:
            employee = get_by_slack_id(session, slack_id)
        if employee is None:
            raise HTTPException(status_code=404, detail=f"unknown employee {slack_id}")
        return employee

    def as_user(request: Request, rt: Runtime, credentials: HTTPAuthorizationCredentials | None, user: str) -> Employee:
        return known_user(rt, user, chat_user(request, rt, credentials))

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
                    queues=[team for team in get_args(Team) if e.has_role(team)],
                )
                for e in session.scalars(query)
            ]

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

    @app.post(
        "/api/upload",
        responses=REFUSED_FILE | UNKNOWN_USER | UNAUTHORIZED | NOT_YOU,
        openapi_extra={"requestBody": UPLOAD_FORM},
    )
    async def upload(request: Request, rt: RuntimeDep, credentials: Credentials) -> dict[str, Any]:
        """A receipt or screenshot with an optional caption: checked like a file shared in Slack (size limit, kind
        by content), stored, and handed to the skills as the message's file. Who is asking is checked before the
        body is read."""
        signed_in = await run_in_threadpool(chat_user, request, rt, credentials)
        async with request.form(max_files=1, max_fields=4) as form:
            user, text, file = form.get("user"), form.get("text", ""), form.get("file")
            if not isinstance(user, str) or re.fullmatch(SLACK_ID, user) is None:
                raise HTTPException(status_code=422, detail="user: a Slack member id is required")
            if not isinstance(text, str) or len(text) > MAX_TEXT or "\x00" in text:
                raise HTTPException(status_code=422, detail=f"text: up to {MAX_TEXT:,} characters, no NUL")
            if not isinstance(file, UploadFile):
                raise HTTPException(status_code=422, detail="file: a file is required")
            await run_in_threadpool(known_user, rt, user, signed_in)
            data = await file.read()  # at most BodyLimit's allowance for this path: twice the file limit
            name = file.filename or "upload"
        return await run_in_threadpool(received, rt, user=user, text=text, name=name, data=data)

    def received(rt: Runtime, *, user: str, text: str, name: str, data: bytes) -> dict[str, Any]:
        limit = rt.settings.max_upload_bytes
        try:
            # Every kind some skill reads; the skill that takes the file may read fewer (integrations.files.fetch_file).
            stored = store_bytes(data, name=name, dest_dir=rt.settings.uploads_dir, max_bytes=limit, allowed=ALL_KINDS)
        except UploadRejected as exc:
            raise HTTPException(
                status_code=413 if len(data) > limit else 415, detail=f"{exc} Nothing was saved."
            ) from exc
        message = Message(
            user_id=user, text=clean_text(text), channel=f"web:{user}", platform="web", files=(web_file_ref(stored),)
        )
        return reply_json(rt.assistant.handle(message))

    @app.get("/api/feed", responses=UNKNOWN_USER | UNAUTHORIZED | NOT_YOU)
    def feed(
        user: Annotated[str, Query(pattern=SLACK_ID)],
        request: Request,
        rt: RuntimeDep,
        credentials: Credentials,
        after: After = 0,
        ids: Ids = None,
    ) -> Feed:
        """The person's own conversation with the assistant (never their team's queues: GET /api/queue/{team})."""
        as_user(request, rt, credentials, user)
        return read_feed(rt, [f"web:{user}"], after=after, ids=ids)

    @app.get("/api/queue/{team}", responses=UNKNOWN_USER | UNAUTHORIZED | NOT_STAFF)
    def team_queue(
        team: Annotated[Team, PathParam()],
        user: Annotated[str, Query(pattern=SLACK_ID)],
        request: Request,
        rt: RuntimeDep,
        credentials: Credentials,
        after: After = 0,
        ids: Ids = None,
    ) -> Feed:
        """A team's queue (its channel's cards: escalations, IT triage, finance approvals), for its members."""
        employee = as_user(request, rt, credentials, user)
        if not employee.has_role(team):
            raise HTTPException(
                status_code=403, detail=f"The {TEAM_NAMES[team]} queue is for the {TEAM_NAMES[team]} team."
            )
        return read_feed(rt, team_channels(rt, team), after=after, ids=ids)
