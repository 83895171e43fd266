# Two commands: `make serve` and `make test`. Everything else is set up on the way.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
CLIENTS := tests/clients
NODE_STAMP := $(CLIENTS)/node_modules/.installed
PYCLIENT_STAMP := $(CLIENTS)/.venv/.installed

.PHONY: setup serve test lint format bench clients migration clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)

serve: setup
	$(BIN)/kassa migrate
	$(BIN)/kassa init
	$(BIN)/kassa serve

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

$(NODE_STAMP): $(CLIENTS)/package.json $(CLIENTS)/package-lock.json
	cd $(CLIENTS) && npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

$(PYCLIENT_STAMP): $(CLIENTS)/requirements.txt
	@test -x $(CLIENTS)/.venv/bin/python || $(PYTHON) -m venv $(CLIENTS)/.venv
	$(CLIENTS)/.venv/bin/python -m pip install --quiet -r $(CLIENTS)/requirements.txt
	@touch $(PYCLIENT_STAMP)

clients: $(NODE_STAMP) $(PYCLIENT_STAMP)

# pytest exits 5 when it collected no test: make treats that as a failure too.
test: lint clients
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/run.py

migration: setup
	rm -f src/kassa/store/migrations/versions/*_initial_schema.py /tmp/kassa-migration.sqlite3
	$(BIN)/python -c "from kassa.store.migrate import revision; \
	  revision('sqlite+aiosqlite:////tmp/kassa-migration.sqlite3', 'initial schema')"

clean:
	rm -rf $(VENV) var $(CLIENTS)/node_modules $(CLIENTS)/.venv .pytest_cache .mypy_cache .ruff_cache
