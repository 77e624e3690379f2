"""SQL-level behaviour of the queued-message queries (SPEC 4.3)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
import pytest

from chatdb.db import Querier
from chatdb.errors import ForeignKeyViolation, NotFound
from chatdb.testing.factories import Factories

Conn = psycopg.Connection[Any]


def text(value: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": value}]


def queue_ids(conn: Conn, chat_id: UUID) -> list[int]:
    return [m.id for m in Querier(conn).get_chat_queued_messages(chat_id=chat_id)]


def test_insert_appends_with_the_chosen_model_or_none(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    q = Querier(chatdb_conn)
    first = q.insert_chat_queued_message(
        chat_id=chat.id, content=text("one"), model_config_id=chat.last_model_config_id
    )
    second = q.insert_chat_queued_message(
        chat_id=chat.id, content=text("two"), model_config_id=None
    )
    assert (first.chat_id, first.content, first.model_config_id) == (
        chat.id,
        text("one"),
        chat.last_model_config_id,
    )
    assert second.model_config_id is None
    assert second.id > first.id
    assert q.get_chat_queued_messages(chat_id=chat.id) == [first, second]


def test_insert_into_a_missing_chat_is_a_foreign_key_violation(chatdb_conn: Conn) -> None:
    with pytest.raises(ForeignKeyViolation) as err:
        Querier(chatdb_conn).insert_chat_queued_message(
            chat_id=UUID(int=1), content=text("x"), model_config_id=None
        )
    assert err.value.constraint == "chat_queued_messages_chat_id_fkey"


def test_queue_is_fifo_and_per_chat(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    ids = [f.chat_queued_message(chat_id=chat.id).id for _ in range(3)]
    f.chat_queued_message()  # another chat's queue
    assert queue_ids(chatdb_conn, chat.id) == ids


def test_delete_is_scoped_to_the_chat(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    mine = f.chat_queued_message(chat_id=chat.id)
    theirs = f.chat_queued_message()
    q = Querier(chatdb_conn)
    q.delete_chat_queued_message(id=theirs.id, chat_id=chat.id)
    assert queue_ids(chatdb_conn, theirs.chat_id) == [theirs.id]
    q.delete_chat_queued_message(id=mine.id, chat_id=chat.id)
    assert queue_ids(chatdb_conn, chat.id) == []


def test_delete_all_empties_only_that_chat(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    f.chat_queued_message(chat_id=chat.id)
    f.chat_queued_message(chat_id=chat.id)
    other = f.chat_queued_message()
    Querier(chatdb_conn).delete_all_chat_queued_messages(chat_id=chat.id)
    assert queue_ids(chatdb_conn, chat.id) == []
    assert queue_ids(chatdb_conn, other.chat_id) == [other.id]


def test_pop_removes_and_returns_the_oldest_until_empty(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    first = f.chat_queued_message(chat_id=chat.id, content=text("1"))
    second = f.chat_queued_message(chat_id=chat.id, model_config_id=chat.last_model_config_id)
    other = f.chat_queued_message()
    q = Querier(chatdb_conn)
    assert q.pop_next_queued_message(chat_id=chat.id) == first
    assert queue_ids(chatdb_conn, chat.id) == [second.id]
    assert q.pop_next_queued_message(chat_id=chat.id) == second
    with pytest.raises(NotFound):
        q.pop_next_queued_message(chat_id=chat.id)
    assert queue_ids(chatdb_conn, other.chat_id) == [other.id]


def test_concurrent_pops_never_return_the_same_message(chatdb_conn: Conn, chatdb_dsn: str) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    first = f.chat_queued_message(chat_id=chat.id)
    second = f.chat_queued_message(chat_id=chat.id)
    chatdb_conn.execute("SET lock_timeout = '2s'")  # a pop that waited would fail, not hang
    with psycopg.connect(chatdb_dsn) as other:  # not autocommit: holds its lock until commit
        assert Querier(other).pop_next_queued_message(chat_id=chat.id) == first
        # The first row is locked by the open transaction: this pop skips it, without waiting.
        assert Querier(chatdb_conn).pop_next_queued_message(chat_id=chat.id) == second
        with pytest.raises(NotFound):
            Querier(chatdb_conn).pop_next_queued_message(chat_id=chat.id)
        other.commit()
    assert queue_ids(chatdb_conn, chat.id) == []


def test_a_rolled_back_pop_leaves_the_message_queued(chatdb_conn: Conn, chatdb_dsn: str) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    queued = f.chat_queued_message(chat_id=chat.id)
    with psycopg.connect(chatdb_dsn) as other:
        assert Querier(other).pop_next_queued_message(chat_id=chat.id) == queued
        other.rollback()
    assert queue_ids(chatdb_conn, chat.id) == [queued.id]
