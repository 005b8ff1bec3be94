"""Database models. Schema changes go through Alembic migrations in bot/migrations."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from bot.db import aware, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("employee", "manager", "hr", "it", "finance", "admin")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def timestamp_column() -> Mapped[datetime]:
    """A timezone-aware timestamp column, set to now when the row is written."""
    return mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)


class Queued:
    """The columns every durable queue row has (see bot.work_queue): pending → running → done, or failed (the
    dead letter) once its attempts are spent; "ignored" for an inbound event no skill acts on."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", nullable=False, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # Not run before this time: a retry's back-off, or a message's turn under the rate limit.
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When a worker claimed it ("running"); a claim older than the queue's stale time is taken over.
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Employee(Base):
    """The directory: who someone is, where they work and who approves for them."""

    __tablename__ = "employees"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slack_id: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    tz: Mapped[str] = mapped_column(String(64), default="UTC", nullable=False)
    country: Mapped[str] = mapped_column(String(2), default="US", nullable=False)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id", ondelete="SET NULL"))
    roles: Mapped[str] = mapped_column(String(200), default="employee", nullable=False)
    # Who approves in this person's place while they are away (falls back to their own manager).
    delegate_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id", ondelete="SET NULL"))
    # Leave accrues from the month of hire; unknown → from the start of the leave year.
    hired_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = timestamp_column()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, nullable=False
    )

    manager: Mapped[Employee | None] = relationship(remote_side=[id], foreign_keys=[manager_id])
    delegate: Mapped[Employee | None] = relationship(remote_side=[id], foreign_keys=[delegate_id])

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(r.strip() for r in self.roles.split(",") if r.strip())

    def has_role(self, role: str) -> bool:
        return role in self.role_set or "admin" in self.role_set


class ProcessedEvent(Queued, Base):
    """Every Slack event id we accepted, so a retried delivery is processed once; the inbound queue."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    event_type: Mapped[str] = mapped_column(String(64), nullable=False)
    received_at: Mapped[datetime] = timestamp_column()
    # The event as Slack sent it, so one acked but not finished (process killed, user queued) is run later.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    user_id: Mapped[str | None] = mapped_column(String(64), index=True)


class Conversation(Base):
    """A thread of talk with one employee: a Slack thread, a DM thread, or a web/CLI session."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "thread_ts", name="uq_conversations_channel_thread"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), nullable=False)
    channel: Mapped[str] = mapped_column(String(64), nullable=False)
    thread_ts: Mapped[str] = mapped_column(String(32), nullable=False)
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id", ondelete="SET NULL"))
    # A skill that asked a question here: the next message in this conversation goes to it.
    awaiting_skill: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = timestamp_column()


def find_conversation(session: Session, *, channel: str, thread_ts: str) -> Conversation | None:
    """The conversation of a channel + thread (web and CLI conversations use the thread "main")."""
    return session.scalar(
        select(Conversation).where(Conversation.channel == channel, Conversation.thread_ts == thread_ts)
    )


def find_card(session: Session, *, channel: str, ts: str) -> ChatMessage | None:
    """The bot card posted at `ts` in `channel` (a thread under it belongs to the skill that owns the card)."""
    return session.scalar(
        select(ChatMessage).where(
            ChatMessage.channel == channel, ChatMessage.slack_ts == ts, ChatMessage.update_key.is_not(None)
        )
    )


def last_bot_message(session: Session, conversation_id: int, *, idle: timedelta | None = None) -> ChatMessage | None:
    """The newest message the bot sent in a conversation (what it asked last, or the card it showed last); None
    when it is older than `idle` (the conversation has gone quiet and waits for nothing any more)."""
    last = session.scalar(
        select(ChatMessage)
        .where(ChatMessage.conversation_id == conversation_id, ChatMessage.direction == "out")
        .order_by(ChatMessage.id.desc())
        .limit(1)
    )
    now = utcnow()
    if last is not None and idle is not None and (aware(last.created_at, now) or now) < now - idle:
        return None
    return last


