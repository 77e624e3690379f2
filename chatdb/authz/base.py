"""Runtime of the generated authorization wrappers (``chatdb.authz.wrapper``).

The wrapper holds the plain querier privately: callers only ever see methods that check
first. Objects named by id in a policy (``update chat(id)``) are loaded through the plain
querier — loading is not itself an authorized read — and a missing row is ``NotFound``. A
loaded (or fetched) chat or file is remembered for its connection (``chatdb.authz.objects``),
so naming it again costs no second round trip.
"""

from __future__ import annotations

from typing import Any, TypeVar
from uuid import UUID

from chatdb.authz.context import current_actor
from chatdb.authz.objects import ObjectMemo, memo_for
from chatdb.authz.params import install_checks
from chatdb.authz.rbac import (
    Action,
    AuthorizerLike,
    Object,
    ResourceType,
    Subject,
    default_authorizer,
)
from chatdb.authz.redaction import SecretPath, redact
from chatdb.db import QUERIES, AsyncQuerier, Querier
from chatdb.errors import InvalidActor, NotAuthorized

_QUERY_METHODS = frozenset(info.method for info in QUERIES.values())

__all__ = ["Action", "AsyncAuthzBase", "AuthzBase", "Object", "ResourceType"]

T = TypeVar("T")


class _Common:
    __slots__ = ("_actor_override", "_authz")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Every query method a wrapper class defines checks its arguments first (params.py).
        super().__init_subclass__(**kwargs)
        install_checks(cls, _QUERY_METHODS)

    def __init__(self, authorizer: AuthorizerLike | None, actor: Subject | None) -> None:
        if actor is not None and not isinstance(actor, Subject):
            raise InvalidActor("an authorized querier", actor)
        self._authz: AuthorizerLike = authorizer if authorizer is not None else default_authorizer()
        self._actor_override = actor

    def _actor(self) -> Subject:
        """The explicit actor, else the context's; no actor is refused (fail closed)."""
        if self._actor_override is not None:
            return self._actor_override
        return current_actor()

    @property
    def authorizer(self) -> AuthorizerLike:
        return self._authz

    def _redact(self, subject: Subject, paths: tuple[SecretPath, ...], result: T) -> T:
        """``result`` with the secrets at ``paths`` redacted unless ``subject`` may read them."""
        return redact(self._authz, subject, paths, result)


def _unsupported(type: ResourceType) -> NotAuthorized:
    return NotAuthorized(f"no loader for {type} objects", object=str(type))


def _not_actor(subject: Subject, value: UUID, param: str) -> NotAuthorized:
    return NotAuthorized(
        f"{param} must be the acting user {subject.id}, not {value}", object=f"user:{value}"
    )


def _not_member(owner: UUID, org: UUID) -> NotAuthorized:
    return NotAuthorized(
        f"user {owner} is not a member of organization {org}", object=f"organization:{org}"
    )


class AuthzBase(_Common):
    """Base of ``AuthzQuerier``: the plain querier, the authorizer and object loaders."""

    __slots__ = ("_objects", "_q")

    def __init__(
        self,
        querier: Querier,
        authorizer: AuthorizerLike | None = None,
        *,
        actor: Subject | None = None,
    ) -> None:
        super().__init__(authorizer, actor)
        self._q = querier
        self._objects: ObjectMemo = memo_for(querier)

    def _load(self, type: ResourceType, id: UUID) -> Object:
        known = self._objects.get(type, id)
        if known is not None:
            return known
        if type is ResourceType.CHAT:
            chat = self._q.get_chat_by_id(id=id)
            return self._objects.remember(
                Object(type, chat.id, chat.owner_id, chat.organization_id)
            )
        if type is ResourceType.CHAT_FILE:
            meta = self._q.get_chat_file_owner_by_id(id=id)
            return self._objects.remember(
                Object(type, meta.id, meta.owner_id, meta.organization_id)
            )
        if type is ResourceType.WORKSPACE:
            ws = self._q.get_workspace_owner_by_id(id=id)
            return self._objects.remember(Object(type, ws.id, ws.owner_id, ws.organization_id))
        raise _unsupported(type)

    def _seen(self, obj: Object) -> Object:
        """Remember an object read from a returned row (then naming it costs no load)."""
        return self._objects.remember(obj)

    def _built(self, type: ResourceType, owner: UUID | None, org: UUID | None) -> Object:
        """The object of a `<type>(owner=, org=)` check: its owner must be a member of org."""
        if (
            owner is not None
            and org is not None
            and not self._q.is_organization_member(user_id=owner, organization_id=org).member
        ):
            raise _not_member(owner, org)
        return Object(type, None, owner, org)

    @staticmethod
    def _require_actor(subject: Subject, value: UUID | None, param: str) -> None:
        """`is_actor(<param>)`: NULL or the actor itself; a system subject acts for users."""
        if value is not None and value != subject.id and not subject.is_system:
            raise _not_actor(subject, value, param)

    def with_actor(self, actor: Subject) -> Any:
        """The same querier acting as ``actor``."""
        return type(self)(self._q, self._authz, actor=actor)


class AsyncAuthzBase(_Common):
    """Base of ``AsyncAuthzQuerier``."""

    __slots__ = ("_objects", "_q")

    def __init__(
        self,
        querier: AsyncQuerier,
        authorizer: AuthorizerLike | None = None,
        *,
        actor: Subject | None = None,
    ) -> None:
        super().__init__(authorizer, actor)
        self._q = querier
        self._objects: ObjectMemo = memo_for(querier)

    async def _load(self, type: ResourceType, id: UUID) -> Object:
        known = self._objects.get(type, id)
        if known is not None:
            return known
        if type is ResourceType.CHAT:
            chat = await self._q.get_chat_by_id(id=id)
            return self._objects.remember(
                Object(type, chat.id, chat.owner_id, chat.organization_id)
            )
        if type is ResourceType.CHAT_FILE:
            meta = await self._q.get_chat_file_owner_by_id(id=id)
            return self._objects.remember(
                Object(type, meta.id, meta.owner_id, meta.organization_id)
            )
        if type is ResourceType.WORKSPACE:
            ws = await self._q.get_workspace_owner_by_id(id=id)
            return self._objects.remember(Object(type, ws.id, ws.owner_id, ws.organization_id))
        raise _unsupported(type)

    def _seen(self, obj: Object) -> Object:
        return self._objects.remember(obj)

    async def _built(self, type: ResourceType, owner: UUID | None, org: UUID | None) -> Object:
        if owner is not None and org is not None:
            found = await self._q.is_organization_member(user_id=owner, organization_id=org)
            if not found.member:
                raise _not_member(owner, org)
        return Object(type, None, owner, org)

    _require_actor = staticmethod(AuthzBase._require_actor)

    def with_actor(self, actor: Subject) -> Any:
        return type(self)(self._q, self._authz, actor=actor)
