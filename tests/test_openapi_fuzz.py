"""Schemathesis against the REST API's own OpenAPI, over real HTTP (uvicorn on localhost, SQLite and PostgreSQL):
every operation, without credentials and again with a valid API token, answers without a 5xx, with a status code
and content type it documents, and with a body that matches the documented schema.

Schemathesis runs as its CLI would (its engine: examples, coverage and fuzzing phases, valid and invalid data); its
pytest integration cannot name subtests under pytest 9. Half the generated web chat requests speak as a real employee,
so the assistant behind POST /api/chat and /api/action is fuzzed too, not only the 404 for an unknown user.
/slack/events is included: unsigned, it must be a 401."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, get_args

import httpx
import psycopg
import pytest
import schemathesis
from itsdangerous import URLSafeTimedSerializer
from schemathesis.engine import Status, events
from schemathesis.schemas import BaseSchema
from sqlalchemy import select

from bot.console.auth import COOKIE
from bot.models import Employee
from bot.runtime import bootstrap_samples, build_runtime
from bot.tokens import create_token
from bot.web_app import SLACK_ID, ExpenseStatus, TicketCategory, TicketPriority, TicketStatus
from skills.expenses.service import LABELS as EXPENSE_STATUSES
from skills.it.classify import CATEGORIES, PRIORITIES
from skills.it.service import STATUSES
from tests.conftest import PG_ADMIN_URL, LiveServer, _pg_available, make_settings
from tests.slack_standin import SlackStandIn

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
EMPLOYEE = "U0000DEVONE"
ADMIN = "U0000ADMIN1"  # sees every ticket and claim
# Examples per operation in the fuzzing phase; the examples and coverage phases add theirs (~300 requests in all).
# Each run below takes 5-15 s on a quiet 2-core machine.
MAX_EXAMPLES = 20


@dataclass(frozen=True)
class Api:
    url: str
    tokens: dict[str, str]  # by Slack id: an admin and an employee (who sees their own rows only)
    secret_key: str  # signs console sessions, which the web chat page needs


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The whole system (like conftest's `runtime`) served by uvicorn, once per database for this module: building
    a runtime takes ~9 s, and every test here only reads or adds rows."""
    tmp = tmp_path_factory.mktemp(request.param)
    database = f"bo_fuzz_{uuid.uuid4().hex[:12]}"
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'fuzz.db'}"
    else:
        if not _pg_available():
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}; start it (see .ci/run)")
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        url = f"postgresql+psycopg://{PG_ADMIN_URL.rsplit('/', 1)[0].split('://', 1)[1]}/{database}"
    slack = SlackStandIn(users={}).start()
    # As deployed with Slack (no development mode): the web chat's API needs a token too.
    runtime = build_runtime(make_settings(tmp, url, slack, dev_mode=None))
    try:
        bootstrap_samples(runtime)
        with runtime.database.session_scope() as session:
            people = {e.slack_id: e for e in session.scalars(select(Employee))}
            tokens = {who: create_token(session, employee=people[who], name="fuzz") for who in (ADMIN, EMPLOYEE)}
        with LiveServer(runtime) as live:
            yield Api(live.url, tokens, runtime.settings.secret_key)
    finally:
        runtime.close()
        slack.stop()
        if request.param == "postgresql":
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _schema(api: Api, *, token: str | None = None, coverage: bool = True) -> BaseSchema:
    checks: dict[str, Any] = {"enabled": False, **{name: {"enabled": True} for name in CHECKS}}
    if token is not None:
        checks["ignored_auth"] = {"enabled": True}  # the same request without the token (or a wrong one): 401
    config = schemathesis.Config.from_dict(
        {
            # "all": valid requests and invalid ones (wrong types, missing fields, NUL bytes, odd Unicode).
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
            # The assistant answers in ~0.1-0.5 s, so the chat and its buttons get fewer examples.
            "operations": [
                {"include-path-regex": "^/api/(chat|action)$", "generation": {"max-examples": MAX_EXAMPLES // 3}}
            ],
            "phases": {"stateful": {"enabled": False}, "coverage": {"enabled": coverage}},
            # A busy machine makes generation look slow; that says nothing about the API.
            "suppress-health-check": ["too_slow", "data_too_large"],
            "checks": checks,
            "headers": {"Authorization": f"Bearer {token}"} if token is not None else {},
            "request-timeout": 30,  # a hang is a failure too
            "continue-on-failure": True,
        }
    )
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json", config=config)

    @schema.hook("map_body")
    def as_an_employee(context: Any, body: Any) -> Any:
        # Half the web chat bodies with a well-formed user speak as a real one (chosen by the text, so a failing
        # case replays the same way).
        path = context.operation.path if context.operation is not None else ""
        if path in ("/api/chat", "/api/action") and isinstance(body, dict) and isinstance(body.get("user"), str):
            if re.fullmatch(SLACK_ID, body["user"]) and zlib.crc32(repr(body).encode()) % 2:
                return {**body, "user": EMPLOYEE}
        return body

    return schema


def _failures(schema: BaseSchema) -> tuple[list[str], int]:
    """Run schemathesis like its CLI; every failed check, error or crash as one line, and the responses checked."""
    found: list[str] = []
    checked = 0
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            checked += sum(1 for _ in event.recorder.interactions)
            for case_id, nodes in event.recorder.checks.items():
                for node in nodes:
                    if node.status != Status.SUCCESS and node.failure_info is not None:
                        failure = node.failure_info.failure
                        found.append(f"{failure.operation} {failure.title}: {failure.message}\n"
                                     f"{node.failure_info.code_sample}")  # fmt: skip
                    elif node.status == Status.ERROR:
                        found.append(f"{event.recorder.label} check {node.name} errored on case {case_id}")
        elif isinstance(event, events.NonFatalError):
            found.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            found.append(f"schemathesis stopped: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            found.extend(f"{failure.operation} {failure.title}: {failure.message}" for failure in event.failures)
    return list(dict.fromkeys(found)), checked


@pytest.mark.slow
def test_every_operation_answers_as_documented_without_server_errors(api: Api) -> None:
    failures, checked = _failures(_schema(api))

    assert not failures, "\n\n".join(failures)
    assert checked > 300  # every operation was reached, most more than once


@pytest.mark.slow
@pytest.mark.parametrize("who", [ADMIN, EMPLOYEE])
def test_the_token_operations_with_a_valid_token(api: Api, who: str) -> None:
    # The admin's run has the coverage phase's boundary values too; the employee's (whose rows are filtered by a
    # subquery) only fuzzes, which keeps the file near a minute.
    # The web chat's operations too: as the employee, half the bodies speak as them (the hook in _schema); as the
    # admin, every body names someone else, which is refused.
    schema = _schema(api, token=api.tokens[who], coverage=who == ADMIN).include(path_regex=r"^/api/")
    failures, checked = _failures(schema)

    assert not failures, "\n\n".join(failures)
    assert checked >= 2 * MAX_EXAMPLES


# ---------------------------------------------------------------------------------------------- found by fuzzing


ODD_INPUT: list[tuple[str, str, dict[str, Any], int]] = [
    # A NUL in a Slack id: PostgreSQL refuses it in a query (DataError → 500); now the id's shape is checked.
    ("GET", "/api/feed", {"params": {"user": "U\x00"}}, 422),
    ("GET", "/calendar/U%00.ics", {"params": {"token": "x"}}, 422),
    ("POST", "/api/chat", {"json": {"user": "U\x00", "text": "hi"}}, 422),
    ("POST", "/api/action", {"json": {"user": "U\x00", "action_id": "policy:answer"}}, 422),
    ("POST", "/api/chat", {"json": {"user": EMPLOYEE, "text": "hi\x00there"}}, 422),
    ("GET", "/api/tickets", {"params": {"assignee": "U\x00"}}, 422),
    # A non-ASCII calendar token: hmac.compare_digest raised TypeError on str (→ 500); bytes are compared now.
    ("GET", "/calendar/U0000ENGMGR.ics", {"params": {"token": "é" * 32}}, 403),
    # A body that is not UTF-8 JSON: FastAPI's 400, now documented.
    ("POST", "/api/chat", {"content": b"\xff\xfe{", "headers": {"Content-Type": "application/json"}}, 400),
    # The status filters are enums in the OpenAPI; a wrong one is FastAPI's documented 422.
    ("GET", "/api/tickets", {"params": {"status": "lost"}}, 422),
    ("GET", "/api/expenses", {"params": {"status": "lost"}}, 422),
]


def test_odd_input_found_by_fuzzing_is_a_client_error(api: Api, http: httpx.Client) -> None:
    answered = []
    for method, path, kwargs, _ in ODD_INPUT:
        headers = {"Authorization": f"Bearer {api.tokens['U0000ADMIN1']}", **kwargs.get("headers", {})}
        options = {key: value for key, value in kwargs.items() if key != "headers"}
        answered.append(http.request(method, f"{api.url}{path}", headers=headers, **options).status_code)

    assert answered == [status for *_, status in ODD_INPUT]


def test_documented_enums_are_the_stored_values() -> None:
    assert get_args(TicketStatus) == STATUSES
    assert get_args(TicketPriority) == PRIORITIES
    assert get_args(TicketCategory) == CATEGORIES
    assert get_args(ExpenseStatus) == tuple(EXPENSE_STATUSES)


# ---------------------------------------------------------------------------------------------- security headers


def test_every_response_carries_security_headers(api: Api, http: httpx.Client) -> None:
    base = api.url
    for response in (
        http.get(f"{base}/"),
        http.get(f"{base}/healthz"),
        http.get(f"{base}/api/employees"),
        http.get(f"{base}/api/tickets"),  # 401
        http.get(f"{base}/api/feed", params={"user": "UNOBODY"}),  # 404
        http.post(f"{base}/api/chat", json={}),  # 422
        http.get(f"{base}/no/such/page"),  # 404 from the router
        http.get(f"{base}/openapi.json"),
        http.get(f"{base}/docs"),
    ):
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff", response.url
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "no-referrer"
        policy = _policy(headers["Content-Security-Policy"])
        assert policy["frame-ancestors"] == ["'none'"] and policy["base-uri"] == ["'none'"]
        assert "'unsafe-inline'" not in policy.get("script-src", []) and "'unsafe-eval'" not in str(policy)
        if response.headers.get("content-type", "").startswith("application/json"):
            assert policy["default-src"] == ["'none'"] and set(policy) <= {"default-src", "base-uri", "form-action",
                                                                            "frame-ancestors"}  # fmt: skip


def test_the_web_chat_page_runs_under_its_policy(api: Api, http: httpx.Client) -> None:
    """The page's inline script and style are allowed by hash, and nothing else: a browser would run exactly them."""
    signed_in = URLSafeTimedSerializer(api.secret_key, salt="backoffice-console").dumps({"csrf": "x", "u": EMPLOYEE})
    page = http.get(f"{api.url}/", cookies={COOKIE: signed_in})
    assert page.status_code == 200
    policy = _policy(page.headers["Content-Security-Policy"])
    blocks = re.findall(r"<(script|style)>(.*?)</\1>", page.text, re.DOTALL)

    assert {tag for tag, _ in blocks} == {"script", "style"}
    for tag, body in blocks:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert policy[f"{tag}-src"] == [f"'sha256-{digest}'"]
    assert "<script src" not in page.text and " style=" not in page.text and " on" + "click=" not in page.text
    assert policy["connect-src"] == ["'self'"]  # fetch() to /api/* only
    assert policy["default-src"] == ["'none'"]


def _policy(header: str) -> dict[str, list[str]]:
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}
