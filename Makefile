# The one home of the project's commands: the README, CI and developers all call these targets.
# `make demo` and `make check` each do every set-up step they need on a fresh machine.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export PYO3_PYTHON := $(abspath $(PY))
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(abspath $(BIN)):$(PATH)
JS_DIR := tests/js

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==0.13.9

$(VENV)/.synced: requirements-dev.txt | $(PY)
	$(BIN)/uv pip sync --quiet --python $(PY) requirements-dev.txt
	touch $@

.PHONY: install
install: $(VENV)/.synced ## create .venv with the pinned dev requirements

.PHONY: build
build: install ## build the Rust extension (release) into the source tree
	$(BIN)/maturin develop --release --uv --quiet

.PHONY: build-dev
build-dev: install ## build the Rust extension without optimisations (fast edit loop)
	$(BIN)/maturin develop --uv --quiet

$(JS_DIR)/node_modules/.package-lock.json: $(JS_DIR)/package-lock.json
	cd $(JS_DIR) && npm ci --no-audit --no-fund --silent

.PHONY: js
js: $(JS_DIR)/node_modules/.package-lock.json ## install the official JS client (pinned) for fidelity tests and benches

.PHONY: format
format: install ## reformat Python and Rust
	$(BIN)/ruff format python tests benches examples docs/_griffe
	$(BIN)/ruff check --fix python tests benches examples docs/_griffe
	cargo fmt

.PHONY: lint
lint: build ## every lint: ruff, mypy --strict, stubtest, rustfmt, clippy
	$(BIN)/ruff format --check python tests benches examples docs/_griffe
	$(BIN)/ruff check python tests benches examples docs/_griffe
	$(BIN)/mypy
	$(BIN)/mypy --strict examples
	$(PY) -m mypy.stubtest phoenix_fast._native --allowlist .stubtest-allowlist
	cargo fmt --check
	cargo clippy --all-targets --all-features --quiet -- -D warnings

.PHONY: test-rust
test-rust: ## the pure Rust core's tests
	cargo test --quiet

# The client's line coverage (python/phoenix_fast less the tools around it: testing/, load/ and
# the command line; [tool.coverage] in pyproject.toml) may not fall below COV_FLOOR percent.
# The floor is the coverage measured when it was last raised, rounded down: raise it with the
# coverage, never lower it. `coverage run` starts before pytest, so the modules the pytest
# plugin imports at start-up are measured too.
COV_FLOOR := 99

.PHONY: test-python
test-python: build js ## the Python tests (and benchmarks as smoke tests), with the client's line coverage
	$(PY) -m coverage erase
	$(PY) -m coverage run -m pytest -q
	$(PY) -m coverage report --fail-under=$(COV_FLOOR)

.PHONY: test
test: test-rust test-python ## every test

.PHONY: docs
docs: install ## build the documentation site in strict mode (into target/site)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir target/site

# The other supported Pythons: a release wheel each (the one we would ship), installed with
# requirements-test.txt in its own venv, runs MULTI_TESTS (the full suite runs on $(VENV)).
# An interpreter missing from $(PYENV_ROOT)/versions and from PATH is reported in one line.
OTHER_PYTHONS := 3.10 3.12 3.13
PYENV_ROOT ?= $(HOME)/.pyenv
MULTI_TESTS := tests/client tests/test_exports.py tests/test_packaging.py
# Tests left out on one version, each printed when the run starts. On 3.10's asyncio (not
# uvloop, not 3.11+) this test ends with an SSL transport reported unclosed (a ResourceWarning
# at teardown, an error under filterwarnings = error).
MULTI_DESELECT_3.10 := 'tests/client/test_websocket_transport.py::test_wss_verifies_certificates_by_default[asyncio]'

.PHONY: test-pythons
test-pythons: install ## the client's tests on each of OTHER_PYTHONS, from its own wheel
	$(MAKE) --no-print-directory -j3 --output-sync=target $(addprefix test-python-,$(OTHER_PYTHONS))

.PHONY: $(addprefix test-python-,$(OTHER_PYTHONS))
$(addprefix test-python-,$(OTHER_PYTHONS)): test-python-%: install
	@py=$$(ls -d $(PYENV_ROOT)/versions/$*.*/bin/python$* 2>/dev/null | sort -V | tail -n 1); \
	py=$${py:-$$(command -v python$* || true)}; \
	if [ -n "$$py" ] && ! "$$py" -c "" 2>/dev/null; then py=""; fi; \
	if [ -z "$$py" ]; then \
		echo "test-python-$*: no Python $* in $(PYENV_ROOT)/versions or PATH: its tests did NOT run"; \
		exit 0; fi; \
	dir=target/python/$*; set -e; rm -rf $$dir/wheel; \
	PYO3_PYTHON=$$py CARGO_TARGET_DIR=$$dir/cargo $(BIN)/maturin build --release --quiet \
		-i $$py -o $$dir/wheel; \
	wheel=$$(ls $$dir/wheel/*.whl); \
	[ -x $$dir/venv/bin/python ] || $(BIN)/uv venv --quiet --python $$py $$dir/venv; \
	$(BIN)/uv pip sync --quiet --python $$dir/venv/bin/python requirements-test.txt; \
	$(BIN)/uv pip install --quiet --no-deps --python $$dir/venv/bin/python $$wheel; \
	echo "test-python-$*: $$($$dir/venv/bin/python -VV | head -n 1), $$(basename $$wheel)"; \
	for test in $(MULTI_DESELECT_$*); do echo "test-python-$*: deselected $$test"; done; \
	$$dir/venv/bin/python -m pytest -q -p no:randomly $(MULTI_TESTS) \
		$(addprefix --deselect ,$(MULTI_DESELECT_$*))

# One wheel per CPython version (as orjson and pydantic-core ship), and the sdist.
.PHONY: wheels
wheels: install ## release wheels for 3.11 and OTHER_PYTHONS found here, and the sdist (target/wheels)
	@for v in 3.11 $(OTHER_PYTHONS); do \
		py=$$(ls -d $(PYENV_ROOT)/versions/$$v.*/bin/python$$v 2>/dev/null | sort -V | tail -n 1); \
		py=$${py:-$$(command -v python$$v || true)}; \
		if [ -n "$$py" ] && ! "$$py" -c "" 2>/dev/null; then py=""; fi; \
		if [ -z "$$py" ]; then echo "wheels: no Python $$v in $(PYENV_ROOT)/versions or PATH: no wheel"; \
			continue; fi; \
		PYO3_PYTHON=$$py CARGO_TARGET_DIR=target/python/$$v/cargo \
			$(BIN)/maturin build --release --quiet -i $$py -o target/wheels || exit 1; \
	done
	$(BIN)/maturin sdist -o target/wheels

