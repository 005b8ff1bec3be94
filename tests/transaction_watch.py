"""Watches a database engine's transactions and the slow calls made while one is open on the same thread: a
shared file's download and reading on the file pool (OCR included; the caller waits for it), OCR (the Tesseract
subprocess), retrieval (the knowledge index's search), embedding, an LLM call (langchain's chat
model) and a Slack Web API call (slack_sdk). Each slow call still runs for real; the watch only records it."""

from __future__ import annotations

import functools
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from langchain_core.language_models.chat_models import BaseChatModel
from slack_sdk import WebClient
from sqlalchemy import Connection, Engine, event

from integrations import files, rapid_ocr
from knowledge.embeddings import MiniLMEmbeddings
from knowledge.index import KnowledgeIndex

OUR_PACKAGES = ("bot", "skills", "knowledge", "integrations")


@dataclass(frozen=True)
class SlowCall:
    kind: str  # file (a Slack download and its reading) | ocr (Tesseract or RapidOCR) | retrieval | embedding | llm
    # | slack
    detail: str
    in_transaction: bool


class TransactionWatch:
    """Which threads hold an open transaction on `engine`, and every slow call with whether its thread did."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.calls: list[SlowCall] = []
        self._open: dict[int, int] = {}  # id(connection) -> thread ident
        self._lock = threading.Lock()
        event.listen(engine, "begin", self._began)
        event.listen(engine, "commit", self._ended)
        event.listen(engine, "rollback", self._ended)

    def close(self) -> None:
        event.remove(self.engine, "begin", self._began)
        event.remove(self.engine, "commit", self._ended)
        event.remove(self.engine, "rollback", self._ended)

    def _began(self, connection: Connection) -> None:
        with self._lock:
            self._open[id(connection)] = threading.get_ident()

    def _ended(self, connection: Connection) -> None:
        with self._lock:
            self._open.pop(id(connection), None)

    def in_transaction(self) -> bool:
        """True when the calling thread holds an open transaction on the engine."""
        me = threading.get_ident()
        with self._lock:
            return me in self._open.values()

    def record(self, kind: str, detail: str) -> None:
        self.calls.append(SlowCall(kind, detail, self.in_transaction()))

    def kinds(self) -> set[str]:
        return {call.kind for call in self.calls}

    def inside(self) -> list[SlowCall]:
        """The slow calls made while their thread held an open transaction."""
        return [call for call in self.calls if call.in_transaction]

    def wrap(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Wrap each slow call at its one choke point (the real call still runs)."""
        self._wrap_method(monkeypatch, KnowledgeIndex, "search", "retrieval", lambda a: str(a[1])[:60])
        self._wrap_method(monkeypatch, MiniLMEmbeddings, "embed_array", "embedding", lambda a: f"{len(a[1])} texts")
        self._wrap_method(monkeypatch, BaseChatModel, "invoke", "llm", lambda a: type(a[0]).__name__)
        self._wrap_method(monkeypatch, WebClient, "api_call", "slack", lambda a: str(a[1]))
        self._wrap_everywhere(monkeypatch, files.read_in_pool, "file", lambda a: "download and read")
        self._wrap_everywhere(monkeypatch, rapid_ocr.read_lines, "ocr", lambda a: "rapidocr")  # receipts
        run = subprocess.run

        @functools.wraps(run)
        def watched_run(*args: Any, **kwargs: Any) -> Any:
            command = args[0] if args else kwargs.get("args")
            if isinstance(command, list | tuple) and command and "tesseract" in str(command[0]):
                self.record("ocr", " ".join(map(str, command[1:3])))
            return run(*args, **kwargs)

        monkeypatch.setattr(subprocess, "run", watched_run)

    def _watched(
        self, original: Callable[..., Any], kind: str, detail: Callable[[tuple[Any, ...]], str]
    ) -> Callable[..., Any]:
        """`original`, recording each call (with whether a transaction is open) before making it."""

        @functools.wraps(original)
        def watched(*args: Any, **kwargs: Any) -> Any:
            self.record(kind, detail(args))
            return original(*args, **kwargs)

        return watched

    def _wrap_everywhere(
        self,
        monkeypatch: pytest.MonkeyPatch,
        original: Callable[..., Any],
        kind: str,
        detail: Callable[[tuple[Any, ...]], str],
    ) -> None:
        """Wrap a function in every one of our modules that imported it by name."""
        watched = self._watched(original, kind, detail)
        for name, module in list(sys.modules.items()):
            if name.split(".")[0] in OUR_PACKAGES and getattr(module, original.__name__, None) is original:
                monkeypatch.setattr(module, original.__name__, watched)

    def _wrap_method(
        self,
        monkeypatch: pytest.MonkeyPatch,
        owner: type,
        name: str,
        kind: str,
        detail: Callable[[tuple[Any, ...]], str],
    ) -> None:
        monkeypatch.setattr(owner, name, self._watched(getattr(owner, name), kind, detail))
