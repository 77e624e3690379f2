"""The migration history as a whole: every step reverts exactly, the end state matches SPEC 1-2.

A catalog snapshot (tables, columns, constraints, indexes, enums, sequences, functions,
triggers, comments) is compared before and after each down/up, so a down migration that
forgets a default, an index or a constraint fails here. Column order counts (generated code
builds rows positionally), dropped-column gaps do not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from chatdb.errors import (
    CheckViolation,
    ConstraintViolation,
    NotNullViolation,
    UniqueViolation,
    classify,
)
from chatdb.migrate import Migrator, default_migrations_dir, load_migrations
from codegen.pgserver import PgServer, throwaway_server

Snapshot = dict[str, list[tuple[Any, ...]]]

# Migrations that only change data (every other one must change the schema).
DATA_ONLY_MIGRATIONS = {"chat_access_role"}

# Each query lists one kind of schema object in the public schema, in a stable order, leaving
# out the runner's own schema_migrations table.
_SNAPSHOT_QUERIES: dict[str, str] = {
    "relations": """
        SELECT c.relname, c.relkind, obj_description(c.oid, 'pg_class'), c.reloptions
        FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
          AND c.relname NOT LIKE 'schema\\_migrations%'
        ORDER BY 1
    """,
    "statistics": """
        SELECT s.stxname, pg_get_statisticsobjdef(s.oid)
        FROM pg_statistic_ext s
        WHERE s.stxnamespace = 'public'::regnamespace
        ORDER BY 1
    """,
    "columns": """
        SELECT c.relname, a.attname,
               row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum) AS position,
               format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
               a.attcollation::regcollation::text, col_description(c.oid, a.attnum)
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace = 'public'::regnamespace
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND c.relname <> 'schema_migrations'
          AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY 1, 3
    """,
    "constraints": """
        SELECT coalesce(c.relname, t.typname), con.conname, con.contype,
               pg_get_constraintdef(con.oid), con.condeferrable, con.condeferred
        FROM pg_constraint con
        LEFT JOIN pg_class c ON c.oid = con.conrelid
        LEFT JOIN pg_type t ON t.oid = con.contypid
        WHERE con.connamespace = 'public'::regnamespace
          AND coalesce(c.relname, '') <> 'schema_migrations'
        ORDER BY 1, 2
    """,
    "indexes": """
        SELECT t.relname, i.relname, pg_get_indexdef(x.indexrelid)
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class t ON t.oid = x.indrelid
        WHERE t.relnamespace = 'public'::regnamespace AND t.relname <> 'schema_migrations'
        ORDER BY 1, 2
    """,
    "enums": """
        SELECT t.typname, array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
        FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
        WHERE t.typnamespace = 'public'::regnamespace
        GROUP BY t.typname
        ORDER BY 1
    """,
    "other_types": """
        SELECT t.typname, t.typtype, format_type(t.typbasetype, t.typtypmod), t.typnotnull
        FROM pg_type t
        LEFT JOIN pg_class c ON c.oid = t.typrelid
        WHERE t.typnamespace = 'public'::regnamespace
          AND t.typtype IN ('c', 'd', 'r', 'm')
          AND (c.oid IS NULL OR c.relkind = 'c')
        ORDER BY 1
    """,
    "sequences": """
        SELECT c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin,
               s.seqmax, s.seqcache, s.seqcycle, owner.relname, owner_col.attname
        FROM pg_sequence s
        JOIN pg_class c ON c.oid = s.seqrelid
        LEFT JOIN pg_depend d
            ON d.objid = s.seqrelid AND d.classid = 'pg_class'::regclass AND d.deptype = 'a'
        LEFT JOIN pg_class owner ON owner.oid = d.refobjid
        LEFT JOIN pg_attribute owner_col
            ON owner_col.attrelid = d.refobjid AND owner_col.attnum = d.refobjsubid
        WHERE c.relnamespace = 'public'::regnamespace
          AND c.relname NOT LIKE 'schema\\_migrations%'
        ORDER BY 1
    """,
    "functions": """
        SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid)
        FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND p.prokind IN ('f', 'p')
        ORDER BY 1
    """,
    "triggers": """
        SELECT c.relname, tg.tgname, pg_get_triggerdef(tg.oid)
        FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
        WHERE c.relnamespace = 'public'::regnamespace AND NOT tg.tgisinternal
        ORDER BY 1, 2
    """,
    "views": """
        SELECT c.relname, pg_get_viewdef(c.oid)
        FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('v', 'm')
        ORDER BY 1
    """,
}


def schema_snapshot(conn: psycopg.Connection[Any]) -> Snapshot:
    """Everything about the public schema that a migration can change, as sorted rows."""
    return {name: list(conn.execute(query).fetchall()) for name, query in _SNAPSHOT_QUERIES.items()}


def schema_diff(expected: Snapshot, actual: Snapshot) -> str:
    """A readable description of how two snapshots differ ('' when they are the same)."""
    lines = []
    for section in _SNAPSHOT_QUERIES:
        want, got = expected[section], actual[section]
        if want == got:
            continue
        missing = [row for row in want if row not in got]
        extra = [row for row in got if row not in want]
        lines.append(f"[{section}]")
        lines += [f"  - {row}" for row in missing]
        lines += [f"  + {row}" for row in extra]
        if not missing and not extra:
            lines.append("  (same rows, different order)")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def server() -> Iterator[PgServer]:
    with throwaway_server() as srv:
        yield srv


@pytest.fixture
def dsn(server: PgServer) -> Iterator[str]:
    name = server.create_database()
    yield server.dsn(name)
    server.drop_database(name)


@pytest.fixture
def conn(dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(dsn, autocommit=True) as c:
        yield c


@pytest.fixture(scope="module")
def migrated_dsn(server: PgServer) -> Iterator[str]:
    """A fully migrated database shared by the read-only tests of this module."""
    name = server.create_database()
    Migrator(server.dsn(name)).up()
    yield server.dsn(name)
    server.drop_database(name)


@pytest.fixture
def migrated(migrated_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection to the fully migrated database; whatever a test writes is rolled back."""
    with psycopg.connect(migrated_dsn) as c:
        # Model configs belong to configured providers (chat_model_configs_provider_fkey).
        c.execute("INSERT INTO chat_providers (provider) VALUES ('anthropic'), ('openai')")
        yield c
        c.rollback()


