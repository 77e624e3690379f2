"""Worker workflows: acquire pending chats, heartbeat, recover chats whose worker vanished.

These run as a background service, so the actor is a required argument: pass
:data:`chatdb.authz.CHATD` (it holds site-wide chat rights). Nothing here falls back to a
system subject on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from chatdb.authz import Subject
from chatdb.db import Chat, ChatStatus
from chatdb.events import model as ev
from chatdb.ops._base import Tx, Workflows, aware_datetime, explicit_actor
from chatdb.validation import validate_limit

TOOL_RESULTS_TIMEOUT_ERROR = "timed out waiting for dynamic tool results"
"""``last_error`` of a requires_action chat whose client never answered."""


@dataclass(frozen=True, slots=True)
class RecoveredChat:
    """A stale chat after recovery and the status it was found in."""

    chat: Chat
    previous_status: ChatStatus


def _is_stale(tx: Tx, chat: Chat, threshold: datetime) -> bool:
    """GetStaleChats' predicate, re-checked on the locked chat row and its locked lease.

    A running chat's heartbeat lives in its lease (chat_leases), which heartbeats update
    without touching the chat row: locking the lease too makes a heartbeat that committed
    after the scan count, and one still to come wait for this transaction and then find the
    lease gone.
    """
    if chat.status is ChatStatus.RUNNING:
        return tx.q.get_chat_lease_for_update(chat_id=chat.id).heartbeat_at < threshold
    return chat.status is ChatStatus.REQUIRES_ACTION and chat.updated_at < threshold


class Workers(Workflows):
    """What a chat daemon replica does with the chats table."""

    def acquire_chats(
        self, worker_id: UUID, *, actor: Subject, num_chats: int = 1, now: datetime | None = None
    ) -> list[Chat]:
        """Claim up to ``num_chats`` pending, non-archived chats (oldest first) for the worker."""
        limit = validate_limit(num_chats, "num_chats", allow_zero=False)
        started = aware_datetime(now, "now")

        def body(tx: Tx) -> list[Chat]:
            acquired = tx.q.acquire_chats(worker_id=worker_id, started_at=started, num_chats=limit)
            for chat in acquired:
                tx.emit(ev.status_changed(chat, chat.status, chat.worker_id))
            return acquired

        return self._run(explicit_actor(actor), body)

    def heartbeat(
        self, worker_id: UUID, *, actor: Subject, now: datetime | None = None
    ) -> set[UUID]:
        """Refresh every running chat of the worker; returns the ids still running under it.

        A chat the worker runs that is missing from the result was interrupted (set pending),
        finished or taken over elsewhere: the worker stops working on it.
        """
        at = aware_datetime(now, "now")
        rows = self._run(
            explicit_actor(actor),
            lambda tx: tx.q.update_chat_heartbeats(worker_id=worker_id, now=at),
        )
        return {row.id for row in rows}

    def recover_stale_chats(
        self, stale_threshold: datetime, *, actor: Subject
    ) -> list[RecoveredChat]:
        """Release chats abandoned before ``stale_threshold``, in one transaction.

        A running chat whose worker stopped heartbeating goes back to pending with no worker
        (keeping updated_at, so it keeps its place at the front of the acquisition order). A
        requires_action chat whose client never answered becomes error with
        :data:`TOOL_RESULTS_TIMEOUT_ERROR` (bumping updated_at: the user should see it). Each
        row is locked and re-checked first, so a heartbeat or submission that landed after the
        scan wins.
        """
        threshold = aware_datetime(stale_threshold, "stale_threshold")

        def body(tx: Tx) -> list[RecoveredChat]:
            recovered: list[RecoveredChat] = []
            for stale in tx.q.get_stale_chats(stale_threshold=threshold):
                chat = tx.lock_chat(stale.id)
                if not _is_stale(tx, chat, threshold):
                    continue
                if chat.status is ChatStatus.RUNNING:
                    after = tx.q.update_chat_status_preserve_updated_at(
                        id=chat.id,
                        status=ChatStatus.PENDING,
                        worker_id=None,
                        started_at=None,
                        heartbeat_at=None,
                        last_error=None,
                        updated_at=chat.updated_at,
                    )
                else:
                    after = tx.q.update_chat_status(
                        id=chat.id,
                        status=ChatStatus.ERROR,
                        worker_id=None,
                        started_at=None,
                        heartbeat_at=None,
                        last_error=TOOL_RESULTS_TIMEOUT_ERROR,
                    )
                tx.emit(ev.status_changed(after, after.status))
                recovered.append(RecoveredChat(after, chat.status))
            return recovered

        return self._run(explicit_actor(actor), body)
