"""The policy skill's settings (HR answers and escalations): part of the one `bot.settings.Settings`."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PolicySettings(BaseModel):
    hr_channel: str | None = Field(default=None, validation_alias="BACKOFFICE_HR_CHANNEL")
    # Confidential matters (medical, harassment, grievances): a private channel only HR is in; unset = hr_channel.
    hr_private_channel: str | None = Field(default=None, validation_alias="BACKOFFICE_HR_PRIVATE_CHANNEL")
    # Answerability (knowledge/answer.py) below which the bot says the documents don't answer and offers HR. 0.50 on
    # our dev sets: answered 0.88 / 0.66 of answerable questions, refused 0.69 / 0.63 of the unanswerable ones (TTS /
    # GitLab handbook); 0.45 answers more (0.95 / 0.84) and refuses less (0.49 / 0.47).
    answer_min_score: float = Field(default=0.50, validation_alias="BACKOFFICE_ANSWER_MIN_SCORE")

    @property
    def hr_destination(self) -> str:
        """Where escalations are posted: the Slack HR channel, or the web console's HR queue offline."""
        return self.hr_channel or "web:hr"

    @property
    def hr_private_destination(self) -> str:
        """Where confidential matters are posted: the private HR channel, else the HR destination."""
        return self.hr_private_channel or self.hr_destination
