"""IT tickets: triage (category, priority), the ticket service, SLAs and incidents."""