def violation(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...] = ()) -> Any:
    """Run a statement that must fail inside a savepoint; return the classified chatdb error."""
    try:
        with conn.transaction():
            conn.execute(query, params)
    except psycopg.Error as exc:
        return classify(exc)
    raise AssertionError(f"statement succeeded but should have failed: {query}")


# --- the history -------------------------------------------------------------------------------


def test_migrations_are_numbered_from_one_without_gaps_and_each_has_a_down() -> None:
    migrations = load_migrations(default_migrations_dir())
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert all(m.down_path is not None for m in migrations)
    for m in migrations:
        for path in (m.up_path, m.down_path):
            assert path is not None
            assert path.read_text().startswith("--"), f"{path.name} should open with a comment"


def test_each_migration_reverts_to_the_previous_schema_and_reapplies_identically(
    dsn: str, conn: psycopg.Connection[Any]
) -> None:
    migrator = Migrator(dsn)
    previous = schema_snapshot(conn)
    for m in load_migrations(default_migrations_dir()):
        assert [x.version for x in migrator.up(target=m.version)] == [m.version]
        applied = schema_snapshot(conn)
        if m.name not in DATA_ONLY_MIGRATIONS:
            assert applied != previous, f"{m.up_path.name} changed nothing in the schema"

        assert [x.version for x in migrator.down(1)] == [m.version]
        reverted = schema_snapshot(conn)
        assert reverted == previous, (
            f"{m.version:06d}_{m.name}.down.sql does not restore the previous schema:\n"
            + schema_diff(previous, reverted)
        )

        migrator.up(target=m.version)
        reapplied = schema_snapshot(conn)
        assert reapplied == applied, (
            f"{m.up_path.name} gives a different schema the second time:\n"
            + schema_diff(applied, reapplied)
        )
        previous = applied


