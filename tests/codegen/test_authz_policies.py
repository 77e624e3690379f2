"""The `-- authz:` policy language: every term parses, mistakes fail code generation clearly."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest

from chatdb.authz import (
    CHAT_ACCESS,
    Action,
    Authorizer,
    Object,
    ResourceType,
    Subject,
    compile_filter,
)
from codegen.authz import parse_policy, render_wrapper, wrapper_method
from codegen.config import AuthzSettings, Config
from codegen.errors import CodegenError
from codegen.main import compile_package, generate
from codegen.pgserver import PgServer

SCHEMA = """
CREATE TABLE chats (id uuid PRIMARY KEY, owner_id uuid NOT NULL, organization_id uuid NOT NULL,
                    title text NOT NULL);
"""
SETTINGS = AuthzSettings(
    runtime="rt",
    custom_sync="rt:Custom",
    custom_async="rt:AsyncCustom",
    type_tables={"chat": "chats"},
    filter_columns={"chat": ("chats.owner_id", "chats.organization_id")},
)


def compile_queries(tmp_path: Path, server: PgServer, queries: str) -> None:
    (tmp_path / "schema.sql").write_text(SCHEMA)
    (tmp_path / "q.sql").write_text(queries)
    config = Config(
        schema=tmp_path / "schema.sql",
        queries=tmp_path / "q.sql",
        out=tmp_path / "out",
        authz=True,
        root=tmp_path,
    )
    generate(config, server)


def test_every_term_of_the_language_compiles(tmp_path: Path, chatdb_pg_server: PgServer) -> None:
    compile_queries(
        tmp_path,
        chatdb_pg_server,
        """
