"""The row factories: one per table, valid defaults, overridable fields, related rows made."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import psycopg
import pytest
from psycopg import sql

from chatdb import db
from chatdb.dbcrypt import Ciphers, ensure_active_keys
from chatdb.testing.factories import Factories


def schema_tables(conn: psycopg.Connection[Any]) -> set[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        " AND table_name <> 'schema_migrations'"
    ).fetchall()
    return {r[0] for r in rows}


def model_tables() -> dict[str, type[Any]]:
    """Table name → generated dataclass, from the ``A row of ``table``.`` docstrings."""
    out: dict[str, type[Any]] = {}
    for cls in vars(db.models).values():
        if inspect.isclass(cls) and dataclasses.is_dataclass(cls):
            doc = cls.__doc__ or ""
            assert doc.startswith("A row of ``"), cls
            out[doc.split("``")[1]] = cls
    return out


def count(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    assert row is not None
    return int(row[0])


def test_every_table_of_the_schema_and_every_model_has_a_factory(
    chatdb_conn: psycopg.Connection[Any],
) -> None:
    tables = schema_tables(chatdb_conn)
    assert set(model_tables()) == tables
    assert set(Factories.TABLES) == tables
    for method in Factories.TABLES.values():
        assert callable(getattr(Factories, method))


@pytest.mark.parametrize("table", sorted(Factories.TABLES))
def test_each_factory_default_row_inserts_and_comes_back_as_its_model(
    chatdb_conn: psycopg.Connection[Any], table: str
) -> None:
    f = Factories(chatdb_conn)
    before = count(chatdb_conn, table)
    row = getattr(f, Factories.TABLES[table])()
    assert type(row) is model_tables()[table]
    if table == "chat_usage_limit_config":  # a singleton: the factory updates the one row
        assert count(chatdb_conn, table) == 1
    else:
        assert count(chatdb_conn, table) == before + 1
        # A second default row does not collide with the first on any unique constraint.
        getattr(f, Factories.TABLES[table])()
        assert count(chatdb_conn, table) == before + 2


def test_fields_can_be_overridden_and_enums_come_back_typed(
    chatdb_conn: psycopg.Connection[Any],
) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat(title="hello", status="running", labels={"team": "infra"})
    assert (chat.title, chat.status, chat.labels) == (
        "hello",
        db.ChatStatus.RUNNING,
        {"team": "infra"},
    )
    message = f.chat_message(chat_id=chat.id, role="assistant", total_cost_micros=7)
    assert message.role is db.ChatMessageRole.ASSISTANT
    assert message.total_cost_micros == 7


def test_related_rows_are_consistent_with_each_other(chatdb_conn: psycopg.Connection[Any]) -> None:
    f = Factories(chatdb_conn)
    member = f.group_member()
    group_org = chatdb_conn.execute(
        "SELECT organization_id FROM groups WHERE id = %s", (member.group_id,)
    ).fetchone()
    memberships = chatdb_conn.execute(
        "SELECT organization_id FROM organization_members WHERE user_id = %s", (member.user_id,)
    ).fetchall()
    assert memberships == [group_org]  # the member belongs to the group's organization

    link = f.chat_file_link()
    owners = chatdb_conn.execute(
        "SELECT c.owner_id = f.owner_id AND c.organization_id = f.organization_id"
        " FROM chats c, chat_files f WHERE c.id = %s AND f.id = %s",
        (link.chat_id, link.file_id),
    ).fetchone()
    assert owners == (True,)


def test_providers_default_to_a_kind_not_yet_configured(
    chatdb_conn: psycopg.Connection[Any],
) -> None:
    f = Factories(chatdb_conn)
    kinds = [f.chat_provider().provider for _ in range(3)]
    assert kinds[0] == "openai"
    assert len(set(kinds)) == 3


def test_the_usage_limit_singleton_is_updated_in_place(
    chatdb_conn: psycopg.Connection[Any],
) -> None:
    f = Factories(chatdb_conn)
    assert f.chat_usage_limit_config().enabled is False  # the migration's disabled row
    row = f.chat_usage_limit_config(enabled=True, default_limit_micros=5_000_000, period="week")
    assert (row.enabled, row.default_limit_micros, row.period) == (True, 5_000_000, "week")
    assert count(chatdb_conn, "chat_usage_limit_config") == 1
    assert f.chat_usage_limit_config() == row  # no arguments: unchanged


def test_a_dbcrypt_key_row_is_accepted_by_the_key_check_at_startup(
    chatdb_conn: psycopg.Connection[Any],
) -> None:
    """The factory's test value really is the sentinel sealed with that key."""
    f = Factories(chatdb_conn)
    ciphers = Ciphers.from_base64_keys(
        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # 32 bytes
    )
    key = f.dbcrypt_key(cipher=ciphers.primary)
    assert key.active_key_digest == ciphers.primary.digest
    assert [r.number for r in ensure_active_keys(chatdb_conn, ciphers)] == [key.number]
