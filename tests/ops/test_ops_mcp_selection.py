"""Per-message MCP server selection (seed: "mcp_server_ids ... changeable per-message with
nil-means-no-change semantics"): send_message and promotion replace the chat's selection in
the same transaction; absent means no change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

import pytest

from chatdb import db
from chatdb.authz import Subject
from chatdb.db import Querier
from chatdb.errors import ChatArchived, InvalidInput, NotFound
from chatdb.ops import Chats

State = dict[str, object]


@pytest.fixture
def chat(chats: Chats, org: db.Organization, alice: Subject, model: Any) -> db.Chat:
    return chats.create_chat(organization_id=org.id, actor=alice).chat


def selection(q: Querier, chat_id: UUID) -> list[UUID]:
    return list(q.get_chat_by_id(id=chat_id).mcp_server_ids)


def test_an_admitted_message_replaces_the_selection_and_absent_keeps_it(
    chats: Chats, q: Querier, chat: db.Chat, alice: Subject
) -> None:
    first, second = uuid4(), uuid4()
    sent = chats.send_message(chat.id, "use both", mcp_server_ids=[first, second], actor=alice)
    assert sent.message is not None
    assert list(sent.chat.mcp_server_ids) == [first, second]
    assert selection(q, chat.id) == [first, second]
    chats.send_message(chat.id, "no change", actor=alice)  # queued: the chat is pending
    assert selection(q, chat.id) == [first, second]
    chats.send_message(chat.id, "none at all", mcp_server_ids=[], actor=alice)
    assert selection(q, chat.id) == []


def test_a_queued_message_applies_its_selection_at_once(
    chats: Chats, q: Querier, chat: db.Chat, alice: Subject
) -> None:
    chats.send_message(chat.id, "start", actor=alice)
    server = uuid4()
    sent = chats.send_message(chat.id, "later", mcp_server_ids=[server], actor=alice)
    assert sent.was_queued
    assert selection(q, chat.id) == [server]


def test_promotion_replaces_the_selection_in_the_same_transaction(
    chats: Chats, q: Querier, chat: db.Chat, alice: Subject
) -> None:
    chats.send_message(chat.id, "start", actor=alice)
    chats.send_message(chat.id, "queued", actor=alice)
    server = uuid4()
    promoted = chats.promote_queued(chat.id, mcp_server_ids=[server, server], actor=alice)
    assert list(promoted.chat.mcp_server_ids) == [server]
    assert selection(q, chat.id) == [server]


def test_a_refused_send_or_promotion_leaves_the_selection_alone(
    chats: Chats,
    q: Querier,
    chat: db.Chat,
    alice: Subject,
    db_state: Callable[[], State],
) -> None:
    before = db_state()
    with pytest.raises(NotFound):  # empty queue
        chats.promote_queued(chat.id, mcp_server_ids=[uuid4()], actor=alice)
    with pytest.raises(InvalidInput):
        chats.send_message(chat.id, "hi", mcp_server_ids=["not-a-uuid"], actor=alice)  # type: ignore[list-item]
    assert db_state() == before
    chats.archive(chat.id, actor=alice)
    before = db_state()
    with pytest.raises(ChatArchived):
        chats.send_message(chat.id, "hi", mcp_server_ids=[uuid4()], actor=alice)
    assert db_state() == before


def test_resending_the_same_selection_writes_nothing_more(
    chats: Chats, q: Querier, chat: db.Chat, alice: Subject
) -> None:
    server = uuid4()
    chats.send_message(chat.id, "first", mcp_server_ids=[server], actor=alice)
    updated_at = q.get_chat_by_id(id=chat.id).updated_at
    chats.send_message(chat.id, "queued", mcp_server_ids=[server], actor=alice)
    assert q.get_chat_by_id(id=chat.id).updated_at == updated_at
