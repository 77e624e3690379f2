"""pytest plugin for chatdb and the services built on it (registered as ``pytest11: chatdb``).

Installing chatdb makes these fixtures available to every test suite; nothing to import.
One throwaway PostgreSQL serves the whole session (run as an unprivileged user when the
tests run as root). The migrations are applied once, to a template database, and every test
that asks for a database gets a fresh clone of it (``CREATE DATABASE ... TEMPLATE``, a few
milliseconds) instead of a migration run, so tests never see each other's rows.

Session fixtures
    ``chatdb_pg_server``      the :class:`~chatdb.testing.pgserver.PgServer` (``.dsn(dbname)``,
                              ``.create_database()``, ``.drop_database()``).
    ``chatdb_migrations_dir`` the migrations directory the template is built from.
    ``chatdb_template``       name of the migrated template database.

Per-test fixtures (each test gets its own database)
    ``chatdb_dsn``            conninfo of a fresh, fully migrated database.
    ``chatdb_empty_dsn``      conninfo of a fresh, empty database (no migrations).
    ``chatdb_conn`` / ``chatdb_aconn``  autocommit sync / async connection to ``chatdb_dsn``.
    ``chatdb_querier``        the generated :class:`chatdb.db.Querier` over ``chatdb_conn``
                              (no authorization: for set-up and assertions).
    ``chatdb_authz_querier``  a function ``(actor, authorizer=None) -> AuthzQuerier`` over
                              ``chatdb_querier``: every call is checked as ``actor``.
    ``chatdb_factories``      :class:`chatdb.testing.factories.Factories` over ``chatdb_conn``.
    ``chatdb_store``          a :class:`chatdb.store.Store` of plain queriers over
                              ``chatdb_dsn`` (what :class:`chatdb.ops.Chats` takes).

Configuration
    ``CHATDB_PG_DSN=<conninfo>``  use an existing server (a role that may CREATE DATABASE)
                                  instead of starting one.
    ``--chatdb-migrations=DIR`` or the ini option ``chatdb_migrations = DIR`` (relative to the
    ini file): build the template from your own migrations directory; default
    ``$CHATDB_MIGRATIONS_DIR``, else chatdb's own migrations.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from chatdb.testing.pgserver import PgServer, start_server

if TYPE_CHECKING:
    from chatdb.authz import AuthorizerLike, Subject
    from chatdb.authz.wrapper import AuthzQuerier
    from chatdb.db import Querier
    from chatdb.store import Store
    from chatdb.testing.factories import Factories

AuthzQuerierFactory = Callable[..., "AuthzQuerier"]

_MIGRATIONS_HELP = (
    "directory of NNNNNN_name.up.sql migrations the chatdb template database is built from "
    "(default: $CHATDB_MIGRATIONS_DIR, else chatdb's own migrations)"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chatdb", "chatdb test databases")
    group.addoption(
        "--chatdb-migrations", dest="chatdb_migrations", metavar="DIR", help=_MIGRATIONS_HELP
    )
    parser.addini("chatdb_migrations", _MIGRATIONS_HELP + "; relative to the ini file", default="")


def migrations_dir(config: pytest.Config) -> Path:
    """The migrations directory: the command line, else the ini option, else the default."""
    from chatdb.migrate import default_migrations_dir

    option: str | None = config.getoption("chatdb_migrations", default=None)
    if option:
        return Path(option).expanduser().resolve()
    ini = str(config.getini("chatdb_migrations") or "").strip()
    if ini:
        base = config.inipath.parent if config.inipath is not None else config.rootpath
        return (base / Path(ini).expanduser()).resolve()
    return default_migrations_dir()


@pytest.fixture(scope="session")
def chatdb_pg_server() -> Iterator[PgServer]:
    """The session's PostgreSQL server."""
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def chatdb_migrations_dir(pytestconfig: pytest.Config) -> Path:
    """The migrations directory the template database is built from."""
    return migrations_dir(pytestconfig)


@pytest.fixture(scope="session")
def chatdb_template(chatdb_pg_server: PgServer, chatdb_migrations_dir: Path) -> Iterator[str]:
    """Name of a template database with every migration applied (once per session)."""
    from chatdb.migrate import Migrator

    name = chatdb_pg_server.create_database()
    try:
        Migrator(chatdb_pg_server.dsn(name), chatdb_migrations_dir).up()
        with psycopg.connect(chatdb_pg_server.dsn(), autocommit=True) as conn:
            conn.execute(
                psycopg.sql.SQL("ALTER DATABASE {} IS_TEMPLATE true").format(
                    psycopg.sql.Identifier(name)
                )
            )
        yield name
    finally:
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


@pytest.fixture
def chatdb_querier(chatdb_conn: psycopg.Connection[Any]) -> Querier:
    """The generated querier over ``chatdb_conn``, without authorization."""
    from chatdb.db import Querier

    return Querier(chatdb_conn)


@pytest.fixture
def chatdb_authz_querier(chatdb_querier: Querier) -> AuthzQuerierFactory:
    """``make(actor, authorizer=None)``: the authorized querier acting as ``actor``.

    ``authorizer=None`` is the built-in RBAC; pass a
    :class:`chatdb.authz.RecordingAuthorizer` to assert which checks a call made.
    """
    from chatdb.authz.wrapper import AuthzQuerier

    def make(actor: Subject, authorizer: AuthorizerLike | None = None) -> AuthzQuerier:
        return AuthzQuerier(chatdb_querier, authorizer, actor=actor)

    return make


@pytest.fixture
def chatdb_factories(chatdb_conn: psycopg.Connection[Any]) -> Factories:
    """Row factories over ``chatdb_conn`` (see :mod:`chatdb.testing.factories`)."""
    from chatdb.testing.factories import Factories

    return Factories(chatdb_conn)


@pytest.fixture
def chatdb_store(chatdb_dsn: str) -> Iterator[Store[Querier]]:
    """A small :class:`~chatdb.store.Store` of plain queriers over this test's database."""
    from chatdb.db import Querier
    from chatdb.store import Store

    with Store(chatdb_dsn, querier_factory=Querier, min_size=1, max_size=4) as store:
        yield store
