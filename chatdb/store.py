"""The runtime entry point: a pool of connections handing out queriers and transactions.

Pool connections are autocommit, so a single statement through :meth:`Store.querier` costs one
round trip. :meth:`Store.in_tx` runs a function in a transaction and re-runs it when PostgreSQL
reports a serialization failure or a deadlock (the only errors a plain retry can fix). A
transaction opened inside another on the same Store, in the same thread or task, reuses its
connection and becomes a SAVEPOINT, so library functions compose without knowing whether their
caller already holds a transaction. Every driver error leaving the Store is classified
(:func:`chatdb.errors.classify`).

The current transaction is tracked in a ContextVar and belongs to the thread or task that opened
it: other threads or tasks, even ones that inherited the context (``asyncio.create_task``), get
their own pooled connections, never a share of one in use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, TypeVar

import psycopg
from psycopg import IsolationLevel
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from chatdb.errors import InvalidInput, RetryableError, classify

__all__ = ["AsyncStore", "Store"]

logger = logging.getLogger(__name__)

Q = TypeVar("Q")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Active:
    """The transaction a store has open in some context."""

    conn: Any
    querier: Any
    owner: object


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


def _connection_kwargs(pool_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Connection arguments for the pool: always autocommit; prepared after first use."""
    kwargs = dict(pool_kwargs.pop("kwargs", None) or {})
    kwargs["autocommit"] = True
    kwargs.setdefault("prepare_threshold", 1)
    return kwargs


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

    def _enter(self, conn: Any, querier: Any) -> Token[Mapping[object, _Active]]:
        return _ACTIVE.set({**_ACTIVE.get(), self: _Active(conn, querier, self._owner())})

    def _retry_delay(self, attempt: int, exc: RetryableError) -> float:
        delay = random.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))
        logger.info("retrying transaction (attempt %d) in %.3fs after: %s", attempt, delay, exc)
        return delay


class Store(_Base, Generic[Q]):
    """Queriers and transactions over a :class:`psycopg_pool.ConnectionPool`.

    ``max_retries`` is how many times :meth:`in_tx` re-runs a function after a serialization
    failure or deadlock (so it runs at most ``max_retries + 1`` times). ``pool_kwargs`` go to the
    pool (``timeout``, ``name``, ``configure``, ``kwargs`` for the connections, ...).
    """

    def __init__(
        self,
        conninfo: str,
        *,
        querier_factory: Callable[[psycopg.Connection[Any]], Q],
        min_size: int = 1,
        max_size: int = 10,
        max_retries: int = 5,
        open: bool = True,
        **pool_kwargs: Any,
    ) -> None:
        super().__init__(max_retries)
        self._factory = querier_factory
        kwargs = _connection_kwargs(pool_kwargs)
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            conninfo, min_size=min_size, max_size=max_size, kwargs=kwargs, open=False, **pool_kwargs
        )
        if open:
            self.open()

    def _owner(self) -> object:
        return threading.current_thread()

    def open(self, wait: bool = False, timeout: float = 30.0) -> None:
        """Open the pool (done by the constructor unless ``open=False``)."""
        try:
            self.pool.open(wait=wait, timeout=timeout)
        except psycopg.Error as exc:
            raise classify(exc) from exc

    def close(self) -> None:
        """Close the pool and its connections."""
        self.pool.close()

    def __enter__(self) -> Store[Q]:
        if self.pool.closed:
            self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A raw connection: the current transaction's, or a pooled autocommit one."""
        try:
            active = self._active()
            if active is not None:
                yield active.conn
            else:
                with self.pool.connection() as conn:
                    yield conn
        except psycopg.Error as exc:
            raise classify(exc) from exc

    @contextlib.contextmanager
    def querier(self) -> Iterator[Q]:
        """A querier for single statements (or the current transaction's querier)."""
        active = self._active()
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
    ) -> T:
        """Run ``fn`` in a transaction, re-running it on serialization failure or deadlock.

        ``fn`` may run more than once, so it must not have effects outside the database. Nested
        inside another transaction of this store it runs in a savepoint and is not retried
        there: the outermost ``in_tx`` retries the whole unit. ``fn`` raising
        ``psycopg.Rollback`` rolls back quietly and ``in_tx`` returns None.
        """
        if self._active() is not None:
            return self._once(fn, isolation)
        limit = self.max_retries if retries is None else retries
        attempt = 0
        while True:
            try:
                return self._once(fn, isolation)
            except RetryableError as exc:
                if attempt >= limit:
                    raise
                attempt += 1
                time.sleep(self._retry_delay(attempt, exc))

    def _once(self, fn: Callable[[Q], T], isolation: IsolationLevel | None) -> T:
        result: T | None = None  # stays None if fn raises psycopg.Rollback (rolled back)
        with self._transaction(isolation) as querier:
            result = fn(querier)
        return result  # None after psycopg.Rollback (mypy cannot see the with swallow it)

    @contextlib.contextmanager
    def _transaction(self, isolation: IsolationLevel | None) -> Iterator[Q]:
        try:
            active = self._active()
            if active is not None:
                conn: psycopg.Connection[Any] = active.conn
                if isolation is not None:
                    row = conn.cursor(row_factory=tuple_row).execute("SHOW transaction_isolation")
                    current = str(row.fetchone()[0])  # type: ignore[index]
                    if _weaker_than(current, isolation):
                        raise _nested_isolation_error(current, isolation)
                with conn.transaction():
                    yield active.querier
                return
            with self.pool.connection() as conn:
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
                finally:
                    if isolation is not None:
                        with contextlib.suppress(psycopg.Error):  # broken: the pool drops it
                            conn.isolation_level = None
        except psycopg.Error as exc:
            raise classify(exc) from exc


