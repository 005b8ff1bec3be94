"""The audit log: every state change writes one row through here."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.models import AuditEntry


def record(
    session: Session,
    *,
    entity: str,
    entity_id: int,
    action: str,
    actor_id: int | None,
    from_state: str | None = None,
    to_state: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        entity=entity,
        entity_id=entity_id,
        action=action,
        actor_id=actor_id,
        from_state=from_state,
        to_state=to_state,
        detail=detail,
    )
    session.add(entry)
    return entry
