"""The sensitive skill's action ids, its buttons and forms on the private HR card (each starts with the skill's
name, so the router sends the click back to it); `SensitiveSkill.actions` maps them to their handlers."""

ANSWER = "sensitive:answer"  # HR opens the private reply form
ANSWER_SUBMIT = "sensitive:answer_submit"  # the private reply form sent
RESOLVE = "sensitive:resolve"  # HR closes the request
