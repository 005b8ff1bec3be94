"""Security headers on every HTTP response, and an HTML page's Content-Security-Policy that allows exactly its own
inline scripts and styles (by their hashes)."""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi.responses import HTMLResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

# Every response: no MIME sniffing, never inside a frame, no Referer (a calendar link carries its token in the URL).
# JSON needs no sources at all; an HTML page names its own (see with_policy).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
}
# The web chat's one inline <script> and <style> are allowed by their SHA-256 (added by with_policy), so no inline
# code injected into the page could run; it only talks to this server.
CHAT_POLICY = (
    "default-src 'none'; script-src {scripts}; style-src {styles}; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI comes from its CDN; its start-up script is inline (hashed). 'unsafe-inline' is for styles only: Swagger
# UI sets style attributes as it renders, and a style cannot run code. The page shows the schema, no data.
SWAGGER_CDN = "https://cdn.jsdelivr.net"
SWAGGER_POLICY = (
    f"default-src 'none'; script-src {SWAGGER_CDN} {{scripts}}; style-src {SWAGGER_CDN} 'unsafe-inline'; "
    "img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)


def with_policy(page: HTMLResponse, template: str) -> HTMLResponse:
    """Set a page's Content-Security-Policy, allowing exactly its inline scripts and styles by their hashes."""
    hashes: dict[str, list[str]] = {"script": [], "style": []}
    for tag, body in _INLINE.findall(bytes(page.body).decode("utf-8")):
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode("ascii")
        hashes[tag].append(f"'sha256-{digest}'")
    policy = template.format(
        scripts=" ".join(hashes["script"]) or "'none'", styles=" ".join(hashes["style"]) or "'none'"
    )
    page.headers["Content-Security-Policy"] = policy
    return page


class SecurityHeaders:
    """ASGI middleware: every HTTP response gets SECURITY_HEADERS, except a header the response already set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: AsgiMessage) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
