"""Plain-SQL migrations: numbered ``NNNNNN_name.up.sql`` / ``.down.sql`` files, applied in order.

Each migration runs in its own transaction together with its ``schema_migrations`` row, so a
failure leaves the database exactly as it was before that migration. An advisory lock is held
across a whole ``up``/``down``: replicas that start at once queue up, and the ones that get the
lock later find nothing left to do.

Given a DSN, the lock is a *transaction* lock (``pg_advisory_xact_lock``) held by a second
connection whose transaction stays open until the run ends: that works directly and through a
transaction-mode pooler such as PgBouncer (which pins a server connection to a client only for
the length of a transaction, so a session lock taken through it would stay behind on a pooled
server connection). Migration connections never prepare statements, for the same reason. Given
a connection, the lock is a session lock on it (such a connection must be a direct one).

Files are split into statements by a small lexer (quotes, ``E''`` strings, quoted identifiers,
dollar quoting, nested comments, ``BEGIN ATOMIC`` bodies) and executed one by one, so an error
names the file, the line and the statement that failed.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row

from chatdb.errors import ChatDBError, InvalidInput, classify

__all__ = [
    "ENV_MIGRATIONS_DIR",
    "LOCK_KEY",
    "VERSION_TABLE",
    "Migration",
    "MigrationError",
    "MigrationStatus",
    "Migrator",
    "SQLSplitError",
    "Statement",
    "create_migration",
    "default_migrations_dir",
    "load_migrations",
    "split_statements",
]

logger = logging.getLogger(__name__)

ENV_MIGRATIONS_DIR = "CHATDB_MIGRATIONS_DIR"
VERSION_TABLE = "schema_migrations"
# "chatdb" in ASCII followed by 0001: a fixed key no other advisory-lock user is likely to pick.
LOCK_KEY = 0x6368_6174_6462_0001

_FILE_RE = re.compile(r"(?P<version>[0-9]{6,})_(?P<name>[a-z0-9_]+)\.(?P<direction>up|down)\.sql")
_NAME_RE = re.compile(r"[a-z0-9_]+")
# Transaction control would break the one-transaction-per-migration guarantee.
_TX_CONTROL_RE = re.compile(
    r"(?:begin|commit|end|abort|start\s+transaction|rollback(?!\s+(?:work\s+|transaction\s+)?to\b))\b",
    re.IGNORECASE,
)


class MigrationError(ChatDBError):
    """A migration could not be loaded or applied; names the file, line and statement if known."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | None = None,
        line: int | None = None,
        statement: str | None = None,
        sqlstate: str | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.statement = statement
        self.sqlstate = sqlstate
        text = message
        if path is not None:
            where = f"{path}:{line}" if line is not None else str(path)
            text = f"{where}: {message}"
        if statement:
            text = f"{text}\n{statement}"
        super().__init__(text)


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered migration: its up file and, when there is one, its down file."""

    version: int
    name: str
    up_path: Path
    down_path: Path | None

    def __str__(self) -> str:
        return f"{self.version:06d}_{self.name}"


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    """Whether a migration is applied. ``file_missing``: applied, but no file has its number."""

    version: int
    name: str
    applied: bool
    applied_at: datetime | None
    file_missing: bool = False


# --- statement splitting ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Statement:
    """A statement's text (no trailing ``;``, no leading comments) and where it starts."""

    text: str
    offset: int
    line: int


class SQLSplitError(ValueError):
    """The text cannot be split: an unterminated string, identifier or comment."""

    def __init__(self, message: str, line: int) -> None:
        self.line = line
        super().__init__(message)


_IDENT_RE = re.compile(r"[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_$\u0080-\U0010ffff]*")
_DOLLAR_TAG_RE = re.compile(r"\$(?:[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_\u0080-\U0010ffff]*)?\$")
_ROUTINE_STARTS = (
    ["create", "function"],
    ["create", "procedure"],
    ["create", "or", "replace", "function"],
    ["create", "or", "replace", "procedure"],
)


def _starts_routine(words: list[str]) -> bool:
    """Whether the statement so far reads CREATE [OR REPLACE] FUNCTION|PROCEDURE."""
    return any(words[: len(start)] == start for start in _ROUTINE_STARTS)


class _Lines:
    """Offset → 1-based line number."""

    def __init__(self, text: str) -> None:
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset)


def _skip_quoted(text: str, i: int, quote: str, backslash: bool, lines: _Lines) -> int:
    """Return the offset just past the quoted token that starts at ``i``."""
    j = i + 1
    n = len(text)
    while j < n:
        c = text[j]
        if backslash and c == "\\":
            j += 2
        elif c == quote:
            if j + 1 < n and text[j + 1] == quote:
                j += 2
            else:
                return j + 1
        else:
            j += 1
    what = "quoted identifier" if quote == '"' else "quoted string"
    raise SQLSplitError(f"unterminated {what}", lines.line(i))


