# Two commands: `make run` (serve the console with a demo) and `make test` (lint, types, tests).
# Both set everything up on a fresh clone; the only requirement is Python 3.11+.

PYTHON ?= python3
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
RUN_ENV := DEBUG=true DEMO_RECEIVER_ENABLED=true WEBHOOK_ALLOWED_NETWORKS=127.0.0.1/32 DEMO_RECEIVER_BASE_URL=http://127.0.0.1:$(PORT)/demo-receiver

.PHONY: run test lint install install-dev bench api-fuzz clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found " + sys.version.split()[0] + "); set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed-runtime $@

install: $(VENV)/.installed-runtime
install-dev: $(VENV)/.installed-dev

run: install
	$(RUN_ENV) $(BIN)/python manage.py run_console --port $(PORT)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/python manage.py makemigrations --check --dry-run

test: lint
	@test -x /usr/bin/chromium || echo "NOTE: no Chromium at /usr/bin/chromium, so the browser tests are skipped (apt-get install chromium runs them)."
	$(BIN)/pytest

# schemathesis against a live server on 127.0.0.1 with a fresh database (CI runs it).
api-fuzz: install-dev
	bash .ci/api-fuzz

# Speed and memory figures (not pass/fail tests): see docs/benchmarks.md. The production
# stack uses the PostgreSQL and Redis on 127.0.0.1 (BENCH_DATABASE_URL etc. to change; the
# benches work in databases named after it plus _send_bench and _history_bench).
BENCH_HISTORY_ROWS ?= 1000000
export BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/flarelane
bench: install-dev
	$(BIN)/python bench/send_path.py --stack both --users 10000 --enqueue 100000
	$(BIN)/python bench/history_list.py $(BENCH_HISTORY_ROWS)
	$(BIN)/python bench/history_list.py $(BENCH_HISTORY_ROWS) --database-url $(BENCH_DATABASE_URL)

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* test_db.sqlite3* artifacts