-- name: Fetch :one
-- authz: fetch read chat
SELECT * FROM chats WHERE id = @id;
-- name: Post :many
-- authz: post_filter read chat
SELECT * FROM chats;
-- name: Filtered :many
-- authz: sql_filter read chat
SELECT * FROM chats WHERE title <> '' AND /* authz:filter */ TRUE ORDER BY id;
-- name: Load :exec
-- authz: update chat(id)
UPDATE chats SET title = @title WHERE id = @id;
-- name: LoadMany :many
-- authz: read chat[](ids)
SELECT * FROM chats WHERE id = ANY(@ids::uuid[]);
-- name: Build :one
-- authz: create chat(owner=owner_id, org=organization_id)
INSERT INTO chats (id, owner_id, organization_id, title) VALUES (@id, @owner_id, @organization_id, '') RETURNING *;
-- name: Sys :exec
-- authz: system delete chat
DELETE FROM chats;
-- name: Dep :one
-- authz: deployment_config read
SELECT 1 AS one;
-- name: Personal :one
-- authz: personal read user(user_id) or deployment_config read
SELECT @user_id::uuid AS user_id;
-- name: Both :exec
-- authz: update chat(id) and read chat[](ids)
UPDATE chats SET title = '' WHERE id = @id AND id = ANY(@ids::uuid[]);
-- name: Anyone :one
-- authz: any_actor
SELECT 1 AS one;
-- name: Custom :one
-- authz: custom reads through a linked object
SELECT 1 AS one;
""",
    )


@pytest.mark.parametrize(
    ("policy", "sql", "message"),
    [
        ("fetch read", "SELECT * FROM chats", "unknown authz policy 'fetch read'"),
        (
            "update chat(nope)",
            "SELECT * FROM chats WHERE id = @id",
            "query has no parameter 'nope'",
        ),
        ("destroy chat(id)", "SELECT * FROM chats WHERE id = @id", "unknown action 'destroy'"),
        ("sql_filter read chat", "SELECT * FROM chats", "sql_filter needs the placeholder"),
        (
            "post_filter read chat",
            "SELECT * FROM chats WHERE /* authz:filter */ TRUE",
            "the authz filter placeholder needs an 'sql_filter' policy",
        ),
        ("fetch read chat or any_actor", "SELECT * FROM chats", "'or' joins checks made before"),
        ("fetch read chat and any_actor", "SELECT * FROM chats", "'and' joins checks made before"),
    ],
)
def test_policy_mistakes_fail_generation(
    tmp_path: Path, chatdb_pg_server: PgServer, policy: str, sql: str, message: str
) -> None:
    with pytest.raises(CodegenError) as err:
        compile_queries(
            tmp_path, chatdb_pg_server, f"-- name: Q :many\n-- authz: {policy}\n{sql};\n"
        )
    assert str(err.value).startswith("q.sql:1: ")
    assert message in str(err.value)


def test_load_policy_checks_before_running(tmp_path: Path, chatdb_pg_server: PgServer) -> None:
    """The rendered method authorizes on the loaded object, then calls the plain querier."""
    (tmp_path / "schema.sql").write_text(SCHEMA)
    (tmp_path / "q.sql").write_text(
        "-- name: Rename :exec\n-- authz: update chat(id)\nUPDATE chats SET title = @title WHERE id = @id;\n"
    )
    config = Config(schema=tmp_path / "schema.sql", queries=tmp_path / "q.sql", out=tmp_path / "o")
    name = chatdb_pg_server.create_database()
    try:
        with psycopg.connect(chatdb_pg_server.dsn(name), autocommit=True) as conn:
            (query,) = compile_package(config, conn).queries
    finally:
        chatdb_pg_server.drop_database(name)
    body = wrapper_method(query, parse_policy("update chat(id)", query), False, SETTINGS)
    lines = [line.strip() for line in body.splitlines()]
    assert lines[2:] == [
        "subject = self._actor()",
        "self._authz.authorize(subject, Action.UPDATE, self._load(ResourceType.CHAT, id))",
        "return self._q.rename(title=title, id=id)",
    ]
    async_body = wrapper_method(query, parse_policy("update chat(id)", query), True, SETTINGS)
    assert "await self._load(ResourceType.CHAT, id)" in async_body


LIST = "-- name: List :many\n-- authz: sql_filter read chat\nSELECT * FROM chats WHERE /* authz:filter */ TRUE ORDER BY id;\n"  # fmt: skip


@pytest.mark.parametrize(
    ("org_column", "filter_columns", "arm_left_out"),
    [
        ("organization_id uuid NOT NULL", ("chats.owner_id", "chats.organization_id"), True),
        ("organization_id uuid NOT NULL", ("owner_id", "organization_id"), True),
        ("organization_id uuid", ("chats.owner_id", "chats.organization_id"), False),
        # Qualified by something that is not the type's table: nothing is proven.
        ("organization_id uuid NOT NULL", ("c.owner_id", "c.organization_id"), False),
        ("organization_id uuid NOT NULL", ("chats.owner_id", "c.organization_id"), False),
    ],
)
def test_the_organization_less_arm_is_left_out_only_where_the_catalog_proves_it_empty(
    tmp_path: Path,
    chatdb_pg_server: PgServer,
    org_column: str,
    filter_columns: tuple[str, str],
    arm_left_out: bool,
) -> None:
    """The sql_filter call says whether the organization column can be NULL; where it can, an
    owner's organization-less row is found (the engine allows it), through the filter the
    generated call asks for."""
    (tmp_path / "schema.sql").write_text(
        f"CREATE TABLE chats (id uuid PRIMARY KEY, owner_id uuid NOT NULL, {org_column});"
    )
    (tmp_path / "q.sql").write_text(LIST)
    config = Config(schema=tmp_path / "schema.sql", queries=tmp_path / "q.sql", out=tmp_path / "o")
    settings = dataclasses.replace(SETTINGS, filter_columns={"chat": filter_columns})
    name = chatdb_pg_server.create_database()
    try:
        with psycopg.connect(chatdb_pg_server.dsn(name), autocommit=True) as conn:
            package = compile_package(config, conn)
            (query,) = package.queries
            source = render_wrapper(
                [query], {"List": parse_policy(query.authz or "", query)}, "pkg", settings, (),
                package.catalog,
            )  # fmt: skip
            flags = re.findall(r"self\._authz\.sql_filter\(.*, org_nullable=(\w+)\)", source)
            assert flags == [str(not arm_left_out)] * 2, source  # sync and async
            if "NOT NULL" in org_column:
                return
            # The column is nullable: through the filter the generated call asks for, an
            # owner's organization-less chat comes back.
            owner = uuid4()
            conn.execute("INSERT INTO chats (id, owner_id) VALUES (%s, %s)", (uuid4(), owner))
            lonely = Subject(id=owner, name="lonely", site_roles=[CHAT_ACCESS])
            assert Authorizer().allowed(lonely, Action.READ, Object(ResourceType.CHAT, uuid4(), owner, None))  # fmt: skip
            flt = compile_filter(
                lonely, Action.READ, ResourceType.CHAT, owner_column="chats.owner_id",
                org_column="chats.organization_id", first_param=1, org_nullable=flags[0] == "True",
            )  # fmt: skip
            with psycopg.RawCursor(conn) as cur:
                cur.execute(f"SELECT owner_id FROM chats WHERE {flt.sql}", flt.params)
                assert cur.fetchall() == [(owner,)]
    finally:
        chatdb_pg_server.drop_database(name)
