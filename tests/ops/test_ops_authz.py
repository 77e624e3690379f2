"""Every workflow acts as an actor through the authorization wrapper, and fails closed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any
from uuid import UUID, uuid4

import pytest

from chatdb import db
from chatdb.authz import (
    CHATD,
    Action,
    Check,
    Object,
    RecordingAuthorizer,
    ResourceType,
    Scope,
    Subject,
    as_actor,
    default_authorizer,
)
from chatdb.db import ChatStatus, Querier
from chatdb.errors import NotAuthorized
from chatdb.ops import Chats, ToolResult
from chatdb.store import Store
from chatdb.testing.factories import Factories

State = dict[str, object]
Workflow = Callable[[Chats, db.Chat, db.ChatMessage, Subject | None], object]


@pytest.fixture
def chat(f: Factories, org: db.Organization, alice: Subject, model: db.ChatModelConfig) -> db.Chat:
    """Alice's chat waiting for a dynamic tool result, with a queued message."""
    chat = f.chat(
        owner_id=alice.id,
        organization_id=org.id,
        last_model_config_id=model.id,
        status="requires_action",
        dynamic_tools=[{"name": "lookup"}],
    )
    f.chat_queued_message(chat_id=chat.id)
    return chat


@pytest.fixture
def message(f: Factories, chat: db.Chat, alice: Subject) -> db.ChatMessage:
    user = f.chat_message(chat_id=chat.id, role="user", created_by=alice.id)
    f.chat_message(
        chat_id=chat.id,
        role="assistant",
        content=[{"type": "tool-call", "tool_call_id": "c1", "tool_name": "lookup"}],
    )
    return user


WORKFLOWS: dict[str, Workflow] = {
    "create_chat": lambda c, chat, m, a: c.create_chat(
        organization_id=chat.organization_id, owner_id=chat.owner_id, content="hi", actor=a
    ),
    "create_sub_agent": lambda c, chat, m, a: c.create_chat(parent_chat_id=chat.id, actor=a),
    "send_message": lambda c, chat, m, a: c.send_message(chat.id, "hi", actor=a),
    "promote_queued": lambda c, chat, m, a: c.promote_queued(chat.id, actor=a),
    "auto_promote": lambda c, chat, m, a: c.auto_promote(chat.id, actor=a),
    "edit_message": lambda c, chat, m, a: c.edit_message(m.id, "edited", actor=a),
    "submit_tool_results": lambda c, chat, m, a: c.submit_tool_results(
        chat.id, [ToolResult("c1", "ok")], actor=a
    ),
    "archive": lambda c, chat, m, a: c.archive(chat.id, actor=a),
    "unarchive": lambda c, chat, m, a: c.unarchive(chat.id, actor=a),
    "pin": lambda c, chat, m, a: c.pin(chat.id, actor=a),
    "unpin": lambda c, chat, m, a: c.unpin(chat.id, actor=a),
    "reorder_pin": lambda c, chat, m, a: c.reorder_pin(chat.id, 1, actor=a),
    "mark_read": lambda c, chat, m, a: c.mark_read(chat.id, actor=a),
    "update_chat": lambda c, chat, m, a: c.update_chat(chat.id, labels={"k": "v"}, actor=a),
    "check_usage_limit": lambda c, chat, m, a: c.check_usage_limit(chat.owner_id, actor=a),
}


def refused(
    chats: Chats,
    chat: db.Chat,
    message: db.ChatMessage,
    actor: Subject | None,
    db_state: Callable[[], State],
    names: set[str],
) -> list[str]:
    """The workflows (by name) that were NOT refused with NotAuthorized, or wrote something."""
    wrong: list[str] = []
    for name in sorted(names):
        before = db_state()
        try:
            WORKFLOWS[name](chats, chat, message, actor)
        except NotAuthorized:
            pass
        except Exception as exc:
            wrong.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        else:
            wrong.append(f"{name}: allowed")
        if db_state() != before:
            wrong.append(f"{name}: wrote to the database")
    return wrong


def test_every_workflow_refuses_without_an_actor_and_writes_nothing(
    chats: Chats, chat: db.Chat, message: db.ChatMessage, db_state: Callable[[], State]
) -> None:
    assert refused(chats, chat, message, None, db_state, set(WORKFLOWS)) == []


def test_every_workflow_refuses_another_user_and_writes_nothing(
    chats: Chats,
    chat: db.Chat,
    message: db.ChatMessage,
    bob: Subject,
    db_state: Callable[[], State],
) -> None:
    assert refused(chats, chat, message, bob, db_state, set(WORKFLOWS)) == []


