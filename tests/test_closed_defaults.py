"""Closed defaults (issue 17, point 6), over real HTTP on SQLite and PostgreSQL: with the README's Slack install
(a bot token and signing secret, nothing else) or on any interface but loopback, the web chat, its API and the
console's local sign-in need a signed-in person; development mode (anyone picks who they are) is only the demo's
default (no Slack, 127.0.0.1) or something one turns on, and never in production."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from itsdangerous import URLSafeTimedSerializer
from pydantic import ValidationError

from bot.directory import get_by_slack_id
from bot.runtime import Runtime, bootstrap_samples, build_runtime
from bot.settings import Settings
from bot.tokens import create_token
from tests.conftest import LiveServer, make_settings
from tests.slack_standin import SlackStandIn

AS_ANYONE = {"user": "U0000HRLEAD", "action_id": "leave:approve", "value": "1"}


def booted(settings: Settings) -> Runtime:
    runtime = build_runtime(settings)
    bootstrap_samples(runtime)
    return runtime


@pytest.fixture
def slack_install(tmp_path: Path, database_url: str, slack: SlackStandIn) -> Iterator[Runtime]:
    """The README's Slack install: SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET set, nothing else."""
    runtime = booted(make_settings(tmp_path, database_url, slack, dev_mode=None))
    yield runtime
    runtime.close()


def token_for(runtime: Runtime, slack_id: str) -> str:
    with runtime.database.session_scope() as session:
        person = get_by_slack_id(session, slack_id)
        assert person is not None
        return create_token(session, employee=person, name="web chat test")


def assert_closed(base: str, settings: Settings) -> None:
    with httpx.Client(base_url=base) as client:
        assert client.post("/api/action", json=AS_ANYONE).status_code == 401
        assert client.post("/api/chat", json={"user": "U0000DEVONE", "text": "hi"}).status_code == 401
        assert client.get("/api/feed", params={"user": "U0000HRLEAD"}).status_code == 401
        assert client.get("/api/employees").status_code == 401
        page = client.get("/")
        assert page.status_code == 303 and page.headers["location"] == "/console/login"
        login = client.get("/console/login")
        assert login.status_code == 200 and 'name="slack_id"' not in login.text  # no pick-anyone sign-in
        # Even with this browser's own CSRF token (the page has no form to carry it), posting the local form fails.
        csrf = URLSafeTimedSerializer(settings.secret_key, salt="backoffice-console").loads(
            client.cookies["bo_console"]
        )
        local = client.post("/console/login", data={"csrf": csrf["csrf"], "slack_id": "U0000ADMIN1"})
        assert local.status_code == 404
        assert client.get("/console").status_code == 303  # still signed out


def test_the_readme_slack_install_needs_sign_in_for_the_web_chat(slack_install: Runtime) -> None:
    with LiveServer(slack_install) as server:
        assert_closed(server.url, slack_install.settings)
        # A person with an API token uses the chat as themselves, and only as themselves.
        token = token_for(slack_install, "U0000DEVONE")
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as client:
            own = client.post("/api/chat", json={"user": "U0000DEVONE", "text": "how many vacation days do I get?"})
            assert own.status_code == 200 and own.json()["skill"] == "policy"
            assert client.post("/api/chat", json={"user": "U0000HRLEAD", "text": "hi"}).status_code == 403
            assert client.post("/api/action", json=AS_ANYONE).status_code == 403
            assert client.get("/api/feed", params={"user": "U0000HRLEAD"}).status_code == 403
            feed = client.get("/api/feed", params={"user": "U0000DEVONE"}).json()
            assert {m["channel"] for m in feed["messages"]} == {"web:U0000DEVONE"}
            assert [p["slack_id"] for p in client.get("/api/employees").json()] == ["U0000DEVONE"]


def test_any_other_interface_needs_sign_in_without_slack_too(tmp_path: Path) -> None:
    runtime = booted(make_settings(tmp_path, f"sqlite:///{tmp_path / 'lan.db'}", dev_mode=None))
    try:
        with LiveServer(runtime, host="0.0.0.0") as server:  # noqa: S104 - the point of the test
            assert_closed(server.url, runtime.settings)
    finally:
        runtime.close()


def test_the_demo_is_open_on_loopback_and_dev_mode_is_turned_on_or_off(tmp_path: Path) -> None:
    demo = booted(make_settings(tmp_path, f"sqlite:///{tmp_path / 'demo.db'}", dev_mode=None))
    try:
        with LiveServer(demo) as server, httpx.Client(base_url=server.url) as client:
            assert len(client.get("/api/employees").json()) > 5  # the picker: anyone
            assert 'name="slack_id"' in client.get("/console/login").text
    finally:
        demo.close()
    off = booted(make_settings(tmp_path, f"sqlite:///{tmp_path / 'off.db'}", dev_mode=False))
    try:
        with LiveServer(off) as server:
            assert_closed(server.url, off.settings)
    finally:
        off.close()


def test_dev_mode_is_refused_in_production(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="BACKOFFICE_DEV_MODE"):
        make_settings(
            tmp_path,
            f"sqlite:///{tmp_path / 'prod.db'}",
            BACKOFFICE_ENV="production",
            BACKOFFICE_SECRET_KEY="a-long-random-production-secret",
            dev_mode=True,
        )
