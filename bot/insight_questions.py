"""The questions asked in a period and the tickets or HR requests their askers opened, as `deflection` reads them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from bot.insight_measures import epoch_seconds, within
from bot.models import ChatMessage, Escalation
from skills.it import action_ids as it_action_ids
from skills.it.models import Ticket

# Inbound messages routed to these skills can be questions (see `deflection`).
QUESTION_SKILLS = ("policy", "it")
# An IT reply answered from the knowledge base carries this button; its value is the question's message id.
IT_HOWTO_BUTTON = it_action_ids.OPEN_TICKET


def question_rows(session: Session, start: datetime, end: datetime, skills: Sequence[str]) -> list[tuple[int, float]]:
    """(asker, asked at in epoch seconds) of the period's questions; see `deflection` for which messages count."""
    asked_at = epoch_seconds(session, ChatMessage.created_at)
    questions: list[tuple[int, float]] = []
    if "policy" in skills:
        rows = session.execute(
            select(ChatMessage.employee_id, asked_at).where(
                ChatMessage.direction == "in",
                ChatMessage.skill == "policy",
                ChatMessage.employee_id.is_not(None),
                within(ChatMessage.created_at, start, end),
            )
        ).all()
        questions += [(who, round(float(at), 3)) for who, at in rows if who is not None]
    if "it" in skills:
        # The answer is stored just after its question, so a question asked at the very end of the period
        # may have its answer a little later: look a day further for answers, then keep the period's questions.
        answers = session.execute(
            select(ChatMessage.payload).where(
                ChatMessage.direction == "out",
                ChatMessage.skill == "it",
                cast(ChatMessage.payload, Text).contains(IT_HOWTO_BUTTON),
                within(ChatMessage.created_at, start, end + timedelta(days=1)),
            )
        ).scalars()
        asked_ids = {
            int(button["value"])
            for payload in answers
            for button in (payload or {}).get("buttons", [])
            if button.get("action_id") == IT_HOWTO_BUTTON and str(button.get("value", "")).isdigit()
        }
        if asked_ids:
            rows = session.execute(
                select(ChatMessage.employee_id, asked_at).where(
                    ChatMessage.id.in_(asked_ids),
                    ChatMessage.direction == "in",
                    ChatMessage.employee_id.is_not(None),
                    within(ChatMessage.created_at, start, end),
                )
            ).all()
            questions += [(who, round(float(at), 3)) for who, at in rows if who is not None]
    return questions


def follow_up_times(session: Session, start: datetime, until: datetime) -> dict[int, list[float]]:
    """When (epoch seconds) each person opened a ticket or an HR request (any kind) in [start, until), sorted."""
    found: dict[int, list[float]] = {}
    for who, at in session.execute(
        select(Ticket.requester_id, epoch_seconds(session, Ticket.created_at)).where(
            within(Ticket.created_at, start, until)
        )
    ).all():
        found.setdefault(int(who), []).append(round(float(at), 3))
    for who, at in session.execute(
        select(Escalation.employee_id, epoch_seconds(session, Escalation.created_at)).where(
            within(Escalation.created_at, start, until)
        )
    ).all():
        found.setdefault(int(who), []).append(round(float(at), 3))
    for times in found.values():
        times.sort()
    return found
