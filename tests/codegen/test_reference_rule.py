"""The authz reference rule: a parameter naming an authorized object is checked or waived.

The compiler learns from the catalog's foreign keys which parameters name a row of a table
mapped to a resource type, and refuses a policy that leaves one unchecked without a reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codegen.config import AuthzSettings, Config
from codegen.errors import CodegenError
from codegen.main import generate
from codegen.pgserver import PgServer

SCHEMA = """
CREATE TABLE users (id uuid PRIMARY KEY);
CREATE TABLE organizations (id uuid PRIMARY KEY);
CREATE TABLE workspaces (id uuid PRIMARY KEY, owner_id uuid NOT NULL REFERENCES users,
                         organization_id uuid NOT NULL REFERENCES organizations,
                         UNIQUE (id, organization_id));
CREATE TABLE models (id uuid PRIMARY KEY, name text NOT NULL);
CREATE TABLE chats (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id uuid NOT NULL REFERENCES users,
    organization_id uuid NOT NULL REFERENCES organizations,
    parent_chat_id uuid REFERENCES chats,
    workspace_id uuid,
    model_id uuid REFERENCES models,
    title text NOT NULL DEFAULT '',
    FOREIGN KEY (workspace_id, organization_id) REFERENCES workspaces (id, organization_id)
);
CREATE TABLE notes (id bigserial PRIMARY KEY, chat_id uuid NOT NULL REFERENCES chats,
                    author uuid REFERENCES users, body text NOT NULL);
"""
SETTINGS = AuthzSettings(
    runtime="rt",
    custom_sync="rt:Custom",
    custom_async="rt:AsyncCustom",
    type_tables={"chat": "chats", "workspace": "workspaces"},
    filter_columns={"chat": ("chats.owner_id", "chats.organization_id")},
    table_types={
        "chats": "chat",
        "workspaces": "workspace",
        "users": "user",
        "organizations": "organization",
        "models": "deployment_config",
    },
)

INSERT = """-- name: InsertChat :one
-- authz: {policy}
INSERT INTO chats (owner_id, organization_id, parent_chat_id, workspace_id, model_id)
VALUES (@owner_id, @organization_id, sqlc.narg(parent_chat_id), sqlc.narg(workspace_id),
        @model_id)
RETURNING id;
"""
CHECKED = (
    "create chat(owner=owner_id, org=organization_id) and read chat(parent_chat_id)"
    " and read workspace(workspace_id)"
)
MODEL_WAIVED = ' and waive(model_id: "naming a model reveals nothing of it")'


def compile_queries(tmp_path: Path, server: PgServer, queries: str) -> None:
    (tmp_path / "schema.sql").write_text(SCHEMA)
    (tmp_path / "q.sql").write_text(queries)
    config = Config(
        schema=tmp_path / "schema.sql",
        queries=tmp_path / "q.sql",
        out=tmp_path / "out",
        authz=True,
        authz_settings=SETTINGS,
        root=tmp_path,
    )
    generate(config, server)


def refusal(tmp_path: Path, server: PgServer, queries: str) -> str:
    with pytest.raises(CodegenError) as exc:
        compile_queries(tmp_path, server, queries)
    return str(exc.value)


def test_a_policy_checking_every_reference_compiles(
    tmp_path: Path, chatdb_pg_server: PgServer
) -> None:
    compile_queries(tmp_path, chatdb_pg_server, INSERT.format(policy=CHECKED + MODEL_WAIVED))


@pytest.mark.parametrize(
    ("policy", "unchecked"),
    [
        # the parent chat and the workspace are written but only the new chat is authorized
        ("create chat(owner=owner_id, org=organization_id)", "parent_chat_id"),
        (
            "create chat(owner=owner_id, org=organization_id) and read chat(parent_chat_id)",
            "workspace_id",
        ),
        # a check of the wrong type does not count
        (
            "create chat(owner=owner_id, org=organization_id) and read chat(parent_chat_id)"
            " and read chat(workspace_id)",
            "workspace_id",
        ),
        # a deployment_config table is a reference too
        (CHECKED, "model_id"),
    ],
)
def test_an_unchecked_reference_is_refused_naming_file_line_query_and_parameter(
    tmp_path: Path, chatdb_pg_server: PgServer, policy: str, unchecked: str
) -> None:
    message = refusal(tmp_path, chatdb_pg_server, INSERT.format(policy=policy))
    assert message.startswith("q.sql:1: query InsertChat: ")
    assert f"parameter {unchecked} names a" in message


@pytest.mark.parametrize(
    "waiver",
    [
        ' and waive(model_id: "")',
        ' and waive(model_id: "fine")',
        " and waive(model_id)",
        " and waive(model_id: no quotes here)",
    ],
)
def test_a_waiver_without_a_reason_is_refused(
    tmp_path: Path, chatdb_pg_server: PgServer, waiver: str
) -> None:
    message = refusal(tmp_path, chatdb_pg_server, INSERT.format(policy=CHECKED + waiver))
    assert "q.sql:1: query InsertChat:" in message
    assert "waive" in message


def test_a_waiver_of_a_checked_parameter_is_refused(
    tmp_path: Path, chatdb_pg_server: PgServer
) -> None:
    policy = CHECKED + MODEL_WAIVED + ' and waive(parent_chat_id: "checked by the workflow")'
    message = refusal(tmp_path, chatdb_pg_server, INSERT.format(policy=policy))
    assert "waive(parent_chat_id: ...) is not needed" in message


def test_a_comparison_with_a_foreign_key_is_a_reference(
    tmp_path: Path, chatdb_pg_server: PgServer
) -> None:
    queries = """-- name: Rename :exec
