# The two set-up commands of the README: `make demo` and `make test`. Both create .venv
# with the standard library's venv and pip and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: all install test lint typecheck unit crds check-crds demo bench-serving bench-drift clean

all: test

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy -p modelops -p tests

unit: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck unit

crds: $(STAMP)
	$(BIN)/modelops crds --out crds

demo: $(STAMP)
	$(BIN)/modelops sandbox demo

# Serving benchmark (not part of `make test`): about 10 minutes, needs root for `apt-get install wrk`
# on first use; creates benchmarks/.venvs/mlserver itself. BENCH_ARGS=--quick for a smoke run.
BENCH_ARGS ?=
bench-serving: $(STAMP)
	$(BIN)/python benchmarks/serving/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build .mypy_cache .ruff_cache .pytest_cache .sandbox
