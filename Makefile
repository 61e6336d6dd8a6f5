# Two commands: `make demo` and `make test` (see README.md). Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR := .demo
DEMO_DB := $(DEMO_DIR)/optimizer.db
DEMO_WORKLOAD ?= growth-gateway-prod-007

.PHONY: demo test lint typecheck imports unit bench bench-placement bench-forecast bench-collect bench-ops pg-start pg-stop clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed-runtime

## make demo: build the bundled three-cloud demo estate and run the nightly job on it.
demo: $(VENV)/.installed-runtime
	@mkdir -p $(DEMO_DIR)
	$(BIN)/optimizer --db $(DEMO_DB) demo --out $(DEMO_DIR) --force
	$(BIN)/optimizer --db $(DEMO_DB) --config $(DEMO_DIR)/optimizer.toml run
	$(BIN)/optimizer --db $(DEMO_DB) status
	$(BIN)/optimizer --config $(DEMO_DIR)/optimizer.toml policy validate
	$(BIN)/optimizer --db $(DEMO_DB) --config $(DEMO_DIR)/optimizer.toml policy explain $(DEMO_WORKLOAD)
	$(BIN)/optimizer --db $(DEMO_DB) recommendations list --limit 10

## make test: install dev dependencies, start PostgreSQL on loopback, run every check and test.
test: $(VENV)/.installed-dev
	@set -euo pipefail; \
	if scripts/pg.sh running; then ours=0; else ours=1; fi; \
	url=$$(scripts/pg.sh start) || { echo "PostgreSQL did not start: its tests will skip (or fail in CI)"; url=""; }; \
	if [ "$$ours" = 1 ]; then trap 'scripts/pg.sh stop' EXIT; fi; \
	scripts/test-deps.sh; \
	$(MAKE) --no-print-directory lint typecheck imports; \
	OPTIMIZER_TEST_PG_URL="$$url" $(BIN)/pytest -q $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check optimizer collectors store forecasts placement policies tests bench scripts
	$(BIN)/hadolint Dockerfile

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy store policies placement collectors forecasts optimizer

imports: $(VENV)/.installed-dev
	$(BIN)/lint-imports

## make bench: the ingest benchmark (writes bench/out/, see bench/RESULTS.md).
bench: $(VENV)/.installed-dev
	@set -euo pipefail; \
	if scripts/pg.sh running; then ours=0; else ours=1; fi; \
	url=$$(scripts/pg.sh start); if [ "$$ours" = 1 ]; then trap 'scripts/pg.sh stop' EXIT; fi; \
	$(BIN)/python bench/ingest.py --pg-url "$$url" $(BENCH_ARGS)

## make bench-placement: the placement benchmark at 1k, 10k and 100k workloads (about
## 25 minutes on 2 cores; see bench/RESULTS.md). BENCH_ARGS="--workloads 1000" for one size.
bench-placement: $(VENV)/.installed-dev
	$(BIN)/python bench/placement.py --out bench/out/placement.json $(BENCH_ARGS)

## make bench-forecast: forecast accuracy on the real traces (../shared/data/traces) and the
## speed of 1,000 series with model selection (see bench/RESULTS.md). BENCH_ARGS="--part
## speed --series 100" for a smaller run.
bench-forecast: $(VENV)/.installed-dev
	$(BIN)/python bench/forecast.py --out bench/out/forecast.json $(BENCH_ARGS)

## make bench-collect: each cloud collector against its local fake, 10k resources x 30 days
## (see bench/RESULTS.md).
bench-collect: $(VENV)/.installed-dev
	$(BIN)/python bench/collect.py --out bench/out/collect.json $(BENCH_ARGS)

## make bench-ops: apply and rollback against a bare boto3 loop (moto), simulate against two
## plain plans, the report's time and size (see bench/RESULTS.md).
bench-ops: $(VENV)/.installed-dev
	$(BIN)/python bench/ops.py $(BENCH_ARGS)

pg-start:
	@scripts/pg.sh start
pg-stop:
	@scripts/pg.sh stop

clean:
	rm -rf $(VENV) $(DEMO_DIR) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