def test_a_reader_that_may_not_update_is_refused_and_writes_nothing(
    chats: Chats,
    chat: db.Chat,
    message: db.ChatMessage,
    alice: Subject,
    db_state: Callable[[], State],
) -> None:
    # The chat's own owner, through a scope that lets her read chats and nothing else.
    reader = replace(alice, scope=Scope.restricted("read-only", [(ResourceType.CHAT, Action.READ)]))
    assert default_authorizer().allowed(
        reader, Action.READ, Object.chat(chat.id, alice.id, chat.organization_id)
    )
    mutating = set(WORKFLOWS) - {"create_chat", "create_sub_agent", "check_usage_limit"}
    assert refused(chats, chat, message, reader, db_state, mutating) == []


def test_the_workflows_succeed_for_the_owner(
    chats: Chats, chat: db.Chat, message: db.ChatMessage, alice: Subject
) -> None:
    """The refusals above are about the actor, not about the calls being broken."""
    for name in ("submit_tool_results", "send_message", "promote_queued", "edit_message"):
        WORKFLOWS[name](chats, chat, message, alice)
    for name in ("pin", "reorder_pin", "unpin", "mark_read", "update_chat", "archive"):
        WORKFLOWS[name](chats, chat, message, alice)
    WORKFLOWS["unarchive"](chats, chat, message, alice)
    for name in ("auto_promote", "create_chat", "create_sub_agent", "check_usage_limit"):
        WORKFLOWS[name](chats, chat, message, alice)


def test_the_actor_can_come_from_the_context(
    chats: Chats, chat: db.Chat, message: db.ChatMessage, alice: Subject
) -> None:
    with as_actor(alice):
        sent = chats.send_message(chat.id, "queued via context")
    assert sent.was_queued


def test_an_explicit_actor_wins_over_the_context(
    chats: Chats, chat: db.Chat, message: db.ChatMessage, alice: Subject, bob: Subject
) -> None:
    with as_actor(alice), pytest.raises(NotAuthorized):
        chats.send_message(chat.id, "not bob's", actor=bob)


def test_a_refusal_after_a_write_rolls_the_whole_workflow_back(
    store: Store[Querier],
    org: db.Organization,
    alice: Subject,
    model: Any,
    db_state: Callable[[], State],
) -> None:
    # Allow creating the chat row, refuse the next step (inserting its messages).
    recorder = RecordingAuthorizer(
        default_authorizer(), deny=lambda c: c.action is Action.UPDATE and c.kind == "object"
    )
    before = db_state()
    with pytest.raises(NotAuthorized):
        Chats(store, authorizer=recorder).create_chat(
            organization_id=org.id, content="hi", actor=alice
        )
    actions = [(c.action, c.object.type) for c in recorder.calls]
    assert (Action.CREATE, ResourceType.CHAT) in actions  # the INSERT ran ...
    assert actions[-1] == (Action.UPDATE, ResourceType.CHAT)  # ... then a step was refused
    assert db_state() == before


def test_each_step_of_a_workflow_is_checked(
    store: Store[Querier], chat: db.Chat, message: db.ChatMessage, alice: Subject, q: Querier
) -> None:
    recorder = RecordingAuthorizer(default_authorizer())
    q.update_chat_status(
        id=chat.id,
        status=ChatStatus.COMPLETED,
        worker_id=None,
        started_at=None,
        heartbeat_at=None,
        last_error=None,
    )

    Chats(store, authorizer=recorder).send_message(chat.id, "hi", actor=alice)

    chat_object: tuple[Action, UUID | None] = (Action.READ, chat.id)
    seen = [(c.action, c.object.id) for c in recorder.calls]
    assert seen == [
        chat_object,  # GetChatByIDForUpdate
        (Action.UPDATE, chat.id),  # the workflow's own check after the lock
        # The chat has a queued message, and delivery is FIFO: the queue's head is admitted
        # and the new message queued behind it.
        (Action.UPDATE, chat.id),  # PopNextQueuedMessage
        (Action.UPDATE, chat.id),  # InsertChatQueuedMessage
        (Action.UPDATE, chat.id),  # InsertChatMessages
        (Action.UPDATE, chat.id),  # UpdateChatStatus
    ]
    assert all(c == Check(c.action, c.object, "object") for c in recorder.calls)


def test_worker_actions_need_an_explicit_system_subject(chats: Chats, alice: Subject) -> None:
    worker = uuid4()
    with as_actor(CHATD), pytest.raises(NotAuthorized):
        chats.heartbeat(worker, actor=None)  # type: ignore[arg-type]  # the context is not used
    with pytest.raises(NotAuthorized):
        chats.heartbeat(worker, actor=alice)
    assert chats.heartbeat(worker, actor=CHATD) == set()
