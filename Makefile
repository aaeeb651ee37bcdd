# Entry points: `make run` (the whole system), `make test` (the whole suite), `make demo` (beside `make run`),
# `make bench` (the benchmarks). Each creates the virtual environment and installs the locked dependencies when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test demo bench migrate lock clean

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/portal run

# With `make run` in another terminal: a demo doctor, three orders of the sample records, a simulated lab.
demo: $(STAMP)
	$(BIN)/portal demo

migrate: $(STAMP)
	$(BIN)/portal migrate

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Every benchmark of bench/ (BENCH_SCALE=0.1 for a short smoke run); the report goes to bench/results/report.md.
bench: $(STAMP)
	@command -v hey >/dev/null || { echo "make bench sends its HTTP load with hey: apt-get install hey"; exit 1; }
	$(BIN)/python -m bench

# Regenerate the lock file after changing dependencies in pyproject.toml.
lock:
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --extra test --extra bench --generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links -o requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) var
