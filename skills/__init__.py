"""The skills: one package (or module) each, listed in `skills.registry`."""
