"""send_message, queued promotion and edit_message (SPEC 5): admission, queueing, interrupts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from chatdb import db
from chatdb.authz import CHATD, Subject
from chatdb.db import ChatMessageRole, ChatStatus, Querier
from chatdb.errors import ChatArchived, Conflict, InvalidInput, NotFound
from chatdb.ops import Chats
from chatdb.testing.factories import Factories

State = dict[str, object]
NOW = datetime(2025, 1, 1, tzinfo=UTC)


def text(message: db.ChatMessage) -> str:
    return "".join(p["text"] for p in message.content or [] if p["type"] == "text")


def live_messages(q: Querier, chat_id: UUID) -> list[str]:
    return [text(m) for m in q.get_chat_messages_by_chat_id(chat_id=chat_id, after_id=0)]


@pytest.fixture
def chat(f: Factories, org: db.Organization, alice: Subject, model: db.ChatModelConfig) -> db.Chat:
    """One of alice's chats, finished (idle) and running on the default model."""
    return f.chat(
        owner_id=alice.id,
        organization_id=org.id,
        last_model_config_id=model.id,
        status="completed",
    )


# ---- send_message ------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["waiting", "completed", "error", "paused"])
def test_sending_to_an_idle_chat_admits_the_message_switches_model_and_sets_pending(
    chats: Chats,
    q: Querier,
    f: Factories,
    chat: db.Chat,
    alice: Subject,
    conn: psycopg.Connection[Any],
    status: str,
) -> None:
    conn.execute("UPDATE chats SET status = %s, last_error = 'x' WHERE id = %s", (status, chat.id))
    other = f.chat_model_config()

    sent = chats.send_message(chat.id, "next step", model_config_id=other.id, actor=alice)

    assert not sent.was_queued and sent.message is not None
    assert sent.message.role is ChatMessageRole.USER
    assert sent.message.model_config_id == other.id
    assert sent.message.created_by == alice.id
    after = q.get_chat_by_id(id=chat.id)
    assert after == sent.chat
    assert after.status is ChatStatus.PENDING
    assert after.last_error is None
    assert after.last_model_config_id == other.id
    assert live_messages(q, chat.id) == ["next step"]
    assert q.get_chat_queued_messages(chat_id=chat.id) == []


def test_without_a_model_the_chat_keeps_its_current_one(
    chats: Chats, q: Querier, chat: db.Chat, alice: Subject
) -> None:
    sent = chats.send_message(chat.id, "hi", actor=alice)
    assert sent.message is not None
    assert sent.message.model_config_id == chat.last_model_config_id


@pytest.mark.parametrize("status", ["pending", "running", "requires_action"])
def test_sending_to_a_busy_chat_queues_with_the_effective_model(
    chats: Chats,
    q: Querier,
    f: Factories,
    chat: db.Chat,
    alice: Subject,
    conn: psycopg.Connection[Any],
    status: str,
) -> None:
    conn.execute("UPDATE chats SET status = %s WHERE id = %s", (status, chat.id))
    other = f.chat_model_config()
    before = q.get_chat_by_id(id=chat.id)

    first = chats.send_message(chat.id, "later", model_config_id=other.id, actor=alice)
    second = chats.send_message(chat.id, "even later", actor=alice)

    assert first.was_queued and first.message is None
    assert [
        (m.content, m.model_config_id) for m in q.get_chat_queued_messages(chat_id=chat.id)
    ] == [
        ([{"type": "text", "text": "later"}], other.id),
        ([{"type": "text", "text": "even later"}], chat.last_model_config_id),
    ]
    assert second.queued is not None
    assert q.get_chat_by_id(id=chat.id) == before  # status, model and updated_at untouched
    assert live_messages(q, chat.id) == []


