"""`python -m bot.cli`: the command line, as the `backoffice` script runs it."""

from bot.cli import app

app()
