"""The ``chatdb`` command line, run in-process against a real server (the session's)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from chatdb.cli import main
from codegen.pgserver import PgServer
from codegen.schemadump import dump_schema


@pytest.fixture(scope="module")
def database(chatdb_pg_server: PgServer) -> Iterator[str]:
    name = chatdb_pg_server.create_database()
    yield chatdb_pg_server.dsn(name)
    chatdb_pg_server.drop_database(name)


@pytest.fixture
def dsn(database: str) -> str:
    """A fresh schema per test, selected through search_path."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    return make_conninfo(database, options=f"-c search_path={schema}")


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    d = tmp_path / "migrations"
    d.mkdir()
    (d / "000001_users.up.sql").write_text("CREATE TABLE users (id int);")
    (d / "000001_users.down.sql").write_text("DROP TABLE users;")
    (d / "000002_chats.up.sql").write_text("CREATE TABLE chats (id int);")
    (d / "000002_chats.down.sql").write_text("DROP TABLE chats;")
    return d


def applied(dsn: str) -> list[int]:
    with psycopg.connect(dsn) as conn:
        if conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,):
            return []
        return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("chatdb: error: ")
    return lines[0]


def test_migrate_up_applies_everything_and_reports_it(
    dsn: str, migrations: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate", "up", "--dsn", dsn, "--dir", str(migrations)]) == 0
    out = capsys.readouterr().out
    assert "applied 000001_users" in out and "applied 000002_chats" in out
    assert out.rstrip().endswith("at version 2")
    assert applied(dsn) == [1, 2]
    assert main(["migrate", "up", "--dsn", dsn, "--dir", str(migrations)]) == 0
    assert "nothing to apply (at version 2)" in capsys.readouterr().out


def test_migrate_up_to_a_target_then_down(
    dsn: str, migrations: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--dsn", dsn, "--dir", str(migrations)]
    assert main(["migrate", "up", "--target", "1", *common]) == 0
    assert applied(dsn) == [1]
    assert main(["migrate", "up", *common]) == 0
    assert main(["migrate", "down", *common]) == 0
    assert applied(dsn) == [1]
    assert main(["migrate", "down", "5", *common]) == 0
    assert applied(dsn) == []
    assert "rolled back 000001_users" in capsys.readouterr().out


def test_options_may_come_before_the_action_and_from_the_environment(
    dsn: str, migrations: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["migrate", "--dsn", dsn, "--dir", str(migrations), "up", "--target", "1"]) == 0
    assert applied(dsn) == [1]
    monkeypatch.setenv("CHATDB_DSN", dsn)
    monkeypatch.setenv("CHATDB_MIGRATIONS_DIR", str(migrations))
    capsys.readouterr()
    assert main(["migrate", "status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["VERSION", "NAME", "STATUS", "APPLIED", "AT"]
    assert lines[1].split()[:3] == ["000001", "users", "applied"]
    assert lines[2].split() == ["000002", "chats", "pending"]
    assert lines[3] == "current version: 1"


def test_create_writes_the_next_pair(migrations: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate", "create", "add_labels", "--dir", str(migrations)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"created {migrations / '000003_add_labels.up.sql'}",
        f"created {migrations / '000003_add_labels.down.sql'}",
    ]
    assert (migrations / "000003_add_labels.down.sql").exists()


def test_a_failed_migration_is_one_line_naming_file_line_and_statement(
    dsn: str, migrations: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (migrations / "000003_bad.up.sql").write_text(
        "CREATE TABLE ok (id int);\nSELECT nope\nFROM ok;"
    )
    assert main(["migrate", "up", "--dsn", dsn, "--dir", str(migrations)]) == 1
    captured = capsys.readouterr()
    assert "applied 000002_chats" in captured.out  # progress before the failure is shown
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0] == (
        f'chatdb: error: {migrations / "000003_bad.up.sql"}:2: column "nope" does not exist'
        " [in: SELECT nope FROM ok]"
    )
    assert applied(dsn) == [1, 2]


@pytest.mark.parametrize(
    ("dsn_arg", "expected"),
    [
        ("host=127.0.0.1 port=1 connect_timeout=2", "Connection refused"),
        ("nonsense", 'missing "="'),
    ],
)
def test_bad_or_unreachable_databases_are_one_line_errors(
    migrations: Path, capsys: pytest.CaptureFixture[str], dsn_arg: str, expected: str
) -> None:
    assert main(["migrate", "status", "--dsn", dsn_arg, "--dir", str(migrations)]) == 1
    assert expected in one_line_error(capsys)


def test_an_unknown_migrations_directory_is_a_one_line_error(
    dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate", "up", "--dsn", dsn, "--dir", str(tmp_path / "nowhere")]) == 1
    assert "migrations directory not found" in one_line_error(capsys)


def test_a_bad_migration_name_is_a_one_line_error(
    migrations: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate", "create", "Add-Labels", "--dir", str(migrations)]) == 1
    assert "bad migration name" in one_line_error(capsys)
    assert sorted(p.name for p in migrations.iterdir())[-1] == "000002_chats.up.sql"


def test_a_missing_dsn_is_a_usage_error(
    migrations: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHATDB_DSN", raising=False)
    assert main(["migrate", "status", "--dir", str(migrations)]) == 2
    assert "pass --dsn or set CHATDB_DSN" in one_line_error(capsys)


@pytest.mark.parametrize(
    "argv", [[], ["migrate"], ["migrate", "sideways"], ["migrate", "down", "-1"], ["bogus"]]
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "error:" in capsys.readouterr().err


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate", "--help"]) == 0
    out = capsys.readouterr().out
    for action in ("up", "down", "status", "create", "--dsn", "--dir", "examples:"):
        assert action in out


def test_python_dash_m_chatdb_runs_the_same_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chatdb", "migrate", "create", "Bad Name", "--dir", "/nonexistent"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("chatdb: error: bad migration name")
    assert "Traceback" not in done.stderr


def test_an_unknown_target_migration_is_a_one_line_error(
    dsn: str, migrations: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate", "up", "--target", "7", "--dsn", dsn, "--dir", str(migrations)]) == 1
    assert "no migration numbered 7" in one_line_error(capsys)
    assert applied(dsn) == []


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("migrate", "schema", "gen", "check", "demo"):
        assert command in out


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("schema", ["--dsn", "--dir", "--output", "examples:", "CHATDB_PG_DSN"]),
        ("gen", ["--config", "--schema", "--queries", "--out", "--no-authz", "chatdb[dev]"]),
        ("check", ["--config", "stale", "chatdb[dev]"]),
        ("demo", ["throwaway PostgreSQL", "CHATDB_PG_DSN", "sub-agent"]),
    ],
)
def test_each_command_explains_itself(
    command: str, expected: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for text in expected:
        assert text in out


# --- chatdb schema -----------------------------------------------------------------------------


@pytest.fixture
def pg_dsn_env(chatdb_pg_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> PgServer:
    """Scratch databases go to the session's server instead of a new one."""
    monkeypatch.setenv("CHATDB_PG_DSN", chatdb_pg_server.dsn())
    monkeypatch.delenv("CHATDB_MIGRATIONS_DIR", raising=False)
    return chatdb_pg_server


def databases(server: PgServer) -> set[str]:
    with psycopg.connect(server.dsn()) as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database")}


def test_schema_prints_what_the_chatdb_migrations_build(
    pg_dsn_env: PgServer, chatdb_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = databases(pg_dsn_env)
    assert main(["schema"]) == 0
    out = capsys.readouterr().out
    assert out == dump_schema(chatdb_dsn, exclude_tables=("public.schema_migrations",))
    assert "CREATE TABLE public.chats (" in out
    assert "schema_migrations" not in out
    assert databases(pg_dsn_env) == before  # the scratch database is dropped


def test_schema_of_another_migrations_directory_to_a_file(
    pg_dsn_env: PgServer, migrations: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "schema.sql"
    assert main(["schema", "--dir", str(migrations), "-o", str(target)]) == 0
    assert capsys.readouterr() == ("", f"wrote {target}\n")
    text = target.read_text()
    assert "CREATE TABLE public.users (\n    id integer\n);" in text
    assert "CREATE TABLE public.chats (\n    id integer\n);" in text


def test_schema_of_a_live_database_as_it_is(
    dsn: str, database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS live_only (note text)")
    assert main(["schema", "--dsn", database]) == 0
    assert "CREATE TABLE public.live_only (\n    note text\n);" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["schema", "--dsn", "host=127.0.0.1 port=1 connect_timeout=2"], "Connection refused"),
        (["schema", "--dsn", "nonsense"], 'missing "="'),
        (["schema", "--dir", "/nonexistent/migrations"], "migrations directory not found"),
    ],
)
def test_schema_mistakes_are_one_line_errors(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    assert expected in one_line_error(capsys)


def test_an_unreachable_scratch_server_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATDB_PG_DSN", "host=127.0.0.1 port=1 connect_timeout=2")
    assert main(["schema"]) == 1
    line = one_line_error(capsys)
    assert "cannot reach CHATDB_PG_DSN" in line and "Connection refused" in line
    assert main(["demo"]) == 1
    assert "cannot reach CHATDB_PG_DSN" in one_line_error(capsys)


# --- chatdb gen / check ------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> list[str]:
    """A tiny sqlc-style project; returns the flags that describe it."""
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "000001_items.up.sql").write_text(
        "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL);"
    )
    (tmp_path / "queries").mkdir()
    (tmp_path / "queries" / "items.sql").write_text(
        "-- name: GetItem :one\nSELECT id, name FROM items WHERE id = @id;\n"
    )
    return [
        f"--schema={tmp_path / 'schema'}",
        f"--queries={tmp_path / 'queries'}",
        f"--out={tmp_path / 'out'}",
        "--no-authz",
    ]


def test_gen_writes_the_package_and_check_accepts_it_until_a_query_changes(
    pg_dsn_env: PgServer, project: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["gen", *project]) == 0
    assert "wrote " in capsys.readouterr().out
    assert "def get_item(self, *, id: int) -> Item:" in (tmp_path / "out" / "items.py").read_text()
    assert main(["check", *project]) == 0
    assert capsys.readouterr().out.startswith("generated code is up to date")
    assert main(["gen", *project]) == 0
    assert capsys.readouterr().out.startswith("up to date")

    with (tmp_path / "queries" / "items.sql").open("a") as f:
        f.write("\n-- name: ListItems :many\nSELECT id, name FROM items ORDER BY id;\n")
    assert main(["check", *project]) == 1
    err = capsys.readouterr().err.splitlines()
    assert f"chatdb: {tmp_path / 'out' / 'items.py'}: stale" in err
    assert err[-1] == "chatdb: error: generated code is stale: run `chatdb gen`"
    assert "ListItems" not in (tmp_path / "out" / "items.py").read_text()  # check writes nothing


def test_a_broken_query_is_a_one_line_error_naming_file_and_line(
    pg_dsn_env: PgServer, project: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "queries" / "items.sql").write_text(
        "-- name: GetItem :one\nSELECT id, nam FROM items WHERE id = @id;\n"
    )
    assert main(["gen", *project]) == 1
    line = one_line_error(capsys)
    assert "items.sql:2" in line and 'column "nam" does not exist' in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["gen", "check"])
def test_gen_and_check_without_the_dev_extras_say_what_to_install(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pglast", None)  # import pglast now fails
    assert main([command]) == 1
    assert one_line_error(capsys) == (
        "chatdb: error: the code generator needs the dev extras (pglast is missing): "
        "pip install 'chatdb[dev]'"
    )
