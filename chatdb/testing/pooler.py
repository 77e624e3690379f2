"""A real PgBouncer in transaction pooling mode in front of a test server.

Debian's ``pgbouncer`` package (1.18 on bookworm: no protocol-level prepared statements, so
clients must not prepare; see :class:`chatdb.store.Store`'s ``prepare_threshold``). It runs in
the foreground as a child process, as the unprivileged server user when we are root (PgBouncer
refuses to run as root), listening on loopback only, trusting every client.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time

import psycopg
from psycopg.conninfo import make_conninfo

from chatdb.testing.cluster import _as_user, _make_workdir
from chatdb.testing.pgserver import PgServerError, _free_port, _runas_user

PACKAGE = "pgbouncer"
"""The Debian package that provides the binary."""


def find_pgbouncer() -> str | None:
    """The pgbouncer binary (PATH, then Debian's /usr/sbin), or None."""
    return shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.access(p, os.X_OK)),
        None,
    )


class PgBouncer:
    """One PgBouncer process forwarding every database name to ``host:port``."""

    def __init__(
        self, host: str, port: int, *, pool_size: int = 20, detached: bool = False
    ) -> None:
        binary = find_pgbouncer()
        if binary is None:
            raise PgServerError(f"pgbouncer not found: install the Debian package {PACKAGE!r}")
        self.workdir = _make_workdir("chatdb-pgbouncer-")
        self.port = _free_port()
        (self.workdir / "userlist.txt").write_text('"postgres" ""\n')
        ini = self.workdir / "pgbouncer.ini"
        ini.write_text(
            "[databases]\n"
            f"* = host={host} port={port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            f"unix_socket_dir = {self.workdir}\n"
            "auth_type = trust\n"
            f"auth_file = {self.workdir / 'userlist.txt'}\n"
            "pool_mode = transaction\n"
            "max_client_conn = 500\n"
            f"default_pool_size = {pool_size}\n"
            "admin_users = postgres\n"
            "ignore_startup_parameters = extra_float_digits\n"
            "server_reset_query =\n"
            f"logfile = {self.workdir / 'pgbouncer.log'}\n"
        )
        user = _runas_user()
        if user is not None:
            for path in self.workdir.iterdir():
                os.chown(path, user.pw_uid, user.pw_gid)
        # Detached: in a session of its own, outliving us (``make topology``).
        self._process: subprocess.Popen[bytes] | None = subprocess.Popen(
            _as_user([binary, str(ini)]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL if detached else subprocess.PIPE,
            cwd="/",
            start_new_session=detached,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def dsn(self, dbname: str = "postgres") -> str:
        return make_conninfo(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname)

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self._process is not None and self._process.poll() is not None:
                err = (
                    self._process.stderr.read().decode(errors="replace")
                    if self._process.stderr
                    else ""
                )
                log = self.workdir / "pgbouncer.log"
                err += log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise PgServerError(f"pgbouncer exited: {err}")
            try:
                with psycopg.connect(self.dsn(), autocommit=True, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise PgServerError(f"pgbouncer did not become ready: {exc}") from exc
                time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=10)
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait(timeout=10)
            if self._process.stderr is not None:
                self._process.stderr.close()
            self._process = None
        shutil.rmtree(self.workdir, ignore_errors=True)
