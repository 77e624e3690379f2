"""The runtime entry point: a pool of connections handing out queriers and transactions.

Pool connections are autocommit, so a single statement through :meth:`Store.querier` costs one
round trip. :meth:`Store.in_tx` runs a function in a transaction and re-runs it when PostgreSQL
reports a serialization failure or a deadlock (the only errors a plain retry can fix). A
transaction opened inside another on the same Store, in the same thread or task, reuses its
connection and becomes a SAVEPOINT, so library functions compose without knowing whether their
caller already holds a transaction. Every driver error leaving the Store is classified
(:func:`chatdb.errors.classify`).

Faults. Every connection is checked when it leaves the pool (:mod:`chatdb.poolcheck`: a poll of
its socket, and an empty round trip only when that shows the server hung up), so the idle
connections a server restart left dead are replaced instead of failing the next calls. A
transaction whose connection is lost *before* COMMIT was sent did not commit, so the outermost
``in_tx`` re-runs it once on a fresh connection; a loss *during* COMMIT may or may not have
committed, so it is never retried and surfaces as
:class:`~chatdb.errors.CommitOutcomeUnknown`. When no connection can be made at all, the
error (:class:`~chatdb.errors.ServerUnreachable`) names the cause.

Cancellation. A call run under :func:`cancellable` (what :class:`chatdb.ops.AsyncChats` does)
checks, right before COMMIT, whether it was cancelled: if so it rolls back. Past that point the
commit is under way and the call completes.

The current transaction is tracked in a ContextVar and belongs to the thread or task that opened
it: other threads or tasks, even ones that inherited the context (``asyncio.create_task``), get
their own pooled connections, never a share of one in use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import threading
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterator,
    Mapping,
    Sequence,
)
from contextvars import ContextVar, Token
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, LiteralString, TypeVar, cast

import psycopg
from psycopg import IsolationLevel, pq
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

from chatdb import poolcheck
from chatdb import replicas as _replicas
from chatdb.errors import (
    CommitOutcomeUnknown,
    ConnectionFailure,
    InvalidInput,
    RetryableError,
    ServerUnreachable,
    classify,
    is_connection_loss,
)
from chatdb.replicas import ReplicaSet, ReplicaSettings, Routed, RoutingStats
from chatdb.validation import validate_pool_sizes

__all__ = [
    "DEFAULT_TIMEOUTS",
    "AsyncStore",
    "CommitGate",
    "ReplicaSettings",
    "RoutingStats",
    "Store",
    "Timeouts",
    "cancellable",
]

logger = logging.getLogger(__name__)

Q = TypeVar("Q")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Active:
    """The transaction a store has open in some context (``pipeline``: its pipeline, if any)."""

    conn: Any
    querier: Any
    owner: object
    pipeline: Any = None


# Keyed by store, so several stores can each have a transaction open in one context.
_ACTIVE: ContextVar[Mapping[object, _Active]] = ContextVar(
    "chatdb_store_active", default=MappingProxyType({})
)

# PostgreSQL runs READ UNCOMMITTED as READ COMMITTED.
_STRENGTH = {
    "read uncommitted": 0,
    "read committed": 0,
    "repeatable read": 1,
    "serializable": 2,
}


def _strength(level: IsolationLevel) -> int:
    return _STRENGTH[level.name.replace("_", " ").lower()]


def _weaker_than(current: str, wanted: IsolationLevel) -> bool:
    return _STRENGTH.get(current, 0) < _strength(wanted)


def _nested_isolation_error(current: str, wanted: IsolationLevel) -> InvalidInput:
    return InvalidInput(
        f"a nested transaction cannot raise the isolation level from {current} to "
        f"{wanted.name}: start the outer transaction with that isolation",
        field="isolation",
    )


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Connection and server-side timeouts, in seconds (0 disables one).

    ``connect`` is libpq's ``connect_timeout`` (per host of a multi-host DSN). The other three
    are sent as server settings when a connection starts (the startup ``options`` parameter):
    a runaway statement, a lock wait and a forgotten open transaction each end with an error
    instead of holding a connection (and its locks) forever. A transaction-mode pooler does not
    forward startup options: there pass ``timeouts=Timeouts(connect=..., server=False)`` and
    set them on the role (``ALTER ROLE ... SET statement_timeout = '30s'``).
    """

    connect: float = 5.0
    statement: float = 30.0
    lock: float = 10.0
    idle_in_transaction: float = 60.0
    server: bool = True

    def options(self) -> str:
        """The startup ``options``: the three timeouts, then :data:`OLTP_SETTINGS`."""
        settings = {
            "statement_timeout": self.statement,
            "lock_timeout": self.lock,
            "idle_in_transaction_session_timeout": self.idle_in_transaction,
        }
        timeouts = [f"-c {name}={round(value * 1000)}" for name, value in settings.items()]
        return " ".join([*timeouts, *(f"-c {k}={v}" for k, v in OLTP_SETTINGS.items())])


