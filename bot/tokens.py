"""API tokens: bound to a person in the directory, whose roles decide what the token may see. Only a
SHA-256 of the token is stored; the token is shown once, when it is created."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit
from bot.models import ApiToken, Employee

PREFIX = "bo_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, *, employee: Employee, name: str, actor: Employee | None = None) -> str:
    """Make a token for `employee` and return it (it cannot be recovered later)."""
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name[:100], token_hash=_digest(token), employee_id=employee.id)
    session.add(row)
    session.flush()
    audit.record(
        session,
        entity="api_token",
        entity_id=row.id,
        action="created",
        actor_id=actor.id if actor else None,
        detail={"for": employee.slack_id, "name": row.name},
    )
    return token


def authenticate(session: Session, token: str, *, now: datetime) -> Employee | None:
    """The person a token belongs to, or None for an unknown or revoked token."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    row.last_used_at = now
    return row.employee


def revoke(session: Session, token_id: int, *, now: datetime, actor: Employee | None = None) -> bool:
    row = session.get(ApiToken, token_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now
    audit.record(session, entity="api_token", entity_id=row.id, action="revoked", actor_id=actor.id if actor else None)
    return True
