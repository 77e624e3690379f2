"""Plumbing shared by the workflows: actor resolution, the authorized transaction, messages.

Every workflow runs in one ``store.in_tx`` transaction and does all its reads and writes
through an :class:`~chatdb.authz.wrapper.AuthzQuerier` bound to the actor, so each step is
authorized and a refusal anywhere rolls the whole unit back. ``in_tx`` may re-run the body
after a serialization failure or deadlock, so bodies only touch the database.

Workflows record what they changed as events (:mod:`chatdb.events`) with :meth:`Tx.emit`; the
unit publishes them as its last statement, so they are delivered on commit and never for a
rolled-back (or retried) attempt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar
from uuid import UUID

from pydantic import BaseModel

from chatdb.authz import Action, AuthorizerLike, Object, Subject, current_actor
from chatdb.authz.rbac import default_authorizer
from chatdb.authz.wrapper import AuthzQuerier
from chatdb.content import CURRENT_VERSION, FilePart, Part, TextPart, dump_content, parse_parts
from chatdb.db import (
    JSON,
    Chat,
    ChatMessage,
    ChatMessageRole,
    ChatMessageVisibility,
    ChatStatus,
    Querier,
)
from chatdb.errors import (
    ChatArchived,
    Conflict,
    InvalidActor,
    InvalidInput,
    NotAuthorized,
    NotFound,
)
from chatdb.events import model as ev
from chatdb.events.publish import publish
from chatdb.store import Store

T = TypeVar("T")

UserContent = str | Sequence[Part | Mapping[str, object]]
"""A user message: plain text, or v1 parts (models or their JSON form)."""

IDLE_STATUSES = frozenset(
    {ChatStatus.WAITING, ChatStatus.COMPLETED, ChatStatus.ERROR, ChatStatus.PAUSED}
)
"""No run in progress: a new message is admitted at once."""

BUSY_STATUSES = frozenset({ChatStatus.PENDING, ChatStatus.RUNNING, ChatStatus.REQUIRES_ACTION})
"""A run is queued, running, or waiting for client tool results."""

_USER_PART_TYPES = (TextPart, FilePart)

MAX_FILE_LINKS_PER_CHAT = 1000
"""How many files one chat may have linked (LinkChatFiles refuses the batch beyond it)."""


def cited_file_ids(parts: Sequence[Part]) -> list[UUID]:
    """The files a message cites (its file parts), each once, in order."""
    return list(dict.fromkeys(p.file_id for p in parts if isinstance(p, FilePart)))


def resolve_actor(actor: Subject | None) -> Subject:
    """The explicit actor, else the context's; none is refused (NotAuthorized, fail closed)."""
    if actor is None:
        return current_actor()
    if not isinstance(actor, Subject):
        raise InvalidActor("actor", actor)
    return actor


def explicit_actor(actor: Subject) -> Subject:
    """Background jobs name their actor: no fallback to the context, or to a system subject."""
    if actor is None:
        raise NotAuthorized("background jobs need an explicit actor (e.g. CHATD, DBPURGE)")
    return actor


def aware_datetime(value: datetime | None, field: str) -> datetime:
    """``value`` (now when None), refused unless it is a timezone-aware datetime."""
    if value is None:
        return datetime.now(UTC)
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInput(f"{field} must be a timezone-aware datetime", field=field)
    return value


def person_id(actor: Subject) -> UUID | None:
    """The actor's user id when it is a person (system subjects author nothing)."""
    return None if actor.is_system else actor.id


def parse_user_content(content: object, field: str = "content") -> list[Part]:
    """A user message's parts: text and file parts only, and not blank."""
    if isinstance(content, str):
        parts: list[Part] = [TextPart(text=content)]
    elif isinstance(content, Sequence):
        raw = [
            p.model_dump(mode="json", exclude_none=True) if isinstance(p, BaseModel) else p
            for p in content
        ]
        parts = parse_parts(raw)
    else:
        raise InvalidInput(
            f"{field} must be text or a list of parts, got {type(content).__name__}", field=field
        )
    for part in parts:
        if not isinstance(part, _USER_PART_TYPES):
            raise InvalidInput(
                f"a user message may only carry text and file parts, not {part.type!r}",
                field=field,
            )
    if not any(
        isinstance(p, FilePart) or (isinstance(p, TextPart) and p.text.strip()) for p in parts
    ):
        raise InvalidInput("message content is empty", field=field)
    return parts


def text_content(text: str) -> JSON:
    """Version-1 content holding one text part."""
    return dump_content([TextPart(text=text)])


