"""The audit log: every state change writes one row through here."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import update
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


def change_state(
    session: Session,
    row: Any,
    *,
    entity: str,
    values: dict[str, Any],
    actor_id: int | None,
    detail: dict[str, Any] | None = None,
) -> bool:
    """Apply `values` (including the new "status") to `row` only if its status is still the one read, then
    write the audit row. A double click or two racing workers change the row once: the loser gets False,
    with `row` refreshed to what the winner wrote. Works the same on SQLite and PostgreSQL."""
    model = cast(Any, type(row))
    from_state, to_state = row.status, values["status"]
    changed = session.execute(
        update(model)
        .where(model.id == row.id, model.status == from_state)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.refresh(row)
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    record(
        session,
        entity=entity,
        entity_id=row.id,
        action=to_state,
        actor_id=actor_id,
        from_state=from_state,
        to_state=to_state,
        detail=detail,
    )
    return True
