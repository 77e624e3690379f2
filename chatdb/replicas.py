"""Read replicas: route read-only generated queries outside a transaction to a hot standby.

Which methods only read is decided by the code generator (``QueryInfo.read_only``: a plain
query, no row locks, no volatile function). Only those, called through ``store.querier()``
outside a transaction, go to a replica; everything in ``in_tx``/``transaction()``, every write
and every locking read stays on the primary.

Read-your-writes. After this thread or task commits through the store (an ``in_tx``, or a
non-read-only method through ``store.querier()``) the store notes the primary's WAL position.
A later read from the same context goes to a replica only once that replica has replayed the
position: it asks the replica (one short query) and, if it is behind, reads from the primary
instead, or first polls the replica for up to ``catch_up_wait``.

Fallback. A replica more than ``max_lag`` seconds behind, one that cannot be reached, one that
errors with a connection failure or a recovery conflict, or one that is no longer in recovery
(promoted: it no longer follows this primary) is skipped, the read goes to the next replica or
the primary, and a failed replica is left alone for ``retry_after`` seconds.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import psycopg
from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool, PoolTimeout

from chatdb import poolcheck
from chatdb.errors import ConnectionFailure, RetryableError, classify

__all__ = ["ReplicaSettings", "RoutingStats", "read_only_methods"]

logger = logging.getLogger(__name__)

_STATUS_SQL = """
SELECT pg_is_in_recovery(),
       pg_last_wal_replay_lsn()::text,
       CASE WHEN pg_last_wal_receive_lsn() IS NULL
                 OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END
"""
_REPLAYED_SQL = "SELECT pg_last_wal_replay_lsn()::text"
_PRIMARY_LSN_SQL = "SELECT pg_current_wal_lsn()::text"


@dataclass(frozen=True, slots=True)
class ReplicaSettings:
    """How reads use the replicas (seconds)."""

    max_lag: float = 5.0
    """A replica further behind the primary than this is skipped."""
    catch_up_wait: float = 0.0
    """How long a read-your-writes read waits (polling the replica) for it to replay the
    caller's last write. 0: ask the replica once, and go to the primary if it is behind;
    waiting trades latency for primary load."""
    retry_after: float = 5.0
    """A replica that failed is skipped this long."""
    lag_check_interval: float = 1.0
    """How often a replica's lag is measured (one query, on the replica)."""
    timeout: float = 1.0
    """How long a read waits for a replica connection before falling back."""
    max_size: int = 10
    """Connections per replica pool."""


@dataclass(frozen=True, slots=True)
class RoutingStats:
    """Where the routed reads went since the store opened."""

    replica: int
    primary: int


def lsn(text: str) -> int:
    """A WAL position ("16/B374D848") as a comparable integer."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def read_only_methods(querier_factory: Callable[..., Any]) -> frozenset[str]:
    """The read-only methods of a generated querier, from its package's ``registry``."""
    module = getattr(querier_factory, "__module__", "") or ""
    package = module.rpartition(".")[0]
    try:
        registry = importlib.import_module(f"{package}.registry") if package else None
    except ImportError:
        registry = None
    queries: Mapping[str, Any] = getattr(registry, "QUERIES", {}) or {}
    return frozenset(q.method for q in queries.values() if getattr(q, "read_only", False))


# The primary WAL position each store's last commit in this context reached.
_WRITTEN: ContextVar[Mapping[object, int]] = ContextVar(
    "chatdb_replicas_written", default=MappingProxyType({})
)


class _Replica:
    def __init__(self, conninfo: str, kwargs: dict[str, Any], settings: ReplicaSettings) -> None:
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            conninfo,
            min_size=0,
            max_size=settings.max_size,
            kwargs=kwargs,
            open=False,
            timeout=settings.timeout,
            check=poolcheck.check_connection,
            reconnect_timeout=0,
        )
        self.down_until = 0.0
        self.checked_at = float("-inf")
        self.lag = 0.0
        self.replayed = 0
        self.in_recovery = True


