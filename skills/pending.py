"""Skills whose routing works today but whose actions arrive in later releases. A question they get is
answered from the SOPs when the sources are clear; anything else gets an honest "not available yet"."""

from __future__ import annotations

from collections.abc import Sequence

from bot.messages import Message, Reply
from skills.base import SkillContext, load_examples
from skills.policy import answer_from_sources, cited_reply


class NotYetAvailableSkill:
    """Routes correctly, then tells the employee plainly that this isn't handled by the bot yet."""

    def __init__(self, name: str, description: str, fallback: str) -> None:
        self.name = name
        self.description = description
        self.examples: Sequence[str] = load_examples(name)
        self._fallback = fallback

    def handle(self, message: Message, ctx: SkillContext) -> Reply:
        if not message.is_action:
            answer = answer_from_sources(message.text, ctx, message.channel_type)
            if answer.confident:
                return cited_reply(message.text, answer, ctx, self.name)
        return Reply(
            text=(
                f"This looks like {self.description.lower()}. I can't do that in the bot yet — {self._fallback} "
                "Policy questions about it I can answer already: just ask."
            ),
            skill=self.name,
        )


def expense_skill() -> NotYetAvailableSkill:
    return NotYetAvailableSkill("expense", "An expense claim", "please submit it through the finance portal for now.")
