"""The migration runner: file loading, statement splitting, up/down/status, locking, failures."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from chatdb.errors import ChatDBError, ConnectionFailure, InvalidInput
from chatdb.migrate import (
    LOCK_KEY,
    MigrationError,
    Migrator,
    SQLSplitError,
    create_migration,
    default_migrations_dir,
    load_migrations,
    split_statements,
)
from codegen.pgserver import PgServer, throwaway_server


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with throwaway_server() as srv:
        wait_until_accepting(srv)
        yield srv.dsn(srv.create_database())


@pytest.fixture
def dsn(database: str) -> str:
    """A fresh schema per test (CREATE DATABASE costs ~0.3 s; a schema costs nothing)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    return make_conninfo(database, options=f"-c search_path={schema}")


def wait_until_accepting(srv: PgServer) -> None:
    """The harness returns once the port listens, possibly before logins are accepted."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            psycopg.connect(srv.dsn(), connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            time.sleep(0.05)
    psycopg.connect(srv.dsn(), connect_timeout=2).close()  # the last try raises its error


def write(directory: Path, name: str, text: str = "") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchall()
    return {r[0] for r in rows}


def versions(dsn: str) -> list[int]:
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]


@pytest.fixture
def three(tmp_path: Path) -> Path:
    """Three reversible migrations with a gap in the numbering."""
    write(tmp_path, "000001_users.up.sql", "CREATE TABLE users (id int PRIMARY KEY);")
    write(tmp_path, "000001_users.down.sql", "DROP TABLE users;")
    write(
        tmp_path,
        "000002_chats.up.sql",
        "CREATE TABLE chats (id int PRIMARY KEY, owner int REFERENCES users);\n"
        "INSERT INTO users VALUES (1);\nINSERT INTO chats VALUES (10, 1);\n",
    )
    write(tmp_path, "000002_chats.down.sql", "DROP TABLE chats;\nDELETE FROM users;")
    write(tmp_path, "000005_notes.up.sql", "CREATE TABLE notes (body text DEFAULT '100%');")
    write(tmp_path, "000005_notes.down.sql", "DROP TABLE notes;")
    return tmp_path


# --- splitting ---------------------------------------------------------------------------------

TRICKY_SQL = r"""
-- a leading comment; with a semicolon
CREATE TABLE "we;ird""name" (id int, "x;" text DEFAULT 'a;''b');
/* outer /* nested; */ still comment; */ INSERT INTO t VALUES (E'it\'s; fine', 'c:\', U&'d\0061;');
CREATE FUNCTION f(a int) RETURNS int AS $fn$ BEGIN RETURN a + 1; /* ; */ END $fn$ LANGUAGE plpgsql;
DO $$ BEGIN RAISE NOTICE 'x; $tag$ y'; END $$;
CREATE OR REPLACE FUNCTION g(a int) RETURNS int LANGUAGE sql
BEGIN ATOMIC
  SELECT CASE WHEN a > 0 THEN 1 ELSE 2 END;
  SELECT a$b FROM (SELECT 1 AS a$b) s;
END;
CREATE RULE r AS ON INSERT TO t DO ALSO (SELECT 1; SELECT 2);
SELECT $1, 'x' -- a trailing ; comment
   , e'\\'  ;;
SELECT 'é;ü' AS "ñ;" ; CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC SELECT 1; END
"""


def test_splitter_agrees_with_postgres_own_parser() -> None:
    pglast = pytest.importorskip("pglast")
    expected = [TRICKY_SQL[s] for s in pglast.split(TRICKY_SQL, with_parser=True, only_slices=True)]
    assert [s.text for s in split_statements(TRICKY_SQL)] == expected
    assert len(expected) == 9


def test_statements_start_at_their_first_token_and_know_their_line() -> None:
    text = "-- header\n\n/* note */ SELECT 1;\n  SELECT\n 2 ;"
    statements = split_statements(text)
    assert [(s.text, s.line) for s in statements] == [("SELECT 1", 3), ("SELECT\n 2", 4)]
    assert text[statements[1].offset :].startswith("SELECT\n 2")


def test_only_comments_and_semicolons_make_no_statements() -> None:
    assert split_statements("-- nothing\n;; /* here */ ;\n") == []


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("SELECT 1;\nSELECT 'open", 2, "quoted string"),
        ("SELECT 1;\n\nSELECT $x$ body", 3, "dollar-quoted"),
        ("/* one /* two */ still open", 1, "comment"),
        ('SELECT "ident', 1, "quoted identifier"),
        ("SELECT E'ends with escaped quote\\'", 1, "quoted string"),
    ],
)
def test_unterminated_tokens_are_reported_with_their_line(text: str, line: int, what: str) -> None:
    with pytest.raises(SQLSplitError, match=what) as info:
        split_statements(text)
    assert info.value.line == line


# --- loading and creating ----------------------------------------------------------------------


def test_migrations_load_in_numeric_order_with_gaps_and_optional_down(tmp_path: Path) -> None:
    write(tmp_path, "000010_late.up.sql")
    write(tmp_path, "000002_early.up.sql")
    write(tmp_path, "000002_early.down.sql")
    write(tmp_path, "README.md", "not a migration")
    loaded = load_migrations(tmp_path)
    assert [(m.version, m.name) for m in loaded] == [(2, "early"), (10, "late")]
    assert loaded[0].down_path == tmp_path / "000002_early.down.sql"
    assert loaded[1].down_path is None
    assert str(loaded[0]) == "000002_early"


@pytest.mark.parametrize(
    "bad_name",
    ["1_short.up.sql", "000001_Upper.up.sql", "000001-dash.up.sql", "000001_x.sql", "x.up.sql"],
)
def test_malformed_file_names_are_rejected(tmp_path: Path, bad_name: str) -> None:
    write(tmp_path, bad_name)
    with pytest.raises(MigrationError, match="malformed") as info:
        load_migrations(tmp_path)
    assert info.value.path == tmp_path / bad_name


def test_duplicate_numbers_are_rejected(tmp_path: Path) -> None:
    write(tmp_path, "000001_a.up.sql")
    write(tmp_path, "0000001_b.up.sql")
    with pytest.raises(MigrationError, match="duplicate migration number 1"):
        load_migrations(tmp_path)


def test_down_files_must_match_an_up_file(tmp_path: Path) -> None:
    write(tmp_path, "000001_a.up.sql")
    write(tmp_path, "000001_b.down.sql")
    with pytest.raises(MigrationError, match="duplicate migration number 1"):
        load_migrations(tmp_path)
    (tmp_path / "000001_a.up.sql").unlink()
    with pytest.raises(MigrationError, match="without an up"):
        load_migrations(tmp_path)


def test_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="migrations directory not found"):
        load_migrations(tmp_path / "nope")


def test_create_numbers_after_the_highest_and_writes_headers(three: Path) -> None:
    up, down = create_migration(three, "add_labels")
    assert (up.name, down.name) == ("000006_add_labels.up.sql", "000006_add_labels.down.sql")
    assert up.read_text().startswith("-- Migration 000006_add_labels (up).")
    assert "no BEGIN/COMMIT" in down.read_text()
    assert [m.version for m in load_migrations(three)] == [1, 2, 5, 6]


def test_create_starts_a_new_directory_at_one(tmp_path: Path) -> None:
    up, _ = create_migration(tmp_path / "fresh", "core")
    assert up == tmp_path / "fresh" / "000001_core.up.sql"


@pytest.mark.parametrize("name", ["Add", "add-labels", "", "a b", "x/y"])
def test_create_refuses_bad_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidInput):
        create_migration(tmp_path, name)
    assert list(tmp_path.iterdir()) == []


def test_default_directory_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CHATDB_MIGRATIONS_DIR", str(tmp_path))
    assert default_migrations_dir() == tmp_path
    monkeypatch.delenv("CHATDB_MIGRATIONS_DIR")
    assert default_migrations_dir() == Path(__file__).resolve().parents[2] / "sql" / "migrations"


# --- up, down, status --------------------------------------------------------------------------


def test_up_applies_every_migration_in_order_once(dsn: str, three: Path) -> None:
    migrator = Migrator(dsn, three)
    assert migrator.current_version() == 0
    assert [m.version for m in migrator.up()] == [1, 2, 5]
    assert tables(dsn) == {"schema_migrations", "users", "chats", "notes"}
    assert versions(dsn) == [1, 2, 5]
    assert migrator.up() == []
    assert migrator.current_version() == 5


def test_up_to_a_target_stops_there(dsn: str, three: Path) -> None:
    migrator = Migrator(dsn, three)
    assert [m.version for m in migrator.up(target=2)] == [1, 2]
    assert migrator.current_version() == 2
    with pytest.raises(MigrationError, match="no migration numbered 3"):
        migrator.up(target=3)
    assert [m.version for m in migrator.up()] == [5]


def test_a_migration_merged_below_the_current_version_is_applied_by_up(
    dsn: str, three: Path
) -> None:
    migrator = Migrator(dsn, three)
    migrator.up()
    write(three, "000003_late.up.sql", "CREATE TABLE late (id int);")
    assert [m.version for m in migrator.up()] == [3]
    assert versions(dsn) == [1, 2, 3, 5]


def test_down_rolls_back_newest_first(dsn: str, three: Path) -> None:
    migrator = Migrator(dsn, three)
    migrator.up()
    assert [m.version for m in migrator.down()] == [5]
    assert [m.version for m in migrator.down(0)] == []
    assert [m.version for m in migrator.down(5)] == [2, 1]
    assert tables(dsn) == {"schema_migrations"}
    assert versions(dsn) == []
    assert migrator.down() == []


def test_down_over_a_migration_without_down_fails_before_touching_anything(
    dsn: str, three: Path
) -> None:
    (three / "000002_chats.down.sql").unlink()
    migrator = Migrator(dsn, three)
    migrator.up()
    with pytest.raises(MigrationError, match=r"no \.down\.sql") as info:
        migrator.down(2)
    assert info.value.path == three / "000002_chats.up.sql"
    assert versions(dsn) == [1, 2, 5]
    assert "notes" in tables(dsn)


def test_status_lists_applied_and_pending_migrations(dsn: str, three: Path) -> None:
    migrator = Migrator(dsn, three)
    assert [(s.version, s.applied) for s in migrator.status()] == [
        (1, False),
        (2, False),
        (5, False),
    ]
    migrator.up(target=2)
    rows = migrator.status()
    assert [(s.version, s.name, s.applied) for s in rows] == [
        (1, "users", True),
        (2, "chats", True),
        (5, "notes", False),
    ]
    assert rows[0].applied_at is not None and rows[2].applied_at is None


def test_status_shows_applied_versions_whose_file_is_gone(dsn: str, three: Path) -> None:
    Migrator(dsn, three).up()
    (three / "000005_notes.up.sql").unlink()
    (three / "000005_notes.down.sql").unlink()
    last = Migrator(dsn, three).status()[-1]
    assert (last.version, last.name, last.applied, last.file_missing) == (5, "notes", True, True)
    with pytest.raises(MigrationError, match="no migration file has that number"):
        Migrator(dsn, three).down()


# --- failures ----------------------------------------------------------------------------------


def test_a_failing_migration_leaves_the_database_as_it_was(dsn: str, three: Path) -> None:
    write(
        three,
        "000006_broken.up.sql",
        "CREATE TABLE labels (id int);\n"
        "INSERT INTO labels VALUES (1);\n"
        "INSERT INTO labels (id)\n"
        "  SELECT missing_column\n"
        "  FROM users;\n"
        "CREATE TABLE never (id int);\n",
    )
    migrator = Migrator(dsn, three)
    migrator.up(target=5)
    with pytest.raises(MigrationError) as info:
        migrator.up()
    err = info.value
    assert err.path == three / "000006_broken.up.sql"
    assert err.line == 4  # the line of the offending column, not just of the statement
    assert err.statement == "INSERT INTO labels (id)\n  SELECT missing_column\n  FROM users"
    assert err.sqlstate == "42703"
    assert str(err).startswith(f'{three / "000006_broken.up.sql"}:4: column "missing_column"')
    assert str(err).endswith("\n" + err.statement)
    assert tables(dsn) == {"schema_migrations", "users", "chats", "notes"}
    assert versions(dsn) == [1, 2, 5]


def test_an_error_at_commit_is_reported_against_the_file(dsn: str, tmp_path: Path) -> None:
    write(
        tmp_path,
        "000001_deferred.up.sql",
        "CREATE TABLE parent (id int PRIMARY KEY);\n"
        "CREATE TABLE child (p int REFERENCES parent DEFERRABLE INITIALLY DEFERRED);\n"
        "INSERT INTO child VALUES (42);\n",
    )
    with pytest.raises(MigrationError) as info:
        Migrator(dsn, tmp_path).up()
    assert info.value.path == tmp_path / "000001_deferred.up.sql"
    assert info.value.sqlstate == "23503"
    assert tables(dsn) == {"schema_migrations"}


def test_a_split_error_in_a_later_file_applies_nothing(dsn: str, three: Path) -> None:
    write(three, "000006_open.up.sql", "SELECT 1;\nCREATE FUNCTION f() AS $$ never closed")
    with pytest.raises(MigrationError, match="unterminated dollar-quoted") as info:
        Migrator(dsn, three).up()
    assert (info.value.path, info.value.line) == (three / "000006_open.up.sql", 2)
    assert tables(dsn) == {"schema_migrations"}


@pytest.mark.parametrize("statement", ["BEGIN", "commit", "END", "ROLLBACK", "start transaction"])
def test_transaction_control_in_a_file_is_refused(dsn: str, tmp_path: Path, statement: str) -> None:
    write(tmp_path, "000001_tx.up.sql", f"CREATE TABLE a (id int);\n{statement};\n")
    with pytest.raises(MigrationError, match="transaction control") as info:
        Migrator(dsn, tmp_path).up()
    assert info.value.line == 2
    assert tables(dsn) == {"schema_migrations"}


def test_rollback_to_savepoint_is_allowed(dsn: str, tmp_path: Path) -> None:
    write(
        tmp_path,
        "000001_sp.up.sql",
        "CREATE TABLE a (id int);\nSAVEPOINT s;\nINSERT INTO a VALUES (1);\n"
        "ROLLBACK TO SAVEPOINT s;\nINSERT INTO a VALUES (2);\n",
    )
    Migrator(dsn, tmp_path).up()
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT array_agg(id) FROM a").fetchone() == ([2],)


def test_the_lock_is_released_after_a_failure(dsn: str, tmp_path: Path) -> None:
    write(tmp_path, "000001_bad.up.sql", "SELECT 1/0;")
    with pytest.raises(MigrationError, match="division by zero"):
        Migrator(dsn, tmp_path).up()
    with psycopg.connect(dsn, autocommit=True) as other:
        assert other.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone() == (True,)


def test_an_unreachable_server_raises_a_classified_error(tmp_path: Path) -> None:
    with pytest.raises(ConnectionFailure):
        Migrator("host=127.0.0.1 port=1 dbname=x connect_timeout=2", tmp_path).status()


def test_a_malformed_dsn_raises_a_chatdb_error(tmp_path: Path) -> None:
    with pytest.raises(ChatDBError) as info:
        Migrator("host=localhost nonsense", tmp_path).current_version()
    assert not isinstance(info.value, psycopg.Error)


# --- connections and concurrency ---------------------------------------------------------------


def test_a_given_connection_is_left_as_found(dsn: str, three: Path) -> None:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        assert conn.autocommit is False
        migrator = Migrator(conn, three)
        migrator.up()
        migrator.down()
        assert migrator.current_version() == 2
        assert [s.applied for s in migrator.status()] == [True, True, False]
        assert conn.autocommit is False
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        held = conn.execute(
            "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        ).fetchone()
        assert held == {"n": 0}


def test_a_connection_inside_a_transaction_is_refused(dsn: str, three: Path) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute("SELECT 1")
        with pytest.raises(MigrationError, match="inside a transaction"):
            Migrator(conn, three).up()
        assert tables(dsn) == set()


def test_concurrent_starters_apply_each_migration_exactly_once(dsn: str, tmp_path: Path) -> None:
    # Without the lock the second starter would re-run 000001 and fail on the existing table.
    write(tmp_path, "000001_log.up.sql", "CREATE TABLE log (step int);\nSELECT pg_sleep(0.3);")
    write(tmp_path, "000002_two.up.sql", "INSERT INTO log VALUES (2);")
    write(tmp_path, "000003_three.up.sql", "INSERT INTO log VALUES (3);")
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]

    def start(i: int) -> None:
        barrier.wait()
        try:
            results[i] = [m.version for m in Migrator(dsn, tmp_path).up()]
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=start, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(results, key=len) == [[], [1, 2, 3]]
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT array_agg(step ORDER BY step) FROM log").fetchone() == ([2, 3],)
    assert versions(dsn) == [1, 2, 3]
