# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-slow test-dates faults install lint eval bench screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Set up, migrate, load the sample directory + SOPs, serve on http://127.0.0.1:8000
run: $(STAMP)
	$(BIN)/backoffice bootstrap
	$(BIN)/backoffice serve --host 127.0.0.1 --port 8000 --no-samples

## The tests against SQLite and the local PostgreSQL (127.0.0.1:5432), on two processes: all but the slow
## end-to-end ones (`make test-slow`) and the fault suite (`make faults`); CI runs all three
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m "not slow and not faults"

## The slow end-to-end tests (-m slow): other processes, a whole handbook, the browser, the evals over HTTP
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m "slow and not faults"

## The date-sensitive tests (-m calendar) at each odd moment in tests/travel.py: month end, New Year's Eve,
## a leap day, a Friday before a Monday holiday, 23:59 in Honolulu. One moment: make test-dates MOMENTS=leap-day
MOMENTS ?= month-end new-years-eve leap-day long-weekend honolulu-midnight
test-dates: $(STAMP)
	@set -e; for at in $(MOMENTS); do \
	  echo "== the date-sensitive tests at $$at"; \
	  $(BIN)/python -m pytest -q -m calendar --at $$at; \
	done

## The fault suite: SIGKILL mid-approval, a minute of Slack 429/500s, PostgreSQL stopped for 30 s (minutes)
faults: $(STAMP)
	$(BIN)/python -m pytest -q -m faults tests/test_faults.py

## ruff (lint and format) and strict mypy over the packages and the tests; CI runs it before the tests
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## The web chat and every console page in headless Chromium, desktop and a 390 x 844 phone, into docs/screenshots/
screenshots: $(STAMP)
	BACKOFFICE_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest -q -m slow tests/test_screens.py

## Quality figures on our own dev sets
eval: $(STAMP)
	$(BIN)/backoffice eval routing benchmarks/routing_dev.jsonl
	$(BIN)/backoffice eval retrieval benchmarks/retrieval_samples.jsonl --corpus knowledge/samples/sops
	$(BIN)/backoffice eval retrieval benchmarks/retrieval_handbook.jsonl --corpus ../shared/corpora/tts-handbook/pages
	$(BIN)/backoffice eval answers ../shared/corpora/tts-handbook/pages benchmarks/answers/tts_qa.jsonl benchmarks/answers/tts_unanswerable.jsonl
	$(BIN)/backoffice eval answers ../shared/corpora/gitlab-handbook/pages benchmarks/answers/gitlab_qa.jsonl benchmarks/answers/gitlab_unanswerable.jsonl
	$(BIN)/backoffice eval intents ../shared/datasets/clinc150/data_full.json --split val --corpus ../shared/corpora/tts-handbook/pages
	$(BIN)/backoffice eval dialogues benchmarks/dialogues/dev.jsonl --corpus knowledge/samples/sops
	$(BIN)/backoffice eval dialogues benchmarks/dialogues/dev2.jsonl --corpus knowledge/samples/sops
	$(BIN)/backoffice eval tickets benchmarks/tickets_dev.jsonl
	$(BIN)/backoffice eval tickets benchmarks/tickets_plain.jsonl

## Performance against a naive baseline (ack latency under load, answers and retrieval at 10k/100k chunks,
## ingest), table on stdout and var/bench/results.json; see docs/benchmarks.md. BENCH_ARGS=--quick for a smoke run.
bench: $(STAMP)
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)
	$(BIN)/python benchmarks/ingest_bench.py ../shared/corpora/tts-handbook/pages
	$(BIN)/python benchmarks/leave_bench.py
	$(BIN)/python -m benchmarks.console_bench --json var/bench/console.json

clean:
	rm -rf $(VENV) var
