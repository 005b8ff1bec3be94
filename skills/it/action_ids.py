"""The IT skill's action ids, its buttons, selects and forms (each starts with the skill's name, so the router
sends the click back to it); `ItSkill.actions` maps them to their handlers."""

OPEN_TICKET = "it:open_ticket"  # offered beside a how-to answer: a ticket for the question asked
INCIDENT_RESOLVE = "it:incident_resolve"  # opens the form on an incident card
INCIDENT_RESOLVE_SUBMIT = "it:incident_resolve_submit"  # that form sent
# IT's triage, on a ticket (its id, and any argument after ":", in the value)
CLAIM = "it:claim"
ASSIGN = "it:assign"  # a user select: the person chosen comes in the form
WAITING = "it:waiting"  # waiting on the requester
PROGRESS = "it:progress"  # back in progress
PRIORITY = "it:priority"  # one button per other priority
RESOLVE = "it:resolve"  # opens the form asking what fixed it
RESOLVE_SUBMIT = "it:resolve_submit"  # that form sent
EDIT = "it:edit"  # opens the category / priority form (IT or the requester)
EDIT_SUBMIT = "it:edit_submit"  # that form sent
# the requester's, once IT resolved it
CONFIRM = "it:confirm"
REOPEN = "it:reopen"
RATE = "it:rate"  # 1 to 5 after the ticket id
