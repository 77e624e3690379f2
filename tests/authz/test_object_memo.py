"""One round trip per authorized call: a chat's identity is loaded once per connection.

A policy naming a chat by id (``update chat(id)``) needs its owner and organization. The
wrapper remembers them per connection, which is only right because they never change: the
database refuses to change them, and these tests prove both halves.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from chatdb.authz import CHAT_ACCESS, MEMBER, Object, ResourceType, Subject
from chatdb.authz.objects import ObjectMemo
from chatdb.authz.wrapper import AuthzQuerier
from chatdb.db import Querier
from chatdb.errors import CheckViolation, NotAuthorized, NotFound, classify
from chatdb.testing.factories import Factories
from chatdb.testing.statements import count_statements


def _member(f: Factories, org_id: UUID) -> Subject:
    user = f.user(organization_id=org_id, rbac_roles=[CHAT_ACCESS])
    return Subject(
        id=user.id, name=user.username, site_roles=[MEMBER, CHAT_ACCESS], memberships={org_id}
    )


@pytest.fixture
def owner_and_chat(chatdb_factories: Factories) -> tuple[Subject, UUID]:
    org = chatdb_factories.organization()
    owner = _member(chatdb_factories, org.id)
    chat = chatdb_factories.chat(owner_id=owner.id, organization_id=org.id)
    return owner, chat.id


def _update(conn: psycopg.Connection[Any], column: str, table: str, value: UUID) -> None:
    try:
        conn.execute(f"UPDATE {table} SET {column} = %s", (value,))
    except psycopg.Error as exc:
        raise classify(exc) from exc


@pytest.mark.parametrize("table", ["chats", "chat_files"])
@pytest.mark.parametrize("column", ["owner_id", "organization_id"])
def test_the_database_refuses_to_change_who_owns_a_chat_or_file(
    chatdb_conn: psycopg.Connection[Any], chatdb_factories: Factories, table: str, column: str
) -> None:
    f = chatdb_factories
    chat = f.chat()
    f.chat_file(owner_id=chat.owner_id, organization_id=chat.organization_id)
    other = f.user(organization_id=f.organization().id)
    new_value = other.id if column == "owner_id" else f.organization().id
    with pytest.raises(CheckViolation) as caught:
        _update(chatdb_conn, column, table, new_value)
    assert caught.value.constraint == f"{table}_identity_immutable"
    # Writing the same value (as an UPDATE listing every column does) is not a change.
    chatdb_conn.execute(f"UPDATE {table} SET {column} = {column}")


def test_a_chat_named_again_on_the_same_connection_costs_one_statement(
    chatdb_conn: psycopg.Connection[Any], owner_and_chat: tuple[Subject, UUID]
) -> None:
    owner, chat_id = owner_and_chat
    q = AuthzQuerier(Querier(chatdb_conn), actor=owner)
    with count_statements(chatdb_conn) as first:
        q.update_chat_title_by_id(id=chat_id, title="one")
    with count_statements(chatdb_conn) as second:
        q.update_chat_title_by_id(id=chat_id, title="two")
    assert len(first) == 2  # the load, then the update
    assert len(second) == 1
    # A new wrapper over the same connection (a new transaction of a workflow) remembers too.
    with count_statements(chatdb_conn) as third:
        AuthzQuerier(Querier(chatdb_conn), actor=owner).update_chat_title_by_id(
            id=chat_id, title="three"
        )
    assert len(third) == 1


def test_a_fetched_chat_is_not_loaded_again_in_the_transaction(
    chatdb_conn: psycopg.Connection[Any], owner_and_chat: tuple[Subject, UUID]
) -> None:
    owner, _ = owner_and_chat
    f = Factories(chatdb_conn)
    chat = f.chat(owner_id=owner.id, organization_id=next(iter(owner.memberships)))
    q = AuthzQuerier(Querier(chatdb_conn), actor=owner)
    with count_statements(chatdb_conn) as sent, chatdb_conn.transaction():
        q.get_chat_by_id_for_update(id=chat.id)
        q.update_chat_title_by_id(id=chat.id, title="locked, then renamed")
    # BEGIN, the locking SELECT, the UPDATE, COMMIT: no load of the chat before the UPDATE.
    assert len(sent) == 4
    assert sent.round_trips == 4


def test_remembering_a_chat_decides_nothing_for_another_actor(
    chatdb_conn: psycopg.Connection[Any],
    chatdb_factories: Factories,
    owner_and_chat: tuple[Subject, UUID],
) -> None:
    owner, chat_id = owner_and_chat
    stranger = _member(chatdb_factories, next(iter(owner.memberships)))
    plain = Querier(chatdb_conn)
    AuthzQuerier(plain, actor=owner).update_chat_title_by_id(id=chat_id, title="mine")
    with pytest.raises(NotAuthorized):
        AuthzQuerier(plain, actor=stranger).update_chat_title_by_id(id=chat_id, title="theirs")
    assert plain.get_chat_by_id(id=chat_id).title == "mine"


def test_a_remembered_chat_that_was_deleted_is_still_not_found(
    chatdb_conn: psycopg.Connection[Any], owner_and_chat: tuple[Subject, UUID]
) -> None:
    owner, chat_id = owner_and_chat
    q = AuthzQuerier(Querier(chatdb_conn), actor=owner)
    q.update_chat_title_by_id(id=chat_id, title="soon gone")
    chatdb_conn.execute("DELETE FROM chats WHERE id = %s", (chat_id,))
    with pytest.raises(NotFound):
        q.update_chat_title_by_id(id=chat_id, title="too late")


def test_each_connection_has_its_own_memory(
    chatdb_dsn: str, chatdb_conn: psycopg.Connection[Any], owner_and_chat: tuple[Subject, UUID]
) -> None:
    owner, chat_id = owner_and_chat
    AuthzQuerier(Querier(chatdb_conn), actor=owner).update_chat_title_by_id(id=chat_id, title="a")
    with psycopg.connect(chatdb_dsn, autocommit=True) as other, count_statements(other) as sent:
        AuthzQuerier(Querier(other), actor=owner).update_chat_title_by_id(id=chat_id, title="b")
    assert len(sent) == 2


def test_the_memory_is_bounded_and_keeps_only_immutable_identities() -> None:
    memo = ObjectMemo(max_objects=3)
    chats = [Object(ResourceType.CHAT, uuid4(), uuid4(), uuid4()) for _ in range(5)]
    for obj in chats:
        memo.remember(obj)
    assert len(memo) == 3
    assert memo.get(ResourceType.CHAT, chats[0].id) is None  # type: ignore[arg-type]
    assert memo.get(ResourceType.CHAT, chats[4].id) is chats[4]  # type: ignore[arg-type]
    user = Object(ResourceType.USER, uuid4(), uuid4(), None)
    memo.remember(user)
    assert memo.get(ResourceType.USER, user.id) is None  # type: ignore[arg-type]
