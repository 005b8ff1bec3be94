"""The IT skill's database models: tickets, and the incidents that group several people's reports of one outage."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db import utcnow
from bot.models import Base, Employee, timestamp_column


class Incident(Base):
    """Several people reporting the same outage: one incident, many tickets, everyone told on resolution."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    category: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="open", nullable=False, index=True)
    resolution_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = timestamp_column()
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Ticket(Base):
    """An IT ticket. States: new → in_progress ⇄ waiting → resolved → closed (or reopened to in_progress).
    Changes go through skills.it.service.transition, which writes the audit row and the webhook event."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), nullable=False, index=True)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    category: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    priority: Mapped[str] = mapped_column(String(2), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(16), default="new", nullable=False, index=True)
    security: Mapped[bool] = mapped_column(default=False, nullable=False)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"), index=True)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    ocr_text: Mapped[str | None] = mapped_column(Text)
    platform: Mapped[str] = mapped_column(String(16), default="slack", nullable=False)
    channel: Mapped[str] = mapped_column(String(64), nullable=False)
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    first_response_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    waiting_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Seconds spent waiting on the requester: the SLA clock does not run then.
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # SLA alerts already sent ("response:warn", "resolution:breach", ...), so each fires exactly once.
    sla_alerts: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    resolution_note: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column(Integer)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = timestamp_column()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, nullable=False
    )

    requester: Mapped[Employee] = relationship(foreign_keys=[requester_id])
    assignee: Mapped[Employee | None] = relationship(foreign_keys=[assignee_id])
    incident: Mapped[Incident | None] = relationship()
