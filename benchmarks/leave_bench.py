"""Leave benchmark: how fast free text becomes a checked request, end to end in-process.

Usage: python benchmarks/leave_bench.py [--json]
- parse: `parse_leave` over a fixed list of our own phrasings (p50 / p95 / max milliseconds);
- message: the whole pipeline (route → parse → working days → ledger balance → rule citations → card)
  for a request message on a fresh SQLite database (p50 / p95 milliseconds)."""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from bot.messages import Message
from bot.runtime import bootstrap_samples, build_runtime
from bot.settings import Settings
from skills.leave.config import load_policy
from skills.leave.dates import parse_leave

PHRASES = [
    "vacation Dec 22 to Jan 2",
    "can I take next friday off",
    "PTO 3/14-3/18 for my brother's graduation",
    "out tomorrow afternoon, dentist",
    "half day on the 9th, morning",
    "sick today",
    "parental leave from March 1st until June 18",
    "off the week of Jan 11",
    "holiday 2027-04-12 to 2027-04-16",
    "for 3 days starting Monday",
]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(as_json: bool) -> None:
    aliases = load_policy().aliases()
    today = date(2026, 11, 22)
    parse_leave("warm up", today=today, aliases=aliases)  # dateparser loads its data on first use
    parse_ms: list[float] = []
    for _ in range(50):
        for phrase in PHRASES:
            start = time.perf_counter()
            parse_leave(phrase, today=today, aliases=aliases)
            parse_ms.append((time.perf_counter() - start) * 1000)
    with tempfile.TemporaryDirectory() as tmp:
        runtime = build_runtime(Settings(_env_file=None, BACKOFFICE_DATA_DIR=str(Path(tmp))))  # type: ignore[call-arg]
        bootstrap_samples(runtime)
        runtime.assistant.clock = lambda: datetime(2026, 11, 22, 15, tzinfo=UTC)
        message_ms: list[float] = []
        for i in range(60):
            text = PHRASES[i % len(PHRASES)]
            start = time.perf_counter()
            runtime.assistant.handle(Message(user_id="U0000DEVTWO", text=text, channel="web:bench", platform="web"))
            message_ms.append((time.perf_counter() - start) * 1000)
        runtime.close()
    result = {
        "parse_ms": {"p50": statistics.median(parse_ms), "p95": percentile(parse_ms, 0.95), "max": max(parse_ms)},
        "message_ms": {"p50": statistics.median(message_ms), "p95": percentile(message_ms, 0.95)},
        "parses": len(parse_ms),
        "messages": len(message_ms),
    }
    if as_json:
        print(json.dumps(result, indent=2))
        return
    p, m = result["parse_ms"], result["message_ms"]
    print(f"parse_leave: p50 {p['p50']:.3f} ms, p95 {p['p95']:.3f} ms, max {p['max']:.2f} ms over {len(parse_ms)}")
    print(f"leave message end to end: p50 {m['p50']:.1f} ms, p95 {m['p95']:.1f} ms over {len(message_ms)}")


if __name__ == "__main__":
    main("--json" in sys.argv[1:])
