"""STAND-IN for the Slack Web API (tests only). A real HTTP server that speaks Slack's wire protocol
closely enough for slack_sdk's WebClient: form or JSON bodies, bearer tokens, `{"ok": ...}` answers,
and 429 + Retry-After when told to rate-limit. It also serves shared files (`add_file`) to GETs with the bot
token, like files.slack.com. It records every call so tests can assert on them."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote


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
    _server: ThreadingHTTPServer | None = None
    _ts: float = 1_700_000_000.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

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
                status, headers, body = standin.download(self.path.split("?")[0], token)
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
                status, headers, body = standin.answer(method, params, token)
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
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _next_ts(self) -> str:
        self._ts += 1
        return f"{self._ts:.6f}"

    def answer(
        self, method: str, params: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        with self._lock:
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
            if token != self.token and not method.startswith("respond/"):
                return 200, {}, {"ok": False, "error": "invalid_auth"}
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
