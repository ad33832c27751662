# Patrol — two commands: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo serve test lint bench protos clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/patrol demo

# FRESH=1 rebuilds demo-data/ instead of reusing it.
serve: $(STAMP)
	$(BIN)/patrol demo --serve $(if $(FRESH),--fresh)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -q -ra

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy agent collector inspections reports

bench: $(STAMP)
	$(BIN)/python bench/ingest.py --quick
	$(BIN)/python bench/agent_overhead.py --quick
	$(BIN)/python bench/logs.py --quick
	$(BIN)/python bench/inspection.py --quick
	$(BIN)/python bench/forecast.py --quick
	$(BIN)/python bench/reports.py --quick
	$(BIN)/python bench/tickets.py --quick

protos: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. --grpc_python_out=. protos/patrol/v1/agent.proto

clean:
	rm -rf $(VENV) demo-data .pytest_cache .ruff_cache .mypy_cache
