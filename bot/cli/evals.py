"""`backoffice eval`: routing, retrieval, answers, intents, dialogues, tickets and receipts measured."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from bot.cli.terminal import console, out, progress_bar, settings_or_exit

eval_app = typer.Typer(help="Measure routing, retrieval and ticket-triage quality.", no_args_is_help=True)


def _print_figures(title: str, figures: dict[str, Any], misses: list[dict[str, Any]], as_json: bool) -> None:
    """An eval's figures as a table, then the misses asked for, then (--json) the figures as the last line."""
    table = Table(title=title)
    table.add_column("figure")
    table.add_column("value")
    for name, value in figures.items():
        table.add_row(escape(name), str(value))  # "fact_hit[paraphrase]" is not a style tag
    out.print(table)
    for miss in misses:
        out.print(miss, markup=False)
    if as_json:
        print(json.dumps(figures))


@eval_app.command("routing")
def eval_routing(
    file: Annotated[Path, typer.Argument(help='JSONL lines {"text": ..., "skill": ...}.')],
    predictions: Annotated[Path | None, typer.Option(help="Write one JSON line per input with the prediction.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as one JSON object (last line).")] = False,
) -> None:
    """Route every line and print accuracy, per-skill precision/recall and out-of-scope recall."""
    from bot.evals.jsonl import EvalFileError, read_jsonl
    from bot.evals.routing import evaluate_routing
    from bot.runtime import build_router
    from knowledge.embeddings import MiniLMEmbeddings
    from skills.expenses.config import load_expense_policy
    from skills.it.config import load_it_config
    from skills.leave.config import load_policy
    from skills.registry import build_skills

    try:
        rows = read_jsonl(file, ("text", "skill"))
    except (EvalFileError, OSError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    settings = settings_or_exit()

    skills = build_skills(
        load_policy(settings.leave_config),
        load_expense_policy(settings.expense_config),
        load_it_config(settings.it_config),
    )
    router = build_router(settings, MiniLMEmbeddings(), {s.name: tuple(s.examples) for s in skills})
    result = evaluate_routing(router, rows)
    if predictions:
        predictions.write_text("".join(json.dumps(p) + "\n" for p in result.predictions), encoding="utf-8")
    table = Table(title=f"Routing: accuracy {result.accuracy:.3f} on {result.total} lines")
    for column in ("skill", "precision", "recall", "support"):
        table.add_column(column)
    for skill, figures in result.per_skill.items():
        table.add_row(skill, f"{figures['precision']:.3f}", f"{figures['recall']:.3f}", str(int(figures["support"])))
    out.print(table)
    if result.out_of_scope_recall is not None:
        out.print(f"out-of-scope recall: {result.out_of_scope_recall:.3f}")
    if as_json:
        print(json.dumps(result.figures()))


@eval_app.command("retrieval")
def eval_retrieval(
    file: Annotated[
        Path, typer.Argument(help='JSONL lines {"question", "relevant": [paths], "answer_keywords", "answerable"}.')
    ],
    corpus: Annotated[
        Path, typer.Option(help="Folder the relevant paths are relative to; ingested into a fresh store.")
    ],
    k: Annotated[int, typer.Option(help="Cut-off for the headline recall.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as one JSON object (last line).")] = False,
    show_misses: Annotated[bool, typer.Option(help="List the questions that missed.")] = False,
) -> None:
    """Recall@1/3/5, MRR@10, answer keyword hit rate, abstention on unanswerables, latency."""
    from bot.evals.jsonl import EvalFileError, read_jsonl
    from bot.evals.retrieval import evaluate_retrieval

    if not corpus.is_dir():
        console.print(f"[red]--corpus {corpus} is not a folder[/red]")
        raise typer.Exit(2)
    try:
        rows = read_jsonl(file, ("question",))
    except (EvalFileError, OSError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    settings = settings_or_exit()
    console.print(f"Ingesting {corpus} into a temporary store…")
    result = evaluate_retrieval(rows, corpus, k=k, min_score=settings.answer_min_score)
    _print_figures(f"Retrieval over {corpus}", result.figures, result.misses if show_misses else [], as_json)


@eval_app.command("answers")
def eval_answers(
    corpus: Annotated[Path, typer.Argument(help="The company's documents (a folder), the only thing ingested.")],
    qa: Annotated[
        Path,
        typer.Argument(
            help='JSONL lines {"question", "answer_keywords": [...], "kind"}; a personal question has '
            '"skill" (leave, expense, it) instead of keywords.'
        ),
    ],
    unanswerable: Annotated[
        Path | None, typer.Argument(help='JSONL lines {"question"} the documents do not answer.')
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as one JSON object (last line).")] = False,
    show_misses: Annotated[bool, typer.Option(help="List every question answered wrongly, with the reply.")] = False,
) -> None:
    """Deploy with only CORPUS (migrate, directory import, ingest, serve --no-samples, in a temporary folder),
    ask every question over HTTP as a different employee, and print what they saw: fact hit (answered, with
    every answer keyword in the reply), abstain rate on unanswerable questions, misrouted rate (a question
    that got a form, a ticket or the menu), p50/p95 latency."""
    from bot.evals.answers import answer_rows, evaluate_answers
    from bot.evals.jsonl import EvalFileError, read_jsonl

    if not corpus.is_dir():
        console.print(f"[red]{corpus} is not a folder[/red]")
        raise typer.Exit(2)
    try:
        rows = answer_rows(
            read_jsonl(qa, ("question",)), read_jsonl(unanswerable, ("question",)) if unanswerable else []
        )
    except (EvalFileError, OSError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    try:
        result = evaluate_answers(corpus, rows, on_step=lambda text: console.print(f"… {text}"))
    except RuntimeError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    _print_figures(f"Answers over HTTP, {corpus} only", result.figures, result.misses if show_misses else [], as_json)


@eval_app.command("intents")
def eval_intents(
    data: Annotated[Path, typer.Argument(help="CLINC150's data_full.json.")],
    mapping: Annotated[
        Path, typer.Option(help="Intent -> skill(s) JSON; an intent it does not list is out of scope.")
    ] = Path("benchmarks/clinc150_skills.json"),
    split: Annotated[str, typer.Option(help="val (a dev set) or test (held out: never tune on it).")] = "val",
    corpus: Annotated[
        Path | None, typer.Option(help="The company's documents to deploy with (none: no documents).")
    ] = None,
    per_intent: Annotated[int | None, typer.Option(help="At most this many messages of each intent.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as one JSON object (last line).")] = False,
    show_misses: Annotated[bool, typer.Option(help="List the commonest mistakes with an example each.")] = False,
) -> None:
    """Deploy (as `eval answers` does), send every message of a CLINC150 split over HTTP, each from another
    employee, and print where the replies went: in-scope accuracy (the mapped skill took it, or a policy answer
    offered its action), out-of-scope recall (no skill acted: the smalltalk reply or the menu), p50/p95."""
    from bot.evals.intents import evaluate_intents, intent_rows
    from bot.evals.jsonl import EvalFileError

    try:
        rows = intent_rows(data, mapping, split, per_intent)
    except (EvalFileError, OSError, ValueError, KeyError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    if corpus is not None and not corpus.is_dir():
        console.print(f"[red]--corpus {corpus} is not a folder[/red]")
        raise typer.Exit(2)
    try:
        result = evaluate_intents(corpus, rows, on_step=lambda text: console.print(f"… {text}"))
    except RuntimeError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    title = f"Intents over HTTP, {data.name} {split}" + (f", {corpus} only" if corpus else ", no documents")
    _print_figures(title, result.figures, result.confusions() if show_misses else [], as_json)


@eval_app.command("dialogues")
def eval_dialogues(
    file: Annotated[
        Path,
        typer.Argument(
            help='JSONL dialogues {"id", "behaviour", "turns": [{"say" | "click", "expect"}], "records"}; '
            "the format is in docs/benchmarks.md."
        ),
    ],
    corpus: Annotated[
        Path | None, typer.Option(help="The company's documents to deploy with (none: no documents).")
    ] = None,
    today: Annotated[
        str, typer.Option(help="The moment the deployment's clock starts at (ISO, UTC); relative dates use it.")
    ] = "2027-03-09T10:00:00",
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as one JSON object (last line).")] = False,
    show_misses: Annotated[bool, typer.Option(help="List the failed dialogues, why, and what was said.")] = False,
) -> None:
    """Deploy (as `eval answers` does, with the clock pinned at --today), play every scripted conversation over
    HTTP as a new employee (web chat, buttons pressed through /api/action) and print the share that passed,
    overall and per behaviour: each turn's reply as expected, and the leave requests, expense claims and
    tickets on record at the end exactly those expected. Needs the dev install (the clock is pinned with
    time-machine)."""
    from datetime import UTC, datetime

    from bot.evals.dialogues import dialogue_rows, evaluate_dialogues
    from bot.evals.jsonl import EvalFileError

    try:
        rows = dialogue_rows(file)
        moment = datetime.fromisoformat(today)
    except (EvalFileError, OSError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    if corpus is not None and not corpus.is_dir():
        console.print(f"[red]--corpus {corpus} is not a folder[/red]")
        raise typer.Exit(2)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        result = evaluate_dialogues(corpus, rows, today=moment, on_step=lambda text: console.print(f"… {text}"))
    except RuntimeError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    title = f"Dialogues over HTTP, {file.name}" + (f", {corpus} only" if corpus else ", no documents")
    _print_figures(title, result.figures, result.misses if show_misses else [], as_json)


@eval_app.command("tickets")
def eval_tickets(
    file: Annotated[
        Path,
        typer.Argument(
            help='JSONL lines {"text", "category", "priority", "security": bool, "is_problem": bool}; '
            "category is one of access, account, hardware, software, network, security, other; priority P1-P4."
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as one JSON object (last line).")] = False,
    show_misses: Annotated[
        bool, typer.Option(help="List the lines where any label was wrong, with the reasons.")
    ] = False,
) -> None:
    """Triage every line offline (no LLM) and print category and priority accuracy, priority within one level,
    security precision/recall, how-to detection accuracy, per-category figures and the commonest confusions."""
    from bot.evals.jsonl import EvalFileError, read_jsonl
    from skills.it.evals import TICKET_KEYS, evaluate_tickets

    try:
        rows = read_jsonl(file, TICKET_KEYS)
    except (EvalFileError, OSError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    from knowledge.embeddings import MiniLMEmbeddings
    from skills.it.incidents import IncidentModel

    try:
        incidents = IncidentModel.from_examples(MiniLMEmbeddings(), vector_cache=settings_or_exit().cache_dir)
        result = evaluate_tickets(rows, incidents)
    except EvalFileError as exc:
        console.print(f"{file}: {exc}", style="red", markup=False)
        raise typer.Exit(2) from exc

    def shown(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    summary = Table(title=f"Ticket triage over {result.total} lines")
    summary.add_column("figure")
    summary.add_column("value")
    for name, value in (
        ("category accuracy", result.category_accuracy),
        ("priority accuracy", result.priority_accuracy),
        ("priority within one level", result.priority_within_one),
        ("security precision", result.security_precision),
        ("security recall", result.security_recall),
        ("is_problem accuracy", result.is_problem_accuracy),
    ):
        summary.add_row(name, shown(value))
    out.print(summary)
    per_category = Table(title="Per category")
    for column in ("category", "support", "predicted", "correct", "precision", "recall"):
        per_category.add_column(column)
    for label, figures in result.per_category.items():
        per_category.add_row(
            label,
            *(str(int(figures[key])) for key in ("support", "predicted", "correct")),
            f"{figures['precision']:.3f}",
            f"{figures['recall']:.3f}",
        )
    out.print(per_category)
    for title, pairs in (
        ("Category confusions", result.category_confusions),
        ("Priority confusions", result.priority_confusions),
    ):
        if pairs:
            table = Table(title=title)
            for column in ("gold", "predicted", "count"):
                table.add_column(column)
            for pair in pairs:
                table.add_row(str(pair["gold"]), str(pair["predicted"]), str(pair["count"]))
            out.print(table)
    if show_misses:
        for miss in result.misses:
            out.print(miss, markup=False)
    if as_json:
        print(json.dumps(result.figures()))


class _Half(StrEnum):
    """Which half of a receipt folder `eval receipts --only` reads: names ending in an even or an odd digit."""

    even = "even"
    odd = "odd"


@eval_app.command("receipts")
def eval_receipts(
    directory: Annotated[
        Path,
        typer.Argument(
            help="Folder of receipts with ground truth: img/NNN.jpg + key/NNN.json (SROIE layout), or NNN.jpg + "
            'NNN.json side by side; each key {"company", "date", "total"}. Images or PDFs.'
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as one JSON object (last line).")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="Read only the first N receipts (by file name).")] = None,
    only: Annotated[
        _Half | None,
        typer.Option(
            help="Read only the receipts whose name ends in an even (development) or odd (held-out) digit.",
        ),
    ] = None,
    show_misses: Annotated[
        bool, typer.Option(help="List every receipt where a field was wrong: expected and read values.")
    ] = False,
) -> None:
    """Read every receipt (PDF text layer or Tesseract) and print the accuracy of total (to the cent), date
    (same day), company (normalised exact, and token F1 ≥ 0.8) and currency (against the one SROIE's box/NNN.csv
    transcript shows), and seconds per receipt. Receipts whose ground truth for a field is empty (for currency:
    no currency printed) are left out of that field's figure and counted."""
    from bot.evals.jsonl import EvalFileError
    from skills.expenses.evals import evaluate_receipts, receipt_pairs

    half = only.value if only else None
    try:
        count = len(receipt_pairs(directory, only=half))
    except EvalFileError as exc:
        console.print(str(exc), style="red", markup=False)
        raise typer.Exit(2) from exc
    count = min(count, limit) if limit else count
    with progress_bar() as progress:
        task = progress.add_task("Reading receipts", total=count)
        try:
            result = evaluate_receipts(
                directory,
                limit=limit,
                only=half,
                on_progress=lambda done, _total: progress.update(task, completed=done),
            )
        except EvalFileError as exc:
            console.print(str(exc), style="red", markup=False)
            raise typer.Exit(2) from exc
    figures = result.figures()

    def shown(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    title = f"Receipts: {result.receipts} read from {directory}" + (f" ({half} half)" if half else "")
    table = Table(title=title)
    for column in ("field", "accuracy", "correct", "graded", "skipped (no ground truth)"):
        table.add_column(column)
    for field, label in (("total", "total (to the cent)"), ("date", "date (same day)"), ("company", "company exact")):
        table.add_row(
            label,
            shown(result.accuracy(field)),
            str(result.correct[field]),
            str(result.graded[field]),
            str(result.skipped[field]),
        )
    table.add_row(
        "company token F1 ≥ 0.8",
        shown(result.company_lenient_rate),
        str(result.company_lenient),
        str(result.graded["company"]),
        str(result.skipped["company"]),
    )
    table.add_row(
        "currency (as printed)",
        shown(result.accuracy("currency")),
        str(result.correct["currency"]),
        str(result.graded["currency"]),
        str(result.skipped["currency"]),
    )
    out.print(table)
    out.print(
        f"seconds per receipt: {figures['seconds_per_receipt']} (p50 {figures['seconds_p50']}, "
        f"max {figures['seconds_max']}); unreadable: {result.unreadable}",
        markup=False,
    )
    if show_misses:
        for miss in result.misses:
            out.print(miss, markup=False)
    if as_json:
        print(json.dumps(figures))
