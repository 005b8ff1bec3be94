"""Adding a skill is one package plus one line in skills/registry.py (README, "Adding a skill"): the example
parking skill in tests/example_skill, added to the list as that line would, is routed to by its examples, gets
its own button clicks back, and writes in the assistant's transaction; no other part of the platform changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import runtime as runtime_module
from bot.models import AuditEntry
from bot.runtime import Runtime, bootstrap_samples, build_runtime
from bot.scheduler import run_job
from skills.base import Skill
from skills.registry import build_skills
from tests.chat import button, click, say
from tests.conftest import make_settings
from tests.example_skill.skill import CANCEL, ParkingSkill


@pytest.fixture
def with_parking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    def skills_with_parking(*args: object, **kwargs: object) -> list[Skill]:
        return [*build_skills(*args, **kwargs), ParkingSkill()]  # type: ignore[arg-type]  # the one line

    monkeypatch.setattr(runtime_module, "build_skills", skills_with_parking)
    rt = build_runtime(make_settings(tmp_path, f"sqlite:///{tmp_path / 'parking.db'}"))
    bootstrap_samples(rt)
    yield rt
    rt.close()


def test_an_added_skill_is_routed_to_gets_its_clicks_and_writes(with_parking: Runtime) -> None:
    booked = say(with_parking, "U0000DEVONE", "could you book me a parking space for thursday?")
    assert booked.skill == "parking" and "Booked a parking spot" in booked.text
    cancelled = click(with_parking, "U0000DEVONE", CANCEL, button(booked, CANCEL))
    assert cancelled.text == "Your parking spot is cancelled."
    # The other skills are untouched by it.
    assert say(with_parking, "U0000DEVONE", "my laptop won't turn on").skill == "it"
    with with_parking.database.session_scope() as session:
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "parking")).all()
    assert actions == ["booked", "cancelled"]


def test_an_added_skills_job_is_scheduled_and_runs_with_its_context(with_parking: Runtime) -> None:
    job = with_parking.job("parking_release")
    assert (job.trigger, dict(job.trigger_args)) == ("cron", {"hour": 10})
    assert run_job(with_parking, job) is None
    with with_parking.database.session_scope() as session:
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "parking")).all()
    assert actions == ["released"]