# Settings chatdb owns on the connections it opens (sent with the timeouts). JIT compilation
# pays off on long analytic queries; chatdb's statements are short, and a prepared statement's
# generic plan (whose cost estimates know no parameter values) crossed jit_above_cost and spent
# most of a chat-list call compiling (10-540x the custom plan at 1M chats). Behind a pooler
# that drops startup options, set it on the role: ``ALTER ROLE ... SET jit = off``.
OLTP_SETTINGS: dict[str, str] = {"jit": "off"}


DEFAULT_TIMEOUTS = Timeouts()


def _connection_kwargs(
    conninfo: str,
    pool_kwargs: dict[str, Any],
    prepare_threshold: int | None,
    timeouts: Timeouts | None,
) -> dict[str, Any]:
    """Connection arguments for the pool: always autocommit; prepared after first use.

    Values the conninfo sets itself (``connect_timeout``, ``options``) win over the defaults.
    """
    try:
        given = conninfo_to_dict(conninfo)
    except psycopg.Error as exc:
        raise InvalidInput(
            f"invalid connection string: {_scrub_quoted(str(exc))}", field="conninfo"
        ) from None
    kwargs = dict(pool_kwargs.pop("kwargs", None) or {})
    kwargs["autocommit"] = True
    kwargs.setdefault("prepare_threshold", prepare_threshold)
    if timeouts is not None:
        if "connect_timeout" not in given:
            kwargs.setdefault("connect_timeout", max(1, round(timeouts.connect)))
        if timeouts.server and "options" not in given:
            kwargs.setdefault("options", timeouts.options())
    return kwargs


def _pool_kwargs(pool_kwargs: dict[str, Any], check: bool) -> dict[str, Any]:
    if check:
        pool_kwargs.setdefault("check", poolcheck.check_connection)
    return pool_kwargs


def _scrub_quoted(message: str) -> str:
    """libpq quotes the offending fragment of a bad connection string, which may be a secret."""
    return re.sub(r'"[^"]*"', '"..."', message)


def _redact(message: str, conninfo: str) -> str:
    """The message without the connection's password (libpq never prints it; be sure)."""
    with contextlib.suppress(psycopg.Error):
        password = conninfo_to_dict(conninfo).get("password")
        if password:
            message = message.replace(str(password), "***")
    return message


def _unreachable(cause: BaseException, conninfo: str) -> ServerUnreachable:
    text = str(cause).strip() or type(cause).__name__
    if isinstance(cause, psycopg.ProgrammingError):  # the connection string itself is bad
        text = f"invalid connection string: {_scrub_quoted(text)}"
    return ServerUnreachable(f"cannot connect to the database: {_redact(text, conninfo)}")


def _probe_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    probe = {k: v for k, v in kwargs.items() if k not in ("autocommit", "prepare_threshold")}
    probe.setdefault("connect_timeout", 5)
    return probe


def _cause_of_timeout(conninfo: str, kwargs: dict[str, Any], timeout: PoolTimeout) -> Exception:
    """Why the pool found no connection: connect once ourselves and report what libpq says."""
    try:
        psycopg.connect(conninfo, **_probe_kwargs(kwargs)).close()
    except Exception as exc:
        return _unreachable(exc, conninfo)
    # The server is reachable: the pool is simply exhausted.
    return ConnectionFailure(str(timeout))


async def _acause_of_timeout(
    conninfo: str, kwargs: dict[str, Any], timeout: PoolTimeout
) -> Exception:
    try:
        await (await psycopg.AsyncConnection.connect(conninfo, **_probe_kwargs(kwargs))).close()
    except Exception as exc:
        return _unreachable(exc, conninfo)
    return ConnectionFailure(str(timeout))


