"""The policy skill's action ids, its buttons and forms (each starts with the skill's name, so the router sends
the click back to it); `PolicySkill.actions` maps them to their handlers."""

ASK_HR = "policy:ask_hr"  # the asker sends a question the documents did not answer to HR
ANSWER = "policy:answer"  # HR opens the answer form on an escalation card
ANSWER_SUBMIT = "policy:answer_submit"  # the answer form sent
RESOLVE = "policy:resolve"  # HR closes an escalation without answering
PUBLISH = "policy:publish"  # HR publishes an answered question as an FAQ
