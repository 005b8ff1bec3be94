"""Helpers the flow tests share: talk to the assistant as the web chat does, and read Slack cards."""

from __future__ import annotations

from typing import Any

from bot.messages import Message, Reply
from bot.runtime import Runtime
from tests.slack_standin import Call


def say(runtime: Runtime, user: str, text: str) -> Reply:
    """`user` writes `text` in the local web chat."""
    return runtime.assistant.handle(Message(user_id=user, text=text, channel=f"web:{user}", platform="web"))


def click(runtime: Runtime, user: str, action_id: str, value: str, form: dict[str, str] | None = None) -> Reply:
    """`user` presses a button (or submits a form) in the local web chat."""
    return runtime.assistant.handle(Message.web_click(user, action_id, value, form))


def button(reply: Reply, action_id: str) -> str:
    """The value of a reply's button."""
    for b in reply.buttons:
        if b.action_id == action_id:
            return b.value
    raise AssertionError(f"no {action_id} button in {reply.buttons} / {reply.text}")


def block_element(call: Call, action_id: str) -> dict[str, Any]:
    """The first interactive element of a posted Slack message whose action_id starts with `action_id`."""
    for block in call.params["blocks"]:
        for item in block.get("elements", []):
            if str(item.get("action_id", "")).startswith(action_id):
                return dict(item)
    raise AssertionError(f"no {action_id} in {call.params['blocks']}")
