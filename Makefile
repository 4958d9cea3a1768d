# One virtualenv, made on first use; every target installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help install lint test soak demo down bench clean

help:
	@echo "make demo   - local stack, 1,000 seeded clients, full sync, lookups"
	@echo "make test   - lint and the whole test suite on the local stack"
	@echo "make soak   - the long reliability runs"
	@echo "make bench  - benchmarks (prints figures)"
	@echo "make down   - stop the local stack"

$(STAMP): pyproject.toml devstack/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e ./devstack
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

soak: $(STAMP)
	$(BIN)/pytest -q -m soak tests/reliability

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

down: $(STAMP)
	$(BIN)/contabyx-local down

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/sync.py
	$(BIN)/python bench/lookups.py

clean:
	-$(BIN)/contabyx-local down
	rm -rf $(VENV) .devstack .pytest_cache .mypy_cache .ruff_cache
