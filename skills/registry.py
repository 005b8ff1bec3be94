"""The one list of skills the platform runs: adding a skill is its package (or module) plus one line here."""

from __future__ import annotations

from skills.base import Skill
from skills.expenses.config import ExpensePolicy
from skills.expenses.skill import ExpenseSkill
from skills.it.config import ItConfig
from skills.it.incidents import IncidentModel
from skills.it.skill import ItSkill
from skills.leave.config import LeavePolicy
from skills.leave.skill import LeaveSkill
from skills.policy.skill import PolicySkill
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
