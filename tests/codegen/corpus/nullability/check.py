from __future__ import annotations

from decimal import Decimal
from types import ModuleType
from typing import Any

from tests.codegen.typecheck import assert_all_typed, assert_typed, field_types


def check(db: ModuleType, conn: Any) -> None:
    q = db.Querier(conn)
    # Rows that produce every NULL the schema allows: authors without bio/note/rating, a book
    # without author, an author without books.
    ann = q.add_author(name="Ann", bio=None, note=None, rating=None, code="a")
    bob = q.add_author(name="Bob", bio="b", note="n", rating=3, code="b")
    q.add_author(name="Cy", bio=None, note=None, rating=None, code="c")
    q.add_book(author_id=None, title="Orphan", price=None)
    q.add_book(author_id=bob.id, title="B1", price=Decimal(2))
    q.add_book(author_id=bob.id, title="B2", price=None)

    assert field_types(db.UnnamedRow) == {"column_1": "int", "column_2": "bool", "column_3": "bool"}
    assert_typed(q.unnamed())

    # "note!" is a column name, not an override: NULL comes back.
    assert field_types(db.RealBangColumnRow) == {"note": "str | None"}
    assert [r.note for r in q.real_bang_column()] == [None, "n", None]
    assert field_types(db.AliasOverrideRow) == {"bio": "str", "name": "str | None"}
    assert_all_typed(q.alias_override())

    assert field_types(db.BuiltinsRow) == {
        "pi": "float",
        "cbrt": "float",
        "div": "Decimal",
        "bucket": "int",
        "ticket": "int",
        "uuid": "UUID",
        "uuid4": "UUID",
        "unlocked": "bool",
        "span": "timedelta",
        "one": "int",
        "lower_name": "str",
        "lower_bio": "str | None",
        "concatenated": "str",
        "joined": "str",
        "empty_length": "int | None",  # strict, yet NULL for an empty array
        "scale": "int | None",  # strict, yet NULL for NaN
        "user_function": "str | None",  # a SQL function may return NULL whatever it says
        "prefix": "str",
    }
    for author in (ann, bob):
        row = q.builtins(days=2, num=Decimal("NaN"), id=author.id)
        assert_typed(row)
    assert (row.empty_length, row.scale, row.user_function) == (None, None, None)

    assert field_types(db.SeriesInFromRow) == {"n": "int", "o": "int"}
    assert_all_typed(q.series_in_from())
    assert field_types(db.UnnestInFromRow) == {"x": "int | None"}
    assert [r.x for r in q.unnest_in_from()] == [1, None]

    assert field_types(db.SystemCatalogsRow) == {
        "relname": "str",
        "relkind": "str",
        "attname": "str",
        "attnotnull": "bool",
    }
    assert_all_typed(q.system_catalogs())
    assert field_types(db.InformationSchemaRow) == {
        "table_name": "str",
        "column_name": "str",
        "is_nullable": "str",
        "ordinal_position": "int",
    }
    rows = q.information_schema()
    assert_all_typed(rows)
    assert [r.column_name for r in rows][:3] == ["id", "name", "bio"]

    assert field_types(db.CaseGuardRow) == {
        "bio_text": "str",
        "rating_or_zero": "int",
        "still_nullable": "str | None",
    }
    assert_all_typed(q.case_guard())

    for rows, fields in [
        (q.outer_join_proven_by_where(), {"title": "str", "name": "str"}),
        (q.outer_join_proven_by_comparison(), {"title": "str", "name": "str"}),
        (
            q.outer_join_proven_by_inner_join(),
            {"title": "str", "name": "str", "other_title": "str"},
        ),
        (q.outer_join_not_proven(), {"title": "str", "name": "str | None"}),
        (q.inner_join_inside_outer_join(), {"name": "str", "title": "str | None"}),
    ]:
        assert rows and field_types(type(rows[0])) == fields
        assert_all_typed(rows)
    assert [r.name for r in q.outer_join_not_proven()] == [None]
    assert q.inner_join_inside_outer_join()[0] == db.InnerJoinInsideOuterJoinRow("Ann", None)

    assert field_types(db.UpdateReturningInCTERow) == {
        "id": "int",
        "bio": "str",
        "rating": "int | None",
    }
    assert_all_typed(q.update_returning_in_cte(id=bob.id))
    # WHERE saw the old bio; RETURNING sees the NULL written.
    assert field_types(db.UpdateSetNullReturningRow) == {"bio": "str | None"}
    assert q.update_set_null_returning(id=bob.id).bio is None

    assert field_types(db.NullifWithCheckRow) == {
        "name": "str",  # CHECK (name <> '')
        "code": "str",  # CHECK (length(code) > 0)
        "rating": "int | None",
        "name_or_null": "str | None",
    }
    assert_all_typed(q.nullif_with_check())

    assert field_types(db.LateralAggregateRow) == {
        "name": "str",
        "n": "int",
        "total": "Decimal | None",
    }
    assert [(r.name, r.n, r.total) for r in q.lateral_aggregate()] == [
        ("Ann", 0, None),
        ("Bob", 2, Decimal(2)),
        ("Cy", 0, None),
    ]
    assert field_types(db.LateralNotOneRowRow) == {"name": "str", "title": "str | None"}
    assert_all_typed(q.lateral_not_one_row())
