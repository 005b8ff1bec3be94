"""Performance benchmark of the Back Office Assistant, each figure beside a naive baseline measured in the same run.

Phases (each in its own process, so its peak memory is its own):
  ack        Slack-signed events at fixed rates to the real app under uvicorn: ack latency p50/p99, errors,
             reply latency; baseline: the same app answering before it acks (bolt process_before_response);
             reference: an endpoint that only checks the signature (floor).
  knowledge  policy answers end to end offline and retrieval, on synthetic knowledge bases of 10k and 100k
             chunks built from our sample SOPs; baseline: rank_bm25 + Chroma's plain query path (naive.py).
  ingest     pages/s into a fresh store from the TTS handbook; baseline: embed and add chunk by chunk.

Prints a Markdown table and writes every number to JSON. `make bench` runs the full set (about 25 minutes
the first time, when the 100k-chunk knowledge base is built and cached under var/bench/cache)."""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script (python benchmarks/run.py): make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import HANDBOOK, REPO, log, machine  # noqa: E402

TARGETS = {
    "ack_p99_ms": (100.0, 50.0),  # at 100 events/s, p99 ≤ 50 ms
    "ack_errors": (100.0, 0.0),  # at 100 events/s, no errors
    "answer_p95_ms": (10_000, 150.0),  # 10k chunks, p95 ≤ 150 ms
    "retrieval_p95_ms": (100_000, 20.0),  # 100k chunks, p95 ≤ 20 ms
    "ingest_pages_per_s": (0, 100.0),
}
# The deployment the ack target is measured on: `serve --event-workers 1` (the web process stores and acks, one
# `backoffice events` process answers). "app" (everything in one process, as `make run`) is shown beside it.
TARGET_ACK_VARIANT = "app-event-worker"


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run in about a minute: 3 s per rate at 20/s, a 1k-chunk knowledge base, 20 handbook pages",
    )
    parser.add_argument("--only", default="ack,knowledge,ingest", help="phases to run (default: all three)")
    parser.add_argument("--duration", type=float, help="seconds of load per rate (default 60; --quick 3)")
    parser.add_argument("--rates", type=_floats, help="events per second, comma-separated (default 20,50,100)")
    parser.add_argument(
        "--ack-variants",
        default="app-event-worker,app,naive,floor",
        help="servers to load: app-event-worker (serve --event-workers 1: the web process stores and acks, one "
        "event worker process answers; SQLite), app (real app answering in the web process, SQLite, as make run), "
        "app-postgresql and app-event-worker-postgresql (the same on the local PostgreSQL), "
        "naive (answers before acking: the baseline), floor (signature check only, at the top rate), "
        "app-serial (experiment: the app with one listener thread instead of two)",
    )
    parser.add_argument("--users", type=int, default=1000, help="distinct employees sending events (default 1000)")
    parser.add_argument("--drain", type=float, default=90, help="max seconds to wait for replies after a rate run")
    parser.add_argument(
        "--kb-sizes", type=_floats, help="knowledge base sizes in chunks (default 10000,100000; --quick 1000)"
    )
    parser.add_argument("--rounds", type=int, help="retrieval passes over the questions (default 4; --quick 1)")
    parser.add_argument("--answer-rounds", type=int, help="answer passes over the questions (default 2; --quick 1)")
    parser.add_argument("--corpus", type=Path, default=HANDBOOK, help="ingest corpus (default: the TTS handbook)")
    parser.add_argument("--pages", type=int, help="ingest only the first N pages (default all; --quick 20)")
    parser.add_argument(
        "--cache",
        type=Path,
        default=REPO / "var" / "bench" / "cache",
        help="where built knowledge bases are kept between runs (default var/bench/cache)",
    )
    parser.add_argument("--rebuild", action="store_true", help="build the knowledge bases again even if cached")
    parser.add_argument(
        "--json", type=Path, default=REPO / "var" / "bench" / "results.json", help="where to write all figures"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.duration = args.duration or (3.0 if quick else 60.0)
    args.rates = args.rates or ([20.0] if quick else [20.0, 50.0, 100.0])
    args.kb_sizes = [int(x) for x in (args.kb_sizes or ([1000.0] if quick else [10_000.0, 100_000.0]))]
    args.rounds = args.rounds or (1 if quick else 4)
    args.answer_rounds = args.answer_rounds or (1 if quick else 2)
    args.pages = args.pages or (20 if quick else None)
    args.questions = 12 if quick else None
    if quick:
        args.drain = min(args.drain, 30)
    return args


# ---------------------------------------------------------------- phases, each in a child process


def run_phase(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """Run one phase in a fresh interpreter and return what it measured."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    try:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        command = [sys.executable, "-m", "benchmarks.run", "_phase", name, json.dumps(options), str(out)]
        if subprocess.run(command, cwd=REPO, env=env).returncode != 0:
            log(f"phase {name} {options} failed (its error is above); the others go on")
            return {"error": f"phase {name} failed"}
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return result
    finally:
        out.unlink(missing_ok=True)


def _phase_main(name: str, options: dict[str, Any], out: Path) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    if name == "ack":
        from benchmarks import ack_bench

        result = ack_bench.run(**options)
    elif name == "knowledge":
        from benchmarks import knowledge_bench

        result = knowledge_bench.run(**{**options, "cache": Path(options["cache"])})
    elif name == "ingest":
        from benchmarks import ingest_rate

        result = ingest_rate.run(**{**options, "corpus": Path(options["corpus"])})
    else:
        raise SystemExit(f"unknown phase {name}")
    out.write_text(json.dumps(result), encoding="utf-8")


# ---------------------------------------------------------------- the table


def _ratio(ours: float | None, baseline: float | None, higher_is_better: bool) -> float | None:
    if ours is None or baseline is None or math.isnan(ours) or math.isnan(baseline) or not ours or not baseline:
        return None
    return baseline / ours if not higher_is_better else ours / baseline


def _figure(
    name: str,
    unit: str,
    ours: float | None,
    baseline: float | None,
    *,
    higher_is_better: bool = False,
    target: float | None = None,
) -> dict[str, Any]:
    met = None
    if target is not None and ours is not None and not math.isnan(ours):
        met = ours >= target if higher_is_better else ours <= target
    ratio = _ratio(ours, baseline, higher_is_better)
    return {
        "figure": name,
        "unit": unit,
        "ours": ours,
        "baseline": baseline,
        "better_than_baseline_x": round(ratio, 2) if ratio is not None else None,
        "target": target,
        "target_met": met,
    }


def _ok(phase: dict[str, Any] | None) -> dict[str, Any] | None:
    """A phase's results, or None when it failed."""
    return phase if phase and "error" not in phase else None


def figures(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    ack = _ok(results.get("ack"))
    if ack:
        runs = {(r["mode"], r["rate"]): r for r in ack["runs"]}
        order = {TARGET_ACK_VARIANT: 0, "app": 1}
        for (mode, rate), run in sorted(runs.items(), key=lambda item: (item[0][1], order.get(item[0][0], 2))):
            if mode == "naive":
                continue
            base = runs.get(("naive", rate)) if mode != "floor" else None  # the floor is a reference, not ours
            label = {"app": "", "floor": ", signature check only (floor)"}.get(mode, f", {mode}")
            is_target = mode == TARGET_ACK_VARIANT and rate == TARGETS["ack_p99_ms"][0]
            for stat in ("p50", "p99"):
                rows.append(
                    _figure(
                        f"Slack ack {stat} @ {rate:g}/s{label}",
                        "ms",
                        run["ack_ms"][stat],
                        base["ack_ms"][stat] if base else None,
                        target=TARGETS["ack_p99_ms"][1] if is_target and stat == "p99" else None,
                    )
                )
            rows.append(
                _figure(
                    f"Slack ack errors @ {rate:g}/s{label} (of {run['sent']})",
                    "count",
                    run["errors"],
                    base["errors"] if base else None,
                    target=TARGETS["ack_errors"][1] if is_target else None,
                )
            )
            if mode != "floor":
                rows.append(
                    _figure(
                        f"Slack reply p50 @ {rate:g}/s{label} ({run['replied']} replied)",
                        "ms",
                        run["reply_ms"]["p50"],
                        base["reply_ms"]["p50"] if base else None,
                    )
                )
        servers = ack.get("servers", {})
        naive = servers.get("naive") or {}
        for name, label in ((TARGET_ACK_VARIANT, "web process with an event worker"), ("app", "app server")):
            if servers.get(name):
                rows.append(
                    _figure(f"peak memory, {label}", "MB", servers[name].get("peak_rss_mb"), naive.get("peak_rss_mb"))
                )
    for size, phase in sorted((results.get("knowledge") or {}).items(), key=lambda item: int(item[0])):
        ours, naive = _ok(phase.get("ours")), _ok(phase.get("naive"))
        chunks = ours["chunks"] if ours else int(size)
        label = f"{chunks / 1000:.0f}k chunks"
        size_n = int(size)
        for stat in ("p50", "p95"):
            target = TARGETS["answer_p95_ms"][1] if stat == "p95" and size_n == TARGETS["answer_p95_ms"][0] else None
            rows.append(
                _figure(
                    f"policy answer {stat}, {label}",
                    "ms",
                    ours["answer_ms"][stat] if ours else None,
                    naive["answer_ms"][stat] if naive else None,
                    target=target,
                )
            )
        for stat in ("p50", "p95"):
            target = (
                TARGETS["retrieval_p95_ms"][1] if stat == "p95" and size_n == TARGETS["retrieval_p95_ms"][0] else None
            )
            rows.append(
                _figure(
                    f"retrieval {stat}, {label}",
                    "ms",
                    ours["retrieval_ms"][stat] if ours else None,
                    naive["retrieval_ms"][stat] if naive else None,
                    target=target,
                )
            )
        rows.append(
            _figure(
                f"index ready (first search), {label}",
                "s",
                ours["index_load_seconds"] if ours else None,
                naive["index_load_seconds"] if naive else None,
            )
        )
        rows.append(
            _figure(
                f"peak memory, knowledge phase, {label}",
                "MB",
                ours["peak_rss_mb"] if ours else None,
                naive["peak_rss_mb"] if naive else None,
            )
        )
    ingest = results.get("ingest")
    if ingest:
        ours, naive = _ok(ingest.get("ours")), _ok(ingest.get("naive"))
        pages = (ours or naive or {}).get("pages", 0)
        rows.append(
            _figure(
                f"ingest, {pages} handbook pages",
                "pages/s",
                ours["pages_per_s"] if ours else None,
                naive["pages_per_s"] if naive else None,
                higher_is_better=True,
                target=TARGETS["ingest_pages_per_s"][1],
            )
        )
        rows.append(
            _figure(
                "peak memory, ingest phase",
                "MB",
                ours["peak_rss_mb"] if ours else None,
                naive["peak_rss_mb"] if naive else None,
            )
        )
    return rows


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return str(value)


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| figure | unit | ours | baseline | ours vs baseline | target | met |",
        "|---|---|---:|---:|---:|---:|:---:|",
    ]
    for row in rows:
        ratio = row["better_than_baseline_x"]
        target = row["target"]
        met = {True: "yes", False: "**no**", None: ""}[row["target_met"]]
        direction = "≥" if row["unit"] == "pages/s" else "≤"
        lines.append(
            f"| {row['figure']} | {row['unit']} | {_cell(row['ours'])} | {_cell(row['baseline'])} | "
            f"{f'{ratio:.2f}× better' if ratio is not None else '—'} | "
            f"{f'{direction} {_cell(target)}' if target is not None else ''} | {met} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_phase"]:
        _phase_main(argv[1], json.loads(argv[2]), Path(argv[3]))
        return 0
    args = parse_args(argv)
    only = {p.strip() for p in args.only.split(",") if p.strip()}
    started = time.perf_counter()
    results: dict[str, Any] = {"machine": machine(), "settings": _settings(args)}
    log(
        f"benchmark on {results['machine']['cpus']} CPUs ({results['machine']['cpu_model']}), load average "
        f"{results['machine']['load_average_at_start']}"
    )
    if "ingest" in only:
        results["ingest"] = {
            impl: run_phase("ingest", {"corpus": str(args.corpus), "impl": impl, "limit": args.pages})
            for impl in ("ours", "naive")
        }
    if "knowledge" in only:
        results["knowledge"] = {}
        for size in args.kb_sizes:
            results["knowledge"][str(size)] = {
                impl: run_phase(
                    "knowledge",
                    {
                        "chunks": size,
                        "impl": impl,
                        "cache": str(args.cache),
                        "rounds": args.rounds,
                        "answer_rounds": args.answer_rounds,
                        "questions": args.questions,
                        "rebuild": args.rebuild and impl == "ours",
                    },
                )
                for impl in ("ours", "naive")
            }
    if "ack" in only:
        variants = [v.strip() for v in args.ack_variants.split(",") if v.strip()]
        results["ack"] = run_phase(
            "ack",
            {
                "modes": variants,
                "rates": args.rates,
                "duration": args.duration,
                "users": args.users,
                "drain": args.drain,
                "floor_rate": max(args.rates),
            },
        )
    rows = figures(results)
    results["figures"] = rows
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(table(rows))
    m = results["machine"]
    print(
        f"\n{m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, Python {m['python']}, {m['date']}; "
        f"load average {m['load_average_at_start']} → {m['load_average_at_end']}; {results['seconds']:.0f} s. "
        f"All figures: {args.json}"
    )
    return 0


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        key: (str(value) if isinstance(value, Path) else value)
        for key, value in vars(args).items()
        if key not in ("json",)
    }


if __name__ == "__main__":
    sys.exit(main())
