"""STAND-IN for the Slack Web API (tests only). A real HTTP server that speaks Slack's wire protocol
closely enough for slack_sdk's WebClient: form or JSON bodies, bearer tokens, `{"ok": ...}` answers,
and 429 + Retry-After when told to rate-limit. It also serves shared files (`add_file`) to GETs with the bot
token, like files.slack.com. It records every call so tests can assert on them.

It keeps the messages posted (with their metadata) and answers conversations.history / conversations.replies /
conversations.open from them. For fault tests it can script an outage (`outage`: 429 with Retry-After until one
time, then 500 until another) and hold a matching call (`hold`): the call is recorded and its message stored,
but the answer waits until `release()` — so a test can kill the client between "Slack has it" and "client
knows it"."""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from tests.block_kit import block_errors, view_errors


def _invalid_blocks(method: str, params: dict[str, Any]) -> list[str]:
    """Block Kit errors in a call that carries blocks or a view (tests/block_kit.py), as Slack would find them."""
    if method in ("chat.postMessage", "chat.update", "chat.postEphemeral", "chat.scheduleMessage") or (
        method.startswith("respond/")
    ):
        blocks = params.get("blocks")
        if blocks is None:
            return []
        if isinstance(blocks, str):
            try:
                blocks = json.loads(blocks)
            except ValueError:
                return ["blocks is not valid JSON"]
        return block_errors(blocks)
    if method in ("views.open", "views.publish", "views.update", "views.push"):
        view = params.get("view")
        if isinstance(view, str):
            try:
                view = json.loads(view)
            except ValueError:
                return ["view is not valid JSON"]
        return view_errors(view)
    return []


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str | None


@dataclass
class HostedFile:
    data: bytes
    name: str
    mimetype: str
    honest: bool = True  # False: the file object under-reports its size and no Content-Length is sent