def test_interrupting_a_running_chat_admits_the_message_and_takes_it_from_its_worker(
    chats: Chats, q: Querier, chat: db.Chat, alice: Subject, conn: psycopg.Connection[Any]
) -> None:
    worker = uuid4()
    conn.execute("UPDATE chats SET status = 'pending' WHERE id = %s", (chat.id,))
    assert [c.id for c in chats.acquire_chats(worker, actor=CHATD, now=NOW)] == [chat.id]

    sent = chats.send_message(chat.id, "stop, do this", busy_behavior="interrupt", actor=alice)

    assert sent.message is not None
    after = q.get_chat_by_id(id=chat.id)
    assert after.status is ChatStatus.PENDING
    assert (after.worker_id, after.started_at, after.heartbeat_at) == (None, None, None)
    assert chats.heartbeat(worker, actor=CHATD, now=NOW) == set()  # the worker learns to stop
    assert live_messages(q, chat.id) == ["stop, do this"]
    assert q.get_chat_queued_messages(chat_id=chat.id) == []


def test_interrupting_a_chat_that_waits_for_tool_results_is_a_conflict(
    chats: Chats,
    chat: db.Chat,
    alice: Subject,
    conn: psycopg.Connection[Any],
    db_state: Callable[[], State],
) -> None:
    conn.execute("UPDATE chats SET status = 'requires_action' WHERE id = %s", (chat.id,))
    before = db_state()
    with pytest.raises(Conflict):
        chats.send_message(chat.id, "hey", busy_behavior="interrupt", actor=alice)
    assert db_state() == before


def test_sending_to_an_archived_chat_is_refused(
    chats: Chats,
    chat: db.Chat,
    alice: Subject,
    conn: psycopg.Connection[Any],
    db_state: Callable[[], State],
) -> None:
    conn.execute("UPDATE chats SET archived = true WHERE id = %s", (chat.id,))
    before = db_state()
    for behavior in ("queue", "interrupt"):
        with pytest.raises(ChatArchived):
            chats.send_message(chat.id, "hello?", busy_behavior=behavior, actor=alice)
    assert db_state() == before


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"busy_behavior": "shout"}, "busy_behavior"),
        ({"content": ""}, "content"),
        ({"content": [{"type": "reasoning", "text": "hmm"}]}, "content"),
        ({"content": 42}, "content"),
    ],
)
def test_bad_send_input_is_refused_before_anything_is_written(
    chats: Chats,
    chat: db.Chat,
    alice: Subject,
    db_state: Callable[[], State],
    kwargs: dict[str, Any],
    field: str,
) -> None:
    args: dict[str, Any] = {"content": "fine", **kwargs}
    before = db_state()
    with pytest.raises(InvalidInput) as exc:
        chats.send_message(chat.id, actor=alice, **args)
    assert exc.value.field == field
    assert db_state() == before


def test_sending_with_an_unusable_model_is_refused(
    chats: Chats, f: Factories, chat: db.Chat, alice: Subject, db_state: Callable[[], State]
) -> None:
    disabled = f.chat_model_config(enabled=False)
    before = db_state()
    with pytest.raises(InvalidInput) as exc:
        chats.send_message(chat.id, "hi", model_config_id=disabled.id, actor=alice)
    assert exc.value.field == "model_config_id"
    assert db_state() == before


def test_sending_to_an_unknown_chat_is_not_found(chats: Chats, alice: Subject) -> None:
    with pytest.raises(NotFound):
        chats.send_message(uuid4(), "hi", actor=alice)


# ---- promotion ---------------------------------------------------------------------------


