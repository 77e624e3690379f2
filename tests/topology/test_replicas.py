"""Read replicas against a real streaming standby (``pg_basebackup -R``).

Where a read went is observed from the data, not from the router: the standby's replay is
paused, so a row written on the primary since then is visible only on the primary.
"""

from __future__ import annotations

import importlib
import re
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from chatdb.authz import CHAT_ACCESS, Subject
from chatdb.db import Chat, Querier
from chatdb.db.registry import QUERIES
from chatdb.errors import NotFound
from chatdb.ops import Chats
from chatdb.store import ReplicaSettings, Store
from chatdb.testing.cluster import Node, start_primary, wait_replayed
from chatdb.testing.factories import Factories
from codegen.names import snake

from .conftest import Database

pytestmark = pytest.mark.timeout(180)


def paused(standby: Node) -> Any:
    """Pause WAL replay on the standby for the block (resumed whatever happens)."""

    class Paused:
        def __enter__(self) -> None:
            with psycopg.connect(standby.dsn(), autocommit=True) as conn:
                conn.execute("SELECT pg_wal_replay_pause()")
                while conn.execute("SELECT pg_get_wal_replay_pause_state()").fetchone() != (
                    "paused",
                ):
                    time.sleep(0.01)

        def __exit__(self, *exc: object) -> None:
            with psycopg.connect(standby.dsn(), autocommit=True) as conn:
                conn.execute("SELECT pg_wal_replay_resume()")

    return Paused()


@pytest.fixture
def setup(database: Database, standby: Node) -> Iterator[tuple[Any, Subject, Chat]]:
    with psycopg.connect(database.dsn, autocommit=True) as conn:
        f = Factories(conn)
        org = f.organization()
        f.chat_model_config(is_default=True)
        user = f.user(organization_id=org.id, username="alice", rbac_roles=[CHAT_ACCESS])
        chat = f.chat(owner_id=user.id, organization_id=org.id, title="seen everywhere")
    wait_replayed(database.primary, standby)
    alice = Subject(id=user.id, name="alice", site_roles=(CHAT_ACCESS,), memberships={org.id})
    yield org, alice, chat


def new_chat_on_primary(database: Database, chat: Chat) -> uuid.UUID:
    """A chat written straight to the primary, behind the store's back (no read-your-writes)."""
    with psycopg.connect(database.dsn, autocommit=True) as conn:
        return Factories(conn).chat(owner_id=chat.owner_id, organization_id=chat.organization_id).id


def store_for(database: Database, replicas: list[str], **settings: Any) -> Store[Querier]:
    return Store(
        database.dsn,
        querier_factory=Querier,
        replicas=replicas,
        replica_settings=ReplicaSettings(**{"max_lag": 60.0, **settings}),
    )


def test_read_only_queries_outside_a_transaction_are_served_by_the_replica(
    database: Database, standby: Node, setup: tuple[Any, Subject, Chat]
) -> None:
    _, _, chat = setup
    with store_for(database, [standby.dsn(database.name)]) as store, paused(standby):
        fresh = new_chat_on_primary(database, chat)
        with store.querier() as q:
            assert q.get_chat_by_id(id=chat.id).title == "seen everywhere"
            with pytest.raises(NotFound):  # the paused replica has not seen it
                q.get_chat_by_id(id=fresh)
            # A locking read is never routed: it sees the primary's row.
            assert q.get_chat_by_id_for_update(id=fresh).id == fresh
        # Inside a transaction everything is on the primary.
        assert store.in_tx(lambda q: q.get_chat_by_id(id=fresh)).id == fresh
        stats = store.routing_stats()
        assert (stats.replica, stats.primary) == (2, 0)


