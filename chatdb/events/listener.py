"""Receiving: one LISTEN connection per process, fanned out to any number of subscriptions.

The :class:`Listener` owns a dedicated connection (opened by itself, never taken from a pool,
so it keeps working when the pool goes through a transaction-mode pooler, where LISTEN is
meaningless) and a thread that reads notifications with psycopg's ``notifies()`` and hands
each event to the subscriptions that want it.

NOTIFY is not durable: whatever was sent while the listener was disconnected is lost. So when
the connection breaks (server restart, ``pg_terminate_backend``, network), the thread
reconnects with backoff, LISTENs again and then puts a :class:`Resync` into every
subscription *before* any new event: a subscriber re-reads what it shows instead of silently
missing changes. Subscriptions made before the first LISTEN took effect get one too.

Each subscription has a bounded queue filled by the listener thread. When it is full the
subscription stops taking events and counts them; once its reader has drained the queue it
receives :class:`Dropped` (a kind of Resync) and then events again. A stalled reader so costs a
bounded amount of memory and never slows the listener or the other subscriptions. Filters
(including the authorization check, see :mod:`chatdb.events.hub`) run on the listener thread at
delivery time, so they see each event as it is, not as it was when the subscription started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from chatdb.events.model import CHANNEL, PENDING_CHANNEL, Event, decode

__all__ = [
    "DEFAULT_QUEUE_SIZE",
    "Dropped",
    "Item",
    "Listener",
    "Resync",
    "Subscription",
    "shared_listener",
]

logger = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class Resync:
    """Events may have been missed: re-read the state you show. ``reason`` says why."""

    reason: str


@dataclass(frozen=True, slots=True)
class Dropped(Resync):
    """This subscription's queue overflowed and ``count`` events were discarded."""

    count: int


Item = Event | Resync
Accept = Callable[[Event], bool]


