"""The IT skill: the conversation (`skill`), triage (category, priority), the ticket service, SLAs and incidents."""
