# Every target does its own set-up: a virtualenv in .venv with chatdb installed (editable).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install gen check test test-deps bench demo mutate topology topology-down clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@# The code generator is not in the package (the wheel holds chatdb only): put the checkout
	@# on the dev venv's path so `chatdb gen` and `python -m codegen` find it from anywhere.
	$(BIN)/python -c "import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()['purelib'], 'chatdb-dev-checkout.pth').write_text('$(CURDIR)\n')"
	touch $(STAMP)

# Regenerate chatdb/db, sql/schema.sql and docs/queries.md from sql/ (starts a throwaway PostgreSQL).
gen: $(STAMP)
	$(BIN)/python -m codegen

# Generated code not stale, ruff and mypy --strict clean.
check: $(STAMP)
	$(BIN)/python -m codegen --check
	$(BIN)/ruff check chatdb codegen tests bench tools
	$(BIN)/ruff format --check chatdb codegen tests bench tools
	$(BIN)/mypy

test: $(STAMP) test-deps
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Weaken each query's policy in turn (to any_actor; and each term of an `and` dropped),
# regenerate a scratch copy and run the access table's test for it: reports survivors, exits 1
# if there is one. Not part of `make test` (about 125 mutants). MUTATE_ARGS="--only m1,m2".
mutate: $(STAMP)
	$(BIN)/python -m tools.mutate $(MUTATE_ARGS)

# Debian packages some tests need (PgBouncer for tests/topology): installed when missing if we
# are root with apt-get (CI); otherwise those tests skip, naming the package.
test-deps:
	@command -v pgbouncer >/dev/null || test -x /usr/sbin/pgbouncer || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing the Debian package pgbouncer"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q pgbouncer >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q pgbouncer >/dev/null 2>&1; } || \
	    echo "could not install pgbouncer: its tests will skip"; \
	  else echo "pgbouncer missing (Debian package 'pgbouncer'): its tests will skip"; fi; }

# The peers the bench compares with (SQLAlchemy, aiosql) come from the bench extra.
BENCH_STAMP := $(VENV)/.bench-stamp

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

demo: $(STAMP)
	$(BIN)/chatdb demo

# A local production topology to try: primary, streaming standby, PgBouncer (docs/topology.md).
topology: $(STAMP) test-deps
	$(BIN)/python -m chatdb.testing.topology up

topology-down: $(STAMP)
	$(BIN)/python -m chatdb.testing.topology down

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
