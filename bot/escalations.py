"""Escalations to HR and the FAQs they produce. All state changes go through `transition`.

A sensitive escalation (medical, harassment, grievance) is HR-only: it is answered from its card in the private
HR queue (skills.sensitive), never through the general policy flow, and never becomes an FAQ."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit
from bot.db import utcnow
from bot.models import Conversation, Employee, Escalation, Faq

# state → states it may move to
ESCALATION_MOVES: dict[str, frozenset[str]] = {
    "open": frozenset({"answered", "resolved"}),
    "answered": frozenset({"resolved"}),
    "resolved": frozenset(),
}


class TransitionError(ValueError):
    """The requested change is not allowed from the current state (or by this person)."""


def create_escalation(
    session: Session,
    *,
    employee: Employee,
    conversation: Conversation | None,
    question: str,
    sources: list[dict[str, Any]],
    sensitive: bool = False,
) -> Escalation:
    escalation = Escalation(
        employee_id=employee.id,
        conversation_id=conversation.id if conversation else None,
        question=question,
        sources=sources,
        status="open",
        sensitive=sensitive,
    )
    session.add(escalation)
    session.flush()
    audit.record(
        session,
        entity="escalation",
        entity_id=escalation.id,
        action="created",
        actor_id=employee.id,
        to_state="open",
    )
    return escalation


def open_escalation_for(
    session: Session, *, employee: Employee, question: str, sensitive: bool = False
) -> Escalation | None:
    """An open escalation with the same question from the same person (so a double click is one row)."""
    return session.scalar(
        select(Escalation).where(
            Escalation.employee_id == employee.id,
            Escalation.question == question,
            Escalation.status == "open",
            Escalation.sensitive.is_(sensitive),
        )
    )


def transition(
    session: Session,
    escalation: Escalation,
    to_state: str,
    *,
    actor: Employee,
    answer: str | None = None,
    confidential: bool = False,
) -> Escalation:
    """Move an escalation to `to_state`, check who may do it, and write the audit row. A sensitive escalation
    moves only with `confidential=True`, i.e. from its own card in the private HR queue."""
    if not actor.has_role("hr"):
        raise TransitionError("Only HR can answer or resolve escalations.")
    if escalation.sensitive and not confidential:
        raise TransitionError("This is a confidential request: answer it from its card in the private HR queue.")
    if to_state not in ESCALATION_MOVES.get(escalation.status, frozenset()):
        raise TransitionError(f"This question is already {escalation.status}.")
    values: dict[str, Any] = {"status": to_state, "updated_at": utcnow()}
    if answer is not None:
        values.update(answer=answer, answered_by_id=actor.id)
    if not audit.change_state(session, escalation, entity="escalation", values=values, actor_id=actor.id):
        raise TransitionError(f"This question is already {escalation.status}.")
    return escalation


def create_draft_faq(session: Session, *, escalation: Escalation, actor: Employee) -> Faq:
    if escalation.sensitive:
        raise TransitionError("A confidential request never becomes an FAQ.")
    faq = Faq(escalation_id=escalation.id, question=escalation.question, answer=escalation.answer or "")
    session.add(faq)
    session.flush()
    audit.record(session, entity="faq", entity_id=faq.id, action="drafted", actor_id=actor.id, to_state="draft")
    return faq


def publish_faq(session: Session, faq: Faq, *, actor: Employee) -> Faq:
    if not actor.has_role("hr"):
        raise TransitionError("Only HR can publish FAQs.")
    if faq.status != "draft":
        raise TransitionError(f"This FAQ is already {faq.status}.")
    faq.status = "published"
    faq.published_by_id = actor.id
    faq.published_at = utcnow()
    session.flush()
    audit.record(
        session,
        entity="faq",
        entity_id=faq.id,
        action="published",
        actor_id=actor.id,
        from_state="draft",
        to_state="published",
    )
    return faq
