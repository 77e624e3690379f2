"""Publishing: the events of a transaction go out just before it commits (one statement per
``PUBLISH_BATCH`` events, the workflow's last before COMMIT; never read, so a pipelined
workflow sends them in its last wait, with COMMIT).

``pg_notify`` inside a transaction is transactional: PostgreSQL delivers the notifications when
the transaction commits, in the order they were sent, and drops them when it (or the savepoint
they were sent in) rolls back. Events of different transactions arrive in commit order; the
workflows lock the chat row before changing it, so the events of one chat arrive in the order
of its changes.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import psycopg

from chatdb.errors import classify
from chatdb.events.model import Event, encode

__all__ = ["PUBLISH_BATCH", "apublish", "publish"]

# Events per statement: ``SELECT pg_notify(%s, %s), pg_notify(%s, %s), ...`` (one call per
# event, evaluated in order). A single statement over ``unnest(%s::text[], %s::text[])`` for
# any number of events costs more: adapting the two Python lists to arrays takes about as
# long as the NOTIFY itself (``make bench BENCH_ARGS="-k events"``). Batches are cut into
# statements of at most this many events, so there are few distinct statements to prepare.
PUBLISH_BATCH = 16


@functools.cache
def _statement(n: int) -> str:
    return "SELECT " + ", ".join(["pg_notify(%s, %s)"] * n)


def _statements(events: Sequence[Event]) -> list[tuple[str, list[str]]]:
    """The statements (and their parameters) that send ``events``, in order."""
    out = []
    for start in range(0, len(events), PUBLISH_BATCH):
        chunk = events[start : start + PUBLISH_BATCH]
        params = [v for e in chunk for v in (e.channel, encode(e))]
        out.append((_statement(len(chunk)), params))
    return out


def publish(conn: psycopg.Connection[Any], events: Sequence[Event]) -> None:
    """Send ``events`` on ``conn``; they are delivered when its transaction commits."""
    try:
        for statement, params in _statements(events):
            conn.execute(statement, params)
    except psycopg.Error as exc:
        raise classify(exc) from exc


async def apublish(conn: psycopg.AsyncConnection[Any], events: Sequence[Event]) -> None:
    """The asyncio twin of :func:`publish`."""
    try:
        for statement, params in _statements(events):
            await conn.execute(statement, params)
    except psycopg.Error as exc:
        raise classify(exc) from exc
