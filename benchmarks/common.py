"""Helpers shared by the benchmark phases: percentiles, resource use, questions, the machine description."""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
HANDBOOK = REPO.parent / "shared" / "corpora" / "tts-handbook" / "pages"
SAMPLE_QUESTIONS = REPO / "benchmarks" / "retrieval_samples.jsonl"
SIGNING_SECRET = "bench-signing-secret"
# A plain employee of the sample directory: asks in DMs, sees only documents for everyone.
ASKER = "U0000DEVTWO"


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (p99 of 100 values is the 99th smallest)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1))]


def latency_summary(values_ms: list[float]) -> dict[str, float]:
    return {
        "n": len(values_ms),
        "p50": round(percentile(values_ms, 0.50), 3),
        "p95": round(percentile(values_ms, 0.95), 3),
        "p99": round(percentile(values_ms, 0.99), 3),
        "max": round(max(values_ms), 3) if values_ms else math.nan,
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports kilobytes)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def policy_questions(limit: int | None = None) -> list[str]:
    """Our own dev-set questions about the sample SOPs (benchmarks/retrieval_samples.jsonl)."""
    rows = [json.loads(line) for line in SAMPLE_QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = [str(row["question"]) for row in rows]
    return questions[:limit] if limit else questions


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line), "")
    except OSError:
        pass
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "memory_gib": round(memory_gib, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
    }


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True)
    except OSError:
        return ""
    return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def chroma_client(directory: Path) -> Any:
    """A Chroma client on the store in `directory`, as `KnowledgeIndex.persistent` opens it."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.PersistentClient(
        path=str(directory), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True)
    )


def log(message: str) -> None:
    """Progress goes to stderr, so stdout stays the table."""
    print(message, file=sys.stderr, flush=True)