def test_migrating_all_the_way_down_and_up_again_reproduces_the_schema(
    dsn: str, conn: psycopg.Connection[Any]
) -> None:
    migrator = Migrator(dsn)
    empty = schema_snapshot(conn)
    migrator.up()
    full = schema_snapshot(conn)

    migrator.down(steps=len(migrator.migrations()))
    assert migrator.current_version() == 0
    assert schema_snapshot(conn) == empty

    migrator.up()
    assert migrator.current_version() == len(migrator.migrations())
    again = schema_snapshot(conn)
    assert again == full, schema_diff(full, again)


# --- the resulting schema matches SPEC 1-2 --------------------------------------------------------


def test_the_enums_have_the_spec_labels_in_order(migrated: psycopg.Connection[Any]) -> None:
    rows = migrated.execute(_SNAPSHOT_QUERIES["enums"]).fetchall()
    assert dict(rows) == {
        "chat_client_type": ["ui", "api"],
        "chat_message_role": ["system", "user", "assistant", "tool"],
        "chat_message_visibility": ["user", "model", "both"],
        "chat_mode": ["computer_use", "explore"],
        "chat_plan_mode": ["plan"],
        "chat_status": [
            "waiting",
            "pending",
            "running",
            "paused",
            "completed",
            "error",
            "requires_action",
        ],
        "user_status": ["active", "suspended", "dormant"],
    }


def columns_of(conn: psycopg.Connection[Any], table: str) -> list[tuple[str, str, bool, str]]:
    """(name, type, not null, default or '') of a table's columns, in order."""
    rows = conn.execute(
        """
        SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               coalesce(pg_get_expr(d.adbin, d.adrelid), '')
        FROM pg_attribute a
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """,
        (table,),
    ).fetchall()
    return [(str(n), str(t), bool(nn), str(d)) for n, t, nn, d in rows]


def test_chats_has_the_spec_columns_types_and_defaults(migrated: psycopg.Connection[Any]) -> None:
    assert columns_of(migrated, "chats") == [
        ("id", "uuid", True, "gen_random_uuid()"),
        ("owner_id", "uuid", True, ""),
        ("workspace_id", "uuid", False, ""),
        ("title", "text", True, "'New Chat'::text"),
        ("status", "chat_status", True, "'waiting'::chat_status"),
        ("worker_id", "uuid", False, ""),
        ("started_at", "timestamp with time zone", False, ""),
        ("heartbeat_at", "timestamp with time zone", False, ""),
        ("created_at", "timestamp with time zone", True, "now()"),
        ("updated_at", "timestamp with time zone", True, "now()"),
        ("parent_chat_id", "uuid", False, ""),
        ("root_chat_id", "uuid", False, ""),
        ("last_model_config_id", "uuid", True, ""),
        ("archived", "boolean", True, "false"),
        ("last_error", "text", False, ""),
        ("mode", "chat_mode", False, ""),
        ("last_read_message_id", "bigint", False, ""),
        ("mcp_server_ids", "uuid[]", True, "'{}'::uuid[]"),
        ("labels", "jsonb", True, "'{}'::jsonb"),
        ("build_id", "uuid", False, ""),
        ("agent_id", "uuid", False, ""),
        ("pin_order", "integer", True, "0"),
        ("last_injected_context", "jsonb", False, ""),
        ("dynamic_tools", "jsonb", False, ""),
        ("plan_mode", "chat_plan_mode", False, ""),
        ("organization_id", "uuid", True, ""),
        ("client_type", "chat_client_type", True, "'api'::chat_client_type"),
    ]


