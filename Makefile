# provision — two commands on a fresh machine:
#   make up     start the local AWS emulator, run `provision up`, print the outputs
#   make test   every test: Rust unit + integration tests, the emulator's pytest suite, clippy, fmt
#
# Compiled artefacts go outside the clone so CI reuses them between runs.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/provision-target
PORT ?= 4566
SCALE ?= 0.01
BIN := $(CARGO_TARGET_DIR)/debug/provision
# The emulator `make up` started on PORT: its pid (for `make down PORT=...`) and its log.
EMU_PID := .emulator-$(PORT).pid
EMU_LOG := .emulator-$(PORT).log
EMU_ENV := AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \
	AWS_ENDPOINT_URL=http://127.0.0.1:$(PORT) PROVISION_TIME_SCALE=$(SCALE)

.PHONY: up down env build test test-rust test-emulator lint emulator-venv bench bench-shapes bench-readonly soak

build:
	cargo build

emulator-venv:
	emulator/setup-venv

# Runs the emulator in the background (time-scaled: SCALE of real AWS delays),
# builds the stack against it, prints the outputs, and leaves the emulator
# running so you can explore (`make down` removes the stack and stops it).
# An emulator already answering on PORT is reused. Anything else on PORT stops
# the run at once (curl's exit 7 is "connection refused": the port is free).
# The pid file is written only for an emulator this run started and saw answer.
up: build emulator-venv
	@if ! curl -sf --max-time 2 http://127.0.0.1:$(PORT)/_emulator/health >/dev/null 2>&1; then \
	  rc=0; curl -s -o /dev/null --max-time 2 http://127.0.0.1:$(PORT)/ || rc=$$?; \
	  if [ "$$rc" != 7 ]; then \
	    echo "make up: port $(PORT) is in use by another program (not the provision emulator); free it or choose another port: make up PORT=4567" >&2; \
	    exit 1; \
	  fi; \
	  emulator/run --port $(PORT) --scale $(SCALE) > $(EMU_LOG) 2>&1 & pid=$$!; \
	  for i in $$(seq 1 100); do \
	    curl -sf http://127.0.0.1:$(PORT)/_emulator/health >/dev/null 2>&1 && break; \
	    if ! kill -0 $$pid 2>/dev/null; then \
	      echo "make up: the emulator exited before answering on port $(PORT); the end of $(EMU_LOG):" >&2; \
	      tail -n 5 $(EMU_LOG) >&2; exit 1; \
	    fi; \
	    sleep 0.2; \
	  done; \
	  if ! curl -sf http://127.0.0.1:$(PORT)/_emulator/health >/dev/null 2>&1; then \
	    kill $$pid 2>/dev/null; echo "make up: the emulator did not answer on port $(PORT) within 20 s; see $(EMU_LOG)" >&2; exit 1; \
	  fi; \
	  echo $$pid > $(EMU_PID); \
	fi
	$(EMU_ENV) $(BIN) up
	$(EMU_ENV) $(BIN) outputs

# The environment that points a shell at the emulator `make up` left running,
# with the built binary on PATH:   eval "$$(make -s env)"   then   provision status
env:
	@echo 'export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1'
	@echo 'export AWS_ENDPOINT_URL=http://127.0.0.1:$(PORT) PROVISION_TIME_SCALE=$(SCALE)'
	@echo 'export PATH="$(CARGO_TARGET_DIR)/debug:$$PATH"'

down: build
	$(EMU_ENV) $(BIN) down --purge-efs --delete-data --yes
	@if [ -f $(EMU_PID) ]; then kill "$$(cat $(EMU_PID))" 2>/dev/null; rm -f $(EMU_PID); echo "emulator stopped"; fi

test: emulator-venv lint test-rust test-emulator

test-rust:
	cargo test --all-targets

test-emulator:
	cd emulator && .venv/bin/python -m pytest -q tests

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

# The realism soak with several seeds (tests/soak.rs): 2 zones, 3 users, up → verify →
# down --purge-efs --delete-data against `emulator/run --realistic --throttle --scale 0.02`, each seed
# on a fresh emulator. `make test` runs the same test with one seed.
SOAK_SEEDS ?= 1,2,3,4,5
soak: emulator-venv
	PROVISION_SOAK_SEEDS=$(SOAK_SEEDS) cargo test --test soak -- --nocapture

# The benchmark (BENCHMARKS.md), not a test: `make test` never runs it.
# Starts its own emulator on a free port (full latency profile, throttling on,
# scale 0.02), one untimed warm-up cycle, then 3 timed `up` +
# `down --purge-efs --delete-data` runs. Options: make bench BENCH_ARGS="--runs 5 --json out.json"
BENCH_ARGS ?=
bench: build emulator-venv
	emulator/.venv/bin/python bench/run.py --bin $(BIN) $(BENCH_ARGS)

# The shapes: 1/3/6 zones, 1/10/100 users, 5 concurrent stacks, each with and without
# --realistic --throttle, median of 3, each against the tool's own bound for that shape (about
# 25 minutes). A release binary: make bench-shapes BIN=$$CARGO_TARGET_DIR/release/provision
# after `cargo build --release`. Options: make bench-shapes BENCH_ARGS="--shapes default,users100 --json out.json"
bench-shapes: build emulator-venv
	emulator/.venv/bin/python bench/shapes.py --bin $(BIN) $(BENCH_ARGS)

# Calls and time of `status`, `plan` and `verify` on the default stack at scale 0.
bench-readonly: build emulator-venv
	emulator/.venv/bin/python bench/readonly.py --bin $(BIN) $(BENCH_ARGS)
