"""The skills. Adding one is a module plus one line in `build_skills`."""

from __future__ import annotations

from skills.base import Skill
from skills.pending import expense_skill, it_skill, leave_skill
from skills.policy import PolicySkill
from skills.smalltalk import SmalltalkSkill


def build_skills() -> list[Skill]:
    return [
        PolicySkill(),
        it_skill(),
        expense_skill(),
        leave_skill(),
        SmalltalkSkill(),
    ]