@dataclass(frozen=True, slots=True)
class NewMessage:
    """One row for ``InsertChatMessages``; usage columns stay NULL (workflows write no usage)."""

    role: ChatMessageRole
    content: JSON
    content_version: int = CURRENT_VERSION
    visibility: ChatMessageVisibility = ChatMessageVisibility.BOTH
    model_config_id: UUID | None = None
    created_by: UUID | None = None

    @classmethod
    def of_parts(
        cls,
        role: ChatMessageRole,
        parts: Sequence[Part],
        *,
        visibility: ChatMessageVisibility = ChatMessageVisibility.BOTH,
        model_config_id: UUID | None = None,
        created_by: UUID | None = None,
    ) -> NewMessage:
        return cls(
            role, dump_content(parts), CURRENT_VERSION, visibility, model_config_id, created_by
        )


class Tx:
    """One workflow transaction: the authorized querier, its actor, and common steps."""

    __slots__ = ("_chats", "actor", "authorizer", "events", "q")

    def __init__(self, q: AuthzQuerier, actor: Subject, authorizer: AuthorizerLike) -> None:
        self.q = q
        self.actor = actor
        self.authorizer = authorizer
        self.events: list[ev.Event] = []
        # Where each chat this transaction touched belongs (owner, organization, family):
        # what an event about it needs, without reading the chat again.
        self._chats: dict[UUID, ev.ChatLike] = {}

    def emit(self, *new: ev.Event | list[ev.Event]) -> None:
        """Record events of this transaction (published just before it commits)."""
        for item in new:
            for event in item if isinstance(item, list) else [item]:
                self.events.append(event)
                self._chats.setdefault(event.chat_id, ev.ChatRef.of(event))

    def _seen(self, chat: Chat) -> Chat:
        self._chats[chat.id] = chat
        return chat

    def lock_chat(self, chat_id: UUID) -> Chat:
        """Lock the chat row (GetChatByIDForUpdate) and check the actor may update it.

        Checking update at once makes a read-only actor fail before any state check, so it
        never learns more than a read would tell it.
        """
        try:
            chat = self.q.get_chat_by_id_for_update(id=chat_id)
        except NotFound:
            raise NotFound("chat", str(chat_id)) from None
        self.authorizer.authorize(
            self.actor, Action.UPDATE, Object.chat(chat.id, chat.owner_id, chat.organization_id)
        )
        return self._seen(chat)

    def lock_owner_pins(self, chat_id: UUID) -> None:
        """Serialize with every other change to the pins of the chat's owner.

        Call it first, before :meth:`lock_chat`: pin, unpin, reorder and archive all take
        this lock and then the chat row, always in that order, so they neither deadlock nor
        renumber pins from a stale snapshot (LockChatOwnerPins).
        """
        try:
            self.q.lock_chat_owner_pins(id=chat_id)
        except NotFound:
            raise NotFound("chat", str(chat_id)) from None

    def lock_live_chat(self, chat_id: UUID) -> Chat:
        """:meth:`lock_chat`, refusing an archived chat (ChatArchived)."""
        chat = self.lock_chat(chat_id)
        if chat.archived:
            raise ChatArchived(chat.id)
        return chat

    def get_chat(self, chat_id: UUID) -> Chat:
        try:
            return self._seen(self.q.get_chat_by_id(id=chat_id))
        except NotFound:
            raise NotFound("chat", str(chat_id)) from None

    def model_usable(self, model_config_id: UUID | None) -> bool:
        """Whether the model config exists, is enabled and not deleted."""
        if model_config_id is None:
            return False
        return self.q.is_chat_model_config_usable(id=model_config_id).usable

    def require_model(self, model_config_id: UUID) -> UUID:
        if not self.model_usable(model_config_id):
            raise InvalidInput(
                f"model config {model_config_id} does not exist, is disabled or is deleted",
                field="model_config_id",
            )
        return model_config_id

    def insert_messages(self, chat_id: UUID, messages: Sequence[NewMessage]) -> list[ChatMessage]:
        """One ``InsertChatMessages`` statement for the batch (rows in input order)."""
        if not messages:
            return []
        nulls: list[int | None] = [None] * len(messages)
        rows = self.q.insert_chat_messages(
            chat_id=chat_id,
            created_by=[m.created_by for m in messages],
            model_config_id=[m.model_config_id for m in messages],
            role=[m.role for m in messages],
            content=[m.content for m in messages],
            content_version=[m.content_version for m in messages],
            visibility=[m.visibility for m in messages],
            input_tokens=nulls,
            output_tokens=nulls,
            total_tokens=nulls,
            reasoning_tokens=nulls,
            cache_creation_tokens=nulls,
            cache_read_tokens=nulls,
            context_limit=nulls,
            compressed=[False] * len(messages),
            total_cost_micros=nulls,
            runtime_ms=nulls,
            provider_response_id=[None] * len(messages),
        )
        chat = self._chats.get(chat_id) or self.get_chat(chat_id)
        self.emit(ev.messages_appended(chat, [m.id for m in rows]))
        return rows

    def link_cited_files(self, chat: Chat, parts: Sequence[Part]) -> None:
        """Link the files a message cites to its chat, in the caller's transaction.

        The actor must be allowed to read each file (LinkChatFiles checks read on every id:
        NotAuthorized for someone else's file, NotFound for one that does not exist), and a
        file must belong to the chat's organization (a chat never crosses organizations).
        Already linked files are skipped; beyond MAX_FILE_LINKS_PER_CHAT nothing is linked
        (Conflict). Any refusal aborts the whole workflow, so nothing is written.
        """
        ids = cited_file_ids(parts)
        if not ids:
            return
        try:
            row = self.q.link_chat_files(
                chat_id=chat.id, file_ids=ids, max_links=MAX_FILE_LINKS_PER_CHAT
            )
        except NotFound:
            # Files are checked in order, so the missing one is the first not readable.
            readable = {m.id for m in self.q.get_chat_file_metadata_by_ids(ids=ids)}
            missing = next((i for i in ids if i not in readable), None)
            raise NotFound("chat file", str(missing)) from None
        if row.refused:
            raise Conflict(
                f"chat {chat.id} would have more than {MAX_FILE_LINKS_PER_CHAT} linked files"
            )
        for meta in self.q.get_chat_file_metadata_by_ids(ids=ids):
            if meta.organization_id != chat.organization_id:
                raise InvalidInput(
                    f"file {meta.id} belongs to another organization than chat {chat.id}",
                    field="content",
                )

    def select_mcp_servers(self, chat: Chat, mcp_server_ids: list[UUID] | None) -> Chat:
        """Apply a per-message MCP server selection to the chat (None: no change).

        Written in the caller's transaction; a selection equal to the current one writes
        nothing (updated_at stays).
        """
        if mcp_server_ids is None or list(chat.mcp_server_ids) == mcp_server_ids:
            return chat
        updated = self.q.update_chat_mcp_server_ids(id=chat.id, mcp_server_ids=mcp_server_ids)
        self.emit(ev.chat_updated(updated))
        return updated

    def set_pending(self, chat_id: UUID) -> Chat:
        """Queue the chat for a run: pending, no worker, no error.

        A worker running it sees the chat vanish from its heartbeat (it is no longer
        ``running`` under that worker) and stops: this is how an interrupt reaches it.
        """
        chat = self.q.update_chat_status(
            id=chat_id,
            status=ChatStatus.PENDING,
            worker_id=None,
            started_at=None,
            heartbeat_at=None,
            last_error=None,
        )
        self.emit(ev.status_changed(chat, chat.status))
        return self._seen(chat)


