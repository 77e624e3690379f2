"""pytest plugin (registered through the ``pytest11`` entry point).

One throwaway PostgreSQL per test session; the chatdb migrations are applied once to a
template database, and every test that asks for a database gets a fresh clone of it
(``CREATE DATABASE ... TEMPLATE``, a few milliseconds) instead of a migration run.
Set ``CHATDB_PG_DSN`` to use an existing server instead of starting one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
import pytest

from codegen.pgserver import PgServer, start_server


@pytest.fixture(scope="session")
def chatdb_pg_server() -> Iterator[PgServer]:
    """The session's PostgreSQL server."""
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def chatdb_template(chatdb_pg_server: PgServer) -> Iterator[str]:
    """Name of a template database with every chatdb migration applied (once per session)."""
    from chatdb.migrate import Migrator

    name = chatdb_pg_server.create_database()
    Migrator(chatdb_pg_server.dsn(name)).up()
    with psycopg.connect(chatdb_pg_server.dsn(), autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL("ALTER DATABASE {} IS_TEMPLATE true").format(
                psycopg.sql.Identifier(name)
            )
        )
    yield name
    chatdb_pg_server.drop_database(name)


@pytest.fixture
def chatdb_dsn(chatdb_pg_server: PgServer, chatdb_template: str) -> Iterator[str]:
    """Conninfo of a fresh, fully migrated database private to this test."""
    name = chatdb_pg_server.create_database(template=chatdb_template)
    yield chatdb_pg_server.dsn(name)
    chatdb_pg_server.drop_database(name)


@pytest.fixture
def chatdb_empty_dsn(chatdb_pg_server: PgServer) -> Iterator[str]:
    """Conninfo of a fresh, empty database (no migrations)."""
    name = chatdb_pg_server.create_database()
    yield chatdb_pg_server.dsn(name)
    chatdb_pg_server.drop_database(name)


@pytest.fixture
def chatdb_conn(chatdb_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to this test's migrated database."""
    with psycopg.connect(chatdb_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
async def chatdb_aconn(chatdb_dsn: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """An autocommit async connection to this test's migrated database."""
    async with await psycopg.AsyncConnection.connect(chatdb_dsn, autocommit=True) as conn:
        yield conn
