"""Result-column nullability, read from the generated annotations of nullability.sql."""

from __future__ import annotations

import dataclasses
from types import ModuleType
from typing import Any

import psycopg
import pytest


def fields(pkg: ModuleType, row: str) -> dict[str, str]:
    return {f.name: str(f.type) for f in dataclasses.fields(getattr(pkg, row))}


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("LeftJoinRow", {"title": "str", "author_name": "str | None", "bio": "str | None"}),
        ("RightJoinRow", {"title": "str | None", "author_name": "str"}),
        ("FullJoinRow", {"title": "str | None", "author_name": "str | None"}),
        (
            "OuterJoinOverCTERow",
            {"title": "str", "review_count": "int | None", "book_id": "UUID | None"},
        ),
        ("OuterJoinOverSubqueryRow", {"title": "str", "best": "int | None"}),
        ("InnerJoinOverSubqueryRow", {"title": "str", "n": "int"}),
        ("UnionOfBranchesRow", {"name": "str", "bio": "str | None"}),
        ("UnionBothNonNullRow", {"name": "str"}),
        ("UpdateReturningRow", {"id": "int", "name": "str", "bio": "str | None"}),
        ("WhereIsNotNullRow", {"bio": "str", "price": "Decimal"}),
        ("EmbedOuterRow", {"a": "Author", "b": "Book | None"}),
    ],
)
def test_joins_unions_and_returning(pkg: ModuleType, row: str, expected: dict[str, str]) -> None:
    assert fields(pkg, row) == expected


def test_expressions(pkg: ModuleType) -> None:
    assert fields(pkg, "ExpressionsRow") == {
        "bio_or_empty": "str",  # COALESCE with a non-null argument
        "bio_or_null": "str | None",
        "name_or_null": "str | None",  # NULLIF
        "case_with_else": "str",
        "case_without_else": "str | None",
        "case_nullable_branch": "str | None",
        "cmp_non_null": "bool",
        "cmp_nullable": "bool | None",
        "null_test": "bool",
        "distinct_test": "bool",
        "has_books": "bool",  # EXISTS
        "book_count": "int",  # scalar sub-query of count(*) always yields one row
        "some_title": "str | None",  # other scalar sub-queries may yield none
        "lower_name": "str",
        "lower_bio": "str | None",
        "now": "datetime",
        "next_id": "int",
        "first_tag": "str | None",  # subscripts may be out of range
        "json_field": "str | None",  # ->> may miss the key
        "greatest_id": "int",
        "bio_forced": "str",  # AS "bio_forced!"
        "name_maybe": "str | None",  # AS "name_maybe?"
    }


def test_aggregates_count_versus_sum(pkg: ModuleType) -> None:
    assert fields(pkg, "AggregatesRow") == {
        "n": "int",
        "n_bio": "int",
        "total": "Decimal | None",  # sum over no rows is NULL
        "max_name": "str | None",
        "total_or_zero": "int",
        "ids": "list[int] | None",
    }
    # With GROUP BY every group has rows: sum of a NOT NULL column is not NULL.
    assert fields(pkg, "GroupedAggregatesRow") == {
        "mood": "Mood",
        "n": "int",
        "total": "Decimal",
        "max_bio": "str | None",
    }


def test_inferred_nullability_matches_what_the_server_returns(
    pkg: ModuleType, conn: psycopg.Connection[Any]
) -> None:
    """Run the outer-join queries on data that produces NULLs where we say they may appear."""
    q = pkg.Querier(conn)
    lonely = q.create_author(name="Lonely", bio=None, mood=pkg.Mood.SAD, tags=[])
    q.insert_book([pkg.InsertBookParams(author_id=None, title="Orphan", meta={})])
    assert [(r.title, r.author_name) for r in q.left_join()] == [("Orphan", None)]
    assert [(r.title, r.author_name) for r in q.right_join()] == [(None, "Lonely")]
    assert sorted(q.full_join(), key=lambda r: str(r.title)) == [
        pkg.FullJoinRow(None, "Lonely"),
        pkg.FullJoinRow("Orphan", None),
    ]
    assert [(r.title, r.review_count) for r in q.outer_join_over_cte()] == [("Orphan", None)]
    assert [r.b for r in q.embed_outer()] == [None]
    row = q.expressions(id=lonely.id)
    assert (row.bio_or_empty, row.name_or_null, row.case_without_else, row.book_count) == (
        "",
        "Lonely",
        None,
        1,
    )
