"""What each workflow sends to the server, counted from libpq's trace and pinned.

The Store here has one connection, traced while the workflow runs, so every statement and
round trip (BEGIN and COMMIT included) is counted. A re-load of a chat the transaction already
read or locked shows up as one more statement; these numbers are ceilings a change may lower
but not raise without a reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chatdb import db
from chatdb.authz import Subject, as_actor
from chatdb.db import ChatStatus, Querier
from chatdb.ops import Chats
from chatdb.store import Store
from chatdb.testing.statements import StatementCount, count_statements


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


def test_create_chat_is_at_most_five_round_trips(
    traced: Traced, alice: Subject, org: db.Organization, model: db.ChatModelConfig
) -> None:
    with as_actor(alice):
        for _ in range(2):  # statements are prepared on their second use
            traced(lambda c: c.create_chat(organization_id=org.id, title="warm up"))
        sent = traced(lambda c: c.create_chat(organization_id=org.id, title="counted"))
    assert sent.round_trips <= 5, sent.statements


def test_send_message_to_an_idle_chat_is_at_most_five_round_trips(
    traced: Traced, alice: Subject, org: db.Organization, model: db.ChatModelConfig
) -> None:
    with as_actor(alice):
        chat = traced.chats.create_chat(organization_id=org.id, title="idle").chat
        for _ in range(2):
            traced.chats.send_message(chat.id, "warm up")
        traced.store.in_tx(
            lambda q: q.update_chat_status(
                id=chat.id,
                status=ChatStatus.WAITING,
                worker_id=None,
                started_at=None,
                heartbeat_at=None,
                last_error=None,
            )
        )
        sent = traced(lambda c: c.send_message(chat.id, "counted"))
    assert sent.round_trips <= 5, sent.statements


def test_promote_queued_is_at_most_seven_round_trips(
    traced: Traced, alice: Subject, org: db.Organization, model: db.ChatModelConfig
) -> None:
    with as_actor(alice):
        chat = traced.chats.create_chat(organization_id=org.id, title="busy").chat
        traced.chats.send_message(chat.id, "first, queued behind the running turn")
        traced.chats.send_message(chat.id, "second")
        queued = traced.chats.send_message(chat.id, "third")
        assert queued.queued is not None
        sent = traced(lambda c: c.promote_queued(chat.id, queued.queued.id))
    assert sent.round_trips <= 7, sent.statements
