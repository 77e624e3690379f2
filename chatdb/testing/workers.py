"""A simulated chat daemon replica, run as its own operating-system process.

``python -m chatdb.testing.workers DSN WORKER_ID MODE [options]`` runs the worker workflows
(:class:`chatdb.ops.Workers` as :data:`chatdb.authz.CHATD`) against one database, the way
each replica of a chat daemon does. Tests and ``make bench`` start several at once.

Modes
    ``run``    until no chat is pending or running: heartbeat, recover stale chats, acquire,
               "work" on each chat (heartbeating), then finish it only if it still runs under
               this worker. Every run start and finish is logged in ``worker_runs``.
    ``hang``   acquire chats, log their run starts, print ``acquired`` and sleep until killed.
    ``bench``  print ``ready``, wait for a line on stdin (so several processes measure the
               same window), then for ``--seconds`` acquire one chat and finish it at once;
               print the count.

The ``worker_runs`` table is the test's bookkeeping, created by :func:`create_run_log`.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from chatdb.authz import CHATD
from chatdb.db import Chat, ChatStatus, Querier
from chatdb.ops import Chats
from chatdb.store import Store

RUN_LOG = """
CREATE TABLE IF NOT EXISTS worker_runs (
    id bigserial PRIMARY KEY,
    chat_id uuid NOT NULL,
    worker_id uuid NOT NULL,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    completed boolean NOT NULL DEFAULT false
)
"""


def create_run_log(conn: psycopg.Connection[Any]) -> None:
    conn.execute(RUN_LOG)


def _finish(store: Store[Querier], chat: Chat, worker: uuid.UUID, run: int | None) -> bool:
    """Complete the chat if it still runs under ``worker`` (locked, so exactly once)."""

    def body(q: Querier) -> bool:
        current = q.get_chat_by_id_for_update(id=chat.id)
        mine = current.status is ChatStatus.RUNNING and current.worker_id == worker
        if mine:
            q.update_chat_status(
                id=chat.id,
                status=ChatStatus.COMPLETED,
                worker_id=None,
                started_at=None,
                heartbeat_at=None,
                last_error=None,
            )
        if run is not None:
            q.conn.execute(
                "UPDATE worker_runs SET finished_at = clock_timestamp(), completed = %s"
                " WHERE id = %s",
                (mine, run),
            )
        return mine

    return store.in_tx(body)


def _log_start(store: Store[Querier], chat: Chat, worker: uuid.UUID) -> int:
    with store.connection() as conn:
        row = conn.execute(
            "INSERT INTO worker_runs (chat_id, worker_id) VALUES (%s, %s) RETURNING id",
            (chat.id, worker),
        ).fetchone()
    assert row is not None
    return int(row[0])


def _remaining(store: Store[Querier]) -> int:
    with store.connection() as conn:
        row = conn.execute(
            "SELECT count(*) FROM chats WHERE status IN ('pending', 'running')"
        ).fetchone()
    return int(row[0]) if row else 0


def run(args: argparse.Namespace) -> None:
    worker = uuid.UUID(args.worker_id)
    with Store(args.dsn, querier_factory=Querier, min_size=1, max_size=2) as store:
        chats = Chats(store)
        deadline = time.monotonic() + args.seconds
        if args.mode == "bench":
            store.open(wait=True)  # connected before the window opens
            print("ready", flush=True)
            sys.stdin.readline()
            end_at = time.monotonic() + args.seconds
            done = 0
            while time.monotonic() < end_at:
                for chat in chats.acquire_chats(worker, actor=CHATD, num_chats=1):
                    _finish(store, chat, worker, None)
                    done += 1
            print(done, flush=True)
            return
        if args.mode == "hang":
            acquired = chats.acquire_chats(worker, actor=CHATD, num_chats=args.batch)
            for chat in acquired:
                _log_start(store, chat, worker)
            print("acquired", len(acquired), flush=True)
            time.sleep(3600)
            return
        stale = timedelta(seconds=args.stale)
        while time.monotonic() < deadline:
            chats.heartbeat(worker, actor=CHATD)
            chats.recover_stale_chats(datetime.now(UTC) - stale, actor=CHATD)
            acquired = chats.acquire_chats(worker, actor=CHATD, num_chats=args.batch)
            if not acquired:
                if _remaining(store) == 0:
                    return
                time.sleep(0.05)
                continue
            for chat in acquired:
                run_id = _log_start(store, chat, worker)
                time.sleep(args.work_ms / 1000)
                chats.heartbeat(worker, actor=CHATD)
                _finish(store, chat, worker, run_id)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m chatdb.testing.workers")
    parser.add_argument("dsn")
    parser.add_argument("worker_id")
    parser.add_argument("mode", choices=("run", "hang", "bench"))
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--work-ms", type=float, default=10.0)
    parser.add_argument("--stale", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
