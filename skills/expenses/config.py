"""The expense policy: base currency and rates, limits per category, receipt and window rules, the finance
approval threshold and mileage rate, read from YAML (skills/expenses/expense_policy.yml by default)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

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


def _money(value: Any, where: str) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ExpenseConfigError(f"{where}: {value!r} is not an amount") from exc


def load_expense_policy(path: Path | None = None) -> ExpensePolicy:
    source = path or DEFAULT_CONFIG
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ExpenseConfigError(f"cannot read expense policy {source}: {exc}") from exc
    base = str(raw.get("base_currency", "USD")).upper()
    rates = {str(code).upper(): _money(rate, f"rates.{code}") for code, rate in (raw.get("rates") or {}).items()}
    if rates.get(base) != Decimal(1):
        raise ExpenseConfigError(f"{source}: rates must include the base currency {base} at 1")
    limits = {
        str(category): CategoryLimit(
            **{key: _money(value, f"limits.{category}.{key}") for key, value in (values or {}).items()}
        )
        for category, values in (raw.get("limits") or {}).items()
    }
    mileage = raw.get("mileage") or {}
    reminders = raw.get("reminders") or {}
    return ExpensePolicy(
        base_currency=base,
        rates=rates,
        receipt_required_over=_money(raw.get("receipt_required_over", "25"), "receipt_required_over"),
        submission_window_days=int(raw.get("submission_window_days", 30)),
        finance_approval_over=_money(raw.get("finance_approval_over", "1000"), "finance_approval_over"),
        mileage_rate=_money(mileage.get("rate", "0.67"), "mileage.rate"),
        mileage_unit=str(mileage.get("unit", "mi")),
        limits=limits,
        policy={str(k): str(v) for k, v in (raw.get("policy") or {}).items()},
        reminder_first_hours=float(reminders.get("first_after_hours", 48)),
        reminder_every_hours=float(reminders.get("every_hours", 48)),
        max_reminders=int(reminders.get("max_reminders", 2)),
    )
