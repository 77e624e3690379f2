"""The current actor, carried implicitly through calls (and asyncio tasks) by a ContextVar.

Fail closed: with no actor set, :func:`current_actor` raises NotAuthorized rather than
falling back to anyone. asyncio tasks copy the context when created, so a task started inside
``as_actor`` keeps that actor, and changes inside a task never leak out of it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

from chatdb.authz.rbac import Subject
from chatdb.errors import InvalidActor, NotAuthorized

_actor: ContextVar[Subject | None] = ContextVar("chatdb_actor", default=None)


@contextlib.contextmanager
def as_actor(subject: Subject) -> Iterator[Subject]:
    """Run the block as ``subject``; nests, and restores the previous actor on exit."""
    if not isinstance(subject, Subject):
        raise InvalidActor("as_actor", subject)
    token = _actor.set(subject)
    try:
        yield subject
    finally:
        _actor.reset(token)


def current_actor() -> Subject:
    """The actor of the running context; NotAuthorized("no actor") when there is none."""
    subject = _actor.get()
    if subject is None:
        raise NotAuthorized("no actor")
    return subject


def current_actor_or_none() -> Subject | None:
    """The actor if one is set (for code that passes it on to a check that refuses None)."""
    return _actor.get()
