"""Conversation repair: where a message goes once the conversation is weighed (`decide`, every precedence rule
in one place), what the conversation waits for, and a typed correction of what was just said."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, replace

from bot.messages import Message
from bot.router import AMBIGUOUS, SENSITIVE, Route, drops_it

# "Sorry, I meant 64", "make it thursday instead", "that was in euros", "extend it to include today": the message
# changes something just said. Read only right after a draft's card; the skill applies it only when a detail of
# the draft actually changes (otherwise the message is handled as a new one).
_CORRECTION = re.compile(
    r"\b(actually|sorry|soz|i meant|meant to (say|write)|instead|typo|fat[- ]?finger\w*|should (be|have been|say|read)"
    r"|wrong|correction|oops|whoops|wait|make (it|that|this)|change (it|that|this|the|to)|move (it|that|this|to)"
    r"|extend|shorten|end (it|on|the)|start (it|on|the)|rather|not|it was|it's|its|that was|was in|switch)\b",
    re.IGNORECASE,
)


def corrects_it(text: str) -> bool:
    """The message reads as a correction of what was just said (checked against a draft by its skill)."""
    return _CORRECTION.search(text) is not None


@dataclass(frozen=True)
class ConversationState:
    """What the conversation waits for, read by the assistant before the message is routed: the skill that asked
    the person a question (not lapsed), the draft whose card was the bot's last word (skill, id), the skill whose
    card the message replies under (a Slack thread), and whether the bot's last word asked "which one?"."""

    awaiting: str | None = None
    draft: tuple[str, str] | None = None
    thread_owner: str | None = None
    asked_which: bool = False


@dataclass(frozen=True)
class Decision:
    route: Route  # where the message goes, and why
    routed: Route  # where its words alone go (a correction that changes nothing is handled so)
    message: Message  # what the skill is handed: a typed cancel or correction becomes its draft's button


def decide(message: Message, routed: Route, state: ConversationState, skills: Collection[str]) -> Decision:
    """Where a message goes, given where its words go (`Router.route`) and the conversation: every precedence rule
    in one place. A button goes to its skill, and a confidential matter to HR's private queue, whatever the
    conversation was about; then an answer to the bot's own question goes to the skill that asked; right after a
    draft's card, "scrap that" presses its Cancel in words and "sorry, I meant 64" goes to its skill as a correction
    (`<skill>:correct`, which changes what it names or, changing nothing, handles the message as `routed`); a reply
    under a skill's card (a ticket's thread) goes to that skill; otherwise the words decide, and when two skills
    read them alike the bot asks which, unless its last word asked that already."""
    if message.is_action or routed.skill == SENSITIVE:
        return Decision(routed, routed, message)
    if state.awaiting is not None and state.awaiting in skills:
        return Decision(Route(state.awaiting, 1.0, "awaiting"), routed, message)
    if state.draft is not None and (drops_it(message.text) or corrects_it(message.text)):
        skill, draft_id = state.draft
        dropped = drops_it(message.text)
        typed = replace(message, action_id=f"{skill}:{'discard' if dropped else 'correct'}", action_value=draft_id)
        return Decision(Route(skill, 1.0, "cancel typed" if dropped else "correction"), routed, typed)
    if message.thread_ts and state.thread_owner is not None and state.thread_owner in skills:
        return Decision(Route(state.thread_owner, 1.0, "thread"), routed, message)
    if routed.reason == AMBIGUOUS and state.asked_which:
        asked_once = replace(routed, reason="classifier")
        return Decision(asked_once, asked_once, message)
    return Decision(routed, routed, message)
