"""chat.deleted: the retention purge publishes one event per chat it deletes, on commit only,
delivered to exactly the actors who could read the chat (decided from the owner and
organization the event carries: the row is gone by then)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest

from chatdb import db
from chatdb.authz import CHAT_ACCESS, DBPURGE, ORGANIZATION_ADMIN, Subject, as_actor
from chatdb.db import Querier
from chatdb.errors import InvalidInput, NotAuthorized, NotFound
from chatdb.events import ChatEvents, Event, Kind, Listener
from chatdb.events.model import ChatRef
from chatdb.ops import AsyncChats, Chats
from chatdb.store import Store
from chatdb.testing.factories import Factories
from tests.events.conftest import events_of, read_until
from tests.ops.conftest import person

pytestmark = pytest.mark.timeout(60)

# Every chat archived before now is older than this cutoff.
LATER = datetime.now(UTC) + timedelta(days=1)


def archived_family(chats: Chats, owner: Subject, org_id: UUID) -> list[UUID]:
    """A root, two children and a grandchild, archived together; their ids, root first."""
    with as_actor(owner):
        root = chats.create_chat(organization_id=org_id, title="root").chat
        child = chats.create_chat(parent_chat_id=root.id, title="child").chat
        grandchild = chats.create_chat(parent_chat_id=child.id, title="grandchild").chat
        second = chats.create_chat(parent_chat_id=root.id, title="child 2").chat
        chats.archive(root.id)
    return [root.id, child.id, grandchild.id, second.id]


def archived_chat(chats: Chats, owner: Subject, org_id: UUID, title: str) -> db.Chat:
    with as_actor(owner):
        chat = chats.create_chat(organization_id=org_id, title=title).chat
        chats.archive(chat.id)
    return chat


def chat_rows(conn: psycopg.Connection[Any]) -> set[tuple[Any, ...]]:
    return {
        tuple(r)
        for r in conn.execute("SELECT id, owner_id, organization_id, root_chat_id FROM chats")
    }


def deleted(items: list[Any]) -> list[Event]:
    return [e for e in events_of(items) if e.kind is Kind.CHAT_DELETED]


def test_deletions_arrive_after_commit_and_never_after_rollback(
    listener: Listener,
    store: Store[Querier],
    chats: Chats,
    alice: Subject,
    org: db.Organization,
    model: db.ChatModelConfig,
    conn: psycopg.Connection[Any],
    marker: Any,
) -> None:
    chat = archived_chat(chats, alice, org.id, "old")
    sub = listener.subscribe()
    read_until(sub, marker(chat))
    rows = chat_rows(conn)
    for _ in range(3):
        with store.transaction():
            assert [r.id for r in chats.purge_chats(LATER, actor=DBPURGE)] == [chat.id]
            raise psycopg.Rollback()
        assert read_until(sub, marker(chat)) == []
    assert chat_rows(conn) == rows  # the rolled-back purges deleted nothing
    with store.transaction():
        chats.purge_chats(LATER, actor=DBPURGE)
        # Committed by another connection while the purge's transaction is open: a deletion
        # sent at once would arrive before it.
        assert read_until(sub, marker(chat)) == []
    got = read_until(sub, marker(chat))
    assert [(e.kind, e.chat_id, e.owner_id, e.organization_id) for e in events_of(got)] == [
        (Kind.CHAT_DELETED, chat.id, alice.id, org.id)
    ]
    assert chat_rows(conn) == set()


def test_a_family_purge_yields_one_event_per_chat_even_in_a_batch_of_one(
    listener: Listener,
    chats: Chats,
    alice: Subject,
    org: db.Organization,
    model: db.ChatModelConfig,
    conn: psycopg.Connection[Any],
    marker: Any,
) -> None:
    family = archived_family(chats, alice, org.id)
    other = archived_chat(chats, alice, org.id, "other")
    # Where each chat belonged, read before the purge (not from the purge's answer).
    expected = {r for r in chat_rows(conn) if r[0] in family}
    assert len(expected) == 4
    sub = listener.subscribe()
    read_until(sub, marker(other))
    purged = chats.purge_chats(LATER, actor=DBPURGE, limit=1)  # one subtree: the oldest
    assert {r.id for r in purged} == set(family)
    got = deleted(read_until(sub, marker(other)))
    assert len(got) == 4
    assert {(e.chat_id, e.owner_id, e.organization_id, e.root_chat_id) for e in got} == expected
    assert all(e.family_id == family[0] for e in got)
    assert [r[0] for r in chat_rows(conn)] == [other.id]
    # The next batch takes the other chat; then there is nothing left to announce.
    assert [r.id for r in chats.purge_chats(LATER, actor=DBPURGE, limit=1)] == [other.id]
    assert chats.purge_chats(LATER, actor=DBPURGE, limit=1) == []
    assert [e.chat_id for e in deleted(read_until(sub, marker(other)))] == [other.id]


def test_a_member_never_receives_another_users_deletion(
    hub: ChatEvents,
    chats: Chats,
    alice: Subject,
    bob: Subject,
    org: db.Organization,
    model: db.ChatModelConfig,
    marker: Any,
) -> None:
    mine = archived_chat(chats, alice, org.id, "alice's")
    theirs = archived_family(chats, bob, org.id)
    everything = hub.subscribe_chat_list(actor=alice)
    bobs_list = hub.subscribe_chat_list(owner_id=bob.id, actor=alice)
    own = hub.subscribe_chat(mine.id, actor=alice)
    settled = marker(mine)  # the archives' events may still be on their way
    for sub in (everything, own):
        read_until(sub, settled)
    purged = chats.purge_chats(LATER, actor=DBPURGE)
    assert {r.id for r in purged} == {mine.id, *theirs}
    stop = marker(mine)
    for sub in (everything, own):
        got = events_of(read_until(sub, stop))
        assert [(e.kind, e.chat_id) for e in got] == [(Kind.CHAT_DELETED, mine.id)]
    # Bob's list shows alice nothing at all, not even a marker about his (gone) root chat.
    done = marker(ChatRef(theirs[0], bob.id, org.id, None))
    assert bobs_list.get(1.0) is None
    assert done.chat_id == theirs[0]


def test_an_org_admin_receives_the_deletions_of_its_organization_only(
    hub: ChatEvents,
    chats: Chats,
    f: Factories,
    alice: Subject,
    org: db.Organization,
    model: db.ChatModelConfig,
    marker: Any,
) -> None:
    lead = f.user(organization_id=org.id, username="lead")
    admin = Subject(id=lead.id, name="lead", org_roles={org.id: [ORGANIZATION_ADMIN]})
    elsewhere = f.organization()
    carol = person(f, elsewhere, "carol", CHAT_ACCESS)
    family = archived_family(chats, alice, org.id)
    outside = archived_chat(chats, carol, elsewhere.id, "carol's")
    sub = hub.subscribe_chat_list(actor=admin)
    carols_view = hub.subscribe_chat_list(actor=carol)
    read_until(sub, marker(ChatRef(family[0], alice.id, org.id, None)))
    read_until(carols_view, marker(outside))
    purged = chats.purge_chats(LATER, actor=DBPURGE)
    assert {r.id for r in purged} == {*family, outside.id}
    got = events_of(read_until(sub, marker(ChatRef(family[0], alice.id, org.id, None))))
    assert sorted((e.kind, e.chat_id) for e in got) == sorted(
        (Kind.CHAT_DELETED, i) for i in family
    )
    mine = events_of(read_until(carols_view, marker(outside)))
    assert [(e.kind, e.chat_id) for e in mine] == [(Kind.CHAT_DELETED, outside.id)]


def test_the_retention_period_sets_the_cutoff_and_zero_keeps_everything(
    listener: Listener,
    chats: Chats,
    alice: Subject,
    org: db.Organization,
    model: db.ChatModelConfig,
    conn: psycopg.Connection[Any],
    marker: Any,
) -> None:
    old = archived_chat(chats, alice, org.id, "old")
    recent = archived_chat(chats, alice, org.id, "recent")
    conn.execute("UPDATE chats SET updated_at = now() - interval '40 days' WHERE id = %s", [old.id])
    sub = listener.subscribe()
    read_until(sub, marker(recent))
    Querier(conn).upsert_chat_retention_days(retention_days=0)
    assert chats.purge_expired_chats(actor=DBPURGE) == []
    Querier(conn).upsert_chat_retention_days(retention_days=30)
    assert [r.id for r in chats.purge_expired_chats(actor=DBPURGE)] == [old.id]
    got = events_of(read_until(sub, marker(recent)))
    assert [(e.kind, e.chat_id) for e in got] == [(Kind.CHAT_DELETED, old.id)]
    assert [r[0] for r in chat_rows(conn)] == [recent.id]


def test_the_purge_is_a_background_job_with_an_explicit_actor_that_may_delete(
    chats: Chats,
    alice: Subject,
    org: db.Organization,
    model: db.ChatModelConfig,
    conn: psycopg.Connection[Any],
) -> None:
    archived_chat(chats, alice, org.id, "old")
    rows = chat_rows(conn)
    with as_actor(DBPURGE), pytest.raises(NotAuthorized):
        chats.purge_chats(LATER, actor=None)  # type: ignore[arg-type]
    with pytest.raises(NotAuthorized):
        chats.purge_chats(LATER, actor=alice)  # a chat user may not delete
    for bad in (0, -1, 10_001, "5"):
        with pytest.raises(InvalidInput):
            chats.purge_chats(LATER, actor=DBPURGE, limit=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        chats.purge_chats(datetime(2030, 1, 1), actor=DBPURGE)  # naive
    assert chat_rows(conn) == rows


async def test_the_async_purge_publishes_the_same(
    listener: Listener,
    chats: Chats,
    alice: Subject,
    org: db.Organization,
    model: db.ChatModelConfig,
    marker: Any,
) -> None:
    chat = archived_chat(chats, alice, org.id, "old")
    sub = listener.subscribe(chat_id=chat.id)
    read_until(sub, marker(chat))  # the archive's event may still be on its way
    purged = await AsyncChats(chats).purge_chats(LATER, actor=DBPURGE)
    assert [r.id for r in purged] == [chat.id]
    got = events_of(read_until(sub, marker(chat)))
    assert [(e.kind, e.chat_id) for e in got] == [(Kind.CHAT_DELETED, chat.id)]


def test_waiting_for_a_chat_that_is_purged_raises_not_found_at_once(
    hub: ChatEvents,
    chats: Chats,
    alice: Subject,
    org: db.Organization,
    model: db.ChatModelConfig,
) -> None:
    """The hub polls every 120 s here: only the deletion event can end the wait early."""
    chat = archived_chat(chats, alice, org.id, "sub-agent")
    outcome: list[object] = []

    def wait() -> None:
        try:
            outcome.append(hub.wait_for_chat(chat.id, {"completed"}, timeout=30, actor=alice))
        except NotFound as exc:
            outcome.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    deadline = time.monotonic() + 10
    while hub.listener.subscriptions == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # let the waiter read the chat once before it goes
    chats.purge_chats(LATER, actor=DBPURGE)
    waiter.join(20)  # well before the wait's own 30 s timeout
    assert not waiter.is_alive(), "the wait did not end on the deletion"
    assert len(outcome) == 1 and isinstance(outcome[0], NotFound)


def _purger(
    chats: Chats, start: threading.Barrier, purged: list[UUID], errors: list[BaseException]
) -> None:
    try:
        start.wait(10)
        for _ in range(20):  # 10 subtrees in all: far more turns than needed
            rows = chats.purge_chats(LATER, actor=DBPURGE, limit=1)
            purged.extend(r.id for r in rows)  # list.extend is atomic under the GIL
    except BaseException as exc:
        errors.append(exc)


def test_concurrent_purgers_announce_each_chat_exactly_once(
    listener: Listener,
    chats: Chats,
    f: Factories,
    alice: Subject,
    org: db.Organization,
    model: db.ChatModelConfig,
    conn: psycopg.Connection[Any],
    marker: Any,
) -> None:
    """Purgers skip the subtrees another one holds: across them every chat is deleted, and
    announced, once. 4 threads, 3 rounds of 10 archived families of 3."""
    anchor = ChatRef(alice.id, alice.id, org.id, None)
    for _ in range(3):
        expected: set[UUID] = set()
        for _ in range(10):
            root = f.chat(owner_id=alice.id, organization_id=org.id, archived=True)
            child = f.chat(
                owner_id=alice.id,
                organization_id=org.id,
                archived=True,
                parent_chat_id=root.id,
                root_chat_id=root.id,
            )
            leaf = f.chat(
                owner_id=alice.id,
                organization_id=org.id,
                archived=True,
                parent_chat_id=child.id,
                root_chat_id=root.id,
            )
            expected |= {root.id, child.id, leaf.id}
        sub = listener.subscribe()
        read_until(sub, marker(anchor))
        purged: list[UUID] = []
        errors: list[BaseException] = []
        start = threading.Barrier(4)
        threads = [
            threading.Thread(target=_purger, args=(chats, start, purged, errors)) for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(40)
        assert not errors and not any(t.is_alive() for t in threads)
        assert sorted(purged) == sorted(expected)  # each chat deleted by exactly one purger
        got = deleted(read_until(sub, marker(anchor)))
        assert sorted(e.chat_id for e in got) == sorted(expected)
        assert chat_rows(conn) == set()
        sub.close()
