"""Scheduled jobs: what a skill (its `jobs`) or the platform runs on a timer. A job is a function of a
`JobContext` (the database, the settings and the time now), handed to it by the scheduler leader
(bot.scheduler) at each run: no module-global state."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from bot.db import Database
from bot.settings import Settings


@dataclass(frozen=True)
class JobContext:
    """What a scheduled job works with."""

    database: Database
    settings: Settings
    now: datetime


@dataclass(frozen=True)
class Job:
    """A job to run on a timer: an interval ({"minutes": 15}) or a cron rule ({"minute": 0}, in UTC). Every job
    is a catch-up (it does what is due, once), so a run late or twice does no harm. The messages a job queues are
    delivered right after it, unless it delivers them itself (`delivers_outbox`: the pass over the queues)."""

    id: str
    run: Callable[[JobContext], object]
    trigger: Literal["interval", "cron"]
    trigger_args: Mapping[str, Any] = field(default_factory=dict)
    delivers_outbox: bool = False


def job_ids(jobs: Sequence[Job]) -> list[str]:
    """The ids of `jobs`, refusing two jobs with one id (two skills would share a schedule row)."""
    ids = [job.id for job in jobs]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise ValueError(f"two scheduled jobs share an id: {', '.join(twice)}")
    return ids