class ChatMessage(Base):
    """One message in a conversation, in either direction. Bot cards keep an update_key to edit in place."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(64), nullable=False)
    direction: Mapped[str] = mapped_column(String(3), nullable=False)  # "in" | "out"
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text, nullable=False, default="")
    skill: Mapped[str | None] = mapped_column(String(32))
    confidence: Mapped[float | None]
    # Why an inbound message went to `skill` (Route.explained(): "question; act question; topic leave; ...").
    route: Mapped[str | None] = mapped_column(String(200))
    slack_ts: Mapped[str | None] = mapped_column(String(32))
    update_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = timestamp_column()


class Escalation(Base):
    """A question the bot handed to HR. States: open → answered | resolved."""

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), nullable=False)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    question: Mapped[str] = mapped_column(Text, nullable=False)
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="open", nullable=False)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    # Medical, harassment and grievance matters: HR-only queue, never shown in shared channels.
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    created_at: Mapped[datetime] = timestamp_column()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, nullable=False
    )

    employee: Mapped[Employee] = relationship(foreign_keys=[employee_id])
    answered_by: Mapped[Employee | None] = relationship(foreign_keys=[answered_by_id])
    conversation: Mapped[Conversation | None] = relationship()


class Faq(Base):
    """A Q&A written by HR. Draft until published; publishing adds it to the knowledge base."""

    __tablename__ = "faqs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    escalation_id: Mapped[int | None] = mapped_column(ForeignKey("escalations.id", ondelete="SET NULL"))
    question: Mapped[str] = mapped_column(Text, nullable=False)
    answer: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="draft", nullable=False)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = timestamp_column()


class KnowledgeDocument(Base):
    """One ingested source (file or published FAQ); its chunks live in the vector + keyword index."""

    __tablename__ = "knowledge_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(1000), unique=True, nullable=False)
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    url: Mapped[str | None] = mapped_column(String(1000))
    audience: Mapped[str] = mapped_column(String(32), default="everyone", nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    ingested_at: Mapped[datetime] = timestamp_column()


class Feedback(Base):
    """A 👍/👎 on one bot answer; one vote per person per answer (the last click wins)."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("message_id", "employee_id", name="uq_feedback_message_employee"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), nullable=False)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), nullable=False)
    value: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = timestamp_column()


class AuditEntry(Base):
    """Append-only record of every state change: who moved what from which state to which."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = timestamp_column()
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id", ondelete="SET NULL"))
    entity: Mapped[str] = mapped_column(String(32), nullable=False)
    entity_id: Mapped[int] = mapped_column(Integer, nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class OutboxItem(Queued, Base):
    """A message to someone else (HR channel, an employee's thread), written with the change that caused it;
    the outbound Slack queue."""

    __tablename__ = "outbox"

    channel: Mapped[str] = mapped_column(String(64), nullable=False)
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    update_key: Mapped[str | None] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text, nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    created_at: Mapped[datetime] = timestamp_column()
    # The stored bot message this delivers (a direct reply): its Slack ts is written back after posting.
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))


class LeaveRequest(Base):
    """A request for time off. States: draft → pending → approved | denied; draft → approved (types that
    need no approval); draft → discarded; pending → withdrawn; approved → cancelled. Changes go through
    skills.leave.requests.transition, which also writes the audit row and the ledger."""

    __tablename__ = "leave_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), nullable=False, index=True)
    leave_type: Mapped[str] = mapped_column(String(32), nullable=False)
    start_date: Mapped[date] = mapped_column(Date, nullable=False)
    end_date: Mapped[date] = mapped_column(Date, nullable=False)
    # "am" = only the morning off, "pm" = only the afternoon off; None = the whole day.
    start_half: Mapped[str | None] = mapped_column(String(2))
    end_half: Mapped[str | None] = mapped_column(String(2))
    days: Mapped[Decimal] = mapped_column(Numeric(6, 1), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="draft", nullable=False, index=True)
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"), index=True)
    approver_note: Mapped[str | None] = mapped_column(Text)  # why this approver (e.g. manager away)
    decision_note: Mapped[str | None] = mapped_column(Text)
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    platform: Mapped[str] = mapped_column(String(16), default="slack", nullable=False)
    channel: Mapped[str] = mapped_column(String(64), nullable=False)
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # Every UPDATE checks and counts up `version` (an edit and an approval committed at the same moment can't
    # both land: the second fails with StaleDataError); `revision` counts the edits of what an approver decides
    # on, and the approval buttons carry the one the approver saw.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it as a class attribute
    last_reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = timestamp_column()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, nullable=False
    )

    employee: Mapped[Employee] = relationship(foreign_keys=[employee_id])
    approver: Mapped[Employee | None] = relationship(foreign_keys=[approver_id])


class LeaveLedgerEntry(Base):
    """One movement of a leave balance (days, signed). Balances are sums of these, never a stored counter.

    `period` makes bookings idempotent: "accrual:2026-11", "grant:2027", "request:42", "reversal:42",
    "forfeit:2026", "carry-out:2026", "carry-in:2026", "carry-expiry:2026". Running a job twice, or
    approving twice, hits the unique constraint instead of booking twice."""

    __tablename__ = "leave_ledger"
    __table_args__ = (
        UniqueConstraint("employee_id", "leave_type", "period", name="uq_leave_ledger_employee_type_period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), nullable=False)
    leave_type: Mapped[str] = mapped_column(String(32), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    days: Mapped[Decimal] = mapped_column(Numeric(8, 4), nullable=False)
    effective_on: Mapped[date] = mapped_column(Date, nullable=False)
    period: Mapped[str] = mapped_column(String(64), nullable=False)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("leave_requests.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = timestamp_column()


class SchedulerLease(Base):
    """A named lease: the process holding an unexpired lease is the one that runs scheduled jobs."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class JobRun(Base):
    """When a scheduled job runs next (and ran last), so a restart or a new leader keeps each job's turn."""

    __tablename__ = "job_runs"

    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)


