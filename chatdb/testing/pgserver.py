"""A throwaway PostgreSQL server for tests, codegen and the demo, built on pytest-postgresql.

PostgreSQL refuses to run as root, so when we are root the server (initdb, pg_ctl) runs as an
unprivileged user (``postgres`` by default) through a tiny ``runuser`` wrapper, in a temporary
directory that user owns. Setting ``CHATDB_PG_DSN`` to the conninfo of an existing server's
maintenance database (a role that may CREATE DATABASE) skips all of this and uses that server.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ENV_DSN = "CHATDB_PG_DSN"
ENV_PG_CTL = "CHATDB_PG_CTL"
ENV_RUN_AS = "CHATDB_PG_USER"
ENV_TMPDIR = "CHATDB_PG_TMPDIR"

# Durability is pointless for a server that lives for one test run and costs seconds.
_FAST_OPTIONS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c max_connections=200 -c shared_buffers=128MB"
)


class PgServerError(RuntimeError):
    """The throwaway server could not be started or reached."""


def find_pg_ctl() -> str:
    """Locate pg_ctl: $CHATDB_PG_CTL, then PATH, then Debian's versioned directories."""
    explicit = os.environ.get(ENV_PG_CTL)
    if explicit:
        return explicit
    found = shutil.which("pg_ctl")
    if found:
        return found
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    raise PgServerError(
        "pg_ctl not found: install PostgreSQL server binaries, set CHATDB_PG_CTL, "
        f"or point {ENV_DSN} at an existing server"
    )


def _scratch_dir() -> str | None:
    """Where the data directory goes: $CHATDB_PG_TMPDIR, else /dev/shm when usable.

    Cloning a migrated template creates about a thousand small files; on tmpfs that is ~20x
    faster than on a disk-backed /tmp, which is most of what a test database costs.
    """
    explicit = os.environ.get(ENV_TMPDIR)
    if explicit:
        return explicit
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        stats = os.statvfs(shm)
        if stats.f_bavail * stats.f_frsize > 1 << 30:  # at least 1 GiB free
            return str(shm)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """A PostgreSQL server we may create and drop databases on."""

    def __init__(self, base_conninfo: str, executor: Any = None, workdir: Path | None = None):
        self._base = conninfo_to_dict(base_conninfo)
        self._executor = executor
        self._workdir = workdir

    def dsn(self, dbname: str | None = None) -> str:
        """Conninfo for ``dbname`` (default: the maintenance database)."""
        params = dict(self._base)
        if dbname is not None:
            params["dbname"] = dbname
        return make_conninfo(**params)  # type: ignore[arg-type]

    def _admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.dsn(), autocommit=True)

    def create_database(
        self, name: str | None = None, template: str | None = None, is_template: bool = False
    ) -> str:
        """Create a database (optionally cloned from ``template``) and return its name."""
        name = name or f"db_{uuid.uuid4().hex[:12]}"
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            # FILE_COPY clones a small template much faster than WAL_LOG when fsync is off.
            query += sql.SQL(" TEMPLATE {} STRATEGY FILE_COPY").format(sql.Identifier(template))
        if is_template:
            query += sql.SQL(" IS_TEMPLATE true")
        with self._admin() as conn:
            conn.execute(query)
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever is still on it."""
        with self._admin() as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} WITH is_template false").format(sql.Identifier(name))
            )
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def stop(self) -> None:
        """Stop the server (if we started it) and remove its directory."""
        if self._executor is not None:
            with contextlib.suppress(Exception):
                self._executor.stop()
            self._executor = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None


def _runas_user() -> pwd.struct_passwd | None:
    """The unprivileged user to run the server as, or None when we are not root."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get(ENV_RUN_AS, "postgres")
    try:
        return pwd.getpwnam(name)
    except KeyError as exc:
        raise PgServerError(
            f"running as root and there is no user {name!r} to run PostgreSQL as; "
            f"create one or set {ENV_RUN_AS}"
        ) from exc


def start_server() -> PgServer:
    """Start a fresh server in a temporary directory (or use $CHATDB_PG_DSN)."""
    existing = os.environ.get(ENV_DSN)
    if existing:
        try:
            with psycopg.connect(existing, autocommit=True, connect_timeout=5):
                pass
        except psycopg.Error as exc:
            raise PgServerError(f"cannot reach {ENV_DSN}: {exc}".strip()) from exc
        return PgServer(existing)

    from pytest_postgresql.executors import PostgreSQLExecutor

    pg_ctl = find_pg_ctl()
    user = _runas_user()
    workdir = Path(tempfile.mkdtemp(prefix="chatdb-pg-", dir=_scratch_dir()))
    executable = pg_ctl
    if user is not None:
        os.chown(workdir, user.pw_uid, user.pw_gid)
        wrapper = workdir / "pg_ctl-as-user"
        wrapper.write_text(f'#!/bin/sh\nexec runuser -u {user.pw_name} -- "{pg_ctl}" "$@"\n')
        wrapper.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        executable = str(wrapper)
    port = _free_port()
    executor = PostgreSQLExecutor(
        executable=executable,
        host="127.0.0.1",
        port=port,
        datadir=str(workdir / "data"),
        unixsocketdir=str(workdir),
        logfile=str(workdir / "server.log"),
        startparams="-w",
        dbname="postgres",
        user="postgres",
        postgres_options=_FAST_OPTIONS,
        timeout=60,
    )
    server = PgServer(
        make_conninfo(host=str(workdir), port=port, user="postgres", dbname="postgres"),
        executor,
        workdir,
    )
    try:
        executor.start()
    except Exception as exc:
        log = workdir / "server.log"
        detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        server.stop()
        if isinstance(exc, subprocess.CalledProcessError) and exc.output:
            detail = exc.output.decode(errors="replace")[-2000:] + detail
        raise PgServerError(f"PostgreSQL did not start: {exc}\n{detail}") from exc
    try:
        _wait_ready(server.dsn())
    except PgServerError:
        server.stop()
        raise
    atexit.register(server.stop)
    return server


def _wait_ready(dsn: str, timeout: float = 30.0) -> None:
    """Poll until the server accepts connections (pg_ctl -w can return early under load)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=2):
                return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise PgServerError(f"PostgreSQL did not become ready: {exc}") from exc
            time.sleep(0.05)


@contextlib.contextmanager
def throwaway_server() -> Iterator[PgServer]:
    """A server for the duration of the block, removed afterwards."""
    server = start_server()
    try:
        yield server
    finally:
        server.stop()
