"""The expense policy file: amounts are Decimal, conversion is to the cent, bad files are refused clearly."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from skills.expenses.config import ExpenseConfigError, load_expense_policy


def test_bundled_policy_converts_to_the_base_currency_to_the_cent() -> None:
    policy = load_expense_policy()
    assert policy.base_currency == "USD" and policy.finance_approval_over == Decimal("1000")
    assert policy.to_base(Decimal("86.50"), "EUR") == (Decimal("93.42"), Decimal("1.08"))
    assert policy.to_base(Decimal("1234"), "JPY")[0] == Decimal("8.27")
    assert policy.limits["meals"].per_attendee == Decimal("60")
    with pytest.raises(KeyError):
        policy.to_base(Decimal("5"), "XYZ")


def test_a_policy_without_the_base_rate_or_with_a_bad_amount_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yml"
    bad.write_text("base_currency: EUR\nrates: {USD: '1'}\n", encoding="utf-8")
    with pytest.raises(ExpenseConfigError, match="base currency EUR"):
        load_expense_policy(bad)
    bad.write_text("rates: {USD: '1'}\nfinance_approval_over: lots\n", encoding="utf-8")
    with pytest.raises(ExpenseConfigError, match="not an amount"):
        load_expense_policy(bad)