class ReplicaSet:
    """The replicas of one store and the bookkeeping for routing reads to them."""

    def __init__(
        self,
        owner: object,
        conninfos: Sequence[str],
        kwargs: dict[str, Any],
        settings: ReplicaSettings,
        read_only: Collection[str],
    ) -> None:
        self._owner = owner
        self.settings = settings
        self.read_only = frozenset(read_only)
        self._replicas = [_Replica(c, dict(kwargs), settings) for c in conninfos]
        self._turn = itertools.count()
        self._lock = threading.Lock()
        self._replica_reads = 0
        self._primary_reads = 0

    def open(self) -> None:
        for replica in self._replicas:
            replica.pool.open(wait=False)

    def close(self) -> None:
        for replica in self._replicas:
            replica.pool.close()

    def stats(self) -> RoutingStats:
        with self._lock:
            return RoutingStats(self._replica_reads, self._primary_reads)

    # -- read-your-writes --

    def note_write(self, conn: psycopg.Connection[Any]) -> None:
        """Remember the primary's WAL position after a commit on ``conn`` (this context).

        Best effort, never an error: the write has committed, and a caller told otherwise
        might do it again.
        """
        try:
            row = conn.cursor(row_factory=tuple_row).execute(_PRIMARY_LSN_SQL).fetchone()
        except psycopg.Error as exc:
            logger.warning("could not read the primary's WAL position after a commit: %s", exc)
            return
        if row is not None and row[0] is not None:
            _WRITTEN.set({**_WRITTEN.get(), self._owner: lsn(str(row[0]))})

    def _needed(self) -> int:
        return _WRITTEN.get().get(self._owner, 0)

    # -- routing --

    def read(
        self,
        factory: Callable[[Any], Any],
        method: str,
        primary: Callable[[], Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """Run ``method`` on a usable replica, else on the primary querier ``primary()``."""
        needed = self._needed()
        start = next(self._turn)
        n = len(self._replicas)
        for replica in (self._replicas[(start + i) % n] for i in range(n)):
            if replica.down_until > time.monotonic():
                continue
            counted = False
            try:
                with self._connection(replica) as conn:
                    if conn is None or not self._usable(replica, conn, needed):
                        continue
                    self._count(replica=1)
                    counted = True
                    return getattr(factory(conn), method)(*args, **kwargs)
            except (ConnectionFailure, RetryableError, psycopg.OperationalError) as exc:
                # Unreachable, broken, or a query cancelled by a recovery conflict.
                logger.warning("replica read failed, using another: %s", exc)
                replica.down_until = time.monotonic() + self.settings.retry_after
                if counted:
                    self._count(replica=-1)  # counted where it is answered
        self._count(primary=1)
        return getattr(primary(), method)(*args, **kwargs)

    def _count(self, *, replica: int = 0, primary: int = 0) -> None:
        with self._lock:
            self._replica_reads += replica
            self._primary_reads += primary

    @contextlib.contextmanager
    def _connection(self, replica: _Replica) -> Iterator[psycopg.Connection[Any] | None]:
        try:
            cm = replica.pool.connection()
            conn = cm.__enter__()
        except PoolTimeout:
            replica.down_until = time.monotonic() + self.settings.retry_after
            yield None
            return
        try:
            yield conn
        except BaseException as exc:
            if not cm.__exit__(type(exc), exc, exc.__traceback__):
                raise
        else:
            cm.__exit__(None, None, None)

    def _usable(self, replica: _Replica, conn: psycopg.Connection[Any], needed: int) -> bool:
        """Fresh enough: in recovery, within max_lag, and (if needed) past the caller's write."""
        try:
            cur = conn.cursor(row_factory=tuple_row)
            now = time.monotonic()
            if now - replica.checked_at >= self.settings.lag_check_interval:
                row = cur.execute(_STATUS_SQL).fetchone()
                assert row is not None
                replica.in_recovery = bool(row[0])
                replica.replayed = lsn(str(row[1])) if row[1] is not None else 0
                replica.lag = float(row[2] or 0.0)
                replica.checked_at = now
            if not replica.in_recovery:
                logger.warning("a replica is not in recovery (promoted?): not reading from it")
                replica.down_until = now + self.settings.retry_after
                return False
            if replica.lag > self.settings.max_lag:
                return False
            deadline = now + self.settings.catch_up_wait
            while replica.replayed < needed:  # ask the replica (the cached position is old)
                row = cur.execute(_REPLAYED_SQL).fetchone()
                if row is None or row[0] is None:
                    return False
                replica.replayed = max(replica.replayed, lsn(str(row[0])))
                if replica.replayed >= needed:
                    break
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.002)
            return True
        except psycopg.Error as exc:
            raise classify(exc) from exc


class Routed:
    """The querier ``store.querier()`` hands out when the store has replicas.

    Read-only methods go through :meth:`ReplicaSet.read`; every other attribute comes from a
    primary querier, checked out on first need for the rest of the block. Calling a method that
    is not read-only notes the primary's WAL position afterwards (read-your-writes).
    """

    def __init__(
        self,
        replicas: ReplicaSet,
        factory: Callable[[Any], Any],
        checkout: Callable[[], contextlib.AbstractContextManager[Any]],
        stack: contextlib.ExitStack,
    ) -> None:
        self._replicas = replicas
        self._factory = factory
        self._checkout = checkout
        self._stack = stack
        self._conn: Any = None
        self._querier: Any = None

    def _primary(self) -> Any:
        if self._querier is None:
            self._conn = self._stack.enter_context(self._checkout())
            self._querier = self._factory(self._conn)
        return self._querier

    def __getattr__(self, name: str) -> Any:
        if name in self._replicas.read_only:

            def read(*args: Any, **kwargs: Any) -> Any:
                return self._replicas.read(self._factory, name, self._primary, args, kwargs)

            return read
        target = getattr(self._primary(), name)
        if not callable(target):
            return target

        def write(*args: Any, **kwargs: Any) -> Any:
            result = target(*args, **kwargs)
            self._replicas.note_write(self._conn)
            return result

        return write
