"""Attack suite for the Slack endpoint: forged, replayed (older than 5 minutes) and body-tampered requests of
every kind Slack sends (Events API JSON, interactivity and slash-command forms) are all rejected with 401,
leave no stored event, no row and no call to Slack; the genuine request is accepted (so the suite can fail)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select

from bot.models import AuditEntry, ChatMessage, ProcessedEvent
from bot.runtime import Runtime
from tests.conftest import SIGNING_SECRET, LiveServer
from tests.slack_payloads import app_mention, block_actions
from tests.slack_standin import SlackStandIn


def _sign(body: str, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def _bodies() -> dict[str, tuple[str, str]]:
    """One genuine body of each kind Slack posts, with its content type."""
    event = json.dumps(app_mention("U0000DEVONE", "how many vacation days do I get?"))
    action = urlencode(
        {"payload": json.dumps(block_actions("U0000ENGMGR", "leave:approve", "1", "D0000ENGMGR", "1.1"))}
    )
    command = urlencode(
        {
            "command": "/backoffice",
            "text": "leave",
            "user_id": "U0000DEVONE",
            "channel_id": "D0SOFIA001",
            "team_id": "T0001",
            "trigger_id": "1.2.3",
            "response_url": "https://hooks.slack.invalid/commands/1",
        }
    )
    return {
        "event": (event, "application/json"),
        "interaction": (action, "application/x-www-form-urlencoded"),
        "command": (command, "application/x-www-form-urlencoded"),
    }


# Each attack turns (body, now) into (body sent, headers). All must be refused.
Attack = Callable[[str, int], tuple[str, dict[str, str]]]


def _headers(timestamp: str | None, signature: str | None) -> dict[str, str]:
    headers = {}
    if timestamp is not None:
        headers["X-Slack-Request-Timestamp"] = timestamp
    if signature is not None:
        headers["X-Slack-Signature"] = signature
    return headers


def _tamper(body: str) -> str:
    """Change one meaningful character of the body (another user, another decision)."""
    for old, new in (("U0000DEVONE", "U0000ADMIN1"), ("U0000ENGMGR", "U0000ADMIN1")):
        if old in body:
            return body.replace(old, new, 1)
    raise AssertionError("nothing to tamper with")


ATTACKS: dict[str, Attack] = {
    # forged
    "forged: signed with another secret": lambda b, now: (b, _headers(str(now), _sign(b, str(now), "not-the-secret"))),
    "forged: random signature": lambda b, now: (b, _headers(str(now), "v0=" + "ab" * 32)),
    "forged: no signature": lambda b, now: (b, _headers(str(now), None)),
    "forged: no timestamp": lambda b, now: (b, _headers(None, _sign(b, str(now)))),
    "forged: no headers": lambda b, now: (b, {}),
    "forged: empty signature": lambda b, now: (b, _headers(str(now), "")),
    "forged: other version prefix": lambda b, now: (b, _headers(str(now), _sign(b, str(now)).replace("v0=", "v1="))),
    "forged: signature truncated": lambda b, now: (b, _headers(str(now), _sign(b, str(now))[:-2])),
    "forged: signature of an empty body": lambda b, now: (b, _headers(str(now), _sign("", str(now)))),
    "forged: timestamp not a number": lambda b, now: (b, _headers("yesterday", _sign(b, "yesterday"))),
    "forged: signed for another timestamp": lambda b, now: (b, _headers(str(now), _sign(b, str(now - 1)))),
    # replayed: genuine signatures, too old (Slack's window is 5 minutes), or from the future
    "replayed: 5 min 1 s old": lambda b, now: (b, _headers(str(now - 301), _sign(b, str(now - 301)))),
    "replayed: 10 min old": lambda b, now: (b, _headers(str(now - 600), _sign(b, str(now - 600)))),
    "replayed: a day old": lambda b, now: (b, _headers(str(now - 86400), _sign(b, str(now - 86400)))),
    "replayed: timestamp 0": lambda b, now: (b, _headers("0", _sign(b, "0"))),
    "replayed: 10 min in the future": lambda b, now: (b, _headers(str(now + 600), _sign(b, str(now + 600)))),
    # tampered: signed, then changed
    "tampered: another user": lambda b, now: (_tamper(b), _headers(str(now), _sign(b, str(now)))),
    "tampered: a byte appended": lambda b, now: (b + " ", _headers(str(now), _sign(b, str(now)))),
    "tampered: a byte removed": lambda b, now: (b[:-1], _headers(str(now), _sign(b, str(now)))),
    "tampered: body doubled": lambda b, now: (b + b, _headers(str(now), _sign(b, str(now)))),
    "tampered: case changed": lambda b, now: (b.swapcase(), _headers(str(now), _sign(b, str(now)))),
}


def _counts(runtime: Runtime) -> tuple[int, int, int]:
    with runtime.database.session_scope() as session:
        return (
            session.scalar(select(func.count()).select_from(ProcessedEvent)) or 0,
            session.scalar(select(func.count()).select_from(ChatMessage)) or 0,
            session.scalar(select(func.count()).select_from(AuditEntry)) or 0,
        )


def test_every_forged_replayed_and_tampered_request_is_rejected(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    before = _counts(runtime)
    now = int(time.time())
    outcomes: dict[str, int] = {}
    for kind, (body, content_type) in _bodies().items():
        for name, attack in ATTACKS.items():
            sent, headers = attack(body, now)
            response = http.post(
                f"{server.url}/slack/events", content=sent, headers={"Content-Type": content_type, **headers}
            )
            outcomes[f"{kind} / {name}"] = response.status_code
    accepted = {case: status for case, status in outcomes.items() if status != 401}
    assert not accepted, f"{len(accepted)} of {len(outcomes)} attacks not rejected with 401: {accepted}"
    assert len(outcomes) == 3 * len(ATTACKS) >= 60
    time.sleep(0.5)  # anything wrongly accepted would be worked on after the ack
    assert _counts(runtime) == before
    assert slack.calls == []


@pytest.mark.parametrize("kind", ["event", "interaction", "command"])
def test_the_genuine_request_of_each_kind_is_accepted(
    kind: str, server: LiveServer, slack: SlackStandIn, http: httpx.Client
) -> None:
    body, content_type = _bodies()[kind]
    now = str(int(time.time()))
    response = http.post(
        f"{server.url}/slack/events",
        content=body,
        headers={"Content-Type": content_type, **_headers(now, _sign(body, now))},
    )
    assert response.status_code == 200
