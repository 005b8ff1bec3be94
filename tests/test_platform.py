"""Platform contracts: settings names, migrations on both databases, the slash command, a DB outage."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from alembic import command
from alembic.util.exc import CommandError
from sqlalchemy import create_engine, inspect

from bot.assistant import DB_DOWN
from bot.db import Database
from bot.messages import Message
from bot.migrate import alembic_config, downgrade, upgrade
from bot.runtime import Runtime
from bot.settings import Settings
from tests.conftest import LiveServer
from tests.slack_payloads import signed_headers
from tests.slack_standin import SlackStandIn


def test_settings_read_the_contract_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    values = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s3cret",
        "SLACK_APP_TOKEN": "xapp-1",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "BACKOFFICE_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1/x",
        "BACKOFFICE_DATA_DIR": str(tmp_path),
        "BACKOFFICE_HR_CHANNEL": "C0HR",
        "BACKOFFICE_IT_CHANNEL": "C0IT",
        "BACKOFFICE_LLM": "openai:gpt-4o-mini",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    assert (settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token) == (
        "xoxb-1",
        "s3cret",
        "xapp-1",
    )
    assert settings.slack_api_url == "http://127.0.0.1:9/api/" and settings.slack_enabled
    assert settings.resolved_database_url == values["BACKOFFICE_DATABASE_URL"]
    assert (settings.hr_channel, settings.it_channel, settings.llm) == ("C0HR", "C0IT", "openai:gpt-4o-mini")
    assert settings.chroma_dir == tmp_path / "chroma"


def test_settings_defaults_are_offline_and_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "BACKOFFICE_DATABASE_URL",
        "BACKOFFICE_DATA_DIR",
        "BACKOFFICE_LLM",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert not settings.slack_enabled and settings.llm is None
    assert settings.resolved_database_url.startswith("sqlite:///") and settings.resolved_database_url.endswith(
        "var/backoffice.db"
    )
    with pytest.raises(ValueError, match="SLACK_SIGNING_SECRET"):
        Settings(_env_file=None, BACKOFFICE_ENV="production", SLACK_BOT_TOKEN="xoxb-1")


def test_migrations_match_the_models_and_go_both_ways(database_url: str) -> None:
    upgrade(database_url)
    command.check(alembic_config(database_url))  # raises if models and migrations differ
    tables = set(inspect(create_engine(database_url)).get_table_names())
    assert {
        "employees",
        "processed_events",
        "conversations",
        "messages",
        "escalations",
        "knowledge_documents",
        "feedback",
        "audit_log",
        "outbox",
        "faqs",
    } <= tables
    downgrade(database_url, "base")
    assert set(inspect(create_engine(database_url)).get_table_names()) <= {"alembic_version"}
    upgrade(database_url)


def test_check_detects_drift(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'drift.db'}"
    upgrade(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE employees ADD COLUMN surprise TEXT")
    with pytest.raises(CommandError):
        command.check(alembic_config(url))


def test_slash_command_answers_privately(server: LiveServer, slack: SlackStandIn, http: httpx.Client) -> None:
    form = {
        "token": "legacy",
        "team_id": "T0001",
        "team_domain": "larkspur",
        "channel_id": "C0GENERAL1",
        "channel_name": "general",
        "user_id": "U0000DEVONE",
        "user_name": "sofia",
        "command": "/backoffice",
        "text": "what is the hotel limit per night?",
        "api_app_id": "A0001",
        "response_url": f"{slack.base_url}respond/T0001/123/abc",
        "trigger_id": "1.2.3",
    }
    body = urlencode(form)
    response = http.post(
        f"{server.url}/slack/events",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", **signed_headers(body)},
    )
    assert response.status_code == 200
    # Answered once, in the person's DM with the bot (where its buttons and thread keep working); where the
    # command was typed, only they see a note pointing there. Nothing is posted to the channel.
    sent = slack.wait_for("respond/T0001/123/abc")[0]
    assert sent.params["response_type"] == "ephemeral" and "direct messages" in sent.params["text"]
    answer = slack.wait_for("chat.postMessage")[0]
    assert answer.params["channel"].startswith("D") and "200" in answer.params["text"]
    assert "Business Travel" in json.dumps(answer.params["blocks"])
    assert not [c for c in slack.calls_to("chat.postMessage") if c.params["channel"] == "C0GENERAL1"]


def test_database_outage_gets_a_clear_message(runtime: Runtime) -> None:
    healthy = runtime.assistant.database
    runtime.assistant.database = Database("postgresql+psycopg://postgres@127.0.0.1:1/unreachable?connect_timeout=1")
    try:
        reply = runtime.assistant.handle(
            Message(
                user_id="U0000DEVONE",
                text="how many vacation days do I get?",
                channel="web:U0000DEVONE",
                platform="web",
            )
        )
    finally:
        runtime.assistant.database = healthy
    assert reply.text == DB_DOWN and reply.ephemeral
