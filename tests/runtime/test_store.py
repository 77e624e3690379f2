"""The Store: pooled autocommit queriers, retried transactions, savepoints, classified errors."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import psycopg
import pytest
from psycopg import IsolationLevel, pq

from chatdb.errors import (
    ChatDBError,
    CheckViolation,
    CommitOutcomeUnknown,
    ConnectionFailure,
    InvalidInput,
    RetryableError,
    SerializationFailure,
    UniqueViolation,
)
from chatdb.store import AsyncStore, Store, _commit_error
from chatdb.testing.statements import StatementCount, count_statements
from codegen.pgserver import PgServer, throwaway_server

SCHEMA = """
CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL DEFAULT 0 CONSTRAINT items_v_check CHECK (v >= 0));
CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);
INSERT INTO accounts VALUES (1, 100), (2, 100);
"""
T = TypeVar("T")
DEBIT = "UPDATE accounts SET balance = balance - 1 WHERE id = %s RETURNING balance"
FAIL_SERIALIZATION = (
    "DO $$ BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = 'serialization_failure'; END $$"
)


class Items:
    """A tiny hand-written querier standing in for the generated one."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def add(self, id: int, v: int = 0) -> None:
        self.conn.execute("INSERT INTO items (id, v) VALUES (%s, %s)", (id, v))

    def ids(self) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT id FROM items ORDER BY id")]

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM items").fetchone()[0])  # type: ignore[index]

    def isolation(self) -> str:
        return str(self.conn.execute("SHOW transaction_isolation").fetchone()[0])  # type: ignore[index]

    def pid(self) -> int:
        return self.conn.info.backend_pid


class AsyncItems:
    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn

    async def add(self, id: int, v: int = 0) -> None:
        await self.conn.execute("INSERT INTO items (id, v) VALUES (%s, %s)", (id, v))

    async def ids(self) -> list[int]:
        cur = await self.conn.execute("SELECT id FROM items ORDER BY id")
        return [r[0] for r in await cur.fetchall()]

    async def count(self) -> int:
        cur = await self.conn.execute("SELECT count(*) FROM items")
        return int((await cur.fetchone())[0])  # type: ignore[index]

    async def isolation(self) -> str:
        cur = await self.conn.execute("SHOW transaction_isolation")
        return str((await cur.fetchone())[0])  # type: ignore[index]


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with throwaway_server() as srv:
        wait_until_accepting(srv)
        name = srv.create_database()
        with psycopg.connect(srv.dsn(name), autocommit=True) as conn:
            conn.execute(SCHEMA)
            # Deadlocks are detected after deadlock_timeout (1 s by default): keep tests quick.
            conn.execute(f"ALTER DATABASE {name} SET deadlock_timeout = '50ms'")
        yield srv.dsn(name)


@pytest.fixture
def dsn(database: str) -> str:
    """The module's database, reset (CREATE DATABASE per test would cost ~0.3 s each)."""
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("TRUNCATE items; UPDATE accounts SET balance = 100")
    return database