class _Cancelled(Exception):
    """Raised at the commit point of a cancelled call: rolls the transaction back."""


class CommitGate:
    """Decides, once, between "cancelled" and "committing" for one cancellable call.

    The caller's side calls :meth:`cancel`; the transaction calls :meth:`may_commit` right
    before COMMIT. Whichever comes first wins, under a lock: a cancel that wins means nothing
    commits; one that loses means the commit is already under way.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._committing = False
        self._conn: Any = None

    def cancel(self) -> bool:
        """Cancel the call; False when it already passed the commit point."""
        with self._lock:
            if self._committing:
                return False
            self._cancelled = True
            conn = self._conn
        if conn is not None:  # interrupt a statement in flight (e.g. waiting for a lock)
            with contextlib.suppress(Exception):
                conn.cancel_safe(timeout=2.0)
        return True

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def attach(self, conn: Any) -> None:
        with self._lock:
            self._conn = conn
        if self._cancelled:
            raise _Cancelled

    def may_commit(self) -> bool:
        with self._lock:
            if self._cancelled:
                return False
            self._committing = True
            self._conn = None
            return True


_GATE: ContextVar[CommitGate | None] = ContextVar("chatdb_commit_gate", default=None)


@contextlib.contextmanager
def cancellable(gate: CommitGate) -> Iterator[CommitGate]:
    """Run the block's outermost transactions under ``gate`` (in this context)."""
    token = _GATE.set(gate)
    try:
        yield gate
    finally:
        _GATE.reset(token)


def _cancelled_error() -> ConnectionFailure:
    return ConnectionFailure("the call was cancelled before commit; rolled back")


# The BEGIN of a pipelined transaction, per isolation level (constant texts, nothing formatted).
_BEGIN: dict[IsolationLevel | None, LiteralString] = {
    None: "BEGIN",
    IsolationLevel.READ_UNCOMMITTED: "BEGIN ISOLATION LEVEL READ UNCOMMITTED",
    IsolationLevel.READ_COMMITTED: "BEGIN ISOLATION LEVEL READ COMMITTED",
    IsolationLevel.REPEATABLE_READ: "BEGIN ISOLATION LEVEL REPEATABLE READ",
    IsolationLevel.SERIALIZABLE: "BEGIN ISOLATION LEVEL SERIALIZABLE",
}

_IN_TRANSACTION = (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR)


def _settle(conn: psycopg.Connection[Any]) -> None:
    """Roll back a transaction a pipeline left open (its ROLLBACK skipped after an error)."""
    if conn.pgconn.transaction_status in _IN_TRANSACTION:
        with contextlib.suppress(psycopg.Error):  # broken: the pool drops it
            conn.execute("ROLLBACK")


async def _asettle(conn: psycopg.AsyncConnection[Any]) -> None:
    if conn.pgconn.transaction_status in _IN_TRANSACTION:
        with contextlib.suppress(psycopg.Error):
            await conn.execute("ROLLBACK")


def _commit_error(exc: psycopg.Error, committing: bool) -> Exception:
    """What a pipelined transaction's last wait reports. COMMIT was sent, so a lost connection
    may have committed (CommitOutcomeUnknown); any other error came from a statement before it
    (the server then skipped COMMIT) or is COMMIT's own refusal: nothing committed.

    "Pipeline aborted" is the server skipping COMMIT after an earlier error, which psycopg may
    report instead of that error (then its context): never an unknown outcome."""
    if isinstance(exc, psycopg.errors.PipelineAborted):
        cause = exc.__context__
        return cause if isinstance(cause, psycopg.Error) else exc
    if committing and is_connection_loss(exc):
        return CommitOutcomeUnknown(
            f"connection lost during COMMIT, outcome unknown: {classify(exc)}"
        )
    return exc


def _rolled_back_quietly(exc: BaseException) -> bool:
    """``psycopg.Rollback()`` raised by the body: roll back and return, as psycopg does."""
    return isinstance(exc, psycopg.Rollback) and exc.transaction is None


