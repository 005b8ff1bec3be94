"""The weekly digest: last week's figures posted once to the HR and IT channels through the outbox, on real
SQLite and PostgreSQL databases and the Slack stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import digest
from bot.db import Database
from bot.migrate import upgrade
from bot.models import AuditEntry, ChatMessage, DigestPost, Employee, Escalation, Feedback, LeaveRequest, OutboxItem
from bot.runtime import Runtime, build_runtime
from bot.scheduler import run_job
from skills.it.config import load_it_config
from skills.it.models import Ticket
from tests.conftest import make_settings
from tests.slack_standin import SlackStandIn

pytestmark = pytest.mark.calendar  # `make test-dates` runs these at odd moments

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday: the digest covers 16–22 Nov
HR, IT = "C0HRQUEUE1", "C0ITQUEUE1"
SECRET = "my chemotherapy schedule"


def at(day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def seed_week(session: Session) -> None:
    """A small week whose figures are worked out by hand in the assertions."""
    p = {name: Employee(slack_id=f"U0{name.upper()}", name=name) for name in ("ana", "ben", "cai", "dee", "eve")}
    session.add_all(p.values())
    session.flush()

    def message(who: Employee, skill: str, when: datetime, direction: str = "in") -> ChatMessage:
        row = ChatMessage(channel="D0DM", direction=direction, employee_id=who.id, skill=skill, created_at=when)
        session.add(row)
        session.flush()
        return row

    # The week before (9–15 Nov), whose 7-day windows have closed: 4 policy questions, Ana's followed by a
    # ticket two days later → 3 of 4 deflected.
    for who, day in (("ana", 10), ("ben", 11), ("cai", 12), ("dee", 13)):
        message(p[who], "policy", at(day))
    session.add(Ticket(requester_id=p["ana"].id, title="x", description="x", category="hardware", priority="P3",
                       status="new", channel="D0DM", created_at=at(12), updated_at=at(12)))  # fmt: skip
    # This week: 3 policy messages and 1 leave message.
    for who, skill, day in (("eve", "policy", 17), ("ben", "policy", 18), ("cai", "policy", 18), ("ana", "leave", 19)):
        message(p[who], skill, at(day))
    answer = message(p["eve"], "policy", at(17, 10), direction="out")
    for who, value in (("ana", 1), ("ben", 1), ("cai", 1), ("dee", -1)):
        session.add(Feedback(message_id=answer.id, employee_id=p[who].id, value=value, created_at=at(17, 11)))
    # Eve, who asked nothing the week before (so the deflection above stays 3 of 4): two similar HR requests
    # (one answered after 2 h), a confidential one that must not show anywhere, and two tickets.
    first = Escalation(employee_id=p["eve"].id, question="How do I claim parental leave?", status="answered",
                       created_at=at(17))  # fmt: skip
    second = Escalation(employee_id=p["eve"].id, question="Can I claim parental leave twice?", created_at=at(18))
    secret = Escalation(employee_id=p["eve"].id, question=f"Who sees {SECRET}?", sensitive=True, created_at=at(18))
    session.add_all([first, second, secret])
    session.flush()
    session.add(AuditEntry(at=at(17, 11), entity="escalation", entity_id=first.id, action="answered",
                           from_state="open", to_state="answered"))  # fmt: skip
    # Two P2 tickets: responses after 10 and 30 min, resolved after 2 h and 4 h (targets 1 h / 8 h).
    for day, response, hours in ((17, 10, 2), (18, 30, 4)):
        session.add(Ticket(requester_id=p["eve"].id, title="VPN", description="VPN", category="network",
                           priority="P2", status="resolved", channel="D0DM", created_at=at(day),
                           updated_at=at(day), first_response_at=at(day, 9, response),
                           resolved_at=at(day, 9 + hours)))  # fmt: skip
    # One leave request approved 3 h after it was submitted.
    session.add(LeaveRequest(employee_id=p["ana"].id, leave_type="vacation", start_date=date(2026, 12, 1),
                             end_date=date(2026, 12, 2), days=Decimal("2"), status="approved", channel="D0DM",
                             submitted_at=at(19), decided_at=at(19, 12)))  # fmt: skip


HR_LINES = [
    "*Weekly HR digest — 16–22 Nov 2026 (UTC)*",
    "• Messages to the bot: 4 (policy 3 · leave 1)",
    "• Deflection of policy questions: 75% — 3 of 4 questions asked 9–15 Nov 2026 were not followed by a ticket"
    " or HR request within 7 days",
    "• Answer feedback: 👍 3 · 👎 1 (75% positive)",
    "• Opened: 2 · 1 awaiting an answer · 2 not resolved",
    "• First response: median 2.0 h · p90 2.0 h (1 answered)",
    "• Resolution: no data",
    "• Leave: 1 submitted — 1 approved, 0 denied, 0 pending · time to decision median 3.0 h · p90 3.0 h",
    "• Expenses: no data",
    "1. ×2 “How do I claim parental leave?”",
]
IT_LINES = [
    "*Weekly IT digest — 16–22 Nov 2026 (UTC)*",
    "• Tickets opened: 2 · 0 awaiting a first response · 0 not resolved",
    # 600 s and 1800 s: median 1200 s = 20 min; p90 600 + 0.9 × 1200 = 1680 s = 28 min.
    "• First response: median 20 min · p90 28 min (2 responded)",
    # 7200 s and 14400 s: median 10800 s = 3.0 h; p90 7200 + 0.9 × 7200 = 13680 s = 3.8 h.
    "• Resolution: median 3.0 h · p90 3.8 h (2 resolved)",
    "• SLA met — response: 100% (2 of 2, 0 pending) · resolution: 100% (2 of 2, 0 pending)",
    "• Deflection of how-to questions: no data (questions asked 9–15 Nov 2026)",
]


@pytest.fixture
def digest_runtime(tmp_path: Path, database_url: str, slack: SlackStandIn) -> Iterator[Runtime]:
    """The system without samples, with HR and IT channels in the Slack stand-in and a fixed clock."""
    rt = build_runtime(make_settings(tmp_path, database_url, slack, BACKOFFICE_IT_CHANNEL=IT))
    rt.assistant.clock = lambda: NOW
    yield rt
    rt.close()


def test_the_job_posts_each_weekly_digest_once(digest_runtime: Runtime, slack: SlackStandIn) -> None:
    with digest_runtime.database.session_scope() as session:
        seed_week(session)

    job = digest_runtime.job("weekly_digest")
    assert run_job(digest_runtime, job) is None
    assert run_job(digest_runtime, job) is None  # the same week again: nothing new
    digest_runtime.assistant.clock = lambda: NOW + timedelta(hours=1)
    assert run_job(digest_runtime, job) is None  # the next hourly run

    [hr_post], [it_post] = slack.posts_in(HR), slack.posts_in(IT)
    for line in HR_LINES:
        assert line in hr_post["text"].splitlines(), line
    for line in IT_LINES:
        assert line in it_post["text"].splitlines(), line
    assert SECRET not in hr_post["text"] and SECRET not in it_post["text"]
    assert "2." not in hr_post["text"].split("*Top unanswered questions*")[1]  # one cluster, and not the secret
    with digest_runtime.database.session_scope() as session:
        items = session.scalars(select(OutboxItem).order_by(OutboxItem.id)).all()
        assert [(i.channel, i.status) for i in items] == [(HR, "done"), (IT, "done")]
        posts = session.execute(select(DigestPost.kind, DigestPost.period, DigestPost.outbox_id)).all()
        assert sorted(posts) == [("hr", "2026-W47", items[0].id), ("it", "2026-W47", items[1].id)]


def test_the_job_is_registered_hourly(digest_runtime: Runtime) -> None:
    job = digest_runtime.job("weekly_digest")
    assert (job.trigger, dict(job.trigger_args)) == ("cron", {"minute": 0})


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    upgrade(database_url)
    db = Database(database_url)
    yield db
    db.dispose()


def post(database: Database, now: datetime) -> list[str]:
    with database.session_scope() as session:
        items = digest.post_weekly_digests(
            session, now=now, hr_destination=HR, it_destination=IT, it_config=load_it_config(), deflection_days=7
        )
        return [item.text for item in items]


def test_nothing_is_posted_before_monday_eight_and_each_week_once(database: Database) -> None:
    assert post(database, at(23, 7, 59)) == []
    assert len(post(database, at(23, 8, 0))) == 2
    assert post(database, at(27, 15)) == []  # later in the same week: last week's digest is out
    texts = post(database, at(30, 8, 0))  # the next Monday: the week of 23–29 Nov
    assert [t.splitlines()[0] for t in texts] == [
        "*Weekly HR digest — 23–29 Nov 2026 (UTC)*",
        "*Weekly IT digest — 23–29 Nov 2026 (UTC)*",
    ]
    with database.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(OutboxItem)) == 4


def test_an_empty_week_says_no_data(database: Database) -> None:
    hr, it = post(database, NOW)
    assert "• Messages to the bot: 0" in hr.splitlines()
    assert "• Answer feedback: no data" in hr.splitlines()
    assert "• First response: no data" in hr.splitlines() and "• Leave: no data" in hr.splitlines()
    assert hr.rstrip().endswith("*Top unanswered questions*\nno data")
    assert "• Tickets opened: 0" in it.splitlines()
    assert "• SLA met — response: no data (0 pending) · resolution: no data (0 pending)" in it.splitlines()


def test_digest_week_key_and_formats() -> None:
    assert digest.digest_week(NOW) == (at(16, 0), at(23, 0))
    assert digest.digest_week(at(22, 23, 59)) == (at(9, 0), at(16, 0))  # Sunday night: the week before
    assert digest.week_key(at(16, 0)) == "2026-W47"
    assert digest.week_key(datetime(2026, 12, 28, tzinfo=UTC)) == "2026-W53"
    assert digest.format_span(datetime(2026, 11, 30, tzinfo=UTC), datetime(2026, 12, 7, tzinfo=UTC)) == (
        "30 Nov – 6 Dec 2026"
    )
    assert digest.format_span(datetime(2026, 12, 28, tzinfo=UTC), datetime(2027, 1, 4, tzinfo=UTC)) == (
        "28 Dec 2026 – 3 Jan 2027"
    )
    assert [digest.format_duration(s) for s in (None, 45, 720, 12_600, 183_000)] == [
        "no data",
        "45 s",
        "12 min",
        "3.5 h",
        "2.1 days",
    ]


def test_questions_in_the_slack_digest_cannot_ping_or_link(digest_runtime: Runtime, slack: SlackStandIn) -> None:
    from bot import digest

    with digest_runtime.database.session_scope() as session:
        asker = Employee(slack_id="U0ASKER001", name="Asker")
        session.add(asker)
        session.flush()
        question = "<!channel> is the <https://evil.example|handbook> right about R&D leave?"
        session.add(Escalation(employee_id=asker.id, question=question, sources=[], created_at=at(18)))
        session.flush()
        start, end = digest.digest_week(NOW)
        for_slack = digest.hr_digest(session, start=start, end=end, now=NOW, deflection_days=7)
        for_web = digest.hr_digest(session, start=start, end=end, now=NOW, deflection_days=7, slack=False)
    assert "&lt;!channel&gt; is the &lt;https://evil.example|handbook&gt; right about R&amp;D leave?" in for_slack
    assert "<!channel>" not in for_slack and question in for_web