def wait_until_accepting(srv: PgServer) -> None:
    """The harness returns once the port listens, possibly before logins are accepted."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            psycopg.connect(srv.dsn(), connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            time.sleep(0.05)
    psycopg.connect(srv.dsn(), connect_timeout=2).close()  # the last try raises its error


class PipelinedStore(Store[Items]):
    """A Store whose transactions run pipelined unless told otherwise (as the workflows')."""

    def in_tx(self, fn: Callable[[Items], T], **kwargs: Any) -> T:
        kwargs.setdefault("pipeline", True)
        return super().in_tx(fn, **kwargs)


class AsyncPipelinedStore(AsyncStore[AsyncItems]):
    async def in_tx(self, fn: Callable[[AsyncItems], Awaitable[T]], **kwargs: Any) -> T:
        kwargs.setdefault("pipeline", True)
        return await super().in_tx(fn, **kwargs)


# Every test of a Store runs both ways: plain, and with pipelined transactions (which queue
# BEGIN and COMMIT themselves instead of using psycopg's transaction(): Store._pipelined), so
# each guarantee is proved for both.
@pytest.fixture(params=[False, True], ids=["plain", "pipelined"])
def pipelined(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def store(dsn: str, pipelined: bool) -> Iterator[Store[Items]]:
    kind = PipelinedStore if pipelined else Store
    with kind(dsn, querier_factory=Items, max_size=4, timeout=5) as s:
        yield s


@pytest.fixture
async def astore(dsn: str, pipelined: bool) -> AsyncIterator[AsyncStore[AsyncItems]]:
    kind = AsyncPipelinedStore if pipelined else AsyncStore
    s = kind(dsn, querier_factory=AsyncItems, max_size=4, timeout=5)
    yield s
    await s.close()


def committed_ids(dsn: str) -> list[int]:
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM items ORDER BY id")]


def run_threads(*targets: Callable[[], None]) -> list[BaseException]:
    errors: list[BaseException] = []

    def wrap(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    return errors


# --- single statements -------------------------------------------------------------------------


def test_single_statements_run_on_an_autocommit_connection(store: Store[Items], dsn: str) -> None:
    with store.querier() as q:
        assert q.conn.autocommit
        q.add(1)
        assert committed_ids(dsn) == [1]  # visible to others before the block ends


def test_errors_from_single_statements_are_classified_with_the_constraint(
    store: Store[Items],
) -> None:
    with store.querier() as q:
        q.add(1)
    with pytest.raises(UniqueViolation) as info, store.querier() as q:
        q.add(1)
    assert (info.value.constraint, info.value.table) == ("items_pkey", "items")
    assert info.value.sqlstate == "23505"
    assert not isinstance(info.value, psycopg.Error)
    with pytest.raises(CheckViolation) as check, store.connection() as conn:
        conn.execute("INSERT INTO items VALUES (2, -1)")
    assert check.value.constraint == "items_v_check"


# --- transactions and retries ------------------------------------------------------------------


def test_in_tx_commits_and_returns_the_result(store: Store[Items], dsn: str) -> None:
    def work(q: Items) -> int:
        q.add(1)
        q.add(2)
        return q.count()

    assert store.in_tx(work) == 2
    assert committed_ids(dsn) == [1, 2]


def test_in_tx_rolls_back_and_reraises_when_the_function_fails(
    store: Store[Items], dsn: str
) -> None:
    def work(q: Items) -> None:
        q.add(1)
        raise ValueError("nope")

    with pytest.raises(ValueError, match="nope"):
        store.in_tx(work)
    assert committed_ids(dsn) == []


def test_raising_rollback_rolls_back_quietly_without_rerunning(
    store: Store[Items], dsn: str
) -> None:
    runs = 0

    def work(q: Items) -> int:
        nonlocal runs
        runs += 1
        q.add(1)
        raise psycopg.Rollback

    assert store.in_tx(work) is None
    assert (runs, committed_ids(dsn)) == (1, [])


def test_conflicting_serializable_transactions_are_retried_until_both_commit(
    store: Store[Items], dsn: str
) -> None:
    # Write skew: each reads the count, then inserts. SSI aborts one; the retry sees the other.
    both_read = threading.Barrier(2, timeout=10)
    attempts = {101: 0, 102: 0}

    def worker(item: int) -> Callable[[], None]:
        def work(q: Items) -> None:
            attempts[item] += 1
            seen = q.count()
            if attempts[item] == 1:
                both_read.wait()
            q.add(item, v=seen)

        return lambda: store.in_tx(work, isolation=IsolationLevel.SERIALIZABLE)

    assert run_threads(worker(101), worker(102)) == []
    assert committed_ids(dsn) == [101, 102]
    assert sum(attempts.values()) >= 3
    with psycopg.connect(dsn) as conn:
        seen = sorted(r[0] for r in conn.execute("SELECT v FROM items"))
    assert seen == [0, 1]  # the retried one saw the other's row


def test_a_deadlock_between_two_threads_is_retried(store: Store[Items], dsn: str) -> None:
    both_locked = threading.Barrier(2, timeout=10)
    attempts = [0, 0]

    def worker(i: int, first: int, second: int) -> Callable[[], None]:
        def work(q: Items) -> None:
            attempts[i] += 1
            # The result is read, so the row is locked before the barrier (pipelined, an
            # unread statement would only reach the server with COMMIT).
            q.conn.execute(DEBIT, (first,)).fetchone()
            if attempts[i] == 1:
                both_locked.wait()
            q.conn.execute(DEBIT, (second,)).fetchone()

        return lambda: store.in_tx(work)

    assert run_threads(worker(0, 1, 2), worker(1, 2, 1)) == []
    assert sum(attempts) == 3
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT array_agg(balance ORDER BY id) FROM accounts").fetchone() == (
            [98, 98],
        )


def test_retries_stop_after_the_limit_with_the_classified_error(store: Store[Items]) -> None:
    attempts = 0

    def work(q: Items) -> None:
        nonlocal attempts
        attempts += 1
        q.conn.execute(FAIL_SERIALIZATION)

    with pytest.raises(SerializationFailure) as info:
        store.in_tx(work, retries=2)
    assert attempts == 3
    assert isinstance(info.value, RetryableError) and info.value.sqlstate == "40001"
    attempts = 0
    with pytest.raises(SerializationFailure):
        store.in_tx(work, retries=0)
    assert attempts == 1
    attempts = 0
    with pytest.raises(SerializationFailure):
        store.in_tx(work)
    assert attempts == store.max_retries + 1


def test_other_database_errors_are_not_retried(store: Store[Items]) -> None:
    attempts = 0

    def work(q: Items) -> None:
        nonlocal attempts
        attempts += 1
        q.add(1)
        q.add(1)

    with pytest.raises(UniqueViolation) as info:
        store.in_tx(work)
    assert attempts == 1
    assert info.value.constraint == "items_pkey"


def test_isolation_applies_to_that_transaction_only(dsn: str, pipelined: bool) -> None:
    kind = PipelinedStore if pipelined else Store
    with kind(dsn, querier_factory=Items, min_size=1, max_size=1) as single:
        level, pid = single.in_tx(
            lambda q: (q.isolation(), q.pid()), isolation=IsolationLevel.SERIALIZABLE
        )
        assert level == "serializable"
        with single.querier() as q:
            assert q.pid() == pid  # the same pooled connection...
            assert q.isolation() == "read committed"  # ...back at the default
        assert single.in_tx(lambda q: q.isolation()) == "read committed"


# --- nesting -----------------------------------------------------------------------------------


def test_a_failing_nested_transaction_rolls_back_only_its_savepoint(
    store: Store[Items], dsn: str
) -> None:
    def inner(q: Items) -> None:
        q.add(2)
        raise ValueError("inner")

    def outer(q: Items) -> None:
        q.add(1)
        with pytest.raises(ValueError):
            store.in_tx(inner)
        q.add(3)

    store.in_tx(outer)
    assert committed_ids(dsn) == [1, 3]


def test_nested_transactions_share_the_outer_connection_and_querier(store: Store[Items]) -> None:
    def outer(q: Items) -> None:
        inner = store.in_tx(lambda q2: q2)
        assert inner is q
        with store.querier() as q3, store.connection() as conn, store.transaction() as q4:
            assert q3 is q and conn is q.conn and q4 is q

    store.in_tx(outer)


def test_a_database_error_in_a_nested_transaction_leaves_the_outer_usable(
    store: Store[Items], dsn: str
) -> None:
    def outer(q: Items) -> None:
        q.add(1)
        with pytest.raises(UniqueViolation):
            store.in_tx(lambda q2: q2.add(1))
        q.add(2)  # would fail with "current transaction is aborted" without the savepoint

    store.in_tx(outer)
    assert committed_ids(dsn) == [1, 2]


def test_only_the_outermost_transaction_retries(store: Store[Items], dsn: str) -> None:
    outer_attempts = 0
    inner_attempts = 0

    def inner(q: Items) -> None:
        nonlocal inner_attempts
        inner_attempts += 1
        if outer_attempts == 1:
            q.conn.execute(FAIL_SERIALIZATION)
        q.add(2)

    def outer(q: Items) -> None:
        nonlocal outer_attempts
        outer_attempts += 1
        q.add(1)
        store.in_tx(inner)

    store.in_tx(outer)
    assert (outer_attempts, inner_attempts) == (2, 2)
    assert committed_ids(dsn) == [1, 2]


def test_a_nested_transaction_cannot_strengthen_the_isolation(store: Store[Items]) -> None:
    def asks_serializable(q: Items) -> str:
        return store.in_tx(lambda q2: q2.isolation(), isolation=IsolationLevel.SERIALIZABLE)

    with pytest.raises(InvalidInput, match="isolation"):
        store.in_tx(asks_serializable)
    assert store.in_tx(asks_serializable, isolation=IsolationLevel.SERIALIZABLE) == "serializable"


def test_other_threads_get_their_own_connection_during_a_transaction(
    store: Store[Items],
) -> None:
    seen: dict[str, Any] = {}

    def outer(q: Items) -> None:
        q.add(1)

        def elsewhere() -> None:
            with store.querier() as other:
                seen["pid"] = other.pid()
                seen["ids"] = other.ids()

        assert run_threads(elsewhere) == []
        seen["outer_pid"] = q.pid()

    store.in_tx(outer)
    assert seen["pid"] != seen["outer_pid"]
    assert seen["ids"] == []  # the uncommitted row is not visible elsewhere


# --- pipelined transactions ----------------------------------------------------------------------


def one_connection(dsn: str) -> PipelinedStore:
    return PipelinedStore(dsn, querier_factory=Items, min_size=1, max_size=1, timeout=5)


def test_a_pipelined_transaction_waits_once_per_result_read_plus_once_to_commit(
    dsn: str,
) -> None:
    ids = itertools.count(1)

    def run(store: Store[Items], reads: int, pipeline: bool) -> StatementCount:
        def body(q: Items) -> None:
            q.add(next(ids))  # never read: travels with the next wait
            for _ in range(reads):
                q.count()

        store.in_tx(body, pipeline=pipeline)  # warm-up: psycopg prepares on second use
        with count_statements(conn) as sent:
            store.in_tx(body, pipeline=pipeline)
        return sent

    with one_connection(dsn) as single:
        with single.connection() as conn:
            pass  # the only connection: every transaction below runs on it
        for n in range(3):
            sent = run(single, n, pipeline=True)
            assert sent.statements[0] == "BEGIN" and sent.statements[-1] == "COMMIT"
            assert len(sent) == n + 3
            # BEGIN goes with the first read; the unread INSERT and COMMIT in the last wait.
            assert sent.round_trips == n + 1, sent.statements
            assert run(single, n, pipeline=False).round_trips == n + 3
    assert committed_ids(dsn) == list(range(1, 13))


def test_a_nested_transaction_after_a_read_is_a_savepoint_of_the_pipelined_one(dsn: str) -> None:
    """Once the outer's BEGIN was read without a Sync, libpq still reports the connection idle
    (it learns the state only from ReadyForQuery): psycopg's transaction() would open a second
    "outer" transaction there, whose COMMIT would commit the outer's work early."""

    def inner_fails(q: Items) -> None:
        q.add(4)
        raise ValueError("inner")

    def outer_fails(q: Items) -> None:
        q.add(1)
        q.count()  # BEGIN and the INSERT are read: nothing queued, libpq says "idle"
        single.in_tx(lambda q2: q2.add(2))
        raise ValueError("outer")

    def outer(q: Items) -> None:
        q.add(3)
        q.count()
        with pytest.raises(ValueError, match="inner"):
            single.in_tx(inner_fails)
        q.add(5)

    with one_connection(dsn) as single:
        with pytest.raises(ValueError, match="outer"):
            single.in_tx(outer_fails)
        single.in_tx(outer)
    assert committed_ids(dsn) == [3, 5]


def test_an_unread_statement_failing_near_commit_is_its_own_error(dsn: str) -> None:
    """An unread statement's error may arrive just before or after COMMIT is queued; then the
    server skips COMMIT ("pipeline aborted", which psycopg may report in place of the
    statement's error, depending on how the answers are split between reads). Either way the
    error is the statement's, retried as such: never an unknown outcome of COMMIT."""
    slow = (
        "DO $$ BEGIN PERFORM pg_sleep(0.01); "
        "RAISE EXCEPTION 'simulated' USING ERRCODE = 'serialization_failure'; END $$"
    )
    ids = itertools.count(1)

    def work(sql: str) -> Callable[[Items], None]:
        def body(q: Items) -> None:
            q.add(next(ids))
            q.conn.execute(sql)  # unread

        return body

    with one_connection(dsn) as single:
        for _ in range(40):
            for sql in (FAIL_SERIALIZATION, slow):
                with pytest.raises(SerializationFailure):
                    single.in_tx(work(sql), retries=0)
    assert committed_ids(dsn) == []


def test_pipeline_aborted_at_commit_reports_the_error_that_aborted_it() -> None:
    """psycopg reports "pipeline aborted" (the server skipping COMMIT, or a DEALLOCATE it
    queued itself, after an earlier error) in place of that error when the two answers come in
    different reads; seen in the suite, not reproducible on demand, so checked here on the
    exception psycopg raises then, the earlier error as its context. Only a lost connection
    after COMMIT was sent is an unknown outcome."""
    aborted = psycopg.errors.PipelineAborted("pipeline aborted")
    assert _commit_error(aborted, committing=True) is aborted  # no cause known: not unknown
    cause = psycopg.errors.SerializationFailure("simulated")
    aborted.__context__ = cause
    assert _commit_error(aborted, committing=True) is cause
    lost = psycopg.OperationalError("server closed the connection unexpectedly")
    assert isinstance(_commit_error(lost, committing=True), CommitOutcomeUnknown)
    assert _commit_error(lost, committing=False) is lost


def fails_in_python(q: Items) -> None:
    q.add(1)  # unread when the body fails
    raise ValueError("refused")


def fails_in_the_database(q: Items) -> None:
    q.add(1)
    q.add(1)
    q.count()  # the duplicate's error aborts the pipeline here


def fails_at_commit(q: Items) -> None:
    q.add(1)
    q.add(1)  # unread: fails in the last wait, with COMMIT queued behind it


def rolls_back(q: Items) -> None:
    q.add(1)
    raise psycopg.Rollback


def rolls_back_after_an_error(q: Items) -> None:
    q.add(1)
    with contextlib.suppress(psycopg.errors.UniqueViolation):
        q.add(1)
        q.count()  # the pipeline is aborted: a ROLLBACK queued now is skipped
    raise psycopg.Rollback  # swallowed: no exception tells the pool to roll back


@pytest.mark.parametrize(
    "body, error",
    [
        (fails_in_python, ValueError),
        (fails_in_the_database, UniqueViolation),
        (fails_at_commit, UniqueViolation),
        (rolls_back, None),
        (rolls_back_after_an_error, None),
    ],
)
def test_a_failed_pipelined_transaction_leaves_nothing_and_a_clean_connection(
    dsn: str, body: Callable[[Items], None], error: type[Exception] | None, caplog: Any
) -> None:
    with one_connection(dsn) as single:
        with single.connection() as conn:
            pass
        caplog.set_level("WARNING")
        for _ in range(2):  # the same connection, each time as clean as the first
            if error is None:
                assert single.in_tx(body) is None
            else:
                with pytest.raises(error):
                    single.in_tx(body)
            assert conn.pgconn.transaction_status == pq.TransactionStatus.IDLE
            assert conn.pgconn.pipeline_status == pq.PipelineStatus.OFF
        single.in_tx(lambda q: q.add(7))
        with single.connection() as again:
            assert again is conn
    assert committed_ids(dsn) == [7]
    # The pool never had to roll back a connection returned in a transaction (it warns).
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == []


# --- the transaction() block -------------------------------------------------------------------


def test_transaction_block_commits_rolls_back_and_nests(store: Store[Items], dsn: str) -> None:
    with store.transaction() as q:
        q.add(1)
        with pytest.raises(ValueError), store.transaction() as inner:
            inner.add(2)
            raise ValueError
    with pytest.raises(ValueError), store.transaction() as q:
        q.add(3)
        raise ValueError
    assert committed_ids(dsn) == [1]


def test_transaction_block_is_never_retried(store: Store[Items]) -> None:
    runs = 0
    with pytest.raises(SerializationFailure), store.transaction() as q:
        runs += 1
        q.conn.execute(FAIL_SERIALIZATION)
    assert runs == 1


# --- pool lifecycle ----------------------------------------------------------------------------


def test_an_unreachable_server_is_a_connection_failure() -> None:
    with (
        Store("host=127.0.0.1 port=1 connect_timeout=1", querier_factory=Items, timeout=0.3) as bad,
        pytest.raises(ConnectionFailure),
        bad.querier(),
    ):
        pass


def test_a_closed_store_refuses_work_with_a_chatdb_error(dsn: str) -> None:
    s = Store(dsn, querier_factory=Items)
    s.close()
    with pytest.raises(ChatDBError), s.querier():
        pass


# --- async twin --------------------------------------------------------------------------------


async def test_async_single_statements_autocommit_and_errors_are_classified(
    astore: AsyncStore[AsyncItems], dsn: str
) -> None:
    async with astore.querier() as q:
        assert q.conn.autocommit
        await q.add(1)
    assert committed_ids(dsn) == [1]
    with pytest.raises(UniqueViolation) as info:
        async with astore.querier() as q:
            await q.add(1)
    assert info.value.constraint == "items_pkey"


async def test_async_conflicting_serializable_transactions_are_retried(
    astore: AsyncStore[AsyncItems], dsn: str
) -> None:
    both_read = asyncio.Barrier(2)
    attempts = {101: 0, 102: 0}

    async def run(item: int) -> None:
        async def work(q: AsyncItems) -> None:
            attempts[item] += 1
            seen = await q.count()
            if attempts[item] == 1:
                await asyncio.wait_for(both_read.wait(), 10)
            await q.add(item, v=seen)

        await astore.in_tx(work, isolation=IsolationLevel.SERIALIZABLE)

    await asyncio.gather(run(101), run(102))
    assert committed_ids(dsn) == [101, 102]
    assert sum(attempts.values()) >= 3


async def test_async_nested_failure_rolls_back_only_the_savepoint(
    astore: AsyncStore[AsyncItems], dsn: str
) -> None:
    async def inner(q: AsyncItems) -> None:
        await q.add(2)
        await q.add(2)

    async def outer(q: AsyncItems) -> None:
        await q.add(1)
        with pytest.raises(UniqueViolation):
            await astore.in_tx(inner)
        async with astore.transaction() as same:
            assert same is q
        await q.add(3)

    await astore.in_tx(outer)
    assert committed_ids(dsn) == [1, 3]


async def test_async_retry_limit_and_isolation(astore: AsyncStore[AsyncItems]) -> None:
    attempts = 0

    async def fails(q: AsyncItems) -> None:
        nonlocal attempts
        attempts += 1
        await q.conn.execute(FAIL_SERIALIZATION)

    with pytest.raises(SerializationFailure):
        await astore.in_tx(fails, retries=1)
    assert attempts == 2

    async def level(q: AsyncItems) -> str:
        return await q.isolation()

    assert await astore.in_tx(level, isolation=IsolationLevel.REPEATABLE_READ) == "repeatable read"
    assert await astore.in_tx(level) == "read committed"


async def test_async_tasks_started_inside_a_transaction_use_their_own_connection(
    astore: AsyncStore[AsyncItems],
) -> None:
    async def outside() -> list[int]:
        async with astore.querier() as other:
            return await other.ids()

    async def outer(q: AsyncItems) -> list[int]:
        await q.add(1)
        return await asyncio.create_task(outside())

    assert await astore.in_tx(outer) == []


async def test_async_store_opened_explicitly_refuses_work_before_open(dsn: str) -> None:
    s = AsyncStore(dsn, querier_factory=AsyncItems, open=False)
    with pytest.raises(ConnectionFailure):
        async with s.querier():
            pass
    async with s, s.querier() as q:
        assert await q.ids() == []


def test_store_connections_run_without_jit(store: Store[Items]) -> None:
    """chatdb's statements are short: JIT only ever costs them (see store.OLTP_SETTINGS)."""
    with store.connection() as conn:
        row = conn.execute("SELECT current_setting('jit')").fetchone()
    assert row == ("off",)
