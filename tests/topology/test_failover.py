"""Failover: the primary stops, the standby is promoted, a multi-host Store carries on.

Its own two-node cluster with synchronous replication (an acknowledged commit is on the
standby, as a deployment that promises "nothing lost" must configure it). Writers keep calling
``in_tx`` through the failover; every call is counted: each acknowledged write is on the new
primary exactly once, each refused one is not there at all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from chatdb.errors import CommitOutcomeUnknown, ConnectionFailure
from chatdb.store import Store, Timeouts
from chatdb.testing.cluster import Node, start_primary, wait_replayed

pytestmark = pytest.mark.timeout(180)


class Log:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def write(self, call: int) -> None:
        self.conn.execute("INSERT INTO log (call) VALUES (%s)", (call,))
        self.conn.execute("UPDATE counter SET n = n + 1")


@pytest.fixture
def cluster() -> Iterator[tuple[Node, Node]]:
    primary = start_primary(synchronous_commit="on")
    standby: Node | None = None
    try:
        with psycopg.connect(primary.dsn(), autocommit=True) as conn:
            conn.execute("CREATE TABLE log (call int NOT NULL)")  # no key: a double would show
            conn.execute("CREATE TABLE counter (n int NOT NULL)")
            conn.execute("INSERT INTO counter VALUES (0)")
        standby = primary.add_standby()
        with psycopg.connect(primary.dsn(), autocommit=True) as conn:
            # From now on a commit is acknowledged once the standby has it. (Set after the
            # copy, so the promoted standby does not wait for a standby of its own.)
            conn.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
            conn.execute("SELECT pg_reload_conf()")
        wait_replayed(primary, standby)
        yield primary, standby
    finally:
        primary.destroy()
        if standby is not None:
            standby.destroy()


def test_writes_survive_a_promotion_nothing_lost_or_doubled(cluster: tuple[Node, Node]) -> None:
    primary, standby = cluster
    both = (
        f"host=127.0.0.1,127.0.0.1 port={primary.port},{standby.port} user=postgres "
        "dbname=postgres target_session_attrs=read-write"
    )
    acknowledged: set[int] = set()
    refused: set[int] = set()
    unknown: set[int] = set()
    lock = threading.Lock()
    stop = threading.Event()
    calls = iter(range(1_000_000))
    failover_done = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            with lock:
                call = next(calls)
            try:
                store.in_tx(lambda q, call=call: q.write(call))
                outcome = acknowledged
            except CommitOutcomeUnknown:
                outcome = unknown
            except ConnectionFailure:
                outcome = refused
            with lock:
                outcome.add(call)
            if failover_done.is_set() and len(acknowledged) > 400:
                stop.set()

    with Store(
        both,
        querier_factory=Log,
        min_size=4,
        max_size=4,
        timeouts=Timeouts(connect=2),
        timeout=30,
    ) as store:
        threads = [threading.Thread(target=writer) for _ in range(4)]
        for t in threads:
            t.start()
        while len(acknowledged) < 100:
            time.sleep(0.01)
        stopped_at = time.monotonic()
        before = len(acknowledged)
        primary.stop("fast")
        standby.promote()
        failover_done.set()
        while len(acknowledged) <= before + 4 and time.monotonic() - stopped_at < 60:
            time.sleep(0.005)
        recovered_after = time.monotonic() - stopped_at
        for t in threads:
            t.join(timeout=90)
        assert not any(t.is_alive() for t in threads)
    with psycopg.connect(standby.dsn(), autocommit=True) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
        rows = conn.execute("SELECT call, count(*) FROM log GROUP BY call").fetchall()
        counter = conn.execute("SELECT n FROM counter").fetchone()
    written = {call: n for call, n in rows}
    assert all(n == 1 for n in written.values()), "a call was written twice"
    assert acknowledged <= written.keys(), "an acknowledged write was lost"
    assert not (refused & written.keys()), "a refused call was written"
    assert written.keys() <= acknowledged | unknown
    assert counter == (len(written),)
    assert len(acknowledged) > 400
    print(
        f"\nfailover: {len(acknowledged)} acknowledged, {len(refused)} refused, "
        f"{len(unknown)} outcome unknown; writes resumed {recovered_after:.2f}s after the stop"
    )
