# Every target does its own set-up: a virtualenv in .venv with chatdb installed (editable).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install gen check test bench demo clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Regenerate chatdb/db, sql/schema.sql and docs/queries.md from sql/ (starts a throwaway PostgreSQL).
gen: $(STAMP)
	$(BIN)/python -m codegen

# Generated code not stale, ruff and mypy --strict clean.
check: $(STAMP)
	$(BIN)/python -m codegen --check
	$(BIN)/ruff check chatdb codegen tests bench
	$(BIN)/ruff format --check chatdb codegen tests bench
	$(BIN)/mypy

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench

demo: $(STAMP)
	$(BIN)/chatdb demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
