# Two entry points: `make demo` and `make test`. Both create .venv with Python 3.11+.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO ?= demo-shop
CUSTOMERS ?= 20000

.PHONY: demo story test lint browser bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[serve]"
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
	$(BIN)/propensity whatif --project $(DEMO) --by capacity
	@echo "demo project: $(DEMO)/ (frame in $(DEMO)/.propensity/frames/, model in"
	@echo "$(DEMO)/.propensity/bundles/, scores and actions in $(DEMO)/scores.csv);"
	@echo "open the report in a browser:"
	@$(BIN)/propensity report --project $(DEMO)

# the monitoring story: a behaviour change, the alert, the retrain, the scores true again
story: $(VENV)/.core
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/story.sh story-shop 5000

lint: $(VENV)/.all
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

# the report test renders the page in headless Chromium; install it where we can
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  (command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	   apt-get install -y -q chromium >/dev/null 2>&1) || \
	  echo "chromium is not installed and could not be; the browser test will skip"

test: lint browser
	$(BIN)/pytest

bench: $(VENV)/.all
	$(BIN)/python benchmarks/build.py
	$(BIN)/python benchmarks/train.py
	$(BIN)/python benchmarks/quality.py
	$(BIN)/python benchmarks/serve.py
	$(BIN)/python benchmarks/monitor.py

clean:
	rm -rf $(VENV) $(DEMO) story-shop .pytest_cache .mypy_cache .ruff_cache .hypothesis
