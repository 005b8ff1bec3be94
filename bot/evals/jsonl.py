"""Eval files: JSONL rows, each with the keys an eval needs, and the error naming the line at fault."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class EvalFileError(ValueError):
    """The eval file is malformed; the message says which line and why."""


def read_jsonl(path: Path, required: tuple[str, ...]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalFileError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict) or any(key not in row for key in required):
            raise EvalFileError(f"{path}:{number}: each line needs the keys {', '.join(required)}")
        rows.append(row)
    if not rows:
        raise EvalFileError(f"{path}: no lines to evaluate")
    return rows