def _skip_block_comment(text: str, i: int, lines: _Lines) -> int:
    """Return the offset just past the (possibly nested) ``/* */`` comment starting at ``i``."""
    depth = 0
    j = i
    n = len(text)
    while j < n:
        if text.startswith("/*", j):
            depth += 1
            j += 2
        elif text.startswith("*/", j):
            depth -= 1
            j += 2
            if depth == 0:
                return j
        else:
            j += 1
    raise SQLSplitError("unterminated /* comment", lines.line(i))


def split_statements(text: str) -> list[Statement]:
    """Split SQL text into statements at top-level semicolons, as psql does.

    Semicolons inside strings, quoted identifiers, dollar quotes, comments and parentheses do
    not split; neither do those inside the ``BEGIN ... END`` body of a ``CREATE [OR REPLACE]
    FUNCTION|PROCEDURE`` (psql's heuristic). Assumes ``standard_conforming_strings = on``.
    """
    lines = _Lines(text)
    out: list[Statement] = []
    n = len(text)
    i = 0
    start: int | None = None
    end = 0
    parens = 0
    begin_depth = 0
    words: list[str] = []
    routine = False

    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if text.startswith("--", i):
            newline = text.find("\n", i)
            i = n if newline < 0 else newline + 1
            continue
        if text.startswith("/*", i):
            i = _skip_block_comment(text, i, lines)
            continue
        if c == ";" and parens == 0 and begin_depth == 0:
            if start is not None:
                out.append(Statement(text[start:end], start, lines.line(start)))
            start, parens, begin_depth, words, routine = None, 0, 0, [], False
            i += 1
            continue

        token = i
        if c == "'":
            i = _skip_quoted(text, i, "'", False, lines)
        elif c == '"':
            i = _skip_quoted(text, i, '"', False, lines)
        elif c == "$":
            m = _DOLLAR_TAG_RE.match(text, i)
            if m is None:  # a parameter such as $1
                i += 1
            else:
                close = text.find(m.group(), m.end())
                if close < 0:
                    raise SQLSplitError(
                        f"unterminated dollar-quoted string {m.group()}", lines.line(i)
                    )
                i = close + len(m.group())
        elif (m := _IDENT_RE.match(text, i)) is not None:
            word = m.group().lower()
            i = m.end()
            if word == "e" and i < n and text[i] == "'":
                i = _skip_quoted(text, i, "'", True, lines)
            else:
                if len(words) < 4:
                    words.append(word)
                    routine = routine or _starts_routine(words)
                if routine and parens == 0:
                    if word == "begin" or (word == "case" and begin_depth > 0):
                        begin_depth += 1
                    elif word == "end" and begin_depth > 0:
                        begin_depth -= 1
        elif c == "(":
            parens += 1
            i += 1
        elif c == ")":
            parens = max(0, parens - 1)
            i += 1
        else:
            i += 1
        if start is None:
            start = token
        end = i

    if start is not None:
        out.append(Statement(text[start:end], start, lines.line(start)))
    return out


# --- loading ---------------------------------------------------------------------------------


def default_migrations_dir() -> Path:
    """``$CHATDB_MIGRATIONS_DIR``, else ``sql/migrations`` in the repository next to the package."""
    explicit = os.environ.get(ENV_MIGRATIONS_DIR)
    if explicit:
        return Path(explicit)
    package = Path(__file__).resolve().parent
    repo_dir = package.parent / "sql" / "migrations"
    bundled = package / "migrations"  # an installed wheel ships them inside the package
    if not repo_dir.is_dir() and bundled.is_dir():
        return bundled
    return repo_dir


def load_migrations(directory: Path | str) -> list[Migration]:
    """The migrations in ``directory``, by version. Malformed names and duplicates are errors."""
    root = Path(directory)
    if not root.is_dir():
        raise MigrationError(f"migrations directory not found: {root}")
    ups: dict[int, tuple[str, Path]] = {}
    downs: dict[int, tuple[str, Path]] = {}
    for path in sorted(root.iterdir()):
        if path.name.startswith(".") or not path.name.endswith(".sql"):
            continue
        m = _FILE_RE.fullmatch(path.name)
        if m is None or not path.is_file():
            raise MigrationError(
                "malformed migration file name: expected NNNNNN_name.up.sql or "
                "NNNNNN_name.down.sql (6+ digits, name of a-z 0-9 _)",
                path=path,
            )
        version = int(m["version"])
        if version == 0:
            raise MigrationError("migration numbers start at 1", path=path)
        table = ups if m["direction"] == "up" else downs
        if version in table:
            raise MigrationError(
                f"duplicate migration number {version}: also {table[version][1].name}", path=path
            )
        table[version] = (m["name"], path)
    migrations = []
    for version, (name, down_path) in downs.items():
        if version not in ups:
            raise MigrationError("down migration without an up migration", path=down_path)
        if ups[version][0] != name:
            raise MigrationError(
                f"duplicate migration number {version}: also {ups[version][1].name}",
                path=down_path,
            )
    for version in sorted(ups):
        name, up_path = ups[version]
        down = downs.get(version)
        migrations.append(Migration(version, name, up_path, down[1] if down else None))
    return migrations