def test_chat_messages_has_the_spec_columns_types_and_defaults(
    migrated: psycopg.Connection[Any],
) -> None:
    assert columns_of(migrated, "chat_messages") == [
        ("id", "bigint", True, "nextval('chat_messages_id_seq'::regclass)"),
        ("chat_id", "uuid", True, ""),
        ("model_config_id", "uuid", False, ""),
        ("created_at", "timestamp with time zone", True, "now()"),
        ("role", "chat_message_role", True, ""),
        ("content", "jsonb", False, ""),
        ("visibility", "chat_message_visibility", True, "'both'::chat_message_visibility"),
        ("input_tokens", "bigint", False, ""),
        ("output_tokens", "bigint", False, ""),
        ("total_tokens", "bigint", False, ""),
        ("reasoning_tokens", "bigint", False, ""),
        ("cache_creation_tokens", "bigint", False, ""),
        ("cache_read_tokens", "bigint", False, ""),
        ("context_limit", "bigint", False, ""),
        ("compressed", "boolean", True, "false"),
        ("created_by", "uuid", False, ""),
        ("content_version", "smallint", True, ""),
        ("total_cost_micros", "bigint", False, ""),
        ("deleted", "boolean", True, "false"),
        ("runtime_ms", "bigint", False, ""),
        ("provider_response_id", "text", False, ""),
    ]


def test_foreign_keys_have_the_spec_delete_rules(migrated: psycopg.Connection[Any]) -> None:
    rows = migrated.execute(
        """
        SELECT conrelid::regclass::text || '.' || a.attname,
               confrelid::regclass::text, confdeltype
        FROM pg_constraint con
        JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
        WHERE con.contype = 'f' AND con.connamespace = 'public'::regnamespace
        """
    ).fetchall()
    rules = {column: (target, rule) for column, target, rule in rows}
    cascade, set_null, no_action = "c", "n", "a"
    assert rules["chats.owner_id"] == ("users", cascade)
    assert rules["chats.organization_id"] == ("organizations", cascade)
    assert rules["chats.workspace_id"] == ("workspaces", set_null)
    assert rules["chats.build_id"] == ("workspace_builds", set_null)
    assert rules["chats.agent_id"] == ("workspace_agents", set_null)
    assert rules["chats.parent_chat_id"] == ("chats", set_null)
    assert rules["chats.root_chat_id"] == ("chats", set_null)
    assert rules["chats.last_model_config_id"] == ("chat_model_configs", no_action)
    assert rules["chat_model_configs.provider"] == ("chat_providers", cascade)
    assert rules["chat_messages.chat_id"] == ("chats", cascade)
    assert rules["chat_queued_messages.chat_id"] == ("chats", cascade)
    assert rules["chat_diff_statuses.chat_id"] == ("chats", cascade)
    assert rules["chat_file_links.chat_id"] == ("chats", cascade)
    assert rules["chat_file_links.file_id"] == ("chat_files", cascade)
    assert rules["mcp_server_user_tokens.mcp_server_config_id"] == ("mcp_server_configs", cascade)
    assert rules["mcp_server_configs.created_by"] == ("users", set_null)
    # Deliberately without a foreign key (SPEC 2.2-2.4).
    for column in (
        "chats.last_read_message_id",
        "chats.worker_id",
        "chat_messages.created_by",
        "chat_queued_messages.model_config_id",
    ):
        assert column not in rules


def test_every_secret_has_a_key_id_column_referencing_an_active_dbcrypt_key(
    migrated: psycopg.Connection[Any],
) -> None:
    secrets = {
        "chat_providers": ["api_key"],
        "mcp_server_configs": ["oauth2_client_secret", "api_key_value", "custom_headers"],
        "mcp_server_user_tokens": ["access_token", "refresh_token"],
    }
    for table, columns in secrets.items():
        described = {name: (typ, notnull) for name, typ, notnull, _ in columns_of(migrated, table)}
        for secret in columns:
            assert described[secret] == ("text", True)
            assert described[f"{secret}_key_id"] == ("text", False)
            target = migrated.execute(
                """
                SELECT confrelid::regclass::text, fa.attname
                FROM pg_constraint con
                JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
                JOIN pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attnum = con.confkey[1]
                WHERE con.contype = 'f' AND con.conrelid = %s::regclass AND a.attname = %s
                """,
                (table, f"{secret}_key_id"),
            ).fetchone()
            assert target == ("dbcrypt_keys", "active_key_digest")


