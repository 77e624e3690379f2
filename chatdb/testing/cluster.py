"""Real PostgreSQL processes a test (or a developer) can stop, restart, replicate and promote.

:class:`Node` is one server in a directory it owns, listening on loopback only. A primary is
made with :func:`start_primary`; :meth:`Node.add_standby` copies it with ``pg_basebackup -R``
into a streaming hot standby. When we are root the server binaries run as an unprivileged user
(``postgres`` unless ``$CHATDB_PG_USER``) through ``runuser``, as PostgreSQL requires.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from chatdb.testing.pgserver import (
    PgServerError,
    _free_port,
    _runas_user,
    _scratch_dir,
    find_pg_ctl,
)

# Durability is pointless for a server that lives for one test run.
_FAST_SETTINGS = {
    "fsync": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "64MB",
    "hot_standby_feedback": "on",
    "wal_keep_size": "128MB",
}


def _as_user(args: list[str]) -> list[str]:
    user = _runas_user()
    return args if user is None else ["runuser", "-u", user.pw_name, "--", *args]


def _make_workdir(prefix: str) -> Path:
    workdir = Path(tempfile.mkdtemp(prefix=prefix, dir=_scratch_dir()))
    user = _runas_user()
    if user is not None:
        os.chown(workdir, user.pw_uid, user.pw_gid)
    return workdir


def _run(args: list[str], what: str, timeout: float = 120.0) -> None:
    try:
        subprocess.run(_as_user(args), check=True, capture_output=True, timeout=timeout, cwd="/")
    except subprocess.CalledProcessError as exc:
        output = (exc.stdout or b"").decode(errors="replace") + (exc.stderr or b"").decode(
            errors="replace"
        )
        raise PgServerError(f"{what} failed: {output[-2000:]}") from exc


@dataclass
class Node:
    """One PostgreSQL server: its directory, port and binaries."""

    workdir: Path
    port: int
    bindir: Path = field(default_factory=lambda: Path(find_pg_ctl()).resolve().parent)

    @property
    def datadir(self) -> Path:
        return self.workdir / "data"

    @property
    def logfile(self) -> Path:
        return self.workdir / "server.log"

    def dsn(self, dbname: str = "postgres", **extra: str | int) -> str:
        params: dict[str, str | int] = {
            "host": "127.0.0.1",
            "port": self.port,
            "user": "postgres",
            "dbname": dbname,
            **extra,
        }
        return make_conninfo("", **params)

    def _bin(self, name: str) -> str:
        return str(self.bindir / name)

    def set(self, **settings: object) -> None:
        """Append settings to postgresql.conf (take effect at the next start)."""
        with (self.datadir / "postgresql.conf").open("a") as conf:
            for name, value in settings.items():
                conf.write(f"{name} = '{value}'\n")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1"
        _run(
            [
                self._bin("pg_ctl"),
                "-D",
                str(self.datadir),
                "-l",
                str(self.logfile),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            ],
            "pg_ctl start",
        )
        self.wait_ready()

    def stop(self, mode: str = "fast") -> None:
        _run(
            [self._bin("pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"], "pg_ctl stop"
        )

    def restart(self) -> None:
        self.stop()
        self.start()

    def promote(self) -> None:
        _run([self._bin("pg_ctl"), "-D", str(self.datadir), "-w", "promote"], "pg_ctl promote")

    @property
    def running(self) -> bool:
        return (self.datadir / "postmaster.pid").exists()

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.dsn(), autocommit=True, connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise PgServerError(f"PostgreSQL did not become ready: {exc}") from exc
                time.sleep(0.05)

    def add_standby(self) -> Node:
        """A streaming hot standby of this (running) node, started."""
        standby = Node(_make_workdir("chatdb-standby-"), _free_port(), self.bindir)
        _run(
            [
                self._bin("pg_basebackup"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-D",
                str(standby.datadir),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
            ],
            "pg_basebackup",
        )
        standby.start()
        return standby

    def destroy(self) -> None:
        """Stop the server if it runs and remove its directory."""
        if self.running:
            with contextlib.suppress(PgServerError):
                self.stop("immediate")
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_primary(**settings: object) -> Node:
    """initdb, configure and start a server that may have streaming standbys."""
    node = Node(_make_workdir("chatdb-primary-"), _free_port())
    _run(
        [
            node._bin("initdb"),
            "-D",
            str(node.datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C",
        ],
        "initdb",
    )
    node.set(**{**_FAST_SETTINGS, **settings})
    try:
        node.start()
    except BaseException:
        node.destroy()
        raise
    return node


def wait_replayed(primary: Node, standby: Node, timeout: float = 30.0) -> None:
    """Block until the standby has replayed everything the primary has written so far."""
    dbname = "postgres"  # WAL positions are cluster-wide; a new database may not be there yet
    with psycopg.connect(primary.dsn(dbname), autocommit=True) as conn:
        lsn = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]  # type: ignore[index]
    deadline = time.monotonic() + timeout
    with psycopg.connect(standby.dsn(dbname), autocommit=True) as conn:
        while True:
            row = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()
            if row and row[0]:
                return
            if time.monotonic() > deadline:
                raise PgServerError("the standby did not catch up")
            time.sleep(0.02)