class Subscription:
    """A bounded queue of events (and resync signals) for one consumer.

    Read it with :meth:`get` / iteration (threads) or :meth:`aget` / ``async for`` (asyncio).
    Close it (or use it as a context manager) to stop receiving.
    """

    def __init__(
        self,
        listener: Listener,
        *,
        chat_id: UUID | None,
        owner_id: UUID | None,
        channels: frozenset[str],
        accept: Accept | None,
        maxsize: int,
    ) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self.chat_id = chat_id
        self.owner_id = owner_id
        self.channels = channels
        self.maxsize = maxsize
        self._listener = listener
        self._accept = accept
        self._items: deque[Item] = deque()
        self._dropped = 0
        self._cond = threading.Condition(threading.Lock())
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self.closed = False

    # ---- the listener side ------------------------------------------------------------------

    def _wants(self, event: Event) -> bool:
        if event.channel not in self.channels:
            return False
        if self.chat_id is not None and event.chat_id != self.chat_id:
            return False
        if self.owner_id is not None and event.owner_id != self.owner_id:
            return False
        if self._accept is None:
            return True
        try:
            return self._accept(event)
        except Exception:  # a broken filter must not stop the listener: deliver nothing
            logger.exception("event filter failed; event not delivered")
            return False

    def _offer(self, item: Item) -> None:
        """Queue ``item`` (called by the listener thread; never blocks on the reader)."""
        with self._cond:
            if self.closed:
                return
            if self._dropped or len(self._items) >= self.maxsize:
                self._dropped += 1
            else:
                self._items.append(item)
            self._cond.notify_all()
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # loop closed meanwhile
                loop.call_soon_threadsafe(_wake, future)

    # ---- the reader side --------------------------------------------------------------------

    def _take(self) -> Item | None:
        if self._items:
            return self._items.popleft()
        if self._dropped:
            count, self._dropped = self._dropped, 0
            return Dropped("dropped", count)
        return None

    def pending(self) -> int:
        """Items waiting to be read (not counting dropped ones)."""
        with self._cond:
            return len(self._items)

    def get(self, timeout: float | None = None) -> Item | None:
        """The next item, waiting up to ``timeout`` seconds (None: forever); None on timeout
        or once closed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                item = self._take()
                if item is not None or self.closed:
                    return item
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)

    async def aget(self, timeout: float | None = None) -> Item | None:
        """The asyncio twin of :meth:`get`."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            with self._cond:
                item = self._take()
                if item is not None or self.closed:
                    return item
                future: asyncio.Future[None] = loop.create_future()
                self._waiters.append((loop, future))
            remaining = None if deadline is None else deadline - loop.time()
            try:
                if remaining is not None and remaining <= 0:
                    return None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(future, remaining)
            finally:  # timed out or cancelled: forget this waiter (woken ones are gone)
                with self._cond, contextlib.suppress(ValueError):
                    self._waiters.remove((loop, future))

    def __iter__(self) -> Iterator[Item]:
        while (item := self.get()) is not None:
            yield item

    async def __aiter__(self) -> AsyncIterator[Item]:
        while (item := await self.aget()) is not None:
            yield item

    def close(self) -> None:
        """Stop receiving; blocked readers return None."""
        self._listener._remove(self)
        with self._cond:
            self.closed = True
            self._cond.notify_all()
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_wake, future)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Listener:
    """The process's LISTEN connection and its subscriptions.

    ``Listener(conninfo)`` starts at once (``start=False`` to defer); :meth:`wait_connected`
    waits until LISTEN is in effect. Subscribe before reading the state you will keep up to
    date, so a change committed in between is seen either in the read or as an event.
    """

    def __init__(
        self,
        conninfo: str,
        *,
        channels: tuple[str, ...] = (CHANNEL, PENDING_CHANNEL),
        queue_size: int = DEFAULT_QUEUE_SIZE,
        poll_interval: float = 0.2,
        health_interval: float = 10.0,
        reconnect_delays: tuple[float, float] = (0.05, 2.0),
        start: bool = True,
        **connect_kwargs: Any,
    ) -> None:
        self.conninfo = conninfo
        self.channels = channels
        self.queue_size = queue_size
        self.poll_interval = poll_interval  # how soon close() is noticed
        self.health_interval = health_interval  # an idle connection is probed this often
        self.reconnect_delays = reconnect_delays
        # A server that stops answering must not hang a reconnection attempt for ever.
        self._connect_kwargs = {
            "application_name": "chatdb-listener",
            "connect_timeout": 10,
            **connect_kwargs,
        }
        self._lock = threading.Lock()
        self._subs: tuple[Subscription, ...] = ()
        self._closing = threading.Event()
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None
        self.backend_pid: int | None = None
        self.reconnects = 0
        self.received = 0
        if start:
            self.start()

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="chatdb-events", daemon=True)
        self._thread.start()

    def wait_connected(self, timeout: float | None = None) -> bool:
        """Whether LISTEN is in effect, waiting up to ``timeout`` seconds for it."""
        return self._connected.wait(timeout)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def close(self) -> None:
        """Stop the thread, close the connection and every subscription."""
        self._closing.set()
        if self._thread is not None:
            self._thread.join()
        for sub in self._subs:
            sub.close()

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- subscriptions --------------------------------------------------------------------

    def subscribe(
        self,
        *,
        chat_id: UUID | None = None,
        owner_id: UUID | None = None,
        channels: tuple[str, ...] = (CHANNEL,),
        accept: Accept | None = None,
        maxsize: int | None = None,
    ) -> Subscription:
        """A subscription to the events of ``chat_id`` / chats of ``owner_id`` / all (None),
        on ``channels``, that ``accept`` lets through. Unauthorized: prefer
        :class:`chatdb.events.ChatEvents`, which checks the actor's read permission."""
        unknown = set(channels) - set(self.channels)
        if unknown:
            raise ValueError(f"this listener does not LISTEN on {sorted(unknown)}")
        sub = Subscription(
            self,
            chat_id=chat_id,
            owner_id=owner_id,
            channels=frozenset(channels),
            accept=accept,
            maxsize=self.queue_size if maxsize is None else maxsize,
        )
        with self._lock:
            self._subs = (*self._subs, sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            self._subs = tuple(s for s in self._subs if s is not sub)

    @property
    def subscriptions(self) -> int:
        return len(self._subs)

    # ---- the thread -----------------------------------------------------------------------

    def _run(self) -> None:
        attempt = 0
        first = True
        while not self._closing.is_set():
            try:
                with psycopg.connect(
                    self.conninfo, autocommit=True, **self._connect_kwargs
                ) as conn:
                    for channel in self.channels:
                        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self.backend_pid = conn.info.backend_pid
                    attempt = 0
                    if first:
                        # Subscriptions made before LISTEN was in effect may have read state
                        # that changed before it was: they resync too.
                        self._broadcast(Resync("connected"))
                    else:
                        self.reconnects += 1
                        self._broadcast(Resync("reconnected"))
                    first = False
                    self._connected.set()
                    self._pump(conn)
            except psycopg.Error as exc:
                if self._closing.is_set():
                    break
                logger.warning(
                    "event listener connection lost (%s); reconnecting", type(exc).__name__
                )
            finally:
                self._connected.clear()
            low, high = self.reconnect_delays
            self._closing.wait(min(high, low * 2**attempt))
            attempt += 1

    def _pump(self, conn: psycopg.Connection[Any]) -> None:
        idle_since = time.monotonic()
        while not self._closing.is_set():
            got = False
            for notify in conn.notifies(timeout=self.poll_interval):
                got = True
                self.received += 1
                try:
                    event = decode(notify.payload)
                    if event is not None:
                        self._dispatch(event, notify.channel)
                except Exception:
                    # Anyone who may connect can NOTIFY on these channels: a payload that
                    # breaks the decoder (or a bug) costs that one notification, never the
                    # thread every subscription of the process depends on.
                    logger.exception("event listener skipped a notification it could not handle")
            now = time.monotonic()
            if got:
                idle_since = now
            elif now - idle_since >= self.health_interval:
                conn.execute("SELECT 1")  # raises when the connection died silently
                idle_since = now

    def _dispatch(self, event: Event, channel: str) -> None:
        if event.channel != channel:
            logger.warning("skipping %s event received on channel %s", event.kind, channel)
            return
        for sub in self._subs:
            if sub._wants(event):
                sub._offer(event)

    def _broadcast(self, item: Resync) -> None:
        for sub in self._subs:
            sub._offer(item)


_SHARED: dict[str, Listener] = {}
_SHARED_LOCK = threading.Lock()


def shared_listener(conninfo: str) -> Listener:
    """The process's listener for ``conninfo`` (started on first use, reused afterwards)."""
    with _SHARED_LOCK:
        listener = _SHARED.get(conninfo)
        if listener is None or listener._closing.is_set():
            listener = _SHARED[conninfo] = Listener(conninfo)
        return listener
