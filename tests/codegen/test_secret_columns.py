"""``[tool.codegen.secrets]``: the compiler checks the declaration against the catalog, lists
it in ``secrets.py``, and finds every returned field that carries a secret (issue 8 item 4)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from codegen.config import Config, SecretSpec, load_config
from codegen.errors import CodegenError
from codegen.main import compile_package, generate
from codegen.pgserver import PgServer
from codegen.secrets import secret_paths

pytestmark = pytest.mark.timeout(120)

SCHEMA = """
CREATE TABLE users (id uuid PRIMARY KEY, name text NOT NULL);
CREATE TABLE tokens (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users,
    token text NOT NULL,
    token_key_id text
);
"""

QUERIES = """
-- name: GetToken :one
SELECT * FROM tokens WHERE id = @id;

-- name: GetTokenRenamed :one
SELECT t.token AS value, t.user_id AS who, t.token_key_id FROM tokens AS t WHERE t.id = @id;

-- name: GetUsersWithTokens :many
SELECT sqlc.embed(users), sqlc.embed(tokens) FROM users JOIN tokens ON tokens.user_id = users.id;

-- name: GetTokenLength :one
SELECT length(token) AS n FROM tokens WHERE id = @id;

-- name: DeleteToken :exec
DELETE FROM tokens WHERE id = @id;
"""

TOKEN = SecretSpec("tokens", "token", key_id="token_key_id", owner="user_id")


def project(tmp_path: Path, *secrets: SecretSpec) -> Config:
    (tmp_path / "schema.sql").write_text(SCHEMA)
    (tmp_path / "queries.sql").write_text(QUERIES)
    return Config(
        schema=tmp_path / "schema.sql",
        queries=tmp_path / "queries.sql",
        out=tmp_path / "out",
        root=tmp_path,
        secrets=secrets,
    )


def test_every_field_read_from_a_secret_column_is_found_with_its_owner(
    tmp_path: Path, chatdb_pg_server: PgServer
) -> None:
    name = chatdb_pg_server.create_database()
    try:
        with psycopg.connect(chatdb_pg_server.dsn(name), autocommit=True) as conn:
            package = compile_package(project(tmp_path, TOKEN), conn)
    finally:
        chatdb_pg_server.drop_database(name)
    paths = {q.name: secret_paths(q, (TOKEN,)) for q in package.queries}
    assert paths == {
        "GetToken": (("", "token", "user_id"),),
        "GetTokenRenamed": (("", "value", "who"),),
        "GetUsersWithTokens": (("tokens", "token", "user_id"),),
        "GetTokenLength": (),  # a value computed from a secret is not the secret
        "DeleteToken": (),
    }


def test_secrets_are_listed_in_the_generated_package(
    tmp_path: Path, chatdb_pg_server: PgServer
) -> None:
    outputs = generate(project(tmp_path, TOKEN), chatdb_pg_server)
    listed = outputs[tmp_path / "out" / "secrets.py"]
    assert 'SecretColumn("tokens", "token", "token_key_id", "user_id", ("id",))' in listed
    assert tmp_path / "out" / "secrets.py" not in generate(project(tmp_path), chatdb_pg_server)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (SecretSpec("tokenz", "token"), "no table 'tokenz'"),
        (SecretSpec("tokens", "tokn"), "column column 'tokn' does not exist"),
        (SecretSpec("tokens", "token", key_id="key"), "key_id column 'key' does not exist"),
        (SecretSpec("tokens", "token", owner="owner"), "owner column 'owner' does not exist"),
    ],
)
def test_a_secret_naming_nothing_is_a_compile_error(
    tmp_path: Path, chatdb_pg_server: PgServer, spec: SecretSpec, message: str
) -> None:
    with pytest.raises(CodegenError, match=message):
        generate(project(tmp_path, spec), chatdb_pg_server)


def test_the_secrets_section_is_read_from_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.codegen]\nschema = "s"\nqueries = "q"\nout = "o"\n'
        '[tool.codegen.secrets]\n"Tokens.Token" = { key_id = "token_key_id", owner = "user_id" }\n'
    )
    assert load_config(tmp_path / "pyproject.toml").secrets == (TOKEN,)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.codegen]\nschema = "s"\nqueries = "q"\nout = "o"\n'
        '[tool.codegen.secrets]\n"tokens.token" = { cipher = "aes" }\n'
    )
    with pytest.raises(CodegenError, match="key_id"):
        load_config(tmp_path / "pyproject.toml")