def create_migration(directory: Path | str, name: str) -> tuple[Path, Path]:
    """Write an empty up/down pair numbered after the highest existing migration."""
    if not _NAME_RE.fullmatch(name):
        raise InvalidInput(
            f"bad migration name {name!r}: use lowercase letters, digits and _", field="name"
        )
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    version = max((m.version for m in load_migrations(root)), default=0) + 1
    stem = f"{version:06d}_{name}"
    up_path = root / f"{stem}.up.sql"
    down_path = root / f"{stem}.down.sql"
    header = "-- Runs in one transaction with its schema_migrations row: no BEGIN/COMMIT here.\n\n"
    with up_path.open("x", encoding="utf-8") as f:
        f.write(f"-- Migration {stem} (up).\n{header}")
    with down_path.open("x", encoding="utf-8") as f:
        f.write(f"-- Migration {stem} (down): undo exactly what the up migration does.\n{header}")
    return up_path, down_path


def _read_statements(path: Path) -> tuple[str, list[Statement]]:
    """Read and split a migration file, refusing transaction control statements."""
    try:
        source = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise MigrationError(f"cannot read migration: {exc}", path=path) from exc
    try:
        statements = split_statements(source)
    except SQLSplitError as exc:
        raise MigrationError(str(exc), path=path, line=exc.line) from exc
    for st in statements:
        if _TX_CONTROL_RE.match(st.text):
            raise MigrationError(
                "transaction control is not allowed: each migration already runs in a transaction",
                path=path,
                line=st.line,
                statement=st.text,
            )
    return source, statements


def _server_message(exc: psycopg.Error) -> str:
    diag = exc.diag
    message = (diag.message_primary or str(exc)).strip()
    if diag.message_detail:
        message += f" ({diag.message_detail})"
    if diag.message_hint:
        message += f" (hint: {diag.message_hint})"
    return message


# --- running ---------------------------------------------------------------------------------


def _connect_timeout(dsn: str) -> dict[str, Any]:
    """A connect timeout unless the DSN or environment sets one: never hang on a dead host."""
    if "connect_timeout" in conninfo_to_dict(dsn) or os.environ.get("PGCONNECT_TIMEOUT"):
        return {}
    return {"connect_timeout": 10}


