"""Greetings, thanks and 'what can you do': short, friendly, and pointing at what the bot can do."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from bot.jobs import Job
from bot.messages import Message, Reply
from skills.base import ActionHandler, SkillContext, load_examples

_THANKS = re.compile(r"\b(thanks?|thank you|thx|ty|cheers|appreciate|awesome|great job|you rock|love it)\b", re.I)
_GREETING = re.compile(r"\b(hi|hello|hey|howdy|yo|morning|good (morning|afternoon|evening)|hiya)\b", re.I)
_BYE = re.compile(r"\b(bye|goodbye|see you|later|good night|ttyl)\b", re.I)

MENU = (
    "Here's what I can help with:\n"
    '• *Policy questions* — "how many vacation days do I get?", "what\'s the hotel limit?" (answers with sources)\n'
    '• *IT help* — "how do I set up the VPN?", "my laptop won\'t start"\n'
    '• *Expenses* — "I spent $45 on a taxi yesterday"\n'
    '• *Leave* — "can I take next Friday off?"\n'
    "If I'm not sure about a policy answer, I'll pass your question to HR."
)

NOT_SURE = f"I'm not sure I can help with that. {MENU}"  # no skill fits and the documents don't answer


class SmalltalkSkill:
    name = "smalltalk"
    description = "Greetings, thanks and what the assistant can do"

    jobs: Sequence[Job] = ()  # nothing on a timer

    console = None  # no console pages

    def __init__(self) -> None:
        self.examples: Sequence[str] = load_examples("smalltalk")
        self.actions: Mapping[str, ActionHandler] = {}  # no buttons or forms

    def handle(self, message: Message, ctx: SkillContext) -> Reply:
        first = ctx.employee.name.split()[0] if ctx.employee.name else "there"
        text = message.text
        if _THANKS.search(text):
            reply = f"You're welcome, {first}! Anything else I can help with?"
        elif _BYE.search(text):
            reply = f"Bye {first}, have a good one!"
        elif _GREETING.search(text):
            reply = f"Hi {first}! I'm the Back Office Assistant.\n{MENU}"
        else:
            reply = f"I'm the Back Office Assistant, your front door to HR, IT, expenses and leave.\n{MENU}"
        return Reply(text=reply, skill=self.name)
