"""Slack's edge cases over the real HTTP endpoint (issue 17, points 3, 7 and 8): clicks with no channel, edited
messages, slash commands, @mentions in DMs, thread broadcasts, other bots, stale buttons, the manifest, a long App
Home, other workspaces, and the README's production configuration; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import yaml
from sqlalchemy import func, select

from bot.models import ChatMessage, Employee, LeaveRequest, ProcessedEvent
from bot.runtime import Runtime, bootstrap_samples, build_runtime
from bot.settings import Settings
from integrations.slack import render_home
from skills.leave.home import HomeSection
from tests.block_kit import view_errors
from tests.chat import button, click, month_day, say, working_days_ahead
from tests.conftest import REPO, SIGNING_SECRET, LiveServer
from tests.slack_payloads import (
    app_mention,
    block_actions,
    event_callback,
    message_event,
    next_ts,
    post_event,
    post_interaction,
    signed_headers,
    view_submission,
)
from tests.slack_standin import SlackStandIn

OUTSIDER = "U0OUTSIDER1"  # a member of another workspace, in no directory
OTHER_TEAM = "T0OTHERORG"
SETTLE_SECONDS = 1.0  # listeners run after the ack: long enough for one that should not have answered to do so


def count(runtime: Runtime, model: type, *where: Any) -> int:
    with runtime.database.session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def home_click(user: str, action_id: str, value: str) -> dict[str, Any]:
    """A button pressed in the App Home, as Slack sends it: a view container, no channel, no message."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "legacy-verification-token",
        "container": {"type": "view", "view_id": "VHOME1"},
        "trigger_id": "1337.44.trigger",
        "team": {"id": "T0001", "domain": "larkspur"},
        "is_enterprise_install": False,
        "view": {"id": "VHOME1", "type": "home", "blocks": [], "private_metadata": "", "callback_id": ""},
        "actions": [
            {"action_id": action_id, "block_id": "b1", "value": value, "type": "button", "action_ts": next_ts()}
        ],
    }


def message_changed(user: str, channel: str, original: dict[str, Any], new_text: str) -> dict[str, Any]:
    """Slack's event for `user` editing the message of event `original` to `new_text`."""
    before = original["event"]
    edited = {
        "type": "message",
        "user": user,
        "text": new_text,
        "ts": before["ts"],
        "team": "T0001",
        "edited": {"user": user, "ts": next_ts()},
    }
    if before.get("thread_ts"):
        edited["thread_ts"] = before["thread_ts"]
    ts = next_ts()
    return event_callback(
        {
            "type": "message",
            "subtype": "message_changed",
            "hidden": True,
            "channel": channel,
            "channel_type": before.get("channel_type", "im"),
            "ts": ts,
            "event_ts": ts,
            "message": edited,
            "previous_message": {"type": "message", "user": user, "text": before["text"], "ts": before["ts"]},
        }
    )


def slash_command(
    http: httpx.Client, server: LiveServer, slack: SlackStandIn, text: str, *, channel: str, team: str = "T0001"
) -> str:
    """Type `/backoffice text` as Sofia in `channel`; returns the stand-in method its response_url maps to."""
    respond = f"respond/{team}/{time.monotonic_ns()}/x"
    body = urlencode(
        {
            "token": "legacy",
            "team_id": team,
            "team_domain": "larkspur",
            "channel_id": channel,
            "user_id": "U0000DEVONE" if team == "T0001" else OUTSIDER,
            "command": "/backoffice",
            "text": text,
            "api_app_id": "A0001",
            "response_url": f"{slack.base_url}{respond}",
            "trigger_id": "1.2.3",
        }
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed_headers(body)}
    assert http.post(f"{server.url}/slack/events", content=body, headers=headers).status_code == 200
    return respond


def posted_texts(slack: SlackStandIn) -> list[str]:
    return [str(c.params.get("text")) for c in slack.calls_to("chat.postMessage")]


# ------------------------------------------------------------------ point 3: replies go where they should, once


