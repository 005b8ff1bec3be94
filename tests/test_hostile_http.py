"""Hostile HTTP against the real server (issue 17): bodies too large to read, headers and bodies that used to raise
(a 500), and text that poisons a stored event or reposts control characters. Each gets a 4xx or a clean reply,
and the server stays healthy: /healthz is 200 and a normal signed message is still answered."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
from sqlalchemy import select

from bot.models import ChatMessage, ProcessedEvent
from bot.runtime import Runtime
from skills.it.models import Ticket
from tests.conftest import SIGNING_SECRET, LiveServer
from tests.slack_payloads import app_mention, message_event, post_event, post_interaction, view_submission
from tests.slack_standin import SlackStandIn

MB = 1_000_000
CHUNK = b"x" * 65_536
HUGE = 1600 * len(CHUNK)  # 100 MiB
# Bidi embedding, override and isolate controls and the directional marks: they reorder what a reader sees.
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def _status_kb(field: str) -> int:
    """A memory figure of this process (the server runs in one of its threads), in kB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


def _huge_body(head: bytes = b"") -> Iterator[bytes]:
    """`head`, then 100 MiB produced as it is sent: the client holds one 64 KiB chunk at a time."""
    yield head
    for _ in range(HUGE // len(CHUNK)):
        yield CHUNK


def _sign(body: bytes, timestamp: str) -> str:
    base = b"v0:" + timestamp.encode("latin-1") + b":" + body  # the timestamp as the server reads it
    return "v0=" + hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()


def _signed(body: bytes, content_type: str = "application/json") -> dict[str, str]:
    now = str(int(time.time()))
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": now, "X-Slack-Signature": _sign(body, now)}


def _assert_healthy(server: LiveServer, slack: SlackStandIn, http: httpx.Client) -> None:
    """The server answers /healthz and a genuine question after whatever came before."""
    assert http.get(f"{server.url}/healthz").status_code == 200
    question = app_mention("U0000DEVONE", "how many vacation days do I get?", channel="C0HEALTHY1")
    assert post_event(http, server.url, question).status_code == 200
    answer = slack.wait_for_post(lambda c: c.params["channel"] == "C0HEALTHY1")
    assert "25" in answer.params["text"]


# ---------------------------------------------------------------------------------------------- point 9: body size


def test_a_100_mb_unsigned_body_is_refused_before_it_is_read(
    server: LiveServer, slack: SlackStandIn, http: httpx.Client
) -> None:
    """Sent as it is produced, with and without a Content-Length: refused within 2 s, the server (a thread of this
    process) at most 50 MB larger at its peak. Before the limit it read it whole: +205 MB."""
    for declared in (True, False):
        headers = {"Content-Type": "application/json"}
        if declared:
            headers["Content-Length"] = str(HUGE)
        before = _status_kb("VmRSS")
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")  # VmHWM (the peak resident size) starts again from now
        started = time.monotonic()
        response = http.post(f"{server.url}/slack/events", content=_huge_body(), headers=headers)
        seconds = time.monotonic() - started
        growth_mb = (_status_kb("VmHWM") - before) / 1000
        print(
            f"100 MiB to /slack/events, {'declared' if declared else 'chunked'}: {seconds:.2f} s, +{growth_mb:.1f} MB"
        )
        assert response.status_code == 413
        assert seconds < 2.0
        assert growth_mb < 50
    _assert_healthy(server, slack, http)


FILE_PART = (
    b'--cut\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
)
# Each POST route, a body of the kind it reads, and what it answers a 100 MiB body sent without a length.
ROUTES = [
    ("/slack/events", "application/json", b"", 413),
    ("/api/chat", "application/json", b"", 413),
    ("/api/action", "application/json", b"", 413),
    ("/api/upload", "multipart/form-data; boundary=cut", FILE_PART, 413),  # after twice the file limit
    ("/console/login", "application/x-www-form-urlencoded", b"", 413),
    ("/console/hr/documents", "multipart/form-data; boundary=cut", FILE_PART, 413),  # after 20 MB, not 1
    ("/console/admin/directory", "multipart/form-data; boundary=cut", FILE_PART, 401),  # signs in before reading
]


def test_every_post_route_refuses_a_100_mb_body_at_once(server: LiveServer, http: httpx.Client) -> None:
    before = _status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
        clear.write("5")
    outcomes: dict[str, tuple[int, float]] = {}
    for path, content_type, head, _ in ROUTES:
        for declared in (False, True):
            headers = {"Content-Type": content_type}
            if declared:
                headers["Content-Length"] = str(len(head) + HUGE)
            started = time.monotonic()
            response = http.post(f"{server.url}{path}", content=_huge_body(head), headers=headers)
            outcomes[f"{path} {'declared' if declared else 'chunked'}"] = (
                response.status_code,
                round(time.monotonic() - started, 2),
            )
    growth_mb = (_status_kb("VmHWM") - before) / 1000
    expected = {
        f"{path} {kind}": 413 if kind == "declared" else chunked
        for path, _, _, chunked in ROUTES
        for kind in ("chunked", "declared")
    }
    assert {name: status for name, (status, _) in outcomes.items()} == expected
    assert max(seconds for _, seconds in outcomes.values()) < 2.0, outcomes
    assert growth_mb < 50


def test_the_largest_web_chat_message_and_an_upload_still_fit(server: LiveServer, http: httpx.Client) -> None:
    # 100,000 characters (ChatIn's limit) sent as JSON escapes: 600 KB, which the body limit lets through.
    text = "\u00e9" * 100_000
    body = json.dumps({"user": "U0000DEVONE", "text": text}).encode("ascii")
    assert len(body) > 600_000
    chat = http.post(f"{server.url}/api/chat", content=body, headers={"Content-Type": "application/json"})
    assert chat.status_code != 413 and chat.status_code < 500
    # A 3 MB document to the console is the console's to judge (here: not signed in), not the body limit's.
    upload = http.post(
        f"{server.url}/console/hr/documents", files={"file": ("handbook.pdf", b"%PDF-1.4\n" + b"0" * 3 * MB)}
    )
    assert upload.status_code == 401


# ---------------------------------------------------------------------------------------------- point 13: 500s


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def _deep_event(event_id: str, depth: int) -> bytes:
    head = f'{{"type": "event_callback", "event_id": "{event_id}", "event": {{"type": "message", "text": '
    return (head + _deep(depth) + "}}").encode()


def _utf8_as_latin1(text: str) -> str:
    """A header value as the server reads `text` sent in UTF-8: each byte a latin-1 character."""
    return text.encode().decode("latin-1")


def _hostile_requests() -> dict[str, tuple[bytes, dict[str, str]]]:
    """Requests that raised inside the endpoint (a 500): name → (body, headers; values sent as latin-1)."""
    bodies: dict[str, bytes] = {
        "not UTF-8": b'{"type": "event_callback", "text": "\xff\xfe"}',
        "a list as the event": b'{"type": "event_callback", "event_id": "EvLIST0001", "event": [{"type": "message"}]}',
        "a string as the event": b'{"type": "event_callback", "event_id": "EvSTR00001", "event": "message"}',
        "a top-level list": b'[{"type": "event_callback", "event": {"type": "message"}}]',
        "a top-level string": b'"event_callback"',
        "null": b"null",
        "nested 100,000 deep": _deep(100_000).encode(),
        "an event nested 100,000 deep": _deep_event("EvDEEP0001", 100_000),
        "an event nested 900 deep": _deep_event("EvDEEP0002", 900),  # parses, but breaks what walks it later
    }
    requests = {f"signed: {name}": (body, _signed(body)) for name, body in bodies.items()}
    form = "application/x-www-form-urlencoded"
    for name, payload in (("a list", "[1, 2]"), ("nested 100,000 deep", _deep(100_000))):
        body = urlencode({"payload": payload}).encode()
        requests[f"signed form: payload {name}"] = (body, _signed(body, form))

    # Unsigned, or signed with headers that made the signature check itself raise.
    now = str(int(time.time()))
    genuine = json.dumps(app_mention("U0000DEVONE", "how many vacation days do I get?")).encode()
    requests["unsigned, not UTF-8"] = (b"\xff\xfe\x00garbage", {"X-Slack-Request-Timestamp": now})
    requests["a non-ASCII signature"] = (
        genuine,
        {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": _utf8_as_latin1("v0=zoë")},
    )
    # "²" (one latin-1 byte) is a digit to str.isdigit() and not to int(); so are "١٢٣" to both, in a str.
    requests["a superscript digit as the timestamp"] = (
        genuine,
        {"X-Slack-Request-Timestamp": "\u00b2", "X-Slack-Signature": _sign(genuine, "\u00b2")},
    )
    arabic = _utf8_as_latin1("\u0661\u0662\u0663")
    requests["Arabic-Indic digits as the timestamp"] = (
        genuine,
        {"X-Slack-Request-Timestamp": arabic, "X-Slack-Signature": _sign(genuine, arabic)},
    )
    requests["a 5,000-digit timestamp"] = (  # int() refuses more than 4,300 digits
        genuine,
        {"X-Slack-Request-Timestamp": "1" * 5000, "X-Slack-Signature": _sign(genuine, "1" * 5000)},
    )
    return requests


def test_hostile_headers_and_bodies_get_a_4xx_and_the_server_stays_healthy(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    outcomes: dict[str, int | str] = {}
    for name, (body, headers) in _hostile_requests().items():
        try:
            raw = [(key.encode("latin-1"), value.encode("latin-1")) for key, value in headers.items()]
            outcomes[name] = http.post(f"{server.url}/slack/events", content=body, headers=raw).status_code
        except httpx.HTTPError as error:  # all cases are seen, not only the first that breaks the connection
            outcomes[name] = repr(error)
    failed = {name: outcome for name, outcome in outcomes.items() if not (isinstance(outcome, int) and outcome < 500)}
    assert failed == {}
    assert all(isinstance(status, int) and 400 <= status < 500 for status in outcomes.values()), outcomes
    _assert_healthy(server, slack, http)


def test_a_nul_byte_and_control_characters_in_a_message_are_stripped_and_answered(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    # PostgreSQL's json and text refuse \u0000: the stored event could not be written, so it was never answered.
    payload = message_event("U0000DEVONE", "how many vacation\u0000 days\u0007 do I get?\ud800", "D0NULBYTE1", "im")
    assert post_event(http, server.url, payload).status_code == 200
    answer = slack.wait_for_post(lambda c: c.params["channel"] == "D0NULBYTE1")
    assert "25" in answer.params["text"]
    with runtime.database.session_scope() as session:
        (said,) = session.scalars(select(ChatMessage.text).where(ChatMessage.direction == "in")).all()
        assert said == "how many vacation days do I get?"
        deadline = time.monotonic() + 5
        while session.scalar(select(ProcessedEvent.status)) != "done" and time.monotonic() < deadline:
            time.sleep(0.05)
            session.expire_all()
        assert session.scalar(select(ProcessedEvent.status)) == "done"
    _assert_healthy(server, slack, http)


def test_bidi_controls_never_reach_a_ticket_or_a_reposted_message(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    runtime.settings.it_channel = "C0ITTRIAGE"
    # After U+202E "exe.pdf" is shown as "fdp.exe": a ticket would show IT something other than its text.
    text = f"outlook keeps crashing when I open \u202eexe.pdf{BIDI} attachments\u0000"
    report = message_event("U0000DEVONE", text, "D0BIDI0001", "im")
    assert post_event(http, server.url, report).status_code == 200
    card = slack.wait_for_post(lambda c: c.params["channel"] == "C0ITTRIAGE")
    slack.wait_for_post(lambda c: c.params["channel"] == "D0BIDI0001")
    with runtime.database.session_scope() as session:
        (ticket,) = session.scalars(select(Ticket)).all()
        written = ticket.title + ticket.description
    # IT resolves with a note carrying the same characters; the requester is told the note.
    note = f"Repaired \u202eexe.pdf{BIDI}\u0000 the add-in"
    resolve = view_submission("U0000ITLEAD", "it:resolve_submit", str(ticket.id), {"note": note})
    assert post_interaction(http, server.url, resolve).status_code == 200
    told = slack.wait_for_post(lambda c: "Repaired" in c.params["text"])
    shown = json.dumps([c.params for c in slack.calls], ensure_ascii=False)
    for char in BIDI + "\u0000":
        assert char not in written, f"U+{ord(char):04X} in the ticket"
        assert char not in shown, f"U+{ord(char):04X} sent to Slack"
    assert "exe.pdf attachments" in written and "exe.pdf attachments" in card.params["text"]
    assert "Repaired exe.pdf the add-in" in told.params["text"]


def test_bidi_controls_typed_in_the_web_chat_never_reach_a_ticket(
    server: LiveServer, runtime: Runtime, http: httpx.Client
) -> None:
    text = f"my laptop won't turn on \u202eexe.pdf{BIDI} since this morning"
    reply = http.post(f"{server.url}/api/chat", json={"user": "U0000DEVTWO", "text": text})
    assert reply.status_code == 200 and "opened a ticket" in reply.json()["text"]
    with runtime.database.session_scope() as session:
        (ticket,) = session.scalars(select(Ticket)).all()
        written = ticket.title + ticket.description
    assert not set(BIDI) & set(written) and "exe.pdf since this morning" in written