def test_read_your_writes_waits_for_the_replica_or_reads_the_primary(
    database: Database, standby: Node, setup: tuple[Any, Subject, Chat]
) -> None:
    org, alice, _ = setup
    with store_for(database, [standby.dsn(database.name)], catch_up_wait=0.1) as store:
        chats = Chats(store)
        # Replaying: the write is waited for on the replica and read there.
        created = chats.create_chat(organization_id=org.id, title="mine", actor=alice)
        with store.querier() as q:
            assert q.get_chat_by_id(id=created.chat.id).title == "mine"
        assert store.routing_stats().replica == 1
        with paused(standby):
            created = chats.create_chat(organization_id=org.id, title="mine too", actor=alice)
            with store.querier() as q:  # this context wrote it: it reads it, from the primary
                assert q.get_chat_by_id(id=created.chat.id).title == "mine too"
            assert store.routing_stats().primary == 1
            # Another thread has written nothing: it reads the (paused) replica.
            seen: list[object] = []

            def other() -> None:
                with store.querier() as q:
                    try:
                        seen.append(q.get_chat_by_id(id=created.chat.id))
                    except NotFound as exc:
                        seen.append(exc)

            thread = threading.Thread(target=other)
            thread.start()
            thread.join(timeout=30)
            assert len(seen) == 1 and isinstance(seen[0], NotFound)


def test_a_lagging_replica_falls_back_to_the_primary(
    database: Database, standby: Node, setup: tuple[Any, Subject, Chat]
) -> None:
    _, _, chat = setup
    with (
        store_for(
            database, [standby.dsn(database.name)], max_lag=0.2, lag_check_interval=0.0
        ) as store,
        paused(standby),
    ):
        fresh = new_chat_on_primary(database, chat)
        time.sleep(0.5)  # the replica is now more than max_lag behind a pending change
        with store.querier() as q:
            assert q.get_chat_by_id(id=fresh).id == fresh
        assert store.routing_stats().primary == 1


def test_a_dead_replica_falls_back_to_the_primary(
    database: Database, setup: tuple[Any, Subject, Chat]
) -> None:
    _, _, chat = setup
    dead = Node(Path("/nonexistent"), _unused_port())
    with store_for(database, [dead.dsn(database.name)], timeout=0.5) as store:
        for _ in range(5):
            with store.querier() as q:
                assert q.get_chat_by_id(id=chat.id).id == chat.id
        assert store.routing_stats().primary == 5


def test_a_replica_that_dies_mid_run_falls_back_and_nothing_fails(
    setup: tuple[Any, Subject, Chat],
) -> None:
    # Its own primary and standby: this one is stopped.
    primary = start_primary()
    try:
        with psycopg.connect(primary.dsn(), autocommit=True) as conn:
            conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
            conn.execute("INSERT INTO t VALUES (1)")
        standby = primary.add_standby()
        wait_replayed(primary, standby)

        class T:
            def __init__(self, conn: psycopg.Connection[Any]) -> None:
                self.conn = conn

            def get(self) -> int:
                return int(self.conn.execute("SELECT id FROM t").fetchone()[0])  # type: ignore[index]

        with Store(
            primary.dsn(),
            querier_factory=T,
            replicas=[standby.dsn()],
            read_only_methods={"get"},
            replica_settings=ReplicaSettings(timeout=0.5),
        ) as store:
            with store.querier() as q:
                assert q.get() == 1
            standby.stop("immediate")
            for _ in range(5):
                with store.querier() as q:
                    assert q.get() == 1
            stats = store.routing_stats()
            assert (stats.replica, stats.primary) == (1, 5)
    finally:
        primary.destroy()


def test_every_statement_marked_read_only_runs_on_a_hot_standby(
    database: Database, standby: Node
) -> None:
    # The standby refuses anything that writes or locks rows ("cannot execute ... in a
    # read-only transaction"), so each generated read-only statement is run there as is.
    read_only = [q for q in QUERIES.values() if q.read_only]
    assert len(read_only) > 40
    wait_replayed(database.primary, standby)
    with psycopg.connect(standby.dsn(database.name), autocommit=True) as conn:
        for info in read_only:
            module = importlib.import_module(f"chatdb.db.{Path(info.source).stem}")
            text = getattr(module, snake(info.name).upper())
            n = max((int(m) for m in re.findall(r"\$(\d+)", text)), default=0)
            psycopg.RawCursor(conn).execute(text, [None] * n).fetchall()
    # And the generator does not call writes or locking reads read-only.
    for name in ("GetChatByIDForUpdate", "AcquireChats", "InsertChat", "UpdateChatHeartbeats"):
        assert not QUERIES[name].read_only
    assert QUERIES["GetChatByID"].read_only


def _unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
