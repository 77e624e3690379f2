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

Issue 11 item 5 ("cheaper rows"): the generated ``:many`` of 50 messages must cost at most
0.85× the code generated before rows were built by the generated builders (``new_<Class>``,
enum lookups by value, JSON decoded from text by ``json_from_text``). ``BeforeBuilders`` below
is that code: the method copied verbatim from chatdb/db/chat_messages.py at commit 89edce9
(the last commit generating ``ChatMessage(..., ChatMessageRole(r[4]), ...)`` on a cursor with
psycopg's stock JSON loaders), as a class with the same ``__slots__``/``_conn`` shape as the
querier's mixins. The row-building-only comparison re-reads one executed result (``scroll``
back, ``fetchall``: psycopg's loaders, the JSON decoding among them, run again) and builds the
rows each way, without a round trip: today's construction against the generated method's own
``return [...]`` expression, taken from its source so it cannot drift from what is generated.
"""

from __future__ import annotations

import asyncio
import inspect
import textwrap
from collections.abc import Callable
from typing import Any
from uuid import UUID

import psycopg
from psycopg import AsyncConnection, AsyncRawCursor, Connection, Error, RawCursor
from psycopg.rows import tuple_row

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
    chat_messages,
)
from chatdb.db.chat_messages import GET_CHAT_MESSAGES_BY_CHAT_ID
from chatdb.db.chats import GET_CHAT_BY_ID
from chatdb.db.models import JSONB_OID, json_from_text
from chatdb.errors import classify
from chatdb.testing.factories import Factories

GROUP = "queries"
TARGET = 1.10
ROWS_TARGET = 0.85  # issue 11 item 5: generated rows cost ≤ 0.85× the code before builders
VISIBLE_MESSAGES = 50
BEFORE = "before builders (89edce9)"


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


# -- the generated code before builders: verbatim from chatdb/db/chat_messages.py at 89edce9


class BeforeBuilders:
    __slots__ = ("_conn",)

    def __init__(self, conn: Connection[Any]) -> None:
        self._conn = conn

    def get_chat_messages_by_chat_id(self, *, chat_id: UUID, after_id: int) -> list[ChatMessage]:
        """The live-streaming cursor: user-visible messages after after_id (0 = all), oldest first.

        GetChatMessagesByChatID :many (chat_messages.sql:97)"""
        try:
            cur = RawCursor(self._conn, row_factory=tuple_row).execute(GET_CHAT_MESSAGES_BY_CHAT_ID, (chat_id, after_id))  # fmt: skip
            rows = cur.fetchall()
        except Error as exc:
            raise classify(exc, "GetChatMessagesByChatID") from exc
        return [ChatMessage(r[0], r[1], r[2], r[3], ChatMessageRole(r[4]), r[5], ChatMessageVisibility(r[6]), r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15], r[16], r[17], r[18], r[19], r[20]) for r in rows]  # fmt: skip


class AsyncBeforeBuilders:
    __slots__ = ("_conn",)

    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def get_chat_messages_by_chat_id(self, *, chat_id: UUID, after_id: int) -> list[ChatMessage]:  # fmt: skip
        """The live-streaming cursor: user-visible messages after after_id (0 = all), oldest first.

        GetChatMessagesByChatID :many (chat_messages.sql:97)"""
        try:
            cur = await AsyncRawCursor(self._conn, row_factory=tuple_row).execute(GET_CHAT_MESSAGES_BY_CHAT_ID, (chat_id, after_id))  # fmt: skip
            rows = await cur.fetchall()
        except Error as exc:
            raise classify(exc, "GetChatMessagesByChatID") from exc
        return [ChatMessage(r[0], r[1], r[2], r[3], ChatMessageRole(r[4]), r[5], ChatMessageVisibility(r[6]), r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15], r[16], r[17], r[18], r[19], r[20]) for r in rows]  # fmt: skip


def before_build(rows: list[Any]) -> list[ChatMessage]:
    """BeforeBuilders' row building alone."""
    return [ChatMessage(r[0], r[1], r[2], r[3], ChatMessageRole(r[4]), r[5], ChatMessageVisibility(r[6]), r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15], r[16], r[17], r[18], r[19], r[20]) for r in rows]  # fmt: skip


