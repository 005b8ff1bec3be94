"""The skills. Adding one is a module plus one line in `build_skills`."""

from __future__ import annotations

from bot.expenses.config import ExpensePolicy
from bot.leave.config import LeavePolicy
from bot.tickets.config import ItConfig
from bot.tickets.incidents import IncidentModel
from skills.base import Skill
from skills.expense import ExpenseSkill
from skills.it import ItSkill
from skills.leave import LeaveSkill
from skills.policy import PolicySkill
from skills.sensitive import SensitiveSkill
from skills.smalltalk import SmalltalkSkill


def build_skills(
    leave_policy: LeavePolicy,
    expense_policy: ExpensePolicy,
    it_config: ItConfig,
    incidents: IncidentModel | None = None,
) -> list[Skill]:
    return [
        PolicySkill(),
        ItSkill(it_config, incidents),
        ExpenseSkill(expense_policy),
        LeaveSkill(leave_policy),
        SmalltalkSkill(),
        SensitiveSkill(),
    ]
