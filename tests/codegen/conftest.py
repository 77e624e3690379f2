"""Compile the fixture project once per session and import the generated package."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest

from codegen.catalog import apply_schema, schema_files
from codegen.config import Config
from codegen.main import generate
from codegen.pgserver import PgServer
from codegen.pytypes import Override

FIXTURE = Path(__file__).parent / "fixture"
PACKAGE = "codegen_fixture_db"


def fixture_config(out: Path, **kw: Any) -> Config:
    defaults: dict[str, Any] = {
        "schema": FIXTURE / "schema",
        "queries": FIXTURE / "queries",
        "out": out,
        "authz": True,
        "column_overrides": {"books.meta": Override("dict[str, str]")},
        "root": FIXTURE.parent.parent.parent,
    }
    defaults.update(kw)
    return Config(**defaults)


@pytest.fixture(scope="session")
def generated(
    tmp_path_factory: pytest.TempPathFactory, chatdb_pg_server: PgServer
) -> dict[Path, str]:
    """The fixture project's generated files (path -> content)."""
    root = tmp_path_factory.mktemp("gen")
    config = fixture_config(root / PACKAGE)
    outputs = generate(config, chatdb_pg_server)
    for path, content in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return outputs


@pytest.fixture(scope="session")
def pkg(generated: dict[Path, str]) -> Iterator[ModuleType]:
    """The generated fixture package, imported."""
    root = next(iter(generated)).parent.parent
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))


@pytest.fixture(scope="session")
def fixture_template(chatdb_pg_server: PgServer) -> str:
    name = chatdb_pg_server.create_database()
    with psycopg.connect(chatdb_pg_server.dsn(name), autocommit=True) as conn:
        apply_schema(conn, schema_files(FIXTURE / "schema"))
    return name


@pytest.fixture
def fixture_dsn(chatdb_pg_server: PgServer, fixture_template: str) -> Iterator[str]:
    name = chatdb_pg_server.create_database(template=fixture_template)
    yield chatdb_pg_server.dsn(name)
    chatdb_pg_server.drop_database(name)


@pytest.fixture
def conn(fixture_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(fixture_dsn, autocommit=True) as c:
        yield c


@pytest.fixture
async def aconn(fixture_dsn: str) -> Any:
    async with await psycopg.AsyncConnection.connect(fixture_dsn, autocommit=True) as c:
        yield c
