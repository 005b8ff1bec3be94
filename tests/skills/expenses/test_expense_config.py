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


def refusal(tmp_path: Path, text: str) -> tuple[Path, str]:
    """The file written and the message of the error loading it."""
    path = tmp_path / "expense_policy.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ExpenseConfigError) as refused:
        load_expense_policy(path)
    return path, str(refused.value)


def test_a_policy_without_the_base_rate_or_with_a_bad_amount_is_refused(tmp_path: Path) -> None:
    path, message = refusal(tmp_path, "base_currency: EUR\nrates: {USD: '1'}\n")
    assert f"{path}, line 2, rates: rates must include the base currency EUR at 1" in message
    path, message = refusal(tmp_path, "rates: {USD: '1'}\nfinance_approval_over: lots\n")
    assert f"{path}, line 2, finance_approval_over: Input should be a valid decimal (got 'lots')" in message


def test_a_wrong_type_names_the_file_the_key_and_the_line(tmp_path: Path) -> None:
    text = "rates:\n  USD: '1'\n  EUR: '1.08'\nsubmission_window_days: a month\nmileage: {rate: fast}\n"
    path, message = refusal(tmp_path, text)
    assert f"{path}, line 4, submission_window_days: Input should be a valid integer" in message
    assert f"{path}, line 5, mileage.rate: Input should be a valid decimal (got 'fast')" in message


def test_a_missing_base_rate_names_the_file_the_key_and_the_line(tmp_path: Path) -> None:
    path, message = refusal(tmp_path, "base_currency: usd\nreceipt_required_over: '25'\n")
    assert f"{path}, line 1, rates: rates must include the base currency USD at 1" in message


def test_an_unknown_or_blank_limit_is_refused_naming_the_file_the_key_and_the_line(tmp_path: Path) -> None:
    text = "rates: {USD: '1'}\nlimits:\n  meals: {per_day: '75'}\n  taxis:\n    per_ride: '40'\n"
    path, message = refusal(tmp_path, text)
    assert f"{path}, line 5, limits.taxis.per_ride: Extra inputs are not permitted" in message
    path, message = refusal(tmp_path, "rates: {USD: '1'}\nlimits:\n  meals: {per_day: }\n")
    assert f"{path}, line 3, limits.meals.per_day: a blank limit is not an amount" in message


def test_unknown_keys_elsewhere_and_blank_sections_are_still_accepted(tmp_path: Path) -> None:
    path = tmp_path / "expense_policy.yml"
    path.write_text(
        "base_currency: eur\nrates: {eur: 1, usd: '0.92'}\nfleet: none\nlimits:\n  meals:\n", encoding="utf-8"
    )
    policy = load_expense_policy(path)
    assert policy.base_currency == "EUR" and policy.rates == {"EUR": Decimal(1), "USD": Decimal("0.92")}
    assert policy.limits["meals"].per_day is None and policy.mileage_rate == Decimal("0.67")
