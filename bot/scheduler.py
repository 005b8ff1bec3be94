"""Leader-elected scheduler: every process may start a SchedulerService, only the holder of the lease runs the jobs.

APScheduler 3 cannot share one job store between several schedulers (each would run every job), so the processes
elect a leader through a row in `scheduler_leases`: the leader renews the lease every `renew_seconds`, a standby
takes it over once it has not been renewed for `ttl_seconds`. The leader runs the jobs the platform and the skills
declare (`Runtime.jobs`, see bot.jobs), each with a `JobContext` built from the runtime; `job_runs` keeps each
job's next run time, so a restart or a new leader keeps its turn (a run that fell due meanwhile happens at once).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.db import Database, aware, utcnow
from bot.jobs import Job, JobContext, job_ids
from bot.models import JobRun, SchedulerLease

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

# A job that came due while no process led (a handover takes up to ttl + renew) still runs once, late,
# instead of being skipped until its next turn.
MISFIRE_GRACE_SECONDS = 300


def default_holder() -> str:
    """This process's name in the lease: host, pid and a random suffix (a pid can be reused after a restart)."""
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _as_utc(now: datetime) -> datetime:
    # SQLite stores the timestamp without its offset, so every writer must use the same zone for `<` to hold.
    if now.tzinfo is None:
        raise ValueError("lease times must be timezone-aware")
    return now.astimezone(UTC)


def check_timing(ttl_seconds: float, renew_seconds: float) -> None:
    """Refuse a renew interval that is not well below the ttl (ValueError)."""
    if not 0 < renew_seconds * 2 < ttl_seconds:
        # One renewal may fail (a database hiccup) and the next must still land before the lease expires.
        raise ValueError(f"the renew interval ({renew_seconds:g}s) must be under half the ttl ({ttl_seconds:g}s)")


class LeaderLease:
    """A named lease in `scheduler_leases`: whoever holds it unexpired is the leader."""

    def __init__(
        self, database: Database, *, name: str = "scheduler", holder: str | None = None, ttl_seconds: float = 30.0
    ) -> None:
        self.database = database
        self.name = name
        self.holder = holder or default_holder()
        self.ttl = timedelta(seconds=ttl_seconds)

    def try_acquire(self, now: datetime | None = None) -> bool:
        """Take the lease if it is free or expired, or renew it if it is ours; True when we hold it until now+ttl."""
        now = _as_utc(now or utcnow())
        try:
            return self._acquire(now)
        except IntegrityError:
            # Two processes found no row and both inserted; the other won. The row exists now, so try once more.
            return self._acquire(now)

    def _acquire(self, now: datetime) -> bool:
        with self.database.session_scope() as session:
            # The conditional UPDATE comes first so that the transaction opens with a write: SQLite then takes its
            # write lock up front (waiting on the busy timeout) instead of failing to upgrade a stale read snapshot,
            # and PostgreSQL re-checks the WHERE clause against a concurrent winner's row.
            result = session.execute(
                update(SchedulerLease)
                .where(
                    SchedulerLease.name == self.name,
                    or_(
                        SchedulerLease.holder == self.holder,
                        SchedulerLease.holder.is_(None),
                        SchedulerLease.expires_at < now,
                    ),
                )
                .values(holder=self.holder, expires_at=now + self.ttl)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                return True
            if session.get(SchedulerLease, self.name) is not None:
                return False  # held, unexpired, by someone else
            session.add(SchedulerLease(name=self.name, holder=self.holder, expires_at=now + self.ttl))
            session.flush()
            return True

    def release(self) -> None:
        """Give the lease up if we hold it, so a standby takes over at its next renewal instead of after the ttl."""
        with self.database.session_scope() as session:
            session.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == self.name, SchedulerLease.holder == self.holder)
                .values(holder=None, expires_at=None)
                .execution_options(synchronize_session=False)
            )

    def current_holder(self) -> str | None:
        """The holder recorded in the lease row (possibly expired), or None."""
        with self.database.session_scope() as session:
            lease = session.get(SchedulerLease, self.name)
            return lease.holder if lease else None


