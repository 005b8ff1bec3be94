"""Leave types and their rules, read from YAML (skills/leave/leave_types.yml unless configured otherwise)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, Field, field_validator, model_validator

from bot.config_files import blank_is, read_config

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


def _month_day(value: Any) -> tuple[int, int]:
    """`MM-DD` → (month, day)."""
    try:
        month, day = (int(part) for part in str(value).split("-"))
    except ValueError:
        raise ValueError("expected MM-DD") from None
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise ValueError("not a date")
    return month, day


class _NoticeFile(BaseModel):
    over_days: Decimal = Decimal(0)
    text: str
    min_days: int | None = None
    min_working_days: int | None = None


class _LeaveTypeFile(BaseModel):
    label: str | None = None  # the key in title case
    aliases: tuple[str, ...] | None = None  # the key
    tracked: bool = True
    accrual_per_year: Decimal | None = None
    grant_per_year: Decimal | None = None
    carry_over_cap: Decimal | None = None
    carry_over_expires: Annotated[tuple[int, int], BeforeValidator(_month_day)] | None = None
    # "unlimited" or null: no floor under the balance.
    negative_allowed: Annotated[Decimal | None, BeforeValidator(lambda v: None if v == "unlimited" else v)] = Decimal(0)
    requires_approval: bool = True
    half_days: bool = True
    past_days_allowed: int = 0
    max_days: Decimal | None = None
    notice: Annotated[tuple[_NoticeFile, ...], blank_is(())] = ()
    policy: Annotated[dict[str, str], blank_is({})] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _has_an_entitlement(self) -> Self:
        if self.tracked and self.accrual_per_year is None and self.grant_per_year is None:
            raise ValueError("a tracked type needs accrual_per_year or grant_per_year")
        return self


class _RemindersFile(BaseModel):
    first_after_hours: float = 24
    every_hours: float = 24
    max_reminders: int = 2


class _LeaveFile(BaseModel):
    """The whole file. Keys it does not name are ignored, as they always were."""

    reminders: Annotated[_RemindersFile, blank_is({})] = _RemindersFile()
    max_request_days: int = 180
    types: Annotated[dict[str, _LeaveTypeFile], blank_is({})] = Field(default_factory=dict, validate_default=True)

    @field_validator("types")
    @classmethod
    def _some_types(cls, types: dict[str, _LeaveTypeFile]) -> dict[str, _LeaveTypeFile]:
        if not types:
            raise ValueError("no leave types defined")
        return types


def _leave_type(key: str, spec: _LeaveTypeFile) -> LeaveType:
    return LeaveType(
        key=key,
        label=key.title() if spec.label is None else spec.label,
        aliases=tuple(alias.lower() for alias in (spec.aliases if spec.aliases is not None else (key,))),
        tracked=spec.tracked,
        accrual_per_year=spec.accrual_per_year,
        grant_per_year=spec.grant_per_year,
        carry_over_cap=spec.carry_over_cap,
        carry_over_expires=spec.carry_over_expires,
        negative_allowed=spec.negative_allowed,
        requires_approval=spec.requires_approval,
        half_days=spec.half_days,
        past_days_allowed=spec.past_days_allowed,
        max_days=spec.max_days,
        notice=tuple(
            NoticeRule(over_days=r.over_days, text=r.text, min_days=r.min_days, min_working_days=r.min_working_days)
            for r in sorted(spec.notice, key=lambda r: r.over_days, reverse=True)
        ),
        policy=spec.policy,
    )


def load_policy(path: Path | None = None) -> LeavePolicy:
    """Read and check the leave configuration; a bad file's error names the file, the key and its line."""
    source = path or DEFAULT_CONFIG
    spec = read_config(source, _LeaveFile, LeaveConfigError, what="leave configuration")
    return LeavePolicy(
        types={key: _leave_type(key, value) for key, value in spec.types.items()},
        reminders=ReminderRules(
            first_after_hours=spec.reminders.first_after_hours,
            every_hours=spec.reminders.every_hours,
            max_reminders=spec.reminders.max_reminders,
        ),
        max_request_days=spec.max_request_days,
    )
