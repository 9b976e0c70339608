# The two set-up commands of the README: `make demo` and `make test`. Both create .venv
# with the standard library's venv and pip and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: all install test lint typecheck unit crds demo bench-serving bench-serving-memory bench-drift bench-operator clean

all: test

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -P -m pip install --quiet --upgrade pip
	$(BIN)/python -P -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

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

# Serving memory benchmark (not part of `make test`): about 3 minutes, 127.0.0.1 only; 100 maximal
# requests against `modelops serve`, RSS and liveness latency; writes benchmarks/results/serving_memory.json.
bench-serving-memory: $(STAMP)
	$(BIN)/python benchmarks/serving/memory.py

# Drift benchmark (not part of `make test`): a few minutes; creates the peers' virtualenvs
# (Evidently with pandas<3, River) under benchmarks/.venvs/ on first use and writes
# benchmarks/results/drift.json. DRIFT_BENCH_ARGS=--quick for a smoke run without Evidently.
DRIFT_BENCH_ARGS ?=
PEERS := benchmarks/.venvs
$(PEERS)/evidently/.installed:
	@test -x $(PEERS)/evidently/bin/python || $(PYTHON) -m venv $(PEERS)/evidently
	$(PEERS)/evidently/bin/pip install --quiet 'evidently==0.7.23' 'pandas<3'
	@touch $@
$(PEERS)/river/.installed:
	@test -x $(PEERS)/river/bin/python || $(PYTHON) -m venv $(PEERS)/river
	$(PEERS)/river/bin/pip install --quiet 'river==0.26.1'
	@touch $@
bench-drift: $(STAMP) $(PEERS)/evidently/.installed $(PEERS)/river/.installed
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python benchmarks/drift/run.py $(DRIFT_BENCH_ARGS)

# Operator scale benchmark (not part of `make test`): under 10 minutes, 127.0.0.1 only; 100, 1,000 and
# 3,000 ModelDeployments against the API emulator; writes benchmarks/results/operator.json.
# OPERATOR_BENCH_ARGS="--sizes 100,300 --idle 5" for a smoke run.
OPERATOR_BENCH_ARGS ?=
bench-operator: $(STAMP)
	$(BIN)/python benchmarks/operator/run.py $(OPERATOR_BENCH_ARGS)

clean:
	rm -rf $(VENV) build .mypy_cache .ruff_cache .pytest_cache .sandbox

# Argo CD: regenerate manifests/argocd/argocd-cm-patch.yaml after editing a health.lua.
.PHONY: argocd-cm
argocd-cm: $(STAMP)
	$(BIN)/python -m tests.manifests.argocd_cm
