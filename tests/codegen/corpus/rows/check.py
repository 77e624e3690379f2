"""Rows built by the generated builders equal the dataclass constructor's, value for value.

The expected rows never touch the code under test: a plain psycopg cursor (psycopg's stock
loaders, json.loads for json/jsonb) reads the same SELECT, enums are converted by calling the
enum class, and the dataclass is built by calling it, which is how rows were built before the
builders. Every field is compared by type and repr as well as ==, so a value of another type
that compares equal (1 for 1.0, a str for an enum member, an unnormalised Decimal) fails.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import pickle
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from ipaddress import ip_interface
from types import ModuleType
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg.rows import tuple_row

from tests.codegen.typecheck import assert_all_typed

ITEMS = "SELECT * FROM item ORDER BY id"
TAGGED = (
    "SELECT item.*, tag.id, tag.mood, tag.meta FROM tag LEFT JOIN item ON item.id = tag.item_id"
    " ORDER BY tag.id"
)

# json keeps its text as written: whitespace around the value, duplicate keys, escapes.
RAW_JSON = [
    '  {"a": [1, 2.5, "x"], "a": null, "b": {"c": true}}  ',
    '"caf\\u00e9 \\ud83d\\ude00"',
    "null",
    " 12 ",
    "[]",
    "1e400",
    '{"n": -0.0, "big": 123456789012345678901234567890}',
]
DOCS: list[Any] = [
    {"role": "user", "parts": [{"type": "text", "text": "héllo"}], "n": 1.5, "ok": False},
    [1, "two", None, {"three": [3]}],
    None,  # JSON null (not SQL NULL)
    "just a string",
    12345678901234567890,
    {},
    [],
]


def seed(conn: Any) -> None:
    base = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    for i in range(len(RAW_JSON)):
        conn.execute(
            "INSERT INTO item VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s::json, %s::jsonb[],"
            " %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                i + 1,
                UUID(int=i + 1),
                None if i % 2 else UUID(int=1000 + i),
                ["happy", "sad", "so-so"][i % 3],
                None if i % 3 == 0 else ["so-so", "happy", "sad"][i % 3],
                None if i == 5 else json.dumps(DOCS[i], ensure_ascii=False),
                RAW_JSON[i],
                None if i == 4 else ['{"k": 1}', None, "[1, 2]", "null"][: i % 4 + 1],
                base + timedelta(days=i),
                None if i == 2 else datetime(2026, 1, 1, 0, 0, i),
                date(2026, 1, 1 + i),
                time(1, 2, i),
                timedelta(days=i, seconds=5, microseconds=7) if i != 1 else None,
                Decimal("1.2300") if i == 0 else Decimal(f"-{i}.5"),
                0.1 * i if i != 5 else None,
                i,
                i % 2 == 0,
                ["a b", 'c"d', "NULL", "{e}"][: i % 5] if i != 6 else None,
                [i, 2**31 - 1, -i],
                [UUID(int=i), UUID(int=2**128 - 1)],
                b"\x00\xffbytes" if i != 0 else None,
                ip_interface("10.0.0.1/8") if i % 2 else ip_interface("::1/64"),
                None if i == 1 else f"note {i}",
            ),
        )
    conn.execute(
        "INSERT INTO tag VALUES (1, 1, 'sad', '{\"t\": 1}'), (2, NULL, NULL, '[true]'),"
        " (3, 2, 'happy', '\"s\"')"
    )


def stock_rows(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    """The SELECT's rows through psycopg's stock loaders."""
    with conn.cursor(row_factory=tuple_row) as cur:
        return cur.execute(sql).fetchall()


def item(db: ModuleType, r: tuple[Any, ...] | list[Any]) -> Any:
    """An Item built by its dataclass constructor, enums by their class call."""
    return db.Item(
        r[0], r[1], r[2], db.Mood(r[3]), None if r[4] is None else db.Mood(r[4]), *r[5:23]
    )


def assert_same_value(got: Any, want: Any, where: str) -> None:
    assert type(got) is type(want), f"{where}: {type(got)} is not {type(want)}"
    assert repr(got) == repr(want), f"{where}: {got!r} != {want!r}"
    if isinstance(want, list):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same_value(g, w, f"{where}[{i}]")
    elif isinstance(want, dict):
        assert list(got) == list(want), where
        for k in want:
            assert_same_value(got[k], want[k], f"{where}[{k!r}]")
    elif dataclasses.is_dataclass(want):
        assert_same_row(got, want)
    else:
        assert got == want, where


def assert_same_row(got: Any, want: Any) -> None:
    """``got`` is the row ``want`` is: same class, fields, equality, hash, frozenness."""
    cls = type(want)
    assert type(got) is cls
    for f in dataclasses.fields(cls):
        assert_same_value(getattr(got, f.name), getattr(want, f.name), f"{cls.__name__}.{f.name}")
    assert got == want and want == got and (got != want) is False
    assert repr(got) == repr(want)
    assert dataclasses.astuple(got) == dataclasses.astuple(want)
    assert dataclasses.replace(got) == want and copy.copy(got) == want
    assert pickle.loads(pickle.dumps(got)) == want
    assert not hasattr(got, "__dict__")
    try:
        expected_hash: int | None = hash(want)
    except TypeError:  # a list or dict field: unhashable, as the constructor's row
        expected_hash = None
    if expected_hash is None:
        with pytest.raises(TypeError):
            hash(got)
    else:
        assert hash(got) == expected_hash
    name = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(got, name, getattr(want, name))
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(got, name)


def assert_same_rows(got: list[Any], want: list[Any]) -> None:
    assert len(got) == len(want) and want
    for g, w in zip(got, want, strict=True):
        assert_same_row(g, w)
    assert_all_typed(got)


def check(db: ModuleType, conn: Any) -> None:
    seed(conn)
    q = db.Querier(conn)
    items = [item(db, r) for r in stock_rows(conn, ITEMS)]
    # The seed covers what it claims: JSON objects, arrays, JSON null, SQL NULL, enums.
    assert {type(i.doc) for i in items} >= {dict, list, str, int, type(None)}
    assert any(i.maybe_mood is None for i in items) and any(i.maybe_mood for i in items)

    assert_same_rows(q.list_items(), items)
    assert_same_rows(list(q.iter_items()), items)
    assert_same_rows([q.get_item(id=i.id) for i in items], items)
    bumped = q.bump_items([db.BumpItemsParams(id=i.id) for i in items])
    assert_same_rows([rows[0] for rows in bumped], items)

    tagged = [
        db.ListTaggedRow(
            None if r[0] is None else item(db, r),
            r[23],
            None if r[24] is None else db.Mood(r[24]),
            r[25],
        )
        for r in stock_rows(conn, TAGGED)
    ]
    assert any(t.item is None for t in tagged)
    assert_same_rows(q.list_tagged(), tagged)
    notes = [db.ListNotesRow(*r) for r in stock_rows(conn, "SELECT id, note, created_at FROM item ORDER BY id")]  # fmt: skip
    assert_same_rows(q.list_notes(), notes)

    async def read_async() -> list[Any]:
        async with await psycopg.AsyncConnection.connect(conn.info.dsn, autocommit=True) as aconn:
            aq = db.AsyncQuerier(aconn)
            return [
                await aq.list_items(),
                [i async for i in aq.iter_items()],
                await aq.list_tagged(),
            ]

    many, iterated, embedded = asyncio.run(read_async())
    assert_same_rows(many, items)
    assert_same_rows(iterated, items)
    assert_same_rows(embedded, tagged)

    # An enum value the class lacks raises as the enum's call does.
    with pytest.raises(ValueError) as by_call:
        db.Mood("angry")
    with pytest.raises(ValueError) as by_lookup:
        db.models.Mood_BY_VALUE["angry"]
    assert str(by_lookup.value) == str(by_call.value)