# --- constraints a user of the library runs into ----------------------------------------------


def insert_user(conn: psycopg.Connection[Any], username: str) -> Any:
    row = conn.execute(
        "INSERT INTO users (email, username) VALUES (%s, %s) RETURNING id",
        (f"{username}@example.com", username),
    ).fetchone()
    assert row is not None
    return row[0]


def insert_org(conn: psycopg.Connection[Any], name: str) -> Any:
    row = conn.execute("INSERT INTO organizations (name) VALUES (%s) RETURNING id", (name,))
    fetched = row.fetchone()
    assert fetched is not None
    return fetched[0]


def insert_model(conn: psycopg.Connection[Any], *, is_default: bool = False) -> Any:
    row = conn.execute(
        """
        INSERT INTO chat_model_configs (provider, model, context_limit, compression_threshold,
                                        is_default)
        VALUES ('anthropic', 'claude', 200000, 70, %s) RETURNING id
        """,
        (is_default,),
    ).fetchone()
    assert row is not None
    return row[0]


@pytest.fixture
def chat_owner(migrated: psycopg.Connection[Any]) -> tuple[Any, Any, Any]:
    """(user id, organization id, model config id) to create chats with."""
    return insert_user(migrated, "ada"), insert_org(migrated, "acme"), insert_model(migrated)


def insert_chat(conn: psycopg.Connection[Any], owner: tuple[Any, Any, Any], **columns: Any) -> Any:
    user, org, model = owner
    values = {
        "owner_id": user,
        "organization_id": org,
        "last_model_config_id": model,
        "status": "waiting",
        **columns,
    }
    names = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    row = conn.execute(
        f"INSERT INTO chats ({names}) VALUES ({marks}) RETURNING id",  # column names are ours
        tuple(values.values()),
    ).fetchone()
    assert row is not None
    return row[0]


def test_new_chats_get_empty_labels_and_the_api_client_type_by_default(
    migrated: psycopg.Connection[Any], chat_owner: tuple[Any, Any, Any]
) -> None:
    chat = insert_chat(migrated, chat_owner)
    row = migrated.execute(
        "SELECT labels, client_type, pin_order, mcp_server_ids, archived FROM chats WHERE id = %s",
        (chat,),
    ).fetchone()
    assert row == ({}, "api", 0, [], False)


def test_labels_must_be_a_json_object(
    migrated: psycopg.Connection[Any], chat_owner: tuple[Any, Any, Any]
) -> None:
    error = violation(
        migrated,
        """
        INSERT INTO chats (owner_id, organization_id, last_model_config_id, status, labels)
        VALUES (%s, %s, %s, 'waiting', '["not", "a", "map"]')
        """,
        chat_owner,
    )
    assert isinstance(error, CheckViolation)
    assert error.constraint == "chats_labels_object_check"


def test_pinning_a_child_chat_is_refused(
    migrated: psycopg.Connection[Any], chat_owner: tuple[Any, Any, Any]
) -> None:
    root = insert_chat(migrated, chat_owner, pin_order=1)
    child = insert_chat(migrated, chat_owner, parent_chat_id=root, root_chat_id=root)
    error = violation(migrated, "UPDATE chats SET pin_order = 2 WHERE id = %s", (child,))
    assert isinstance(error, CheckViolation)
    assert error.constraint == "chats_pin_order_root_only_check"


def test_pinning_an_archived_chat_is_refused_and_archiving_must_unpin(
    migrated: psycopg.Connection[Any], chat_owner: tuple[Any, Any, Any]
) -> None:
    archived = insert_chat(migrated, chat_owner, archived=True)
    error = violation(migrated, "UPDATE chats SET pin_order = 1 WHERE id = %s", (archived,))
    assert isinstance(error, CheckViolation)
    assert error.constraint == "chats_pin_order_not_archived_check"

    pinned = insert_chat(migrated, chat_owner, pin_order=1)
    error = violation(migrated, "UPDATE chats SET archived = true WHERE id = %s", (pinned,))
    assert isinstance(error, CheckViolation)
    migrated.execute("UPDATE chats SET archived = true, pin_order = 0 WHERE id = %s", (pinned,))


