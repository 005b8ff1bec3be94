"""Ingest benchmark: first ingest of a corpus, an unchanged re-run, and a re-run after editing one file.

Usage: python benchmarks/ingest_bench.py CORPUS_DIR [--json]
Prints seconds for each run and the speed-up of the unchanged re-run (the target is at least 10×)."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bot.db import Database
from bot.migrate import upgrade
from knowledge.index import KnowledgeIndex


def main(corpus: Path, as_json: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        copy = work / "corpus"
        shutil.copytree(corpus, copy)
        url = f"sqlite:///{work / 'bench.db'}"
        upgrade(url)
        database = Database(url)
        index = KnowledgeIndex.persistent(work / "chroma")

        def run() -> tuple[float, object]:
            started = time.perf_counter()
            with database.session_scope() as session:
                report = index.ingest(session, [copy])
            return time.perf_counter() - started, report

        first, first_report = run()
        second, second_report = run()
        victim = sorted(copy.rglob("*.md"))[0]
        victim.write_text(
            victim.read_text(encoding="utf-8") + "\n\nAn added paragraph for the benchmark.\n", encoding="utf-8"
        )
        third, third_report = run()
        figures = {
            "files": len(first_report.added),  # type: ignore[attr-defined]
            "chunks": first_report.chunks,  # type: ignore[attr-defined]
            "first_seconds": round(first, 3),
            "unchanged_seconds": round(second, 3),
            "unchanged_speedup": round(first / second, 1) if second else None,
            "one_edit_seconds": round(third, 3),
            "one_edit_updated": len(third_report.updated),  # type: ignore[attr-defined]
            "unchanged_skipped": len(second_report.unchanged),  # type: ignore[attr-defined]
        }
        database.dispose()
    for name, value in figures.items():
        print(f"{name:>20}: {value}")
    if as_json:
        print(json.dumps(figures))


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if len(sys.argv) > 1 else 2)
    main(Path(sys.argv[1]), "--json" in sys.argv)
