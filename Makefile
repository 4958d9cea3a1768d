# One virtualenv, made on first use; every target installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# The oldest versions pyproject.toml allows (scripts/min_versions.py), in their own
# virtualenv with their own local stack, started from that virtualenv so that the Data
# API emulator validates with the old botocore's model. Dev tools stay current.
MIN_DIR   ?= .devstack/min-versions
MIN_BIN   := $(MIN_DIR)/venv/bin
MIN_STAMP := $(MIN_DIR)/venv/.installed
# Besides every test that needs no stack: full syncs (library, CLI on a terminal), and
# runs publishing their metrics (the old botocore speaks CloudWatch's query protocol).
MIN_STACK_TESTS := tests/dynamo/test_sync.py tests/dynamo/test_cli_terminal.py \
	tests/dynamo/test_metrics_cloudwatch.py
# Tests of the emulator with request members newer than the product's botocore floor
# (BatchExecuteStatement's Parameters), which the product never sends.
MIN_DESELECT := tests/devstack/test_dataapi.py::test_a_batch_is_one_transaction

.PHONY: help install lint unit test min-versions soak demo down bench clean

help:
	@echo "make demo   - local stack, 1,000 seeded clients, full sync, lookups, contabyx serve"
	@echo "make unit   - the tests that need no Java, PostgreSQL, server or network (seconds)"
	@echo "make test   - lint and the whole test suite on the local stack, then min-versions"
	@echo "make min-versions - the oldest allowed dependencies: stackless tests and full syncs"
	@echo "make soak   - the long reliability runs"
	@echo "make bench  - benchmarks (prints figures)"
	@echo "make down   - stop the local stack"

$(STAMP): pyproject.toml devstack/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[sync,dev]' -e ./devstack
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Markers from tests/conftest.py: stack (the local stack), integration (servers,
# processes, sockets, package installs). schemathesis's pytest plugin, which costs
# each process 2 s to import, serves only the HTTP tests, all of them integration.
# Bytecode is written even where the environment says not to: pytest then keeps each
# test module's rewritten asserts, which otherwise cost seconds on every run.
unit: $(STAMP)
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest -q -n auto -p no:schemathesis \
		-m 'not soak and not stack and not integration'

test: lint
	$(BIN)/pytest -q
	$(MAKE) --no-print-directory min-versions

$(MIN_STAMP): pyproject.toml devstack/pyproject.toml scripts/min_versions.py
	rm -rf $(MIN_DIR)/venv
	$(PYTHON) -m venv $(MIN_DIR)/venv
	$(MIN_BIN)/python -m pip install --quiet --upgrade pip
	$(MIN_BIN)/python scripts/min_versions.py > $(MIN_DIR)/constraints.txt
	$(MIN_BIN)/python -m pip install --quiet -c $(MIN_DIR)/constraints.txt \
		-e '.[sync,dev]' -e ./devstack
	touch $(MIN_STAMP)

min-versions: $(MIN_STAMP)
	@echo "oldest allowed versions:" $$(cat $(MIN_DIR)/constraints.txt)
	CONTABYX_TEST_STACK_DIR=$(MIN_DIR)/stack $(MIN_BIN)/python -m pytest -q \
		-p tests.support.stackless $(addprefix --stack-tests ,$(MIN_STACK_TESTS)) \
		$(addprefix --deselect ,$(MIN_DESELECT))

soak: $(STAMP)
	$(BIN)/pytest -q -m soak tests/reliability

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

down: $(STAMP)
	$(BIN)/python scripts/demo.py --stop-serve
	$(BIN)/contabyx-local down

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[sync,dev,bench]'
	$(BIN)/python bench/sync.py
	$(BIN)/python bench/lookups.py
	$(BIN)/python bench/http_lookups.py
	$(BIN)/python bench/incremental.py

clean:
	-$(BIN)/contabyx-local down
	rm -rf $(VENV) .devstack .pytest_cache .mypy_cache .ruff_cache
