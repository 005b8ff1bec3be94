"""CSV exports keep people's text as text in a spreadsheet (issue 17, point 12)."""

from __future__ import annotations

import pytest

from bot.spreadsheet import cell


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("https://evil.example","click")', '\'=HYPERLINK("https://evil.example","click")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Uber", "Uber"),
        ("-12.50", "-12.50"),  # a number stays a number
        (None, ""),
    ],
)
def test_a_cell_a_spreadsheet_would_run_is_kept_text(value: object, written: str) -> None:
    assert cell(value) == written


def test_finance_export_writes_a_formula_typed_as_a_merchant_as_text() -> None:
    from datetime import date
    from decimal import Decimal
    from types import SimpleNamespace
    from typing import Any, cast

    from skills.expenses.export import expense_row

    claim = SimpleNamespace(
        id=7,
        employee=SimpleNamespace(slack_id="U0000DEVONE", name="=cmd|'/C calc'!A0"),
        spent_on=date(2026, 11, 20),
        category="meals",
        merchant='=HYPERLINK("https://evil.example","refund")',
        amount=Decimal("12.50"),
        currency="USD",
        rate=Decimal("1"),
        base_amount=Decimal("12.50"),
        base_currency="USD",
        status="approved",
        decided_at=None,
        reimbursed_at=None,
        description="@SUM(1+1)",
    )
    row = expense_row(cast(Any, claim))
    assert row["merchant"].startswith("'=") and row["employee_name"].startswith("'=")
    assert row["description"] == "'@SUM(1+1)" and row["amount"] == "12.50"
