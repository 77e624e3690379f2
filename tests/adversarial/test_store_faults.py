"""Store faults on a real server: restarts, killed backends, a loss during COMMIT, bad setups.

Each test runs against its own small PostgreSQL (a :class:`chatdb.testing.cluster.Node`), so
restarting it or killing its backends disturbs nobody else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from chatdb.errors import (
    CommitOutcomeUnknown,
    ConnectionFailure,
    DatabaseError,
    InvalidInput,
    ServerUnreachable,
)
from chatdb.poolcheck import looks_dead
from chatdb.store import AsyncStore, Store
from chatdb.testing.cluster import Node, start_primary
from chatdb.testing.statements import count_statements

pytestmark = pytest.mark.timeout(120)

SCHEMA = """
CREATE TABLE runs (id int PRIMARY KEY);
CREATE TABLE doomed (id int);
CREATE FUNCTION kill_me() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NULL; END $$;
-- Fires at COMMIT: the backend dies while the client waits for COMMIT's answer.
CREATE CONSTRAINT TRIGGER doomed_at_commit AFTER INSERT ON doomed
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION kill_me();
"""


class Runs:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def add(self, id: int) -> None:
        self.conn.execute("INSERT INTO runs VALUES (%s)", (id,))

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM runs").fetchone()[0])  # type: ignore[index]

    def pid(self) -> int:
        return int(self.conn.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]


class AsyncRuns:
    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn

    async def add(self, id: int) -> None:
        await self.conn.execute("INSERT INTO runs VALUES (%s)", (id,))

    async def count(self) -> int:
        cur = await self.conn.execute("SELECT count(*) FROM runs")
        return int((await cur.fetchone())[0])  # type: ignore[index]

    async def pid(self) -> int:
        cur = await self.conn.execute("SELECT pg_backend_pid()")
        return int((await cur.fetchone())[0])  # type: ignore[index]


@pytest.fixture(scope="module")
def node() -> Iterator[Node]:
    server = start_primary()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def dsn(node: Node) -> Iterator[str]:
    with psycopg.connect(node.dsn(), autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS faults WITH (FORCE)")
        admin.execute("CREATE DATABASE faults")
    with psycopg.connect(node.dsn("faults"), autocommit=True) as conn:
        conn.execute(SCHEMA)
    return node.dsn("faults")


def terminate(dsn: str, pid: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))


def count_runs(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return int(conn.execute("SELECT count(*) FROM runs").fetchone()[0])  # type: ignore[index]


def calls_after_restart(node: Node, dsn: str, check: bool, base: int) -> list[BaseException | None]:
    """Warm four pooled connections, restart the server, then make eight calls."""
    outcomes: list[BaseException | None] = []
    with Store(
        dsn, querier_factory=Runs, min_size=4, max_size=4, check_connections=check, open=False
    ) as store:
        store.open(wait=True)
        node.restart()
        for i in range(8):
            try:
                if i % 2:
                    store.in_tx(lambda q, i=i: q.add(base + i))
                else:
                    with store.querier() as q:
                        q.count()
                outcomes.append(None)
            except ConnectionFailure as exc:
                outcomes.append(exc)
    return outcomes


def test_after_a_server_restart_no_call_fails(node: Node, dsn: str) -> None:
    # Without checking connections on checkout the dead idle connections fail calls: the
    # fault this guards against is real on this server.
    unchecked = calls_after_restart(node, dsn, check=False, base=0)
    assert any(outcome is not None for outcome in unchecked)
    checked = calls_after_restart(node, dsn, check=True, base=100)
    assert checked == [None] * 8
    assert count_runs(dsn) == 4 + sum(1 for i, o in enumerate(unchecked) if i % 2 and o is None)


async def test_after_a_server_restart_no_async_call_fails(node: Node, dsn: str) -> None:
    async with AsyncStore(dsn, querier_factory=AsyncRuns, min_size=4, max_size=4) as store:
        await store.open(wait=True)
        await asyncio.to_thread(node.restart)
        for i in range(8):
            await store.in_tx(lambda q, i=i: q.add(i))
            async with store.querier() as q:
                await q.count()
    assert count_runs(dsn) == 8


def pid_after_killing_the_idle_one(store: Store[Runs], dsn: str) -> int:
    """Kill the backend of the pool's one idle connection, then ask the pool for a pid."""
    with store.querier() as q:
        pid = q.pid()
    terminate(dsn, pid)  # waits for the backend to exit
    with store.querier() as q:
        new_pid = q.pid()
    assert new_pid != pid
    return new_pid


