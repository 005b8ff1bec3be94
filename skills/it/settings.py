"""The IT skill's settings: part of the one `bot.settings.Settings`, read from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class ItSettings(BaseModel):
    it_channel: str | None = Field(default=None, validation_alias="BACKOFFICE_IT_CHANNEL")
    # Who is mentioned for security incidents (e.g. "<!subteam^S0SECURITY>").
    security_mention: str = Field(default="@security-oncall", validation_alias="BACKOFFICE_SECURITY_MENTION")
    # Categories, priorities and SLA targets (YAML); None = the bundled skills/it/it_config.yml.
    it_config: Path | None = Field(default=None, validation_alias="BACKOFFICE_IT_CONFIG")

    @property
    def it_destination(self) -> str:
        """Where tickets are triaged: the Slack IT channel, or the web console's IT queue offline."""
        return self.it_channel or "web:it"