.PHONY: check
check: lint test docs test-pythons ## set up, then run every lint and every test (what CI runs)

.PHONY: demo
demo: build ## the main job
	$(BIN)/phoenix-fast load

.PHONY: bench
bench: build js ## run the pytest-benchmark suites for real
	$(BIN)/pytest benches --benchmark-enable --benchmark-only --benchmark-columns=min,median,mean,ops

RUST_PEER := benches/rust_peer/target/release/rust_peer
# Interleaved rounds of the WebSocket scenarios (medians and spreads); 5 or more to compare.
SCENARIO_ROUNDS ?= 5
# S4's p99 and S5 swing by 10-20% from round to round, and the two clients by as much from
# series to series: their comparison with the Rust client needs about 30 rounds. That pass
# is pinned (server on CPU 1, clients on CPU 0): unpinned, 6 of 14 S5 runs were slow against
# 1 of 16 pinned, when the scheduler shared a core between client and server (session 9).
SCENARIO_LONG_ROUNDS ?= 30

$(RUST_PEER): benches/rust_peer/Cargo.toml benches/rust_peer/Cargo.lock benches/rust_peer/src/main.rs
	cargo build --release --locked --quiet --manifest-path benches/rust_peer/Cargo.toml
	touch $@

.PHONY: rust-peer
rust-peer: $(RUST_PEER) ## build the Rust client's scenario runner (phoenix_channels_client, for bench-scenarios)

ACCEPTOR := benches/acceptor/target/release/acceptor

$(ACCEPTOR): benches/acceptor/Cargo.toml benches/acceptor/Cargo.lock $(wildcard benches/acceptor/src/*.rs)
	cargo build --release --locked --quiet --manifest-path benches/acceptor/Cargo.toml
	touch $@

.PHONY: acceptor
acceptor: $(ACCEPTOR) ## build the minimal Phoenix acceptor (the server that keeps up, for benches/connect_storm.py)

.PHONY: bench-connect-storm
bench-connect-storm: build acceptor ## connects + joins/s and RSS per socket of phoenix-fast load (CONNECT_STORM_ARGS="--sockets 15000 --tls")
	$(PY) benches/connect_storm.py $(CONNECT_STORM_ARGS)

.PHONY: bench-scenarios
bench-scenarios: build js rust-peer ## client scenarios S1-S5, phoenix_fast against the JS and Rust clients in one run
	mkdir -p .benchmarks
	$(PY) benches/scenarios.py --rounds $(SCENARIO_ROUNDS) --json .benchmarks/scenarios.json
	$(PY) benches/scenarios.py --transport longpoll --only s1 s4 --rounds $(SCENARIO_ROUNDS) --json .benchmarks/scenarios-longpoll.json
	$(PY) benches/scenarios.py --peers rust --only s4 s5 --rounds $(SCENARIO_LONG_ROUNDS) --pin --json .benchmarks/scenarios-s4-s5.json

.PHONY: bench-s4-floor
bench-s4-floor: build rust-peer ## S4 by a bare asyncio protocol (the floor), phoenix_fast and the Rust client, 15 rounds
	$(PY) benches/s4_floor.py

.PHONY: bench-s5-floor
bench-s5-floor: build rust-peer ## S5 by a bare asyncio protocol (the floor), phoenix_fast and the Rust client, 15 pinned rounds
	$(PY) benches/s5_floor.py --pin --rounds 15

.PHONY: soak
soak: build ## 1,000 channels through FaultProxy, a random fault every 5-20 s, 10 min (SOAK_ARGS="--minutes 1")
	mkdir -p .benchmarks
	$(PY) benches/soak.py --json .benchmarks/soak.json --log .benchmarks/soak.log $(SOAK_ARGS)

.PHONY: lock
lock: $(PY) ## re-pin requirements-dev.txt and requirements-test.txt from their .in files
	$(BIN)/uv pip compile --quiet requirements-dev.in -o requirements-dev.txt --python $(PY)
	$(BIN)/uv pip compile --quiet --universal --python-version 3.10 requirements-test.in \
		-o requirements-test.txt

.PHONY: fuzz
fuzz: ## run each cargo-fuzz target for FUZZ_SECONDS (needs a nightly toolchain and cargo-fuzz)
	for t in $$(cargo +nightly fuzz list --fuzz-dir rust/fuzz); do \
		cargo +nightly fuzz run --fuzz-dir rust/fuzz $$t -- -max_total_time=$${FUZZ_SECONDS:-60} || exit 1; done
