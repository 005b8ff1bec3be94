"""The skills. Adding one is a module plus one line in `build_skills`."""

from __future__ import annotations

from bot.leave.config import LeavePolicy
from skills.base import Skill
from skills.it import ItSkill
from skills.leave import LeaveSkill
from skills.pending import expense_skill
from skills.policy import PolicySkill
from skills.smalltalk import SmalltalkSkill


def build_skills(leave_policy: LeavePolicy) -> list[Skill]:
    return [
        PolicySkill(),
        ItSkill(),
        expense_skill(),
        LeaveSkill(leave_policy),
        SmalltalkSkill(),
    ]
