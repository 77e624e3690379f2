"""SQL-level behaviour of the message queries (SPEC 4.2), through the generated querier."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from chatdb.db import ChatMessage, ChatMessageRole, ChatMessageVisibility, Querier
from chatdb.errors import InvalidValue, NotFound, NotNullViolation
from chatdb.testing.factories import Factories

Conn = psycopg.Connection[Any]

_ARRAYS = (
    "created_by",
    "model_config_id",
    "role",
    "content",
    "content_version",
    "visibility",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "reasoning_tokens",
    "cache_creation_tokens",
    "cache_read_tokens",
    "context_limit",
    "compressed",
    "total_cost_micros",
    "runtime_ms",
    "provider_response_id",
)
_DEFAULTS: dict[str, Any] = {
    "role": ChatMessageRole.USER,
    "content_version": 1,
    "visibility": ChatMessageVisibility.BOTH,
    "compressed": False,
}


def text(value: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": value}]


def insert(q: Querier, chat_id: UUID, *messages: dict[str, Any]) -> list[ChatMessage]:
    """InsertChatMessages with one dict per message (absent keys: defaults or NULL)."""
    arrays = {name: [m.get(name, _DEFAULTS.get(name)) for m in messages] for name in _ARRAYS}
    return q.insert_chat_messages(chat_id=chat_id, **arrays)


def chat_state(conn: Conn, chat_id: UUID) -> tuple[UUID, datetime, str]:
    """(last_model_config_id, updated_at, xmin): xmin changes whenever the row is rewritten."""
    row = conn.execute(
        "SELECT last_model_config_id, updated_at, xmin::text FROM chats WHERE id = %s", (chat_id,)
    ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def message_ids(rows: list[ChatMessage]) -> list[int]:
    return [r.id for r in rows]


# ---- InsertChatMessages ------------------------------------------------------------------


def test_insert_returns_the_batch_in_input_order_with_every_field(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    author = uuid4()
    rows = insert(
        Querier(chatdb_conn),
        chat.id,
        {"role": "system", "content": text("be brief"), "visibility": "model"},
        {"role": "user", "content": text("hi"), "created_by": author},
        {
            "role": "assistant",
            "content": text("hello"),
            "model_config_id": chat.last_model_config_id,
            "input_tokens": 10,
            "output_tokens": 20,
            "total_tokens": 30,
            "reasoning_tokens": 5,
            "cache_creation_tokens": 2,
            "cache_read_tokens": 3,
            "context_limit": 1000,
            "total_cost_micros": 0,
            "runtime_ms": 1234,
            "provider_response_id": "resp_1",
        },
    )
    assert [r.role for r in rows] == ["system", "user", "assistant"]
    assert message_ids(rows) == sorted(message_ids(rows))
    system, user, assistant = rows
    assert system.visibility is ChatMessageVisibility.MODEL
    assert system.content == text("be brief")
    assert user.created_by == author and system.created_by is None
    assert user.input_tokens is None and user.total_cost_micros is None
    assert (assistant.input_tokens, assistant.output_tokens, assistant.total_tokens) == (10, 20, 30)
    assert (assistant.reasoning_tokens, assistant.cache_creation_tokens) == (5, 2)
    assert (assistant.cache_read_tokens, assistant.context_limit) == (3, 1000)
    assert assistant.total_cost_micros == 0  # free, not unpriced
    assert (assistant.runtime_ms, assistant.provider_response_id) == (1234, "resp_1")
    assert all(r.chat_id == chat.id and r.content_version == 1 and not r.deleted for r in rows)
    stored = chatdb_conn.execute(
        "SELECT id FROM chat_messages WHERE chat_id = %s ORDER BY id", (chat.id,)
    ).fetchall()
    assert [r[0] for r in stored] == message_ids(rows)


def test_insert_of_many_messages_keeps_input_order(chatdb_conn: Conn) -> None:
    chat = Factories(chatdb_conn).chat()
    batch = [{"content": text(f"m{i}")} for i in range(40)]
    rows = insert(Querier(chatdb_conn), chat.id, *batch)
    assert [r.content for r in rows] == [text(f"m{i}") for i in range(40)]
    assert message_ids(rows) == sorted(message_ids(rows))


def test_insert_null_visibility_and_compressed_take_the_column_defaults(chatdb_conn: Conn) -> None:
    chat = Factories(chatdb_conn).chat()
    (row,) = insert(Querier(chatdb_conn), chat.id, {"visibility": None, "compressed": None})
    assert row.visibility is ChatMessageVisibility.BOTH
    assert row.compressed is False


def test_insert_allows_null_content(chatdb_conn: Conn) -> None:
    chat = Factories(chatdb_conn).chat()
    (row,) = insert(Querier(chatdb_conn), chat.id, {"role": "assistant", "content": None})
    assert row.content is None


def test_insert_moves_the_chat_to_the_last_non_null_model_of_the_batch(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    first, second = f.chat_model_config(), f.chat_model_config()
    _, updated_before, _ = chat_state(chatdb_conn, chat.id)
    insert(
        Querier(chatdb_conn),
        chat.id,
        {"model_config_id": first.id},
        {"model_config_id": second.id},
        {"model_config_id": None},
    )
    model, updated_after, _ = chat_state(chatdb_conn, chat.id)
    assert model == second.id
    assert updated_after == updated_before  # keeps updated_at


def test_insert_does_not_rewrite_the_chat_when_the_model_is_unchanged(chatdb_conn: Conn) -> None:
    chat = Factories(chatdb_conn).chat()
    before = chat_state(chatdb_conn, chat.id)
    insert(Querier(chatdb_conn), chat.id, {"model_config_id": chat.last_model_config_id})
    assert chat_state(chatdb_conn, chat.id) == before  # same xmin: no UPDATE happened


def test_insert_without_any_model_id_leaves_the_chat_alone(chatdb_conn: Conn) -> None:
    chat = Factories(chatdb_conn).chat()
    before = chat_state(chatdb_conn, chat.id)
    insert(Querier(chatdb_conn), chat.id, {"model_config_id": None}, {"model_config_id": None})
    assert chat_state(chatdb_conn, chat.id) == before


def test_insert_of_an_empty_batch_writes_nothing(chatdb_conn: Conn) -> None:
    chat = Factories(chatdb_conn).chat()
    before = chat_state(chatdb_conn, chat.id)
    assert insert(Querier(chatdb_conn), chat.id) == []
    assert chat_state(chatdb_conn, chat.id) == before


def test_insert_refuses_arrays_of_unequal_length_and_writes_nothing(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    other_model = f.chat_model_config()
    before = chat_state(chatdb_conn, chat.id)
    arrays: dict[str, list[Any]] = {
        name: [_DEFAULTS.get(name)] * 2 for name in _ARRAYS if name != "model_config_id"
    }
    arrays["content"] = [text("a"), text("b")]
    with pytest.raises(InvalidValue, match="same length"):
        Querier(chatdb_conn).insert_chat_messages(
            chat_id=chat.id, model_config_id=[other_model.id], **arrays
        )
    assert chat_state(chatdb_conn, chat.id) == before
    count = chatdb_conn.execute("SELECT count(*) FROM chat_messages").fetchone()
    assert count == (0,)


def test_insert_is_one_statement_so_a_bad_row_undoes_the_model_update(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    other_model = f.chat_model_config()
    before = chat_state(chatdb_conn, chat.id)
    with pytest.raises(NotNullViolation):
        insert(
            Querier(chatdb_conn),
            chat.id,
            {"model_config_id": other_model.id},
            {"content_version": None},  # every insert must state its content version
        )
    assert chat_state(chatdb_conn, chat.id) == before
    count = chatdb_conn.execute("SELECT count(*) FROM chat_messages").fetchone()
    assert count == (0,)


# ---- reads -------------------------------------------------------------------------------


def test_get_message_by_id_hides_soft_deleted_messages(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    live = f.chat_message()
    gone = f.chat_message(chat_id=live.chat_id, deleted=True)
    q = Querier(chatdb_conn)
    assert q.get_chat_message_by_id(id=live.id) == live
    with pytest.raises(NotFound):
        q.get_chat_message_by_id(id=gone.id)


def test_messages_by_chat_id_are_user_visible_live_and_after_the_cursor(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    first = f.chat_message(chat_id=chat.id, visibility="both")
    f.chat_message(chat_id=chat.id, visibility="model")
    second = f.chat_message(chat_id=chat.id, role="assistant", visibility="user")
    f.chat_message(chat_id=chat.id, deleted=True)
    third = f.chat_message(chat_id=chat.id)
    f.chat_message()  # another chat
    q = Querier(chatdb_conn)
    assert message_ids(q.get_chat_messages_by_chat_id(chat_id=chat.id, after_id=0)) == [
        first.id,
        second.id,
        third.id,
    ]
    after = q.get_chat_messages_by_chat_id(chat_id=chat.id, after_id=second.id)
    assert message_ids(after) == [third.id]


def test_desc_pagination_pages_backwards_from_before_id(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    ids = [f.chat_message(chat_id=chat.id).id for _ in range(5)]
    f.chat_message(chat_id=chat.id, visibility="model")
    f.chat_message(chat_id=chat.id, deleted=True)
    q = Querier(chatdb_conn)
    page = q.get_chat_messages_by_chat_id_desc_paginated(chat_id=chat.id, before_id=None, limit=2)
    assert message_ids(page) == [ids[4], ids[3]]
    page = q.get_chat_messages_by_chat_id_desc_paginated(chat_id=chat.id, before_id=ids[3], limit=2)
    assert message_ids(page) == [ids[2], ids[1]]
    page = q.get_chat_messages_by_chat_id_desc_paginated(chat_id=chat.id, before_id=ids[1], limit=2)
    assert message_ids(page) == [ids[0]]


def test_desc_pagination_limit_zero_means_fifty(chatdb_conn: Conn) -> None:
    chat = Factories(chatdb_conn).chat()
    q = Querier(chatdb_conn)
    inserted = insert(q, chat.id, *({"content": text(str(i))} for i in range(55)))
    page = q.get_chat_messages_by_chat_id_desc_paginated(chat_id=chat.id, before_id=None, limit=0)
    assert message_ids(page) == message_ids(inserted)[::-1][:50]


def test_last_message_by_role_is_the_newest_live_one(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    older = f.chat_message(chat_id=chat.id, role="assistant")
    f.chat_message(chat_id=chat.id, role="user")
    f.chat_message(chat_id=chat.id, role="assistant", deleted=True)
    q = Querier(chatdb_conn)
    got = q.get_last_chat_message_by_role(chat_id=chat.id, role=ChatMessageRole.ASSISTANT)
    assert got.id == older.id
    with pytest.raises(NotFound):
        q.get_last_chat_message_by_role(chat_id=chat.id, role=ChatMessageRole.TOOL)


# ---- prompt assembly ---------------------------------------------------------------------


def prompt_ids(conn: Conn, chat_id: UUID) -> list[int]:
    return message_ids(Querier(conn).get_chat_messages_for_prompt_by_chat_id(chat_id=chat_id))


def test_prompt_without_summary_is_every_model_visible_live_message(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    system = f.chat_message(chat_id=chat.id, role="system", visibility="model")
    user = f.chat_message(chat_id=chat.id, role="user", visibility="both")
    f.chat_message(chat_id=chat.id, role="user", visibility="user")  # UI only
    f.chat_message(chat_id=chat.id, role="user", deleted=True)
    reply = f.chat_message(chat_id=chat.id, role="assistant", visibility="both")
    f.chat_message(role="user")  # another chat
    assert prompt_ids(chatdb_conn, chat.id) == [system.id, user.id, reply.id]


def test_prompt_after_compaction_is_system_prompts_summary_and_what_follows(
    chatdb_conn: Conn,
) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    system = f.chat_message(chat_id=chat.id, role="system", visibility="model")
    f.chat_message(chat_id=chat.id, role="user")
    f.chat_message(chat_id=chat.id, role="assistant")
    # The compaction step itself: compressed, not model-only, never in the prompt.
    f.chat_message(chat_id=chat.id, role="assistant", compressed=True, visibility="user")
    f.chat_message(chat_id=chat.id, role="tool", compressed=True, visibility="both")
    summary = f.chat_message(chat_id=chat.id, role="user", compressed=True, visibility="model")
    after = f.chat_message(chat_id=chat.id, role="user")
    f.chat_message(chat_id=chat.id, role="user", visibility="user")
    assert prompt_ids(chatdb_conn, chat.id) == [system.id, summary.id, after.id]


def test_prompt_uses_only_the_newest_summary(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    system = f.chat_message(chat_id=chat.id, role="system", visibility="model")
    f.chat_message(chat_id=chat.id, role="user", compressed=True, visibility="model")
    f.chat_message(chat_id=chat.id, role="user")
    newest = f.chat_message(chat_id=chat.id, role="user", compressed=True, visibility="model")
    after = f.chat_message(chat_id=chat.id, role="assistant")
    late_system = f.chat_message(chat_id=chat.id, role="system", visibility="both")
    assert prompt_ids(chatdb_conn, chat.id) == [system.id, newest.id, after.id, late_system.id]


def test_prompt_ignores_a_soft_deleted_summary(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    summary = f.chat_message(chat_id=chat.id, role="user", compressed=True, visibility="model")
    middle = f.chat_message(chat_id=chat.id, role="user")
    f.chat_message(chat_id=chat.id, role="user", compressed=True, visibility="model", deleted=True)
    last = f.chat_message(chat_id=chat.id, role="assistant")
    assert prompt_ids(chatdb_conn, chat.id) == [summary.id, middle.id, last.id]


# ---- soft deletes ------------------------------------------------------------------------


def deleted_flags(conn: Conn, chat_id: UUID) -> list[bool]:
    rows = conn.execute(
        "SELECT deleted FROM chat_messages WHERE chat_id = %s ORDER BY id", (chat_id,)
    ).fetchall()
    return [r[0] for r in rows]


def test_soft_delete_after_id_marks_only_later_messages_of_that_chat(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    msgs = [f.chat_message(chat_id=chat.id) for _ in range(4)]
    other = f.chat_message()
    Querier(chatdb_conn).soft_delete_chat_messages_after_id(chat_id=chat.id, after_id=msgs[1].id)
    assert deleted_flags(chatdb_conn, chat.id) == [False, False, True, True]
    assert deleted_flags(chatdb_conn, other.chat_id) == [False]


def test_soft_delete_by_id_keeps_the_row(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    keep = f.chat_message(chat_id=chat.id)
    drop = f.chat_message(chat_id=chat.id, total_cost_micros=42)
    Querier(chatdb_conn).soft_delete_chat_message_by_id(id=drop.id)
    assert deleted_flags(chatdb_conn, chat.id) == [False, True]
    cost = chatdb_conn.execute(
        "SELECT total_cost_micros FROM chat_messages WHERE id = %s", (drop.id,)
    ).fetchone()
    assert cost == (42,)  # still there for cost accounting
    assert Querier(chatdb_conn).get_chat_message_by_id(id=keep.id).id == keep.id


def test_soft_delete_context_file_messages_only_hits_context_file_parts(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    context_part = {"type": "context-file", "path": "/repo/AGENTS.md", "truncated": False}
    f.chat_message(chat_id=chat.id, role="user", content=[context_part])
    f.chat_message(chat_id=chat.id, role="user", content=[*text("see"), context_part])
    f.chat_message(chat_id=chat.id, role="user", content=text("context-file"))
    f.chat_message(chat_id=chat.id, role="user", content="context-file", content_version=0)
    f.chat_message(chat_id=chat.id, role="user", content=None)
    other = f.chat_message(role="user", content=[context_part])
    Querier(chatdb_conn).soft_delete_context_file_messages(chat_id=chat.id)
    assert deleted_flags(chatdb_conn, chat.id) == [True, True, False, False, False]
    assert deleted_flags(chatdb_conn, other.chat_id) == [False]


# ---- prompt history ----------------------------------------------------------------------


def test_user_prompts_concatenate_text_parts_newest_first(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    file_part = {"type": "file", "file_id": str(uuid4()), "media_type": "image/png"}
    first = f.chat_message(chat_id=chat.id, role="user", content=text("first"))
    f.chat_message(chat_id=chat.id, role="assistant", content=text("reply"))
    f.chat_message(chat_id=chat.id, role="user", content=text(" \n\t "))  # blank
    f.chat_message(chat_id=chat.id, role="user", content=[file_part])  # no text at all
    f.chat_message(chat_id=chat.id, role="user", content="legacy", content_version=0)
    f.chat_message(chat_id=chat.id, role="user", content=text("hidden"), visibility="model")
    f.chat_message(chat_id=chat.id, role="user", content=text("edited away"), deleted=True)
    second = f.chat_message(
        chat_id=chat.id,
        role="user",
        content=[*text("look at "), file_part, *text("this")],
    )
    f.chat_message(role="user", content=text("other chat"))
    prompts = Querier(chatdb_conn).get_chat_user_prompts_by_chat_id(chat_id=chat.id, limit=0)
    assert [(p.id, p.text) for p in prompts] == [(second.id, "look at this"), (first.id, "first")]


def test_user_prompts_limit_and_default_of_500(chatdb_conn: Conn) -> None:
    chat = Factories(chatdb_conn).chat()
    q = Querier(chatdb_conn)
    inserted = insert(q, chat.id, *({"content": text(f"p{i}")} for i in range(501)))
    newest_first = message_ids(inserted)[::-1]
    limited = q.get_chat_user_prompts_by_chat_id(chat_id=chat.id, limit=3)
    assert [p.id for p in limited] == newest_first[:3]
    assert [p.text for p in limited] == ["p500", "p499", "p498"]
    default = q.get_chat_user_prompts_by_chat_id(chat_id=chat.id, limit=0)
    assert [p.id for p in default] == newest_first[:500]