def generated_build() -> Callable[[list[Any]], list[ChatMessage]]:
    """The generated method's row building alone: its ``return [...]`` expression, compiled
    in the generated module's namespace."""
    source = textwrap.dedent(inspect.getsource(Querier.get_chat_messages_by_chat_id))
    returns = [line.strip() for line in source.splitlines() if line.strip().startswith("return [")]
    if len(returns) != 1:
        raise AssertionError(f"expected one 'return [...]' in the generated method: {returns}")
    build: Callable[[list[Any]], list[ChatMessage]] = eval(
        "lambda rows: " + returns[0].removeprefix("return "), vars(chat_messages)
    )
    return build


def _reread(cur: RawCursor[Any], build: Callable[[list[Any]], list[ChatMessage]]) -> list[ChatMessage]:  # fmt: skip
    """Load the executed result's rows again (psycopg's loaders run anew) and build them."""
    cur.scroll(0, mode="absolute")
    return build(cur.fetchall())


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
        before = BeforeBuilders(conn)
        if before.get_chat_messages_by_chat_id(chat_id=chat_id, after_id=0) != messages:
            raise AssertionError("generated rows differ from the rows built before builders")
        stock_cur = RawCursor(conn, row_factory=tuple_row)
        stock_cur.execute(GET_CHAT_MESSAGES_BY_CHAT_ID, (chat_id, 0))
        json_cur = json_from_text(RawCursor(conn, row_factory=tuple_row), (JSONB_OID,))
        json_cur.execute(GET_CHAT_MESSAGES_BY_CHAT_ID, (chat_id, 0))
        build = generated_build()
        if _reread(stock_cur, before_build) != messages or _reread(json_cur, build) != messages:
            raise AssertionError("row building alone differs from the generated method's rows")
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
            compare(
                GROUP,
                f":many {VISIBLE_MESSAGES} rows, cost of building rows before builders (sync)",
                ("raw tuples", lambda: raw_get_messages_tuples(conn, chat_id, 0)),
                (BEFORE, lambda: before.get_chat_messages_by_chat_id(chat_id=chat_id, after_id=0)),
                settings,
                note="informational: the row above, for the code generated at 89edce9",
            ),
            compare(
                GROUP,
                f":many get_chat_messages_by_chat_id, {VISIBLE_MESSAGES} rows vs before builders (sync)",
                (BEFORE, lambda: before.get_chat_messages_by_chat_id(chat_id=chat_id, after_id=0)),
                ("generated", lambda: q.get_chat_messages_by_chat_id(chat_id=chat_id, after_id=0)),
                settings,
                target=ROWS_TARGET,
                note="issue 11 item 5: end to end, same connection",
            ),
            compare(
                GROUP,
                f":many {VISIBLE_MESSAGES} rows, loading + building only (sync)",
                (BEFORE, lambda: _reread(stock_cur, before_build)),
                ("generated", lambda: _reread(json_cur, build)),
                settings,
                note="no round trip: one result's rows re-loaded and built",
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
        before = AsyncBeforeBuilders(conn)
        if await before.get_chat_messages_by_chat_id(chat_id=chat_id, after_id=0) != messages:
            raise AssertionError("generated async rows differ from the rows built before builders")

        async def before_many() -> list[ChatMessage]:
            return await before.get_chat_messages_by_chat_id(chat_id=chat_id, after_id=0)

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
            await compare_async(
                GROUP,
                f":many get_chat_messages_by_chat_id, {VISIBLE_MESSAGES} rows vs before builders (async)",
                (BEFORE, before_many),
                ("generated", gen_many),
                settings,
                target=ROWS_TARGET,
                note="issue 11 item 5: end to end, same connection",
            ),
        ]


def run(dsn: str, settings: Settings) -> list[Result]:
    """Seed one chat and compare generated and raw reads of it, sync then async."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        chat_id = seed(conn)
    results = _run_sync(dsn, chat_id, settings)
    results += asyncio.run(_run_async(dsn, chat_id, settings))
    return results