def test_promotion_is_fifo_across_mixed_models_and_never_drops_invalid_ones(
    chats: Chats, q: Querier, f: Factories, chat: db.Chat, alice: Subject
) -> None:
    a, b = f.chat_model_config(), f.chat_model_config()
    deleted = f.chat_model_config(deleted=True)
    disabled = f.chat_model_config(enabled=False)
    f.chat_queued_message(
        chat_id=chat.id, content=[{"type": "text", "text": "1"}], model_config_id=a.id
    )
    f.chat_queued_message(
        chat_id=chat.id, content=[{"type": "text", "text": "2"}], model_config_id=b.id
    )
    f.chat_queued_message(chat_id=chat.id, content=[{"type": "text", "text": "3"}])  # legacy NULL
    f.chat_queued_message(
        chat_id=chat.id, content=[{"type": "text", "text": "4"}], model_config_id=deleted.id
    )
    f.chat_queued_message(
        chat_id=chat.id, content=[{"type": "text", "text": "5"}], model_config_id=disabled.id
    )
    f.chat_queued_message(
        chat_id=chat.id, content=[{"type": "text", "text": "6"}], model_config_id=a.id
    )

    promoted = [chats.promote_queued(chat.id, actor=alice) for _ in range(6)]

    got = [(text(p.message), p.message.model_config_id) for p in promoted]
    # NULL and unusable ids fall back to the chat's model at that moment (b, set by "2").
    assert got == [("1", a.id), ("2", b.id), ("3", b.id), ("4", b.id), ("5", b.id), ("6", a.id)]
    assert q.get_chat_queued_messages(chat_id=chat.id) == []
    after = q.get_chat_by_id(id=chat.id)
    assert after.last_model_config_id == a.id
    assert after.status is ChatStatus.PENDING
    assert all(p.message.created_by == alice.id for p in promoted)  # the chat's owner
    with pytest.raises(NotFound):
        chats.promote_queued(chat.id, actor=alice)


def test_promoting_a_chosen_queued_message_takes_exactly_that_one(
    chats: Chats, q: Querier, f: Factories, chat: db.Chat, alice: Subject
) -> None:
    first = f.chat_queued_message(chat_id=chat.id)
    second = f.chat_queued_message(chat_id=chat.id, content=[{"type": "text", "text": "pick me"}])

    promoted = chats.promote_queued(chat.id, second.id, actor=alice)

    assert text(promoted.message) == "pick me"
    assert promoted.queued_id == second.id
    assert [m.id for m in q.get_chat_queued_messages(chat_id=chat.id)] == [first.id]


def test_promoting_another_chats_queued_message_is_not_found(
    chats: Chats, f: Factories, chat: db.Chat, alice: Subject, org: db.Organization
) -> None:
    other = f.chat(owner_id=alice.id, organization_id=org.id)
    foreign = f.chat_queued_message(chat_id=other.id)
    with pytest.raises(NotFound):
        chats.promote_queued(chat.id, foreign.id, actor=alice)


def test_promoting_into_an_archived_chat_is_refused_and_keeps_the_queue(
    chats: Chats,
    f: Factories,
    chat: db.Chat,
    alice: Subject,
    conn: psycopg.Connection[Any],
    db_state: Callable[[], State],
) -> None:
    f.chat_queued_message(chat_id=chat.id)
    conn.execute("UPDATE chats SET archived = true WHERE id = %s", (chat.id,))
    before = db_state()
    with pytest.raises(ChatArchived):
        chats.promote_queued(chat.id, actor=alice)
    with pytest.raises(ChatArchived):
        chats.auto_promote(chat.id, actor=CHATD)
    assert db_state() == before


def test_promoting_a_legacy_string_queued_message_admits_it_as_text(
    chats: Chats, f: Factories, chat: db.Chat, alice: Subject
) -> None:
    f.chat_queued_message(chat_id=chat.id, content="from the old days")
    assert text(chats.promote_queued(chat.id, actor=alice).message) == "from the old days"


def test_auto_promotion_admits_the_oldest_queued_message_after_a_finished_run(
    chats: Chats, q: Querier, f: Factories, chat: db.Chat, conn: psycopg.Connection[Any]
) -> None:
    a = f.chat_model_config()
    f.chat_queued_message(
        chat_id=chat.id, content=[{"type": "text", "text": "1"}], model_config_id=a.id
    )
    f.chat_queued_message(chat_id=chat.id, content=[{"type": "text", "text": "2"}])

    promoted = chats.auto_promote(chat.id, actor=CHATD)

    assert promoted is not None
    assert (text(promoted.message), promoted.message.model_config_id) == ("1", a.id)
    assert promoted.chat.status is ChatStatus.PENDING
    assert len(q.get_chat_queued_messages(chat_id=chat.id)) == 1
    # Now busy: nothing more is promoted until the next run ends.
    assert chats.auto_promote(chat.id, actor=CHATD) is None
    conn.execute("UPDATE chats SET status = 'waiting' WHERE id = %s", (chat.id,))
    second = chats.auto_promote(chat.id, actor=CHATD)
    assert second is not None and text(second.message) == "2"
    conn.execute("UPDATE chats SET status = 'waiting' WHERE id = %s", (chat.id,))
    assert chats.auto_promote(chat.id, actor=CHATD) is None  # queue empty