class AsyncStore(_Base, Generic[Q]):
    """The asyncio twin of :class:`Store`, over a :class:`psycopg_pool.AsyncConnectionPool`.

    An async pool cannot be opened in a constructor: with ``open=True`` it opens on first use
    (or use ``await store.open()`` / ``async with store``); with ``open=False`` it must be
    opened explicitly.
    """

    def __init__(
        self,
        conninfo: str,
        *,
        querier_factory: Callable[[psycopg.AsyncConnection[Any]], Q],
        min_size: int = 1,
        max_size: int = 10,
        max_retries: int = 5,
        open: bool = True,
        **pool_kwargs: Any,
    ) -> None:
        super().__init__(max_retries)
        self._factory = querier_factory
        self._open_on_use = open
        kwargs = _connection_kwargs(pool_kwargs)
        self.pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            conninfo, min_size=min_size, max_size=max_size, kwargs=kwargs, open=False, **pool_kwargs
        )

    def _owner(self) -> object:
        return asyncio.current_task()

    async def open(self, wait: bool = False, timeout: float = 30.0) -> None:
        """Open the pool."""
        try:
            await self.pool.open(wait=wait, timeout=timeout)
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
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A raw connection: the current transaction's, or a pooled autocommit one."""
        try:
            active = self._active()
            if active is not None:
                yield active.conn
            else:
                await self._ready()
                async with self.pool.connection() as conn:
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
    ) -> T:
        """Await ``fn`` in a transaction, re-running it on serialization failure or deadlock."""
        if self._active() is not None:
            return await self._once(fn, isolation)
        limit = self.max_retries if retries is None else retries
        attempt = 0
        while True:
            try:
                return await self._once(fn, isolation)
            except RetryableError as exc:
                if attempt >= limit:
                    raise
                attempt += 1
                await asyncio.sleep(self._retry_delay(attempt, exc))

    async def _once(self, fn: Callable[[Q], Awaitable[T]], isolation: IsolationLevel | None) -> T:
        result: T | None = None  # stays None if fn raises psycopg.Rollback (rolled back)
        async with self._transaction(isolation) as querier:
            result = await fn(querier)
        return result  # None after psycopg.Rollback (mypy cannot see the with swallow it)

    @contextlib.asynccontextmanager
    async def _transaction(self, isolation: IsolationLevel | None) -> AsyncIterator[Q]:
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
                async with conn.transaction():
                    yield active.querier
                return
            await self._ready()
            async with self.pool.connection() as conn:
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
                finally:
                    if isolation is not None:
                        with contextlib.suppress(psycopg.Error):  # broken: the pool drops it
                            await conn.set_isolation_level(None)
        except psycopg.Error as exc:
            raise classify(exc) from exc
