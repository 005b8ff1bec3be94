"""Each skill declares its action ids (buttons and forms) in one module and handles them through its `actions`
mapping: every id starts with the skill's name, since the router sends a click on `<name>:…` to that skill, and
no declared id is left without a handler (nor a handled one left undeclared)."""

from __future__ import annotations

from types import ModuleType

import pytest

from skills import sensitive_action_ids
from skills.base import Skill
from skills.expenses import action_ids as expense_action_ids
from skills.expenses.config import load_expense_policy
from skills.it import action_ids as it_action_ids
from skills.it.config import load_it_config
from skills.leave import action_ids as leave_action_ids
from skills.leave.config import load_policy
from skills.policy import action_ids as policy_action_ids
from skills.registry import build_skills

ID_MODULES: dict[str, ModuleType] = {
    "policy": policy_action_ids,
    "sensitive": sensitive_action_ids,
    "leave": leave_action_ids,
    "expense": expense_action_ids,
    "it": it_action_ids,
}


def declared(module: ModuleType) -> set[str]:
    """The action ids a module declares: its upper-case string constants."""
    return {value for name, value in vars(module).items() if name.isupper() and isinstance(value, str)}


@pytest.fixture(scope="module")
def skills() -> dict[str, Skill]:
    return {skill.name: skill for skill in build_skills(load_policy(), load_expense_policy(), load_it_config())}


def test_every_skill_with_buttons_has_an_id_module(skills: dict[str, Skill]) -> None:
    assert {name for name, skill in skills.items() if skill.actions} == set(ID_MODULES)


@pytest.mark.parametrize("name", sorted(ID_MODULES))
def test_a_skills_declared_ids_start_with_its_name_and_are_all_handled(skills: dict[str, Skill], name: str) -> None:
    ids = declared(ID_MODULES[name])
    assert ids, f"{ID_MODULES[name].__name__} declares no action ids"
    assert sorted(i for i in ids if not i.startswith(f"{name}:")) == []
    assert sorted(ids - set(skills[name].actions)) == [], "declared but not handled"
    assert sorted(set(skills[name].actions) - ids) == [], "handled but not declared"
