# Two entry points: `make demo` and `make test`. Both create .venv with Python 3.11+.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO ?= demo-shop
CUSTOMERS ?= 20000

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.all: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[all]"
	touch $@ $(VENV)/.core

demo: $(VENV)/.core
	$(BIN)/propensity init $(DEMO) --demo --customers $(CUSTOMERS) --force
	$(BIN)/propensity check --project $(DEMO)
	$(BIN)/propensity build --project $(DEMO)
	$(BIN)/propensity train --project $(DEMO)
	$(BIN)/propensity score --project $(DEMO) --out $(DEMO)/scores.csv
	@echo "demo project: $(DEMO)/ (frame in $(DEMO)/.propensity/frames/, model in"
	@echo "$(DEMO)/.propensity/bundles/, scores of every active customer in $(DEMO)/scores.csv)"

lint: $(VENV)/.all
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: $(VENV)/.all
	$(BIN)/python benchmarks/build.py
	$(BIN)/python benchmarks/train.py
	$(BIN)/python benchmarks/quality.py

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .mypy_cache .ruff_cache .hypothesis
