"""The sub-agent await and the blocking worker acquisition, driven by events."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from chatdb.authz import CHATD, Subject, as_actor
from chatdb.db import Querier
from chatdb.errors import InvalidInput, NotAuthorized
from chatdb.events import ChatEvents, Listener
from chatdb.ops import Chats
from chatdb.store import Store
from tests.ops.conftest import run_in_thread

pytestmark = pytest.mark.timeout(60)


def org_of(subject: Subject) -> Any:
    return next(iter(subject.memberships))


def test_wait_for_chat_returns_when_an_event_says_the_status_was_reached(
    hub: ChatEvents, chats: Chats, alice: Subject, model: Any
) -> None:
    """The hub's slow poll (120 s) is longer than the test's timeout: only events wake it."""
    for _ in range(5):
        with as_actor(alice):
            parent = chats.create_chat(organization_id=org_of(alice), title="parent").chat
            child = chats.create_chat(parent_chat_id=parent.id, content="do it").chat
        thread, out = run_in_thread(
            lambda child=child: hub.wait_for_chat(child.id, {"running"}, timeout=30, actor=alice)
        )
        acquired = chats.acquire_chats(uuid.uuid4(), actor=CHATD, num_chats=10)
        assert child.id in {c.id for c in acquired}
        thread.join(40)
        assert len(out) == 1 and getattr(out[0], "id", None) == child.id, out
        assert out[0].status == "running"


def test_wait_for_chat_returns_at_once_and_times_out(
    hub: ChatEvents, chats: Chats, alice: Subject, bob: Subject, model: Any
) -> None:
    with as_actor(alice):
        chat = chats.create_chat(organization_id=org_of(alice), title="idle").chat
    assert hub.wait_for_chat(chat.id, ["waiting"], timeout=5, actor=alice) == chat
    assert hub.wait_for_chat(chat.id, ["completed"], timeout=0.2, actor=alice) is None
    with pytest.raises(NotAuthorized):
        hub.wait_for_chat(chat.id, ["completed"], timeout=0.2, actor=bob)
    with pytest.raises(InvalidInput):
        hub.wait_for_chat(chat.id, ["finished"], timeout=0.2, actor=alice)
    assert hub.listener.subscriptions == 0


def test_wait_for_chat_falls_back_to_polling_for_changes_without_events(
    listener: Listener,
    store: Store[Querier],
    chats: Chats,
    alice: Subject,
    model: Any,
    conn: Any,
) -> None:
    polling = ChatEvents(listener, store, poll_interval=0.1)
    with as_actor(alice):
        chat = chats.create_chat(organization_id=org_of(alice), title="quiet").chat
    thread, out = run_in_thread(
        lambda: polling.wait_for_chat(chat.id, ["completed"], timeout=50, actor=alice)
    )
    _blocked_in_get(listener)  # it has read the chat once and waits for an event
    conn.execute("UPDATE chats SET status = 'completed' WHERE id = %s", [chat.id])  # no event
    thread.join(10)  # the wait's own end (50 s) re-reads too: it must not take that long
    assert not thread.is_alive(), "the wait did not poll"
    assert len(out) == 1 and getattr(out[0], "status", None) == "completed", out


async def test_wait_for_chat_async(
    hub: ChatEvents, chats: Chats, alice: Subject, model: Any
) -> None:
    with as_actor(alice):
        chat = chats.create_chat(organization_id=org_of(alice), content="go").chat
    waiting = asyncio.create_task(
        hub.wait_for_chat_async(chat.id, ["running"], timeout=30, actor=alice)
    )
    await asyncio.sleep(0)  # the task subscribes on a worker thread
    acquired = await asyncio.to_thread(chats.acquire_chats, uuid.uuid4(), actor=CHATD)
    assert [c.id for c in acquired] == [chat.id]
    got = await asyncio.wait_for(waiting, 40)
    assert got is not None and got.id == chat.id and got.status == "running"


def test_an_idle_worker_wakes_on_the_pending_event(
    hub: ChatEvents, chats: Chats, alice: Subject, model: Any
) -> None:
    worker = uuid.uuid4()
    assert hub.acquire_chats(chats, worker, actor=CHATD, timeout=0.2) == []
    for _ in range(5):
        thread, out = run_in_thread(
            lambda: hub.acquire_chats(chats, worker, actor=CHATD, timeout=30)
        )
        with as_actor(alice):
            chat = chats.create_chat(organization_id=org_of(alice), content="work").chat
        thread.join(40)
        assert len(out) == 1 and [c.id for c in out[0]] == [chat.id], out  # type: ignore[attr-defined]


async def test_an_idle_async_worker_wakes_on_the_pending_event(
    hub: ChatEvents, chats: Chats, alice: Subject, model: Any
) -> None:
    waiting = asyncio.create_task(
        hub.acquire_chats_async(chats, uuid.uuid4(), actor=CHATD, timeout=30)
    )
    await asyncio.sleep(0.05)
    with as_actor(alice):
        chat = await asyncio.to_thread(
            chats.create_chat, organization_id=org_of(alice), content="work"
        )
    got = await asyncio.wait_for(waiting, 40)
    assert [c.id for c in got] == [chat.chat.id]


def test_archiving_a_running_sub_agent_wakes_its_waiter(
    hub: ChatEvents, chats: Chats, alice: Subject, model: Any
) -> None:
    """Archive stops a running chat (back to waiting): its archive event carries the status."""
    with as_actor(alice):
        parent = chats.create_chat(organization_id=org_of(alice), title="parent").chat
        child = chats.create_chat(parent_chat_id=parent.id, content="run").chat
    chats.acquire_chats(uuid.uuid4(), actor=CHATD, num_chats=10)
    thread, out = run_in_thread(
        lambda: hub.wait_for_chat(child.id, {"waiting"}, timeout=30, actor=alice)
    )
    with as_actor(alice):
        chats.archive(parent.id)
    thread.join(40)
    assert len(out) == 1 and getattr(out[0], "archived", None) is True, out


def test_wait_for_chat_polls_fast_while_the_listener_is_disconnected(
    chatdb_dsn: str, store: Store[Querier], chats: Chats, alice: Subject, model: Any, conn: Any
) -> None:
    """No events can arrive while the listener is down: the wait polls every
    ``fallback_interval`` instead of the slow ``poll_interval`` (120 s, longer than the wait,
    which would find the change only at its own end, 40 s later than we wait for it)."""
    with Listener(chatdb_dsn, start=False) as down:  # never connects
        hub = ChatEvents(down, store, poll_interval=120.0, fallback_interval=0.05)
        with as_actor(alice):
            chat = chats.create_chat(organization_id=org_of(alice), title="offline").chat
        thread, out = run_in_thread(
            lambda: hub.wait_for_chat(chat.id, ["completed"], timeout=50, actor=alice)
        )
        _blocked_in_get(down)  # it has read the chat once and waits: change it behind its back
        conn.execute("UPDATE chats SET status = 'completed' WHERE id = %s", [chat.id])
        thread.join(10)
        assert not thread.is_alive(), "the wait did not poll while the listener was down"
        assert len(out) == 1 and getattr(out[0], "status", None) == "completed", out
        assert hub.acquire_chats(chats, uuid.uuid4(), actor=CHATD, timeout=0.2) == []


def _blocked_in_get(listener: Listener) -> None:
    """Until the only subscription's reader waits in ``get`` (on its condition variable)."""
    deadline = time.monotonic() + 20
    while not (listener.subscriptions == 1 and listener._subs[0]._cond._waiters):  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the wait never blocked"
        time.sleep(0.001)
