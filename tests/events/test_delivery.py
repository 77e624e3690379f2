"""Events are published with the write: on commit, never for rolled-back work, in order."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest

from chatdb.authz import CHATD, Subject, as_actor
from chatdb.db import Querier
from chatdb.events import CHANNEL, MAX_PAYLOAD_BYTES, Event, Kind, Listener, decode, encode
from chatdb.events.model import queue_changed, status_changed
from chatdb.ops import Chats
from chatdb.store import Store
from tests.events.conftest import events_of, read_until

pytestmark = pytest.mark.timeout(60)


def kinds(items: list[Any]) -> list[str]:
    return [e.kind.value for e in events_of(items)]


def test_an_event_arrives_after_commit_and_not_before(
    listener: Listener,
    store: Store[Querier],
    chats: Chats,
    alice: Subject,
    model: Any,
    marker: Any,
) -> None:
    with as_actor(alice):
        chat = chats.create_chat(organization_id=alice_org(alice), title="t").chat
    sub = listener.subscribe(chat_id=chat.id)
    read_until(sub, marker(chat))
    with store.transaction():
        with as_actor(alice):
            chats.send_message(chat.id, "hello")
        # Committed after the workflow ran but before its transaction commits: had the event
        # gone out at once, it would arrive before this marker.
        early = read_until(sub, marker(chat))
        assert early == []
    after = read_until(sub, marker(chat))
    assert kinds(after) == ["messages.appended", "chat.status"]
    assert events_of(after)[1].data["status"] == "pending"


def alice_org(subject: Subject) -> Any:
    return next(iter(subject.memberships))


def test_rolled_back_work_publishes_nothing(
    listener: Listener,
    store: Store[Querier],
    chats: Chats,
    alice: Subject,
    model: Any,
    marker: Any,
) -> None:
    with as_actor(alice):
        chat = chats.create_chat(organization_id=alice_org(alice), title="t").chat
    sub = listener.subscribe()
    read_until(sub, marker(chat))  # the creation's events, dispatched after subscribing
    for _ in range(5):
        with store.transaction():
            with as_actor(alice):
                chats.send_message(chat.id, "never")
                chats.update_chat(chat.id, title="never")
                chats.archive(chat.id)
            raise psycopg.Rollback()
        # A workflow refused half-way (the chat is archived) publishes nothing either.
    with as_actor(alice):
        chats.archive(chat.id)
        with pytest.raises(Exception, match="archived"):
            chats.send_message(chat.id, "refused")
    assert kinds(read_until(sub, marker(chat))) == ["chat.archived"]


def test_events_off_publishes_nothing(
    listener: Listener, store: Store[Querier], alice: Subject, model: Any, marker: Any
) -> None:
    quiet = Chats(store, events=False)
    sub = listener.subscribe()
    with as_actor(alice):
        chat = quiet.create_chat(organization_id=alice_org(alice), content="hi").chat
        quiet.send_message(chat.id, "more")
    assert read_until(sub, marker(chat)) == []


def test_order_per_chat_is_the_commit_order_under_concurrent_writers(
    listener: Listener, chats: Chats, alice: Subject, model: Any, conn: Any, marker: Any
) -> None:
    with as_actor(alice):
        targets = [
            chats.create_chat(organization_id=alice_org(alice), title=f"c{i}").chat
            for i in range(3)
        ]
    subs = {c.id: listener.subscribe(chat_id=c.id) for c in targets}
    for c in targets:
        read_until(subs[c.id], marker(c))
    per_thread = 15
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with as_actor(alice):
                for i in range(per_thread):
                    chats.send_message(targets[(n + i) % 3].id, f"m{n}-{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    for chat in targets:
        got = events_of(read_until(subs[chat.id], marker(chat)))
        appended = [e for e in got if e.kind is Kind.MESSAGES_APPENDED]
        queued = [e for e in got if e.kind is Kind.QUEUE_CHANGED]
        # The database's own order: message ids and queue ids of this chat.
        message_ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM chat_messages WHERE chat_id = %s AND role = 'user' ORDER BY id",
                [chat.id],
            )
        ]
        queue_ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM chat_queued_messages WHERE chat_id = %s ORDER BY id", [chat.id]
            )
        ]
        assert [e.data["first"] for e in appended] == message_ids
        assert [e.data["added"] for e in queued] == queue_ids
        assert all(e.chat_id == chat.id for e in got)
    total = conn.execute(
        "SELECT (SELECT count(*) FROM chat_messages WHERE role = 'user')"
        " + (SELECT count(*) FROM chat_queued_messages)"
    ).fetchone()
    assert total is not None and total[0] == 4 * per_thread


def test_archiving_a_family_yields_one_event_per_chat(
    listener: Listener, chats: Chats, alice: Subject, model: Any, conn: Any, marker: Any
) -> None:
    with as_actor(alice):
        root = chats.create_chat(organization_id=alice_org(alice), title="root").chat
        child = chats.create_chat(parent_chat_id=root.id, title="child").chat
        chats.create_chat(parent_chat_id=child.id, title="grandchild")
        chats.create_chat(parent_chat_id=root.id, title="child 2")
        other = chats.create_chat(organization_id=alice_org(alice), title="other").chat
    family = {
        r[0]
        for r in conn.execute(
            "SELECT id FROM chats WHERE id = %s OR root_chat_id = %s", [root.id, root.id]
        )
    }
    assert len(family) == 4
    sub = listener.subscribe()
    read_until(sub, marker(other))
    with as_actor(alice):
        chats.archive(root.id)
    got = events_of(read_until(sub, marker(other)))
    assert [e.kind for e in got] == [Kind.CHAT_ARCHIVED] * 4
    assert {e.chat_id for e in got} == family
    assert all(e.family_id == root.id for e in got)
    with as_actor(alice):
        chats.unarchive(root.id)
    got = events_of(read_until(sub, marker(other)))
    assert [e.kind for e in got] == [Kind.CHAT_UNARCHIVED] * 4
    assert {e.chat_id for e in got} == family


def test_workflows_publish_their_kinds(
    listener: Listener, chats: Chats, alice: Subject, model: Any, conn: Any, marker: Any
) -> None:
    sub = listener.subscribe()
    pending = listener.subscribe(channels=("chatdb_chat_pending",))
    with as_actor(alice):
        created = chats.create_chat(organization_id=alice_org(alice), content="go")
        chat = created.chat
        sent = chats.send_message(chat.id, "queued while pending")
        chats.pin(chat.id)
        chats.reorder_pin(chat.id, 1)
        chats.unpin(chat.id)
        chats.update_chat(chat.id, title="renamed")
    assert sent.queued is not None
    worker = chats.acquire_chats(alice.id, actor=CHATD)
    assert [c.id for c in worker] == [chat.id]
    conn.execute("UPDATE chats SET status = 'waiting' WHERE id = %s", [chat.id])
    with as_actor(alice):
        chats.auto_promote(chat.id)
        edited = chats.edit_message(created.messages[-1].id, "edited")
        conn.execute(
            "INSERT INTO chat_messages (chat_id, role, content, content_version)"
            " VALUES (%s, 'assistant', '[]', 1)",
            [chat.id],
        )
        chats.mark_read(chat.id)
    got = events_of(read_until(sub, marker(chat)))
    assert [e.kind.value for e in got] == [
        "chat.created",
        "messages.appended",
        "queue.changed",
        "chat.pins",
        "chat.pins",
        "chat.pins",
        "chat.updated",
        "chat.status",  # acquired: running
        "queue.changed",  # promoted
        "messages.appended",
        "chat.status",  # pending
        "messages.edited",
        "messages.appended",
        "chat.status",
        "chat.read",
    ]
    assert got[7].data == {"status": "running", "worker": str(alice.id)}
    assert got[11].data == {"deleted_from": created.messages[-1].id}
    assert got[12].data["first"] == edited.message.id
    assert all(
        e.owner_id == chat.owner_id and e.organization_id == chat.organization_id for e in got
    )
    # The workers' channel: created pending, and each later return to pending.
    wake = [pending.get(10) for _ in range(3)]
    assert [getattr(e, "kind", None) for e in wake] == [Kind.CHAT_PENDING] * 3


def test_recovering_a_lost_worker_publishes_the_status_change(
    listener: Listener, chats: Chats, alice: Subject, model: Any, conn: Any, marker: Any
) -> None:
    with as_actor(alice):
        chat = chats.create_chat(organization_id=alice_org(alice), content="go").chat
    chats.acquire_chats(alice.id, actor=CHATD)
    sub = listener.subscribe(chat_id=chat.id)
    read_until(sub, marker(chat))
    conn.execute(
        "UPDATE chats SET heartbeat_at = now() - interval '1 hour' WHERE id = %s", [chat.id]
    )
    recovered = chats.recover_stale_chats(_now_minus_minutes(conn, 5), actor=CHATD)
    assert [r.chat.id for r in recovered] == [chat.id]
    got = events_of(read_until(sub, marker(chat)))
    assert [(e.kind, e.data.get("status")) for e in got] == [(Kind.STATUS_CHANGED, "pending")]


def _now_minus_minutes(conn: Any, minutes: int) -> Any:
    row = conn.execute("SELECT now() - make_interval(mins => %s)", [minutes]).fetchone()
    return row[0]


def test_payloads_stay_small_and_round_trip(alice: Subject) -> None:
    import uuid

    class Row:
        id = uuid.uuid4()
        owner_id = uuid.uuid4()
        organization_id = uuid.uuid4()
        root_chat_id = uuid.uuid4()

    biggest = [
        *status_changed(Row(), "requires_action", uuid.uuid4()),
        queue_changed(Row(), added=2**62, removed=2**62),
    ]
    for event in biggest:
        text = encode(event)
        assert len(text.encode()) < MAX_PAYLOAD_BYTES // 20
        assert decode(text) == event
    assert decode('{"v": 99, "k": "chat.status"}') is None
    assert decode("not json") is None
    with pytest.raises(TypeError):
        encode(
            Event(
                Kind.CHAT_UPDATED,
                Row.id,
                Row.owner_id,
                Row.organization_id,
                data={"title": ["x"] * 10},
            )
        )  # type: ignore[dict-item]
    assert biggest[0].channel == CHANNEL
