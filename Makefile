# Each target creates (or reuses) the virtual environment it needs in .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= skcv-report

.PHONY: demo test lint bench docs clean

# One stamp per set of extras: the venv is reinstalled when pyproject.toml changes.
$(VENV)/.stamp-%: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(subst -,$(comma),$*)]"
	touch $@

comma := ,

demo: $(VENV)/.stamp-plot
	$(BIN)/skcv run --out $(OUT)

lint: $(VENV)/.stamp-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest -n 2

bench: $(VENV)/.stamp-bench
	$(BIN)/python benchmarks/run_all.py

docs: $(VENV)/.stamp-docs
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) docs/_build docs/auto_examples docs/generated $(OUT)