def test_an_idle_connection_whose_backend_was_killed_is_replaced_at_checkout(dsn: str) -> None:
    bare = Store(dsn, querier_factory=Runs, min_size=1, max_size=1, check_connections=False)
    with bare, pytest.raises(ConnectionFailure):  # the fault is real without the check
        pid_after_killing_the_idle_one(bare, dsn)
    with Store(dsn, querier_factory=Runs, min_size=1, max_size=1) as store:
        for _ in range(3):
            pid_after_killing_the_idle_one(store, dsn)


async def test_an_idle_async_connection_whose_backend_was_killed_is_replaced(dsn: str) -> None:
    async with AsyncStore(dsn, querier_factory=AsyncRuns, min_size=1, max_size=1) as store:
        for _ in range(3):
            async with store.querier() as q:
                pid = await q.pid()
            await asyncio.to_thread(terminate, dsn, pid)
            async with store.querier() as q:
                assert await q.pid() != pid


def test_a_killed_idle_connection_looks_dead_and_a_healthy_one_does_not(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert not looks_dead(conn)
        terminate(dsn, conn.info.backend_pid)
        assert looks_dead(conn)
    assert looks_dead(conn)  # closed


def checkout_round_trips(store: Store[Runs]) -> int:
    """Round trips the pool's check sends when the one idle connection is checked out."""
    with store.connection() as conn:
        pass
    with count_statements(conn) as count, store.querier():
        pass
    return count.round_trips


def test_checking_a_healthy_connection_costs_no_round_trip(dsn: str) -> None:
    with Store(dsn, querier_factory=Runs, max_size=1) as store:
        assert checkout_round_trips(store) == 0
    # The trace sees a check that does send something: psycopg-pool's own.
    with Store(
        dsn, querier_factory=Runs, max_size=1, check=ConnectionPool.check_connection
    ) as store:
        assert checkout_round_trips(store) == 1


# Pipelined, an unread INSERT is sent but not waited for: the kill may come before it is sent
# or after it ran; either way COMMIT was never sent, and the Store sees it before sending it.
KILLED = pytest.mark.parametrize(
    "pipeline, kill_last",
    [(False, False), (True, False), (True, True)],
    ids=["plain", "pipelined", "pipelined-after-unread-insert"],
)


@KILLED
def test_a_transaction_whose_backend_is_killed_before_commit_runs_once_more(
    dsn: str, pipeline: bool, kill_last: bool
) -> None:
    runs: list[int] = []

    def body(q: Runs) -> None:
        runs.append(q.pid())
        if len(runs) == 1 and not kill_last:
            terminate(dsn, runs[0])  # the connection dies mid-transaction
        q.add(len(runs))
        if len(runs) == 1 and kill_last:
            terminate(dsn, runs[0])

    with Store(dsn, querier_factory=Runs, min_size=1, max_size=2) as store:
        store.in_tx(body, pipeline=pipeline)
        assert len(runs) == 2 and runs[0] != runs[1]
        # Once only: a second loss is reported, not retried again.
        runs.clear()

        def always_killed(q: Runs) -> None:
            runs.append(q.pid())
            if not kill_last:
                terminate(dsn, runs[-1])
            q.add(100 + len(runs))
            if kill_last:
                terminate(dsn, runs[-1])

        with pytest.raises(ConnectionFailure) as info:
            store.in_tx(always_killed, pipeline=pipeline)
        assert not isinstance(info.value, CommitOutcomeUnknown)
        assert len(runs) == 2
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert [r[0] for r in conn.execute("SELECT id FROM runs ORDER BY id")] == [2]


@KILLED
async def test_an_async_transaction_whose_backend_is_killed_runs_once_more(
    dsn: str, pipeline: bool, kill_last: bool
) -> None:
    runs: list[int] = []

    async def body(q: AsyncRuns) -> None:
        runs.append(await q.pid())
        if len(runs) == 1 and not kill_last:
            await asyncio.to_thread(terminate, dsn, runs[0])
        await q.add(len(runs))
        if len(runs) == 1 and kill_last:
            await asyncio.to_thread(terminate, dsn, runs[0])

    async with AsyncStore(dsn, querier_factory=AsyncRuns, min_size=1, max_size=2) as store:
        await store.in_tx(body, pipeline=pipeline)
    assert len(runs) == 2
    assert count_runs(dsn) == 1


@pytest.mark.parametrize("pipeline", [False, True], ids=["plain", "pipelined"])
def test_a_connection_lost_during_commit_is_never_retried(dsn: str, pipeline: bool) -> None:
    calls: list[int] = []

    def body(q: Runs) -> None:
        calls.append(1)
        q.add(len(calls))
        q.conn.execute("INSERT INTO doomed VALUES (1)")  # its trigger kills us at COMMIT

    with Store(dsn, querier_factory=Runs, min_size=1, max_size=2) as store:
        with pytest.raises(CommitOutcomeUnknown):
            store.in_tx(body, pipeline=pipeline)
        assert calls == [1]
        with store.querier() as q:  # the store itself is fine afterwards
            assert q.count() == 0


@pytest.mark.parametrize("pipeline", [False, True], ids=["plain", "pipelined"])
async def test_an_async_connection_lost_during_commit_is_never_retried(
    dsn: str, pipeline: bool
) -> None:
    calls: list[int] = []

    async def body(q: AsyncRuns) -> None:
        calls.append(1)
        await q.add(len(calls))
        await q.conn.execute("INSERT INTO doomed VALUES (1)")

    async with AsyncStore(dsn, querier_factory=AsyncRuns, min_size=1, max_size=2) as store:
        with pytest.raises(CommitOutcomeUnknown):
            await store.in_tx(body, pipeline=pipeline)
    assert calls == [1]
    assert count_runs(dsn) == 0


@pytest.mark.parametrize("sqlstate", ["57P01", "57P02", "57P03", "08000", "08006", "08P01"])
def test_connection_sqlstates_are_connection_failures(dsn: str, sqlstate: str) -> None:
    with Store(dsn, querier_factory=Runs, min_size=1, max_size=1) as store:
        with pytest.raises(ConnectionFailure) as info, store.connection() as conn:
            conn.execute(
                f"DO $$ BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = '{sqlstate}'; END $$"
            )
        assert info.value.sqlstate == sqlstate


def test_a_killed_backend_is_a_connection_failure(dsn: str) -> None:
    with Store(dsn, querier_factory=Runs, min_size=1, max_size=1, check_connections=False) as s:
        with s.querier() as q:
            pid = q.pid()
        terminate(dsn, pid)
        with pytest.raises(ConnectionFailure), s.querier() as q:
            q.count()


def unreachable_message(dsn: str) -> str:
    store = Store(dsn, querier_factory=Runs, timeout=1, open=False)
    with pytest.raises(ServerUnreachable) as info, store:
        store.in_tx(lambda q: q.count())
    return str(info.value)


def test_connection_setup_failures_name_their_cause_without_the_password(node: Node) -> None:
    secret = "hunter2-s3cret"
    message = unreachable_message(node.dsn(user="nobody_here", password=secret))
    assert 'role "nobody_here" does not exist' in message and secret not in message
    message = unreachable_message(node.dsn(dbname="no_such_db", password=secret))
    assert 'database "no_such_db" does not exist' in message and secret not in message
    # A port nobody listens on (the node's own port + 1 is free: ports come from the kernel
    # one at a time, but this one is checked).
    with psycopg.connect(node.dsn(), autocommit=True):
        pass
    closed = Node(node.workdir, node.port)
    closed.port = _unused_port()
    message = unreachable_message(closed.dsn(password=secret))
    assert "refused" in message and secret not in message


def test_a_malformed_connection_string_is_refused_without_echoing_it() -> None:
    secret = "hunter2-s3cret"
    with pytest.raises(InvalidInput) as info:
        Store(f"host=localhost password {secret}", querier_factory=Runs, open=False)
    assert "invalid connection string" in str(info.value) and secret not in str(info.value)
    assert not isinstance(info.value, DatabaseError)


def _unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
