"""SQL-level behaviour of the worker queries (SPEC 4.4): acquisition, heartbeats, recovery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from chatdb.db import Chat, ChatStatus, Querier
from chatdb.testing.factories import Factories

OLD = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
NOW = OLD + timedelta(hours=1)


def minutes(n: int) -> datetime:
    return OLD + timedelta(minutes=n)


@dataclass
class Env:
    q: Querier
    f: Factories
    owner_id: UUID
    org_id: UUID
    model_id: UUID

    def chat(self, **kw: Any) -> Chat:
        values: dict[str, Any] = {
            "owner_id": self.owner_id,
            "organization_id": self.org_id,
            "last_model_config_id": self.model_id,
            "updated_at": OLD,
        }
        values.update(kw)
        return self.f.chat(**values)

    def reload(self, chat: Chat) -> Chat:
        return self.q.get_chat_by_id(id=chat.id)

    def leases(self) -> dict[UUID, tuple[UUID | None, datetime]]:
        """Every lease: chat id -> (worker, heartbeat), read straight from the table."""
        rows = self.f.conn.execute("SELECT chat_id, worker_id, heartbeat_at FROM chat_leases")
        return {r[0]: (r[1], r[2]) for r in rows.fetchall()}


@pytest.fixture
def env(chatdb_conn: psycopg.Connection[Any]) -> Env:
    f = Factories(chatdb_conn)
    org = f.organization()
    owner = f.user(organization_id=org.id)
    model = f.chat_model_config()
    return Env(Querier(chatdb_conn), f, owner.id, org.id, model.id)


# ---- AcquireChats ------------------------------------------------------------------------


def test_acquire_chats_claims_the_oldest_pending_live_chats(env: Env) -> None:
    newest = env.chat(status="pending", updated_at=minutes(3))
    oldest = env.chat(status="pending", updated_at=minutes(1))
    middle = env.chat(status="pending", updated_at=minutes(2))
    env.chat(status="pending", updated_at=minutes(0), archived=True)
    env.chat(status="waiting", updated_at=minutes(0))
    env.chat(status="paused", updated_at=minutes(0))
    worker = uuid4()

    got = env.q.acquire_chats(worker_id=worker, started_at=NOW, num_chats=2)
    assert {c.id for c in got} == {oldest.id, middle.id}
    for chat in got:
        assert chat.status is ChatStatus.RUNNING
        assert chat.worker_id == worker
        assert chat.started_at == chat.heartbeat_at == chat.updated_at == NOW
        assert env.reload(chat) == chat
    assert env.reload(newest).status is ChatStatus.PENDING


def test_acquire_chats_never_claims_archived_chats(env: Env) -> None:
    archived = env.chat(status="pending", archived=True)
    assert env.q.acquire_chats(worker_id=uuid4(), started_at=NOW, num_chats=10) == []
    assert env.reload(archived).status is ChatStatus.PENDING


def test_acquire_chats_with_nothing_pending_returns_nothing(env: Env) -> None:
    env.chat(status="running", worker_id=uuid4())
    assert env.q.acquire_chats(worker_id=uuid4(), started_at=NOW, num_chats=5) == []


def test_concurrent_workers_never_claim_the_same_chat(
    env: Env, chatdb_conn: psycopg.Connection[Any], chatdb_dsn: str
) -> None:
    chats = [env.chat(status="pending", updated_at=minutes(i)) for i in range(5)]
    worker_a, worker_b = uuid4(), uuid4()
    with psycopg.connect(chatdb_dsn, autocommit=True) as other:
        # Blocking on A's row locks would fail B fast instead of hanging the test.
        other.execute("SET lock_timeout = '200ms'")
        with chatdb_conn.transaction(), other.transaction():
            first_a = env.q.acquire_chats(worker_id=worker_a, started_at=NOW, num_chats=1)
            first_b = Querier(other).acquire_chats(worker_id=worker_b, started_at=NOW, num_chats=1)
            # A is still uncommitted: B skipped A's locked row and took the next oldest.
            assert [c.id for c in first_a] == [chats[0].id]
            assert [c.id for c in first_b] == [chats[1].id]
            rest_b = Querier(other).acquire_chats(worker_id=worker_b, started_at=NOW, num_chats=10)
            assert {c.id for c in rest_b} == {c.id for c in chats[2:]}
            assert env.q.acquire_chats(worker_id=worker_a, started_at=NOW, num_chats=10) == []

    owners = {c.id: env.reload(c).worker_id for c in chats}
    assert owners == {
        chats[0].id: worker_a,
        **{c.id: worker_b for c in chats[1:]},
    }


# ---- UpdateChatHeartbeats ----------------------------------------------------------------


def test_heartbeats_touch_only_the_workers_running_chats_and_keep_updated_at(env: Env) -> None:
    worker = uuid4()
    mine = [env.chat(status="running", worker_id=worker, heartbeat_at=OLD) for _ in range(3)]
    paused = env.chat(status="paused", worker_id=worker, heartbeat_at=OLD)
    other_worker = env.chat(status="running", worker_id=uuid4(), heartbeat_at=OLD)

    rows = env.q.update_chat_heartbeats(worker_id=worker, now=NOW)
    assert {r.id for r in rows} == {c.id for c in mine}
    leases = env.leases()
    assert leases == {
        **{c.id: (worker, NOW) for c in mine},
        other_worker.id: (other_worker.worker_id, OLD),
    }
    for chat in (*mine, paused, other_worker):
        fresh = env.reload(chat)  # the wide chat row is not rewritten
        assert (fresh.heartbeat_at, fresh.updated_at) == (OLD, OLD)


def test_heartbeats_omit_chats_taken_over_by_another_worker(env: Env) -> None:
    worker = uuid4()
    kept = env.chat(status="running", worker_id=worker)
    stolen = env.chat(status="running", worker_id=worker)
    env.q.update_chat_status(
        id=stolen.id,
        status=ChatStatus.RUNNING,
        worker_id=uuid4(),
        started_at=NOW,
        heartbeat_at=NOW,
        last_error=None,
    )
    rows = env.q.update_chat_heartbeats(worker_id=worker, now=NOW)
    assert [r.id for r in rows] == [kept.id]


# ---- GetStaleChats -----------------------------------------------------------------------


def test_get_stale_chats_finds_silent_running_and_abandoned_requires_action_chats(
    env: Env,
) -> None:
    threshold = minutes(30)
    silent = env.chat(status="running", heartbeat_at=minutes(29), updated_at=minutes(1))
    env.chat(status="running", heartbeat_at=minutes(31), updated_at=minutes(1))
    abandoned = env.chat(status="requires_action", updated_at=minutes(29))
    env.chat(status="requires_action", updated_at=minutes(31))
    for status in ("waiting", "pending", "paused", "completed", "error"):
        env.chat(status=status, heartbeat_at=minutes(0), updated_at=minutes(0))

    got = env.q.get_stale_chats(stale_threshold=threshold)
    assert [c.id for c in got] == [silent.id, abandoned.id]


def test_a_running_chat_that_never_heartbeated_is_stale_from_its_start(env: Env) -> None:
    threshold = minutes(30)
    stale = env.chat(status="running", heartbeat_at=None, started_at=minutes(10))
    env.chat(status="running", heartbeat_at=None, started_at=minutes(40))
    got = env.q.get_stale_chats(stale_threshold=threshold)
    assert [c.id for c in got] == [stale.id]


# ---- chat_leases: a lease exists exactly while its chat runs ---------------------------------


def test_a_lease_follows_its_chat_through_every_way_in_and_out_of_running(env: Env) -> None:
    worker, other = uuid4(), uuid4()
    acquired = env.chat(status="pending", updated_at=minutes(0))
    archived = env.chat(status="running", worker_id=worker, heartbeat_at=minutes(1))
    finished = env.chat(status="running", worker_id=worker, heartbeat_at=minutes(2))
    taken = env.chat(status="running", worker_id=worker, heartbeat_at=minutes(3))
    deleted = env.chat(status="running", worker_id=worker, heartbeat_at=minutes(4))
    env.chat(status="paused", worker_id=worker, heartbeat_at=minutes(5))
    assert env.leases() == {
        archived.id: (worker, minutes(1)),
        finished.id: (worker, minutes(2)),
        taken.id: (worker, minutes(3)),
        deleted.id: (worker, minutes(4)),
    }

    [got] = env.q.acquire_chats(worker_id=worker, started_at=NOW, num_chats=1)
    assert got.id == acquired.id
    env.q.archive_chat_by_id(id=archived.id)
    env.q.update_chat_status(
        id=finished.id,
        status=ChatStatus.COMPLETED,
        worker_id=None,
        started_at=None,
        heartbeat_at=None,
        last_error=None,
    )
    env.q.update_chat_status(
        id=taken.id,
        status=ChatStatus.RUNNING,
        worker_id=other,
        started_at=NOW,
        heartbeat_at=NOW,
        last_error=None,
    )
    env.f.conn.execute("DELETE FROM chats WHERE id = %s", (deleted.id,))

    assert env.leases() == {acquired.id: (worker, NOW), taken.id: (other, NOW)}
    assert {r.id for r in env.q.update_chat_heartbeats(worker_id=worker, now=NOW)} == {acquired.id}
