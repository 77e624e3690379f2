"""The instrumented queriers are rendered for any project: every query of the fixture project
is wrapped, with no hand work, and measured when run; an ``:iter`` query too, sync and async,
and the rendered module passes ``mypy --strict``."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from chatdb.observe.runtime import Instruments
from codegen.catalog import apply_schema, schema_files
from codegen.instrument import InstrumentSettings
from codegen.main import generate, write
from codegen.pgserver import PgServer
from tests.codegen.conftest import fixture_config
from tests.codegen.test_corpus import ROOT, case_config

PACKAGE = "codegen_fixture_observed"

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def observed(
    tmp_path_factory: pytest.TempPathFactory, chatdb_pg_server: PgServer
) -> Iterator[tuple[ModuleType, ModuleType]]:
    """The fixture project generated with ``[tool.codegen.instrument]``, imported."""
    root = tmp_path_factory.mktemp("observed")
    settings = InstrumentSettings(
        out=str(root / PACKAGE / "instrumented.py"), runtime="chatdb.observe.runtime"
    )
    config = fixture_config(root / PACKAGE, package=PACKAGE, instrument=settings)
    outputs = generate(config, chatdb_pg_server)
    assert root / PACKAGE / "instrumented.py" in outputs
    for path, content in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    sys.path.insert(0, str(root))
    try:
        pkg = importlib.import_module(PACKAGE)
        yield pkg, importlib.import_module(f"{PACKAGE}.instrumented")
    finally:
        sys.path.remove(str(root))


def test_every_query_of_the_project_is_wrapped(observed: tuple[ModuleType, ModuleType]) -> None:
    pkg, inst = observed
    queries = importlib.import_module(f"{PACKAGE}.registry").QUERIES
    assert queries
    for info in queries.values():
        for cls, base in (
            (inst.InstrumentedQuerier, pkg.Querier),
            (inst.AsyncInstrumentedQuerier, pkg.AsyncQuerier),
        ):
            assert info.method in cls.__dict__, (cls.__name__, info.method)
            assert inspect.signature(cls.__dict__[info.method]) == inspect.signature(
                getattr(base, info.method)
            )
        assert info.name in inst.QUERY_TEXT


def test_the_wrapped_queries_run_and_are_counted(
    observed: tuple[ModuleType, ModuleType], conn: psycopg.Connection[Any]
) -> None:
    pkg, inst = observed
    registry = CollectorRegistry()
    q = inst.InstrumentedQuerier(conn, Instruments(metrics=True, registry=registry))
    assert isinstance(q, pkg.Querier)
    ann = q.create_author(name="Ann", bio=None, mood=pkg.Mood.SAD, tags=[])
    assert q.get_author(id=ann.id) == ann
    assert q.delete_author(id=ann.id) == 1
    for name in ("CreateAuthor", "GetAuthor", "DeleteAuthor"):
        labels = {"query": name}
        assert registry.get_sample_value("chatdb_query_duration_seconds_count", labels) == 1


LAYOUT = "corpus_layout_observed"


@pytest.fixture(scope="module")
def layout(
    tmp_path_factory: pytest.TempPathFactory, chatdb_pg_server: PgServer
) -> Iterator[tuple[ModuleType, ModuleType, str]]:
    """The corpus ``layout`` project (it has an ``:iter`` query) generated with the
    instrumented queriers, type-checked, imported, with a database holding its schema."""
    root = tmp_path_factory.mktemp("layout")
    config = case_config("layout", root / LAYOUT)
    config.package = LAYOUT
    config.instrument = InstrumentSettings(
        out=str(root / LAYOUT / "instrumented.py"), runtime="chatdb.observe.runtime"
    )
    write(config, generate(config, chatdb_pg_server))
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "-p", LAYOUT],
        cwd=root,
        capture_output=True,
        text=True,
        env={"MYPYPATH": f"{ROOT}:{root}", "PATH": "/usr/bin:/bin"},
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    name = chatdb_pg_server.create_database()
    with psycopg.connect(chatdb_pg_server.dsn(name), autocommit=True) as c:
        apply_schema(c, schema_files(config.schema))
    sys.path.insert(0, str(root))
    try:
        pkg = importlib.import_module(LAYOUT)
        yield pkg, importlib.import_module(f"{LAYOUT}.instrumented"), chatdb_pg_server.dsn(name)
    finally:
        sys.path.remove(str(root))
        chatdb_pg_server.drop_database(name)


def samples(registry: CollectorRegistry, query: str) -> tuple[float, float]:
    """(calls measured, errors of any type) of ``query``."""
    calls = registry.get_sample_value("chatdb_query_duration_seconds_count", {"query": query})
    errors = sum(
        s.value
        for m in registry.collect()
        for s in m.samples
        if s.name == "chatdb_query_errors_total" and s.labels["query"] == query
    )
    return calls or 0, errors


def test_an_iter_query_is_measured_until_its_last_row_or_an_early_stop(
    layout: tuple[ModuleType, ModuleType, str],
) -> None:
    pkg, inst, dsn = layout
    registry = CollectorRegistry()
    with psycopg.connect(dsn, autocommit=True) as c:
        q = inst.InstrumentedQuerier(c, Instruments(metrics=True, registry=registry))
        names = ["Ann", "Bob", "Cy"]
        for name in names:
            q.create_author(name=name, bio=None)
        rows = q.iter_authors()
        assert samples(registry, "IterAuthors") == (0, 0)  # nothing runs before the first row
        assert [r.name for r in rows] == names
        assert samples(registry, "IterAuthors") == (1, 0)
        rows = q.iter_authors()
        assert next(rows).name == "Ann"
        rows.close()  # the caller stops early: measured, not an error
        assert samples(registry, "IterAuthors") == (2, 0)
        # Still a plain querier's iterator: the rows are the rows.
        assert [r.name for r in pkg.Querier(c).iter_authors()] == names


async def test_an_async_iter_query_is_measured_the_same_way(
    layout: tuple[ModuleType, ModuleType, str],
) -> None:
    _, inst, dsn = layout
    registry = CollectorRegistry()
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as c:
        q = inst.AsyncInstrumentedQuerier(c, Instruments(metrics=True, registry=registry))
        before = [r.name async for r in q.iter_authors()]
        assert before and samples(registry, "IterAuthors") == (1, 0)
        rows = q.iter_authors()
        async for _ in rows:
            break
        await rows.aclose()
        assert samples(registry, "IterAuthors") == (2, 0)