@pytest.mark.parametrize("status", ["error", "paused", "running", "requires_action"])
def test_auto_promotion_leaves_the_queue_of_failed_stopped_or_busy_chats(
    chats: Chats,
    q: Querier,
    f: Factories,
    chat: db.Chat,
    conn: psycopg.Connection[Any],
    status: str,
) -> None:
    conn.execute("UPDATE chats SET status = %s WHERE id = %s", (status, chat.id))
    f.chat_queued_message(chat_id=chat.id)
    assert chats.auto_promote(chat.id, actor=CHATD) is None
    assert len(q.get_chat_queued_messages(chat_id=chat.id)) == 1


def test_promoting_while_waiting_for_tool_results_is_a_conflict(
    chats: Chats, f: Factories, chat: db.Chat, alice: Subject, conn: psycopg.Connection[Any]
) -> None:
    f.chat_queued_message(chat_id=chat.id)
    conn.execute("UPDATE chats SET status = 'requires_action' WHERE id = %s", (chat.id,))
    with pytest.raises(Conflict):
        chats.promote_queued(chat.id, actor=alice)


# ---- edit_message ------------------------------------------------------------------------


def test_editing_soft_deletes_the_message_and_everything_after_it_and_resends(
    chats: Chats,
    q: Querier,
    f: Factories,
    chat: db.Chat,
    alice: Subject,
    conn: psycopg.Connection[Any],
) -> None:
    keep = f.chat_message(chat_id=chat.id, role="user", content=[{"type": "text", "text": "a"}])
    edited = f.chat_message(
        chat_id=chat.id, role="user", content=[{"type": "text", "text": "b"}], created_by=alice.id
    )
    answer = f.chat_message(
        chat_id=chat.id,
        role="assistant",
        content=[{"type": "text", "text": "c"}],
        total_cost_micros=1234,
    )

    result = chats.edit_message(edited.id, "b, but better", actor=alice)

    assert result.replaced_id == edited.id
    assert live_messages(q, chat.id) == ["a", "b, but better"]
    assert result.message.id > answer.id
    assert result.message.created_by == alice.id
    assert result.chat.status is ChatStatus.PENDING
    rows = conn.execute(
        "SELECT id, deleted, total_cost_micros FROM chat_messages WHERE chat_id = %s ORDER BY id",
        (chat.id,),
    ).fetchall()
    assert rows == [
        (keep.id, False, None),
        (edited.id, True, None),
        (answer.id, True, 1234),  # kept for cost accounting
        (result.message.id, False, None),
    ]


def test_only_user_messages_can_be_edited(
    chats: Chats, f: Factories, chat: db.Chat, alice: Subject, db_state: Callable[[], State]
) -> None:
    answer = f.chat_message(chat_id=chat.id, role="assistant")
    before = db_state()
    with pytest.raises(InvalidInput):
        chats.edit_message(answer.id, "rewrite history", actor=alice)
    assert db_state() == before


def test_editing_a_deleted_message_is_not_found(
    chats: Chats, f: Factories, chat: db.Chat, alice: Subject
) -> None:
    gone = f.chat_message(chat_id=chat.id, role="user", deleted=True)
    with pytest.raises(NotFound):
        chats.edit_message(gone.id, "x", actor=alice)


def test_editing_in_an_archived_chat_is_refused(
    chats: Chats,
    f: Factories,
    chat: db.Chat,
    alice: Subject,
    conn: psycopg.Connection[Any],
    db_state: Callable[[], State],
) -> None:
    message = f.chat_message(chat_id=chat.id, role="user")
    conn.execute("UPDATE chats SET archived = true WHERE id = %s", (chat.id,))
    before = db_state()
    with pytest.raises(ChatArchived):
        chats.edit_message(message.id, "x", actor=alice)
    assert db_state() == before