class WebhookDelivery(Queued, Base):
    """One outbound webhook event (signed JSON), written with the change that caused it and sent by the
    dispatcher with retries, so it survives a restart."""

    __tablename__ = "webhook_deliveries"

    event: Mapped[str] = mapped_column(String(64), nullable=False)
    entity: Mapped[str] = mapped_column(String(32), nullable=False)
    entity_id: Mapped[int] = mapped_column(Integer, nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = timestamp_column()


class ApiToken(Base):
    """A token for the HTTP API, bound to a directory person (their roles decide what it may see). Only a
    hash is stored; the token itself is shown once when created."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id", ondelete="CASCADE"), nullable=False)
    created_at: Mapped[datetime] = timestamp_column()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    employee: Mapped[Employee] = relationship()


class Expense(Base):
    """An expense claim. States: draft → submitted → manager_approved → approved → reimbursed; submitted or
    manager_approved → rejected; draft → discarded; submitted → withdrawn. Money is Decimal with its currency;
    the base-currency amount and the rate used are kept beside the original."""

    __tablename__ = "expenses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft", nullable=False, index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    base_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    base_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    rate: Mapped[Decimal] = mapped_column(Numeric(18, 8), nullable=False)
    spent_on: Mapped[date] = mapped_column(Date, nullable=False)
    merchant: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32), nullable=False)
    attendees: Mapped[int | None] = mapped_column(Integer)
    distance: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    distance_unit: Mapped[str | None] = mapped_column(String(2))
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    receipt_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    receipt_path: Mapped[str | None] = mapped_column(String(500))
    receipt_total: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    receipt_date: Mapped[date | None] = mapped_column(Date)
    receipt_merchant: Mapped[str | None] = mapped_column(String(200))
    flags: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"), index=True)
    finance_approver_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    decision_note: Mapped[str | None] = mapped_column(Text)
    platform: Mapped[str] = mapped_column(String(16), default="slack", nullable=False)
    channel: Mapped[str] = mapped_column(String(64), nullable=False)
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reimbursed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # Every UPDATE checks and counts up `version` (an edit and an approval committed at the same moment can't
    # both land: the second fails with StaleDataError); `revision` counts the edits of what an approver decides
    # on, and the approval buttons carry the one the approver saw.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it as a class attribute
    created_at: Mapped[datetime] = timestamp_column()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, nullable=False
    )

    employee: Mapped[Employee] = relationship(foreign_keys=[employee_id])
    approver: Mapped[Employee | None] = relationship(foreign_keys=[approver_id])
    finance_approver: Mapped[Employee | None] = relationship(foreign_keys=[finance_approver_id])


class DigestPost(Base):
    """One weekly digest posted (queued in the outbox): the unique (kind, period) key makes posting it twice
    impossible, whichever process runs the job and however often."""

    __tablename__ = "digest_posts"
    __table_args__ = (UniqueConstraint("kind", "period", name="uq_digest_posts_kind_period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # "hr" | "it"
    period: Mapped[str] = mapped_column(String(32), nullable=False)  # the ISO week, e.g. "2026-W47"
    channel: Mapped[str] = mapped_column(String(64), nullable=False)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = timestamp_column()
