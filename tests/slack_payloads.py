"""Builders for Slack's real request shapes (Events API, interactivity, slash commands), signed like
Slack signs them, for tests that post to our HTTP endpoint."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from tests.conftest import SIGNING_SECRET

_counter = [0]


def next_ts() -> str:
    _counter[0] += 1
    return f"{1_700_000_000 + _counter[0]}.{_counter[0]:06d}"


def event_callback(event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    _counter[0] += 1
    return {
        "token": "legacy-verification-token",
        "team_id": "T0001",
        "api_app_id": "A0001",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{_counter[0]:08d}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": "T0001", "user_id": "UBOTUSER01", "is_bot": True}],
    }


def app_mention(user: str, text: str, channel: str = "C0GENERAL1", thread_ts: str | None = None) -> dict[str, Any]:
    ts = next_ts()
    event = {
        "type": "app_mention",
        "user": user,
        "text": f"<@UBOTUSER01> {text}",
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event_callback(event)


def message_event(
    user: str, text: str, channel: str, channel_type: str, thread_ts: str | None = None, **extra: Any
) -> dict[str, Any]:
    ts = next_ts()
    event = {
        "type": "message",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "channel_type": channel_type,
        "event_ts": ts,
        **extra,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event_callback(event)


def block_actions(
    user: str, action_id: str, value: str, channel: str, message_ts: str, thread_ts: str | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "message", "ts": message_ts, "text": "card", "user": "UBOTUSER01"}
    if thread_ts:
        message["thread_ts"] = thread_ts
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
        "trigger_id": "1337.42.trigger",
        "team": {"id": "T0001", "domain": "larkspur"},
        "channel": {"id": channel, "name": "channel"},
        "message": message,
        "response_url": "https://hooks.slack.invalid/actions/T0001/1/x",
        "actions": [
            {"action_id": action_id, "block_id": "b1", "value": value, "type": "button", "action_ts": next_ts()}
        ],
    }


def view_submission(user: str, callback_id: str, private_metadata: str, values: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": "T0001", "domain": "larkspur"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "legacy-verification-token",
        "trigger_id": "1337.43.trigger",
        "view": {
            "id": "V0001",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "state": {"values": {name: {name: {"type": "plain_text_input", "value": v}} for name, v in values.items()}},
        },
    }


def signed_headers(body: str, *, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    assert signature is not None  # None only when the timestamp or the body is
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}


def post_event(
    http: httpx.Client, base: str, payload: dict[str, Any], *, retry: int | None = None, **sign: Any
) -> httpx.Response:
    body = json.dumps(payload)
    headers = {"Content-Type": "application/json", **signed_headers(body, **sign)}
    if retry:
        headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
    return http.post(f"{base}/slack/events", content=body, headers=headers)


def post_interaction(http: httpx.Client, base: str, payload: dict[str, Any], **sign: Any) -> httpx.Response:
    body = urlencode({"payload": json.dumps(payload)})
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed_headers(body, **sign)}
    return http.post(f"{base}/slack/events", content=body, headers=headers)
