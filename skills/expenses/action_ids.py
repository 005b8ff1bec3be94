"""The expense skill's action ids, its buttons and forms (each starts with the skill's name, so the router sends
the click back to it); `ExpenseSkill.actions` maps them to their handlers."""

START = "expense:start"  # offered beside an expense answer: the next message is the claim
CONFIRM = "expense:confirm"  # the employee submits a draft
EDIT = "expense:edit"  # opens the form on a draft or pending claim
EDIT_SUBMIT = "expense:edit_submit"  # that form sent
CORRECT = "expense:correct"  # a draft corrected in words (bot.conversation_repair builds `<skill>:correct`)
DISCARD = "expense:discard"  # a draft dropped (also `<skill>:discard` from bot.conversation_repair)
WITHDRAW = "expense:withdraw"  # the employee takes back a submitted claim
APPROVE = "expense:approve"  # the manager's, or finance's above the threshold
REJECT = "expense:reject"  # opens the form asking why
REJECT_SUBMIT = "expense:reject_submit"  # the reason sent
REIMBURSED = "expense:reimbursed"  # finance marks the claim paid
