"""The expense skill's settings: part of the one `bot.settings.Settings`, read from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class ExpenseSettings(BaseModel):
    # The expense policy (YAML); None = the bundled skills/expenses/expense_policy.yml.
    expense_config: Path | None = Field(default=None, validation_alias="BACKOFFICE_EXPENSE_CONFIG")
    # Where finance approves and reimburses (a Slack channel id).
    finance_channel: str | None = Field(default=None, validation_alias="BACKOFFICE_FINANCE_CHANNEL")

    @property
    def finance_destination(self) -> str:
        """Where finance approves and reimburses: the Slack finance channel, or the web chat's finance view."""
        return self.finance_channel or "web:finance"
