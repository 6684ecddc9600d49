# Two commands: `make run` (serve the sample) and `make test` (everything CI runs).
# `make postgres` starts a local PostgreSQL + PostGIS cluster for developers (data in .pgdata,
# a unix socket there, no TCP) and prints the URL of its `rivernet` database, for
# `rivernet db load data/sample/taihu.gpkg URL` and `rivernet serve URL`; `make postgres-stop`
# stops it. `make test` does not need it: the tests start their own throwaway cluster.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench sample clean postgres postgres-stop

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

postgres: $(STAMP)
	$(BIN)/python -m tests.pgcluster .pgdata

postgres-stop: $(STAMP)
	$(BIN)/python -m tests.pgcluster .pgdata --stop

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
