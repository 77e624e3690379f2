"""What each workflow sends to the server, counted from libpq's trace and pinned.

The Store here has one connection, traced while the workflow runs, so every statement and
round trip is counted: BEGIN, the body, the events' NOTIFY when the workflow records events,
COMMIT (the pool's check of an idle connection sends nothing: chatdb.poolcheck). A re-load of a chat the
transaction already read or locked shows up as one more statement; these numbers are ceilings
a change may lower but not raise without a reason. Each expected count is the list of
statements read from the workflow's code, written out next to it.

The chat a workflow acts on is one this connection has not seen before (a fresh row): the
authorization wrapper then knows nothing of its owner, the worst case of a pooled connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from chatdb import db
from chatdb.authz import CHATD, DBPURGE, Subject, as_actor
from chatdb.db import ChatStatus, Querier
from chatdb.ops import Chats
from chatdb.ops.chats import CreatedChat
from chatdb.store import Store
from chatdb.testing.factories import Factories
from chatdb.testing.statements import StatementCount, count_statements

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture
def one_conn_store(chatdb_dsn: str) -> Iterator[Store[Querier]]:
    with Store(chatdb_dsn, querier_factory=Querier, min_size=1, max_size=1) as s:
        yield s


class Traced:
    """Runs a workflow on the store's only connection while tracing it."""

    def __init__(self, store: Store[Querier]) -> None:
        self.store = store
        self.chats = Chats(store)

    def __call__(self, fn: Any) -> StatementCount:
        with self.store.connection() as conn:
            pass  # the pool's only connection: the workflow gets the same one back
        with count_statements(conn) as sent:
            fn(self.chats)
        return sent


@pytest.fixture
def traced(one_conn_store: Store[Querier]) -> Traced:
    return Traced(one_conn_store)


def _chat(f: Factories, alice: Subject, org: db.Organization, model: db.ChatModelConfig, **kw: Any) -> db.Chat:  # fmt: skip
    return f.chat(owner_id=alice.id, organization_id=org.id, last_model_config_id=model.id, **kw)


def _at_most(sent: StatementCount, ceiling: int) -> None:
    assert len(sent) <= ceiling, sent.statements
    assert sent.statements[0] == "BEGIN", sent.statements
    assert sent.statements[-1] == "COMMIT", sent.statements


# -- the counter itself


def test_a_result_read_at_once_inside_a_pipeline_is_a_round_trip(
    chatdb_conn: psycopg.Connection[Any],
) -> None:
    """In pipeline mode psycopg sends Flush (not Sync) when a result is needed at once and
    waits for it: that is a round trip although no Sync was sent."""
    with count_statements(chatdb_conn) as each_read, chatdb_conn.pipeline():
        for i in range(3):
            chatdb_conn.execute("SELECT %s::int", (i,)).fetchone()
    with count_statements(chatdb_conn) as batched, chatdb_conn.pipeline():
        cursors = [chatdb_conn.execute("SELECT %s::int", (i,)) for i in range(3)]
    with count_statements(chatdb_conn) as plain:
        for i in range(3):
            chatdb_conn.execute("SELECT %s::int", (i,)).fetchone()
    assert [c.fetchone() for c in cursors] == [(0,), (1,), (2,)]
    assert (len(each_read), len(batched), len(plain)) == (3, 3, 3)
    # Three Flush waits and the Sync on leaving the pipeline; all three sent at once then one
    # Sync; outside a pipeline one round trip per statement.
    assert (each_read.round_trips, batched.round_trips, plain.round_trips) == (4, 1, 3)


# -- the round-trip targets of issue 11 item 2
#
# A workflow's transaction is pipelined (chatdb.store: Store._pipelined): BEGIN travels with
# the first statement whose result the workflow reads, the events' NOTIFY with COMMIT in one
# last wait. So a workflow waits once per statement whose result it reads, plus once to commit.


def test_create_chat_is_at_most_five_round_trips(
    traced: Traced, alice: Subject, org: db.Organization, model: db.ChatModelConfig
) -> None:
    with as_actor(alice):
        bare = traced(lambda c: c.create_chat(organization_id=org.id, title="counted"))
        first = traced(lambda c: c.create_chat(organization_id=org.id, content="counted"))
    # The start settings (model, default, prompts), the owner's membership, INSERT chat,
    # [INSERT the first message,] NOTIFY + COMMIT.
    assert bare.round_trips <= 4, bare.statements
    assert first.round_trips <= 5, first.statements


def test_create_chat_with_system_prompts_is_at_most_five_round_trips(
    traced: Traced, alice: Subject, org: db.Organization, model: db.ChatModelConfig
) -> None:
    """A deployment prompt makes even a chat without a first message insert messages."""
    traced.chats.default_system_prompt = "You are helpful."
    made: list[CreatedChat] = []
    with as_actor(alice):
        bare = traced(
            lambda c: made.append(c.create_chat(organization_id=org.id, system_prompt="Be brief."))
        )
        first = traced(lambda c: made.append(c.create_chat(organization_id=org.id, content="hi")))
    assert [len(m.messages) for m in made] == [2, 2]  # the prompts [, the first message]
    # The start settings, membership, INSERT chat, INSERT the messages, NOTIFY + COMMIT.
    assert bare.round_trips <= 5, bare.statements
    assert first.round_trips <= 5, first.statements


