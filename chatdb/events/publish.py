"""Publishing: the events of a transaction go out in one statement, just before it commits.

``pg_notify`` inside a transaction is transactional: PostgreSQL delivers the notifications when
the transaction commits, in the order they were sent, and drops them when it (or the savepoint
they were sent in) rolls back. Events of different transactions arrive in commit order; the
workflows lock the chat row before changing it, so the events of one chat arrive in the order
of its changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from chatdb.errors import classify
from chatdb.events.model import Event, encode

__all__ = ["PUBLISH_SQL", "apublish", "publish"]

# One statement for the whole batch; unnest keeps the order of the arrays.
PUBLISH_SQL = (
    "SELECT count(pg_notify(e.channel, e.payload)) "
    "FROM unnest(%s::text[], %s::text[]) AS e(channel, payload)"
)


def _arrays(events: Sequence[Event]) -> tuple[list[str], list[str]]:
    return [e.channel for e in events], [encode(e) for e in events]


def publish(conn: psycopg.Connection[Any], events: Sequence[Event]) -> None:
    """Send ``events`` on ``conn``; they are delivered when its transaction commits."""
    if not events:
        return
    try:
        conn.execute(PUBLISH_SQL, _arrays(events))
    except psycopg.Error as exc:
        raise classify(exc) from exc


async def apublish(conn: psycopg.AsyncConnection[Any], events: Sequence[Event]) -> None:
    """The asyncio twin of :func:`publish`."""
    if not events:
        return
    try:
        await conn.execute(PUBLISH_SQL, _arrays(events))
    except psycopg.Error as exc:
        raise classify(exc) from exc
