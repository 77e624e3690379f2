"""Fixtures for the workflow tests: a Store over a fresh database, people and a default model.

Every fixture returns a library type, so test modules need nothing from here but the names.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from chatdb import db
from chatdb.authz import CHAT_ACCESS, OWNER, Subject
from chatdb.db import Querier
from chatdb.ops import Chats
from chatdb.store import Store
from chatdb.testing.factories import Factories

State = dict[str, object]

# What "nothing was written" compares: row counts and a digest of every row of these tables.
_TABLES = (
    "chats",
    "chat_leases",
    "chat_messages",
    "chat_queued_messages",
    "chat_files",
    "chat_file_links",
    "chat_providers",
    "user_configs",
    "site_configs",
)


@pytest.fixture
def store(chatdb_dsn: str) -> Iterator[Store[Querier]]:
    with Store(chatdb_dsn, querier_factory=Querier, min_size=1, max_size=4) as s:
        yield s


@pytest.fixture
def conn(chatdb_conn: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    """Autocommit connection for setting up rows and inspecting them (not authorized)."""
    return chatdb_conn


@pytest.fixture
def q(conn: psycopg.Connection[Any]) -> Querier:
    return Querier(conn)


@pytest.fixture
def f(conn: psycopg.Connection[Any]) -> Factories:
    return Factories(conn)


@pytest.fixture
def org(f: Factories) -> db.Organization:
    return f.organization()


@pytest.fixture
def model(f: Factories) -> db.ChatModelConfig:
    """The deployment's default model."""
    return f.chat_model_config(is_default=True)


def person(f: Factories, org: db.Organization, name: str, *roles: str) -> Subject:
    """A user of ``org`` holding the site ``roles``, as the subject acting for them."""
    user = f.user(organization_id=org.id, username=name, rbac_roles=list(roles))
    return Subject(id=user.id, name=name, site_roles=roles, memberships={org.id})


@pytest.fixture
def alice(f: Factories, org: db.Organization) -> Subject:
    """A chat user (chat-access) of ``org``: creates and runs her own chats."""
    return person(f, org, "alice", CHAT_ACCESS)


@pytest.fixture
def bob(f: Factories, org: db.Organization) -> Subject:
    """Another chat user of the same organization: may not touch alice's chats."""
    return person(f, org, "bob", CHAT_ACCESS)


@pytest.fixture
def admin(f: Factories, org: db.Organization) -> Subject:
    """A site owner (everything, including deployment configuration)."""
    return person(f, org, "admin", OWNER)


@pytest.fixture
def chats(store: Store[Querier]) -> Chats:
    return Chats(store)


@pytest.fixture
def db_state(conn: psycopg.Connection[Any]) -> Callable[[], State]:
    """A snapshot of the chat tables: counts and a digest of their rows (any write changes it)."""

    def snapshot() -> State:
        state: State = {}
        for table in _TABLES:
            row = conn.execute(
                psycopg.sql.SQL(
                    "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                    " FROM {} AS t"
                ).format(psycopg.sql.Identifier(table))
            ).fetchone()
            assert row is not None
            state[table] = (row[0], row[1])
        return state

    return snapshot


@pytest.fixture
def wait_for_lock_waiters(conn: psycopg.Connection[Any]) -> Callable[[int], None]:
    """Block until ``n`` sessions of this database wait on a row lock (fail after 10 s)."""

    def wait(n: int) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            if row is not None and row[0] >= n:
                return
            time.sleep(0.01)
        raise AssertionError(f"fewer than {n} sessions ever waited on a lock")

    return wait


def run_in_thread(fn: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """Start ``fn`` in a thread; the list receives its result or the exception it raised."""
    out: list[object] = []

    def target() -> None:
        try:
            out.append(fn())
        except Exception as exc:
            out.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, out


@pytest.fixture
def in_thread() -> Callable[[Callable[[], object]], tuple[threading.Thread, list[object]]]:
    return run_in_thread
