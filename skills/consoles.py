"""The skills' console pages: the one list the console shell (bot.console.routes.install) mounts."""

from __future__ import annotations

from bot.console.shell import ConsolePages
from skills.expenses import console as expenses_console
from skills.it import console as it_console
from skills.leave import console as leave_console
from skills.policy import console as policy_console

# Kept apart from skills.registry: these import the console shell, which imports the runtime, which imports the
# registry.
SKILL_CONSOLES: tuple[ConsolePages, ...] = (
    policy_console.PAGES,
    it_console.PAGES,
    leave_console.PAGES,
    expenses_console.PAGES,
)
