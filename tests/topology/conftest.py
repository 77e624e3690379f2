"""One primary, its streaming standby and a PgBouncer in front of the primary, per session.

Started on first use only (the failover tests build their own small cluster). Each test gets
a fresh database cloned on the primary from a migrated template; the clone reaches the standby
by replication like any other write.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql

from chatdb.migrate import Migrator
from chatdb.testing.cluster import Node, start_primary
from chatdb.testing.pooler import PACKAGE, PgBouncer, find_pgbouncer

TEMPLATE = "chatdb_template"


@dataclass
class Database:
    """A fresh migrated database on the primary (and, by replication, on the standby)."""

    name: str
    primary: Node

    @property
    def dsn(self) -> str:
        return self.primary.dsn(self.name)


@pytest.fixture(scope="session")
def primary() -> Iterator[Node]:
    node = start_primary()
    try:
        with psycopg.connect(node.dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
        Migrator(node.dsn(TEMPLATE)).up()
        with psycopg.connect(node.dsn(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} IS_TEMPLATE true").format(sql.Identifier(TEMPLATE))
            )
        yield node
    finally:
        node.destroy()


@pytest.fixture(scope="session")
def standby(primary: Node) -> Iterator[Node]:
    node = primary.add_standby()
    try:
        yield node
    finally:
        node.destroy()


@pytest.fixture(scope="session")
def pgbouncer(primary: Node) -> Iterator[PgBouncer]:
    if find_pgbouncer() is None:
        pytest.skip(
            f"needs PgBouncer: install the Debian package {PACKAGE!r} "
            f"(make test does it when run as root with apt-get)"
        )
    bouncer = PgBouncer("127.0.0.1", primary.port)
    try:
        yield bouncer
    finally:
        bouncer.stop()


@pytest.fixture
def database(primary: Node) -> Iterator[Database]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(primary.dsn(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                sql.Identifier(name), sql.Identifier(TEMPLATE)
            )
        )
    yield Database(name, primary)
    with psycopg.connect(primary.dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
