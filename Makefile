# Patrol — two commands: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Every dependency of the collector and the dev tools, pinned with hashes for CPython 3.11 on Linux x86_64.
LOCK   := requirements.lock
# `make lock` upgrades every pin; `make lock LOCK_UPGRADE=` keeps the current pins and only adds what is new.
LOCK_UPGRADE ?= --upgrade
# pytest-xdist workers; the suite starts real servers and agent processes, so one per core.
JOBS   ?= 2

.PHONY: demo serve test lint bench protos lock clean

$(STAMP): $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/pip install --quiet 'uv>=0.5'
	$(BIN)/uv pip compile --quiet pyproject.toml --extra dev --generate-hashes --python-version 3.11 \
		--python-platform x86_64-unknown-linux-gnu --custom-compile-command 'make lock' $(LOCK_UPGRADE) -o $(LOCK)

demo: $(STAMP)
	$(BIN)/patrol demo

# FRESH=1 rebuilds demo-data/ instead of reusing it.
serve: $(STAMP)
	$(BIN)/patrol demo --serve $(if $(FRESH),--fresh)

# Random order (pytest-randomly prints its seed first) on $(JOBS) parallel workers (pytest-xdist).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -ra -n $(JOBS) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy agent collector inspections reports

# The quick version of every benchmark; ingest and the agent run beside their peers (Debian's
# victoria-metrics, collectd-core and prometheus-node-exporter) and print the ratios.
bench: $(STAMP)
	$(BIN)/python bench/ingest.py --quick --peer victoria-metrics
	$(BIN)/python bench/agent_overhead.py --quick --peers
	$(BIN)/python bench/logs.py --quick
	$(BIN)/python bench/inspection.py --quick
	$(BIN)/python bench/forecast.py --quick
	$(BIN)/python bench/reports.py --quick
	$(BIN)/python bench/tickets.py --quick
	$(BIN)/python bench/console.py --rounds 5

protos: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. --grpc_python_out=. protos/patrol/v1/agent.proto

clean:
	rm -rf $(VENV) demo-data .pytest_cache .ruff_cache .mypy_cache
