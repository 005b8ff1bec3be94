"""Limits on request bodies: their size (BodyLimit, 413 before a body over it is read) and how deeply parsed JSON
may nest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

# Slack's events and forms, the web chat (100,000 characters, ~600 KB as JSON escapes) and the console's forms.
MAX_BODY_BYTES = 1_000_000
TOO_LARGE = b'{"error":"payload too large"}'
# Slack's payloads nest about 10 deep. Much deeper JSON parses (up to ~1,000) but then breaks whatever walks it
# recursively later (json.dumps, a cleaner): a RecursionError, not a ValueError, so a 500.
MAX_NESTING = 64


class BodyLimit:
    """ASGI middleware: a body whose Content-Length is over the limit is refused at once; one sent without it
    (chunked) is counted as it arrives and refused as soon as it passes the limit. Either way the app never holds
    more than the limit: a 300 MB body to /slack/events used to be read whole (550 MB more memory) before its
    size was checked.

    `larger` names the paths allowed more (the console's file uploads), by exact path."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int = MAX_BODY_BYTES, larger: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.max_bytes)
        declared = Headers(scope=scope).get("content-length", "")
        # More digits than any limit has is over it (and int() refuses over 4,300 digits).
        if declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
            await _refuse(send)
            return

        received = 0
        started = False  # the app's response began (then it can no longer be a 413)
        refused = False

        async def counting_receive() -> AsgiMessage:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Answer now and tell the app the client left: it stops reading, and whatever it makes of
                    # the cut-off body is not sent.
                    refused = True
                    if not started:
                        await _refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: AsgiMessage) -> None:
            nonlocal started
            if refused:
                return
            started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused:
                raise
            # The app failed on a body it was told was cut off (e.g. starlette's ClientDisconnect); the 413 is sent.


async def _refuse(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(TOO_LARGE)).encode()),
                (b"connection", b"close"),  # the rest of the body is not wanted: the client can stop sending it
            ],
        }
    )
    await send({"type": "http.response.body", "body": TOO_LARGE})


def nests_deeper_than(value: Any, limit: int = MAX_NESTING) -> bool:
    """Whether parsed JSON has lists and objects nested more than `limit` deep (walked without recursion)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False