class Workflows:
    """Base of the workflow services: a Store of plain queriers and an authorizer.

    ``authorizer=None`` uses the built-in RBAC (:func:`chatdb.authz.default_authorizer`).
    ``events=False`` publishes no events (:mod:`chatdb.events`).
    """

    def __init__(
        self,
        store: Store[Querier],
        *,
        authorizer: AuthorizerLike | None = None,
        events: bool = True,
    ) -> None:
        self.store = store
        self.authorizer: AuthorizerLike = (
            authorizer if authorizer is not None else default_authorizer()
        )
        self.publish_events = events

    def _run(self, actor: Subject | None, body: Callable[[Tx], T]) -> T:
        """Run ``body`` in one transaction as the resolved actor (refused when there is none)."""
        subject = resolve_actor(actor)

        def unit(q: Querier) -> T:
            tx = Tx(AuthzQuerier(q, self.authorizer, actor=subject), subject, self.authorizer)
            result = body(tx)
            if tx.events and self.publish_events:
                with self.store.connection() as conn:  # this transaction's connection
                    publish(conn, tx.events)
            return result

        # Pipelined (Store._pipelined): the transaction waits once per statement whose result
        # it reads, plus once to commit; BEGIN goes with the first read, the events' NOTIFY and
        # unread writes with COMMIT. 1-4 round trips fewer per workflow (issue 11's targets,
        # pinned in tests/ops/test_ops_statements.py); `make bench BENCH_ARGS="-k workflows"`
        # measures both ways (README "Benchmarks").
        return self.store.in_tx(unit, pipeline=True)
