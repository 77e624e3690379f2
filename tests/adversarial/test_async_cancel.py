"""A cancelled or timed-out AsyncChats call rolls back: the caller's answer matches the rows.

Cancellation is real: ``asyncio.wait_for`` / ``asyncio.timeout`` cancel the awaiting task
while the workflow's thread waits on a row lock or is somewhere in its statements.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import psycopg
import pytest

from chatdb import db
from chatdb.authz import CHAT_ACCESS, Subject
from chatdb.db import Querier
from chatdb.ops import AsyncChats, Chats
from chatdb.store import Store
from chatdb.testing.factories import Factories

pytestmark = pytest.mark.timeout(120)


def setup(conn: psycopg.Connection[Any]) -> tuple[db.Organization, Subject]:
    f = Factories(conn)
    org = f.organization()
    f.chat_model_config(is_default=True)
    user = f.user(organization_id=org.id, username="alice", rbac_roles=[CHAT_ACCESS])
    return org, Subject(id=user.id, name="alice", site_roles=(CHAT_ACCESS,), memberships={org.id})


def message_digest(conn: psycopg.Connection[Any]) -> tuple[int, str]:
    row = conn.execute(
        "SELECT count(*), md5(coalesce(string_agg(m::text, '|' ORDER BY m.id), ''))"
        " FROM chat_messages m"
    ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def wait_until_idle(conn: psycopg.Connection[Any], timeout: float = 10.0) -> None:
    """Until no other session of this database is inside a transaction or a statement."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND state IS DISTINCT FROM 'idle'"
        ).fetchone()
        if row is not None and row[0] == 0:
            return
        time.sleep(0.01)
    raise AssertionError("sessions still busy")


async def test_a_call_timed_out_while_waiting_for_a_lock_writes_nothing(
    chatdb_dsn: str, chatdb_conn: psycopg.Connection[Any]
) -> None:
    org, alice = setup(chatdb_conn)
    with Store(chatdb_dsn, querier_factory=Querier, min_size=1, max_size=4) as store:
        achats = AsyncChats(Chats(store))
        chat = (await achats.create_chat(organization_id=org.id, actor=alice)).chat
        before = message_digest(chatdb_conn)
        for _ in range(3):
            with psycopg.connect(chatdb_dsn) as blocker:
                blocker.execute("SELECT 1 FROM chats WHERE id = %s FOR UPDATE", (chat.id,))
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(achats.send_message(chat.id, "hi", actor=alice), 0.3)
                blocker.rollback()  # the lock goes: a call still running would now commit
            await asyncio.to_thread(wait_until_idle, chatdb_conn)
            assert message_digest(chatdb_conn) == before
        # The store is intact: the next call goes through.
        sent = await achats.send_message(chat.id, "now", actor=alice)
        assert message_digest(chatdb_conn)[0] == before[0] + 1
        assert sent.message is not None


async def test_whatever_the_moment_of_cancellation_the_answer_matches_the_rows(
    chatdb_dsn: str, chatdb_conn: psycopg.Connection[Any]
) -> None:
    org, alice = setup(chatdb_conn)
    rng = random.Random(8012)
    outcomes: dict[str, bool] = {}
    with Store(chatdb_dsn, querier_factory=Querier, min_size=1, max_size=4) as store:
        achats = AsyncChats(Chats(store))
        await achats.create_chat(organization_id=org.id, actor=alice, title="warm-up")
        for i in range(40):
            title = f"attempt-{i}"
            try:
                async with asyncio.timeout(rng.uniform(0.0, 0.03)):
                    await achats.create_chat(organization_id=org.id, actor=alice, title=title)
                outcomes[title] = True
            except TimeoutError:
                outcomes[title] = False
    await asyncio.to_thread(wait_until_idle, chatdb_conn)
    stored = {
        row[0]
        for row in chatdb_conn.execute("SELECT title FROM chats WHERE title LIKE 'attempt-%'")
    }
    assert stored == {title for title, done in outcomes.items() if done}
    # Both outcomes happened, or the test proved nothing.
    assert set(outcomes.values()) == {True, False}
