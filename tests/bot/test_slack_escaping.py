"""People's words reposted by the bot can't ping a channel, mention someone or disguise a link (issue 17, point 2):
over real HTTP, a signed Slack event whose text holds <!channel>, <@U…> and <https://evil|payroll…> reaches IT's
triage card, the requester's card and the leave approval card as text."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot.runtime import Runtime, bootstrap_samples, build_runtime
from tests.conftest import LiveServer, make_settings
from tests.slack_payloads import message_event, post_event
from tests.slack_standin import SlackStandIn

NOW = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # a Monday: "dec 14 to dec 15" is three weeks ahead
HOSTILE = "<!channel> <!here> <@U0000DEVTWO> see <https://evil.example/x|payroll.example.com>"


def _all_posted(slack: SlackStandIn) -> str:
    calls = slack.calls_to("chat.postMessage") + slack.calls_to("chat.update")
    return "\n".join(json.dumps(c.params) for c in calls)


@pytest.fixture
def it_runtime(tmp_path: Path, slack: SlackStandIn) -> Iterator[Runtime]:
    """The system with IT's triage channel in Slack."""
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'test.db'}", slack, BACKOFFICE_IT_CHANNEL="C0ITTRIAGE")
    runtime = build_runtime(settings)
    bootstrap_samples(runtime)
    runtime.assistant.clock = lambda: NOW
    yield runtime
    runtime.close()


def test_user_text_in_cards_is_escaped(it_runtime: Runtime, slack: SlackStandIn, http: httpx.Client) -> None:
    with LiveServer(it_runtime) as server:
        _post_hostile(server, slack, http)
    posted = _all_posted(slack)
    for raw in ("<!channel>", "<!here>", "<@U0000DEVTWO>", "<https://evil.example/x|payroll.example.com>"):
        assert raw not in posted
    assert "&lt;!channel&gt;" in posted and "&lt;https://evil.example/x|payroll.example.com&gt;" in posted


def _post_hostile(server: LiveServer, slack: SlackStandIn, http: httpx.Client) -> None:
    post_event(http, server.url, message_event("U0000DEVONE", f"printer is broken {HOSTILE}", "D0DIRECT01", "im"))
    slack.wait_for("chat.postMessage", 2)  # the requester's card and IT's triage card
    post_event(
        http,
        server.url,
        message_event("U0000DEVONE", f"vacation dec 14 to dec 15 for {HOSTILE}", "D0DIRECT01", "im"),
    )
    slack.wait_for("chat.postMessage", 3)
    time.sleep(0.5)
