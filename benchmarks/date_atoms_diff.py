"""Differential check of the date readers: every known line read with pinned days, dumped as JSON to compare.

Usage: python benchmarks/date_atoms_diff.py OUT.json [--against BEFORE.json]
Reads the routing dev set, the dialogues' user turns, skills/examples/*.txt, the "text" fields of the ticket sets
and IT examples, and every string literal of the date tests, through the leave reader (parse_leave, days_named),
the expense reader (read_date, the merchant after "at"), leave's month words and the receipt date finder (also
over the SROIE sample's OCR boxes), at several pinned todays in both date orders; plus the day formatters over
three years of days. With --against, prints the entries that differ and exits 1 when any does.
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import json
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from skills.expenses.dates import read_date
from skills.expenses.merchants import read_merchant
from skills.expenses.receipt_dates import dates_in, find_date
from skills.expenses.scan import Scan, clean
from skills.leave.config import load_policy
from skills.leave.date_resolution import fmt_day
from skills.leave.dates import days_named, parse_leave
from skills.leave.records import _month_in
from skills.leave.requests import fmt_date, fmt_range

ROOT = Path(__file__).resolve().parent.parent
TODAYS = (date(2026, 3, 10), date(2026, 11, 22), date(2026, 12, 30), date(2028, 2, 29))
ORDERS = ("MDY", "DMY")
SROIE_BOXES = Path("/work/shared/datasets/sroie-sample/box")
TEST_FILES = (
    "test_leave_dates.py",
    "test_expense_parse.py",
    "test_calendar_edges.py",
    "test_questions_vs_requests.py",
    "test_receipts.py",
    "test_leave_flow.py",
    "test_expense_flow.py",
    "test_it_flow.py",
)


def lines() -> list[str]:
    """Every line to read, each once, in a fixed order."""
    found: list[str] = []
    for name in ("routing_dev.jsonl", "tickets_dev.jsonl", "tickets_plain.jsonl"):
        found += [json.loads(row)["text"] for row in (ROOT / "benchmarks" / name).read_text().splitlines() if row]
    found += [json.loads(row)["text"] for row in (ROOT / "skills/it/examples.jsonl").read_text().splitlines() if row]
    for path in sorted((ROOT / "benchmarks/dialogues").glob("*.jsonl")):
        for row in path.read_text().splitlines():
            if row:
                found += [turn["say"] for turn in json.loads(row)["turns"] if "say" in turn]
    for path in sorted((ROOT / "skills/examples").glob("*.txt")):
        found += [line for line in path.read_text().splitlines() if line.strip()]
    for name in TEST_FILES:
        tree = ast.parse((ROOT / "tests" / name).read_text())
        found += [
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and 0 < len(node.value) < 400
        ]
    return list(dict.fromkeys(found))


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {key: _plain(item) for key, item in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def _guarded(call: Any) -> Any:
    try:
        return _plain(call())
    except Exception as error:  # a reader that raises is a result too
        return f"raised {type(error).__name__}: {error}"


def _expense(text: str, today: date, order: str) -> dict[str, Any]:
    scan = Scan(clean(text), today, order, "USD", frozenset({"USD", "EUR", "GBP", "JPY", "MYR", "INR", "CAD"}))
    day = read_date(scan)
    return {
        "day": _plain(day),
        "questions": Scan.ordered(scan.questions),
        "problems": Scan.ordered(scan.problems),
        "notes": Scan.ordered(scan.notes),
    }


def dump() -> dict[str, Any]:
    aliases = load_policy().aliases()
    result: dict[str, Any] = {}
    texts = lines()
    for text in texts:
        entry: dict[str, Any] = {
            "month_in": _guarded(lambda: _month_in(text)),  # noqa: B023
            "merchant": _guarded(lambda: read_merchant(clean(text), None, [])),  # noqa: B023
        }
        for order in ORDERS:
            entry[f"receipt:{order}"] = _guarded(lambda: dates_in(text, date_order=order, compact=True))  # noqa: B023
            for today in TODAYS:
                key = f"{today}:{order}"
                entry[f"leave:{key}"] = _guarded(
                    lambda: parse_leave(text, today=today, aliases=aliases, date_order=order)  # noqa: B023
                )
                entry[f"named:{key}"] = _guarded(
                    lambda: days_named(text, today=today, aliases=aliases, date_order=order, near=today)  # noqa: B023
                )
                entry[f"expense:{key}"] = _guarded(lambda: _expense(text, today, order))  # noqa: B023
        result[f"line:{text}"] = entry
    if SROIE_BOXES.is_dir():
        for path in sorted(SROIE_BOXES.glob("*.csv")):
            with path.open(encoding="utf-8", errors="replace", newline="") as handle:
                rows = [",".join(row[8:]) for row in csv.reader(handle) if len(row) > 8]
            result[f"receipt:{path.name}"] = {
                order: _guarded(lambda: find_date(rows, date_order=order))  # noqa: B023
                for order in ("DMY", "MDY", "YMD")
            }
    day = date(2026, 1, 1)
    while day < date(2029, 1, 1):
        later = day + timedelta(days=day.toordinal() % 40)
        result[f"format:{day}"] = [
            fmt_day(day),
            fmt_date(day),
            fmt_range(day, day, "am"),
            fmt_range(day, later, "pm", "am"),
            fmt_range(day, later),
        ]
        day += timedelta(days=1)
    result["format:None"] = fmt_day(None)
    result["count"] = len(texts)
    return result


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print(__doc__)
        return 2
    out = Path(argv[0])
    now = dump()
    out.write_text(json.dumps(now, indent=1, sort_keys=True, ensure_ascii=False))
    print(f"{now['count']} lines read, {len(now)} entries written to {out}")
    if len(argv) == 3 and argv[1] == "--against":
        before = json.loads(Path(argv[2]).read_text())
        differing = sorted(key for key in before.keys() | now.keys() if before.get(key) != now.get(key))
        for key in differing[:50]:
            print(f"DIFF {key}\n  before: {before.get(key)}\n  after:  {now.get(key)}")
        print(f"{len(differing)} of {len(now)} entries differ")
        return 1 if differing else 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
