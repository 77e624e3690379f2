"""The owner and organization of chats and files, remembered per connection.

A policy such as ``update chat(id)`` needs the chat's owner and organization before its
statement runs, which costs a second round trip. Both never change — the database refuses an
UPDATE of either (migration ``immutable_identity``) — and ids are never reused, so once read
they stay true for the life of the row. Remembering them makes every later call naming the same
object one round trip, inside a transaction and across transactions on the same connection.
Only identities are remembered, never a decision: every call still authorizes its actor.

A deleted object may linger here; the statement that follows then finds no row, as it would
have without the memory. The memory belongs to one connection (a pooled connection lives long
and never spans two databases, so ids from different databases never meet) and is bounded:
past ``MAX_OBJECTS`` the oldest entry goes.
"""

from __future__ import annotations

import threading
from typing import Any
from uuid import UUID
from weakref import WeakKeyDictionary

from chatdb.authz.rbac import Object, ResourceType

MAX_OBJECTS = 10_000

# The resource types whose identity the database keeps immutable.
IMMUTABLE_TYPES = frozenset({ResourceType.CHAT, ResourceType.CHAT_FILE})


class ObjectMemo:
    """Objects by (type, id), oldest dropped first once full."""

    __slots__ = ("_items", "_max")

    def __init__(self, max_objects: int = MAX_OBJECTS) -> None:
        self._items: dict[tuple[ResourceType, UUID], Object] = {}
        self._max = max_objects

    def get(self, type: ResourceType, id: UUID) -> Object | None:
        return self._items.get((type, id))

    def remember(self, obj: Object) -> Object:
        """Keep ``obj`` (when its identity is immutable) and return it."""
        if obj.type in IMMUTABLE_TYPES and obj.id is not None:
            items = self._items
            if len(items) >= self._max:
                # Connections are used by one thread at a time; this never races itself.
                del items[next(iter(items))]
            items[(obj.type, obj.id)] = obj
        return obj

    def __len__(self) -> int:
        return len(self._items)


_memos: WeakKeyDictionary[Any, ObjectMemo] = WeakKeyDictionary()
_memos_lock = threading.Lock()


def memo_for(querier: object) -> ObjectMemo:
    """The memo of the querier's connection (a fresh private one if it exposes none)."""
    conn = getattr(querier, "conn", None)
    if conn is None:
        return ObjectMemo()
    memo = _memos.get(conn)
    if memo is None:
        with _memos_lock:
            memo = _memos.get(conn)
            if memo is None:
                memo = _memos[conn] = ObjectMemo()
    return memo
