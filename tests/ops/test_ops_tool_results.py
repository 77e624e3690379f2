"""submit_tool_results (SPEC 5): client-executed dynamic tools resume a requires_action chat."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from chatdb import db
from chatdb.authz import Subject
from chatdb.db import ChatMessageRole, ChatStatus, Querier
from chatdb.errors import ChatArchived, Conflict, InvalidInput
from chatdb.ops import Chats, ToolResult
from chatdb.testing.factories import Factories

State = dict[str, object]
Spawn = Callable[[Callable[[], object]], tuple[threading.Thread, list[object]]]


def call(call_id: str, name: str) -> dict[str, object]:
    return {"type": "tool-call", "tool_call_id": call_id, "tool_name": name, "args": {"q": call_id}}


@pytest.fixture
def chat(f: Factories, org: db.Organization, alice: Subject, model: db.ChatModelConfig) -> db.Chat:
    """Paused on two dynamic calls (c1, c3); the built-in call c2 already has its result."""
    chat = f.chat(
        owner_id=alice.id,
        organization_id=org.id,
        last_model_config_id=model.id,
        status="requires_action",
        dynamic_tools=[{"name": "lookup"}, {"name": "notify"}],
    )
    f.chat_message(chat_id=chat.id, role="user")
    f.chat_message(
        chat_id=chat.id,
        role="assistant",
        content=[
            {"type": "text", "text": "Let me check."},
            call("c1", "lookup"),
            call("c2", "execute"),
            call("c3", "notify"),
        ],
    )
    f.chat_message(
        chat_id=chat.id,
        role="tool",
        content=[{"type": "tool-result", "tool_call_id": "c2", "tool_name": "execute"}],
    )
    return chat


def tool_messages(q: Querier, chat_id: Any) -> list[Any]:
    return [
        m.content
        for m in q.get_chat_messages_by_chat_id(chat_id=chat_id, after_id=0)
        if m.role is ChatMessageRole.TOOL
    ]


def test_results_for_exactly_the_pending_dynamic_calls_are_persisted_and_the_chat_resumes(
    chats: Chats, q: Querier, chat: db.Chat, alice: Subject
) -> None:
    submitted = chats.submit_tool_results(
        chat.id,
        [
            {"tool_call_id": "c3", "result": {"sent": True}},
            ToolResult("c1", result=["a", "b"], is_error=False),
        ],
        actor=alice,
    )

    assert submitted.chat.status is ChatStatus.PENDING
    assert q.get_chat_by_id(id=chat.id).status is ChatStatus.PENDING
    # One tool message per call, in the order the model made the calls.
    assert [m.content for m in submitted.messages] == [
        [
            {
                "type": "tool-result",
                "tool_call_id": "c1",
                "tool_name": "lookup",
                "result": ["a", "b"],
                "is_error": False,
                "provider_executed": False,
            }
        ],
        [
            {
                "type": "tool-result",
                "tool_call_id": "c3",
                "tool_name": "notify",
                "result": {"sent": True},
                "is_error": False,
                "provider_executed": False,
            }
        ],
    ]
    assert len(tool_messages(q, chat.id)) == 3  # c2's built-in result and the two new ones


def test_results_that_do_not_match_the_pending_calls_exactly_are_refused(
    chats: Chats, chat: db.Chat, alice: Subject, db_state: Callable[[], State]
) -> None:
    before = db_state()
    for ids in (
        ["c1"],  # missing c3
        ["c1", "c3", "c4"],  # unexpected c4
        ["c1", "c2", "c3"],  # c2 is built-in and answered already
        ["c1", "zz"],  # both
    ):
        with pytest.raises(InvalidInput) as exc:
            chats.submit_tool_results(chat.id, [ToolResult(i) for i in ids], actor=alice)
        assert exc.value.field == "results", ids
    assert db_state() == before


def test_malformed_results_are_refused_before_the_database_is_asked(
    chats: Chats, chat: db.Chat, alice: Subject, db_state: Callable[[], State]
) -> None:
    before = db_state()
    malformed: list[Any] = [
        [],
        [ToolResult("c1"), ToolResult("c1")],
        [{"tool_call_id": ""}],
        [{"tool_call_id": "c1", "is_error": "yes"}],
        [{"tool_call_id": "c1", "result": object()}],
        "c1",
    ]
    for results in malformed:
        with pytest.raises(InvalidInput):
            chats.submit_tool_results(chat.id, results, actor=alice)
    assert db_state() == before


def test_results_are_only_accepted_while_the_chat_requires_action(
    chats: Chats,
    chat: db.Chat,
    alice: Subject,
    conn: psycopg.Connection[Any],
    db_state: Callable[[], State],
) -> None:
    for status in ("waiting", "pending", "running", "completed", "error", "paused"):
        conn.execute("UPDATE chats SET status = %s WHERE id = %s", (status, chat.id))
        before = db_state()
        with pytest.raises(Conflict):
            chats.submit_tool_results(chat.id, [ToolResult("c1"), ToolResult("c3")], actor=alice)
        assert db_state() == before, status


def test_results_for_an_archived_chat_are_refused(
    chats: Chats, chat: db.Chat, alice: Subject, conn: psycopg.Connection[Any]
) -> None:
    conn.execute("UPDATE chats SET archived = true WHERE id = %s", (chat.id,))
    with pytest.raises(ChatArchived):
        chats.submit_tool_results(chat.id, [ToolResult("c1"), ToolResult("c3")], actor=alice)


def test_of_two_concurrent_submissions_the_first_wins_and_the_second_conflicts(
    chats: Chats,
    q: Querier,
    chat: db.Chat,
    alice: Subject,
    chatdb_dsn: str,
    wait_for_lock_waiters: Callable[[int], None],
    in_thread: Spawn,
) -> None:
    results = [ToolResult("c1", "one"), ToolResult("c3", "three")]
    # Hold the chat row so both submissions are in flight at once, then let them race.
    with psycopg.connect(chatdb_dsn) as holder:
        holder.execute("SELECT 1 FROM chats WHERE id = %s FOR UPDATE", (chat.id,))
        runs = [
            in_thread(lambda: chats.submit_tool_results(chat.id, results, actor=alice))
            for _ in range(2)
        ]
        wait_for_lock_waiters(2)
        holder.rollback()
    for thread, _ in runs:
        thread.join(10)
    outcomes = [out[0] for _, out in runs]

    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "SubmittedToolResults"]
    assert len(tool_messages(q, chat.id)) == 3  # c2's, plus one submission's two results
    assert q.get_chat_by_id(id=chat.id).status is ChatStatus.PENDING