class _Base:
    """Configuration and transaction bookkeeping shared by the sync and async stores."""

    backoff_base = 0.01  # seconds; the n-th retry sleeps up to backoff_base * 2**n
    backoff_cap = 0.5

    def __init__(self, max_retries: int) -> None:
        if max_retries < 0:
            raise InvalidInput("max_retries must be >= 0", field="max_retries")
        self.max_retries = max_retries

    def _owner(self) -> object:
        raise NotImplementedError

    def _active(self) -> _Active | None:
        active = _ACTIVE.get().get(self)
        if active is not None and active.owner is self._owner():
            return active
        return None

    def _enter(
        self, conn: Any, querier: Any, pipeline: Any = None
    ) -> Token[Mapping[object, _Active]]:
        active = _Active(conn, querier, self._owner(), pipeline)
        return _ACTIVE.set({**_ACTIVE.get(), self: active})

    def _should_retry(self, exc: Exception, attempt: int, limit: int, lost: int) -> bool:
        """Serialization failures/deadlocks up to ``limit``; a connection lost before COMMIT
        once (``lost`` counts those already retried). Never a possible commit."""
        if isinstance(exc, RetryableError):
            return attempt < limit
        if isinstance(exc, CommitOutcomeUnknown | ServerUnreachable):
            return False
        if isinstance(exc, ConnectionFailure) and not _cancelled_gate():
            return lost == 0
        return False

    def _retry_delay(self, attempt: int, exc: Exception) -> float:
        delay = random.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))
        logger.info("retrying transaction (attempt %d) in %.3fs after: %s", attempt, delay, exc)
        return delay


def _cancelled_gate() -> bool:
    gate = _GATE.get()
    return gate is not None and gate.cancelled


