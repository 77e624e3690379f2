"""What the production topology costs and gives, measured on this machine.

* Chats acquired per second by 1, 2, 4 and 8 worker processes (each its own OS process,
  acquire one + finish it, as :mod:`chatdb.testing.workers` ``bench`` mode), vs one process.
* A call through a transaction-mode PgBouncer vs direct (when the ``pgbouncer`` package is
  installed); checking connections on checkout vs not.
* Replica routing share: a mixed workload (each thread writes one chat, then reads) against a
  real primary + streaming standby; the share of routed reads a replica served.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bench.harness import FULL, Result, Settings, compare
from chatdb.authz import CHAT_ACCESS, Subject
from chatdb.db import Querier
from chatdb.errors import NotFound
from chatdb.migrate import Migrator
from chatdb.ops import Chats
from chatdb.store import Store, Timeouts
from chatdb.testing.cluster import start_primary
from chatdb.testing.factories import Factories
from chatdb.testing.pooler import PgBouncer, find_pgbouncer

GROUP = "topology"


def _seed_pending(dsn: str, n: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        f = Factories(conn)
        org = f.organization()
        owner = f.user(organization_id=org.id)
        model = f.chat_model_config()
        conn.execute(
            # Distinct updated_at, as real chats have: acquisition takes the oldest first.
            "INSERT INTO chats (owner_id, organization_id, last_model_config_id, title, status,"
            " created_at, updated_at)"
            " SELECT %s, %s, %s, 'bench', 'pending', t, t"
            " FROM generate_series(1, %s) AS n, LATERAL (SELECT now() - n * interval '1 ms') AS _(t)",
            (owner.id, org.id, model.id, n),
        )


def _acquisitions_per_second(dsn: str, processes: int, seconds: float) -> float:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE chats SET status = 'pending', worker_id = NULL, started_at = NULL,"
            " heartbeat_at = NULL, updated_at = created_at WHERE status <> 'pending'"
        )
        conn.execute("VACUUM ANALYZE chats")
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "chatdb.testing.workers",
                dsn,
                str(uuid.uuid4()),
                "bench",
                "--seconds",
                str(seconds),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    for p in procs:  # every process connected, then all start at once
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    total = 0
    for p in procs:
        out, _ = p.communicate(timeout=seconds + 120)
        total += int(out.strip().splitlines()[-1])
    return total / seconds


def _workers(dsn: str, settings: Settings) -> list[Result]:
    seconds = 0.5 if settings.rounds < FULL.rounds else 3.0
    _seed_pending(dsn, 50_000 if settings.rounds >= FULL.rounds else 2_000)
    base = _acquisitions_per_second(dsn, 1, seconds)
    results = []
    for n in (1, 2, 4, 8):
        rate = base if n == 1 else _acquisitions_per_second(dsn, n, seconds)
        results.append(
            Result(
                GROUP,
                f"acquire+finish a chat, {n} worker process{'es' if n > 1 else ''}",
                "1 process",
                f"{n} processes",
                1e6 / base,
                1e6 / rate,
                base / rate,
                base / rate,
                base / rate,
                1,
                int(rate * seconds),
                note=f"{rate:,.0f} acquisitions/s in total ({rate / n:,.0f} per process)",
            )
        )
    return results


def _chat_id(dsn: str) -> uuid.UUID:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT id FROM chats LIMIT 1").fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


def _tcp(dsn: str) -> str:
    params = conninfo_to_dict(dsn)
    params["host"] = "127.0.0.1"
    return make_conninfo("", **params)


def _pooler_and_checks(dsn: str, settings: Settings) -> list[Result]:
    chat = _chat_id(dsn)
    direct = _tcp(dsn)
    results = []
    with (
        Store(direct, querier_factory=Querier, max_size=1, check_connections=False) as plain,
        Store(direct, querier_factory=Querier, max_size=1) as checked,
    ):

        def read(store: Store[Querier]) -> Any:
            def op() -> None:
                with store.querier() as q:
                    q.get_chat_by_id(id=chat)

            return op

        results.append(
            compare(
                GROUP,
                "get_chat_by_id, connection checked at checkout",
                ("check_connections=False", read(plain)),
                ("check_connections=True", read(checked)),
                settings,
                note="the check polls the socket; a round trip only for a connection that looks dead",
            )
        )
    if find_pgbouncer() is None:
        print("[topology] pgbouncer not installed: pooled-vs-direct skipped", flush=True)
        return results
    params = conninfo_to_dict(direct)
    bouncer = PgBouncer("127.0.0.1", int(str(params["port"])))
    try:
        pooled = bouncer.dsn(str(params["dbname"]))
        untimed = Timeouts(server=False)
        with (
            Store(direct, querier_factory=Querier, max_size=1, prepare_threshold=None) as d,
            Store(
                pooled,
                querier_factory=Querier,
                max_size=1,
                prepare_threshold=None,
                timeouts=untimed,
            ) as p,
        ):

            def read_on(store: Store[Querier]) -> Any:
                def op() -> None:
                    with store.querier() as q:
                        q.get_chat_by_id(id=chat)

                return op

            results.append(
                compare(
                    GROUP,
                    "get_chat_by_id via PgBouncer (transaction mode) vs direct",
                    ("direct, unprepared", read_on(d)),
                    ("PgBouncer, unprepared", read_on(p)),
                    settings,
                    note="both TCP loopback, no prepared statements (what PgBouncer 1.18 needs)",
                )
            )

            def write_on(store: Store[Querier]) -> Any:
                def op() -> None:
                    store.in_tx(lambda q: q.update_chat_title_by_id(id=chat, title="bench"))

                return op

            results.append(
                compare(
                    GROUP,
                    "in_tx (one UPDATE) via PgBouncer vs direct",
                    ("direct, unprepared", write_on(d)),
                    ("PgBouncer, unprepared", write_on(p)),
                    settings,
                )
            )
    finally:
        bouncer.stop()
    return results


def _mixed_workload(store: Store[Querier], ids: list[uuid.UUID], iterations: int) -> float:
    """8 threads; each call reads a chat, every fifth first writes its own. Seconds taken."""

    def client(i: int) -> None:
        mine = ids[i]

        def rename(q: Querier) -> None:
            q.update_chat_title_by_id(id=mine, title="renamed")

        for n in range(iterations):
            if n % 5 == 0:  # one write in five calls, then a read (read-your-writes applies)
                store.in_tx(rename)
            with store.querier() as q, contextlib.suppress(NotFound):
                q.get_chat_by_id(id=ids[(i + n) % len(ids)])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def _routing_share(settings: Settings) -> Result:
    primary = start_primary()
    standby = None
    try:
        with psycopg.connect(primary.dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        Migrator(primary.dsn("bench")).up()
        with psycopg.connect(primary.dsn("bench"), autocommit=True) as conn:
            f = Factories(conn)
            org = f.organization()
            owner = f.user(organization_id=org.id)
            ids = [f.chat(owner_id=owner.id, organization_id=org.id).id for _ in range(64)]
        standby = primary.add_standby()
        iterations = 20 if settings.rounds < FULL.rounds else 300
        calls = 8 * iterations
        with Store(primary.dsn("bench"), querier_factory=Querier) as alone:
            primary_only = _mixed_workload(alone, ids, iterations)
        with Store(
            primary.dsn("bench"), querier_factory=Querier, replicas=[standby.dsn("bench")]
        ) as store:
            routed = _mixed_workload(store, ids, iterations)
            stats = store.routing_stats()
        share = stats.replica / max(1, stats.replica + stats.primary)
        return Result(
            GROUP,
            "mixed workload with a replica vs primary only (8 threads, 1 write in 5 calls)",
            "primary only",
            "with replica",
            primary_only / calls * 1e6,
            routed / calls * 1e6,
            routed / primary_only,
            routed / primary_only,
            routed / primary_only,
            1,
            calls,
            note=f"{share:.0%} of the routed reads served by the replica "
            f"({stats.replica} replica, {stats.primary} primary; read-your-writes on)",
        )
    finally:
        primary.destroy()
        if standby is not None:
            standby.destroy()


def _messages_per_second(dsn: str, threads: int, seconds: float) -> float:
    """``send_message`` workflows completed per second by ``threads`` threads (own chats)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        f = Factories(conn)
        org = f.organization()
        user = f.user(organization_id=org.id, rbac_roles=[CHAT_ACCESS])
        chat_ids = [f.chat(owner_id=user.id, organization_id=org.id).id for _ in range(threads)]
    me = Subject(id=user.id, name="bench", site_roles=[CHAT_ACCESS], memberships={org.id})
    counts = [0] * threads
    with Store(dsn, querier_factory=Querier, max_size=threads) as store:
        chats = Chats(store)
        store.open(wait=True)
        end = time.monotonic() + seconds

        def sender(i: int) -> None:
            while time.monotonic() < end:
                chats.send_message(chat_ids[i], "hello", actor=me)
                counts[i] += 1

        workers = [threading.Thread(target=sender, args=(i,)) for i in range(threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
    return sum(counts) / seconds


def _messages(dsn: str, settings: Settings) -> list[Result]:
    seconds = 0.5 if settings.rounds < FULL.rounds else 3.0
    one = _messages_per_second(dsn, 1, seconds)
    many = _messages_per_second(dsn, 8, seconds)
    return [
        Result(
            GROUP,
            "send_message workflows, 8 threads vs 1 (one process)",
            "1 thread",
            "8 threads",
            1e6 / one,
            1e6 / many,
            one / many,
            one / many,
            one / many,
            1,
            int(many * seconds),
            note=f"{one:,.0f} messages/s with 1 thread, {many:,.0f} with 8",
        )
    ]


def run(dsn: str, settings: Settings = FULL) -> list[Result]:
    results = _workers(dsn, settings)
    results += _messages(dsn, settings)
    results += _pooler_and_checks(dsn, settings)
    results.append(_routing_share(settings))
    return results
