"""The compiler's output, executed against a real server (sync and async), and its typing."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest

from chatdb.errors import (
    CheckViolation,
    ForeignKeyViolation,
    InvalidValue,
    NotFound,
    UniqueViolation,
)


def annotations(cls: type) -> dict[str, str]:
    return {f.name: str(f.type) for f in dataclasses.fields(cls)}


# ---- typing of the generated package -------------------------------------------------------


def test_tables_become_frozen_slotted_dataclasses(pkg: ModuleType) -> None:
    author = pkg.Author(1, "Ann", None, pkg.Mood.HAPPY, [], datetime.now(UTC))
    assert not hasattr(author, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        author.name = "Bob"
    assert annotations(pkg.Author) == {
        "id": "int",
        "name": "str",
        "bio": "str | None",
        "mood": "Mood",
        "tags": "list[str]",
        "created_at": "datetime",
    }


def test_enums_become_str_enums_in_declaration_order(pkg: ModuleType) -> None:
    assert [m.value for m in pkg.Mood] == ["happy", "sad", "in-between"]
    assert pkg.Mood.IN_BETWEEN == "in-between"


def test_column_override_changes_the_type(pkg: ModuleType) -> None:
    assert annotations(pkg.Book)["meta"] == "dict[str, str]"


def test_querier_and_async_querier_satisfy_the_protocols(pkg: ModuleType) -> None:
    names = [n for n in vars(pkg.Queries) if not n.startswith("_")]
    assert "get_author" in names and "books_with_authors" in names
    for name in names:
        assert callable(getattr(pkg.Querier, name))
        assert callable(getattr(pkg.AsyncQuerier, name))


def test_registry_carries_kind_source_line_and_policy(pkg: ModuleType) -> None:
    info = pkg.QUERIES["GetAuthor"]
    assert (info.kind, info.method, info.line, info.authz) == (
        ":one",
        "get_author",
        1,
        "fetch read author",
    )
    assert info.source.endswith("queries/authors.sql")
    assert pkg.QUERIES["ListAuthors"].params == ("limit", "offset", "mood")


def test_parameters_get_inferred_names_and_nullability(pkg: ModuleType) -> None:
    import inspect

    sig = inspect.signature(pkg.Querier.create_author)
    # $1..$3 are named after the columns they are inserted into; bio's column is nullable.
    assert {n: str(p.annotation) for n, p in sig.parameters.items() if n != "self"} == {
        "name": "str",
        "bio": "str | None",
        "mood": "Mood",
        "tags": "Sequence[str | None]",
    }
    list_sig = inspect.signature(pkg.Querier.list_authors)
    assert str(list_sig.parameters["mood"].annotation) == "Mood | None"  # sqlc.narg


def test_generation_is_deterministic(generated: dict[Path, str], chatdb_pg_server: Any) -> None:
    from codegen.main import generate
    from tests.codegen.conftest import fixture_config

    out = next(iter(generated)).parent
    again = generate(fixture_config(out), chatdb_pg_server)
    assert again == generated


# ---- execution ----------------------------------------------------------------------------


def test_one_many_exec_kinds_run_against_the_server(
    pkg: ModuleType, conn: psycopg.Connection[Any]
) -> None:
    q = pkg.Querier(conn)
    ann = q.create_author(name="Ann", bio=None, mood=pkg.Mood.SAD, tags=["x", "y"])
    assert isinstance(ann, pkg.Author)
    assert (ann.name, ann.bio, ann.mood, ann.tags) == ("Ann", None, pkg.Mood.SAD, ["x", "y"])
    assert type(ann.mood) is pkg.Mood
    bob = q.create_author(name="Bob", bio="writes", mood=pkg.Mood.HAPPY, tags=[])
    assert q.get_author(id=bob.id) == bob
    assert [a.name for a in q.list_authors(limit=10, offset=0, mood=None)] == ["Ann", "Bob"]
    assert [a.name for a in q.list_authors(limit=10, offset=0, mood=pkg.Mood.HAPPY)] == ["Bob"]
    assert [r.name for r in q.authors_by_ids(ids=[bob.id, ann.id])] == ["Ann", "Bob"]
    result = q.touch_authors(ids=[ann.id])
    assert (result.rowcount, result.status) == (1, "UPDATE 1")
    assert q.delete_author(id=ann.id) == 1
    assert q.delete_author(id=ann.id) == 0
    with pytest.raises(NotFound):
        q.get_author(id=ann.id)


def test_embed_under_an_outer_join_is_none_when_missing(
    pkg: ModuleType, conn: psycopg.Connection[Any]
) -> None:
    q = pkg.Querier(conn)
    author = q.create_author(name="Ann", bio=None, mood=pkg.Mood.HAPPY, tags=[])
    rows = q.insert_book(
        [
            pkg.InsertBookParams(author_id=author.id, title="A", meta={"k": "v"}),
            pkg.InsertBookParams(author_id=None, title="B", meta={}),
        ]
    )
    assert [r.title for r in rows] == ["A", "B"]
    books = q.books_with_authors()
    assert [(r.b.title, r.a.name if r.a else None, r.literal) for r in books] == [
        ("A", "Ann", "@not_a_param"),
        ("B", None, "@not_a_param"),
    ]
    assert books[0].b.meta == {"k": "v"} and books[0].a.mood is pkg.Mood.HAPPY


def test_copyfrom_loads_rows_with_copy(pkg: ModuleType, conn: psycopg.Connection[Any]) -> None:
    q = pkg.Querier(conn)
    n = q.insert_books(
        pkg.InsertBooksParams(
            author_id=None, title=f"t{i}", price=Decimal("1.50"), meta={"i": str(i)}
        )
        for i in range(100)
    )
    assert n == 100
    stats = q.book_stats()
    assert (stats.n, stats.total, stats.total_or_zero) == (
        100,
        Decimal("150.00"),
        Decimal("150.00"),
    )


def test_aggregates_over_an_empty_table(pkg: ModuleType, conn: psycopg.Connection[Any]) -> None:
    stats = pkg.Querier(conn).book_stats()
    assert (stats.n, stats.total, stats.total_or_zero, stats.latest) == (0, None, Decimal(0), None)


def test_types_round_trip(pkg: ModuleType, conn: psycopg.Connection[Any]) -> None:
    u = uuid.uuid4()
    t = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    row = pkg.Querier(conn).round_trip(
        u=u,
        j={"a": [1, None, "x"]},
        ints=[1, None, 3],
        m=pkg.Mood.IN_BETWEEN,
        n=Decimal("12345678901234567890.123"),
        b=b"\x00\xff",
        i=timedelta(days=1, seconds=5),
        t=t,
        d=date(2026, 1, 2),
        f=1.5,
        flag=True,
        moods=[pkg.Mood.SAD, pkg.Mood.HAPPY],
    )
    assert row == pkg.RoundTripRow(
        u, {"a": [1, None, "x"]}, [1, None, 3], pkg.Mood.IN_BETWEEN,
        Decimal("12345678901234567890.123"), b"\x00\xff", timedelta(days=1, seconds=5), t,
        date(2026, 1, 2), 1.5, True, ["sad", "happy"],
    )  # fmt: skip
    assert type(row.m) is pkg.Mood


def test_lexer_traps_are_not_parameters(pkg: ModuleType, conn: psycopg.Connection[Any]) -> None:
    import inspect

    assert list(inspect.signature(pkg.Querier.lexer_traps).parameters) == ["self", "real", "id"]
    q = pkg.Querier(conn)
    author = q.create_author(name="Ann", bio=None, mood=pkg.Mood.HAPPY, tags=[])
    row = q.lexer_traps(real="R", id=author.id)
    assert (row.contains, row.str_, row.dollar, row.estr, row.quoted_ident, row.real_param) == (
        True, "@not_param", " @also_not ", "it's @x", "Ann", "R",
    )  # fmt: skip


def test_driver_errors_are_classified_with_constraint_names(
    pkg: ModuleType, conn: psycopg.Connection[Any]
) -> None:
    q = pkg.Querier(conn)
    q.insert_book([pkg.InsertBookParams(author_id=None, title="A", meta={})])
    with pytest.raises(UniqueViolation) as unique:
        q.insert_book([pkg.InsertBookParams(author_id=None, title="A", meta={})])
    assert unique.value.constraint == "books_title_unique"
    assert "InsertBook" in str(unique.value)
    with pytest.raises(CheckViolation) as check:
        q.insert_book([pkg.InsertBookParams(author_id=None, title="", meta={})])
    assert check.value.constraint == "books_title_check"
    with pytest.raises(ForeignKeyViolation) as fk:
        q.insert_book([pkg.InsertBookParams(author_id=999, title="C", meta={})])
    assert fk.value.constraint == "books_author_id_fkey"
    with pytest.raises(InvalidValue):
        q.create_author(name="X", bio=None, mood="furious", tags=[])


async def test_async_querier_runs_the_same_queries(
    pkg: ModuleType, aconn: psycopg.AsyncConnection[Any]
) -> None:
    q = pkg.AsyncQuerier(aconn)
    ann = await q.create_author(name="Ann", bio="b", mood=pkg.Mood.SAD, tags=["t"])
    assert await q.get_author(id=ann.id) == ann
    assert [a.id for a in await q.list_authors(limit=5, offset=0, mood=None)] == [ann.id]
    await q.insert_books([pkg.InsertBooksParams(author_id=ann.id, title="A", price=None, meta={})])
    rows = await q.books_with_authors()
    assert rows[0].a == ann
    assert await q.insert_book([]) == []
    assert (await q.touch_authors(ids=[ann.id])).rowcount == 1
    assert await q.delete_author(id=ann.id) == 1
    with pytest.raises(NotFound):
        await q.get_author(id=ann.id)
    with pytest.raises(CheckViolation):
        await q.insert_book([pkg.InsertBookParams(author_id=None, title="", meta={})])


def test_rows_are_built_whatever_the_connection_row_factory(
    pkg: ModuleType, fixture_dsn: str
) -> None:
    from psycopg.rows import dict_row

    with psycopg.connect(fixture_dsn, autocommit=True, row_factory=dict_row) as c:
        q = pkg.Querier(c)
        author = q.create_author(name="Ann", bio=None, mood=pkg.Mood.HAPPY, tags=[])
        assert q.get_author(id=author.id) == author
        assert [a.name for a in q.list_authors(limit=5, offset=0, mood=None)] == ["Ann"]
