"""The IT configuration file: the bundled one loads; a bad one is refused naming the file, the key and its line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from skills.it.config import ItConfigError, load_it_config

THREE = (
    "sla:\n"
    "  P1: {response_minutes: 15, resolution_hours: 4}\n"
    "  P2: {response_minutes: 60, resolution_hours: 8}\n"
    "  P3: {response_minutes: 240, resolution_hours: 24}\n"
)


def refusal(tmp_path: Path, text: str) -> tuple[Path, str]:
    """The file written and the message of the error loading it."""
    path = tmp_path / "it_config.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ItConfigError) as refused:
        load_it_config(path)
    return path, str(refused.value)


def test_bundled_levels_are_durations() -> None:
    config = load_it_config()
    assert config.sla["P1"].response == timedelta(minutes=15) and config.sla["P4"].resolution == timedelta(hours=72)
    assert config.incident_window == timedelta(minutes=60) and config.warn_at == 0.75


def test_a_wrong_type_names_the_file_the_key_and_the_line(tmp_path: Path) -> None:
    path, message = refusal(tmp_path, THREE + "  P4: {response_minutes: a day, resolution_hours: 72}\n")
    assert f"{path}, line 5, sla.P4.response_minutes: expected a number of minutes (got 'a day')" in message
    path, message = refusal(tmp_path, THREE + "  P4: {response_minutes: 1440, resolution_hours: 72}\nwarn_at: most\n")
    assert f"{path}, line 6, warn_at: Input should be a valid number" in message


def test_a_missing_required_key_names_the_file_the_key_and_the_line(tmp_path: Path) -> None:
    path, message = refusal(tmp_path, THREE + "  P4:\n    response_minutes: 1440\n")
    assert f"{path}, line 5, sla.P4.resolution_hours: Field required" in message
    path, message = refusal(tmp_path, "warn_at: 0.5\n" + THREE)
    assert f"{path}, line 2, sla: no SLA for P4" in message


def test_unknown_keys_are_still_ignored_and_numbers_may_be_quoted(tmp_path: Path) -> None:
    path = tmp_path / "it_config.yml"
    text = THREE + "  P4: {response_minutes: '1440', resolution_hours: 72, owner: desk}\nteam: helpdesk\n"
    path.write_text(text, encoding="utf-8")
    assert load_it_config(path).sla["P4"].response == timedelta(days=1)