@dataclass
class SlackStandIn:
    bot_user_id: str = "UBOTUSER01"
    token: str = "xoxb-test-token"
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    rate_limits: dict[str, list[int]] = field(default_factory=dict)  # method → Retry-After values to answer
    failures: dict[str, int] = field(default_factory=dict)  # method → number of 500s to answer
    hosted: dict[str, HostedFile] = field(default_factory=dict)  # file id → what files.slack.com would serve
    messages: list[dict[str, Any]] = field(default_factory=list)  # posted messages, as conversations.* return them
    # Scripted outage of the Web API (time.monotonic() deadlines): 429 + Retry-After, then 500s.
    rate_limited_until: float = 0.0
    failing_until: float = 0.0
    retry_after_seconds: int = 1
    # A call for which this returns True is answered only after release() (or the server stops).
    hold: Callable[[str, dict[str, Any]], bool] | None = None
    _released: threading.Event = field(default_factory=threading.Event)
    # "Sign in with Slack" (OpenID Connect): the app's credentials, and who is signed in to Slack in the browser
    # (None: the person clicks "Cancel" on Slack's consent page).
    oidc_client_id: str = "1111.2222"
    oidc_client_secret: str = "oidc-client-secret"
    oidc_user: str | None = None
    oidc_team: str = "T0001"
    _oidc_codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # code → (user, redirect_uri)
    _oidc_tokens: dict[str, str] = field(default_factory=dict)  # access token → user
    _server: ThreadingHTTPServer | None = None
    _ts: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def outage(self, *, rate_limited_for: float, failing_for: float, retry_after: int = 1) -> None:
        """From now: answer 429 (Retry-After: `retry_after`) for `rate_limited_for` s, then 500 for `failing_for` s."""
        now = time.monotonic()
        with self._lock:
            self.retry_after_seconds = retry_after
            self.rate_limited_until = now + rate_limited_for
            self.failing_until = now + rate_limited_for + failing_for

    @property
    def authorize_url(self) -> str:
        return f"{self.root_url}openid/connect/authorize"

    def authorize(self, query: dict[str, str]) -> str:
        """Slack's consent page, already accepted by `oidc_user`: where it sends the browser back to."""
        redirect, state = query.get("redirect_uri", ""), query.get("state", "")
        with self._lock:
            self.calls.append(Call("openid.connect.authorize", dict(query), None))
            if query.get("client_id") != self.oidc_client_id or self.oidc_user is None:
                return f"{redirect}?{urlencode({'error': 'access_denied', 'state': state})}"
            code = secrets.token_urlsafe(12)
            self._oidc_codes[code] = (self.oidc_user, redirect)
        return f"{redirect}?{urlencode({'code': code, 'state': state})}"

    def _openid(self, method: str, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        if method == "openid.connect.token":
            basic = (token or "").removeprefix("Basic ").strip()
            client = base64.b64decode(basic).decode() if basic else ""
            if client != f"{self.oidc_client_id}:{self.oidc_client_secret}":
                return {"ok": False, "error": "invalid_client_id"}
            found = self._oidc_codes.pop(str(params.get("code", "")), None)  # a code works once
            if found is None or found[1] != params.get("redirect_uri"):
                return {"ok": False, "error": "invalid_code"}
            access = "xoxp-" + secrets.token_hex(8)
            self._oidc_tokens[access] = found[0]
            return {"ok": True, "access_token": access, "token_type": "Bearer", "id_token": "not-checked-here"}
        user = self._oidc_tokens.get(token or "")
        if user is None:
            return {"ok": False, "error": "invalid_auth"}
        return {
            "ok": True,
            "sub": user,
            "https://slack.com/user_id": user,
            "https://slack.com/team_id": self.oidc_team,
            "name": self.users.get(user, {}).get("name", user),
        }

    def release(self) -> None:
        """Answer the held calls."""
        self._released.set()

    def posts_in(self, channel: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(m) for m in self.messages if m["channel"] == channel]

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    @property
    def root_url(self) -> str:
        """Stands in for https://files.slack.com/ as well."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def add_file(
        self, file_id: str, data: bytes, name: str, mimetype: str, *, declared_size: int | None = None
    ) -> dict[str, Any]:
        """Host a file as Slack does for an upload and return its Slack file object. `declared_size` makes the
        object lie about the size and the download come without Content-Length (to test streaming limits)."""
        with self._lock:
            self.hosted[file_id] = HostedFile(data, name, mimetype, honest=declared_size is None)
        base = f"{self.root_url}files-pri/T0001-{file_id}"
        return {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": name.rsplit(".", 1)[-1] if "." in name else "binary",
            "size": len(data) if declared_size is None else declared_size,
            "url_private": f"{base}/{quote(name)}",
            "url_private_download": f"{base}/download/{quote(name)}",
        }

    def download(self, path: str, token: str | None) -> tuple[int, dict[str, str], bytes]:
        """A GET of a file URL, recorded as method "files.download"; needs the bot token as a bearer."""
        match = re.match(r"^/files-pri/T0001-([^/]+)/", path)
        file_id = match.group(1) if match else ""
        with self._lock:
            self.calls.append(Call("files.download", {"file": file_id, "path": path}, token))
            hosted = self.hosted.get(file_id)
        json_type = {"Content-Type": "application/json; charset=utf-8"}
        if not token:
            return 401, json_type, json.dumps({"ok": False, "error": "not_authed"}).encode()
        if token != self.token:
            return 401, json_type, json.dumps({"ok": False, "error": "invalid_auth"}).encode()
        if hosted is None:
            return 404, json_type, json.dumps({"ok": False, "error": "file_not_found"}).encode()
        headers = {"Content-Type": hosted.mimetype}
        if hosted.honest:
            headers["Content-Length"] = str(len(hosted.data))
        return 200, headers, hosted.data

    def start(self) -> SlackStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                auth = self.headers.get("Authorization") or ""
                token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
                if self.path.startswith("/openid/connect/authorize"):
                    query = {k: v[0] for k, v in parse_qs(self.path.partition("?")[2]).items()}
                    self.send_response(302)
                    self.send_header("Location", standin.authorize(query))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path.startswith("/api/"):  # Web API methods called with GET (conversations.history…)
                    method, _, query_string = self.path.removeprefix("/api/").partition("?")
                    params = {k: v[0] for k, v in parse_qs(query_string).items()}
                    self._api(method, params, token or params.get("token"))
                    return
                status, headers, body = standin.download(self.path.split("?")[0], token)
                if standin.hold is not None and standin.hold("files.download", {"path": self.path}):
                    standin._released.wait(120)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    # In pieces, so a client that stops reading (size limit) ends the transfer early.
                    for start in range(0, len(body), 64 * 1024):
                        self.wfile.write(body[start : start + 64 * 1024])
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8") if length else ""
                if "json" in (self.headers.get("Content-Type") or ""):
                    params = json.loads(raw or "{}")
                else:
                    params = {k: v[0] for k, v in parse_qs(raw).items()}
                for key in ("blocks", "view", "attachments"):
                    if isinstance(params.get(key), str):
                        params[key] = json.loads(params[key])
                auth = self.headers.get("Authorization") or ""
                token = auth.removeprefix("Bearer ") if auth else params.get("token")
                method = self.path.removeprefix("/api/").split("?")[0]
                self._api(method, params, token)

            def _api(self, method: str, params: dict[str, Any], token: str | None) -> None:
                """Answer a Web API call (GET or POST) as JSON, after a hold if the test set one for it."""
                status, headers, body = standin.answer(method, params, token)
                if standin.hold is not None and standin.hold(method, params):
                    standin._released.wait(120)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _next_ts(self) -> str:
        # Real time, strictly increasing, like Slack's message timestamps.
        self._ts = max(self._ts + 0.0001, time.time())
        return f"{self._ts:.6f}"

    def _history(self, params: dict[str, Any], *, thread: bool) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        oldest = float(params.get("oldest") or 0)
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        found = []
        for m in self.messages:
            if m["channel"] != channel or float(m["ts"]) < oldest:
                continue
            if thread and m["ts"] != params.get("ts") and m.get("thread_ts") != params.get("ts"):
                continue
            if not thread and m.get("thread_ts") not in (None, m["ts"]):
                continue  # history lists top-level messages only
            message = {"type": "message", "ts": m["ts"], "text": m["text"]}
            if m.get("thread_ts"):
                message["thread_ts"] = m["thread_ts"]
            if with_metadata and m.get("metadata"):
                message["metadata"] = m["metadata"]
            found.append(message)
        found.sort(key=lambda m: float(m["ts"]), reverse=not thread)
        return {"ok": True, "messages": found, "has_more": False}

    def answer(
        self, method: str, params: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        with self._lock:
            now = time.monotonic()
            if method.startswith(("chat.", "conversations.")) and now < self.failing_until:
                self.calls.append(Call(method, params, token))
                if now < self.rate_limited_until:
                    retry = {"Retry-After": str(self.retry_after_seconds)}
                    return 429, retry, {"ok": False, "error": "ratelimited"}
                return 500, {}, {"ok": False, "error": "internal_error"}
            limited = self.rate_limits.get(method)
            if limited:
                retry_after = limited.pop(0)
                self.calls.append(Call(method, params, token))
                return 429, {"Retry-After": str(retry_after)}, {"ok": False, "error": "ratelimited"}
            if self.failures.get(method, 0) > 0:
                self.failures[method] -= 1
                self.calls.append(Call(method, params, token))
                return 500, {}, {"ok": False, "error": "internal_error"}
            self.calls.append(Call(method, params, token))
            if method.startswith("openid.connect."):
                return 200, {}, self._openid(method, params, token)
            if token != self.token and not method.startswith("respond/"):
                return 200, {}, {"ok": False, "error": "invalid_auth"}
            invalid = _invalid_blocks(method, params)
            if invalid:
                # As Slack: HTTP 200, ok false, and what is wrong (response_metadata.messages).
                error = "invalid_arguments" if method.startswith("views.") else "invalid_blocks"
                return 200, {}, {"ok": False, "error": error, "response_metadata": {"messages": invalid}}
            if method.startswith("respond/"):  # a slash command's response_url
                return 200, {}, {"ok": True}
            if method == "auth.test":
                return (
                    200,
                    {},
                    {
                        "ok": True,
                        "user_id": self.bot_user_id,
                        "bot_id": "BBOT01",
                        "team_id": "T0001",
                        "user": "backoffice",
                    },
                )
            if method == "chat.postMessage":
                ts = self._next_ts()
                channel = str(params.get("channel", ""))
                if channel.startswith("U") or channel.startswith("W"):
                    channel = "D" + channel[1:]  # posting to a user id opens (or reuses) the DM with them
                metadata = params.get("metadata")
                if isinstance(metadata, str):
                    metadata = json.loads(metadata)
                self.messages.append(
                    {
                        "channel": channel,
                        "ts": ts,
                        "thread_ts": params.get("thread_ts"),
                        "text": params.get("text"),
                        "metadata": metadata,
                    }
                )
                return (
                    200,
                    {},
                    {
                        "ok": True,
                        "channel": channel,
                        "ts": ts,
                        "message": {"ts": ts, "text": params.get("text")},
                    },
                )
            if method == "chat.update":
                if str(params.get("channel", "")).startswith(("U", "W")):
                    return 200, {}, {"ok": False, "error": "channel_not_found"}  # needs the DM's channel id
                return 200, {}, {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}
            if method == "conversations.open":
                user_id = str(params.get("users", "")).split(",")[0]
                return 200, {}, {"ok": True, "channel": {"id": "D" + user_id[1:]}}
            if method == "conversations.history":
                return 200, {}, self._history(params, thread=False)
            if method == "conversations.replies":
                return 200, {}, self._history(params, thread=True)
            if method == "chat.postEphemeral":
                return 200, {}, {"ok": True, "message_ts": self._next_ts()}
            if method == "views.publish":
                return 200, {}, {"ok": True, "view": {"id": "VHOME1", **(params.get("view") or {})}}
            if method == "views.open":
                return 200, {}, {"ok": True, "view": {"id": "V0001", **(params.get("view") or {})}}
            if method == "users.info":
                user = self.users.get(str(params.get("user")))
                if user is None:
                    return 200, {}, {"ok": False, "error": "user_not_found"}
                return 200, {}, {"ok": True, "user": user}
            return 200, {}, {"ok": False, "error": "unknown_method"}

    # ------------------------------------------------------------ assertions helpers

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for_post(self, match: Callable[[Call], bool], timeout: float = 10.0) -> Call:
        """Wait for a chat.postMessage that `match` accepts."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for call in self.calls_to("chat.postMessage"):
                if match(call):
                    return call
            time.sleep(0.02)
        raise AssertionError(f"no matching chat.postMessage in {[c.params.get('text') for c in self.calls]}")

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Wait until at least `count` calls to `method` were made (listeners run after the ack)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = self.calls_to(method)
            if len(calls) >= count:
                return calls
            time.sleep(0.02)
        raise AssertionError(f"expected {count} call(s) to {method}, got {len(self.calls_to(method))}: {self.calls}")
