"""Migration 000040 (chat_leases): running chats keep their worker and heartbeat across it.

Heartbeats moved from the wide chats row to a narrow lease row per running chat. Upgrading
must give every chat running at that moment a lease carrying its worker and its last
heartbeat (else the first recovery would requeue chats whose worker is alive); downgrading
must carry the leases' heartbeats back onto the chats rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from chatdb.migrate import Migrator, default_migrations_dir, load_migrations
from codegen.pgserver import throwaway_server

pytestmark = pytest.mark.timeout(120)

T0 = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
LEASES = next(
    m.version for m in load_migrations(default_migrations_dir()) if m.name == "chat_leases"
)


@pytest.fixture
def dsn() -> Iterator[str]:
    with throwaway_server() as server:
        name = server.create_database()
        yield server.dsn(name)


def _chat(conn: psycopg.Connection[Any], status: str, **values: Any) -> UUID:
    row = conn.execute(
        "INSERT INTO chats (owner_id, organization_id, last_model_config_id, title, status,"
        " worker_id, started_at, heartbeat_at, updated_at)"
        " SELECT u.id, o.id, m.id, 'c', %(status)s::chat_status, %(worker_id)s, %(started_at)s,"
        " %(heartbeat_at)s, %(updated_at)s"
        " FROM users u, organizations o, chat_model_configs m RETURNING id",
        {"status": status, "worker_id": None, "started_at": None, "heartbeat_at": None}
        | {"updated_at": T0}
        | values,
    ).fetchone()
    assert row is not None
    return UUID(str(row[0]))


def _leases(conn: psycopg.Connection[Any]) -> dict[UUID, tuple[UUID | None, datetime]]:
    rows = conn.execute("SELECT chat_id, worker_id, heartbeat_at FROM chat_leases").fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_upgrading_gives_running_chats_a_lease_and_downgrading_takes_the_heartbeat_back(
    dsn: str,
) -> None:
    migrator = Migrator(dsn)
    migrator.up(target=LEASES - 1)
    worker, other = uuid4(), uuid4()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO organizations (name) VALUES ('o')")
        conn.execute("INSERT INTO users (email, username) VALUES ('u@example.com', 'u')")
        conn.execute("INSERT INTO chat_providers (provider) VALUES ('anthropic')")
        conn.execute(
            "INSERT INTO chat_model_configs (provider, model, context_limit,"
            " compression_threshold) VALUES ('anthropic', 'm', 1000, 70)"
        )
        beating = _chat(conn, "running", worker_id=worker, started_at=T0, heartbeat_at=T0 + timedelta(minutes=5))  # fmt: skip
        started = _chat(conn, "running", worker_id=other, started_at=T0 + timedelta(minutes=1))
        never = _chat(conn, "running", updated_at=T0 + timedelta(minutes=2))
        _chat(conn, "completed", worker_id=worker, heartbeat_at=T0)
        _chat(conn, "pending")

        migrator.up(target=LEASES)
        assert _leases(conn) == {
            beating: (worker, T0 + timedelta(minutes=5)),
            started: (other, T0 + timedelta(minutes=1)),
            never: (None, T0 + timedelta(minutes=2)),
        }

        later = T0 + timedelta(hours=1)
        conn.execute(
            "UPDATE chat_leases SET heartbeat_at = %s WHERE worker_id = %s", (later, worker)
        )
        migrator.down(1)
        heartbeats: dict[UUID, datetime | None] = dict(
            conn.execute("SELECT id, heartbeat_at FROM chats WHERE status = 'running'").fetchall()
        )
        assert heartbeats == {beating: later, started: None, never: None}
