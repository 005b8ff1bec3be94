"""A tiny skill, written the way the README's "Adding a skill" says: one package with its skill and examples."""
