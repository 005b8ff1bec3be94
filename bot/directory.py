"""The employee directory: CSV import, look-ups, and creating unknown Slack users from users.info."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import audit
from bot.db import Database, utcnow
from bot.models import ROLES, Employee

CSV_COLUMNS = ("slack_id", "name", "email", "tz", "country", "manager_slack_id", "roles")
# Optional columns: delegate_slack_id (who approves while this person is away), hired_on (YYYY-MM-DD).
OPTIONAL_COLUMNS = ("delegate_slack_id", "hired_on")
# What the employees table holds; PostgreSQL refuses a longer value (SQLite would quietly keep it).
_LENGTHS = {"slack_id": 32, "name": 200, "email": 320}


@dataclass(frozen=True)
class SlackProfile:
    """What users.info tells us about someone."""

    slack_id: str
    name: str
    email: str | None
    tz: str | None


UserLookup = Callable[[str], SlackProfile | None]


class DirectoryError(ValueError):
    """The directory file is malformed; the message names the line."""


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)


def _valid_tz(value: str) -> bool:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Europe" is a folder, a long name too long
        return False
    return True


def parse_roles(value: str) -> str:
    roles = [r.strip().lower() for r in value.replace(";", ",").replace("|", ",").split(",") if r.strip()]
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise DirectoryError(f"unknown role(s) {', '.join(unknown)}; allowed: {', '.join(ROLES)}")
    if "employee" not in roles:
        roles.insert(0, "employee")
    return ",".join(dict.fromkeys(roles))


def import_csv(session: Session, text: str) -> ImportReport:
    """Create or update employees from CSV. Rows are validated first: any error and nothing is written."""
    if "\x00" in text:
        # PostgreSQL refuses NUL in text; such a file is most likely a spreadsheet saved in another format.
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise DirectoryError(f"line {line}: NUL character; is this file CSV?")
    # newline="" lets the csv module read quoted line breaks and lone carriage returns (old Mac files).
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        missing = [c for c in ("slack_id", "name") if c not in (reader.fieldnames or [])]
        rows = [] if missing else list(reader)
    except csv.Error as exc:  # an oversized field or a stray quote
        raise DirectoryError(f"line {reader.line_num}: {exc}") from exc
    if missing:
        raise DirectoryError(f"missing column(s): {', '.join(missing)}; expected {', '.join(CSV_COLUMNS)}")
    report = ImportReport()
    seen: set[str] = set()
    emails: set[str] = set()
    ids_in_file = {(r.get("slack_id") or "").strip() for r in rows}
    for line, row in enumerate(rows, start=2):
        slack_id = (row.get("slack_id") or "").strip()
        if not slack_id or not (row.get("name") or "").strip():
            report.errors.append(f"line {line}: slack_id and name are required")
        elif slack_id in seen:
            report.errors.append(f"line {line}: duplicate slack_id {slack_id}")
        seen.add(slack_id)
        for column, limit in _LENGTHS.items():
            if len((row.get(column) or "").strip()) > limit:
                report.errors.append(f"line {line}: {column} is longer than {limit} characters")
        email = (row.get("email") or "").strip().lower()
        if email:
            owner = session.scalar(select(Employee).where(func.lower(Employee.email) == email))
            taken = owner is not None and owner.slack_id != slack_id and owner.slack_id not in ids_in_file
            if email in emails or taken:
                report.errors.append(f"line {line}: duplicate email {email}")
            emails.add(email)
        tz = (row.get("tz") or "UTC").strip()
        if not _valid_tz(tz):
            report.errors.append(f"line {line}: unknown time zone {tz!r}")
        try:
            parse_roles(row.get("roles") or "employee")
        except DirectoryError as exc:
            report.errors.append(f"line {line}: {exc}")
        for column, role in (("manager_slack_id", "manager"), ("delegate_slack_id", "delegate")):
            other = (row.get(column) or "").strip()
            if other and other not in ids_in_file and not get_by_slack_id(session, other):
                report.errors.append(f"line {line}: {role} {other} is not in the directory")
        hired = (row.get("hired_on") or "").strip()
        if hired:
            try:
                date.fromisoformat(hired)
            except ValueError:
                report.errors.append(f"line {line}: hired_on {hired!r} is not a date (YYYY-MM-DD)")
    if report.errors:
        return report
    # People may swap addresses in one file: free every address that changes first, so the unique email index
    # never sees one address on two rows halfway through.
    new_emails = {row["slack_id"].strip(): (row.get("email") or "").strip() or None for row in rows}
    for existing in session.scalars(select(Employee).where(Employee.slack_id.in_(new_emails))):
        if existing.email != new_emails[existing.slack_id]:
            existing.email = None
    session.flush()
    by_slack: dict[str, Employee] = {}
    for row in rows:
        slack_id = row["slack_id"].strip()
        employee = get_by_slack_id(session, slack_id)
        if employee is None:
            employee = Employee(slack_id=slack_id, name=row["name"].strip())
            session.add(employee)
            report.created += 1
        else:
            report.updated += 1
        employee.name = row["name"].strip()
        employee.email = (row.get("email") or "").strip() or None
        employee.tz = (row.get("tz") or "UTC").strip()
        employee.country = ((row.get("country") or "US").strip() or "US").upper()[:2]
        employee.roles = parse_roles(row.get("roles") or "employee")
        hired = (row.get("hired_on") or "").strip()
        employee.hired_on = date.fromisoformat(hired) if hired else None
        by_slack[slack_id] = employee
    session.flush()
    for row in rows:
        employee = by_slack[row["slack_id"].strip()]
        employee.manager_id = _linked_id(session, by_slack, row.get("manager_slack_id"))
        employee.delegate_id = _linked_id(session, by_slack, row.get("delegate_slack_id"))
    session.flush()
    for employee in by_slack.values():
        audit.record(session, entity="employee", entity_id=employee.id, action="directory_import", actor_id=None)
    return report


def _linked_id(session: Session, by_slack: dict[str, Employee], value: str | None) -> int | None:
    slack_id = (value or "").strip()
    if not slack_id:
        return None
    linked = by_slack.get(slack_id) or get_by_slack_id(session, slack_id)
    return linked.id if linked is not None else None


def get_by_slack_id(session: Session, slack_id: str) -> Employee | None:
    if not slack_id:
        return None
    return session.scalar(select(Employee).where(Employee.slack_id == slack_id))


def profile_if_new(database: Database, slack_id: str, lookup: UserLookup | None) -> SlackProfile | None:
    """Slack's profile (users.info) of someone the directory doesn't know yet, looked up with no transaction
    open; None for a known person, or when there is no Slack to ask."""
    if lookup is None:
        return None
    with database.session_scope() as session:
        known = get_by_slack_id(session, slack_id) is not None
    return None if known else lookup(slack_id)


def ensure_employee(
    session: Session, slack_id: str, profile: SlackProfile | None, *, today: date | None = None
) -> Employee:
    """The employee for a Slack user; unknown users are created from their Slack profile (`profile_if_new`, read
    before the transaction) or with defaults, with `today` (default: the UTC date) as their start for leave
    accrual."""
    employee = get_by_slack_id(session, slack_id)
    if employee is not None:
        return employee
    employee = Employee(
        slack_id=slack_id,
        name=(profile.name if profile else None) or slack_id,
        email=profile.email if profile else None,
        tz=profile.tz if profile and profile.tz and _valid_tz(profile.tz) else "UTC",
        roles="employee",
        # Someone the directory doesn't know yet: leave accrues from now, never for months before we knew them.
        hired_on=today or utcnow().date(),
    )
    if employee.email and session.scalar(select(Employee).where(Employee.email == employee.email)):
        employee.email = None  # never steal another record's unique email
    try:
        with session.begin_nested():
            session.add(employee)
    except IntegrityError:
        # The same new person's other message (sent at the same moment) created them first.
        existing = get_by_slack_id(session, slack_id)
        if existing is None:
            raise
        return existing
    audit.record(
        session,
        entity="employee",
        entity_id=employee.id,
        action="created_from_slack" if profile else "created_unknown",
        actor_id=None,
    )
    return employee


def members_with_role(session: Session, role: str) -> list[Employee]:
    return [e for e in session.scalars(select(Employee).order_by(Employee.name)) if e.has_role(role)]
