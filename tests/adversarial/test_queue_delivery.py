"""Queued delivery: FIFO under real concurrency (issue 8, item 9); a malformed row never
blocks the queue (item 10).

A run ends (the chat becomes ``completed``) while messages wait in its queue; before the
worker calls ``auto_promote``, users send new messages. Senders and auto-promoters race on
real threads, many rounds; afterwards the queue is drained the way a worker would (one run
per message). The conversation must hold the queued messages first, in queue order, then
each new message exactly once: no new message ever overtakes an older queued one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import psycopg
import pytest

from chatdb import db
from chatdb.authz import CHAT_ACCESS, CHATD, Subject
from chatdb.db import ChatMessageRole, ChatStatus, Querier
from chatdb.errors import InvalidInput, NotFound
from chatdb.ops import Chats
from chatdb.store import Store
from chatdb.testing.factories import Factories
from tests.adversarial.races_support import race

pytestmark = pytest.mark.timeout(120)

THREADS = 8
QUEUED = 3


@pytest.fixture
def chats(chatdb_dsn: str) -> Iterator[Chats]:
    with Store(
        chatdb_dsn, querier_factory=Querier, min_size=THREADS, max_size=THREADS, max_retries=0
    ) as store:
        yield Chats(store)


def _user_texts(conn: psycopg.Connection[Any], chat_id: UUID) -> list[str]:
    rows = conn.execute(
        "SELECT content FROM chat_messages WHERE chat_id = %s AND role = %s AND NOT deleted"
        " ORDER BY id",
        (chat_id, ChatMessageRole.USER.value),
    ).fetchall()
    return ["".join(p["text"] for p in r[0] if p["type"] == "text") for r in rows]


def _end_run(conn: psycopg.Connection[Any], chat_id: UUID) -> None:
    conn.execute(
        "UPDATE chats SET status = 'completed', worker_id = NULL WHERE id = %s", (chat_id,)
    )


def test_a_message_sent_before_auto_promote_never_overtakes_the_queue(
    chats: Chats, chatdb_factories: Factories, chatdb_conn: psycopg.Connection[Any]
) -> None:
    f = chatdb_factories
    org = f.organization()
    user = f.user(organization_id=org.id, rbac_roles=[CHAT_ACCESS])
    alice = Subject(id=user.id, name="alice", site_roles=(CHAT_ACCESS,), memberships={org.id})
    model = f.chat_model_config(is_default=True)
    senders = THREADS // 2
    for round_ in range(20):
        chat = f.chat(
            owner_id=alice.id,
            organization_id=org.id,
            last_model_config_id=model.id,
            status="running",
        )
        queued = [f"r{round_} queued {i}" for i in range(QUEUED)]
        for text in queued:
            assert chats.send_message(chat.id, text, actor=alice).was_queued
        _end_run(chatdb_conn, chat.id)
        new = [f"r{round_} new {i}" for i in range(senders)]
        calls = [lambda t=t, c=chat.id: chats.send_message(c, t, actor=alice) for t in new]
        calls += [lambda c=chat.id: chats.auto_promote(c, actor=CHATD)] * (THREADS - senders)
        results = race(calls)
        errors = [r for r in results if isinstance(r, Exception)]
        assert not errors, f"round {round_}: {errors[:3]}"
        # A worker runs the chat once per admitted message, promoting after each run.
        for _ in range(QUEUED + senders + 1):
            _end_run(chatdb_conn, chat.id)
            if chats.auto_promote(chat.id, actor=CHATD) is None:
                break
        delivered = _user_texts(chatdb_conn, chat.id)
        assert delivered[:QUEUED] == queued, f"round {round_}: {delivered}"
        assert sorted(delivered[QUEUED:]) == sorted(new), f"round {round_}: {delivered}"
        left = chatdb_conn.execute(
            "SELECT count(*) FROM chat_queued_messages WHERE chat_id = %s", (chat.id,)
        ).fetchone()
        assert left == (0,)


def test_sending_to_an_idle_chat_with_a_queue_admits_the_head_and_queues_the_new_message(
    chats: Chats, chatdb_factories: Factories, chatdb_conn: psycopg.Connection[Any]
) -> None:
    """The same rule without threads, for every idle status (error and paused included)."""
    f = chatdb_factories
    org = f.organization()
    user = f.user(organization_id=org.id, rbac_roles=[CHAT_ACCESS])
    alice = Subject(id=user.id, name="alice", site_roles=(CHAT_ACCESS,), memberships={org.id})
    model = f.chat_model_config(is_default=True)
    for status in ("waiting", "completed", "error", "paused"):
        chat = f.chat(
            owner_id=alice.id,
            organization_id=org.id,
            last_model_config_id=model.id,
            status="running",
        )
        chats.send_message(chat.id, "older", actor=alice)
        chatdb_conn.execute("UPDATE chats SET status = %s WHERE id = %s", (status, chat.id))

        sent = chats.send_message(chat.id, "newer", actor=alice)

        assert sent.was_queued and sent.message is None
        assert sent.chat.status is ChatStatus.PENDING
        assert _user_texts(chatdb_conn, chat.id) == ["older"]
        assert sent.queued is not None
        assert [
            row.id for row in Querier(chatdb_conn).get_chat_queued_messages(chat_id=chat.id)
        ] == [sent.queued.id]


# ---- a malformed row at the head (item 10) -------------------------------------------------

# Queued contents that are not a user message: not a list of parts, a part without its text,
# a part a user may not send, an unknown part type.
MALFORMED: list[object] = [
    {"not": "a list"},
    42,
    [{"type": "text"}],
    [{"type": "tool-call", "tool_call_id": "c1", "tool_name": "x", "args": {}}],
    [{"type": "no-such-part"}],
]


@pytest.fixture
def alice_chat(
    chatdb_factories: Factories,
) -> tuple[Subject, db.Chat]:
    f = chatdb_factories
    org = f.organization()
    user = f.user(organization_id=org.id, rbac_roles=[CHAT_ACCESS])
    alice = Subject(id=user.id, name="alice", site_roles=(CHAT_ACCESS,), memberships={org.id})
    model = f.chat_model_config(is_default=True)
    chat = f.chat(
        owner_id=alice.id,
        organization_id=org.id,
        last_model_config_id=model.id,
        status="completed",
    )
    return alice, chat


def _quarantine(conn: psycopg.Connection[Any], chat_id: UUID) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT id, content, reason FROM chat_queued_message_quarantine WHERE chat_id = %s"
        " ORDER BY id",
        (chat_id,),
    ).fetchall()


@pytest.mark.parametrize("content", MALFORMED, ids=repr)
def test_auto_promote_quarantines_a_malformed_head_and_delivers_the_next(
    chats: Chats,
    chatdb_factories: Factories,
    chatdb_conn: psycopg.Connection[Any],
    alice_chat: tuple[Subject, db.Chat],
    content: object,
) -> None:
    _, chat = alice_chat
    f = chatdb_factories
    bad = f.chat_queued_message(chat_id=chat.id, content=content)
    f.chat_queued_message(chat_id=chat.id, content=[{"type": "text", "text": "behind it"}])

    promoted = chats.auto_promote(chat.id, actor=CHATD)

    assert promoted is not None
    assert _user_texts(chatdb_conn, chat.id) == ["behind it"]
    [(qid, kept, reason)] = _quarantine(chatdb_conn, chat.id)
    assert (qid, kept) == (bad.id, content)
    assert reason.startswith("undeliverable queued message")
    assert Querier(chatdb_conn).get_chat_queued_messages(chat_id=chat.id) == []


def test_a_queue_of_only_malformed_rows_is_emptied_into_the_quarantine(
    chats: Chats,
    chatdb_factories: Factories,
    chatdb_conn: psycopg.Connection[Any],
    alice_chat: tuple[Subject, db.Chat],
) -> None:
    alice, chat = alice_chat
    bad = [chatdb_factories.chat_queued_message(chat_id=chat.id, content=c) for c in MALFORMED]

    with pytest.raises(NotFound):
        chats.promote_queued(chat.id, actor=alice)

    assert [r[0] for r in _quarantine(chatdb_conn, chat.id)] == [b.id for b in bad]
    assert chats.auto_promote(chat.id, actor=CHATD) is None
    # The queue moves again: a new message is admitted at once.
    sent = chats.send_message(chat.id, "fresh start", actor=alice)
    assert sent.message is not None and not sent.was_queued


def test_sending_behind_a_malformed_head_admits_the_next_deliverable_message(
    chats: Chats,
    chatdb_factories: Factories,
    chatdb_conn: psycopg.Connection[Any],
    alice_chat: tuple[Subject, db.Chat],
) -> None:
    alice, chat = alice_chat
    chatdb_factories.chat_queued_message(chat_id=chat.id, content=MALFORMED[0])
    chatdb_factories.chat_queued_message(chat_id=chat.id, content=[{"type": "text", "text": "1"}])

    sent = chats.send_message(chat.id, "2", actor=alice)

    assert sent.promoted is not None and sent.was_queued
    assert _user_texts(chatdb_conn, chat.id) == ["1"]
    assert len(_quarantine(chatdb_conn, chat.id)) == 1


def test_promoting_a_chosen_malformed_row_is_refused_and_writes_nothing(
    chats: Chats,
    chatdb_factories: Factories,
    chatdb_conn: psycopg.Connection[Any],
    alice_chat: tuple[Subject, db.Chat],
) -> None:
    alice, chat = alice_chat
    bad = chatdb_factories.chat_queued_message(chat_id=chat.id, content=MALFORMED[0])

    with pytest.raises(InvalidInput):
        chats.promote_queued(chat.id, bad.id, actor=alice)

    assert [r.id for r in Querier(chatdb_conn).get_chat_queued_messages(chat_id=chat.id)] == [
        bad.id
    ]
    assert _quarantine(chatdb_conn, chat.id) == []
