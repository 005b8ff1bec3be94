"""The leave skill's settings: part of the one `bot.settings.Settings`, read from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class LeaveSettings(BaseModel):
    # Leave types and rules (YAML); None = the bundled skills/leave/leave_types.yml.
    leave_config: Path | None = Field(default=None, validation_alias="BACKOFFICE_LEAVE_CONFIG")
