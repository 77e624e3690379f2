"""The check a pool runs on a connection as it leaves the pool, without a round trip.

psycopg-pool's own check sends an empty query: one round trip on every checkout, which costs
as much as a cheap read. But a server that ends an idle session — a restart, a
``pg_terminate_backend``, ``idle_session_timeout`` — sends an error and closes the socket, and
either makes the socket readable; a healthy idle connection has nothing to read. So a poll that
does not wait finds the dead ones for free, and only a connection that looks dead pays the
round trip that proves it (and the pool then replaces it).

What the poll cannot see, neither can the empty query see in time: a peer that vanished
without a word (a cut cable) leaves nothing to read and an unanswered query waits for TCP.
"""

from __future__ import annotations

import select
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool


def looks_dead(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    """Whether an idle connection has been closed, or has something unasked-for to read."""
    if conn.closed:
        return True
    poller = select.poll()  # not select(): file descriptors above 1024 are fine
    poller.register(conn.pgconn.socket, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def check_connection(conn: psycopg.Connection[Any]) -> None:
    """``ConnectionPool(check=...)``: raises for a dead connection, costs no round trip else."""
    if looks_dead(conn):
        ConnectionPool.check_connection(conn)


async def check_async_connection(conn: psycopg.AsyncConnection[Any]) -> None:
    """``AsyncConnectionPool(check=...)``: the same check for asyncio pools."""
    if looks_dead(conn):
        await AsyncConnectionPool.check_connection(conn)
