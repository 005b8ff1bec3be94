"""Helpers the flow tests share: talk to the assistant as the web chat does, and read Slack cards."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from bot.messages import Message, Reply
from bot.runtime import Runtime
from skills.leave.workdays import is_working_day
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


def working_days_ahead(count: int, *, country: str = "US", weeks: int = 5) -> tuple[date, date]:
    """The first and last day of `count` working days from a Monday about `weeks` weeks after today, none of
    them a public holiday in `country` and all in one year: leave dates that mean the same to the assistant
    whatever day the suite runs on (`pytest --at`), for tests that are not about the calendar."""
    start = date.today() + timedelta(weeks=weeks)
    while True:
        start += timedelta(days=(7 - start.weekday()) % 7)
        days = [start + timedelta(days=n) for n in range(count)]
        if days[-1].year == start.year and all(is_working_day(day, country=country) for day in days):
            return start, days[-1]
        start += timedelta(days=1)


def month_day(day: date) -> str:
    """How people in the US write a day: 12/14."""
    return f"{day.month}/{day.day}"
