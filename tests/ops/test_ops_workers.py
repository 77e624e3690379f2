"""Workers (SPEC 5): acquire, heartbeat and recover stale chats, always as an explicit actor."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from chatdb import db
from chatdb.authz import CHATD, Subject
from chatdb.db import ChatStatus, Querier
from chatdb.errors import InvalidInput, NotAuthorized
from chatdb.ops import TOOL_RESULTS_TIMEOUT_ERROR, Chats
from chatdb.testing.factories import Factories

OLD = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
NOW = OLD + timedelta(hours=1)
THRESHOLD = NOW - timedelta(minutes=5)


@pytest.fixture
def make_chat(f: Factories, org: db.Organization, alice: Subject, model: db.ChatModelConfig) -> Any:
    def make(**kw: Any) -> db.Chat:
        values = {"owner_id": alice.id, "organization_id": org.id, "last_model_config_id": model.id}
        return f.chat(**{**values, **kw})

    return make


def test_acquiring_claims_pending_chats_for_the_worker(
    chats: Chats, q: Querier, make_chat: Any
) -> None:
    worker = uuid4()
    older = make_chat(status="pending", updated_at=OLD)
    make_chat(status="pending", updated_at=OLD + timedelta(minutes=1))
    make_chat(status="pending", updated_at=OLD, archived=True)

    got = chats.acquire_chats(worker, actor=CHATD, num_chats=1, now=NOW)

    assert [c.id for c in got] == [older.id]
    after = q.get_chat_by_id(id=older.id)
    assert (after.status, after.worker_id, after.heartbeat_at) == (ChatStatus.RUNNING, worker, NOW)


def test_worker_operations_refuse_a_person(chats: Chats, make_chat: Any, alice: Subject) -> None:
    chat = make_chat(status="pending")
    with pytest.raises(NotAuthorized):
        chats.acquire_chats(uuid4(), actor=alice, now=NOW)
    with pytest.raises(NotAuthorized):
        chats.heartbeat(uuid4(), actor=alice, now=NOW)
    with pytest.raises(NotAuthorized):
        chats.recover_stale_chats(THRESHOLD, actor=alice)
    assert chats.acquire_chats(uuid4(), actor=CHATD, now=NOW)[0].id == chat.id


def test_worker_operations_have_no_default_actor(chats: Chats) -> None:
    with pytest.raises(TypeError):
        chats.acquire_chats(uuid4())  # type: ignore[call-arg]


@pytest.mark.parametrize("bad", [0, -1, 10_000, True])
def test_a_bad_batch_size_is_refused(chats: Chats, bad: Any) -> None:
    with pytest.raises(InvalidInput):
        chats.acquire_chats(uuid4(), actor=CHATD, num_chats=bad)


def test_a_naive_timestamp_is_refused(chats: Chats) -> None:
    with pytest.raises(InvalidInput):
        chats.acquire_chats(uuid4(), actor=CHATD, now=datetime(2024, 1, 1))


def test_heartbeat_returns_the_chats_still_running_under_the_worker(
    chats: Chats, q: Querier, make_chat: Any, conn: psycopg.Connection[Any]
) -> None:
    worker = uuid4()
    a = make_chat(status="pending")
    b = make_chat(status="pending")
    chats.acquire_chats(worker, actor=CHATD, num_chats=2, now=OLD)
    conn.execute("UPDATE chats SET status = 'completed', worker_id = NULL WHERE id = %s", (b.id,))

    assert chats.heartbeat(worker, actor=CHATD, now=NOW) == {a.id}
    assert q.get_chat_lease_for_update(chat_id=a.id).heartbeat_at == NOW
    assert q.get_chat_by_id(id=a.id).heartbeat_at == OLD  # the wide chat row is not rewritten


def test_recovery_requeues_running_chats_whose_worker_went_silent(
    chats: Chats, q: Querier, make_chat: Any
) -> None:
    silent = make_chat(
        status="running", worker_id=uuid4(), started_at=OLD, heartbeat_at=OLD, updated_at=OLD
    )
    alive = make_chat(
        status="running", worker_id=uuid4(), started_at=OLD, heartbeat_at=NOW, updated_at=OLD
    )

    recovered = chats.recover_stale_chats(THRESHOLD, actor=CHATD)

    assert [(r.chat.id, r.previous_status) for r in recovered] == [(silent.id, ChatStatus.RUNNING)]
    after = q.get_chat_by_id(id=silent.id)
    assert after.status is ChatStatus.PENDING
    assert (after.worker_id, after.started_at, after.heartbeat_at) == (None, None, None)
    assert after.updated_at == OLD  # keeps its place at the front of the acquisition order
    assert q.get_chat_by_id(id=alive.id).status is ChatStatus.RUNNING
    assert chats.acquire_chats(uuid4(), actor=CHATD, now=NOW)[0].id == silent.id


def test_recovery_fails_chats_whose_client_never_sent_tool_results(
    chats: Chats, q: Querier, make_chat: Any
) -> None:
    abandoned = make_chat(status="requires_action", updated_at=OLD)
    fresh = make_chat(status="requires_action", updated_at=NOW)
    idle = make_chat(status="completed", updated_at=OLD)

    recovered = chats.recover_stale_chats(THRESHOLD, actor=CHATD)

    assert [r.chat.id for r in recovered] == [abandoned.id]
    after = q.get_chat_by_id(id=abandoned.id)
    assert after.status is ChatStatus.ERROR
    assert after.last_error == TOOL_RESULTS_TIMEOUT_ERROR
    assert after.updated_at > OLD
    assert q.get_chat_by_id(id=fresh.id).status is ChatStatus.REQUIRES_ACTION
    assert q.get_chat_by_id(id=idle.id).status is ChatStatus.COMPLETED


def test_a_heartbeat_in_flight_wins_over_recovery_of_its_chat(
    chats: Chats,
    q: Querier,
    make_chat: Any,
    chatdb_dsn: str,
    wait_for_lock_waiters: Callable[[int], None],
    in_thread: Callable[[Callable[[], object]], tuple[Any, list[object]]],
) -> None:
    """Recovery locks the chat's lease before judging it stale.

    A heartbeat updates only the lease, never the chat row, so locking the chat alone would let
    recovery read the old heartbeat under an uncommitted one, requeue the chat, and leave the
    worker believing (from the heartbeat's answer) that it still runs it.
    """
    for _ in range(5):
        worker = uuid4()
        chat = make_chat(
            status="running", worker_id=worker, started_at=OLD, heartbeat_at=OLD, updated_at=OLD
        )
        with psycopg.connect(chatdb_dsn, autocommit=True) as beating:
            with beating.transaction():
                beat = Querier(beating).update_chat_heartbeats(worker_id=worker, now=NOW)
                thread, out = in_thread(lambda: chats.recover_stale_chats(THRESHOLD, actor=CHATD))
                wait_for_lock_waiters(1)
            thread.join(10)
        assert not thread.is_alive()
        assert [r.id for r in beat] == [chat.id]
        assert out == [[]]
        after = q.get_chat_by_id(id=chat.id)
        assert (after.status, after.worker_id) == (ChatStatus.RUNNING, worker)
        assert q.get_chat_lease_for_update(chat_id=chat.id).heartbeat_at == NOW
