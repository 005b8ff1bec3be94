"""The audit log: every state change writes one row through here."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import inspect, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

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
    query = update(model).where(model.id == row.id, model.status == from_state)
    # A row with a version (leave requests, expense claims) must also be the one read: an edit committed in
    # between (a new amount, new dates) makes this change fail rather than decide what nobody looked at.
    versioned = inspect(model).version_id_col is not None
    if versioned:
        query = query.where(model.version == row.version)
        values = {**values, "version": model.version + 1}
    changed = session.execute(query.values(**values).execution_options(synchronize_session=False))
    session.refresh(row)
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        if versioned and row.status == from_state:
            raise StaleDataError(f"{entity} #{row.id} was changed at the same moment")
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
