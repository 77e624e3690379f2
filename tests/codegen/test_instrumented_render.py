"""The instrumented queriers are rendered for any project: every query of the fixture project
is wrapped, with no hand work, and measured when run."""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from chatdb.observe.runtime import Instruments
from codegen.instrument import InstrumentSettings
from codegen.main import generate
from codegen.pgserver import PgServer
from tests.codegen.conftest import fixture_config

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
