# Two commands: `make serve` and `make test`. Everything else is set up on the way.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Python >= 3.11. The stamp names the venv's Python too, so a venv whose Python is gone,
# broken or too old is checked (and rebuilt) by the next `make` instead of being reused.
PY_OK := import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY_TAG := import sys; print("py%d.%d.%d" % sys.version_info[:3])
SHA := $(shell sha1sum pyproject.toml | cut -c1-12)
STAMP := $(VENV)/.installed-$(SHA)-$(shell $(BIN)/python -c '$(PY_TAG)' 2>/dev/null || echo none)
CLIENTS := tests/clients
NODE_STAMP := $(CLIENTS)/node_modules/.installed
PYCLIENT_STAMP := $(CLIENTS)/.venv/.installed

.PHONY: setup serve test lint format bench clients migration clean fuzz bench-scale

$(STAMP): pyproject.toml
	@if ! $(BIN)/python -c '$(PY_OK)' 2>/dev/null; then \
	  if ! $(PYTHON) -c '$(PY_OK)' 2>/dev/null; then \
	    echo "make: Kassa needs Python >= 3.11; '$(PYTHON)' is $$(command -v $(PYTHON) > /dev/null && $(PYTHON) --version 2>&1 || echo 'not installed')."; \
	    echo "      Install it (Debian: apt-get install python3 python3-venv) or name another: make PYTHON=python3.12"; \
	    exit 1; \
	  fi; \
	  if [ -e $(VENV) ]; then \
	    echo "==> $(VENV) has no working Python >= 3.11 ($$($(BIN)/python --version 2>&1 || echo 'none')): rebuilding it"; \
	    rm -rf $(VENV); \
	  fi; \
	  echo "==> Creating the virtualenv $(VENV) with $$($(PYTHON) --version 2>&1) ($(PYTHON))"; \
	  $(PYTHON) -m venv $(VENV) || { echo "make: '$(PYTHON) -m venv' failed (Debian: apt-get install python3-venv)"; rm -rf $(VENV); exit 1; }; \
	fi
	@echo "==> Upgrading pip in $(VENV)"
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "==> Installing Kassa and its development tools into $(VENV) (a minute or two the first time)"
	@$(BIN)/python -m pip install --progress-bar on -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch "$(VENV)/.installed-$(SHA)-$$($(BIN)/python -c '$(PY_TAG)')"
	@echo "==> Installed; the next make reuses $(VENV) until pyproject.toml or its Python changes"

setup: $(STAMP)

serve: setup
	@echo "==> Applying database migrations (kassa migrate)"
	$(BIN)/kassa migrate
	@echo "==> Creating or reusing the demo organization (kassa init)"
	$(BIN)/kassa init
	@echo "==> Starting the server (kassa serve; --access-log or KASSA_LOG_FORMAT=json logs requests)"
	$(BIN)/kassa serve

lint: setup
	@echo "==> Lint: ruff, mypy and the import contract (.importlinter)"
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache .importlinter

format: setup
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

$(NODE_STAMP): $(CLIENTS)/package.json $(CLIENTS)/package-lock.json
	@node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' 2> /dev/null && command -v npm > /dev/null || { \
	  echo "make: the official-client tests need Node.js >= 20 with npm; found $$(node --version 2>/dev/null || echo 'no node')."; \
	  echo "      Debian 13: apt-get install nodejs npm (Debian 12 ships Node 18: use the NodeSource packages)"; \
	  exit 1; }
	@echo "==> Installing the official JavaScript clients and CLI (npm ci in $(CLIENTS): about 100 MB, a minute the first time)"
	cd $(CLIENTS) && npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

$(PYCLIENT_STAMP): $(CLIENTS)/requirements.txt
	@echo "==> Installing the official Python client into $(CLIENTS)/.venv"
	@test -x $(CLIENTS)/.venv/bin/python || $(PYTHON) -m venv $(CLIENTS)/.venv
	$(CLIENTS)/.venv/bin/python -m pip install --quiet -r $(CLIENTS)/requirements.txt
	@touch $(PYCLIENT_STAMP)

clients: $(NODE_STAMP) $(PYCLIENT_STAMP)

# pytest exits 5 when it collected no test: make treats that as a failure too.
test: lint clients
	@echo "==> Running the test suite: the 'kassa storage backends' line says which and why"
	@bash tests/run_suite.sh

# Reads against a bare endpoint serving the same bytes, and the checkout and wallet flows with
# 8 concurrent clients, on SQLite (1 worker) and PostgreSQL (2 workers, KASSA_TEST_POSTGRES_URL):
# bench/results/latest*.md. Needs wrk. BENCH_DURATION=20 for steadier figures (seconds per
# scenario), BENCH_BACKENDS=sqlite without PostgreSQL, BENCH_ARGS=--profile for py-spy summaries.
BENCH_DURATION ?= 5
BENCH_BACKENDS ?= sqlite,postgres
BENCH_ARGS ?=
bench: setup
	$(BIN)/python bench/run.py --duration $(BENCH_DURATION) --backends $(BENCH_BACKENDS) $(BENCH_ARGS)
	@echo "==> Webhook delivery lag under the checkout load, worker inside and apart (bench/results/webhook-lag*.md)"
	$(BIN)/python bench/webhook_lag.py --duration $(BENCH_DURATION) --backends $(BENCH_BACKENDS)
	$(BIN)/python bench/webhook_lag.py --duration $(BENCH_DURATION) --backends $(BENCH_BACKENDS) --separate-worker 0.1
	@echo "==> The retrieve against its floor: hand-written work on the same stack (bench/results/floor.md)"
	$(BIN)/python bench/floor.py --duration $(BENCH_DURATION)
	@echo "==> Server CPU per request and per flow, one client (bench/results/cpu.md)"
	set -o pipefail; $(BIN)/python bench/cpu.py --backends $(BENCH_BACKENDS) | tee bench/results/cpu.md

# Lists and a customer's checkout on a shop of 0, 10 k, 100 k and 1 M orders (kassa seed),
# PostgreSQL (KASSA_TEST_POSTGRES_URL), one worker: writes bench/results/scale-postgres.md.
# SIZES=0,10000,100000 for a shorter run.
SIZES ?= 0,10000,100000,1000000
bench-scale: setup
	$(BIN)/python bench/scale.py --sizes $(SIZES)

# The deeper fuzz of the API from its OpenAPI document (not part of `make test`): more
# examples per operation and token kind; the figures are appended to var/fuzz-report.md.
FUZZ_EXAMPLES ?= 10
fuzz: setup
	@mkdir -p var && rm -f var/fuzz-report.md
	KASSA_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) KASSA_FUZZ_REPORT=var/fuzz-report.md \
	  $(BIN)/python -m pytest -q -p no:cacheprovider tests/openapi/test_fuzz.py
	@cat var/fuzz-report.md

migration: setup
	rm -f src/kassa/store/migrations/versions/*_initial_schema.py /tmp/kassa-migration.sqlite3
	$(BIN)/python -c "from kassa.resources.registry import build_registry; \
	  from kassa.store.migrate import revision; build_registry(); \
	  revision('sqlite+aiosqlite:////tmp/kassa-migration.sqlite3', 'initial schema')"

clean:
	rm -rf $(VENV) var $(CLIENTS)/node_modules $(CLIENTS)/.venv .pytest_cache .mypy_cache .ruff_cache
