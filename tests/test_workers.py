"""The scale-out deployment for real: `backoffice serve --workers 2` on PostgreSQL and a `chroma run` server. Both
workers answer, an ingest by another process reaches both, and exactly one of them leads the scheduler."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app as cli_app
from bot.db import Database
from bot.models import SchedulerLease
from knowledge.index import KnowledgeIndex
from tests.chroma_server import ChromaServer
from tests.conftest import _free_port, python_path

PARKING = """---
title: Bicycle Parking
---
## Where to park your bicycle

Bicycles are parked in the basement garage on level minus two. The bicycle room opens with your badge, and there
are showers next to it.
"""


def worker_pids(parent: int) -> set[int]:
    """uvicorn's worker processes: children of `parent` started through multiprocessing's spawn."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"spawn_main" in command:
            found.add(int(entry.name))
    return found


def connection_owner(server_port: int, client_port: int, pids: set[int]) -> int:
    """The process holding the server side of the localhost TCP connection from `client_port` (Linux /proc)."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = (int(address.split(":")[1], 16) for address in fields[1:3])
        if (local, remote) == (server_port, client_port):
            inode = fields[9]
    assert inode is not None, "the server side of the connection is not in /proc/net/tcp"
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    raise AssertionError(f"no worker of {sorted(pids)} holds the connection")


class ServeProcess:
    """`backoffice serve --workers N` in its own process group, its output in a file."""

    def __init__(self, tmp_path: Path, env: dict[str, str], workers: int) -> None:
        self.port = _free_port()
        self.log = tmp_path / "serve.log"
        command = [sys.executable, "-m", "bot.cli", "serve", "--workers", str(workers), "--port", str(self.port)]
        with self.log.open("wb") as out:
            # cwd is the temporary folder so a developer's .env cannot leak in.
            self.proc = subprocess.Popen(
                command, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, workers: set[int] | None = None
    ) -> tuple[int, dict[str, Any], int | None]:
        """One request on a fresh connection: status, JSON body, and which of `workers` answered it."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            connection.request(method, path, body=payload, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            status, data = response.status, json.loads(response.read())
            # Asked while the connection is still open (keep-alive), so the worker still holds its end.
            client_port = int(connection.sock.getsockname()[1])
            owner = connection_owner(self.port, client_port, workers) if workers else None
            return status, data, owner
        finally:
            connection.close()

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            assert self.proc.poll() is None, f"serve exited {self.proc.returncode}:\n{self.output()}"
            assert time.monotonic() < deadline, f"serve not ready after {timeout:g}s:\n{self.output()}"
            time.sleep(0.2)

    def stop(self) -> int | None:
        """SIGTERM as a process manager sends it; the whole group is killed if it does not stop in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        return self.proc.returncode


def lease_rows(database: Database) -> list[tuple[str, str | None]]:
    with database.session_scope() as session:
        return [(lease.name, lease.holder) for lease in session.scalars(select(SchedulerLease))]


@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[ChromaServer]:
    folder = tmp_path / "chroma-server"
    folder.mkdir()
    with ChromaServer(folder) as server:
        yield server


def serve_env(tmp_path: Path, database_url: str, chroma_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "BACKOFFICE_DATABASE_URL": database_url,
        "BACKOFFICE_CHROMA_URL": chroma_url,
        "BACKOFFICE_DATA_DIR": str(tmp_path / "var"),
        "BACKOFFICE_LLM": "",
        "SLACK_BOT_TOKEN": "",
        "SLACK_SIGNING_SECRET": "",
        # The test uses the web chat as sample people; a worker does not know the interface it serves, so without
        # this it would ask each person to sign in.
        "BACKOFFICE_DEV_MODE": "true",
        "PYTHONPATH": python_path(),
        "COLUMNS": "200",
        "NO_COLOR": "1",
    }


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_workers_answer_see_another_process_ingest_and_elect_one_scheduler(
    tmp_path: Path, database_url: str, chroma: ChromaServer
) -> None:
    serve = ServeProcess(tmp_path, serve_env(tmp_path, database_url, chroma.url), workers=2)
    database = Database(database_url)
    try:
        serve.wait_ready(timeout=120)  # the parent migrates and loads the samples, then two workers start
        workers = worker_pids(serve.proc.pid)
        assert len(workers) == 2, serve.output()

        # Fresh connections until each worker has answered both endpoints (the kernel picks who accepts).
        healthy: set[int] = set()
        chatted: set[int] = set()
        deadline = time.monotonic() + 30
        while healthy != workers or chatted != workers:
            assert time.monotonic() < deadline, f"/healthz from {healthy}, /api/chat from {chatted} of {workers}"
            status, health, worker = serve.request("GET", "/healthz", workers=workers)
            assert status == 200 and health["status"] == "ok" and health["documents_chunks"] > 100, health
            healthy.add(worker or 0)
            question = {"user": "U0000ITLEAD", "text": "how many vacation days do I get?"}
            status, reply, worker = serve.request("POST", "/api/chat", question, workers)
            assert status == 200 and reply["skill"] == "policy", reply
            assert "25 vacation days" in reply["text"]
            chatted.add(worker or 0)

        # Another process (here, this test) ingests a document through the Chroma server and PostgreSQL.
        extra = tmp_path / "extra"
        extra.mkdir()
        (extra / "parking.md").write_text(PARKING, encoding="utf-8")
        with database.session_scope() as session:
            assert KnowledgeIndex.server(chroma.url).ingest(session, [extra]).added
        time.sleep(1.2)  # workers re-read the shared version at most once a second
        cited: set[int] = set()
        deadline = time.monotonic() + 30
        while cited != workers:
            assert time.monotonic() < deadline, f"only {sorted(cited)} of {sorted(workers)} saw the new document"
            question = {"user": "U0000ITLEAD", "text": "where can I park my bicycle at the office?"}
            status, reply, worker = serve.request("POST", "/api/chat", question, workers)
            assert status == 200, reply
            assert [Path(c["location"]).name for c in reply["citations"]][:1] == ["parking.md"], reply
            cited.add(worker or 0)

        # Both workers run a SchedulerService; the lease row has one holder, one of them.
        leases = lease_rows(database)
        assert len(leases) == 1 and leases[0][0] == "scheduler", leases
        holder = leases[0][1] or ""
        assert int(holder.split(":")[1]) in workers, (holder, workers)
        assert serve.output().count("Sample SOPs: 14 added") == 1, "the samples are loaded once, by the parent"

        assert serve.stop() == 0, serve.output()
        assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()], "the workers stop with their parent"
        assert lease_rows(database) == [("scheduler", None)], "a clean stop releases the lease"
    finally:
        serve.stop()
        database.dispose()


def test_serve_workers_refuses_what_cannot_be_shared(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {
        "COLUMNS": "200",
        "NO_COLOR": "1",
        "BACKOFFICE_DATA_DIR": str(tmp_path / "var"),
        "BACKOFFICE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "BACKOFFICE_CHROMA_URL": "",
    }
    embedded = runner.invoke(cli_app, ["serve", "--workers", "2"], env=env)
    assert embedded.exit_code == 2
    assert "BACKOFFICE_CHROMA_URL" in embedded.output
    socket = runner.invoke(
        cli_app, ["serve", "--workers", "2", "--socket-mode"], env={**env, "BACKOFFICE_CHROMA_URL": "http://x:8001"}
    )
    assert socket.exit_code == 2
    assert "Socket Mode runs in one process" in " ".join(socket.output.split())
    assert runner.invoke(cli_app, ["serve", "--workers", "0"], env=env).exit_code == 2
    assert not (tmp_path / "cli.db").exists(), "refused before touching the database"
    help_text = " ".join(runner.invoke(cli_app, ["serve", "--help"], env=env).stdout.split())
    assert "--workers" in help_text and "docs/deploy.md" in help_text