-- authz: update chat(id)
UPDATE chats SET title = @title WHERE id = @id AND parent_chat_id = @parent;
"""
    assert "parameter parent names a chat" in refusal(tmp_path, chatdb_pg_server, queries)
    compile_queries(
        tmp_path, chatdb_pg_server, queries.replace("chat(id)", "chat(id) and read chat(parent)")
    )


def test_a_reference_fed_through_unnest_and_a_cte_is_seen(
    tmp_path: Path, chatdb_pg_server: PgServer
) -> None:
    queries = """-- name: AddNotes :many
-- authz: update chat(chat_id)
WITH input AS (
    SELECT n.* FROM unnest(@authors::uuid[], @bodies::text[]) AS n (author, body)
)
INSERT INTO notes (chat_id, author, body)
SELECT @chat_id, i.author, i.body FROM input AS i
RETURNING id;
"""
    assert "parameter authors names a user" in refusal(tmp_path, chatdb_pg_server, queries)
    compile_queries(
        tmp_path,
        chatdb_pg_server,
        queries.replace("chat(chat_id)", "chat(chat_id) and is_actor[](authors)"),
    )


def test_a_row_policy_does_not_check_a_comparison_inside_a_sub_select(
    tmp_path: Path, chatdb_pg_server: PgServer
) -> None:
    # A keyset cursor: the page is filtered, the cursor row is not, so its position leaks.
    unfiltered = """-- name: Page :many
-- authz: sql_filter read chat
SELECT * FROM chats
WHERE (chats.title, chats.id) > (SELECT c.title, c.id FROM chats AS c WHERE c.id = @after_id)
    AND /* authz:filter */ TRUE
ORDER BY chats.title, chats.id;
"""
    assert "parameter after_id names a chat" in refusal(tmp_path, chatdb_pg_server, unfiltered)
    # The cursor row read through the same filter is authorized like the page.
    filtered = unfiltered.replace(
        "FROM chats AS c WHERE c.id = @after_id",
        "FROM chats WHERE chats.id = @after_id AND /* authz:filter */ TRUE",
    ).replace("SELECT c.title, c.id", "SELECT chats.title, chats.id")
    compile_queries(tmp_path, chatdb_pg_server, filtered)


def test_a_row_policy_checks_comparisons_with_its_own_rows(
    tmp_path: Path, chatdb_pg_server: PgServer
) -> None:
    compile_queries(
        tmp_path,
        chatdb_pg_server,
        """-- name: Children :many
-- authz: post_filter read chat
SELECT * FROM chats WHERE parent_chat_id = ANY(@parent_ids::uuid[]) AND owner_id = @owner_id;
""",
    )
