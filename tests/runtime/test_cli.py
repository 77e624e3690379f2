"""The ``chatdb`` command line, run in-process against a real server."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from chatdb.cli import main
from codegen.pgserver import PgServer, throwaway_server


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with throwaway_server() as srv:
        wait_until_accepting(srv)
        yield srv.dsn(srv.create_database())


def wait_until_accepting(srv: PgServer) -> None:
    """The harness returns once the port listens, possibly before logins are accepted."""
    deadline = time.monotonic() + 30
    while True:
        try:
            psycopg.connect(srv.dsn(), connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


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