def test_send_message_is_at_most_five_round_trips(
    traced: Traced, f: Factories, alice: Subject, org: db.Organization, model: db.ChatModelConfig
) -> None:
    idle = _chat(f, alice, org, model, status="waiting")
    running = _chat(f, alice, org, model, status="running", worker_id=uuid4())
    with as_actor(alice):
        admitted = traced(lambda c: c.send_message(idle.id, "counted"))
        queued = traced(lambda c: c.send_message(running.id, "counted"))
    # Lock chat, pop the queue's head, INSERT message, status pending, NOTIFY + COMMIT.
    assert admitted.round_trips <= 5, admitted.statements
    # Lock chat, INSERT queued message, NOTIFY + COMMIT.
    assert queued.round_trips <= 5, queued.statements


def test_promote_queued_is_at_most_seven_round_trips(
    traced: Traced, alice: Subject, org: db.Organization, model: db.ChatModelConfig
) -> None:
    with as_actor(alice):
        chat = traced.chats.create_chat(organization_id=org.id, content="run").chat
        queued = traced.chats.send_message(chat.id, "queued behind the pending run")
        assert queued.queued is not None
        sent = traced(lambda c: c.promote_queued(chat.id, queued.queued.id))
    assert sent.round_trips <= 7, sent.statements


# -- statements per workflow


def test_create_chat_statements(
    traced: Traced, alice: Subject, org: db.Organization, model: db.ChatModelConfig
) -> None:
    with as_actor(alice):
        bare = traced(lambda c: c.create_chat(organization_id=org.id))
        with_message = traced(lambda c: c.create_chat(organization_id=org.id, content="hi"))
    # BEGIN, the start settings (the model, the default, the system prompts), the owner's
    # membership (the create policy), INSERT chat, NOTIFY, COMMIT.
    _at_most(bare, 6)
    # ... and the INSERT of the first message: the chat just inserted is remembered from the
    # INSERT's row, so its update policy loads nothing.
    _at_most(with_message, 7)


def test_send_message_statements(
    traced: Traced, f: Factories, alice: Subject, org: db.Organization, model: db.ChatModelConfig
) -> None:
    idle = _chat(f, alice, org, model, status="waiting")
    running = _chat(f, alice, org, model, status="running", worker_id=uuid4())
    with as_actor(alice):
        admitted = traced(lambda c: c.send_message(idle.id, "admitted"))
        queued = traced(lambda c: c.send_message(running.id, "queued"))
    # BEGIN, lock chat, pop the queue's head (empty), INSERT message, status pending,
    # NOTIFY, COMMIT.
    _at_most(admitted, 7)
    # BEGIN, lock chat, INSERT queued message, NOTIFY, COMMIT.
    _at_most(queued, 5)


def test_promote_statements(
    traced: Traced, f: Factories, alice: Subject, org: db.Organization, model: db.ChatModelConfig
) -> None:
    running = _chat(f, alice, org, model, status="running", worker_id=uuid4())
    chosen = f.chat_queued_message(chat_id=running.id, model_config_id=model.id)
    completed = _chat(f, alice, org, model, status="completed")
    f.chat_queued_message(chat_id=completed.id, model_config_id=model.id)
    with as_actor(alice):
        promoted = traced(lambda c: c.promote_queued(running.id, chosen.id))
        auto = traced(lambda c: c.auto_promote(completed.id))
    # BEGIN, lock chat, read the queue, DELETE the chosen row, its model usable?,
    # INSERT message, status pending, NOTIFY, COMMIT.
    _at_most(promoted, 9)
    # BEGIN, lock chat, pop the head, its model usable?, INSERT message, status
    # pending, NOTIFY, COMMIT.
    _at_most(auto, 8)


def test_edit_message_statements(
    traced: Traced, f: Factories, alice: Subject, org: db.Organization, model: db.ChatModelConfig
) -> None:
    chat = _chat(f, alice, org, model, status="completed")
    message = f.chat_message(chat_id=chat.id, role="user", created_by=alice.id)
    with as_actor(alice):
        sent = traced(lambda c: c.edit_message(message.id, "edited"))
    # BEGIN, read the message, load its chat (read policy), lock the chat, read the
    # message again under the lock, soft-delete it and later ones, INSERT message, status
    # pending, NOTIFY, COMMIT.
    _at_most(sent, 10)


