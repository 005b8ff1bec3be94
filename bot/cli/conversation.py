"""Talking to the assistant in the terminal: `chat`, and `explain` (why a message goes where it goes)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from bot.cli.terminal import out, settings_or_exit


def chat(
    text: Annotated[str | None, typer.Argument(help="Question to ask once; omit for an interactive session.")] = None,
    as_user: Annotated[str, typer.Option("--as", help="Slack id of the employee you are.")] = "U0000DEVONE",
) -> None:
    """Talk to the assistant in the terminal (same pipeline as Slack and the web chat)."""
    from bot.messages import Message, Reply
    from bot.runtime import bootstrap_samples, build_runtime

    runtime = build_runtime(settings_or_exit())
    bootstrap_samples(runtime)

    def show(reply: Reply) -> None:
        out.print(reply.text, markup=False, highlight=False)
        for citation in reply.citations:
            out.print(f"  📄 {citation.label} — {citation.location}", markup=False, highlight=False)

    def ask(line: str) -> None:
        show(runtime.assistant.handle(Message(user_id=as_user, text=line, channel=f"cli:{as_user}", platform="cli")))

    if text is not None:
        ask(text)
    else:
        out.print("Ask me anything (Ctrl-D to quit).")
        while True:
            try:
                line = input("> ") if sys.stdin.isatty() else sys.stdin.readline()
            except (EOFError, KeyboardInterrupt):
                break
            if not sys.stdin.isatty() and not line:
                break
            if line.strip():
                ask(line.strip())
    runtime.close()


def explain(
    text: Annotated[str, typer.Argument(help="The message, as an employee would write it.")],
) -> None:
    """Why a message goes where it goes: the input checks, the classifier's top skills, whether it is a question,
    a request or about one's own records, the route, and for a question the documents' answer and what the
    employee gets (an answer, HR, IT or the menu). Read-only: nothing is stored or sent."""
    from bot.explain import explain as explain_message
    from bot.runtime import build_runtime

    runtime = build_runtime(settings_or_exit(), migrate=False)
    try:
        table = Table(title=f"Why {text[:60]!r} goes where it goes")
        for column in ("step", "outcome", "why"):
            table.add_column(column)
        for step in explain_message(runtime, text):
            table.add_row(step.name, step.outcome, step.why)
        out.print(table)
    finally:
        runtime.close()
