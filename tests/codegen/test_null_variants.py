"""Optional filters get one statement text per combination of NULL arguments.

The rewrite must be exact (the text means the same for the arguments it is chosen for) and
must touch only a NULL test that is a whole boolean operand of a nullable parameter.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from chatdb.db.chats import GET_CHATS_NULLS
from chatdb.db.models import NullVariants
from codegen.nulltests import null_tests

SQL = "SELECT 1 WHERE ($1::uuid IS NULL OR a = $1) AND ($2::timestamp with time zone IS NULL)"


def _texts(sql: str, nullable: set[int]) -> list[str]:
    return [sql[start:end] for start, end, _ in null_tests(sql, nullable)]


def test_each_whole_null_test_of_a_nullable_parameter_is_found() -> None:
    assert _texts(SQL, {1, 2}) == ["$1::uuid IS NULL", "$2::timestamp with time zone IS NULL"]
    assert _texts(SQL, {2}) == ["$2::timestamp with time zone IS NULL"]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT a = $1 IS NULL",  # means (a = $1) IS NULL
        "SELECT 1 WHERE $1 IS NULL = b",  # (…) = b
        "SELECT 1 WHERE $1 IS NOT NULL",
        "SELECT '$1 IS NULL' WHERE TRUE",  # a string, not a test
        "SELECT 1 -- $1 IS NULL\n",
    ],
)
def test_anything_but_a_whole_operand_is_left_alone(sql: str) -> None:
    assert null_tests(sql, {1}) == []


def test_offsets_count_characters_not_bytes() -> None:
    sql = "SELECT 'é' WHERE ($1::text IS NULL OR b = $1)"
    assert _texts(sql, {1}) == ["$1::text IS NULL"]


def test_each_variant_folds_its_tests_and_keeps_the_rest() -> None:
    start = SQL.index("$1")
    variants = NullVariants(SQL, ((start, start + len("$1::uuid IS NULL")),))
    assert "(TRUE OR $1::uuid IS NULL) OR a = $1" in variants.text((True,))
    assert "(FALSE AND $1::uuid IS NULL) OR a = $1" in variants.text((False,))
    assert variants.text((True,)) is variants.text((True,))  # built once


def test_every_variant_of_the_chat_list_returns_what_the_plain_text_does(
    chatdb_conn: psycopg.Connection[Any],
) -> None:
    from chatdb.db.chats import GET_CHATS
    from chatdb.testing.factories import Factories

    f = Factories(chatdb_conn)
    chat = f.chat(labels={"k": "v"})
    f.chat(owner_id=chat.owner_id, organization_id=chat.organization_id, archived=True)
    calls = [
        (chat.owner_id, None, None, None, None, None, 0, 50),
        (None, True, None, None, None, None, 0, 50),
        (chat.owner_id, False, '{"k": "v"}', False, "chat", None, 0, 50),
        (None, None, None, None, None, chat.id, 0, 50),
    ]
    for args in calls:
        nulls = tuple(a is None for a in args[:6])
        plain = psycopg.RawCursor(chatdb_conn).execute(GET_CHATS, args).fetchall()
        folded = psycopg.RawCursor(chatdb_conn).execute(GET_CHATS_NULLS.text(nulls), args)
        assert folded.fetchall() == plain