def test_archive_and_pin_statements(
    traced: Traced, f: Factories, alice: Subject, org: db.Organization, model: db.ChatModelConfig
) -> None:
    root = _chat(f, alice, org, model)
    _chat(f, alice, org, model, parent_chat_id=root.id, root_chat_id=root.id)
    other = _chat(f, alice, org, model)
    moved = _chat(f, alice, org, model, pin_order=1)
    with as_actor(alice):
        archive = traced(lambda c: c.archive(root.id))
        unarchive = traced(lambda c: c.unarchive(root.id))
        pin = traced(lambda c: c.pin(other.id))
        unpin = traced(lambda c: c.unpin(other.id))
        reorder = traced(lambda c: c.reorder_pin(moved.id, 1))
    # BEGIN, load the chat (the pin lock's update policy, before anything read it),
    # the owner's pin lock, lock chat, archive the family, NOTIFY, COMMIT.
    _at_most(archive, 7)
    # BEGIN, lock chat, unarchive the family, NOTIFY, COMMIT.
    _at_most(unarchive, 5)
    # BEGIN, load the chat, pin lock, lock chat, pin (or unpin, or move), read the
    # chat back, NOTIFY, COMMIT.
    _at_most(pin, 8)
    # The chat is remembered from the pin on this connection: no load.
    _at_most(unpin, 7)
    _at_most(reorder, 8)


def test_chat_update_statements(
    traced: Traced, f: Factories, alice: Subject, org: db.Organization, model: db.ChatModelConfig
) -> None:
    replied = _chat(f, alice, org, model, status="completed")
    f.chat_message(chat_id=replied.id, role="assistant")
    renamed = _chat(f, alice, org, model)
    pushed = _chat(f, alice, org, model)
    with as_actor(alice):
        read = traced(lambda c: c.mark_read(replied.id))
        update = traced(lambda c: c.update_chat(renamed.id, title="renamed"))
        report = traced(lambda c: c.report_git_reference(pushed.id, git_branch="main"))
        listed = traced(lambda c: c.list_chats(limit=50))
    # BEGIN, lock chat, newest assistant message, UPDATE watermark, read the chat
    # back, NOTIFY, COMMIT.
    _at_most(read, 7)
    # BEGIN, lock chat, UPDATE, NOTIFY, COMMIT.
    _at_most(update, 5)
    _at_most(report, 5)
    # BEGIN, the page (its policy is in the statement), COMMIT.
    _at_most(listed, 3)


def test_file_and_usage_statements(
    traced: Traced, f: Factories, alice: Subject, org: db.Organization, model: db.ChatModelConfig
) -> None:
    f.chat_usage_limit_config(enabled=True, default_limit_micros=10**9, period="month")
    with as_actor(alice):
        upload = traced(
            lambda c: c.upload_file(
                name="a.txt", mimetype="text/plain", data=b"x", organization_id=org.id
            )
        )
        usage = traced(lambda c: c.check_usage_limit(alice.id, org.id))
    # BEGIN, owner's membership (the create policy), INSERT file, COMMIT (no events).
    _at_most(upload, 4)
    # BEGIN, membership + resolve the limit, membership again + the spend, COMMIT: the
    # membership is checked once per statement (the two policies name the same owner/org).
    _at_most(usage, 6)


def test_worker_statements(
    traced: Traced, f: Factories, alice: Subject, org: db.Organization, model: db.ChatModelConfig
) -> None:
    _chat(f, alice, org, model, status="pending", updated_at=LONG_AGO)
    worker = uuid4()
    stale = _chat(
        f,
        alice,
        org,
        model,
        status="running",
        worker_id=uuid4(),
        started_at=LONG_AGO,
        heartbeat_at=LONG_AGO,
        updated_at=LONG_AGO,
    )
    acquire = traced(lambda c: c.acquire_chats(worker, actor=CHATD, num_chats=1))
    heartbeat = traced(lambda c: c.heartbeat(worker, actor=CHATD))
    recover = traced(lambda c: c.recover_stale_chats(LONG_AGO + timedelta(days=1), actor=CHATD))
    assert f.conn.execute("SELECT status FROM chats WHERE id = %s", (stale.id,)).fetchone() == (
        ChatStatus.PENDING.value,
    )
    # BEGIN, claim, NOTIFY, COMMIT.
    _at_most(acquire, 4)
    # BEGIN, the heartbeat UPDATE, COMMIT (no events).
    _at_most(heartbeat, 3)
    # BEGIN, find the stale chats, lock the one found, lock its lease, status
    # pending, NOTIFY, COMMIT.
    _at_most(recover, 7)


def test_purge_statements(
    traced: Traced, f: Factories, alice: Subject, org: db.Organization, model: db.ChatModelConfig
) -> None:
    old = _chat(f, alice, org, model, archived=True, updated_at=LONG_AGO)
    f.chat_message(chat_id=old.id, role="assistant")
    purge = traced(lambda c: c.purge_chats(LONG_AGO + timedelta(days=1), actor=DBPURGE))
    assert f.conn.execute("SELECT id FROM chats WHERE id = %s", (old.id,)).fetchall() == []
    # BEGIN, DeleteOldChats (the subtree and its rows, returning where each chat belonged),
    # NOTIFY (one chat.deleted per chat), COMMIT.
    _at_most(purge, 4)
