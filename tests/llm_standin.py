"""STAND-IN for an OpenAI-compatible chat completions server (tests only): a real HTTP server on
localhost that answers `POST /v1/chat/completions` in OpenAI's wire format, so langchain-openai's real
client runs. The reply is chosen by the test; every request is recorded. `tool_calls` (optional) makes it
answer like a model calling functions, to check that such calls are never acted on."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class OpenAIStandIn:
    def __init__(self, reply: Callable[[list[dict[str, Any]]], str] | str = "OK", status: int = 200) -> None:
        self.reply = reply
        self.status = status
        self.tool_calls: list[dict[str, Any]] | None = None
        self.requests: list[dict[str, Any]] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                standin.requests.append(body)
                if standin.status != 200:
                    payload: dict[str, Any] = {"error": {"message": "stand-in failure", "type": "server_error"}}
                    status = standin.status
                else:
                    messages = body.get("messages", [])
                    text = standin.reply(messages) if callable(standin.reply) else standin.reply
                    status = 200
                    message: dict[str, Any] = {"role": "assistant", "content": text}
                    if standin.tool_calls:
                        message["tool_calls"] = standin.tool_calls
                    payload = {
                        "id": "chatcmpl-standin",
                        "object": "chat.completion",
                        "created": 1_700_000_000,
                        "model": body.get("model", "standin"),
                        "choices": [
                            {
                                "index": 0,
                                "message": message,
                                "finish_reason": "tool_calls" if standin.tool_calls else "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                    }
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
