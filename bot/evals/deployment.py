"""A deployment made as a company makes one, in a temporary folder, and the HTTP calls the evals send to it."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

EVAL_MANAGER = "U0EVALMGR01"


@contextmanager
def deployed(
    corpus: Path | None,
    employees: int,
    *,
    work_dir: Path | None = None,
    on_step: Callable[[str], None] | None = None,
    clock: datetime | None = None,
) -> Iterator[tuple[Any, str, list[str], str]]:
    """A deployment as a company makes one, in a temporary folder: `migrate`, `directory import` (`employees`
    people, so that no conversation carries over from one message to the next), `ingest CORPUS` (when given),
    `serve --no-samples`. Yields an HTTP client, the server's URL, the employees' Slack ids and the deployment's
    database URL.

    `clock` starts every process at that moment (it ticks from there), through the test suite's clock shim
    (needs the dev install: time-machine)."""
    import os
    import signal
    import socket
    import subprocess
    import sys

    import httpx

    step = on_step or (lambda _text: None)
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        folder = Path(tmp)
        env = {key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "BACKOFFICE_"))}
        env.update(
            BACKOFFICE_DATABASE_URL=f"sqlite:///{folder / 'eval.db'}",
            BACKOFFICE_DATA_DIR=str(folder / "var"),
            BACKOFFICE_LLM="",
        )
        if clock is not None:
            env.update(_clock_env(clock))
        cli = [sys.executable, "-m", "bot.cli"]

        def run(*args: str) -> None:
            done = subprocess.run([*cli, *args], env=env, cwd=folder, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"backoffice {' '.join(args)} failed:\n{done.stdout}{done.stderr}")

        people = [f"U0EVAL{n:05d}" for n in range(1, employees + 1)]
        directory = folder / "directory.csv"
        lines = [
            "slack_id,name,email,tz,country,manager_slack_id,roles",
            f"{EVAL_MANAGER},Eval Manager,,UTC,US,,manager",
        ]
        lines += [f"{who},Employee {who[-5:]},,UTC,US,{EVAL_MANAGER},employee" for who in people]
        directory.write_text("\n".join(lines) + "\n", encoding="utf-8")
        step("migrate")
        run("migrate")
        step("directory import")
        run("directory", "import", str(directory))
        if corpus is not None:
            step(f"ingest {corpus}")
            run("ingest", str(corpus.resolve()))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        step("serve --no-samples")
        log = (folder / "serve.log").open("wb")
        server = subprocess.Popen(
            [*cli, "serve", "--no-samples", "--no-scheduler", "--port", str(port)],
            env=env,
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(timeout=60) as http:
                deadline = time.monotonic() + 300
                while True:
                    if server.poll() is not None:
                        raise RuntimeError(f"serve exited:\n{(folder / 'serve.log').read_text(errors='replace')}")
                    try:
                        if http.get(f"{url}/healthz").status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError("serve did not become ready in 300 s")
                    time.sleep(0.2)
                yield http, url, people, env["BACKOFFICE_DATABASE_URL"]
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()


CLOCK_SHIM = Path(__file__).resolve().parents[2] / "tests" / "clock_shim"


def _clock_env(moment: datetime) -> dict[str, str]:
    """What makes a Python process started with it run at `moment` (tests/clock_shim, as `pytest --at`)."""
    import importlib.util
    import os

    if importlib.util.find_spec("time_machine") is None or not (CLOCK_SHIM / "sitecustomize.py").is_file():
        raise RuntimeError("a pinned clock needs the dev install (pip install -e '.[dev]') and tests/clock_shim")
    path = os.environ.get("PYTHONPATH", "")
    return {
        "PYTHONPATH": f"{CLOCK_SHIM}{os.pathsep}{path}" if path else str(CLOCK_SHIM),
        "BACKOFFICE_TEST_CLOCK_OFFSET": str(moment.timestamp() - time.time()),
        "BACKOFFICE_TEST_CLOCK_ZONE": "UTC",
    }


def post_chat(http: Any, url: str, who: str, text: str) -> tuple[dict[str, Any], float]:
    """POST /api/chat as `who`: the reply's JSON (an HTTP error as its text and skill) and the ms it took."""
    return post_json(http, f"{url}/api/chat", {"user": who, "text": text})


def post_json(http: Any, endpoint: str, payload: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """POST to a chat endpoint: the reply's JSON (an HTTP error as its text and skill) and the ms it took."""
    started = time.perf_counter()
    response = http.post(endpoint, json=payload)
    ms = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        error = f"HTTP {response.status_code}"
        return {"text": error, "skill": error}, ms
    return dict(response.json()), ms
