"""chatdb through a real PgBouncer in transaction pooling mode.

Queries, workflows from many threads, concurrent advisory-locked migrations and pipelined
batches all go through the pooler; each would fail there without its setting or mechanism.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from psycopg import sql

from chatdb.authz import CHAT_ACCESS, CHATD, Subject
from chatdb.db import Querier
from chatdb.errors import DatabaseError, NotFound
from chatdb.migrate import Migrator
from chatdb.ops import Chats
from chatdb.store import Store, Timeouts
from chatdb.testing.cluster import Node
from chatdb.testing.factories import Factories
from chatdb.testing.pooler import PgBouncer

from .conftest import Database

pytestmark = pytest.mark.timeout(180)

T = TypeVar("T")

# What a service behind PgBouncer 1.18 passes: no prepared statements, no startup options.
POOLED: dict[str, Any] = {"prepare_threshold": None, "timeouts": Timeouts(server=False)}
UNTIMED: dict[str, Any] = {"timeouts": Timeouts(server=False)}


def in_threads(n: int, fn: Callable[[int], T]) -> list[T | BaseException]:
    results: list[T | BaseException] = [RuntimeError("did not run")] * n
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


@pytest.fixture
def people(database: Database) -> Iterator[tuple[Any, list[Subject]]]:
    with psycopg.connect(database.dsn, autocommit=True) as conn:
        f = Factories(conn)
        org = f.organization()
        f.chat_model_config(is_default=True)
        users = [
            f.user(organization_id=org.id, username=f"u{i}", rbac_roles=[CHAT_ACCESS])
            for i in range(8)
        ]
    yield (
        org,
        [
            Subject(id=u.id, name=u.username, site_roles=(CHAT_ACCESS,), memberships={org.id})
            for u in users
        ],
    )


def test_workflows_from_many_threads_through_pgbouncer(
    pgbouncer: PgBouncer, database: Database, people: tuple[Any, list[Subject]]
) -> None:
    org, users = people

    def user_session(i: int) -> int:
        for n in range(10):
            created = chats.create_chat(organization_id=org.id, content=f"hi {n}", actor=users[i])
            chats.send_message(created.chat.id, "more", actor=users[i])
            with store.querier() as q:
                q.get_chat_by_id(id=created.chat.id)
        return len(chats.list_chats(actor=users[i], limit=100))

    with Store(
        pgbouncer.dsn(database.name), querier_factory=Querier, max_size=8, **POOLED
    ) as store:
        chats = Chats(store)
        results = in_threads(8, user_session)
        assert results == [10] * 8
        acquired = chats.acquire_chats(uuid.uuid4(), actor=CHATD, num_chats=1000)
    with psycopg.connect(database.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM chats").fetchone() == (80,)
        # The first message of each chat is admitted; the second waits in the queue.
        assert conn.execute(
            "SELECT count(*) FROM chat_messages WHERE role = 'user'"
        ).fetchone() == (80,)
        assert conn.execute("SELECT count(*) FROM chat_queued_messages").fetchone() == (80,)
    assert len(acquired) == 80


def test_prepared_statements_break_through_pgbouncer(primary: Node, database: Database) -> None:
    # The control for prepare_threshold=None: two clients that prepare, behind a pooler with
    # one server connection, meet each other's statement names there; without preparing the
    # same two clients are fine.
    bouncer = PgBouncer("127.0.0.1", primary.port, pool_size=1)
    try:
        for threshold, fails in ((0, True), (None, False)):
            with (
                psycopg.connect(bouncer.dsn(database.name), prepare_threshold=threshold) as one,
                psycopg.connect(bouncer.dsn(database.name), prepare_threshold=threshold) as two,
            ):
                one.autocommit = two.autocommit = True
                with contextlib.suppress(NotFound):
                    Querier(one).get_chat_by_id(id=uuid.uuid4())
                if fails:
                    with pytest.raises(DatabaseError, match="prepared statement"):
                        Querier(two).get_chats_by_workspace_ids(ids=[uuid.uuid4()])
                else:
                    assert Querier(two).get_chats_by_workspace_ids(ids=[uuid.uuid4()]) == []
    finally:
        bouncer.stop()


def test_concurrent_migrations_through_pgbouncer_apply_each_once(
    pgbouncer: PgBouncer, primary: Node, tmp_path: Path
) -> None:
    name = "t_migrations_pooled"
    with psycopg.connect(primary.dsn(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = pgbouncer.dsn(name)
    for round_ in range(3):
        results = in_threads(4, lambda i: [m.version for m in Migrator(dsn).up()])
        assert not [r for r in results if isinstance(r, BaseException)], results
        everything = [m.version for m in Migrator(dsn).migrations()]
        assert sorted(results, key=len) == [[], [], [], everything]  # type: ignore[arg-type]
        # Nothing stays locked on a pooled server connection.
        with psycopg.connect(primary.dsn(name), autocommit=True) as conn:
            held = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
            ).fetchone()
        assert held == (0,)
        if round_ < 2:
            assert len(Migrator(dsn).down(len(everything))) == len(everything)
    assert Migrator(dsn).current_version() == max(everything)


def test_pipelined_batches_through_pgbouncer(pgbouncer: PgBouncer, database: Database) -> None:
    rows = [(f"title {i}",) for i in range(200)]
    with Store(pgbouncer.dsn(database.name), querier_factory=Querier, **POOLED) as store:
        with store.connection() as conn:
            conn.execute("CREATE TABLE batch (t text NOT NULL)")

        def write(q: Querier) -> int:
            cur = q.conn.cursor()
            cur.executemany("INSERT INTO batch (t) VALUES (%s)", rows)  # pipelined by psycopg
            with q.conn.pipeline():
                for (t,) in rows[:20]:
                    q.conn.execute("INSERT INTO batch (t) VALUES (%s)", (t + "!",))
            return 0

        for _ in range(3):
            store.in_tx(write)
        with store.connection() as conn:  # pipelines outside a transaction too
            conn.cursor().executemany("INSERT INTO batch (t) VALUES (%s)", rows)
            count = conn.execute("SELECT count(*) FROM batch").fetchone()
    assert count == (3 * 220 + 200,)
