"""Key figures (bot.insights) on real SQLite and PostgreSQL databases, each checked against numbers worked out
by hand from a seeded scenario."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from bot import escalations, insight_measures, insights
from bot.db import Database
from bot.migrate import upgrade
from bot.models import AuditEntry, ChatMessage, Employee, Escalation, Expense, Feedback, LeaveRequest
from skills.it.config import load_it_config
from skills.it.models import Ticket

START = datetime(2026, 11, 16, tzinfo=UTC)  # a Monday
END = datetime(2026, 11, 23, tzinfo=UTC)
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
H = 3600


def at(day: int, hour: int = 9, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    upgrade(database_url)
    db = Database(database_url)
    yield db
    db.dispose()


def people(session: Session, *names: str) -> dict[str, Employee]:
    found = {name: Employee(slack_id=f"U0{name.upper()}", name=name) for name in names}
    session.add_all(found.values())
    session.flush()
    return found


def inbound(session: Session, who: Employee, skill: str, when: datetime, text: str = "a question") -> ChatMessage:
    message = ChatMessage(channel="D0DM", direction="in", employee_id=who.id, skill=skill, text=text, created_at=when)
    session.add(message)
    session.flush()
    return message


def ticket(session: Session, who: Employee, created: datetime, **values: object) -> Ticket:
    row = Ticket(
        requester_id=who.id,
        title="Laptop",
        description="Laptop",
        category="hardware",
        priority=values.pop("priority", "P3"),
        status=values.pop("status", "new"),
        channel="D0DM",
        created_at=created,
        updated_at=created,
        **values,
    )
    session.add(row)
    session.flush()
    return row


def escalation(session: Session, who: Employee, created: datetime, question: str = "?", **values: object) -> Escalation:
    row = Escalation(employee_id=who.id, question=question, status="open", created_at=created, **values)
    session.add(row)
    session.flush()
    return row


def moved(session: Session, row: Escalation, to_state: str, when: datetime) -> None:
    """The audit row bot.escalations.transition writes, at a chosen time."""
    session.add(
        AuditEntry(
            at=when,
            entity="escalation",
            entity_id=row.id,
            action=to_state,
            from_state=row.status,
            to_state=to_state,
        )
    )
    row.status = to_state
    session.flush()


# ------------------------------------------------------------------------------------------------ deflection


def seed_deflection(session: Session) -> None:
    p = people(session, "ana", "ben", "cai", "dee", "eve", "fay", "gus", "hal")
    # Ana asks on 3 Nov and opens a ticket two days later: followed up.
    inbound(session, p["ana"], "policy", at(3, 10))
    ticket(session, p["ana"], at(5, 10))
    inbound(session, p["ana"], "leave", at(4, 10))  # a leave request: not a question
    # Ben's question was escalated by the bot a second later: followed up.
    inbound(session, p["ben"], "policy", at(4, 10))
    escalation(session, p["ben"], at(4, 10) + timedelta(seconds=1))
    # Cai goes to HR nine days later: outside the 7-day window, so deflected.
    inbound(session, p["cai"], "policy", at(5, 10))
    escalation(session, p["cai"], at(14, 10))
    # Dee had opened a ticket the day before asking; nothing after: deflected.
    ticket(session, p["dee"], at(5, 10))
    inbound(session, p["dee"], "policy", at(6, 10))
    # Fay's ticket comes exactly 7 days later: the window [asked, asked + 7 days) is over, so deflected.
    inbound(session, p["fay"], "policy", at(7, 10))
    ticket(session, p["fay"], at(14, 10))
    # Eve asked two days before now: her window is still open, so pending.
    inbound(session, p["eve"], "policy", at(21, 10))
    # Gus asks IT a how-to question, gets an answer from the knowledge base, opens a ticket the next day.
    asked = inbound(session, p["gus"], "it", at(9, 10), "how do I set up the VPN?")
    session.add(
        ChatMessage(
            channel="D0DM",
            direction="out",
            skill="it",
            text="Open the VPN app…",
            created_at=at(9, 10) + timedelta(seconds=1),
            payload={
                "feedback": True,
                "citations": [],
                "buttons": [
                    {"action_id": "it:open_ticket", "text": "Still stuck?", "value": str(asked.id), "style": None}
                ],
            },
        )
    )
    ticket(session, p["gus"], at(10, 10))
    # Hal reports a problem; the IT skill opens a ticket at once: a problem report, not a question.
    inbound(session, p["hal"], "it", at(9, 11), "my laptop is broken")
    ticket(session, p["hal"], at(9, 11))
    # Outside the period: not counted.
    inbound(session, p["hal"], "policy", at(1, 10))


def test_deflection_is_worked_out_by_hand(database: Database) -> None:
    with database.session_scope() as session:
        seed_deflection(session)
    period: dict[str, Any] = {"start": at(2, 0), "end": at(23, 0), "now": NOW, "window_days": 7}
    with database.session_scope() as session:
        policy = insights.deflection(session, skills=("policy",), **period)
        it = insights.deflection(session, skills=("it",), **period)
        both = insights.deflection(session, **period)

    # Policy: 6 questions (Ana, Ben, Cai, Dee, Fay, Eve); Ana and Ben followed up; Cai (HR after 9 days),
    # Dee (ticket before asking) and Fay (ticket exactly 7 days later) deflected; Eve pending → 3 / (3 + 2).
    assert policy == insights.Deflection(questions=6, deflected=3, followed_up=2, pending=1, window_days=7, rate=0.6)
    # IT: Gus's how-to question followed by a ticket; Hal's problem report is not a question → 0 / 1.
    assert it == insights.Deflection(questions=1, deflected=0, followed_up=1, pending=0, window_days=7, rate=0.0)
    # Both: 7 questions, 3 deflected, 3 followed up, 1 pending → 3 / 6 = 0.5.
    assert both.rate == 0.5 and (both.questions, both.deflected, both.followed_up, both.pending) == (7, 3, 3, 1)


def test_a_question_counts_once_its_window_has_closed(database: Database) -> None:
    with database.session_scope() as session:
        seed_deflection(session)
    with database.session_scope() as session:
        # Eve asked on 21 Nov 10:00; at 28 Nov 10:00 her 7 days are over and nobody followed up: 4 / (4 + 2).
        later = insights.deflection(
            session, start=at(2, 0), end=at(23, 0), now=at(28, 10), window_days=7, skills=("policy",)
        )
        # A 10-day window takes in Cai's escalation after 9 days and Fay's ticket after 7: only Dee is deflected,
        # Eve is pending again → 1 / (1 + 4).
        wider = insights.deflection(session, start=at(2, 0), end=at(23, 0), now=NOW, window_days=10, skills=("policy",))
    assert (later.deflected, later.followed_up, later.pending, later.rate) == (4, 2, 0, 4 / 6)
    assert (wider.deflected, wider.followed_up, wider.pending, wider.rate) == (1, 4, 1, 0.2)


# ------------------------------------------------------------------------------------------------ messages, feedback


def test_messages_per_skill_per_day(database: Database) -> None:
    with database.session_scope() as session:
        p = people(session, "ana")["ana"]
        inbound(session, p, "policy", at(16, 8))
        inbound(session, p, "policy", at(16, 17))
        inbound(session, p, "leave", at(16, 12))
        inbound(session, p, "policy", at(18, 9))
        inbound(session, p, "it", at(18, 23, 59))
        inbound(session, p, "it", at(19, 0))  # the end of the period: excluded
        inbound(session, p, "it", at(15, 23, 59))  # before it
        session.add(ChatMessage(channel="D0DM", direction="out", skill="policy", text="answer", created_at=at(16, 9)))
    # The same instants given in another zone: 01:00+01:00 is midnight UTC.
    plus_one = timezone(timedelta(hours=1))
    with database.session_scope() as session:
        chart = insights.messages_per_skill_per_day(
            session, start=datetime(2026, 11, 16, 1, tzinfo=plus_one), end=datetime(2026, 11, 19, 1, tzinfo=plus_one)
        )
    assert chart == insights.MessagesPerDay(
        days=(date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18)),
        series=(
            insights.SkillSeries("policy", (2, 0, 1), 3),
            insights.SkillSeries("it", (0, 0, 1), 1),  # ties by name
            insights.SkillSeries("leave", (1, 0, 0), 1),
        ),
        total=5,
    )


def test_answer_feedback(database: Database) -> None:
    with database.session_scope() as session:
        voters = list(people(session, "ana", "ben", "cai", "dee", "eve").values())
        answer = ChatMessage(channel="D0DM", direction="out", skill="policy", text="answer", created_at=at(16))
        session.add(answer)
        session.flush()
        for who, value, when in zip(voters, (1, 1, 1, -1, 1), (at(16), at(17), at(18), at(19), at(10)), strict=True):
            session.add(Feedback(message_id=answer.id, employee_id=who.id, value=value, created_at=when))
    with database.session_scope() as session:
        votes = insights.answer_feedback(session, start=START, end=END)
    # 3 up and 1 down in the week (the 10 Nov vote is outside): 3 / 4.
    assert votes == insights.FeedbackSummary(up=3, down=1, share_positive=0.75)


# ------------------------------------------------------------------------------------------------ tickets


def seed_tickets(session: Session) -> None:
    ana = people(session, "ana")["ana"]
    # T1 P2: response 10 min, resolved after 4 h — both within 1 h / 8 h.
    ticket(
        session,
        ana,
        at(16, 9),
        priority="P2",
        status="resolved",
        first_response_at=at(16, 9, 10),
        resolved_at=at(16, 13),
    )
    # T2 P2: response after 90 min (breach); resolved after 24 h of which 18 h waiting on the requester: 6 h, met.
    ticket(
        session,
        ana,
        at(16, 10),
        priority="P2",
        status="closed",
        first_response_at=at(16, 11, 30),
        resolved_at=at(17, 10),
        paused_seconds=18 * H,
    )
    # T3 P1: response 5 min (met), resolved after 6 h > 4 h (breach).
    ticket(
        session,
        ana,
        at(17, 9),
        priority="P1",
        status="resolved",
        first_response_at=at(17, 9, 5),
        resolved_at=at(17, 15),
    )
    # T4 P3: response 1 h (met within 4 h); still open 5 days later > 24 h: resolution breached.
    ticket(session, ana, at(18, 9), priority="P3", status="in_progress", first_response_at=at(18, 10))
    # T5 P4: 13 h old without a response: both targets (24 h, 72 h) still ahead, pending.
    ticket(session, ana, at(22, 20), priority="P4", status="new")
    # T6 P1: 25 h old without a response: both breached.
    ticket(session, ana, at(22, 8), priority="P1", status="new")
    # T8 P3: a duplicate closed after 30 min without being resolved: response met, not counted for resolution.
    ticket(session, ana, at(19, 9), priority="P3", status="closed", first_response_at=at(19, 9, 30))
    # T9 P2: response 30 min; waiting on the requester since 20 Nov 10:00, so its clock shows 1 h: pending.
    ticket(
        session,
        ana,
        at(20, 9),
        priority="P2",
        status="waiting",
        first_response_at=at(20, 9, 30),
        waiting_since=at(20, 10),
    )
    # The week before: not counted.
    ticket(session, ana, at(15, 9), priority="P1", status="new")


def test_ticket_response_and_resolution_times(database: Database) -> None:
    with database.session_scope() as session:
        seed_tickets(session)
    with database.session_scope() as session:
        times = insights.ticket_response_times(session, start=START, end=END)
    # First responses (s): T3 300, T1 600, T8 1800, T9 1800, T4 3600, T2 5400.
    # Median (1800 + 1800) / 2 = 1800; p90 at rank 0.9 × 5 = 4.5 → 3600 + 0.5 × (5400 − 3600) = 4500.
    # Resolutions (wall clock, s): T1 14400, T3 21600, T2 86400. Median 21600; p90 at rank 1.8 → 21600 + 0.8 × 64800.
    assert times == insights.ResponseTimes(
        opened=8,
        first_response=insight_measures.Durations(count=6, median_seconds=1800.0, p90_seconds=4500.0),
        resolution=insight_measures.Durations(count=3, median_seconds=21600.0, p90_seconds=73440.0),
        awaiting_response=2,  # T5, T6
        unresolved=5,  # T4, T5, T6, T8, T9
    )


def test_ticket_sla_compliance(database: Database) -> None:
    with database.session_scope() as session:
        seed_tickets(session)
    with database.session_scope() as session:
        sla = insights.ticket_sla_compliance(session, start=START, end=END, now=NOW, config=load_it_config())
    # Response: met T1 T3 T4 T8 T9, breached T2 T6, pending T5 → 5 / 7.
    assert sla.response == insights.SlaShare(met=5, breached=2, pending=1, share_met=5 / 7)
    # Resolution: met T1 T2, breached T3 T4 T6, pending T5 T9; T8 closed unresolved is left out → 2 / 5.
    assert sla.resolution == insights.SlaShare(met=2, breached=3, pending=2, share_met=0.4)


def test_a_target_met_to_the_second_counts_as_met(database: Database) -> None:
    with database.session_scope() as session:
        ana = people(session, "ana")["ana"]
        # P1: 15 min to respond, 4 h to resolve (skills/it/it_config.yml): exactly both.
        ticket(
            session,
            ana,
            at(16, 9),
            priority="P1",
            status="resolved",
            first_response_at=at(16, 9, 15),
            resolved_at=at(16, 13),
        )
        # P1 still open at exactly 4 h on its clock: breached, as the SLA watch says.
        ticket(session, ana, at(16, 10), priority="P1", status="in_progress", first_response_at=at(16, 10, 16))
    with database.session_scope() as session:
        sla = insights.ticket_sla_compliance(session, start=START, end=END, now=at(16, 14), config=load_it_config())
    assert sla.response == insights.SlaShare(met=1, breached=1, pending=0, share_met=0.5)
    assert sla.resolution == insights.SlaShare(met=1, breached=1, pending=0, share_met=0.5)


# ------------------------------------------------------------------------------------------------ HR requests


def test_escalation_times_come_from_the_audit_log(database: Database) -> None:
    with database.session_scope() as session:
        p = people(session, "ana")["ana"]
        e1 = escalation(session, p, at(16, 9))
        moved(session, e1, "answered", at(16, 11))  # 7200 s
        moved(session, e1, "resolved", at(17, 9))  # 86400 s
        e2 = escalation(session, p, at(17, 9))
        moved(session, e2, "resolved", at(17, 9, 30))  # resolved without an answer: 1800 s for both
        e3 = escalation(session, p, at(18, 9))
        moved(session, e3, "answered", at(19, 9))  # 86400 s, not resolved
        escalation(session, p, at(19, 9))  # still open
        secret = escalation(session, p, at(18, 9), sensitive=True)
        moved(session, secret, "answered", at(18, 9, 10))
        old = escalation(session, p, at(10, 9))
        moved(session, old, "answered", at(16, 10))  # opened the week before: not in this cohort
    with database.session_scope() as session:
        times = insights.escalation_response_times(session, start=START, end=END)
        with_sensitive = insights.escalation_response_times(session, start=START, end=END, include_sensitive=True)
    # First responses: 1800, 7200, 86400 → median 7200; p90 at rank 1.8 → 7200 + 0.8 × 79200 = 70560.
    # Resolutions: 1800, 86400 → median 44100; p90 at rank 0.9 → 1800 + 0.9 × 84600 = 77940.
    assert times == insights.ResponseTimes(
        opened=4,
        first_response=insight_measures.Durations(count=3, median_seconds=7200.0, p90_seconds=70560.0),
        resolution=insight_measures.Durations(count=2, median_seconds=44100.0, p90_seconds=77940.0),
        awaiting_response=1,
        unresolved=2,
    )
    assert (with_sensitive.opened, with_sensitive.first_response.count) == (5, 4)


def test_escalation_times_follow_the_real_transitions(database: Database) -> None:
    """The audit actions insights reads are the ones bot.escalations writes."""
    with database.session_scope() as session:
        p = people(session, "ana", "priya")
        p["priya"].roles = "hr"
        row = escalations.create_escalation(
            session, employee=p["ana"], conversation=None, question="Can I carry over vacation?", sources=[]
        )
        escalations.transition(session, row, "answered", actor=p["priya"], answer="Yes, 5 days.")
        escalations.transition(session, row, "resolved", actor=p["priya"])
    now = datetime.now(UTC)
    with database.session_scope() as session:
        times = insights.escalation_response_times(
            session, start=now - timedelta(hours=1), end=now + timedelta(hours=1)
        )
    assert (times.opened, times.first_response.count, times.resolution.count, times.unresolved) == (1, 1, 1, 0)


# ------------------------------------------------------------------------------------------------ approvals


def leave(session: Session, who: Employee, status: str, submitted: datetime | None, decided: datetime | None) -> None:
    session.add(
        LeaveRequest(
            employee_id=who.id,
            leave_type="vacation",
            start_date=date(2026, 12, 1),
            end_date=date(2026, 12, 2),
            days=Decimal("2"),
            status=status,
            channel="D0DM",
            submitted_at=submitted,
            decided_at=decided,
        )
    )


def claim(session: Session, who: Employee, status: str, submitted: datetime | None, decided: datetime | None) -> None:
    session.add(
        Expense(
            employee_id=who.id,
            status=status,
            amount=Decimal("12.50"),
            currency="EUR",
            base_amount=Decimal("12.50"),
            base_currency="EUR",
            rate=Decimal("1"),
            spent_on=date(2026, 11, 10),
            category="meals",
            channel="D0DM",
            submitted_at=submitted,
            decided_at=decided,
        )
    )


def test_leave_approval_times(database: Database) -> None:
    with database.session_scope() as session:
        p = people(session, "ana")["ana"]
        leave(session, p, "approved", at(16, 9), at(16, 12))  # 10800 s
        leave(session, p, "denied", at(17, 9), at(18, 9))  # 86400 s
        leave(session, p, "cancelled", at(18, 9), at(18, 10))  # approved, then cancelled: 3600 s
        leave(session, p, "pending", at(19, 9), None)
        leave(session, p, "withdrawn", at(19, 10), None)
        leave(session, p, "approved", None, at(19, 11))  # a type without approval: never submitted
        leave(session, p, "approved", at(10, 9), at(16, 9))  # submitted the week before
    with database.session_scope() as session:
        times = insights.leave_approval_times(session, start=START, end=END)
    # 3600, 10800, 86400 → median 10800; p90 at rank 1.8 → 10800 + 0.8 × 75600 = 71280.
    assert times == insights.ApprovalTimes(
        submitted=5,
        approved=2,
        declined=1,
        pending=1,
        time_to_decision=insight_measures.Durations(count=3, median_seconds=10800.0, p90_seconds=71280.0),
    )


def test_expense_approval_times(database: Database) -> None:
    with database.session_scope() as session:
        p = people(session, "ana")["ana"]
        claim(session, p, "approved", at(16, 9), at(16, 9, 30))  # 1800 s
        claim(session, p, "reimbursed", at(16, 10), at(18, 10))  # 172800 s
        claim(session, p, "rejected", at(17, 9), at(17, 11))  # 7200 s
        claim(session, p, "manager_approved", at(17, 9), at(17, 10))  # waits for finance: pending
        claim(session, p, "submitted", at(18, 9), None)
        claim(session, p, "draft", None, None)
    with database.session_scope() as session:
        times = insights.expense_approval_times(session, start=START, end=END)
    # 1800, 7200, 172800 → median 7200; p90 at rank 1.8 → 7200 + 0.8 × 165600 = 139680.
    assert times == insights.ApprovalTimes(
        submitted=5,
        approved=2,
        declined=1,
        pending=2,
        time_to_decision=insight_measures.Durations(count=3, median_seconds=7200.0, p90_seconds=139680.0),
    )


# ------------------------------------------------------------------------------------------------ unanswered


def test_unanswered_questions_are_clustered_without_sensitive_ones(database: Database) -> None:
    with database.session_scope() as session:
        p = people(session, "ana")["ana"]
        asked = [
            "How do I claim parental leave?",  # claim parent leav
            "Is the gym membership reimbursed?",  # gym membership reimburs
            "Can I claim parental leave twice?",  # claim parent leav twice: 3/4 shared
            "Where is the office wifi password",  # offic wifi password: alone
            "gym membership reimbursement",  # the same three stems as the gym question
            "parental leave claim form",  # claim parent leav form: 3/4 shared
        ]
        for hour, question in enumerate(asked, start=9):
            escalation(session, p, at(17, hour), question)
        escalation(session, p, at(18, 9), "parental leave claim after my surgery", sensitive=True)
        escalation(session, p, at(18, 10), "I am being harassed by my manager")  # not flagged, but reads so
        escalation(session, p, at(10, 9), "Where is the office wifi password")  # the week before
    with database.session_scope() as session:
        clusters = insights.unanswered_question_clusters(session, start=START, end=END)
    assert [(c.count, c.example) for c in clusters] == [
        (3, "How do I claim parental leave?"),
        (2, "Is the gym membership reimbursed?"),
        (1, "Where is the office wifi password"),
    ]
    assert clusters[0].terms == ("claim", "leav", "parent")
    assert not any("surgery" in c.example or "harass" in c.example for c in clusters)
    assert sum(len(c.escalation_ids) for c in clusters) == 6


# ------------------------------------------------------------------------------------------------ empty and size


def test_an_empty_database_gives_zeros_and_none(database: Database) -> None:
    none = insight_measures.Durations(count=0, median_seconds=None, p90_seconds=None)
    with database.session_scope() as session:
        assert insights.deflection(session, start=START, end=END, now=NOW, window_days=7) == insights.Deflection(
            questions=0, deflected=0, followed_up=0, pending=0, window_days=7, rate=None
        )
        chart = insights.messages_per_skill_per_day(session, start=START, end=END)
        assert (len(chart.days), chart.series, chart.total) == (7, (), 0)
        assert insights.answer_feedback(session, start=START, end=END) == insights.FeedbackSummary(0, 0, None)
        for times in (
            insights.ticket_response_times(session, start=START, end=END),
            insights.escalation_response_times(session, start=START, end=END),
        ):
            assert times == insights.ResponseTimes(0, none, none, 0, 0)
        empty_share = insights.SlaShare(0, 0, 0, None)
        sla = insights.ticket_sla_compliance(session, start=START, end=END, now=NOW, config=load_it_config())
        assert sla == insights.SlaCompliance(empty_share, empty_share)
        for approvals in (
            insights.leave_approval_times(session, start=START, end=END),
            insights.expense_approval_times(session, start=START, end=END),
        ):
            assert approvals == insights.ApprovalTimes(0, 0, 0, 0, none)
        assert insights.unanswered_question_clusters(session, start=START, end=END) == ()


def test_naive_periods_are_refused(database: Database) -> None:
    with database.session_scope() as session, pytest.raises(ValueError, match="timezone-aware"):
        insights.answer_feedback(session, start=datetime(2026, 11, 16), end=END)  # noqa: DTZ001 - the point


def test_percentile_interpolates_between_ranks() -> None:
    assert insight_measures.percentile([], 0.5) is None
    assert insight_measures.percentile([7.0], 0.9) == 7.0
    assert insight_measures.percentile([10.0, 20.0, 30.0, 40.0, 50.0], 0.9) == 46.0  # rank 3.6 → 40 + 0.6 × 10
    assert insight_measures.percentile([10.0, 20.0], 0.5) == 15.0


def test_figures_over_ten_thousand_rows_of_each_kind(database: Database) -> None:
    """10k tickets, leave requests, claims and messages: every figure computes over all of them. (How fast is for
    the benchmark to say — benchmarks/console_bench.py loads the insights page at this size — not a timed test.)"""
    with database.session_scope() as session:
        staff = list(people(session, *(f"p{i}" for i in range(50))).values())
        base = at(1)
        spread = [base + timedelta(minutes=4 * i + 1) for i in range(10_000)]  # about 28 days
        session.bulk_insert_mappings(
            Ticket,
            [
                {
                    "requester_id": staff[i % 50].id,
                    "title": "t",
                    "description": "t",
                    "category": "hardware",
                    "priority": f"P{i % 4 + 1}",
                    "status": "resolved" if i % 3 else "in_progress",
                    "channel": "D0DM",
                    "created_at": when,
                    "updated_at": when,
                    "first_response_at": when + timedelta(minutes=i % 90),
                    "resolved_at": when + timedelta(hours=i % 30) if i % 3 else None,
                    "paused_seconds": 0,
                    "sla_alerts": [],
                    "platform": "slack",
                    "security": False,
                }
                for i, when in enumerate(spread)
            ],
        )
        session.bulk_insert_mappings(
            LeaveRequest,
            [
                {
                    "employee_id": staff[i % 50].id,
                    "leave_type": "vacation",
                    "start_date": date(2026, 12, 1),
                    "end_date": date(2026, 12, 2),
                    "days": Decimal("2"),
                    "status": "approved",
                    "channel": "D0DM",
                    "warnings": [],
                    "platform": "slack",
                    "reminders_sent": 0,
                    "submitted_at": when,
                    "decided_at": when + timedelta(hours=i % 48),
                    "created_at": when,
                    "updated_at": when,
                }
                for i, when in enumerate(spread)
            ],
        )
        session.bulk_insert_mappings(
            Expense,
            [
                {
                    "employee_id": staff[i % 50].id,
                    "status": "approved",
                    "amount": Decimal("10"),
                    "currency": "EUR",
                    "base_amount": Decimal("10"),
                    "base_currency": "EUR",
                    "rate": Decimal("1"),
                    "spent_on": date(2026, 11, 1),
                    "category": "meals",
                    "description": "",
                    "flags": [],
                    "channel": "D0DM",
                    "platform": "slack",
                    "reminders_sent": 0,
                    "submitted_at": when,
                    "decided_at": when + timedelta(hours=i % 72),
                    "created_at": when,
                    "updated_at": when,
                }
                for i, when in enumerate(spread)
            ],
        )
        session.bulk_insert_mappings(
            ChatMessage,
            [
                {
                    "channel": "D0DM",
                    "direction": "in",
                    "employee_id": staff[i % 50].id,
                    "skill": ("policy", "it", "leave", "expense")[i % 4],
                    "text": "q",
                    "created_at": when,
                }
                for i, when in enumerate(spread)
            ],
        )
    period = {"start": at(1, 0), "end": at(1, 0, month=12)}
    config = load_it_config()
    with database.session_scope() as session:
        assert insights.messages_per_skill_per_day(session, **period).total == 10_000
        # Every policy question (a quarter of the messages) was asked by someone who opened tickets all month.
        deflected = insights.deflection(session, now=NOW, window_days=7, skills=("policy",), **period)
        assert deflected.questions == 2_500 and deflected.deflected == 0
        assert insights.ticket_response_times(session, **period).opened == 10_000
        sla = insights.ticket_sla_compliance(session, now=NOW, config=config, **period)
        assert sla.resolution.met + sla.resolution.breached + sla.resolution.pending == 10_000
        assert insights.leave_approval_times(session, **period).approved == 10_000
        assert insights.expense_approval_times(session, **period).approved == 10_000
