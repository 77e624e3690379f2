"""``Chats``: every chat workflow behind one object."""

from __future__ import annotations

from chatdb.ops.chats import ChatLifecycle
from chatdb.ops.diffs import DiffStatuses
from chatdb.ops.files import Files
from chatdb.ops.messages import Messaging
from chatdb.ops.retention import Retention
from chatdb.ops.usage import UsageLimits
from chatdb.ops.workers import Workers


class Chats(ChatLifecycle, Messaging, Files, Workers, UsageLimits, DiffStatuses, Retention):
    """The chat workflows (SPEC 5) over a :class:`chatdb.store.Store` of plain queriers.

    Each method runs in one transaction (a savepoint inside the caller's) and does every read
    and write through the authorization wrapper, as the explicit ``actor=`` or the context's
    (:func:`chatdb.authz.as_actor`); no actor is refused. Construct it like
    :class:`~chatdb.ops.chats.ChatLifecycle` (store, authorizer, default_system_prompt,
    workspace_awareness).
    """
