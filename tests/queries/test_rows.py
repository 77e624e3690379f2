"""Rows of the generated querier equal the rows the dataclass constructor builds (issue 11
item 5), and the JSON loader behind them is json.loads in everything but speed.

The generated code builds rows with ``new_<Class>`` builders, looks enum members up by value
and decodes json/jsonb from text (``json_from_text``). The expected rows here are built the
way the generated code did before: a plain psycopg cursor (psycopg's stock loaders), the enum
class called, the dataclass constructor called. tests/codegen/corpus/rows checks the same on a
project with every kind of column, through every kind of method.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import RawCursor, pq
from psycopg.rows import tuple_row
from psycopg.types.json import JsonbLoader, JsonLoader, set_json_loads

from chatdb.db import (
    AsyncQuerier,
    Chat,
    ChatClientType,
    ChatMessage,
    ChatMessageRole,
    ChatMessageVisibility,
    ChatMode,
    ChatPlanMode,
    ChatStatus,
    Querier,
)
from chatdb.db.chat_messages import GET_CHAT_MESSAGES_BY_CHAT_ID
from chatdb.db.chats import GET_CHAT_BY_ID
from chatdb.db.models import JSON_OID, JSONB_OID, _JsonFromText, json_from_text
from chatdb.testing.factories import Factories

pytestmark = pytest.mark.timeout(60)

CONTENTS: list[Any] = [
    [{"type": "text", "text": "héllo \u2603"}, {"type": "image", "url": "x", "w": 1.5}],
    {"nested": {"list": [1, 2.0, None, True, "s"]}, "n": -0.0, "big": 2**70},
    "a bare string",
    7,
    [],
    None,  # SQL NULL
]


def seed(conn: psycopg.Connection[Any]) -> UUID:
    f = Factories(conn)
    chat = f.chat(
        status="running",
        mode="computer_use",
        plan_mode=None,
        client_type="ui",
        labels={"team": "payments", "k": ["v", 1]},
        last_injected_context=[{"type": "text", "text": "AGENTS.md"}, None, 3],
    )
    for i, content in enumerate(CONTENTS):
        f.chat_message(
            chat_id=chat.id,
            role=["user", "assistant", "tool"][i % 3],
            content=content,
            input_tokens=None if i % 2 else 100 + i,
            runtime_ms=i,
        )
    return chat.id


# psycopg's own cursors: the stock loaders, as the generated code used before builders.
def stock_chat(conn: psycopg.Connection[Any], chat_id: UUID) -> Chat:
    r = RawCursor(conn, row_factory=tuple_row).execute(GET_CHAT_BY_ID, (chat_id,)).fetchone()
    assert r is not None
    return Chat(r[0], r[1], r[2], r[3], ChatStatus(r[4]), r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], None if r[15] is None else ChatMode(r[15]), r[16], r[17], r[18], r[19], r[20], r[21], r[22], r[23], None if r[24] is None else ChatPlanMode(r[24]), r[25], ChatClientType(r[26]))  # fmt: skip


def stock_messages(conn: psycopg.Connection[Any], chat_id: UUID) -> list[ChatMessage]:
    cur = RawCursor(conn, row_factory=tuple_row)
    rows = cur.execute(GET_CHAT_MESSAGES_BY_CHAT_ID, (chat_id, 0)).fetchall()
    return [ChatMessage(r[0], r[1], r[2], r[3], ChatMessageRole(r[4]), r[5], ChatMessageVisibility(r[6]), r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15], r[16], r[17], r[18], r[19], r[20]) for r in rows]  # fmt: skip


def assert_same(got: Any, want: Any, where: str) -> None:
    """Same type and repr all the way down (1 is not 1.0, a str is not an enum member)."""
    assert type(got) is type(want), f"{where}: {type(got)} is not {type(want)}"
    assert repr(got) == repr(want), where
    if isinstance(want, list):
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{where}[{i}]")
    elif isinstance(want, dict):
        assert list(got) == list(want), where
        for k in want:
            assert_same(got[k], want[k], f"{where}[{k!r}]")


def assert_same_row(got: Any, want: Any) -> None:
    assert type(got) is type(want)
    for f in dataclasses.fields(want):
        assert_same(getattr(got, f.name), getattr(want, f.name), f.name)
    assert got == want and repr(got) == repr(want)
    try:
        expected_hash: int | None = hash(want)
    except TypeError:  # a JSON list or dict: unhashable, as the constructor's row
        expected_hash = None
    if expected_hash is None:
        with pytest.raises(TypeError):
            hash(got)
    else:
        assert hash(got) == expected_hash
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.id = want.id
    assert not hasattr(got, "__dict__")


def test_rows_equal_the_constructors(chatdb_conn: psycopg.Connection[Any]) -> None:
    chat_id = seed(chatdb_conn)
    q = Querier(chatdb_conn)
    assert_same_row(q.get_chat_by_id(id=chat_id), stock_chat(chatdb_conn, chat_id))
    got = q.get_chat_messages_by_chat_id(chat_id=chat_id, after_id=0)
    want = stock_messages(chatdb_conn, chat_id)
    assert [m.content for m in want] == CONTENTS  # the seed reads back as written
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert_same_row(g, w)
    hashable = [m for m in got if isinstance(m.content, str | int) or m.content is None]
    assert hashable and len(hashable) < len(got)  # both cases above were exercised


async def test_async_rows_equal_the_constructors(
    chatdb_conn: psycopg.Connection[Any], chatdb_aconn: psycopg.AsyncConnection[Any]
) -> None:
    chat_id = seed(chatdb_conn)
    q = AsyncQuerier(chatdb_aconn)
    assert_same_row(await q.get_chat_by_id(id=chat_id), stock_chat(chatdb_conn, chat_id))
    got = await q.get_chat_messages_by_chat_id(chat_id=chat_id, after_id=0)
    want = stock_messages(chatdb_conn, chat_id)
    for g, w in zip(got, want, strict=True):
        assert_same_row(g, w)


# Text the server never sends (it validates JSON and has no NUL) is still decoded, or refused,
# exactly as json.loads does: the loader's fallback is json.loads itself.
LOADER_INPUTS = [
    b'{"a": [1, 2.5, "x", null, true], "a": {"dup": "last wins"}}',
    b'  {"padded": 1}\n',
    b'{"trailing": 1}   ',
    b'"caf\\u00e9 \\ud83d\\ude00 \xc3\xa9"',
    b"123456789012345678901234567890",
    b"-0.0",
    b"1e400",
    b"Infinity",
    b"null",
    b"[]",
    b"\xef\xbb\xbf{}",  # UTF-8 byte-order mark
    b"{",
    b"[1,]",
    b"1 2",
    b"",
    b"   ",
    b"\xff",
    b"1\x00",
    b'"a\x01"',
    b"[" * 100_000,
]


def outcome(fn: Any, data: Any) -> tuple[str, str]:
    try:
        value = fn(data)
    except Exception as exc:
        return f"raises {type(exc).__name__}", str(exc)
    if isinstance(value, float) and math.isnan(value):
        return "nan", ""
    return type(value).__name__, repr(value)


@pytest.mark.parametrize("data", LOADER_INPUTS, ids=range(len(LOADER_INPUTS)))
def test_json_loader_is_json_loads(data: bytes) -> None:
    loader = _JsonFromText(3802)
    expected = outcome(json.loads, data)
    assert outcome(loader.load, data) == expected
    assert outcome(loader.load, memoryview(data)) == expected


def test_json_from_text_changes_only_its_cursor(chatdb_conn: psycopg.Connection[Any]) -> None:
    cur = json_from_text(chatdb_conn.cursor(), (JSON_OID, JSONB_OID))
    assert cur.adapters.get_loader(3802, pq.Format.TEXT) is _JsonFromText
    assert cur.adapters.get_loader(114, pq.Format.TEXT) is _JsonFromText
    only_jsonb = json_from_text(chatdb_conn.cursor(), (JSONB_OID,))
    assert only_jsonb.adapters.get_loader(114, pq.Format.TEXT) is JsonLoader
    for adapters in (chatdb_conn.adapters, psycopg.adapters):
        assert adapters.get_loader(3802, pq.Format.TEXT) is JsonbLoader
        assert adapters.get_loader(114, pq.Format.TEXT) is JsonLoader


def tagged(data: bytes | bytearray | memoryview) -> Any:
    return {"decoded by": "the caller's loads", "value": json.loads(bytes(data))}


def test_a_json_loader_the_caller_chose_is_kept(chatdb_conn: psycopg.Connection[Any]) -> None:
    chat_id = seed(chatdb_conn)
    set_json_loads(tagged, chatdb_conn)  # on this connection only
    message = Querier(chatdb_conn).get_chat_messages_by_chat_id(chat_id=chat_id, after_id=0)[0]
    assert message.content == {"decoded by": "the caller's loads", "value": CONTENTS[0]}


def test_a_global_json_loads_is_kept(chatdb_conn: psycopg.Connection[Any]) -> None:
    chat_id = seed(chatdb_conn)
    set_json_loads(tagged)
    try:
        message = Querier(chatdb_conn).get_chat_messages_by_chat_id(chat_id=chat_id, after_id=0)
    finally:
        set_json_loads(json.loads)
    assert message[0].content == {"decoded by": "the caller's loads", "value": CONTENTS[0]}


def test_an_enum_value_the_class_lacks_raises_as_the_enum_does() -> None:
    from chatdb.db.models import ChatMessageRole_BY_VALUE

    with pytest.raises(ValueError) as by_call:
        ChatMessageRole("bogus")
    with pytest.raises(ValueError) as by_lookup:
        ChatMessageRole_BY_VALUE["bogus"]
    assert str(by_lookup.value) == str(by_call.value)
    assert all(ChatMessageRole_BY_VALUE[m.value] is m for m in ChatMessageRole)
