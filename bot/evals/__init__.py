"""Quality measured, not guessed: the evals of routing, retrieval, answers, intents and dialogues."""
