"""Authorized subscriptions and bounded queues."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import psycopg
import pytest

from chatdb.authz import ORGANIZATION_ADMIN, Subject, as_actor
from chatdb.errors import NotAuthorized, NotFound
from chatdb.events import ChatEvents, Dropped, Event, Kind, Listener, publish
from chatdb.ops import Chats
from tests.events.conftest import events_of, read_until

pytestmark = pytest.mark.timeout(60)


def org_of(subject: Subject) -> Any:
    return next(iter(subject.memberships))


def test_a_member_never_receives_another_users_chat_events(
    hub: ChatEvents, chats: Chats, alice: Subject, bob: Subject, model: Any, marker: Any
) -> None:
    with as_actor(alice):
        mine = chats.create_chat(organization_id=org_of(alice), title="alice's").chat
    with as_actor(bob):
        theirs = chats.create_chat(organization_id=org_of(bob), title="bob's").chat
    with pytest.raises(NotAuthorized):
        hub.subscribe_chat(theirs.id, actor=alice)
    assert hub.listener.subscriptions == 0  # the refused subscription was removed
    everything = hub.subscribe_chat_list(actor=alice)
    bobs_list = hub.subscribe_chat_list(owner_id=bob.id, actor=alice)
    own = hub.subscribe_chat(mine.id, actor=alice)
    for _ in range(3):
        with as_actor(bob):
            chats.send_message(theirs.id, "secret")
            chats.update_chat(theirs.id, title="secret")
            chats.archive(theirs.id)
            chats.unarchive(theirs.id)
        with as_actor(alice):
            chats.send_message(mine.id, "hello")
    for sub in (everything, own):
        got = events_of(read_until(sub, marker(mine)))
        assert got and {e.chat_id for e in got} == {mine.id}
    # Bob's list shows alice nothing at all, not even the marker about her own chat.
    done = marker(theirs)
    assert bobs_list.get(1.0) is None
    assert done.chat_id == theirs.id


def test_an_event_is_checked_again_on_delivery_against_the_organization_it_carries(
    hub: ChatEvents,
    chats: Chats,
    alice: Subject,
    f: Any,
    org: Any,
    model: Any,
    conn: Any,
    marker: Any,
) -> None:
    """An organization admin follows alice's chat; an event placing it elsewhere never reaches it.

    A chat cannot really move: the database refuses to change its owner or organization
    (migration ``immutable_identity``), so the event below is the only way to see the
    delivery-time check act.
    """
    lead = f.user(organization_id=org.id, username="lead")
    admin_of_org = Subject(id=lead.id, name="lead", org_roles={org.id: [ORGANIZATION_ADMIN]})
    elsewhere = f.organization()
    with as_actor(alice):
        chat = chats.create_chat(organization_id=org.id, title="shared").chat
    sub = hub.subscribe_chat(chat.id, actor=admin_of_org)
    listed = hub.subscribe_chat_list(owner_id=alice.id, actor=admin_of_org)
    with as_actor(alice):
        chats.send_message(chat.id, "visible")
    seen = marker(chat)
    assert events_of(read_until(sub, seen))
    assert events_of(read_until(listed, seen))
    with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
        conn.execute("UPDATE chats SET organization_id = %s WHERE id = %s", [elsewhere.id, chat.id])
    with conn.transaction():
        publish(
            conn, [Event(Kind.CHAT_UPDATED, chat.id, alice.id, elsewhere.id, chat.root_chat_id)]
        )
    # A barrier the admin may see: a marker about a chat still in the admin's organization.
    with as_actor(alice):
        stay = chats.create_chat(organization_id=org.id, title="stays").chat
    got_list = events_of(read_until(listed, marker(stay)))
    assert all(e.organization_id != elsewhere.id for e in got_list)
    assert sub.get(0.5) is None or pytest.fail("an event of another organization reached the admin")


def test_subscribing_to_an_unknown_chat_is_not_found(hub: ChatEvents, alice: Subject) -> None:
    import uuid

    with pytest.raises(NotFound):
        hub.subscribe_chat(uuid.uuid4(), actor=alice)
    with pytest.raises(NotAuthorized):  # no actor at all
        hub.subscribe_chat(uuid.uuid4())
    assert hub.listener.subscriptions == 0


def test_a_stalled_subscriber_is_told_it_dropped_events_while_others_keep_receiving(
    listener: Listener, chats: Chats, alice: Subject, model: Any, marker: Any
) -> None:
    with as_actor(alice):
        chat = chats.create_chat(organization_id=org_of(alice), title="busy").chat
    stalled = listener.subscribe(chat_id=chat.id, maxsize=5)
    readers = [listener.subscribe(chat_id=chat.id) for _ in range(3)]
    setup_done = marker(chat)
    for r in (stalled, *readers):
        read_until(r, setup_done)
    sent = [marker(chat) for _ in range(40)]
    end = marker(chat)
    for r in readers:  # everyone else got everything, in order, without waiting for it
        assert read_until(r, end) == sent
    assert stalled.pending() == 5
    got = [stalled.get(1) for _ in range(6)]
    assert got[:5] == sent[:5]
    assert got[5] == Dropped("dropped", 36)
    after = marker(chat)  # and then it receives again
    assert stalled.get(10) == after


async def test_async_subscribers_receive_from_the_same_listener(
    listener: Listener, chats: Chats, alice: Subject, model: Any, marker: Any
) -> None:
    with as_actor(alice):
        chat = chats.create_chat(organization_id=org_of(alice), title="async").chat
    subs = [listener.subscribe(chat_id=chat.id) for _ in range(5)]
    stop = threading.Event()

    async def consume(sub: Any, until: Event) -> list[Any]:
        got = []
        async for item in sub:
            if item == until:
                return got
            got.append(item)
        return got

    sent = await asyncio.to_thread(lambda: [marker(chat) for _ in range(10)])
    end = await asyncio.to_thread(marker, chat)
    results = await asyncio.wait_for(asyncio.gather(*(consume(s, end) for s in subs)), timeout=20)
    for got in results:
        assert [e for e in got if e.data.get("marker") is not None][-10:] == sent
    assert await subs[0].aget(0.05) is None
    stop.set()


async def test_async_reads_that_time_out_leave_nothing_behind(listener: Listener) -> None:
    """A waiter polling an idle subscription for hours must not grow its memory."""
    sub = listener.subscribe(chat_id=uuid.uuid4())
    for _ in range(200):
        assert await sub.aget(0.001) is None
    assert sub._waiters == []
    task = asyncio.create_task(sub.aget(30))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sub._waiters == []


def test_one_shared_listener_per_process_and_dsn(chatdb_dsn: str) -> None:
    from chatdb.events import shared_listener

    first = shared_listener(chatdb_dsn)
    try:
        assert shared_listener(chatdb_dsn) is first
        assert first.wait_connected(10)
    finally:
        first.close()
    again = shared_listener(chatdb_dsn)
    try:
        assert again is not first  # a closed listener is replaced
    finally:
        again.close()
