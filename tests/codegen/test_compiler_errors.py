"""Bad input produces a clear error naming file:line (and the server's message where it has one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from codegen.config import Config, load_config
from codegen.errors import CodegenError
from codegen.main import check, generate, main, write
from codegen.pgserver import PgServer

SCHEMA = """
CREATE TABLE items (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    note text
);
"""


def project(tmp_path: Path, queries: str, schema: str = SCHEMA, **kw: Any) -> Config:
    (tmp_path / "schema.sql").write_text(schema)
    (tmp_path / "queries.sql").write_text(queries)
    return Config(
        schema=tmp_path / "schema.sql",
        queries=tmp_path / "queries.sql",
        out=tmp_path / "out",
        root=tmp_path,
        **kw,
    )


def compile_error(tmp_path: Path, server: PgServer, queries: str, **kw: Any) -> str:
    with pytest.raises(CodegenError) as err:
        generate(project(tmp_path, queries, **kw), server)
    return str(err.value)


def test_syntax_error_names_file_line_and_server_message(
    tmp_path: Path, chatdb_pg_server: PgServer
) -> None:
    msg = compile_error(
        tmp_path,
        chatdb_pg_server,
        "-- name: Ok :one\nSELECT 1 AS one;\n\n-- name: Bad :many\nSELECT id\nFROM items\nWHERE name = = @name;\n",
    )
    assert msg == 'queries.sql:7: query Bad: server: syntax error at or near "="'


def test_unknown_column_points_at_the_line_of_the_column(
    tmp_path: Path, chatdb_pg_server: PgServer
) -> None:
    msg = compile_error(
        tmp_path,
        chatdb_pg_server,
        "-- name: Bad :many\nSELECT id,\n       nope\nFROM items;\n",
    )
    assert msg.startswith('queries.sql:3: query Bad: server: column "nope" does not exist')


def test_duplicate_query_name(tmp_path: Path, chatdb_pg_server: PgServer) -> None:
    msg = compile_error(
        tmp_path,
        chatdb_pg_server,
        "-- name: Get :one\nSELECT 1 AS a;\n-- name: Get :one\nSELECT 2 AS a;\n",
    )
    assert msg == "queries.sql:3: query Get: duplicate query name (first defined at queries.sql:1)"


def test_sql_without_a_name_line_is_ignored_as_sqlc_does(
    tmp_path: Path, chatdb_pg_server: PgServer
) -> None:
    out = generate(
        project(tmp_path, "-- just a comment\nSELECT 1;\n-- name: Get :one\nSELECT 2 AS a;\n"),
        chatdb_pg_server,
    )
    assert list(compile_info(out)) == ["Get"]


def compile_info(outputs: dict[Path, str]) -> list[str]:
    """The query names a generated registry lists."""
    registry = next(text for path, text in outputs.items() if path.name == "registry.py")
    return [line.split("'")[1] for line in registry.splitlines() if line.startswith("    '")]


def test_unknown_kind(tmp_path: Path, chatdb_pg_server: PgServer) -> None:
    msg = compile_error(tmp_path, chatdb_pg_server, "-- name: Get :single\nSELECT 1 AS a;\n")
    assert msg.startswith("queries.sql:1: query Get: unknown query kind ':single'")


def test_malformed_name_line(tmp_path: Path, chatdb_pg_server: PgServer) -> None:
    msg = compile_error(tmp_path, chatdb_pg_server, "-- name: Get\nSELECT 1 AS a;\n")
    assert msg.startswith("queries.sql:1: malformed name line")


def test_a_statement_after_the_semicolon_has_no_name_and_is_ignored(
    tmp_path: Path, chatdb_pg_server: PgServer
) -> None:
    out = generate(project(tmp_path, "-- name: Get :exec\nSELECT 1; SELECT 2;\n"), chatdb_pg_server)
    assert "SELECT 2" not in "".join(out.values())


def test_one_without_columns(tmp_path: Path, chatdb_pg_server: PgServer) -> None:
    msg = compile_error(tmp_path, chatdb_pg_server, "-- name: Del :one\nDELETE FROM items;\n")
    assert msg == "queries.sql:1: query Del: a :one query must return columns"


def test_missing_policy_when_authz_is_on(tmp_path: Path, chatdb_pg_server: PgServer) -> None:
    queries = "-- name: Get :one\nSELECT 1 AS a;\n"
    msg = compile_error(tmp_path, chatdb_pg_server, queries, authz=True)
    assert msg == "queries.sql:1: query Get: no '-- authz:' policy line (authz is enabled)"
    # The same project compiles when the project switches annotations off.
    assert generate(project(tmp_path, queries, authz=False), chatdb_pg_server)


def test_untyped_parameter_is_reported(tmp_path: Path, chatdb_pg_server: PgServer) -> None:
    msg = compile_error(tmp_path, chatdb_pg_server, "-- name: Get :one\nSELECT @x IS NULL AS a;\n")
    assert "could not determine data type of parameter $1" in msg


def test_schema_error_names_the_schema_file(tmp_path: Path, chatdb_pg_server: PgServer) -> None:
    with pytest.raises(CodegenError) as err:
        generate(project(tmp_path, "", schema="CREATE TABLE t (\n  id nope\n);"), chatdb_pg_server)
    assert str(err.value).startswith(f"{tmp_path / 'schema.sql'}:2: schema: server:")


def test_migrations_directory_ignores_down_files(
    tmp_path: Path, chatdb_pg_server: PgServer
) -> None:
    mig = tmp_path / "migrations"
    mig.mkdir()
    (mig / "000001_a.up.sql").write_text("CREATE TABLE a (id int NOT NULL);")
    (mig / "000001_a.down.sql").write_text("DROP TABLE a;")
    (mig / "000002_b.up.sql").write_text("ALTER TABLE a ADD COLUMN b text;")
    (tmp_path / "q.sql").write_text("-- name: All :many\nSELECT * FROM a;\n")
    config = Config(schema=mig, queries=tmp_path / "q.sql", out=tmp_path / "out", root=tmp_path)
    out = generate(config, chatdb_pg_server)
    models = out[tmp_path / "out" / "models.py"]
    assert "class A:" in models and "b: str | None" in models


def test_check_mode_detects_stale_output(tmp_path: Path, chatdb_pg_server: PgServer) -> None:
    config = project(tmp_path, "-- name: Get :one\nSELECT id, name FROM items WHERE id = @id;\n")
    outputs = generate(config, chatdb_pg_server)
    assert check(config, outputs) == ["out/__init__.py: missing"] + [
        f"out/{n}: missing"
        for n in ("models.py", "protocol.py", "py.typed", "querier.py", "queries.py", "registry.py")
    ]
    write(config, outputs)
    assert check(config, outputs) == []
    (tmp_path / "out" / "queries.py").write_text("# edited\n")
    assert check(config, outputs) == ["out/queries.py: stale"]
    # A generated module whose query file is gone is stale too.
    (tmp_path / "out" / "old.py").write_text(
        "# Code generated by codegen from old.sql. DO NOT EDIT.\n"
    )
    assert "out/old.py: no longer generated" in check(config, outputs)


def test_cli_flags_compile_a_foreign_project_and_check_it(
    tmp_path: Path,
    chatdb_pg_server: PgServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CHATDB_PG_DSN", chatdb_pg_server.dsn())
    project(tmp_path, "-- name: Get :one\nSELECT id, name FROM items WHERE id = $1;\n")
    flags = [
        "--schema",
        str(tmp_path / "schema.sql"),
        "--queries",
        str(tmp_path / "queries.sql"),
        "--out",
        str(tmp_path / "pkg"),
    ]
    assert main(["--check", *flags]) == 1
    assert main(flags) == 0
    assert main(["--check", *flags]) == 0
    assert "def get(self, *, id: int) -> GetRow:" in (tmp_path / "pkg" / "queries.py").read_text()
    (tmp_path / "queries.sql").write_text("-- name: Get :bogus\nSELECT 1;\n")
    capsys.readouterr()
    assert main(flags) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].endswith(
        "queries.sql:1: query Get: unknown query kind ':bogus' (expected one of"
        " :one :many :exec :execrows :execresult :copyfrom :batchexec :batchmany"
        " :batchone :iter)"
    )
    assert err[1:] == ["codegen: 1 error in 1 file; nothing written"]


def test_pyproject_section_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.codegen]\nschema = "s"\nqueries = "q"\nout = "o"\nauthz = true\n'
        '[tool.codegen.overrides.columns]\n"t.c" = { type = "dict[str, str]" }\n'
        '[tool.codegen.overrides.types]\nltree = "str"\n'
    )
    config = load_config(tmp_path / "pyproject.toml")
    assert (config.schema, config.out, config.authz) == (tmp_path / "s", tmp_path / "o", True)
    assert config.column_overrides["t.c"].annotation == "dict[str, str]"
    assert config.type_overrides["ltree"].annotation == "str"
    (tmp_path / "pyproject.toml").write_text('[tool.codegen]\nschema = "s"\n')
    with pytest.raises(CodegenError, match="missing queries, out"):
        load_config(tmp_path / "pyproject.toml")
