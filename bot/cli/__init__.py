"""The `backoffice` command line: serve, scheduler, migrate, ingest, directory import, chat, and evals."""

from __future__ import annotations

import typer

from bot.cli import conversation, server, setup
from bot.cli.directory import directory_app
from bot.cli.evals import eval_app
from bot.cli.expenses import expenses_app
from bot.cli.terminal import set_up_logging
from bot.cli.tokens import token_app

app = typer.Typer(
    help="Back Office Assistant: HR answers with sources, IT, expenses and leave — in Slack.", no_args_is_help=True
)
app.callback()(set_up_logging)
# In the order `backoffice --help` lists them.
for command in (
    setup.migrate,
    setup.bootstrap,
    setup.ingest,
    server.serve,
    server.events,
    server.scheduler,
    conversation.chat,
    conversation.explain,
):
    app.command()(command)
app.add_typer(directory_app, name="directory")
app.add_typer(token_app, name="token")
app.add_typer(expenses_app, name="expenses")
app.add_typer(eval_app, name="eval")
