"""Many chat daemon replicas as real OS processes against one database.

Four workers drain sixty pending chats while a fifth, which had acquired three of them, is
killed with SIGKILL mid-run. Counted from the run log: every chat is completed exactly once,
never run by two workers at once, and the killed worker's chats run exactly once more after
the stale timeout.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import uuid
from collections import defaultdict
from typing import Any

import psycopg
import pytest

from chatdb.testing.factories import Factories
from chatdb.testing.workers import create_run_log

pytestmark = pytest.mark.timeout(180)

CHATS = 60
STALE = 1.5


def worker(dsn: str, mode: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "chatdb.testing.workers", dsn, str(uuid.uuid4()), mode, *extra],
        stdout=subprocess.PIPE,
        text=True,
    )


def test_worker_processes_run_each_chat_once_and_recover_a_killed_one(
    chatdb_dsn: str, chatdb_conn: psycopg.Connection[Any]
) -> None:
    create_run_log(chatdb_conn)
    f = Factories(chatdb_conn)
    org = f.organization()
    owner = f.user(organization_id=org.id)
    for _ in range(CHATS):
        f.chat(owner_id=owner.id, organization_id=org.id, status="pending")

    doomed = worker(chatdb_dsn, "hang", "--batch", "3")
    assert doomed.stdout is not None
    assert doomed.stdout.readline().split() == ["acquired", "3"]
    os.kill(doomed.pid, signal.SIGKILL)  # mid-run: its three chats stay "running" under it
    doomed.wait(timeout=30)
    # Heartbeats live in the running chats' leases (migration 000040), not in the chats rows.
    last_heartbeat = dict(chatdb_conn.execute("SELECT chat_id, heartbeat_at FROM chat_leases"))
    assert len(last_heartbeat) == 3

    args = ("--batch", "2", "--work-ms", "10", "--stale", str(STALE), "--seconds", "90")
    workers = [worker(chatdb_dsn, "run", *args) for _ in range(4)]
    for w in workers:
        assert w.wait(timeout=120) == 0

    runs = chatdb_conn.execute(
        "SELECT chat_id, worker_id, started_at, finished_at, completed FROM worker_runs"
        " ORDER BY chat_id, started_at"
    ).fetchall()
    by_chat: dict[Any, list[Any]] = defaultdict(list)
    for run in runs:
        by_chat[run[0]].append(run)
    assert len(by_chat) == CHATS
    killed = {chat for chat, rs in by_chat.items() if rs[0][3] is None}
    assert killed == last_heartbeat.keys()
    for chat, rs in by_chat.items():
        # Completed exactly once; the killed worker's chats ran exactly once more.
        assert [r[4] for r in rs] == ([False, True] if chat in killed else [True])
        for earlier, later in itertools.pairwise(rs):
            assert later[1] != earlier[1]
            if earlier[3] is None:  # killed: taken over only after the stale timeout
                assert (later[2] - last_heartbeat[chat]).total_seconds() >= STALE
            else:  # never two workers at once
                assert later[2] >= earlier[3]
    statuses = chatdb_conn.execute("SELECT status::text, count(*) FROM chats GROUP BY 1").fetchall()
    assert statuses == [("completed", CHATS)]