class SchedulerService:
    """Runs the scheduled jobs in this process while it holds the lease, and stands by otherwise."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        ttl_seconds: float = 30.0,
        renew_seconds: float = 10.0,
        clock: Callable[[], datetime] = utcnow,
        jobs: Sequence[Job] | None = None,
        lease_name: str = "scheduler",
    ) -> None:
        check_timing(ttl_seconds, renew_seconds)
        self.runtime = runtime
        self.jobs = tuple(runtime.jobs if jobs is None else jobs)
        job_ids(self.jobs)  # two jobs with one id are refused here, at start
        self.renew_seconds = renew_seconds
        self.lease = LeaderLease(runtime.database, name=lease_name, ttl_seconds=ttl_seconds)
        self._clock = clock
        self._scheduler: BackgroundScheduler | None = None
        self._lease_until: datetime | None = None
        self._reported: bool | None = None  # None until the first round, so the starting role is logged too
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def holder(self) -> str:
        """This process's name in the lease."""
        return self.lease.holder

    @property
    def is_leader(self) -> bool:
        """True while this process holds the lease and its scheduler runs the jobs."""
        scheduler = self._scheduler
        return scheduler is not None and bool(scheduler.running)

    def start(self) -> None:
        """Start the renewal thread; it takes the lead at once if the lease is free."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="scheduler-lease", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the jobs (a running one finishes first) and release the lease so a standby takes over at once."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=self.lease.ttl.total_seconds())
            self._thread = None
        with self._lock:
            # Wait for a running job: releasing the lease before it ends could let the next leader start it again.
            self._stop_jobs(wait=True)
            try:
                self.lease.release()
            except SQLAlchemyError:
                log.warning("scheduler lease not released (%s); it expires on its own", self.holder, exc_info=True)
            self._lease_until = None

    def step(self) -> bool:
        """One round: take or renew the lease, then start or stop the jobs to match. Returns `is_leader`."""
        with self._lock:
            if self._stopping.is_set():
                return False
            now = _as_utc(self._clock())
            held = self._renew(now)
            if held and not self.is_leader:
                self._stop_jobs(wait=False)  # a scheduler that died on its own is replaced, not left for dead
                self._start_jobs()
            elif not held and self._scheduler is not None:
                log.warning("scheduler stepped down: %s; its jobs are stopped", self.holder)
                # At once and without waiting: another process may already hold the lease and run them.
                self._stop_jobs(wait=False)
            self._report(self.is_leader)
            return self.is_leader

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.step()
            except Exception:
                # The thread must outlive any failing round (database down, a job that cannot be added).
                log.exception("scheduler round failed (%s); retrying in %gs", self.holder, self.renew_seconds)
            self._stopping.wait(self.renew_seconds)

    def _renew(self, now: datetime) -> bool:
        try:
            acquired = self.lease.try_acquire(now)
        except SQLAlchemyError:
            # Unknown outcome: keep leading only while the lease we last got surely outlasts the next round.
            still_ours = (
                self._lease_until is not None and now + timedelta(seconds=self.renew_seconds) < self._lease_until
            )
            log.warning(
                "scheduler lease not renewed (%s); retrying in %gs", self.holder, self.renew_seconds, exc_info=True
            )
            return still_ours
        self._lease_until = now + self.lease.ttl if acquired else None
        return acquired

    def _start_jobs(self) -> None:
        scheduler = BackgroundScheduler(timezone="UTC")
        try:
            scheduler.start(paused=True)
            now = _as_utc(self._clock())
            for job in self.jobs:
                trigger = make_trigger(job)
                scheduler.add_job(
                    self._runner(job, trigger),
                    trigger,
                    id=job.id,
                    name=job.id,
                    coalesce=True,
                    max_instances=1,
                    misfire_grace_time=MISFIRE_GRACE_SECONDS,
                    next_run_time=self._first_run(job, trigger, now),
                )
            scheduler.resume()
        except BaseException:
            if scheduler.running:
                scheduler.shutdown(wait=False)
            raise
        self._scheduler = scheduler

    def job_ids(self) -> list[str]:
        """The ids of the jobs this process runs now (none while it stands by)."""
        scheduler = self._scheduler
        return [job.id for job in scheduler.get_jobs()] if scheduler is not None else []

    def _first_run(self, job: Job, trigger: BaseTrigger, now: datetime) -> datetime:
        """The job's turn as `job_runs` has it (at once if it fell due meanwhile); a new job's first turn is
        written down, so a process restarted more often than a job's interval still runs it."""
        with self.runtime.database.session_scope() as session:
            row = session.get(JobRun, job.id)
            if row is not None:
                return max(aware(row.next_run_at, now) or now, now)
            first = next_run(trigger, now)
            session.add(JobRun(job_id=job.id, next_run_at=first))
            return first

    def _runner(self, job: Job, trigger: BaseTrigger) -> Callable[[], None]:
        runtime = self.runtime

        def run() -> None:
            now = _as_utc(runtime.assistant.clock())
            error = run_job(runtime, job, now)
            try:
                with runtime.database.session_scope() as session:
                    session.merge(
                        JobRun(job_id=job.id, next_run_at=next_run(trigger, now), last_run_at=now, last_error=error)
                    )
            except SQLAlchemyError:
                log.warning("could not record the run of job %s", job.id, exc_info=True)

        return run

    def _stop_jobs(self, *, wait: bool) -> None:
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=wait)

    def _report(self, leading: bool) -> None:
        if leading == self._reported:
            return
        self._reported = leading
        if leading:
            log.info("scheduler leader: %s", self.holder)
            return
        try:
            other = self.lease.current_holder()
        except SQLAlchemyError:
            other = "unknown (database unreachable)"
        log.info("scheduler standby: %s (lease held by %s)", self.holder, other)


def make_trigger(job: Job) -> BaseTrigger:
    """The APScheduler trigger of a job's schedule, in UTC."""
    if job.trigger == "interval":
        return IntervalTrigger(timezone="UTC", **job.trigger_args)
    return CronTrigger(timezone="UTC", **job.trigger_args)


def next_run(trigger: BaseTrigger, after: datetime) -> datetime:
    """The job's next turn after a run at `after`."""
    if isinstance(trigger, IntervalTrigger):
        interval: timedelta = trigger.interval
        return after + interval
    following: datetime | None = trigger.get_next_fire_time(None, after)
    if following is None:  # a cron rule that never fires again (none of ours)
        raise ValueError(f"the schedule {trigger} has no run after {after:%Y-%m-%d %H:%M}")
    return following.astimezone(UTC)


def run_job(runtime: Runtime, job: Job, now: datetime | None = None) -> str | None:
    """Run one job as the leader does: with a context from `runtime`, then deliver what it queued at once rather
    than at the next pass (unless the job just did). Returns the error, if it failed (logged; the next turn runs
    it again)."""
    context = JobContext(database=runtime.database, settings=runtime.settings, now=now or runtime.assistant.clock())
    try:
        job.run(context)
        if not job.delivers_outbox:
            runtime.outbox.deliver_pending()
    except Exception as exc:
        log.exception("scheduled job %s failed", job.id)
        return f"{type(exc).__name__}: {exc}"[:2000]
    return None