def test_app_home_click_is_answered_in_the_persons_dm(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    start, end = working_days_ahead(2)
    draft = say(runtime, "U0000DEVTWO", f"vacation {month_day(start)} to {month_day(end)}")
    click(runtime, "U0000DEVTWO", "leave:confirm", button(draft, "leave:confirm"))
    with runtime.database.session_scope() as session:
        request = session.scalars(select(LeaveRequest).where(LeaveRequest.status == "pending")).one()
        request_id = request.id
    assert post_interaction(http, server.url, home_click("U0000DEVTWO", "leave:withdraw", str(request_id))).status_code
    answer = slack.wait_for_post(lambda c: "Withdrawn request" in str(c.params.get("text")))
    # Not channel="" (Slack answers channel_not_found, and the outbox would retry it forever): the person's DM.
    assert answer.params["channel"] == "D0000DEVTWO", answer.params
    with runtime.database.session_scope() as session:
        assert session.get_one(LeaveRequest, request_id).status == "withdrawn"


def test_edit_of_a_message_a_draft_waits_on_is_answered(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    start, end = working_days_ahead(2)
    asked = message_event("U0000DEVTWO", f"vacation {month_day(start)} to {month_day(end)}", "D0JAMAL001", "im")
    post_event(http, server.url, asked)
    card = slack.wait_for("chat.postMessage")[0]
    assert "Please check your request" in card.params["text"]
    inbound = count(runtime, ChatMessage, ChatMessage.direction == "in")

    unfurled = message_changed("U0000DEVTWO", "D0JAMAL001", asked, asked["event"]["text"])  # a link preview added
    deleted = event_callback(
        {"type": "message", "subtype": "message_deleted", "hidden": True, "channel": "D0JAMAL001",
         "channel_type": "im", "ts": next_ts(), "deleted_ts": asked["event"]["ts"],
         "previous_message": {"type": "message", "user": "U0000DEVTWO", "text": "x", "ts": asked["event"]["ts"]}}
    )  # fmt: skip
    for ignored in (unfurled, deleted):
        assert post_event(http, server.url, ignored).status_code == 200
    time.sleep(SETTLE_SECONDS)
    assert slack.calls_to("chat.postEphemeral") == []

    edit = message_changed("U0000DEVTWO", "D0JAMAL001", asked, f"sick leave {month_day(start)} to {month_day(end)}")
    assert post_event(http, server.url, edit).status_code == 200
    note = slack.wait_for("chat.postEphemeral")[0]
    assert note.params["user"] == "U0000DEVTWO" and note.params["channel"] == "D0JAMAL001"
    assert note.params["thread_ts"] == asked["event"]["ts"]
    assert "edited" in note.params["text"] and "reply" in note.params["text"].lower()
    time.sleep(SETTLE_SECONDS)
    assert len(slack.calls_to("chat.postMessage")) == 1  # no second draft
    assert count(runtime, ChatMessage, ChatMessage.direction == "in") == inbound
    with runtime.database.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(LeaveRequest)) == 1


def test_slash_command_is_answered_once_privately(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    respond = slash_command(http, server, slack, "what is the hotel limit per night?", channel="C0GENERAL1")
    pointer = slack.wait_for(respond)[0]
    answer = slack.wait_for_post(lambda c: "200" in str(c.params.get("text")))
    time.sleep(SETTLE_SECONDS)
    assert answer.params["channel"] == "D0000DEVONE"  # the DM with the bot, not #general
    assert slack.posts_in("C0GENERAL1") == []
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert len(slack.calls_to(respond)) == 1 and pointer.params["response_type"] == "ephemeral"
    assert "200" not in pointer.params["text"] and "direct message" in pointer.params["text"]


def test_mention_in_a_dm_is_answered_once(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    mention = app_mention("U0000DEVONE", "how long is parental leave?", channel="D0DIRECT01")
    as_dm = message_event("U0000DEVONE", mention["event"]["text"], "D0DIRECT01", "im")
    as_dm["event"]["ts"] = as_dm["event"]["event_ts"] = mention["event"]["ts"]  # one message, two events
    for payload in (mention, as_dm):
        assert post_event(http, server.url, payload).status_code == 200
    slack.wait_for("chat.postMessage")
    time.sleep(SETTLE_SECONDS)
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_thread_broadcast_reply_is_answered_as_a_thread_reply(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    mention = app_mention("U0000DEVTWO", "what is the mileage rate?", channel="C0GENERAL1")
    post_event(http, server.url, mention)
    slack.wait_for("chat.postMessage")
    broadcast = message_event(
        "U0000DEVTWO",
        "and how long do I have to submit the claim?",
        "C0GENERAL1",
        "channel",
        thread_ts=mention["event"]["ts"],
        subtype="thread_broadcast",
    )
    post_event(http, server.url, broadcast)
    second = slack.wait_for("chat.postMessage", 2)[1]
    assert second.params["thread_ts"] == mention["event"]["ts"] and "30" in second.params["text"]


def test_mention_by_another_bot_is_not_answered(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    from_bot = app_mention("U0OTHERBOT1", "how many vacation days do I get?")
    from_bot["event"].update(bot_id="B0OTHERBOT", bot_profile={"id": "B0OTHERBOT", "name": "standup-bot"})
    assert post_event(http, server.url, from_bot).status_code == 200
    time.sleep(SETTLE_SECONDS)
    assert slack.calls_to("chat.postMessage") == []
    assert count(runtime, Employee, Employee.slack_id == "U0OTHERBOT1") == 0
    assert count(runtime, ChatMessage) == 0


def test_unknown_button_is_answered_only_to_the_presser(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    stale = block_actions("U0000DEVONE", "retired_skill:approve", "7", "C0GENERAL1", "1600000000.000100")
    assert post_interaction(http, server.url, stale).status_code == 200
    note = slack.wait_for("chat.postEphemeral")[0]
    assert note.params["user"] == "U0000DEVONE" and "recognise" in note.params["text"]
    time.sleep(SETTLE_SECONDS)
    assert slack.calls_to("chat.postMessage") == []


def test_manifest_shows_the_app_home_and_subscribes_to_what_the_edge_handles() -> None:
    manifest = yaml.safe_load((REPO / "slack" / "manifest.yml").read_text(encoding="utf-8"))
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    events = manifest["settings"]["event_subscriptions"]
    assert set(events["bot_events"]) == {
        "app_home_opened",
        "app_mention",
        "message.im",
        "message.channels",
        "message.groups",
    }
    urls = {events["request_url"], manifest["settings"]["interactivity"]["request_url"]}
    urls |= {command["url"] for command in manifest["features"]["slash_commands"]}
    assert urls == {"https://backoffice.example.com/slack/events"}


def test_app_home_lists_every_pending_approval_whole(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    start, end = working_days_ahead(1)
    with runtime.database.session_scope() as session:
        daniel = session.scalars(select(Employee).where(Employee.slack_id == "U0000ENGMGR")).one()
        reports = session.scalars(select(Employee).where(Employee.manager_id == daniel.id)).all()
        for n in range(121):
            session.add(
                LeaveRequest(
                    employee_id=reports[n % len(reports)].id,
                    leave_type="vacation",
                    start_date=start,
                    end_date=end,
                    days=1,
                    status="pending",
                    approver_id=daniel.id,
                    channel="D0000ENGMGR",
                    reason=f"trip number {n}",
                )
            )
    opened = event_callback(
        {"type": "app_home_opened", "user": "U0000ENGMGR", "channel": "D0000ENGMGR", "tab": "home", "event_ts": "1.2"}
    )
    assert post_event(http, server.url, opened).status_code == 200
    view = slack.wait_for("views.publish")[0].params["view"]
    assert view_errors(view) == []
    lines = [
        line
        for block in view["blocks"]
        if block["type"] == "section"
        for line in block["text"]["text"].split("\n")
        if re.match(r"• #\d+ ", line)
    ]
    with runtime.database.session_scope() as session:
        pending = set(session.scalars(select(LeaveRequest.id).where(LeaveRequest.status == "pending")))
    approvals = [line for line in lines if re.fullmatch(r"• #\d+ [^:]+: .+ \(1 days?\)", line)]
    assert {int(line.split()[1][1:]) for line in approvals} == pending  # all 121, none cut mid-line


def test_app_home_too_long_for_block_kit_ends_with_and_n_more() -> None:
    lines = [f"#{n} Someone With A Fairly Long Name: Mon 14 Dec 2026 – Fri 18 Dec 2026 (5 days)" for n in range(9000)]
    sections = [
        HomeSection("Your leave balances", ["Vacation: *20* days"]),
        HomeSection("Your upcoming and pending leave", lines[:20], hidden=7, more_url="https://bo.example/console"),
        HomeSection("Waiting for your approval", lines, more_url="https://bo.example/console/team"),
        HomeSection("Team calendar", ["Subscribe in your calendar app: https://bo.example/calendar/U1.ics"]),
    ]
    blocks = render_home(sections)
    assert view_errors({"type": "home", "blocks": blocks}) == []
    headers = [b["text"]["text"] for b in blocks if b["type"] == "header"]
    assert headers == [s.title for s in sections]  # the last section still has its place
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    shown = [line for text in texts for line in text.split("\n") if line.startswith("• #")]
    assert all(line.removeprefix("• ") in lines for line in shown)  # whole items only
    assert "…and 7 more — see <https://bo.example/console|the console>" in "\n".join(texts)
    approvals = len([line for line in shown if line.removeprefix("• ") in lines]) - 20
    more = f"…and {9000 - approvals} more — see <https://bo.example/console/team|the console>"
    assert more in "\n".join(texts)


# ------------------------------------------------------------------ point 7: one workspace


def test_requests_from_another_workspace_are_acked_and_ignored(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    dm = message_event(OUTSIDER, "how many vacation days do I get?", "D0OUTSIDE1", "im")
    dm["team_id"] = OTHER_TEAM
    # Slack Connect: a shared channel of ours, the person from another organisation.
    shared = app_mention(OUTSIDER, "how many vacation days do I get?", channel="C0SHARED01")
    shared["event"].update(user_team=OTHER_TEAM, source_team=OTHER_TEAM)
    home = event_callback({"type": "app_home_opened", "user": OUTSIDER, "tab": "home", "event_ts": "1.3"})
    home["team_id"] = OTHER_TEAM
    for payload in (dm, shared, home):
        assert post_event(http, server.url, payload).status_code == 200
    pressed = block_actions(OUTSIDER, "leave:open_form", "", "C0SHARED01", "1600000000.000200")
    pressed["team"]["id"] = pressed["user"]["team_id"] = OTHER_TEAM
    submitted = view_submission(OUTSIDER, "leave:form", "", {"start": "2030-01-07", "end": "2030-01-08"})
    submitted["user"]["team_id"] = OTHER_TEAM
    for payload in (pressed, submitted):
        assert post_interaction(http, server.url, payload).status_code == 200
    respond = slash_command(
        http, server, slack, "how many vacation days do I get?", channel="C0SHARED01", team=OTHER_TEAM
    )
    time.sleep(SETTLE_SECONDS * 2)
    assert count(runtime, Employee, Employee.slack_id == OUTSIDER) == 0
    assert count(runtime, ProcessedEvent) == 0 and count(runtime, ChatMessage) == 0
    for method in ("chat.postMessage", "chat.postEphemeral", "views.open", "views.publish", respond):
        assert slack.calls_to(method) == [], method


def test_the_pinned_workspace_comes_from_slack_team_id(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    runtime.settings.slack_team_id = "T0PINNED01"  # the bot token's own workspace (auth.test) is T0001
    ours_by_token = message_event("U0000DEVONE", "how long is parental leave?", "D0DIRECT01", "im")
    assert post_event(http, server.url, ours_by_token).status_code == 200
    time.sleep(SETTLE_SECONDS)
    assert slack.calls_to("chat.postMessage") == []
    pinned = message_event("U0000DEVONE", "how long is parental leave?", "D0DIRECT01", "im")
    pinned["team_id"] = "T0PINNED01"
    post_event(http, server.url, pinned)
    assert "16" in slack.wait_for("chat.postMessage")[0].params["text"]


# ------------------------------------------------------------------ point 8: the README's production configuration


def test_readme_production_configuration_answers_a_dm(
    tmp_path: Path, database_url: str, slack: SlackStandIn, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Everything README.md's configuration table and "Installing the Slack app" list for a Slack deployment with
    # the console's "Sign in with Slack", set in the process environment as ops would (bolt reads it too).
    environment = {
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_CLIENT_ID": slack.oidc_client_id,
        "SLACK_CLIENT_SECRET": slack.oidc_client_secret,
        "SLACK_TEAM_ID": "T0001",
        "SLACK_API_URL": slack.base_url,
        "BACKOFFICE_ENV": "production",
        "BACKOFFICE_SECRET_KEY": "a-long-random-production-secret-0123456789",
        "BACKOFFICE_PUBLIC_URL": "https://backoffice.example.com",
        "BACKOFFICE_HR_CHANNEL": "C0HRQUEUE1",
        "BACKOFFICE_DATABASE_URL": database_url,
        "BACKOFFICE_DATA_DIR": str(tmp_path / "var"),
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    runtime = build_runtime(Settings(_env_file=None))
    try:
        bootstrap_samples(runtime)
        with LiveServer(runtime) as server:
            dm = message_event("U0000DEVONE", "how many vacation days do I get?", "D0DIRECT01", "im")
            assert post_event(http, server.url, dm).status_code == 200
            answer = slack.wait_for("chat.postMessage")[0]
            assert answer.params["channel"] == "D0DIRECT01" and "25" in answer.params["text"]
            assert json.dumps(answer.params["blocks"]).count("feedback:up") == 1
    finally:
        runtime.close()
