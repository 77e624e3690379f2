"""The comparison users make: the generated querier against SQLAlchemy ``text()`` and aiosql.

Each side runs the same SQL on its own connection to the same database and returns the same
frozen dataclasses (``ChatMessage`` rows, built the way each library's users would: from
SQLAlchemy's ``Row`` and from aiosql's tuples), so the ratio is what choosing the library
costs. The baseline is the generated querier: a ratio above 1 means the peer is slower.
Both peers are optional (``pip install sqlalchemy aiosql``); a missing one is reported.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from typing import Any
from uuid import UUID

import psycopg

from bench.bench_queries import VISIBLE_MESSAGES, seed
from bench.harness import Result, Settings, compare
from chatdb.db import ChatMessage, ChatMessageRole, ChatMessageVisibility, Querier
from chatdb.db.chat_messages import GET_CHAT_MESSAGES_BY_CHAT_ID

GROUP = "peers"


def _named(m: re.Match[str]) -> str:
    name = {"1": "chat_id", "2": "after_id"}[m.group(1)]
    return f"CAST(:{name} AS {m.group(2)})"


# The generated statement with named parameters, as a user of either peer would write it
# (``CAST`` rather than ``::``, which SQLAlchemy's ``text()`` does not take after a name).
NAMED_SQL = re.sub(r"\$(\d)::(\w+)", _named, GET_CHAT_MESSAGES_BY_CHAT_ID)


def _message(r: Any) -> ChatMessage:
    return ChatMessage(r[0], r[1], r[2], r[3], ChatMessageRole(r[4]), r[5], ChatMessageVisibility(r[6]), r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15], r[16], r[17], r[18], r[19], r[20])  # fmt: skip


def _sqlalchemy(dsn: str, chat_id: UUID) -> tuple[Callable[[], list[ChatMessage]], Any]:
    import sqlalchemy

    engine = sqlalchemy.create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(dsn, autocommit=True)
    )
    conn = engine.connect()
    statement = sqlalchemy.text(NAMED_SQL)

    def messages() -> list[ChatMessage]:
        rows = conn.execute(statement, {"chat_id": chat_id, "after_id": 0})
        return [_message(r) for r in rows]

    return messages, conn


def _aiosql(dsn: str, chat_id: UUID) -> tuple[Callable[[], list[ChatMessage]], Any]:
    import aiosql

    queries = aiosql.from_str(
        f"-- name: get_messages(chat_id, after_id)\n{NAMED_SQL};\n", "psycopg"
    )
    conn = psycopg.connect(dsn, autocommit=True)

    def messages() -> list[ChatMessage]:
        rows = queries.get_messages(conn, chat_id=chat_id, after_id=0)
        return [_message(r) for r in rows]

    return messages, conn


def run(dsn: str, settings: Settings) -> list[Result]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        chat_id = seed(conn)
    results = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        q = Querier(conn)
        expected = q.get_chat_messages_by_chat_id(chat_id=chat_id, after_id=0)
        for name, make in (("SQLAlchemy text()", _sqlalchemy), ("aiosql", _aiosql)):
            module = "sqlalchemy" if name.startswith("SQLAlchemy") else name
            if importlib.util.find_spec(module) is None:
                print(f"[peers] {name}: not installed (pip install {module}); skipped")
                continue
            peer, peer_conn = make(dsn, chat_id)
            try:
                if peer() != expected:  # the comparison only means something if rows agree
                    raise AssertionError(f"{name} and the generated querier return different rows")
                results.append(
                    compare(
                        GROUP,
                        f"{VISIBLE_MESSAGES} messages: {name} vs generated",
                        (
                            "generated",
                            lambda: q.get_chat_messages_by_chat_id(chat_id=chat_id, after_id=0),
                        ),
                        (name, peer),
                        settings,
                        note="same SQL, same rows; ratio > 1: the peer is slower",
                    )
                )
            finally:
                peer_conn.close()
    return results
