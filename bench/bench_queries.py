"""Generated querier against raw psycopg running the same SQL and building the same rows.

Issue "toolchain" item 7: a generated ``:one`` (``get_chat_by_id``) and a generated ``:many``
returning 50 rows (``get_chat_messages_by_chat_id`` with ``after_id=0``) must cost at most
1.10× hand-written psycopg code doing the same work. The baseline takes the SQL from the
generated module's constant and runs it the way the generated code does, through
``psycopg.RawCursor`` (server-side ``$N`` placeholders, no client-side ``%s`` conversion), then
builds the same frozen dataclass positionally with the same enum conversions. Both sides share
one connection, so both hit psycopg's prepared statement for that SQL text after warm-up; what
the ratio measures is the generated method itself (call, keyword arguments, error
classification guard, row building), not the server.
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import psycopg
from psycopg import AsyncRawCursor, RawCursor

from bench.harness import Result, Settings, compare, compare_async
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
from chatdb.testing.factories import Factories

GROUP = "queries"
TARGET = 1.10
VISIBLE_MESSAGES = 50


def seed(conn: psycopg.Connection[Any]) -> UUID:
    """A chat with every kind of column filled and 50 user-visible messages (plus two hidden)."""
    f = Factories(conn)
    org = f.organization()
    owner = f.user(organization_id=org.id)
    model = f.chat_model_config()
    chat = f.chat(
        owner_id=owner.id,
        organization_id=org.id,
        last_model_config_id=model.id,
        title="Refactor the billing service",
        status="running",
        mode="computer_use",
        client_type="ui",
        labels={"team": "payments", "priority": "high"},
        last_injected_context=[{"type": "text", "text": "AGENTS.md"}],
    )
    # Model-only rows (the system prompt, a compaction summary) that the query must skip.
    f.chat_message(chat_id=chat.id, role="system", visibility="model")
    for i in range(VISIBLE_MESSAGES):
        role = "user" if i % 2 == 0 else "assistant"
        f.chat_message(
            chat_id=chat.id,
            role=role,
            model_config_id=model.id,
            content=[{"type": "text", "text": f"{role} turn {i}: " + "lorem ipsum " * 8}],
            input_tokens=1200 + i,
            output_tokens=300 + i,
            total_tokens=1500 + 2 * i,
            total_cost_micros=4100 + i,
            runtime_ms=900 if role == "assistant" else None,
        )
    f.chat_message(chat_id=chat.id, role="user", visibility="model", compressed=True)
    return chat.id


# -- the hand-written baseline: same SQL text, same cursor class, same dataclasses


def raw_get_chat_by_id(conn: psycopg.Connection[Any], id: UUID) -> Chat:
    row = RawCursor(conn).execute(GET_CHAT_BY_ID, (id,)).fetchone()
    if row is None:
        raise LookupError(id)
    return Chat(row[0], row[1], row[2], row[3], ChatStatus(row[4]), row[5], row[6], row[7], row[8], row[9], row[10], row[11], row[12], row[13], row[14], None if row[15] is None else ChatMode(row[15]), row[16], row[17], row[18], row[19], row[20], row[21], row[22], row[23], None if row[24] is None else ChatPlanMode(row[24]), row[25], ChatClientType(row[26]))  # fmt: skip


def raw_get_messages(conn: psycopg.Connection[Any], chat_id: UUID, after_id: int) -> list[ChatMessage]:  # fmt: skip
    rows = RawCursor(conn).execute(GET_CHAT_MESSAGES_BY_CHAT_ID, (chat_id, after_id)).fetchall()
    return [ChatMessage(r[0], r[1], r[2], r[3], ChatMessageRole(r[4]), r[5], ChatMessageVisibility(r[6]), r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15], r[16], r[17], r[18], r[19], r[20]) for r in rows]  # fmt: skip


def raw_get_messages_tuples(conn: psycopg.Connection[Any], chat_id: UUID, after_id: int) -> list[Any]:  # fmt: skip
    return RawCursor(conn).execute(GET_CHAT_MESSAGES_BY_CHAT_ID, (chat_id, after_id)).fetchall()


async def araw_get_chat_by_id(conn: psycopg.AsyncConnection[Any], id: UUID) -> Chat:
    row = await (await AsyncRawCursor(conn).execute(GET_CHAT_BY_ID, (id,))).fetchone()
    if row is None:
        raise LookupError(id)
    return Chat(row[0], row[1], row[2], row[3], ChatStatus(row[4]), row[5], row[6], row[7], row[8], row[9], row[10], row[11], row[12], row[13], row[14], None if row[15] is None else ChatMode(row[15]), row[16], row[17], row[18], row[19], row[20], row[21], row[22], row[23], None if row[24] is None else ChatPlanMode(row[24]), row[25], ChatClientType(row[26]))  # fmt: skip


async def araw_get_messages(conn: psycopg.AsyncConnection[Any], chat_id: UUID, after_id: int) -> list[ChatMessage]:  # fmt: skip
    cur = await AsyncRawCursor(conn).execute(GET_CHAT_MESSAGES_BY_CHAT_ID, (chat_id, after_id))
    rows = await cur.fetchall()
    return [ChatMessage(r[0], r[1], r[2], r[3], ChatMessageRole(r[4]), r[5], ChatMessageVisibility(r[6]), r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15], r[16], r[17], r[18], r[19], r[20]) for r in rows]  # fmt: skip


# -- the runs


def _run_sync(dsn: str, chat_id: UUID, settings: Settings) -> list[Result]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        q = Querier(conn)
        # The comparison only means something if both sides return the same thing.
        if raw_get_chat_by_id(conn, chat_id) != q.get_chat_by_id(id=chat_id):
            raise AssertionError("raw and generated get_chat_by_id differ")
        messages = q.get_chat_messages_by_chat_id(chat_id=chat_id, after_id=0)
        if len(messages) != VISIBLE_MESSAGES or raw_get_messages(conn, chat_id, 0) != messages:
            raise AssertionError("raw and generated get_chat_messages_by_chat_id differ")
        return [
            compare(
                GROUP,
                ":one get_chat_by_id (sync)",
                ("raw RawCursor", lambda: raw_get_chat_by_id(conn, chat_id)),
                ("generated", lambda: q.get_chat_by_id(id=chat_id)),
                settings,
                target=TARGET,
            ),
            compare(
                GROUP,
                f":many get_chat_messages_by_chat_id, {VISIBLE_MESSAGES} rows (sync)",
                ("raw RawCursor", lambda: raw_get_messages(conn, chat_id, 0)),
                ("generated", lambda: q.get_chat_messages_by_chat_id(chat_id=chat_id, after_id=0)),
                settings,
                target=TARGET,
            ),
            compare(
                GROUP,
                f":many {VISIBLE_MESSAGES} rows, cost of building rows (sync)",
                ("raw tuples", lambda: raw_get_messages_tuples(conn, chat_id, 0)),
                ("generated", lambda: q.get_chat_messages_by_chat_id(chat_id=chat_id, after_id=0)),
                settings,
                note="informational: baseline returns psycopg tuples, no dataclasses or enums",
            ),
        ]


async def _run_async(dsn: str, chat_id: UUID, settings: Settings) -> list[Result]:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        q = AsyncQuerier(conn)
        if await araw_get_chat_by_id(conn, chat_id) != await q.get_chat_by_id(id=chat_id):
            raise AssertionError("raw and generated async get_chat_by_id differ")
        messages = await q.get_chat_messages_by_chat_id(chat_id=chat_id, after_id=0)
        if await araw_get_messages(conn, chat_id, 0) != messages:
            raise AssertionError("raw and generated async get_chat_messages_by_chat_id differ")

        async def raw_one() -> Chat:
            return await araw_get_chat_by_id(conn, chat_id)

        async def gen_one() -> Chat:
            return await q.get_chat_by_id(id=chat_id)

        async def raw_many() -> list[ChatMessage]:
            return await araw_get_messages(conn, chat_id, 0)

        async def gen_many() -> list[ChatMessage]:
            return await q.get_chat_messages_by_chat_id(chat_id=chat_id, after_id=0)

        return [
            await compare_async(
                GROUP,
                ":one get_chat_by_id (async)",
                ("raw AsyncRawCursor", raw_one),
                ("generated", gen_one),
                settings,
                target=TARGET,
            ),
            await compare_async(
                GROUP,
                f":many get_chat_messages_by_chat_id, {VISIBLE_MESSAGES} rows (async)",
                ("raw AsyncRawCursor", raw_many),
                ("generated", gen_many),
                settings,
                target=TARGET,
            ),
        ]


def run(dsn: str, settings: Settings) -> list[Result]:
    """Seed one chat and compare generated and raw reads of it, sync then async."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        chat_id = seed(conn)
    results = _run_sync(dsn, chat_id, settings)
    results += asyncio.run(_run_async(dsn, chat_id, settings))
    return results
