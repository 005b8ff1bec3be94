"""The leave skill's action ids, its buttons and forms (each starts with the skill's name, so the router sends
the click back to it); `LeaveSkill.actions` maps them to their handlers."""

OPEN_FORM = "leave:open_form"  # opens the request form (also offered beside a leave answer)
FORM = "leave:form"  # the request form sent: a new request, or a draft edited
CONFIRM = "leave:confirm"  # the employee sends a draft to their approver
EDIT = "leave:edit"  # opens the form on a draft or pending request
CORRECT = "leave:correct"  # a draft corrected in words (bot.conversation_repair builds `<skill>:correct`)
DISCARD = "leave:discard"  # a draft dropped (also `<skill>:discard` from bot.conversation_repair)
APPROVE = "leave:approve"
DENY = "leave:deny"  # opens the form asking why
DENY_SUBMIT = "leave:deny_submit"  # the reason sent
WITHDRAW = "leave:withdraw"  # the employee takes back a pending request
CANCEL = "leave:cancel"  # the employee cancels approved leave
