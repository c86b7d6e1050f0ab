# One command to run locally, one to test. Both set up the virtualenv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test unit lint fmt typecheck bench build clean

$(VENV)/.installed: requirements.txt requirements-postgres.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

## run: the Tencent SMS emulator + local HTTP gateway + scheduled pull (no credentials); 5 % of
##      deliveries fail, so the dashboard's failure panels have something to show (ARGS="--failure-rate 0");
##      ARGS="--store-url postgresql://…" (or dynamodb://…) runs it on another store
run: $(VENV)/.installed
	$(PY) -m local --failure-rate 0.05 $(ARGS)

## test: lint, format check, type check, the whole test suite, then the suite on Python 3.10 and 3.12
test: $(VENV)/.installed lint typecheck
	$(PY) -m pytest $(PYTEST_ARGS)
	./scripts/test_other_pythons.sh

## build: one deployable zip per function and cloud (build/<cloud>/<fn>.zip); ARGS="--cloud scf" etc.
build: $(VENV)/.installed
	$(PY) scripts/build.py $(ARGS)

## unit: the fast tests (no servers beyond loopback ones started in-process), under a minute
unit: $(VENV)/.installed
	$(PY) -m pytest -q tests/unit tests/events $(PYTEST_ARGS)

## lint: ruff's checks and its format check (what CI runs)
lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

## fmt: apply ruff's formatting and its safe fixes
fmt: $(VENV)/.installed
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

## typecheck: mypy over everything (strict on shared/ and functions/: pyproject.toml [tool.mypy])
typecheck: $(VENV)/.installed
	$(PY) -m mypy functions shared local scripts tests bench

## bench: the bulk, single-send, cold-start and size figures of docs/performance.md (a few minutes)
bench: $(VENV)/.installed
	$(PY) bench/throughput.py $(ARGS)

## clean: remove virtualenvs, builds and caches
clean:
	rm -rf $(VENV) .venv-3.10 .venv-3.12 build .local .pytest_cache .mypy_cache .ruff_cache
