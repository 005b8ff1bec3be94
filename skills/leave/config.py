"""Leave types and their rules, read from YAML (skills/leave/leave_types.yml unless configured otherwise)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

DEFAULT_CONFIG = Path(__file__).parent / "leave_types.yml"


class LeaveConfigError(ValueError):
    """The leave configuration file is invalid."""


@dataclass(frozen=True)
class NoticeRule:
    """Applies to requests longer than `over_days` working days."""

    over_days: Decimal
    text: str
    min_days: int | None = None  # calendar days
    min_working_days: int | None = None


@dataclass(frozen=True)
class LeaveType:
    key: str
    label: str
    aliases: tuple[str, ...]
    tracked: bool = True
    accrual_per_year: Decimal | None = None
    grant_per_year: Decimal | None = None
    carry_over_cap: Decimal | None = None
    carry_over_expires: tuple[int, int] | None = None  # (month, day) in the following year
    negative_allowed: Decimal | None = Decimal(0)  # None = unlimited
    requires_approval: bool = True
    half_days: bool = True
    past_days_allowed: int = 0
    max_days: Decimal | None = None
    notice: tuple[NoticeRule, ...] = ()
    policy: dict[str, str] = field(default_factory=dict)

    def monthly_accrual(self, month: int) -> Decimal:
        """This month's share of the yearly accrual, rounded so that twelve months sum exactly."""
        if self.accrual_per_year is None:
            return Decimal(0)
        step = Decimal("0.0001")
        upto = (self.accrual_per_year * month / 12).quantize(step)
        before = (self.accrual_per_year * (month - 1) / 12).quantize(step)
        return upto - before


@dataclass(frozen=True)
class ReminderRules:
    first_after_hours: float = 24
    every_hours: float = 24
    max_reminders: int = 2


@dataclass(frozen=True)
class LeavePolicy:
    types: dict[str, LeaveType]
    reminders: ReminderRules = ReminderRules()
    max_request_days: int = 180

    def aliases(self) -> dict[str, str]:
        """Every alias (lower case) → its type key."""
        return {alias: t.key for t in self.types.values() for alias in t.aliases}

    def get(self, key: str) -> LeaveType | None:
        return self.types.get(key)

    def labels(self) -> str:
        return ", ".join(t.label.lower() for t in self.types.values())


def _decimal(value: Any, where: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError as exc:
        raise LeaveConfigError(f"{where}: {value!r} is not a number") from exc


def _month_day(value: Any, where: str) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        month, day = (int(part) for part in str(value).split("-"))
    except ValueError as exc:
        raise LeaveConfigError(f"{where}: expected MM-DD, got {value!r}") from exc
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise LeaveConfigError(f"{where}: {value!r} is not a date")
    return month, day


def _leave_type(key: str, raw: dict[str, Any]) -> LeaveType:
    where = f"types.{key}"
    negative = raw.get("negative_allowed", 0)
    notice = tuple(
        NoticeRule(
            over_days=_decimal(rule.get("over_days", 0), f"{where}.notice") or Decimal(0),
            text=str(rule["text"]),
            min_days=rule.get("min_days"),
            min_working_days=rule.get("min_working_days"),
        )
        for rule in raw.get("notice") or []
    )
    accrual = _decimal(raw.get("accrual_per_year"), where)
    grant = _decimal(raw.get("grant_per_year"), where)
    tracked = bool(raw.get("tracked", True))
    if tracked and accrual is None and grant is None:
        raise LeaveConfigError(f"{where}: a tracked type needs accrual_per_year or grant_per_year")
    return LeaveType(
        key=key,
        label=str(raw.get("label", key.title())),
        aliases=tuple(str(a).lower() for a in raw.get("aliases", [key])),
        tracked=tracked,
        accrual_per_year=accrual,
        grant_per_year=grant,
        carry_over_cap=_decimal(raw.get("carry_over_cap"), where),
        carry_over_expires=_month_day(raw.get("carry_over_expires"), where),
        negative_allowed=None if negative == "unlimited" else _decimal(negative, where),
        requires_approval=bool(raw.get("requires_approval", True)),
        half_days=bool(raw.get("half_days", True)),
        past_days_allowed=int(raw.get("past_days_allowed", 0)),
        max_days=_decimal(raw.get("max_days"), where),
        notice=tuple(sorted(notice, key=lambda r: r.over_days, reverse=True)),
        policy={str(k): str(v) for k, v in (raw.get("policy") or {}).items()},
    )


def load_policy(path: Path | None = None) -> LeavePolicy:
    """Read and check the leave configuration."""
    source = path or DEFAULT_CONFIG
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise LeaveConfigError(f"cannot read leave configuration {source}: {exc}") from exc
    types = {str(key): _leave_type(str(key), value or {}) for key, value in (raw.get("types") or {}).items()}
    if not types:
        raise LeaveConfigError(f"{source}: no leave types defined")
    reminders = raw.get("reminders") or {}
    return LeavePolicy(
        types=types,
        reminders=ReminderRules(
            first_after_hours=float(reminders.get("first_after_hours", 24)),
            every_hours=float(reminders.get("every_hours", 24)),
            max_reminders=int(reminders.get("max_reminders", 2)),
        ),
        max_request_days=int(raw.get("max_request_days", 180)),
    )
