"""Authorized subscriptions, the sub-agent await and the blocking worker acquisition.

Subscribing checks the same policy as reading: a chat's events need read on the chat (what
``GetChatByID`` checks); a chat list (``GetChats``, a row filter) is open to every actor, and
shows only chats it may read. The check is made again for every event on delivery, against the
owner and organization the event carries, so an actor stops receiving a chat's events the
moment the chat moves where it may not read it, whatever it was allowed when it subscribed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from typing import TYPE_CHECKING
from uuid import UUID

from chatdb.authz import Action, AuthorizerLike, Object, Subject, current_actor
from chatdb.authz.rbac import default_authorizer
from chatdb.authz.wrapper import AuthzQuerier
from chatdb.db import Chat, ChatStatus, Querier
from chatdb.errors import InvalidInput, NotFound
from chatdb.events.listener import Accept, Listener, Resync, Subscription
from chatdb.events.model import PENDING_CHANNEL, Event, Kind
from chatdb.store import Store
from chatdb.validation import parse_enum

if TYPE_CHECKING:
    from chatdb.ops.workers import Workers

__all__ = ["ChatEvents"]

# The kinds whose data carries the chat's status after the change.
_STATUS_KINDS = frozenset(
    {Kind.STATUS_CHANGED, Kind.CHAT_CREATED, Kind.CHAT_ARCHIVED, Kind.CHAT_UNARCHIVED}
)

# What a wait listens to: a status change, or the chat's deletion (it will never get there).
_WAIT_KINDS = _STATUS_KINDS | {Kind.CHAT_DELETED}


def _subject(actor: Subject | None) -> Subject:
    return current_actor() if actor is None else actor


class ChatEvents:
    """Subscriptions checked against the actor's permissions, over one :class:`Listener`.

    ``poll_interval`` is the slow poll behind the waits while the listener is connected (a
    safety net: events drive them); ``fallback_interval`` is used while it is not.
    """

    def __init__(
        self,
        listener: Listener,
        store: Store[Querier],
        *,
        authorizer: AuthorizerLike | None = None,
        poll_interval: float = 5.0,
        fallback_interval: float = 0.2,
    ) -> None:
        self.listener = listener
        self.store = store
        self.authorizer: AuthorizerLike = (
            authorizer if authorizer is not None else default_authorizer()
        )
        self.poll_interval = poll_interval
        self.fallback_interval = fallback_interval

    # ---- subscriptions --------------------------------------------------------------------

    def _readable(self, subject: Subject, kinds: Collection[Kind] | None) -> Accept:
        authorizer = self.authorizer
        wanted = None if kinds is None else frozenset(kinds)

        def accept(event: Event) -> bool:
            if wanted is not None and event.kind not in wanted:
                return False
            obj = Object.chat(event.chat_id, event.owner_id, event.organization_id)
            return authorizer.allowed(subject, Action.READ, obj)

        return accept

    def get_chat(self, chat_id: UUID, *, actor: Subject | None = None) -> Chat:
        """The chat as ``actor`` may read it (NotFound / NotAuthorized otherwise)."""
        subject = _subject(actor)
        with self.store.querier() as q:
            try:
                return AuthzQuerier(q, self.authorizer, actor=subject).get_chat_by_id(id=chat_id)
            except NotFound:
                raise NotFound("chat", str(chat_id)) from None

    def subscribe_chat(
        self,
        chat_id: UUID,
        *,
        actor: Subject | None = None,
        kinds: Collection[Kind] | None = None,
        maxsize: int | None = None,
    ) -> Subscription:
        """The events of one chat, for an actor that may read it (else NotAuthorized).

        The subscription is in place before the permission read, so a change committed after
        this returns is always delivered.
        """
        subject = _subject(actor)
        if not isinstance(chat_id, UUID):
            raise InvalidInput("chat_id must be a UUID", field="chat_id")
        sub = self.listener.subscribe(
            chat_id=chat_id, accept=self._readable(subject, kinds), maxsize=maxsize
        )
        try:
            self.get_chat(chat_id, actor=subject)
        except BaseException:
            sub.close()
            raise
        return sub

    def subscribe_chat_list(
        self,
        *,
        owner_id: UUID | None = None,
        actor: Subject | None = None,
        kinds: Collection[Kind] | None = None,
        maxsize: int | None = None,
    ) -> Subscription:
        """Events of the chats ``owner_id`` owns (every owner: None) that ``actor`` may read:
        the live counterpart of :meth:`chatdb.ops.Chats.list_chats`."""
        subject = _subject(actor)
        if owner_id is not None and not isinstance(owner_id, UUID):
            raise InvalidInput("owner_id must be a UUID", field="owner_id")
        return self.listener.subscribe(
            owner_id=owner_id, accept=self._readable(subject, kinds), maxsize=maxsize
        )

    def subscribe_pending(self, *, actor: Subject, maxsize: int | None = None) -> Subscription:
        """ "A chat became pending" wake-ups for chats ``actor`` may read (workers: CHATD)."""
        return self.listener.subscribe(
            channels=(PENDING_CHANNEL,), accept=self._readable(actor, None), maxsize=maxsize
        )

    # ---- waiting --------------------------------------------------------------------------

    def _interval(self, remaining: float) -> float:
        step = self.poll_interval if self.listener.connected else self.fallback_interval
        return max(0.0, min(remaining, step))

    @staticmethod
    def _statuses(statuses: Collection[ChatStatus | str]) -> frozenset[ChatStatus]:
        if isinstance(statuses, str) or not statuses:
            raise InvalidInput("statuses must be a non-empty collection", field="statuses")
        return frozenset(parse_enum(ChatStatus, s, "statuses") for s in statuses)

    @staticmethod
    def _may_matter(item: Event | Resync | None, wanted: frozenset[ChatStatus]) -> bool:
        """Whether to re-read the chat after waiting returned ``item``."""
        if not isinstance(item, Event):
            return True  # poll tick, resync or dropped events
        if item.kind is Kind.CHAT_DELETED:
            return True  # the re-read raises NotFound at once, not after the next poll
        return item.data.get("status") in wanted

    def wait_for_chat(
        self,
        chat_id: UUID,
        statuses: Collection[ChatStatus | str],
        *,
        timeout: float,
        actor: Subject | None = None,
    ) -> Chat | None:
        """The chat once its status is one of ``statuses``; None after ``timeout`` seconds.

        Driven by the chat's status events (the sub-agent await), with a slow poll behind
        them and a fast one while the listener is disconnected. Needs read on the chat;
        NotFound when the chat is deleted (retention) while waiting.
        """
        wanted = self._statuses(statuses)
        subject = _subject(actor)
        deadline = time.monotonic() + timeout
        with self.subscribe_chat(chat_id, actor=subject, kinds=_WAIT_KINDS) as sub:
            while True:
                chat = self.get_chat(chat_id, actor=subject)
                if chat.status in wanted:
                    return chat
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    if self._may_matter(sub.get(self._interval(remaining)), wanted):
                        break

    async def wait_for_chat_async(
        self,
        chat_id: UUID,
        statuses: Collection[ChatStatus | str],
        *,
        timeout: float,
        actor: Subject | None = None,
    ) -> Chat | None:
        """The asyncio twin of :meth:`wait_for_chat` (reads run on a worker thread)."""
        wanted = self._statuses(statuses)
        subject = _subject(actor)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        sub = await asyncio.to_thread(
            self.subscribe_chat, chat_id, actor=subject, kinds=_WAIT_KINDS
        )
        with sub:
            while True:
                chat = await asyncio.to_thread(self.get_chat, chat_id, actor=subject)
                if chat.status in wanted:
                    return chat
                while True:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        return None
                    if self._may_matter(await sub.aget(self._interval(remaining)), wanted):
                        break

    def acquire_chats(
        self,
        workers: Workers,
        worker_id: UUID,
        *,
        actor: Subject,
        timeout: float,
        num_chats: int = 1,
    ) -> list[Chat]:
        """:meth:`Workers.acquire_chats`, blocking up to ``timeout`` seconds for a pending
        chat: an idle worker sleeps until a "pending" event (or the slow poll) wakes it."""
        deadline = time.monotonic() + timeout
        with self.subscribe_pending(actor=actor) as sub:
            while True:
                acquired = workers.acquire_chats(worker_id, actor=actor, num_chats=num_chats)
                remaining = deadline - time.monotonic()
                if acquired or remaining <= 0:
                    return acquired
                sub.get(self._interval(remaining))

    async def acquire_chats_async(
        self,
        workers: Workers,
        worker_id: UUID,
        *,
        actor: Subject,
        timeout: float,
        num_chats: int = 1,
    ) -> list[Chat]:
        """The asyncio twin of :meth:`acquire_chats`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        with self.subscribe_pending(actor=actor) as sub:
            while True:
                acquired = await asyncio.to_thread(
                    workers.acquire_chats, worker_id, actor=actor, num_chats=num_chats
                )
                remaining = deadline - loop.time()
                if acquired or remaining <= 0:
                    return acquired
                await sub.aget(self._interval(remaining))