class Store(_Base, Generic[Q]):
    """Queriers and transactions over a :class:`psycopg_pool.ConnectionPool`.

    ``max_retries`` is how many times :meth:`in_tx` re-runs a function after a serialization
    failure or deadlock (so it runs at most ``max_retries + 1`` times); a connection lost before
    COMMIT adds one more run. ``prepare_threshold`` is psycopg's (``None`` never prepares: needed
    behind a transaction-mode pooler such as PgBouncer before 1.21). ``timeouts`` are the
    connection defaults (:class:`Timeouts`; ``None`` sends none). ``check_connections`` checks
    each connection as it leaves the pool. ``pool_kwargs`` go to the pool (``timeout``,
    ``name``, ``configure``, ``kwargs`` for the connections, ...).

    ``replicas`` are conninfos of hot standbys: read-only methods called through
    :meth:`querier` outside a transaction go to them (see :mod:`chatdb.replicas`;
    ``read_only_methods`` defaults to what the code generator marked read-only).
    """

    def __init__(
        self,
        conninfo: str,
        *,
        querier_factory: Callable[[psycopg.Connection[Any]], Q],
        min_size: int = 1,
        max_size: int = 10,
        max_retries: int = 5,
        prepare_threshold: int | None = 1,
        timeouts: Timeouts | None = DEFAULT_TIMEOUTS,
        check_connections: bool = True,
        replicas: Sequence[str] = (),
        replica_settings: ReplicaSettings = ReplicaSettings(),  # noqa: B008 - frozen
        read_only_methods: Collection[str] | None = None,
        open: bool = True,
        **pool_kwargs: Any,
    ) -> None:
        super().__init__(max_retries)
        validate_pool_sizes(min_size, max_size)
        self._factory = querier_factory
        self._conninfo = conninfo
        self._kwargs = _connection_kwargs(conninfo, pool_kwargs, prepare_threshold, timeouts)
        self.replicas: ReplicaSet | None = None
        if replicas:
            for replica in replicas:
                _connection_kwargs(replica, {}, prepare_threshold, timeouts)  # validates it
            self.replicas = ReplicaSet(
                self,
                replicas,
                self._kwargs,
                replica_settings,
                read_only_methods
                if read_only_methods is not None
                else _replicas.read_only_methods(querier_factory),
            )
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            kwargs=self._kwargs,
            open=False,
            **_pool_kwargs(pool_kwargs, check_connections),
        )
        if open:
            self.open()

    def _owner(self) -> object:
        return threading.current_thread()

    def routing_stats(self) -> RoutingStats:
        """How many routed reads went to a replica and how many to the primary."""
        return self.replicas.stats() if self.replicas is not None else RoutingStats(0, 0)

    def open(self, wait: bool = False, timeout: float = 30.0) -> None:
        """Open the pool (done by the constructor unless ``open=False``)."""
        try:
            if self.replicas is not None:
                self.replicas.open()
            self.pool.open(wait=wait, timeout=timeout)
        except PoolTimeout as exc:
            raise _cause_of_timeout(self._conninfo, self._kwargs, exc) from exc
        except psycopg.Error as exc:
            raise classify(exc) from exc

    def close(self) -> None:
        """Close the pool and its connections."""
        if self.replicas is not None:
            self.replicas.close()
        self.pool.close()

    def __enter__(self) -> Store[Q]:
        if self.pool.closed:
            self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _checkout(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection; no connection at all raises ServerUnreachable with the cause."""
        try:
            cm = self.pool.connection()
            conn = cm.__enter__()
        except PoolTimeout as exc:
            raise _cause_of_timeout(self._conninfo, self._kwargs, exc) from exc
        try:
            yield conn
        except BaseException as exc:
            if not cm.__exit__(type(exc), exc, exc.__traceback__):
                raise
        else:
            cm.__exit__(None, None, None)

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A raw connection: the current transaction's, or a pooled autocommit one."""
        try:
            active = self._active()
            if active is not None:
                yield active.conn
            else:
                with self._checkout() as conn:
                    yield conn
        except psycopg.Error as exc:
            raise classify(exc) from exc

    @contextlib.contextmanager
    def querier(self) -> Iterator[Q]:
        """A querier for single statements (or the current transaction's querier).

        With replicas, outside a transaction, its read-only methods read from a replica.
        """
        active = self._active()
        if active is None and self.replicas is not None:
            with contextlib.ExitStack() as stack:
                yield cast(Q, Routed(self.replicas, self._factory, self.connection, stack))
            return
        with self.connection() as conn:
            yield active.querier if active is not None else self._factory(conn)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Q]:
        """A transaction for the block (a savepoint when nested); never retried."""
        with self._transaction(None) as querier:
            yield querier

    def in_tx(
        self,
        fn: Callable[[Q], T],
        *,
        isolation: IsolationLevel | None = None,
        retries: int | None = None,
        pipeline: bool = False,
    ) -> T:
        """Run ``fn`` in a transaction, re-running it on serialization failure or deadlock.

        ``fn`` may run more than once, so it must not have effects outside the database. Nested
        inside another transaction of this store it runs in a savepoint and is not retried
        there: the outermost ``in_tx`` retries the whole unit. A connection lost before COMMIT
        re-runs it once more; a loss during COMMIT raises
        :class:`~chatdb.errors.CommitOutcomeUnknown`. ``fn`` raising ``psycopg.Rollback`` rolls
        back quietly and ``in_tx`` returns None.

        ``pipeline=True`` runs the transaction in psycopg's pipeline mode (the workflows use
        it): the client waits for the server only when ``fn`` reads a result, and once more to
        commit. BEGIN travels with the first statement, and statements whose results ``fn``
        never reads are sent without waiting, their answers read with COMMIT's. So an error
        may surface at a later statement, and ``fn`` must not rely on an unread statement
        having run (e.g. holding its lock) before it waits on something outside this
        connection. Open nested transactions with this Store (``in_tx``, ``transaction``), not
        with ``conn.transaction()``: only the Store knows the pipelined BEGIN is open.
        """
        if self._active() is not None:
            return self._once(fn, isolation)
        limit = self.max_retries if retries is None else retries
        attempt = lost = 0
        while True:
            try:
                return self._once(fn, isolation, pipeline)
            except ConnectionFailure as exc:
                if not self._should_retry(exc, attempt, limit, lost):
                    raise
                lost += 1
                logger.info("re-running a transaction whose connection was lost: %s", exc)
            except RetryableError as exc:
                if not self._should_retry(exc, attempt, limit, lost):
                    raise
                attempt += 1
                time.sleep(self._retry_delay(attempt, exc))

    def _once(
        self, fn: Callable[[Q], T], isolation: IsolationLevel | None, pipeline: bool = False
    ) -> T:
        result: T | None = None  # stays None if fn raises psycopg.Rollback (rolled back)
        with self._transaction(isolation, pipeline) as querier:
            result = fn(querier)
        return result  # None after psycopg.Rollback (mypy cannot see the with swallow it)

    @contextlib.contextmanager
    def _transaction(self, isolation: IsolationLevel | None, pipeline: bool = False) -> Iterator[Q]:
        committing = False
        try:
            active = self._active()
            if active is not None:
                conn: psycopg.Connection[Any] = active.conn
                if isolation is not None:
                    row = conn.cursor(row_factory=tuple_row).execute("SHOW transaction_isolation")
                    current = str(row.fetchone()[0])  # type: ignore[index]
                    if _weaker_than(current, isolation):
                        raise _nested_isolation_error(current, isolation)
                if active.pipeline is not None:
                    active.pipeline.sync()  # see _pipelined: psycopg must see the open BEGIN
                with conn.transaction():
                    yield active.querier
                return
            gate = _GATE.get()
            with self._checkout() as conn:
                if gate is not None:
                    gate.attach(conn)
                if pipeline:
                    with self._pipelined(conn, isolation, gate) as querier:
                        yield querier
                    if self.replicas is not None:  # read-your-writes from the replicas
                        self.replicas.note_write(conn)
                    return
                if isolation is not None:
                    conn.isolation_level = isolation
                try:
                    with conn.transaction():
                        querier = self._factory(conn)
                        token = self._enter(conn, querier)
                        try:
                            yield querier
                        finally:
                            _ACTIVE.reset(token)
                        if gate is not None and not gate.may_commit():
                            raise _Cancelled
                        committing = True  # leaving the block sends COMMIT
                    committing = False
                    if self.replicas is not None:  # read-your-writes from the replicas
                        self.replicas.note_write(conn)
                finally:
                    if isolation is not None:
                        with contextlib.suppress(psycopg.Error):  # broken: the pool drops it
                            conn.isolation_level = None
        except _Cancelled:
            raise _cancelled_error() from None
        except psycopg.Error as exc:
            if committing and is_connection_loss(exc):
                raise CommitOutcomeUnknown(
                    f"connection lost during COMMIT, outcome unknown: {classify(exc)}"
                ) from exc
            raise classify(exc) from exc

    @contextlib.contextmanager
    def _pipelined(
        self,
        conn: psycopg.Connection[Any],
        isolation: IsolationLevel | None,
        gate: CommitGate | None,
    ) -> Iterator[Q]:
        """The outermost transaction in pipeline mode, waiting only where a result is read.

        Not ``conn.transaction()``: in a pipeline that syncs after BEGIN (a whole round trip
        before the first statement) and again after COMMIT, then the pipeline's exit syncs once
        more. Here BEGIN is queued unread, so it travels with the first statement whose result
        the body reads; COMMIT is queued after whatever the body left unread (the events'
        NOTIFY), and the pipeline's exit sends them with its one Sync and waits once. BEGIN
        and COMMIT are queued the way psycopg's own transaction() queues them
        (``_exec_command``): a cursor's execute would also stop to send each one (two more
        socket waits per transaction, 90-200 us on a local socket). ROLLBACK goes through a
        cursor: psycopg then drops its prepared statements, as its transaction() does after a
        rollback.

        Unread statements are sent at once but not waited for, so before COMMIT a poll of the
        socket (no wait) asks whether the server said something unasked: an unread statement's
        error, or a hang-up. Then a Sync surfaces it, COMMIT is never sent and nothing
        committed (``in_tx`` re-runs a lost connection once). Once COMMIT is sent, a connection
        lost in the last wait may have committed: CommitOutcomeUnknown.
        """
        failure: BaseException | None = None
        committing = False
        try:
            with conn.pipeline() as pipe:
                conn.wait(conn._exec_command(_BEGIN[isolation]))  # queued, not sent yet
                querier = self._factory(conn)
                token = self._enter(conn, querier, pipe)
                try:
                    yield querier
                except BaseException as exc:  # rolled back below, then re-raised
                    failure = exc
                finally:
                    _ACTIVE.reset(token)
                if failure is None and poolcheck.looks_dead(conn):
                    try:  # the server spoke unasked: an unread statement failed, or it hung up
                        pipe.sync()
                    except psycopg.Error as exc:  # before COMMIT was sent: nothing committed
                        failure = exc
                if failure is None and gate is not None and not gate.may_commit():
                    failure = _Cancelled()
                committing = failure is None
                try:
                    # Skipped by the server if an earlier statement failed (the pipeline is
                    # aborted): _settle rolls back once the exit's Sync has ended the abort.
                    if committing:
                        conn.wait(conn._exec_command(b"COMMIT"))
                    else:
                        conn.execute("ROLLBACK", prepare=False)
                except psycopg.Error as exc:  # an unread statement's error, read while sending
                    failure = failure or _commit_error(exc, committing)
        except psycopg.Error as exc:  # from the exit's Sync: the last wait, COMMIT's answer
            failure = failure or _commit_error(exc, committing)
        finally:
            _settle(conn)
        if failure is not None and not _rolled_back_quietly(failure):
            raise failure