def test_a_negative_pin_position_is_refused(
    migrated: psycopg.Connection[Any], chat_owner: tuple[Any, Any, Any]
) -> None:
    chat = insert_chat(migrated, chat_owner)
    error = violation(migrated, "UPDATE chats SET pin_order = -1 WHERE id = %s", (chat,))
    assert isinstance(error, CheckViolation)
    assert error.constraint == "chats_pin_order_check"


def test_at_most_one_live_default_model_config(migrated: psycopg.Connection[Any]) -> None:
    first = insert_model(migrated, is_default=True)
    error = violation(
        migrated,
        """
        INSERT INTO chat_model_configs (provider, model, context_limit, compression_threshold,
                                        is_default)
        VALUES ('openai', 'gpt', 128000, 70, true)
        """,
    )
    assert isinstance(error, UniqueViolation)
    assert error.constraint == "chat_model_configs_single_default"

    # A soft-deleted default no longer counts.
    migrated.execute("UPDATE chat_model_configs SET deleted = true WHERE id = %s", (first,))
    insert_model(migrated, is_default=True)


def test_model_config_limits_are_checked(migrated: psycopg.Connection[Any]) -> None:
    error = violation(
        migrated,
        """
        INSERT INTO chat_model_configs (provider, model, context_limit, compression_threshold)
        VALUES ('openai', 'gpt', 128000, 101)
        """,
    )
    assert isinstance(error, CheckViolation)
    assert error.constraint == "chat_model_configs_compression_threshold_check"
    error = violation(
        migrated,
        """
        INSERT INTO chat_model_configs (provider, model, context_limit, compression_threshold)
        VALUES ('openai', 'gpt', 0, 50)
        """,
    )
    assert isinstance(error, CheckViolation)
    assert error.constraint == "chat_model_configs_context_limit_check"


def test_an_unknown_provider_is_refused(migrated: psycopg.Connection[Any]) -> None:
    error = violation(migrated, "INSERT INTO chat_providers (provider) VALUES ('acme-llm')")
    assert isinstance(error, CheckViolation)
    assert error.constraint == "chat_providers_provider_check"


def test_the_usage_limit_config_is_one_disabled_row(migrated: psycopg.Connection[Any]) -> None:
    rows = migrated.execute(
        "SELECT singleton, enabled, default_limit_micros, period FROM chat_usage_limit_config"
    ).fetchall()
    assert rows == [(True, False, 0, "month")]

    error = violation(migrated, "INSERT INTO chat_usage_limit_config DEFAULT VALUES")
    assert isinstance(error, UniqueViolation)
    assert error.constraint == "chat_usage_limit_config_singleton_key"
    error = violation(migrated, "INSERT INTO chat_usage_limit_config (singleton) VALUES (false)")
    assert isinstance(error, CheckViolation)
    assert error.constraint == "chat_usage_limit_config_singleton_check"
    error = violation(migrated, "UPDATE chat_usage_limit_config SET period = 'year'")
    assert isinstance(error, CheckViolation)
    assert error.constraint == "chat_usage_limit_config_period_check"


def test_spend_limit_overrides_must_be_positive_when_set(
    migrated: psycopg.Connection[Any],
) -> None:
    user = insert_user(migrated, "grace")
    error = violation(
        migrated, "UPDATE users SET chat_spend_limit_micros = 0 WHERE id = %s", (user,)
    )
    assert isinstance(error, CheckViolation)
    assert error.constraint == "users_chat_spend_limit_micros_check"
    migrated.execute("UPDATE users SET chat_spend_limit_micros = NULL WHERE id = %s", (user,))


def test_a_message_must_state_its_content_version(
    migrated: psycopg.Connection[Any], chat_owner: tuple[Any, Any, Any]
) -> None:
    chat = insert_chat(migrated, chat_owner)
    error = violation(
        migrated,
        "INSERT INTO chat_messages (chat_id, role, content) VALUES (%s, 'user', '[]')",
        (chat,),
    )
    assert isinstance(error, NotNullViolation)
    assert error.column == "content_version"


