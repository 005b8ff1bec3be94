"""Scheduler leader election on real SQLite and PostgreSQL: the lease itself, services in one process, two
`backoffice scheduler` processes with one killed, and the web app's lifespan."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TypeVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from typer.testing import CliRunner

from bot.cli import app as cli_app
from bot.db import Database, aware, utcnow
from bot.jobs import Job, JobContext
from bot.migrate import upgrade
from bot.models import JobRun
from bot.runtime import Runtime, build_runtime
from bot.scheduler import LeaderLease, SchedulerService
from bot.web_app import create_app
from tests.conftest import make_settings, python_path

T = TypeVar("T")
T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)

TICKS: list[float] = []
# What the platform and the skills schedule (bot.runtime.platform_jobs and each skill's `jobs`).
SCHEDULED = {"queues", "weekly_digest", "ticket_slas", "expense_reminders", "leave_bookings", "leave_reminders"}


def record_tick(_ctx: JobContext) -> None:
    """A scheduled job for the tests: notes that it ran."""
    TICKS.append(time.monotonic())


TICK_SCHEDULE = (Job("tick", record_tick, "interval", {"seconds": 0.2}),)


def wait_for(condition: Callable[[], T], what: str, timeout: float = 10.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


def stored_job_ids(database: Database) -> set[str]:
    """The jobs whose turn `job_runs` keeps (a leader writes each job's first turn when it starts it)."""
    with database.session_scope() as session:
        return set(session.scalars(select(JobRun.job_id)))


def holder_of(database: Database, name: str = "scheduler") -> str | None:
    return LeaderLease(database, name=name, holder="observer").current_holder()


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    upgrade(database_url)
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.fixture
def bare_runtime(tmp_path: Path, database_url: str) -> Iterator[Runtime]:
    """The system without samples: the scheduler only needs its database (and binds it for the jobs)."""
    rt = build_runtime(make_settings(tmp_path, database_url))
    yield rt
    rt.close()


# --- the lease ------------------------------------------------------------------------------------------------


def test_lease_has_one_holder_until_it_expires_or_is_released(database: Database) -> None:
    first = LeaderLease(database, holder="host:1:aaaa", ttl_seconds=30)
    second = LeaderLease(database, holder="host:2:bbbb", ttl_seconds=30)

    assert first.try_acquire(T0)
    assert not second.try_acquire(T0 + timedelta(seconds=1))
    assert first.try_acquire(T0 + timedelta(seconds=10))  # renewed: now held until T0+40s
    assert not second.try_acquire(T0 + timedelta(seconds=35))
    # The same instant in another zone: SQLite keeps no offset, so a local time must not look later than it is.
    assert not second.try_acquire((T0 + timedelta(seconds=35)).astimezone(timezone(timedelta(hours=5))))
    second.release()  # not ours: changes nothing
    assert holder_of(database) == "host:1:aaaa"

    assert second.try_acquire(T0 + timedelta(seconds=41))  # first did not renew in time
    assert holder_of(database) == "host:2:bbbb"
    assert not first.try_acquire(T0 + timedelta(seconds=42))

    second.release()
    assert holder_of(database) is None
    assert first.try_acquire(T0 + timedelta(seconds=43))  # at once, no need to wait for the expiry
    with pytest.raises(ValueError, match="timezone-aware"):
        first.try_acquire(datetime(2030, 1, 1, 9, 0))  # noqa: DTZ001 - the naive time is the point


def race(leases: list[LeaderLease]) -> dict[str, bool]:
    """Every lease tries to acquire at the same moment, each from its own thread; holder -> won."""
    barrier = threading.Barrier(len(leases))
    results: dict[str, bool] = {}

    def contend(lease: LeaderLease) -> None:
        barrier.wait()
        results[lease.holder] = lease.try_acquire(T0)

    threads = [threading.Thread(target=contend, args=(lease,)) for lease in leases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_concurrent_first_acquires_have_exactly_one_winner(database_url: str, database: Database) -> None:
    # Separate engines, as separate processes would have; all find no row and insert at the same moment.
    engines = [Database(database_url) for _ in range(4)]
    try:
        for round_ in range(3):
            name = f"race-{round_}"
            results = race([LeaderLease(db, name=name, holder=f"host:{i}:race") for i, db in enumerate(engines)])
            winners = [holder for holder, won in results.items() if won]
            assert len(results) == len(engines)
            assert len(winners) == 1, results
            assert holder_of(database, name) == winners[0]
    finally:
        for db in engines:
            db.dispose()


# --- the service in one process -------------------------------------------------------------------------------


def test_only_the_leader_runs_the_jobs_and_a_standby_takes_over_when_it_stops(bare_runtime: Runtime) -> None:
    TICKS.clear()
    first = SchedulerService(bare_runtime, ttl_seconds=2, renew_seconds=0.2, jobs=TICK_SCHEDULE)
    second = SchedulerService(bare_runtime, ttl_seconds=2, renew_seconds=0.2, jobs=TICK_SCHEDULE)
    try:
        first.start()
        wait_for(lambda: first.is_leader, "the first service to lead")
        assert not second.step()  # a round of its own: the lease is taken
        second.start()
        wait_for(lambda: len(TICKS) >= 3, "the leader to run the job")
        # Several renewal rounds of both: the roles stay put.
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            assert first.is_leader and not second.is_leader
            time.sleep(0.05)
        assert holder_of(bare_runtime.database) == first.holder
        assert stored_job_ids(bare_runtime.database) == {"tick"}

        first.stop()
        assert not first.is_leader
        # Released, so the standby's next round takes it: well before the 2 s ttl would have run out.
        started = time.monotonic()
        wait_for(lambda: second.is_leader, "the standby to take over", timeout=1.5)
        assert time.monotonic() - started < 1.5
        assert holder_of(bare_runtime.database) == second.holder
        ticks_at_handover = len(TICKS)
        wait_for(lambda: len(TICKS) >= ticks_at_handover + 3, "the new leader to run the job")
    finally:
        first.stop()
        second.stop()
    assert holder_of(bare_runtime.database) is None
    ticks_after_stop = len(TICKS)
    time.sleep(0.6)
    assert len(TICKS) == ticks_after_stop, "a job ran with no leader"


def test_leader_steps_down_at_once_when_another_holder_has_the_lease(bare_runtime: Runtime) -> None:
    now = [T0]
    service = SchedulerService(bare_runtime, ttl_seconds=30, renew_seconds=10, clock=lambda: now[0])
    try:
        assert service.step() and service.is_leader
        assert stored_job_ids(bare_runtime.database) == SCHEDULED == set(service.job_ids())
        # The service missed its renewals (a long pause) and another process took the expired lease.
        intruder = LeaderLease(bare_runtime.database, holder="elsewhere:1:cccc", ttl_seconds=30)
        assert intruder.try_acquire(T0 + timedelta(seconds=31))
        now[0] = T0 + timedelta(seconds=32)
        assert not service.step()
        assert not service.is_leader
        intruder.release()
        assert service.step() and service.is_leader
    finally:
        service.stop()


def test_a_new_leader_keeps_each_jobs_turn_and_runs_an_overdue_one_at_once(bare_runtime: Runtime) -> None:
    TICKS.clear()
    hourly = (Job("hourly", record_tick, "interval", {"hours": 1}),)
    database = bare_runtime.database

    def turn() -> JobRun:
        with database.session_scope() as session:
            return session.get_one(JobRun, "hourly")

    first = SchedulerService(bare_runtime, ttl_seconds=2, renew_seconds=0.2, jobs=hourly)
    try:
        assert first.step()
        first_turn = aware(turn().next_run_at, utcnow())
        assert first_turn is not None and first_turn - utcnow() > timedelta(minutes=59)
    finally:
        first.stop()
    restarted = SchedulerService(bare_runtime, ttl_seconds=2, renew_seconds=0.2, jobs=hourly)
    try:
        assert restarted.step()  # a restart keeps the turn: it is not pushed an hour further
        assert aware(turn().next_run_at, utcnow()) == first_turn and TICKS == []
    finally:
        restarted.stop()
    # The turn falls due while no process leads: the next leader runs it at once, then an hour later.
    with database.session_scope() as session:
        session.get_one(JobRun, "hourly").next_run_at = utcnow() - timedelta(minutes=1)
    second = SchedulerService(bare_runtime, ttl_seconds=2, renew_seconds=0.2, jobs=hourly)
    try:
        assert second.step()
        wait_for(lambda: TICKS, "the overdue job to run at once")
        wait_for(lambda: turn().last_run_at is not None, "its run to be recorded")
        ran = turn()
        next_turn = aware(ran.next_run_at, utcnow())
        assert next_turn is not None and next_turn - utcnow() > timedelta(minutes=59) and ran.last_error is None
    finally:
        second.stop()
    assert len(TICKS) == 1


def test_renewal_failure_keeps_the_lead_only_while_the_lease_surely_lasts(bare_runtime: Runtime) -> None:
    now = [T0]
    service = SchedulerService(bare_runtime, ttl_seconds=30, renew_seconds=10, clock=lambda: now[0])
    database = bare_runtime.database
    try:
        assert service.step()
        with database.engine.begin() as connection:
            connection.execute(text("ALTER TABLE scheduler_leases RENAME TO scheduler_leases_away"))
        now[0] = T0 + timedelta(seconds=10)
        assert service.step(), "one failed renewal with 20 s of lease left must not stop the jobs"
        now[0] = T0 + timedelta(seconds=25)
        assert not service.step(), "the lease may lapse before the next round: step down now"
        with database.engine.begin() as connection:
            connection.execute(text("ALTER TABLE scheduler_leases_away RENAME TO scheduler_leases"))
        now[0] = T0 + timedelta(seconds=26)
        assert service.step(), "the lease row still names us: take it back"
    finally:
        service.stop()


def test_renewal_thread_survives_the_database_going_away(
    bare_runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.scheduler")
    database = bare_runtime.database
    service = SchedulerService(bare_runtime, ttl_seconds=2, renew_seconds=0.2, jobs=TICK_SCHEDULE)
    try:
        service.start()
        wait_for(lambda: service.is_leader, "the service to lead")
        with database.engine.begin() as connection:
            connection.execute(text("ALTER TABLE scheduler_leases RENAME TO scheduler_leases_away"))
        wait_for(lambda: "scheduler lease not renewed" in caplog.text, "a failed renewal")
        assert service.is_leader, "a failed renewal with most of the lease left must not stop the jobs"
        wait_for(lambda: not service.is_leader, "the leader to step down before its lease lapses", timeout=5)
        assert "scheduler stepped down" in caplog.text
        with database.engine.begin() as connection:
            connection.execute(text("ALTER TABLE scheduler_leases_away RENAME TO scheduler_leases"))
        wait_for(lambda: service.is_leader, "the same thread to take the lead again", timeout=5)
    finally:
        service.stop()


def test_web_app_runs_the_scheduler_service_for_its_lifetime(bare_runtime: Runtime) -> None:
    database = bare_runtime.database
    with TestClient(create_app(bare_runtime)) as client:
        holder = wait_for(lambda: holder_of(database) or "", "the web process to take the lease")
        assert holder.split(":")[1] == str(os.getpid())
        wait_for(lambda: stored_job_ids(database) == SCHEDULED, "the jobs in the job store")
        assert client.get("/healthz").status_code == 200
    assert holder_of(database) is None, "shutdown releases the lease"

    with TestClient(create_app(bare_runtime, run_scheduler=False)) as client:
        assert client.get("/healthz").status_code == 200
        assert holder_of(database) is None


# --- two processes --------------------------------------------------------------------------------------------

ROLE = re.compile(r"scheduler (leader|standby): (\S+)")


class SchedulerProcess:
    """One `backoffice scheduler` process with its output in a file."""

    def __init__(self, tmp_path: Path, database_url: str, name: str) -> None:
        self.log = tmp_path / f"{name}.log"
        env = {
            **os.environ,
            "BACKOFFICE_DATABASE_URL": database_url,
            "BACKOFFICE_DATA_DIR": str(tmp_path / name),  # own Chroma folder, like another machine
            "BACKOFFICE_LLM": "",
            "SLACK_BOT_TOKEN": "",
            "SLACK_SIGNING_SECRET": "",
            "PYTHONPATH": python_path(),
            "COLUMNS": "200",
            "NO_COLOR": "1",
        }
        command = [sys.executable, "-m", "bot.cli", "scheduler", "--ttl", "3", "--renew", "0.5"]
        with self.log.open("wb") as out:
            # cwd is the temporary folder so a developer's .env cannot leak in.
            self.proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def roles(self) -> list[tuple[str, str]]:
        """(role, holder) for each leadership change this process logged."""
        return ROLE.findall(self.output())

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.mark.slow
def test_two_processes_elect_one_leader_and_the_standby_takes_over_when_it_is_killed(
    tmp_path: Path, database_url: str, database: Database
) -> None:
    processes = [SchedulerProcess(tmp_path, database_url, name) for name in ("one", "two")]

    def logs() -> str:
        return "\n".join(f"--- {p.log.name} (exit {p.proc.poll()})\n{p.output()}" for p in processes)

    try:
        wait_for(lambda: all(p.roles() or p.proc.poll() is not None for p in processes), "both roles", timeout=60)
        assert all(p.proc.poll() is None for p in processes), logs()
        leaders = [p for p in processes if p.roles()[0][0] == "leader"]
        assert len(leaders) == 1, logs()
        leader = leaders[0]
        standby = next(p for p in processes if p is not leader)
        leader_holder, standby_holder = leader.roles()[0][1], standby.roles()[0][1]
        assert leader_holder.split(":")[1] == str(leader.proc.pid)
        assert holder_of(database) == leader_holder
        assert stored_job_ids(database) == SCHEDULED
        # A few renewal rounds (0.5 s each) later the roles are unchanged.
        time.sleep(1.5)
        assert holder_of(database) == leader_holder
        assert standby.roles() == [("standby", standby_holder)], logs()

        leader.proc.kill()  # SIGKILL: no release, the lease has to expire
        killed = time.monotonic()
        leader.proc.wait(timeout=10)
        wait_for(lambda: holder_of(database) == standby_holder, "the standby to take the lease", timeout=10)
        # The lease was renewed at most one round before the kill, so it lasted about ttl - renew = 2.5 s more.
        assert time.monotonic() - killed > 2.0
        wait_for(lambda: ("leader", standby_holder) in standby.roles(), "the standby to report leadership")
        assert stored_job_ids(database) == SCHEDULED
        assert standby.proc.poll() is None, logs()
    finally:
        for process in processes:
            process.kill()


def test_scheduler_commands_explain_themselves(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"COLUMNS": "200", "NO_COLOR": "1", "BACKOFFICE_DATA_DIR": str(tmp_path / "var")}
    scheduler_help = runner.invoke(cli_app, ["scheduler", "--help"], env=env)
    assert scheduler_help.exit_code == 0
    for option in ("--ttl", "--renew", "serve --no-scheduler", "leader"):
        assert option in scheduler_help.stdout
    serve_help = runner.invoke(cli_app, ["serve", "--help"], env=env)
    assert "--no-scheduler" in serve_help.stdout
    refused = runner.invoke(cli_app, ["scheduler", "--ttl", "10", "--renew", "5"], env=env)
    assert refused.exit_code == 2
    assert "under half the ttl" in " ".join(refused.output.split())
