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
# Besides every test that needs no stack (among them the metrics publisher's, where the
# old botocore speaks CloudWatch's query protocol): full syncs (library, CLI on a terminal).
MIN_STACK_TESTS := tests/dynamo/test_sync.py tests/dynamo/test_cli_terminal.py
# Tests of the emulator with request members newer than the product's botocore floor
# (BatchExecuteStatement's Parameters), which the product never sends; and the deployed
# artifacts, which install the pins of config/requirements*.txt, not these versions.
MIN_DESELECT := tests/devstack/test_dataapi.py::test_a_batch_is_one_transaction \
	tests/test_packaging.py

# checkov pins a boto3 older than the product's floor, so it gets a virtualenv of its own.
CHECKOV    := checkov==3.3.30
SCAN_DIR   ?= .devstack/scan
SCAN_BIN   := $(SCAN_DIR)/venv/bin
SCAN_STAMP := $(SCAN_DIR)/venv/.installed-$(CHECKOV)

.PHONY: help install lint scan unit test min-versions soak demo down bench requirements package deploy clean

help:
	@echo "make demo   - local stack, 1,000 seeded clients, full sync, lookups, contabyx serve"
	@echo "make unit   - the tests that need no Java, PostgreSQL, server or network (seconds)"
	@echo "make test   - lint, then the whole suite on the local stack with scan and min-versions beside it"
	@echo "make scan   - cfn-lint and checkov on deploy/template.yaml, before and after SAM"
	@echo "make min-versions - the oldest allowed dependencies: stackless tests and full syncs"
	@echo "make soak   - the long reliability runs"
	@echo "make bench  - benchmarks (prints figures)"
	@echo "make requirements - re-pin config/requirements*.txt from pyproject.toml (hashes)"
	@echo "make package - dist/: the wheel, the Lambda zip and the sync bundle (sizes)"
	@echo "make down   - stop the local stack"
	@echo "make deploy STACK=... BUCKET=... PARAMS='...' - build, upload and deploy deploy/template.yaml"

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

$(SCAN_STAMP):
	rm -rf $(SCAN_DIR)/venv
	$(PYTHON) -m venv $(SCAN_DIR)/venv
	$(SCAN_BIN)/python -m pip install --quiet --upgrade pip
	$(SCAN_BIN)/python -m pip install --quiet '$(CHECKOV)'
	touch $@

scan: $(STAMP) $(SCAN_STAMP)
	$(BIN)/python scripts/check_template.py --checkov $(SCAN_BIN)/checkov

# The scan and the oldest versions (each with its own virtualenv, the latter with its own
# local stack) run beside the main suite, which keeps about one core of two busy; their
# output follows the suite's. Either failing fails the target.
BESIDE_LOG := .devstack/beside-the-suite.log

test: lint
	@mkdir -p .devstack
	@$(MAKE) --no-print-directory scan min-versions > $(BESIDE_LOG) 2>&1 & beside=$$!; \
	trap 'kill $$beside 2>/dev/null' INT TERM; \
	echo "$(BIN)/pytest -q   (make scan min-versions beside it, into $(BESIDE_LOG))"; \
	$(BIN)/pytest -q; suite=$$?; \
	wait $$beside; other=$$?; \
	echo "--- make scan min-versions (exit $$other):"; cat $(BESIDE_LOG); \
	test $$suite -eq 0 && test $$other -eq 0

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

# The deployed pins, with hashes: base + sync for the EC2 instance, base + lambda for
# the Lambda zip. pip-compile resolves for the interpreter that runs it, and both targets
# run Python 3.11 on Linux x86_64, so it must be that one. Pins already in a file are
# kept; PIP_COMPILE_ARGS=--upgrade moves them to the newest allowed.
# --allow-unsafe pins setuptools too (redshift-connector declares it), so that an install
# with --require-hashes --no-deps is complete; --strip-extras since --no-deps ignores them;
# no index or find-links lines, which would be this machine's. Neither extra names
# contabyx[...]: for such a self-reference pip-compile pins the project itself as a local
# path (tests/test_requirements.py refuses that line).
PIP_COMPILE = $(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
	--no-emit-index-url --no-emit-find-links $(PIP_COMPILE_ARGS)

requirements: $(STAMP)
	$(BIN)/python -c 'import platform, sys; assert sys.version_info[:2] == (3, 11) and \
		platform.system() == "Linux" and platform.machine() == "x86_64", \
		"make requirements pins for Python 3.11 on Linux x86_64: run it with that"'
	$(PIP_COMPILE) --extra sync --output-file config/requirements.txt pyproject.toml
	$(PIP_COMPILE) --extra lambda --output-file config/requirements-lambda.txt pyproject.toml

package: $(STAMP)
	$(BIN)/python scripts/package.py

# One command from a checkout to a running stack (README, "Production set-up"): the
# artifacts, the sync bundle uploaded under its own hash (a new bundle replaces the
# instance), the function's zip uploaded by `aws cloudformation package`, then the stack.
#   make deploy STACK=contabyx BUCKET=my-artifacts \
#     PARAMS="ClusterIdentifier=analytics SubnetId=subnet-0abc VpcId=vpc-0abc"
deploy: package
	@test -n "$(STACK)" && test -n "$(BUCKET)" || { echo "usage: make deploy STACK=name" \
		"BUCKET=artifact-bucket PARAMS='ClusterIdentifier=... SubnetId=... VpcId=...'" >&2; exit 2; }
	mkdir -p build
	key="contabyx/sync-$$(sha256sum dist/contabyx-sync.tar.gz | cut -c1-16).tar.gz" && \
	aws s3 cp dist/contabyx-sync.tar.gz "s3://$(BUCKET)/$$key" && \
	aws cloudformation package --template-file deploy/template.yaml --s3-bucket "$(BUCKET)" \
		--s3-prefix contabyx --output-template-file build/packaged.yaml && \
	aws cloudformation deploy --template-file build/packaged.yaml --stack-name "$(STACK)" \
		--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset \
		--parameter-overrides ArtifactBucket="$(BUCKET)" SyncBundleKey="$$key" $(PARAMS)

clean:
	-$(BIN)/contabyx-local down
	rm -rf $(VENV) .devstack .pytest_cache .mypy_cache .ruff_cache