class AsyncStore(_Base, Generic[Q]):
    """The asyncio twin of :class:`Store`, over a :class:`psycopg_pool.AsyncConnectionPool`.

    An async pool cannot be opened in a constructor: with ``open=True`` it opens on first use
    (or use ``await store.open()`` / ``async with store``); with ``open=False`` it must be
    opened explicitly. Same settings, fault handling and retry rule as :class:`Store`.
    """

    def __init__(
        self,
        conninfo: str,
        *,
        querier_factory: Callable[[psycopg.AsyncConnection[Any]], Q],
        min_size: int = 1,
        max_size: int = 10,
        max_retries: int = 5,
        prepare_threshold: int | None = 1,
        timeouts: Timeouts | None = DEFAULT_TIMEOUTS,
        check_connections: bool = True,
        open: bool = True,
        **pool_kwargs: Any,
    ) -> None:
        super().__init__(max_retries)
        validate_pool_sizes(min_size, max_size)
        self._factory = querier_factory
        self._open_on_use = open
        self._conninfo = conninfo
        self._kwargs = _connection_kwargs(conninfo, pool_kwargs, prepare_threshold, timeouts)
        if check_connections:
            pool_kwargs.setdefault("check", poolcheck.check_async_connection)
        self.pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            kwargs=self._kwargs,
            open=False,
            **pool_kwargs,
        )

    def _owner(self) -> object:
        return asyncio.current_task()

    async def open(self, wait: bool = False, timeout: float = 30.0) -> None:
        """Open the pool."""
        try:
            await self.pool.open(wait=wait, timeout=timeout)
        except PoolTimeout as exc:
            raise await _acause_of_timeout(self._conninfo, self._kwargs, exc) from exc
        except psycopg.Error as exc:
            raise classify(exc) from exc

    async def close(self) -> None:
        """Close the pool and its connections."""
        self._open_on_use = False
        await self.pool.close()

    async def __aenter__(self) -> AsyncStore[Q]:
        if self.pool.closed:
            await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _ready(self) -> None:
        if self._open_on_use and self.pool.closed:
            await self.open()

    @contextlib.asynccontextmanager
    async def _checkout(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        await self._ready()
        try:
            cm = self.pool.connection()
            conn = await cm.__aenter__()
        except PoolTimeout as exc:
            raise await _acause_of_timeout(self._conninfo, self._kwargs, exc) from exc
        try:
            yield conn
        except BaseException as exc:
            if not await cm.__aexit__(type(exc), exc, exc.__traceback__):
                raise
        else:
            await cm.__aexit__(None, None, None)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A raw connection: the current transaction's, or a pooled autocommit one."""
        try:
            active = self._active()
            if active is not None:
                yield active.conn
            else:
                async with self._checkout() as conn:
                    yield conn
        except psycopg.Error as exc:
            raise classify(exc) from exc

    @contextlib.asynccontextmanager
    async def querier(self) -> AsyncIterator[Q]:
        """A querier for single statements (or the current transaction's querier)."""
        active = self._active()
        async with self.connection() as conn:
            yield active.querier if active is not None else self._factory(conn)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Q]:
        """A transaction for the block (a savepoint when nested); never retried."""
        async with self._transaction(None) as querier:
            yield querier

    async def in_tx(
        self,
        fn: Callable[[Q], Awaitable[T]],
        *,
        isolation: IsolationLevel | None = None,
        retries: int | None = None,
        pipeline: bool = False,
    ) -> T:
        """Await ``fn`` in a transaction; retried (and pipelined) like :meth:`Store.in_tx`.

        Cancelling the awaiting task before COMMIT rolls the transaction back (the task's
        cancellation interrupts the statement in flight).
        """
        if self._active() is not None:
            return await self._once(fn, isolation)
        limit = self.max_retries if retries is None else retries
        attempt = lost = 0
        while True:
            try:
                return await self._once(fn, isolation, pipeline)
            except ConnectionFailure as exc:
                if not self._should_retry(exc, attempt, limit, lost):
                    raise
                lost += 1
                logger.info("re-running a transaction whose connection was lost: %s", exc)
            except RetryableError as exc:
                if not self._should_retry(exc, attempt, limit, lost):
                    raise
                attempt += 1
                await asyncio.sleep(self._retry_delay(attempt, exc))

    async def _once(
        self,
        fn: Callable[[Q], Awaitable[T]],
        isolation: IsolationLevel | None,
        pipeline: bool = False,
    ) -> T:
        result: T | None = None  # stays None if fn raises psycopg.Rollback (rolled back)
        async with self._transaction(isolation, pipeline) as querier:
            result = await fn(querier)
        return result  # None after psycopg.Rollback (mypy cannot see the with swallow it)

    @contextlib.asynccontextmanager
    async def _transaction(
        self, isolation: IsolationLevel | None, pipeline: bool = False
    ) -> AsyncIterator[Q]:
        committing = False
        try:
            active = self._active()
            if active is not None:
                conn: psycopg.AsyncConnection[Any] = active.conn
                if isolation is not None:
                    cur = conn.cursor(row_factory=tuple_row)
                    await cur.execute("SHOW transaction_isolation")
                    current = str((await cur.fetchone())[0])  # type: ignore[index]
                    if _weaker_than(current, isolation):
                        raise _nested_isolation_error(current, isolation)
                if active.pipeline is not None:
                    await active.pipeline.sync()  # see Store._pipelined
                async with conn.transaction():
                    yield active.querier
                return
            async with self._checkout() as conn:
                if pipeline:
                    async with self._pipelined(conn, isolation) as querier:
                        yield querier
                    return
                if isolation is not None:
                    await conn.set_isolation_level(isolation)
                try:
                    async with conn.transaction():
                        querier = self._factory(conn)
                        token = self._enter(conn, querier)
                        try:
                            yield querier
                        finally:
                            _ACTIVE.reset(token)
                        committing = True  # leaving the block sends COMMIT
                finally:
                    if isolation is not None:
                        with contextlib.suppress(psycopg.Error):  # broken: the pool drops it
                            await conn.set_isolation_level(None)
        except psycopg.Error as exc:
            if committing and is_connection_loss(exc):
                raise CommitOutcomeUnknown(
                    f"connection lost during COMMIT, outcome unknown: {classify(exc)}"
                ) from exc
            raise classify(exc) from exc

    @contextlib.asynccontextmanager
    async def _pipelined(
        self, conn: psycopg.AsyncConnection[Any], isolation: IsolationLevel | None
    ) -> AsyncIterator[Q]:
        """The asyncio twin of :meth:`Store._pipelined`."""
        failure: BaseException | None = None
        committing = False
        try:
            async with conn.pipeline() as pipe:
                await conn.wait(conn._exec_command(_BEGIN[isolation]))
                querier = self._factory(conn)
                token = self._enter(conn, querier, pipe)
                try:
                    yield querier
                except BaseException as exc:  # rolled back below, then re-raised
                    failure = exc
                finally:
                    _ACTIVE.reset(token)
                if failure is None and poolcheck.looks_dead(conn):
                    try:
                        await pipe.sync()
                    except psycopg.Error as exc:
                        failure = exc
                committing = failure is None
                try:
                    if committing:
                        await conn.wait(conn._exec_command(b"COMMIT"))
                    else:
                        await conn.execute("ROLLBACK", prepare=False)
                except psycopg.Error as exc:
                    failure = failure or _commit_error(exc, committing)
        except psycopg.Error as exc:
            failure = failure or _commit_error(exc, committing)
        finally:
            await _asettle(conn)
        if failure is not None and not _rolled_back_quietly(failure):
            raise failure
