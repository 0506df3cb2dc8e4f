# Each target creates (or reuses) the virtual environment it needs in .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= skcv-report

.PHONY: demo test lint bench docs _lint _sphinx clean

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
	$(MAKE) --no-print-directory _lint

# The whole suite: lint, the tests (with the doctests of skcv/ and the README's
# examples) on both cores, then the docs build, which runs the gallery.
test: $(VENV)/.stamp-test-docs
	$(MAKE) --no-print-directory _lint
	$(BIN)/python -m pytest -n 2
	$(MAKE) --no-print-directory _sphinx

bench: $(VENV)/.stamp-bench
	$(BIN)/python benchmarks/run_all.py

docs: $(VENV)/.stamp-docs
	$(MAKE) --no-print-directory _sphinx

_lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

_sphinx:
	$(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html

clean:
	rm -rf $(VENV) docs/_build docs/auto_examples docs/generated $(OUT)
