"""Smoke test of the performance benchmark (benchmarks/run.py): one short phase end to end, the table and the
JSON it writes. The full benchmark is `make bench`, never part of the test suite."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_quick_ingest_phase_prints_the_table_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--only", "ingest", "--pages", "4", "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "| ingest, 4 handbook pages | pages/s |" in run.stdout
    results = json.loads(out.read_text(encoding="utf-8"))
    ours, naive = results["ingest"]["ours"], results["ingest"]["naive"]
    assert ours["pages"] == naive["pages"] == 4
    # Both ways store the same chunks; only the speed differs.
    assert ours["stored_chunks"] == naive["stored_chunks"] == ours["chunks"] > 0
    assert results["machine"]["cpus"] >= 1
    ingest = next(f for f in results["figures"] if f["figure"].startswith("ingest"))
    assert ingest["target"] == 100.0 and ingest["ours"] == ours["pages_per_s"]


def test_help_describes_the_phases() -> None:
    run = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--help"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0
    assert "--quick" in run.stdout and "rank_bm25" in run.stdout


@pytest.mark.slow
def test_console_benchmark_loads_every_page_as_its_role(tmp_path: Path) -> None:
    out = tmp_path / "console.json"
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.console_bench", "--rows", "300", "--rounds", "2", "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "| /console/team | U0000ENGMGR |" in run.stdout
    pages = json.loads(out.read_text(encoding="utf-8"))["pages"]
    assert all("p95" in figures for figures in pages.values()), pages  # every page answered 200