def test_usernames_are_unique_among_live_users_only(migrated: psycopg.Connection[Any]) -> None:
    user = insert_user(migrated, "linus")
    error = violation(
        migrated,
        "INSERT INTO users (email, username) VALUES ('other@example.com', 'linus')",
    )
    assert isinstance(error, UniqueViolation)
    assert error.constraint == "users_username_unique"
    migrated.execute("UPDATE users SET deleted = true WHERE id = %s", (user,))
    insert_user(migrated, "linus")


def test_there_is_at_most_one_default_organization(migrated: psycopg.Connection[Any]) -> None:
    migrated.execute("INSERT INTO organizations (name, is_default) VALUES ('first', true)")
    error = violation(
        migrated, "INSERT INTO organizations (name, is_default) VALUES ('second', true)"
    )
    assert isinstance(error, ConstraintViolation)
    assert error.constraint == "organizations_single_default"


# --- indexes serve the hot queries --------------------------------------------------------------


def plan_nodes(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...]) -> list[str]:
    """'<node type> <index name>' for every node of the query's plan."""
    row = conn.execute(f"EXPLAIN (FORMAT JSON) {query}", params).fetchone()
    assert row is not None
    plan = row[0] if not isinstance(row[0], str) else json.loads(row[0])
    found: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        found.append(f"{node['Node Type']} {node.get('Index Name', '')}".strip())
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


@pytest.fixture(scope="module")
def busy_dsn(server: PgServer) -> Iterator[str]:
    """A migrated, analyzed database: 20,000 root chats of 40 owners (a few pinned, some archived,
    some pending, updated_at uncorrelated with the physical order), 1,000 child chats, and
    101,000 messages, 1,000 of them in one chat with a compaction summary every 100."""
    name = server.create_database()
    dsn = server.dsn(name)
    Migrator(dsn).up()
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(
            """
            INSERT INTO organizations (id, name) VALUES ('00000000-0000-0000-0000-00000000000a', 'o');
            INSERT INTO users (id, email, username)
                SELECT ('00000000-0000-0000-0000-' || lpad(n::text, 12, '0'))::uuid,
                       'u' || n || '@example.com', 'u' || n
                FROM generate_series(1, 40) n;
            INSERT INTO chat_providers (provider) VALUES ('openai');
            INSERT INTO chat_model_configs (id, provider, model, context_limit,
                                            compression_threshold)
                VALUES ('00000000-0000-0000-0000-0000000000cc', 'openai', 'gpt', 1000, 50);
            INSERT INTO chats (owner_id, organization_id, last_model_config_id, status, title,
                               updated_at, pin_order, archived)
                SELECT ('00000000-0000-0000-0000-' || lpad((n % 40 + 1)::text, 12, '0'))::uuid,
                       '00000000-0000-0000-0000-00000000000a',
                       '00000000-0000-0000-0000-0000000000cc',
                       (CASE WHEN n % 30 = 0 THEN 'pending' ELSE 'completed' END)::chat_status,
                       'chat ' || n,
                       now() - ((n * 7919) % 20000) * interval '1 minute',
                       CASE WHEN n % 1000 = 0 THEN n / 1000 ELSE 0 END,
                       n % 7 = 0 AND n % 1000 <> 0
                FROM generate_series(1, 20000) n;
            INSERT INTO chats (id, owner_id, organization_id, last_model_config_id, status)
                VALUES ('00000000-0000-0000-0000-0000000000ff',
                        '00000000-0000-0000-0000-000000000001',
                        '00000000-0000-0000-0000-00000000000a',
                        '00000000-0000-0000-0000-0000000000cc', 'waiting');
            INSERT INTO chats (owner_id, organization_id, last_model_config_id, status,
                               parent_chat_id, root_chat_id)
                SELECT owner_id, organization_id, last_model_config_id, 'completed', id, id
                FROM chats ORDER BY id LIMIT 1000;
            INSERT INTO chat_messages (chat_id, role, content, content_version, compressed,
                                       visibility)
                SELECT '00000000-0000-0000-0000-0000000000ff', 'assistant', '[]', 1,
                       n % 100 = 0,
                       (CASE WHEN n % 100 = 0 THEN 'model' ELSE 'both' END)
                           ::chat_message_visibility
                FROM generate_series(1, 1000) n;
            INSERT INTO chat_messages (chat_id, role, content, content_version)
                SELECT c.id, 'assistant', '[]', 1
                FROM (SELECT id FROM chats ORDER BY id LIMIT 4000) c, generate_series(1, 25) n;
            ANALYZE;
            """
        )
    yield dsn
    server.drop_database(name)


