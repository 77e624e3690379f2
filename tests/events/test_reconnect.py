"""NOTIFY is not durable: after the listener reconnects every subscriber is told to resync."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from chatdb.events import CHANNEL, Event, Kind, Listener, Resync, publish
from codegen.pgserver import ENV_DSN, PgServer, start_server

pytestmark = pytest.mark.timeout(120)


def _event(n: int) -> Event:
    import uuid

    chat = uuid.UUID(int=1)
    return Event(Kind.CHAT_UPDATED, chat, chat, chat, None, {"n": n})


def _send(dsn: str, n: int) -> Event:
    event = _event(n)
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        publish(conn, [event])
    return event


def _after_resync(listener: Listener, subs: list[Any], dsn: str) -> None:
    """Each subscriber gets Resync, then the events sent after the reconnection, in order."""
    assert listener.wait_connected(30), "the listener did not reconnect"
    sent = [_send(dsn, n) for n in range(3)]
    for sub in subs:
        first = sub.get(30)
        assert first == Resync("reconnected"), first
        assert [sub.get(30) for _ in sent] == sent


def test_terminating_the_listener_backend_gives_resync_then_new_events(
    chatdb_dsn: str, conn: psycopg.Connection[Any]
) -> None:
    with Listener(chatdb_dsn, reconnect_delays=(0.02, 0.2)) as listener:
        assert listener.wait_connected(10)
        subs = [listener.subscribe() for _ in range(3)]
        for round in range(3):
            before = _send(chatdb_dsn, -1)
            assert all(s.get(10) == before for s in subs)
            pid = listener.backend_pid
            killed = conn.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()
            assert killed == (True,)
            _wait_new_backend(listener, pid)
            _after_resync(listener, subs, chatdb_dsn)
            assert listener.reconnects == round + 1


def _wait_new_backend(listener: Listener, old_pid: int | None) -> None:
    import time

    deadline = time.monotonic() + 30
    while listener.backend_pid == old_pid or not listener.connected:
        assert time.monotonic() < deadline, "no new listener backend"
        time.sleep(0.01)


@pytest.fixture
def own_server() -> Iterator[PgServer]:
    """A server of our own to restart (the session's is shared by every test)."""
    if os.environ.get(ENV_DSN):
        pytest.skip(f"{ENV_DSN} points at an external server, which this test cannot restart")
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


def test_a_server_restart_gives_resync_then_new_events(own_server: PgServer) -> None:
    dsn = own_server.dsn(own_server.create_database())
    executor: Any = own_server._executor
    with Listener(dsn, reconnect_delays=(0.05, 0.5)) as listener:
        assert listener.wait_connected(10)
        subs = [listener.subscribe() for _ in range(2)]
        before = _send(dsn, -1)
        assert all(s.get(10) == before for s in subs)
        pid = listener.backend_pid
        # The new postmaster writes to the log file, not to pipes we would wait on.
        subprocess.run(
            [
                executor.executable,
                "restart",
                "-D",
                executor.datadir,
                "-m",
                "fast",
                "-w",
                "-l",
                executor.logfile,
            ],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )
        _wait_new_backend(listener, pid)
        _after_resync(listener, subs, dsn)


def test_subscribers_from_before_the_first_connection_get_resync(chatdb_dsn: str) -> None:
    """A subscription made before LISTEN took effect may have read state that changed before
    it did (the event is lost): it is told so, then receives."""
    listener = Listener(chatdb_dsn, start=False)
    with listener:
        sub = listener.subscribe()
        _send(chatdb_dsn, -1)  # nobody LISTENs yet: lost
        listener.start()
        assert listener.wait_connected(10)
        after = _send(chatdb_dsn, 0)
        assert sub.get(10) == Resync("connected")
        assert sub.get(10) == after
        late = listener.subscribe()  # made while connected: nothing to resync
        again = _send(chatdb_dsn, 1)
        assert late.get(10) == again and sub.get(10) == again


def test_a_notification_that_breaks_the_decoder_costs_only_itself(
    chatdb_dsn: str, conn: psycopg.Connection[Any]
) -> None:
    """Anyone who may connect can NOTIFY on the channel: JSON nested deeper than the decoder's
    recursion limit (within NOTIFY's 8000 bytes) must not end the listener's thread."""
    with Listener(chatdb_dsn, reconnect_delays=(0.02, 0.2)) as listener:
        assert listener.wait_connected(10)
        sub = listener.subscribe()
        deep = "[" * 3990 + "]" * 3990
        for _ in range(3):
            conn.execute("SELECT pg_notify(%s, %s)", [CHANNEL, deep])
            after = _send(chatdb_dsn, 0)
            assert sub.get(10) == after
        assert listener.reconnects == 0
