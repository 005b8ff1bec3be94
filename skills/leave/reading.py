"""Reading a message for the leave skill: the employee's today and the request their words describe."""

from __future__ import annotations

from datetime import date

from bot.db import local_date
from skills.base import SkillContext, date_order
from skills.leave.config import LeavePolicy
from skills.leave.dates import ParsedLeave, parse_leave


def local_today(ctx: SkillContext) -> date:
    """Today in the employee's own time zone (from Slack), so "tomorrow" means their tomorrow."""
    return local_date(ctx.now(), ctx.employee.tz)


def parse_request(policy: LeavePolicy, text: str, ctx: SkillContext, today: date) -> ParsedLeave:
    """The leave request a message describes, read with the policy's leave-type names and the employee's date order."""
    return parse_leave(text, today=today, aliases=policy.aliases(), date_order=date_order(ctx.employee))
