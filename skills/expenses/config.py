"""The expense policy: base currency and rates, limits per category, receipt and window rules, the finance
approval threshold and mileage rate, read from YAML (skills/expenses/expense_policy.yml by default)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from bot.config_files import blank_is, read_config

DEFAULT_CONFIG = Path(__file__).parent / "expense_policy.yml"


class ExpenseConfigError(ValueError):
    """The expense policy file is invalid."""


@dataclass(frozen=True)
class CategoryLimit:
    per_item: Decimal | None = None
    per_day: Decimal | None = None
    per_attendee: Decimal | None = None


@dataclass(frozen=True)
class ExpensePolicy:
    base_currency: str
    rates: dict[str, Decimal]
    receipt_required_over: Decimal
    submission_window_days: int
    finance_approval_over: Decimal
    mileage_rate: Decimal
    mileage_unit: str
    limits: dict[str, CategoryLimit] = field(default_factory=dict)
    policy: dict[str, str] = field(default_factory=dict)
    reminder_first_hours: float = 48
    reminder_every_hours: float = 48
    max_reminders: int = 2

    def to_base(self, amount: Decimal, currency: str) -> tuple[Decimal, Decimal]:
        """(amount in the base currency to the cent, the rate used). KeyError for a currency we don't take."""
        rate = self.rates[currency]
        return (amount * rate).quantize(Decimal("0.01")), rate


_Currency = Annotated[str, AfterValidator(str.upper)]


class _LimitFile(BaseModel):
    # A limit the code does not know was always refused (the dataclass took no such argument).
    model_config = ConfigDict(extra="forbid")

    per_item: Decimal | None = None
    per_day: Decimal | None = None
    per_attendee: Decimal | None = None

    @field_validator("per_item", "per_day", "per_attendee", mode="before")
    @classmethod
    def _not_blank(cls, value: Any) -> Any:
        if value is None:  # a limit left out is no limit; one left blank was always refused
            raise ValueError("a blank limit is not an amount (leave the key out for no limit)")
        return value


class _MileageFile(BaseModel):
    rate: Decimal = Decimal("0.67")
    unit: str = "mi"


class _RemindersFile(BaseModel):
    first_after_hours: float = 48
    every_hours: float = 48
    max_reminders: int = 2


class _ExpenseFile(BaseModel):
    """The whole file. Keys it does not name are ignored, as they always were."""

    base_currency: _Currency = "USD"
    rates: Annotated[dict[_Currency, Decimal], blank_is({})] = Field(default_factory=dict, validate_default=True)
    receipt_required_over: Decimal = Decimal("25")
    submission_window_days: int = 30
    finance_approval_over: Decimal = Decimal("1000")
    mileage: Annotated[_MileageFile, blank_is({})] = _MileageFile()
    reminders: Annotated[_RemindersFile, blank_is({})] = _RemindersFile()
    limits: Annotated[dict[str, Annotated[_LimitFile, blank_is({})]], blank_is({})] = Field(default_factory=dict)
    policy: Annotated[dict[str, str], blank_is({})] = Field(default_factory=dict)

    @field_validator("rates")
    @classmethod
    def _base_at_one(cls, rates: dict[str, Decimal], info: ValidationInfo) -> dict[str, Decimal]:
        base = info.data.get("base_currency")  # absent when it was itself refused
        if base is not None and rates.get(base) != Decimal(1):
            raise ValueError(f"rates must include the base currency {base} at 1")
        return rates


def load_expense_policy(path: Path | None = None) -> ExpensePolicy:
    """Read and check the expense policy; a bad file's error names the file, the key and its line."""
    source = path or DEFAULT_CONFIG
    spec = read_config(source, _ExpenseFile, ExpenseConfigError, what="expense policy")
    return ExpensePolicy(
        base_currency=spec.base_currency,
        rates=spec.rates,
        receipt_required_over=spec.receipt_required_over,
        submission_window_days=spec.submission_window_days,
        finance_approval_over=spec.finance_approval_over,
        mileage_rate=spec.mileage.rate,
        mileage_unit=spec.mileage.unit,
        limits={
            category: CategoryLimit(per_item=limit.per_item, per_day=limit.per_day, per_attendee=limit.per_attendee)
            for category, limit in spec.limits.items()
        },
        policy=spec.policy,
        reminder_first_hours=spec.reminders.first_after_hours,
        reminder_every_hours=spec.reminders.every_hours,
        max_reminders=spec.reminders.max_reminders,
    )
