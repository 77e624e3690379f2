"""``make topology`` / ``make topology-down``: the local topology starts, works and goes away."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from chatdb.testing.pooler import find_pgbouncer

pytestmark = pytest.mark.timeout(180)


def topology(command: str, state: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "chatdb.testing.topology", command, "--state", str(state)],
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_up_starts_a_primary_a_standby_and_a_pooler_and_down_removes_them(
    tmp_path: Path,
) -> None:
    state = tmp_path / "topology.json"
    out = topology("up", state)
    try:
        dsns = dict(line.split(None, 1) for line in out.splitlines()[:4] if line.strip())
        with psycopg.connect(dsns["primary"], autocommit=True) as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
            assert conn.execute("SELECT count(*) > 0 FROM schema_migrations").fetchone() == (True,)
        with psycopg.connect(dsns["standby"], autocommit=True) as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        with psycopg.connect(dsns["failover"], autocommit=True) as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
        if find_pgbouncer() is not None:
            dsn = dsns["pgbouncer"].split("   ")[0]
            with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
        saved = json.loads(state.read_text())
    finally:
        topology("down", state)
    assert not state.exists()
    for node in saved["nodes"]:
        assert not Path(node["workdir"]).exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsns["primary"], connect_timeout=2)
