"""The leave configuration file: the bundled one loads; a bad one is refused naming the file, the key and its line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from skills.leave.config import LeaveConfigError, load_policy


def refusal(tmp_path: Path, text: str) -> tuple[Path, str]:
    """The file written and the message of the error loading it."""
    path = tmp_path / "leave_types.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LeaveConfigError) as refused:
        load_policy(path)
    return path, str(refused.value)


def test_bundled_types_load_with_their_rules() -> None:
    policy = load_policy()
    assert policy.types["vacation"].carry_over_expires == (3, 31)
    assert policy.types["sick"].negative_allowed is None  # "unlimited"
    assert [rule.over_days for rule in policy.types["vacation"].notice] == [Decimal(3), Decimal(0)]
    assert policy.reminders.max_reminders == 2 and policy.max_request_days == 180


def test_a_wrong_type_names_the_file_the_key_and_the_line(tmp_path: Path) -> None:
    path, message = refusal(
        tmp_path, "types:\n  vacation:\n    accrual_per_year: 25\n  sick:\n    grant_per_year: ten\n"
    )
    assert f"{path}, line 5, types.sick.grant_per_year: " in message and "'ten'" in message


def test_a_missing_required_key_names_the_file_the_key_and_the_line(tmp_path: Path) -> None:
    text = "types:\n  vacation:\n    accrual_per_year: 25\n    notice:\n      - {over_days: 3, min_days: 14}\n"
    path, message = refusal(tmp_path, text)
    assert f"{path}, line 5, types.vacation.notice.0.text: Field required" in message


def test_the_rules_checked_by_hand_before_still_hold_with_their_lines(tmp_path: Path) -> None:
    path, message = refusal(tmp_path, "max_request_days: 90\ntypes:\n  sick:\n    label: Sick leave\n")
    assert f"{path}, line 3, types.sick: a tracked type needs accrual_per_year or grant_per_year" in message
    path, message = refusal(
        tmp_path, "types:\n  vacation:\n    accrual_per_year: 25\n    carry_over_expires: '13-01'\n"
    )
    assert f"{path}, line 4, types.vacation.carry_over_expires: not a date" in message
    path, message = refusal(tmp_path, "types:\n  vacation:\n    grant_per_year: 1\n    carry_over_expires: March\n")
    assert "types.vacation.carry_over_expires: expected MM-DD" in message
    path, message = refusal(tmp_path, "max_request_days: 90\ntypes:\n")
    assert f"{path}, line 2, types: no leave types defined" in message


def test_unknown_keys_are_still_ignored(tmp_path: Path) -> None:
    path = tmp_path / "leave_types.yml"
    path.write_text("colour: blue\ntypes:\n  floating:\n    grant_per_year: 1\n    emoji: palm\n", encoding="utf-8")
    floating = load_policy(path).types["floating"]
    assert floating.label == "Floating" and floating.aliases == ("floating",) and floating.notice == ()
