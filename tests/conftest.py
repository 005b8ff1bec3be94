"""Shared fixtures: real SQLite and PostgreSQL databases, a real Chroma store, the real HTTP app."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn

from bot.runtime import Runtime, bootstrap_samples, build_runtime
from bot.settings import Settings
from bot.web_app import create_app
from integrations.ocr import tesseract_available
from tests.llm_standin import OpenAIStandIn
from tests.slack_standin import SlackStandIn

pytest_plugins = ["tests.travel"]  # `--at MOMENT`: run the tests as if it were another day

PG_ADMIN_URL = os.environ.get("BACKOFFICE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
SIGNING_SECRET = "test-signing-secret"
REPO = Path(__file__).resolve().parent.parent
HANDBOOK = REPO.parent / "shared" / "corpora" / "tts-handbook" / "pages"


def python_path() -> str:
    """PYTHONPATH for a Python process a test starts: this checkout first, then what the run set (under
    `pytest --at` that includes the clock shim, so the process runs on the test's clock)."""
    return os.pathsep.join(part for part in (str(REPO), os.environ.get("PYTHONPATH", "")) if part)


def _pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind. PostgreSQL must be running (CI starts it)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    if not _pg_available():
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}; start it (see .ci/run)")
    name = f"bo_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"postgresql+psycopg://{base.split('://', 1)[1]}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def tesseract() -> None:
    """OCR tests need the real binary: CI must have it (.ci/run installs it); a laptop may skip."""
    if tesseract_available():
        return
    if os.environ.get("CI"):
        pytest.fail("tesseract is not installed; .ci/run installs it (apt-get install tesseract-ocr)")
    pytest.skip("tesseract is not installed (apt-get install tesseract-ocr)")


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    standin = SlackStandIn(
        users={
            "U0NEWHIRE1": {
                "id": "U0NEWHIRE1",
                "name": "new.hire",
                "tz": "Europe/Berlin",
                "profile": {"real_name": "Nina Newhire", "email": "nina@larkspur.example"},
            }
        }
    ).start()
    yield standin
    standin.stop()


@pytest.fixture
def llm() -> Iterator[OpenAIStandIn]:
    """The OpenAI-compatible stand-in (tests/llm_standin.py), so the optional LLM path runs the real client."""
    standin = OpenAIStandIn()
    yield standin
    standin.stop()


def make_settings(
    tmp_path: Path,
    database_url: str,
    slack: SlackStandIn | None = None,
    *,
    dev_mode: bool | None = True,
    llm: OpenAIStandIn | None = None,
    **extra: str,
) -> Settings:
    """Settings for a test. Development mode is on unless asked otherwise: the tests use the web chat as any sample
    person, as the demo does (with Slack configured it would need each person signed in); `dev_mode=None` leaves
    it unset, as a deployment does (tests/test_closed_defaults.py)."""
    values: dict[str, Any] = {  # Any: **values also meets the typed _-options of BaseSettings.__init__
        "BACKOFFICE_DATA_DIR": str(tmp_path / "var"),
        "BACKOFFICE_DATABASE_URL": database_url,
    }
    if dev_mode is not None:
        values["BACKOFFICE_DEV_MODE"] = "true" if dev_mode else "false"
    if slack is not None:
        values.update(
            SLACK_BOT_TOKEN=slack.token,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=slack.base_url,
            BACKOFFICE_HR_CHANNEL="C0HRQUEUE1",
        )
    if llm is not None:  # the optional LLM, pointed at the stand-in
        values.update(
            BACKOFFICE_LLM="openai:gpt-standin",
            BACKOFFICE_LLM_BASE_URL=llm.base_url,
            BACKOFFICE_LLM_API_KEY="sk-test",
            BACKOFFICE_LLM_TIMEOUT="5",
        )
    values.update(extra)
    return Settings(_env_file=None, **values)


@pytest.fixture
def runtime(tmp_path: Path, database_url: str, slack: SlackStandIn) -> Iterator[Runtime]:
    """The whole system on a fresh database and Chroma store, talking to the Slack stand-in."""
    rt = build_runtime(make_settings(tmp_path, database_url, slack))
    bootstrap_samples(rt)
    yield rt
    rt.close()


@pytest.fixture
def offline_runtime(tmp_path: Path) -> Iterator[Runtime]:
    """The embedded default: SQLite file, no Slack, no LLM."""
    rt = build_runtime(make_settings(tmp_path, f"sqlite:///{tmp_path / 'offline.db'}"))
    bootstrap_samples(rt)
    yield rt
    rt.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """The FastAPI app served by uvicorn on a real localhost port."""

    def __init__(self, runtime: Runtime, host: str = "127.0.0.1") -> None:
        self.port = _free_port()
        config = uvicorn.Config(
            create_app(runtime, run_scheduler=False, bind_host=host),
            host=host,
            port=self.port,
            log_level="warning",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def server(runtime: Runtime) -> Iterator[LiveServer]:
    with LiveServer(runtime) as live:
        yield live


@pytest.fixture
def offline_server(offline_runtime: Runtime) -> Iterator[LiveServer]:
    with LiveServer(offline_runtime) as live:
        yield live


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client