class Migrator:
    """Applies and rolls back the migrations of one directory on one database.

    Given a DSN it opens (autocommit) and closes its own connection for each call; given a
    connection it uses it and leaves it as found (autocommit setting, no lock, no transaction).
    """

    def __init__(
        self, conn: str | psycopg.Connection[Any], directory: Path | str | None = None
    ) -> None:
        self._conn = conn
        self.directory = Path(directory) if directory is not None else default_migrations_dir()

    def migrations(self) -> list[Migration]:
        """The migrations on disk."""
        return load_migrations(self.directory)

    def up(self, target: int | None = None) -> list[Migration]:
        """Apply pending migrations (up to ``target`` inclusive) in order; return those applied.

        "Pending" is per version: one numbered below an applied migration (merged late from a
        branch) is applied too. Every pending file is read and split before the first runs.
        """
        migrations = self.migrations()
        if target is not None and target != 0 and target not in {m.version for m in migrations}:
            raise MigrationError(f"no migration numbered {target} in {self.directory}")
        with self._session() as conn, self._locked(conn):
            self._ensure_table(conn)
            applied = self._applied(conn)
            pending = [
                m
                for m in migrations
                if m.version not in applied and (target is None or m.version <= target)
            ]
            scripts = [(m, *_read_statements(m.up_path)) for m in pending]
            for m, source, statements in scripts:
                self._run(conn, m, m.up_path, source, statements, up=True)
            return pending

    def down(self, steps: int = 1) -> list[Migration]:
        """Roll back the ``steps`` most recent migrations; return those rolled back."""
        if steps < 0:
            raise InvalidInput("steps must be >= 0", field="steps")
        migrations = {m.version: m for m in self.migrations()}
        with self._session() as conn, self._locked(conn):
            victims: list[Migration] = []
            for version in sorted(self._applied(conn), reverse=True)[:steps]:
                m = migrations.get(version)
                if m is None:
                    raise MigrationError(
                        f"cannot roll back version {version}: no migration file has that "
                        f"number in {self.directory}"
                    )
                if m.down_path is None:
                    raise MigrationError(
                        f"cannot roll back version {version}: it has no .down.sql file",
                        path=m.up_path,
                    )
                victims.append(m)
            scripts = [(m, *_read_statements(m.down_path)) for m in victims if m.down_path]
            for m, source, statements in scripts:
                assert m.down_path is not None
                self._run(conn, m, m.down_path, source, statements, up=False)
            return victims

    def status(self) -> list[MigrationStatus]:
        """Every migration on disk (and every applied version without a file), by version."""
        migrations = self.migrations()
        with self._session() as conn:
            applied = self._applied(conn)
        rows = [
            MigrationStatus(m.version, m.name, True, applied[m.version][1])
            if m.version in applied
            else MigrationStatus(m.version, m.name, False, None)
            for m in migrations
        ]
        on_disk = {m.version for m in migrations}
        rows += [
            MigrationStatus(v, name, True, at, file_missing=True)
            for v, (name, at) in applied.items()
            if v not in on_disk
        ]
        return sorted(rows, key=lambda s: s.version)

    def current_version(self) -> int:
        """The highest applied version; 0 when none is applied."""
        with self._session() as conn:
            return max(self._applied(conn), default=0)

    # -- internals --

    @contextlib.contextmanager
    def _session(self) -> Iterator[psycopg.Connection[Any]]:
        """An idle autocommit connection; driver errors outside statements are classified."""
        try:
            if isinstance(self._conn, str):
                conn = self._connect()
                try:
                    yield conn
                finally:
                    conn.close()
                return
            conn = self._conn
            if conn.closed:
                raise MigrationError("the connection is closed")
            if conn.info.transaction_status != TransactionStatus.IDLE:
                raise MigrationError(
                    "the connection is inside a transaction; migrations need an idle connection"
                )
            autocommit = conn.autocommit
            conn.autocommit = True
            try:
                yield conn
            finally:
                if not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE:
                    conn.autocommit = autocommit
        except psycopg.Error as exc:
            raise classify(exc) from exc

    def _connect(self) -> psycopg.Connection[Any]:
        assert isinstance(self._conn, str)
        return psycopg.connect(
            self._conn, autocommit=True, prepare_threshold=None, **_connect_timeout(self._conn)
        )

    @contextlib.contextmanager
    def _locked(self, conn: psycopg.Connection[Any]) -> Iterator[None]:
        """Hold the migration advisory lock (waiting for it) for the duration of the block."""
        if isinstance(self._conn, str):
            # A transaction on its own connection holds the lock; it only ever reads, and the
            # run may take long, so it must not count as an abandoned idle transaction.
            with self._connect() as holder, holder.transaction():
                holder.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
                holder.execute("SET LOCAL statement_timeout = 0")
                holder.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
                yield
            return
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            yield
        finally:
            if not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE:
                with contextlib.suppress(psycopg.Error):
                    conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))

    @staticmethod
    def _ensure_table(conn: psycopg.Connection[Any]) -> None:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version bigint PRIMARY KEY,"
            " name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )

    @staticmethod
    def _applied(conn: psycopg.Connection[Any]) -> dict[int, tuple[str, datetime | None]]:
        cur = conn.cursor(row_factory=tuple_row)
        exists = cur.execute("SELECT to_regclass(%s) IS NOT NULL", (VERSION_TABLE,)).fetchone()
        if not exists or not exists[0]:
            return {}
        cur.execute("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
        return {int(v): (str(name), at) for v, name, at in cur.fetchall()}

    @staticmethod
    def _run(
        conn: psycopg.Connection[Any],
        m: Migration,
        path: Path,
        source: str,
        statements: list[Statement],
        *,
        up: bool,
    ) -> None:
        """Run one migration file and its version-row change in one transaction."""
        started = time.monotonic()
        encoding = conn.info.encoding
        lines = _Lines(source)
        try:
            with conn.transaction():
                for st in statements:
                    try:
                        conn.execute(st.text.encode(encoding))
                    except psycopg.Error as exc:
                        position = exc.diag.statement_position
                        line = st.line
                        if position and position.isdigit():
                            line = lines.line(st.offset + int(position) - 1)
                        raise MigrationError(
                            _server_message(exc),
                            path=path,
                            line=line,
                            statement=st.text,
                            sqlstate=exc.sqlstate,
                        ) from exc
                if up:
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (m.version, m.name),
                    )
                else:
                    conn.execute("DELETE FROM schema_migrations WHERE version = %s", (m.version,))
        except psycopg.Error as exc:  # at COMMIT (deferred constraints) or the version row
            raise MigrationError(_server_message(exc), path=path, sqlstate=exc.sqlstate) from exc
        logger.info(
            "%s %s in %.3fs", "applied" if up else "rolled back", m, time.monotonic() - started
        )