@pytest.fixture
def busy(busy_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(busy_dsn) as c:
        yield c
        c.rollback()


LIST_ORDER = "ORDER BY (pin_order > 0) DESC, -pin_order DESC, updated_at DESC, id DESC LIMIT 50"
OWNER = "00000000-0000-0000-0000-000000000003"


def test_one_owners_chat_list_page_is_read_from_the_index_without_sorting(
    busy: psycopg.Connection[Any],
) -> None:
    nodes = plan_nodes(
        busy,
        f"SELECT id FROM chats WHERE parent_chat_id IS NULL AND owner_id = %s "
        f"AND archived = false {LIST_ORDER}",
        (OWNER,),
    )
    assert "Index Scan idx_chats_list_by_owner" in nodes
    assert not any(n.startswith(("Sort", "Incremental Sort")) for n in nodes), nodes


def test_the_next_page_after_a_cursor_is_read_from_the_index_without_sorting(
    busy: psycopg.Connection[Any],
) -> None:
    nodes = plan_nodes(
        busy,
        "SELECT id FROM chats WHERE parent_chat_id IS NULL AND owner_id = %s "
        "AND ((pin_order > 0), -pin_order, updated_at, id) < (%s, %s, now(), %s) " + LIST_ORDER,
        (OWNER, False, 0, "ffffffff-0000-0000-0000-000000000000"),
    )
    assert "Index Scan idx_chats_list_by_owner" in nodes
    assert not any(n.startswith(("Sort", "Incremental Sort")) for n in nodes), nodes


def test_the_site_wide_chat_list_is_read_from_the_index_without_sorting(
    busy: psycopg.Connection[Any],
) -> None:
    nodes = plan_nodes(busy, f"SELECT id FROM chats WHERE parent_chat_id IS NULL {LIST_ORDER}", ())
    assert "Index Scan idx_chats_list" in nodes
    assert not any(n.startswith(("Sort", "Incremental Sort")) for n in nodes), nodes


def test_workers_acquire_the_oldest_pending_chats_from_the_index(
    busy: psycopg.Connection[Any],
) -> None:
    nodes = plan_nodes(
        busy,
        "SELECT id FROM chats WHERE status = 'pending' AND archived = false "
        "ORDER BY updated_at LIMIT 10 FOR UPDATE SKIP LOCKED",
        (),
    )
    assert "Index Scan idx_chats_pending" in nodes
    assert not any(n.startswith("Sort") for n in nodes), nodes


def test_message_pages_and_the_compaction_summary_are_index_lookups(
    busy: psycopg.Connection[Any],
) -> None:
    chat = "00000000-0000-0000-0000-0000000000ff"
    page = plan_nodes(
        busy,
        "SELECT id FROM chat_messages WHERE chat_id = %s AND id < %s AND NOT deleted "
        "ORDER BY id DESC LIMIT 50",
        (chat, 2_000_000),
    )
    assert any(n.endswith("idx_chat_messages_chat_id_id") for n in page), page
    assert not any(n.startswith("Sort") for n in page), page

    summary = plan_nodes(
        busy,
        "SELECT id FROM chat_messages WHERE chat_id = %s AND compressed "
        "AND visibility = 'model' AND NOT deleted ORDER BY id DESC LIMIT 1",
        (chat,),
    )
    assert any(n.endswith("idx_chat_messages_compressed_summary") for n in summary), summary
