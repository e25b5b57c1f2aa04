# migstat — the commands a new user and CI run. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
WAREHOUSE ?= warehouse
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
PIPELINES := $(sort $(wildcard pipelines/*.toml))

.PHONY: help run serve build release test test-cluster venv tools ci fmt clippy bench bench-svy bench-cluster fuzz clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

# `make run` builds the lean default (no SQL engine); tests, CI and releases add `query`
# (DataFusion, for `migstat query`) and `ballista` (`migstat cluster`, `--engine`: on the same
# DataFusion); tests also add `failpoints` (fault injection of the commit and cluster tests).
TEST_FEATURES := --features query,failpoints,ballista

release: ## Build the optimised binary (with `migstat query` and `migstat cluster`)
	$(CARGO) build --release --locked --features query,ballista

build: ## Build the binary (dependencies optimised; shared with `make test`)
	$(CARGO) build --locked

run: build ## Run every shipped pipeline on the sample data into ./warehouse
	$(TARGET_DIR)/debug/migstat run $(PIPELINES) --warehouse $(WAREHOUSE)

SERVE_DIR ?= uploads-service
serve: build ## Run the upload service on http://127.0.0.1:8080 (prints an ARM token the first time)
	@mkdir -p $(SERVE_DIR)
	@[ -f $(SERVE_DIR)/tokens.json ] || { echo "Token for ARM (sign in with it):"; \
		$(TARGET_DIR)/debug/migstat token add ARM --tokens $(SERVE_DIR)/tokens.json; }
	$(TARGET_DIR)/debug/migstat serve --pipelines pipelines --tokens $(SERVE_DIR)/tokens.json --uploads $(SERVE_DIR)/uploads

# Pinned: the interoperability tests read migstat's Parquet with these readers and `make bench`
# measures against this DuckDB, so neither changes under a new release between two rounds.
PY_PACKAGES := duckdb==2.0.1 pyarrow==26.0.1 polars==2.1.0 jsonschema==4.26.0

$(VENV)/.ready: Makefile
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $(PY_PACKAGES)
	touch $@

venv: $(VENV)/.ready ## Python virtualenv with DuckDB, pyarrow, polars (interoperability tests) and jsonschema

tools: ## Debian's readstat (SPSS/Stata test oracle), chromium and chromium-driver (report rendering, browser test), when missing
	@missing=; \
	command -v readstat >/dev/null || missing="$$missing readstat"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	[ -z "$$missing" ] || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing; }

test: venv tools ## Build and run every test, then the cluster's (one at a time)
	MIGSTAT_PYTHON=$(CURDIR)/$(VENV)/bin/python $(CARGO) test --locked $(TEST_FEATURES) -- --skip cluster::
	$(MAKE) test-cluster

test-cluster: ## The Ballista tests alone: a scheduler and two executors on 127.0.0.1 (same build as `make test`)
	$(CARGO) test --locked $(TEST_FEATURES) --test it cluster:: -- --test-threads 1

fmt: ## Check formatting
	$(CARGO) fmt --all -- --check

clippy: ## Lint, warnings are errors
	$(CARGO) clippy --locked --all-targets $(TEST_FEATURES) -- -D warnings

ci: fmt clippy test ## What CI runs: fmt check, clippy, tests (the cluster's included)

FUZZ_CASES ?= 2000
fuzz: ## Mutation fuzzer: FUZZ_CASES mutated inputs (default 2000; FUZZ_SEED=S another round)
	FUZZ_CASES=$(FUZZ_CASES) $(CARGO) test --locked $(TEST_FEATURES) --test it fuzz:: -- --nocapture

BENCH_PERSONS ?= 1000000
bench: venv ## Benchmarks: the estimation core (cube kernel), then the whole CLI beside DuckDB and polars
	$(CARGO) build --release --locked
	MIGSTAT_BENCH_PERSONS=$(BENCH_PERSONS) $(CARGO) bench --locked --bench kernel
	$(VENV)/bin/python benches/compare.py $(TARGET_DIR)/release/migstat $(BENCH_PERSONS)
	$(MAKE) bench-svy

bench-svy: venv ## `migstat estimate` beside the survey package svy on 2M rows (installs svy into the virtualenv)
	$(CARGO) build --release --locked
	$(VENV)/bin/pip install --quiet --disable-pip-version-check svy
	$(VENV)/bin/python benches/svy.py $(TARGET_DIR)/release/migstat

CLUSTER_PERSONS ?= 20000000
bench-cluster: ## 20M generated persons × 80 replicates: embedded vs a local cluster of 1 and 2 executors
	$(CARGO) build --release --locked --features query,ballista
	benches/cluster.sh $(TARGET_DIR)/release/migstat $(CLUSTER_PERSONS)

clean: ## Remove build outputs, the virtualenv and the warehouse
	rm -rf target $(VENV) $(WAREHOUSE)
