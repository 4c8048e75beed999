# `make test` and `make demo` are the only commands a fresh machine needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: test lint chromium demo bench chaos record-histories upgrade-drill clean

$(INSTALLED): pyproject.toml emulator/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e ./emulator
	touch $@

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Each pytest-xdist worker starts its own Temporal dev server and emulator.
TEST_WORKERS ?= 3

# tests/browser drives Chromium (the system's: Playwright downloads nothing): installed here
# with Debian's apt when missing and allowed (root), else the command to install it is shown.
# Tests marked `fleet` measure request rates and timings across worker processes: they run
# alone once the parallel suite is done, since three suites at once on 2 cores skew them.
test: lint chromium
	$(BIN)/pytest -n $(TEST_WORKERS) -m "not fleet"
	$(BIN)/pytest -m fleet

chromium:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; } \
	  || { echo "chromium is missing (tests/browser): sudo apt-get install -y --no-install-recommends chromium"; exit 2; }

demo: $(INSTALLED)
	$(BIN)/durable-assistants dev --demo

bench: $(INSTALLED)
	$(BIN)/python -m benchmarks.emulator_bench
	$(BIN)/python -W ignore::DeprecationWarning -m benchmarks.runs_bench
	$(BIN)/python -W ignore::DeprecationWarning -m benchmarks.progress_bench
	$(BIN)/python -W ignore::DeprecationWarning -m benchmarks.limits_bench
	$(BIN)/python -W ignore::DeprecationWarning -m benchmarks.conversation_bench
	$(BIN)/python -W ignore::DeprecationWarning -m benchmarks.scale_bench
	$(BIN)/python -W ignore::DeprecationWarning -m benchmarks.history_bench

chaos: $(INSTALLED)
	$(BIN)/python -m tests.chaos.run

record-histories: $(INSTALLED)
	$(BIN)/python -m tests.replay.record

upgrade-drill: $(INSTALLED)
	$(BIN)/python -m tests.upgrade.drill

clean:
	rm -rf $(VENV) .data .mypy_cache .ruff_cache .pytest_cache
