"""The events: kinds, the payload format and the builders the workflows call.

An event names a chat and says what kind of change happened to it; it carries the chat's
owner and organization (so a subscriber's read permission can be checked on delivery without
a query) and a few small, kind-specific fields. Anything larger (the messages, the title, the
pull request) is re-read by id. Payloads are compact JSON, versioned by ``"v"``, and bounded
far below NOTIFY's 8000-byte limit by construction: no field holds a list or free text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol
from uuid import UUID

__all__ = [
    "CHANNEL",
    "MAX_PAYLOAD_BYTES",
    "PENDING_CHANNEL",
    "VERSION",
    "ChatLike",
    "ChatRef",
    "Event",
    "Kind",
    "decode",
    "encode",
]

logger = logging.getLogger(__name__)

VERSION = 1
"""Payload format version; a listener skips (and logs) versions it does not know."""

CHANNEL = "chatdb_chat_events"
"""Every chat event."""

PENDING_CHANNEL = "chatdb_chat_pending"
"""Only "a chat became pending": what idle workers listen to."""

MAX_PAYLOAD_BYTES = 8000
"""PostgreSQL's default limit for a NOTIFY payload (bytes)."""

Scalar = str | int | bool | None


class Kind(StrEnum):
    """What happened to the chat."""

    CHAT_CREATED = "chat.created"
    CHAT_UPDATED = "chat.updated"  # title or labels
    CHAT_ARCHIVED = "chat.archived"
    CHAT_UNARCHIVED = "chat.unarchived"
    CHAT_DELETED = "chat.deleted"
    STATUS_CHANGED = "chat.status"
    PINS_CHANGED = "chat.pins"
    READ_CHANGED = "chat.read"
    DIFF_STATUS_CHANGED = "chat.diff_status"
    MESSAGES_APPENDED = "messages.appended"
    MESSAGES_EDITED = "messages.edited"
    QUEUE_CHANGED = "queue.changed"
    CHAT_PENDING = "chat.pending"


class ChatLike(Protocol):
    """What an event needs from a chat row (``chatdb.db.Chat`` and its row variants)."""

    @property
    def id(self) -> UUID: ...
    @property
    def owner_id(self) -> UUID: ...
    @property
    def organization_id(self) -> UUID: ...
    @property
    def root_chat_id(self) -> UUID | None: ...


@dataclass(frozen=True, slots=True)
class ChatRef:
    """Just where a chat belongs: what an event about it needs."""

    id: UUID
    owner_id: UUID
    organization_id: UUID
    root_chat_id: UUID | None

    @classmethod
    def of(cls, event: Event) -> ChatRef:
        return cls(event.chat_id, event.owner_id, event.organization_id, event.root_chat_id)


@dataclass(frozen=True, slots=True)
class Event:
    """One change to one chat. ``data`` holds only small scalars (see docs/events.md)."""

    kind: Kind
    chat_id: UUID
    owner_id: UUID
    organization_id: UUID
    root_chat_id: UUID | None = None
    data: Mapping[str, Scalar] = field(default_factory=dict)
    version: int = VERSION

    @property
    def channel(self) -> str:
        return PENDING_CHANNEL if self.kind is Kind.CHAT_PENDING else CHANNEL

    @property
    def family_id(self) -> UUID:
        """The chat family's root (the chat itself when it is a root)."""
        return self.root_chat_id or self.chat_id

    @classmethod
    def of(cls, kind: Kind, chat: ChatLike, **data: Scalar) -> Event:
        return cls(kind, chat.id, chat.owner_id, chat.organization_id, chat.root_chat_id, data)


def encode(event: Event) -> str:
    """The NOTIFY payload of ``event`` (compact JSON)."""
    doc: dict[str, object] = {
        "v": event.version,
        "k": event.kind.value,
        "chat": str(event.chat_id),
        "owner": str(event.owner_id),
        "org": str(event.organization_id),
    }
    if event.root_chat_id is not None:
        doc["root"] = str(event.root_chat_id)
    for key, value in event.data.items():
        if not isinstance(value, str | int | bool) and value is not None:
            raise TypeError(f"event data {key!r} must be a scalar, got {type(value).__name__}")
    if event.data:
        doc["d"] = dict(event.data)
    text = json.dumps(doc, separators=(",", ":"))
    if len(text.encode()) >= MAX_PAYLOAD_BYTES:  # unreachable with the builders' scalar fields
        raise ValueError(f"event payload of {len(text)} bytes exceeds the NOTIFY limit")
    return text


