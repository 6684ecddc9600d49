# Two commands: `make run` (serve the sample) and `make test` (everything CI runs).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench sample clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/rivernet serve data/sample/taihu.gpkg

test: $(STAMP)
	$(BIN)/ruff check rivernet layers server bench tests
	$(BIN)/ruff format --check rivernet layers server bench tests
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench network

sample: $(STAMP)
	$(BIN)/python data/sample/build_sample.py
	$(BIN)/python data/sample/build_roster_named.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
