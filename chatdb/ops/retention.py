"""Retention: purge archived chats past the deployment's retention period (the dbpurge job).

A background job, so the actor is a required argument: pass :data:`chatdb.authz.DBPURGE`
(it may delete chats and files, never read them). Each call is one batch in one transaction;
run it until it returns no row. The batch publishes one ``chat.deleted`` event per chat it
deleted (a purged subtree yields one per chat of it), built from the rows the delete returned:
the rows are gone by the time a subscriber hears of them, so the event carries the owner and
organization its delivery is authorized against.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from chatdb.authz import Subject
from chatdb.db import DeleteOldChatsRow
from chatdb.events import model as ev
from chatdb.ops._base import Tx, Workflows, aware_datetime, explicit_actor
from chatdb.validation import validate_limit

MAX_PURGE_BATCH = 10_000
"""Most archived subtrees one batch may take (``limit``)."""


def _purge(tx: Tx, before_time: datetime, limit: int) -> list[DeleteOldChatsRow]:
    rows = tx.q.delete_old_chats(before_time=before_time, limit=limit)
    tx.emit([ev.chat_deleted(row) for row in rows])
    return rows


class Retention(Workflows):
    """The retention purge, publishing what it deleted."""

    def purge_chats(
        self, before_time: datetime, *, actor: Subject, limit: int = 100
    ) -> list[DeleteOldChatsRow]:
        """Delete up to ``limit`` whole archived subtrees archived before ``before_time``,
        oldest first (DeleteOldChats); returns the deleted chats (ids, owner, organization,
        parent and root), each announced by a ``chat.deleted`` event on commit."""
        cutoff = aware_datetime(before_time, "before_time")
        batch = validate_limit(limit, "limit", maximum=MAX_PURGE_BATCH, allow_zero=False)
        return self._run(explicit_actor(actor), lambda tx: _purge(tx, cutoff, batch))

    def purge_expired_chats(
        self, *, actor: Subject, now: datetime | None = None, limit: int = 100
    ) -> list[DeleteOldChatsRow]:
        """:meth:`purge_chats` with the cutoff the deployment's retention period sets
        (GetChatRetentionDays, read in the same transaction): chats archived more than that
        many days before ``now``. A period of 0 keeps every chat: nothing is deleted."""
        at = aware_datetime(now, "now")
        batch = validate_limit(limit, "limit", maximum=MAX_PURGE_BATCH, allow_zero=False)

        def body(tx: Tx) -> list[DeleteOldChatsRow]:
            days = tx.q.get_chat_retention_days().retention_days
            if days <= 0:
                return []
            return _purge(tx, at - timedelta(days=days), batch)

        return self._run(explicit_actor(actor), body)