def decode(payload: str) -> Event | None:
    """The event in ``payload``; None (logged) for a malformed payload or an unknown version."""
    try:
        doc = json.loads(payload)
        if doc.get("v") != VERSION:
            logger.warning("skipping chat event of unknown version %r", doc.get("v"))
            return None
        root = doc.get("root")
        data = doc.get("d") or {}
        if not isinstance(data, dict):
            raise ValueError("d is not an object")
        return Event(
            Kind(doc["k"]),
            UUID(doc["chat"]),
            UUID(doc["owner"]),
            UUID(doc["org"]),
            UUID(root) if root else None,
            data,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        logger.warning("skipping malformed chat event: %s", exc)
        return None


# ---- builders: one per kind, from the rows the statements returned ---------------------------


def chat_created(chat: ChatLike, status: str) -> list[Event]:
    events = [Event.of(Kind.CHAT_CREATED, chat, status=status)]
    if status == "pending":
        events.append(Event.of(Kind.CHAT_PENDING, chat))
    return events


def chat_updated(chat: ChatLike) -> Event:
    return Event.of(Kind.CHAT_UPDATED, chat)


class ChatWithStatus(ChatLike, Protocol):
    @property
    def status(self) -> str: ...


def family_archived(chats: Sequence[ChatWithStatus], archived: bool) -> list[Event]:
    """One event per chat the archive (or unarchive) statement returned, with its status
    after the statement (archiving stops a running or pending chat)."""
    kind = Kind.CHAT_ARCHIVED if archived else Kind.CHAT_UNARCHIVED
    return [Event.of(kind, chat, status=chat.status) for chat in chats]


def chat_deleted(chat: ChatLike) -> Event:
    return Event.of(Kind.CHAT_DELETED, chat)


def status_changed(chat: ChatLike, status: str, worker_id: UUID | None = None) -> list[Event]:
    """The status event, plus the wake-up for workers when the chat became pending."""
    events = [
        Event.of(
            Kind.STATUS_CHANGED,
            chat,
            status=status,
            worker=None if worker_id is None else str(worker_id),
        )
    ]
    if status == "pending":
        events.append(Event.of(Kind.CHAT_PENDING, chat))
    return events


def pins_changed(chat: ChatLike, pin_order: int) -> Event:
    """The chat's pin changed (its owner's other pins may have been renumbered too)."""
    return Event.of(Kind.PINS_CHANGED, chat, pin_order=pin_order)


def read_changed(chat: ChatLike, last_read_message_id: int | None) -> Event:
    return Event.of(Kind.READ_CHANGED, chat, last_read_message_id=last_read_message_id)


def diff_status_changed(chat: ChatLike) -> Event:
    return Event.of(Kind.DIFF_STATUS_CHANGED, chat)


def messages_appended(chat: ChatLike, message_ids: Sequence[int]) -> list[Event]:
    """New messages: the chat's messages with ``first <= id <= last`` (``count`` of them)."""
    if not message_ids:
        return []
    return [
        Event.of(
            Kind.MESSAGES_APPENDED,
            chat,
            first=min(message_ids),
            last=max(message_ids),
            count=len(message_ids),
        )
    ]


def messages_edited(chat: ChatLike, deleted_from: int) -> Event:
    """Messages with id >= ``deleted_from`` were soft-deleted (the replacement follows)."""
    return Event.of(Kind.MESSAGES_EDITED, chat, deleted_from=deleted_from)


def queue_changed(chat: ChatLike, *, added: int | None = None, removed: int | None = None) -> Event:
    data: dict[str, Scalar] = {}
    if added is not None:
        data["added"] = added
    if removed is not None:
        data["removed"] = removed
    return Event(
        Kind.QUEUE_CHANGED, chat.id, chat.owner_id, chat.organization_id, chat.root_chat_id, data
    )
