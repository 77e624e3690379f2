"""Pins under real concurrency (issue 8, item 8): unique and dense, no CheckViolation, no deadlock.

Each test races 16 real threads, each on its own pooled connection, released together by a
barrier, and repeats the race many times; the invariant is checked after every round. The
store never retries (``max_retries=0``): a deadlock or serialization failure would surface
as an error instead of being papered over by a retry.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import psycopg
import pytest

from chatdb import db
from chatdb.authz import CHAT_ACCESS, Subject
from chatdb.db import Querier
from chatdb.errors import ChatArchived, Conflict
from chatdb.ops import Chats
from chatdb.store import Store
from chatdb.testing.factories import Factories
from tests.adversarial.races_support import race

pytestmark = pytest.mark.timeout(120)

THREADS = 16


@pytest.fixture
def chats(chatdb_dsn: str) -> Iterator[Chats]:
    with Store(
        chatdb_dsn, querier_factory=Querier, min_size=THREADS, max_size=THREADS, max_retries=0
    ) as store:
        yield Chats(store)


@pytest.fixture
def alice(chatdb_factories: Factories) -> tuple[Subject, db.Organization]:
    org = chatdb_factories.organization()
    user = chatdb_factories.user(organization_id=org.id, rbac_roles=[CHAT_ACCESS])
    return Subject(id=user.id, name="alice", site_roles=(CHAT_ACCESS,), memberships={org.id}), org


def _alice_chats(f: Factories, alice: tuple[Subject, db.Organization], n: int) -> list[UUID]:
    subject, org = alice
    model = f.chat_model_config()
    return [
        f.chat(owner_id=subject.id, organization_id=org.id, last_model_config_id=model.id).id
        for _ in range(n)
    ]


def _pins(conn: psycopg.Connection[Any], owner: UUID) -> dict[UUID, int]:
    rows = conn.execute(
        "SELECT id, pin_order FROM chats WHERE owner_id = %s AND pin_order > 0", (owner,)
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def _assert_unique_and_dense(conn: psycopg.Connection[Any], owner: UUID, round_: int) -> None:
    orders = sorted(_pins(conn, owner).values())
    assert orders == list(range(1, len(orders) + 1)), f"round {round_}: pin orders {orders}"
    archived_pinned = conn.execute(
        "SELECT count(*) FROM chats WHERE owner_id = %s AND archived AND pin_order > 0", (owner,)
    ).fetchone()
    assert archived_pinned == (0,), f"round {round_}: an archived chat is pinned"


def test_concurrent_pins_get_distinct_dense_positions(
    chats: Chats,
    chatdb_factories: Factories,
    chatdb_conn: psycopg.Connection[Any],
    alice: tuple[Subject, db.Organization],
) -> None:
    subject = alice[0]
    ids = _alice_chats(chatdb_factories, alice, THREADS)
    for round_ in range(25):
        chatdb_conn.execute("UPDATE chats SET pin_order = 0 WHERE owner_id = %s", (subject.id,))
        results = race([lambda c=c: chats.pin(c, actor=subject) for c in ids])
        errors = [r for r in results if isinstance(r, Exception)]
        assert not errors, f"round {round_}: {errors[:3]}"
        assert sorted(_pins(chatdb_conn, subject.id).values()) == list(range(1, THREADS + 1)), (
            f"round {round_}: {sorted(_pins(chatdb_conn, subject.id).values())}"
        )
        returned = sorted(r.pin_order for r in results if isinstance(r, db.Chat))
        assert returned == list(range(1, THREADS + 1)), f"round {round_}: returned {returned}"


def test_pin_unpin_reorder_archive_race_keeps_pins_unique_and_dense(
    chats: Chats,
    chatdb_factories: Factories,
    chatdb_conn: psycopg.Connection[Any],
    alice: tuple[Subject, db.Organization],
) -> None:
    """Every pin-changing workflow at once on one owner's chats; only typed refusals."""
    subject = alice[0]
    ids = _alice_chats(chatdb_factories, alice, 12)
    rng = random.Random(8)
    ops: list[Callable[[UUID], Callable[[], object]]] = [
        lambda c: lambda: chats.pin(c, actor=subject),
        lambda c: lambda: chats.unpin(c, actor=subject),
        lambda c: lambda: chats.reorder_pin(c, rng.randint(1, 8), actor=subject),
        lambda c: lambda: chats.archive(c, actor=subject),
    ]
    for round_ in range(30):
        # Start every round from six pinned chats (1..6) and nothing archived.
        chatdb_conn.execute(
            "UPDATE chats SET archived = false, pin_order = 0 WHERE owner_id = %s", (subject.id,)
        )
        for position, chat_id in enumerate(ids[:6], start=1):
            chatdb_conn.execute(
                "UPDATE chats SET pin_order = %s WHERE id = %s", (position, chat_id)
            )
        calls = [rng.choice(ops)(rng.choice(ids)) for _ in range(THREADS)]
        results = race(calls)
        unexpected = [
            r
            for r in results
            if isinstance(r, Exception) and not isinstance(r, ChatArchived | Conflict)
        ]
        assert not unexpected, f"round {round_}: {unexpected[:3]}"
        _assert_unique_and_dense(chatdb_conn, subject.id, round_)


def test_archive_racing_pins_never_violates_a_check(
    chats: Chats,
    chatdb_factories: Factories,
    chatdb_conn: psycopg.Connection[Any],
    alice: tuple[Subject, db.Organization],
) -> None:
    """Archiving pinned chats while others are pinned: no CheckViolation, pins stay dense."""
    subject = alice[0]
    ids = _alice_chats(chatdb_factories, alice, THREADS)
    pinned, fresh = ids[:8], ids[8:]
    for round_ in range(25):
        chatdb_conn.execute(
            "UPDATE chats SET archived = false, pin_order = 0 WHERE owner_id = %s", (subject.id,)
        )
        for position, chat_id in enumerate(pinned, start=1):
            chatdb_conn.execute(
                "UPDATE chats SET pin_order = %s WHERE id = %s", (position, chat_id)
            )
        calls = [lambda c=c: chats.archive(c, actor=subject) for c in pinned]
        calls += [lambda c=c: chats.pin(c, actor=subject) for c in fresh]
        results = race(calls)
        errors = [r for r in results if isinstance(r, Exception)]
        assert not errors, f"round {round_}: {errors[:3]}"
        assert sorted(_pins(chatdb_conn, subject.id)) == sorted(fresh), f"round {round_}"
        _assert_unique_and_dense(chatdb_conn, subject.id, round_)
