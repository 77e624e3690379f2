"""Every workflow that changes a chat, and the events it must publish (issue 13, item 1).

One row per workflow and situation: the kinds written here by hand from docs/events.md, in
the order of the changes the workflow makes (a chat's events arrive in that order). Each row
runs its workflow three times against a real listener on both channels:

1. in a transaction that rolls back: nothing arrives and no row changes;
2. in a transaction left open while another connection commits a marker: nothing arrives
   before the commit;
3. committed: exactly the expected events arrive, about the acting owner's chats.

``chat.status=<s>`` stands for a status event with that status.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from chatdb import db
from chatdb.authz import CHATD, DBPURGE, Subject, as_actor
from chatdb.db import Querier
from chatdb.events import CHANNEL, PENDING_CHANNEL, Event, Kind, Listener
from chatdb.events.model import ChatRef
from chatdb.ops import Chats, PullRequestStatus, ToolResult
from chatdb.store import Store
from chatdb.testing.factories import Factories
from tests.authz.method_cases import fingerprint
from tests.events.conftest import events_of, read_until

pytestmark = pytest.mark.timeout(60)

LONG_AGO = datetime(2024, 1, 1, tzinfo=UTC)
WORKER = uuid4()


@dataclass
class World:
    chats: Chats
    f: Factories
    alice: Subject
    org: db.Organization
    model: db.ChatModelConfig

    def chat(self, **kw: Any) -> db.Chat:
        """A chat of alice's, written directly (no events)."""
        return self.f.chat(
            owner_id=self.alice.id,
            organization_id=self.org.id,
            last_model_config_id=self.model.id,
            **kw,
        )

    def family(self, **kw: Any) -> list[db.Chat]:
        """Root, child and grandchild of alice's."""
        root = self.chat(**kw)
        child = self.chat(parent_chat_id=root.id, root_chat_id=root.id, **kw)
        grandchild = self.chat(parent_chat_id=child.id, root_chat_id=root.id, **kw)
        return [root, child, grandchild]


Setup = Callable[[World], Any]
Act = Callable[[World, Any], object]


@dataclass(frozen=True)
class Case:
    name: str
    setup: Setup
    act: Act
    expected: list[str]


def _requires_action(w: World) -> db.Chat:
    chat = w.chat(status="requires_action", dynamic_tools=[{"name": "lookup"}])
    w.f.chat_message(
        chat_id=chat.id,
        role="assistant",
        content=[{"type": "tool-call", "tool_call_id": "c1", "tool_name": "lookup"}],
    )
    return chat


def _queued(w: World, **kw: Any) -> db.Chat:
    chat = w.chat(**kw)
    w.f.chat_queued_message(chat_id=chat.id)
    return chat


def _with_reply(w: World) -> db.Chat:
    chat = w.chat()
    w.f.chat_message(chat_id=chat.id, role="assistant")
    return chat


def _stale_binding(w: World) -> db.Chat:
    ws = w.f.workspace(organization_id=w.org.id, owner_id=w.alice.id)
    build = w.f.workspace_build(workspace_id=ws.id, build_number=1)
    w.f.workspace_agent(build_id=build.id)
    return w.chat(workspace_id=ws.id)


def _edit_target(w: World) -> db.ChatMessage:
    chat = w.chat()
    message = w.f.chat_message(chat_id=chat.id, role="user", created_by=w.alice.id)
    w.f.chat_message(chat_id=chat.id, role="assistant")
    return message


def _as_alice(fn: Callable[[World, Any], object]) -> Act:
    def act(w: World, state: Any) -> object:
        with as_actor(w.alice):
            return fn(w, state)

    return act


PENDING = ["chat.status=pending", "chat.pending"]
SOON = datetime.now(UTC) + timedelta(days=1)

CASES = [
    # chat created / updated
    Case(
        "create_chat without a message",
        lambda w: None,
        _as_alice(lambda w, _: w.chats.create_chat(organization_id=w.org.id, title="t")),
        ["chat.created"],
    ),
    Case(
        "create_chat with a message (pending)",
        lambda w: None,
        _as_alice(lambda w, _: w.chats.create_chat(organization_id=w.org.id, content="go")),
        ["chat.created", "chat.pending", "messages.appended"],
    ),
    Case(
        "create_chat of a sub-agent",
        lambda w: w.chat(),
        _as_alice(lambda w, parent: w.chats.create_chat(parent_chat_id=parent.id, title="sub")),
        ["chat.created"],
    ),
    Case(
        "update_chat",
        lambda w: w.chat(),
        _as_alice(lambda w, c: w.chats.update_chat(c.id, title="renamed", labels={"k": "v"})),
        ["chat.updated"],
    ),
    Case(
        "refresh_workspace_binding",
        _stale_binding,
        _as_alice(lambda w, c: w.chats.refresh_workspace_binding(c.id)),
        ["chat.updated"],
    ),
    # archived / unarchived / deleted: one event per chat of the family
    Case(
        "archive a family",
        lambda w: w.family(),
        _as_alice(lambda w, fam: w.chats.archive(fam[0].id)),
        ["chat.archived"] * 3,
    ),
    Case(
        "archive a pinned chat (unpins it)",
        lambda w: w.chat(pin_order=1),
        _as_alice(lambda w, c: w.chats.archive(c.id)),
        ["chat.pins", "chat.archived"],
    ),
    Case(
        "unarchive a family",
        lambda w: w.family(archived=True),
        _as_alice(lambda w, fam: w.chats.unarchive(fam[0].id)),
        ["chat.unarchived"] * 3,
    ),
    Case(
        "purge_chats of an archived family",
        lambda w: w.family(archived=True, updated_at=LONG_AGO),
        lambda w, _: w.chats.purge_chats(SOON, actor=DBPURGE, limit=1),
        ["chat.deleted"] * 3,
    ),
    Case(
        "purge_expired_chats",
        lambda w: w.chat(archived=True, updated_at=LONG_AGO),
        lambda w, _: w.chats.purge_expired_chats(actor=DBPURGE),
        ["chat.deleted"],
    ),
    # messages appended / edited, queue changed, a chat became pending
    Case(
        "send_message to an idle chat",
        lambda w: w.chat(status="waiting"),
        _as_alice(lambda w, c: w.chats.send_message(c.id, "hi")),
        ["messages.appended", *PENDING],
    ),
    Case(
        "send_message to a busy chat (queued)",
        lambda w: w.chat(status="pending"),
        _as_alice(lambda w, c: w.chats.send_message(c.id, "later")),
        ["queue.changed"],
    ),
    Case(
        "send_message to an idle chat with a queue (FIFO)",
        lambda w: _queued(w, status="waiting"),
        _as_alice(lambda w, c: w.chats.send_message(c.id, "after the queue")),
        ["queue.changed", "queue.changed", "messages.appended", *PENDING],
    ),
    Case(
        "send_message interrupting a running chat",
        lambda w: w.chat(
            status="running", worker_id=WORKER, started_at=LONG_AGO, heartbeat_at=LONG_AGO
        ),
        _as_alice(lambda w, c: w.chats.send_message(c.id, "stop", busy_behavior="interrupt")),
        ["messages.appended", *PENDING],
    ),
    Case(
        "send_message selecting MCP servers",
        lambda w: (w.chat(status="waiting"), w.f.mcp_server_config()),
        _as_alice(lambda w, s: w.chats.send_message(s[0].id, "use it", mcp_server_ids=[s[1].id])),
        ["chat.updated", "messages.appended", *PENDING],
    ),
    Case(
        "promote_queued",
        lambda w: _queued(w, status="waiting"),
        _as_alice(lambda w, c: w.chats.promote_queued(c.id)),
        ["queue.changed", "messages.appended", *PENDING],
    ),
    Case(
        "auto_promote",
        lambda w: _queued(w, status="completed"),
        _as_alice(lambda w, c: w.chats.auto_promote(c.id)),
        ["queue.changed", "messages.appended", *PENDING],
    ),
    Case(
        "edit_message",
        _edit_target,
        _as_alice(lambda w, m: w.chats.edit_message(m.id, "edited")),
        ["messages.edited", "messages.appended", *PENDING],
    ),
    Case(
        "submit_tool_results",
        _requires_action,
        _as_alice(lambda w, c: w.chats.submit_tool_results(c.id, [ToolResult("c1", "ok")])),
        ["messages.appended", *PENDING],
    ),
    # status changed by the workers
    Case(
        "acquire_chats",
        lambda w: w.chat(status="pending"),
        lambda w, _: w.chats.acquire_chats(WORKER, actor=CHATD),
        ["chat.status=running"],
    ),
    Case(
        "recover_stale_chats: heartbeat lost",
        lambda w: w.chat(
            status="running", worker_id=WORKER, started_at=LONG_AGO, heartbeat_at=LONG_AGO
        ),
        lambda w, _: w.chats.recover_stale_chats(datetime.now(UTC), actor=CHATD),
        PENDING,
    ),
    Case(
        "recover_stale_chats: tool results never came",
        lambda w: w.chat(status="requires_action", updated_at=LONG_AGO),
        lambda w, _: w.chats.recover_stale_chats(datetime.now(UTC), actor=CHATD),
        ["chat.status=error"],
    ),
    Case(
        "heartbeat (changes no chat state)",
        lambda w: w.chat(
            status="running", worker_id=WORKER, started_at=LONG_AGO, heartbeat_at=LONG_AGO
        ),
        lambda w, _: w.chats.heartbeat(WORKER, actor=CHATD),
        [],
    ),
    # pins and read state
    Case(
        "pin",
        lambda w: w.chat(),
        _as_alice(lambda w, c: w.chats.pin(c.id)),
        ["chat.pins"],
    ),
    Case(
        "unpin",
        lambda w: w.chat(pin_order=1),
        _as_alice(lambda w, c: w.chats.unpin(c.id)),
        ["chat.pins"],
    ),
    Case(
        "reorder_pin",
        lambda w: (w.chat(pin_order=1), w.chat(pin_order=2)),
        _as_alice(lambda w, pins: w.chats.reorder_pin(pins[0].id, 2)),
        ["chat.pins"],
    ),
    Case(
        "mark_read",
        _with_reply,
        _as_alice(lambda w, c: w.chats.mark_read(c.id)),
        ["chat.read"],
    ),
    # diff status
    Case(
        "report_git_reference",
        lambda w: w.chat(),
        _as_alice(lambda w, c: w.chats.report_git_reference(c.id, git_branch="fix/login")),
        ["chat.diff_status"],
    ),
    Case(
        "record_pull_request",
        lambda w: w.chat(),
        _as_alice(
            lambda w, c: w.chats.record_pull_request(
                c.id,
                PullRequestStatus(url="https://example.invalid/pr/1"),
                stale_at=datetime.now(UTC),
            )
        ),
        ["chat.diff_status"],
    ),
]


def describe(event: Event) -> str:
    if event.kind is Kind.STATUS_CHANGED:
        return f"{event.kind.value}={event.data['status']}"
    return event.kind.value


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_workflow_publishes_its_events_on_commit_only(
    case: Case,
    listener: Listener,
    store: Store[Querier],
    chats: Chats,
    f: Factories,
    alice: Subject,
    org: db.Organization,
    model: db.ChatModelConfig,
    conn: psycopg.Connection[Any],
    marker: Callable[[Any], Event],
) -> None:
    world = World(chats, f, alice, org, model)
    state = case.setup(world)
    # Markers need no chat row: the barrier is about a chat that does not exist.
    anchor = ChatRef(uuid4(), alice.id, org.id, None)
    sub = listener.subscribe(channels=(CHANNEL, PENDING_CHANNEL))
    read_until(sub, marker(anchor))
    rows = fingerprint(conn)

    with store.transaction():
        case.act(world, state)
        raise psycopg.Rollback()
    assert read_until(sub, marker(anchor)) == [], "a rolled-back workflow published"
    assert fingerprint(conn) == rows

    with store.transaction():
        case.act(world, state)
        assert read_until(sub, marker(anchor)) == [], "published before the commit"
    got = events_of(read_until(sub, marker(anchor)))

    assert [describe(e) for e in got] == case.expected
    assert all((e.owner_id, e.organization_id) == (alice.id, org.id) for e in got)


def test_every_kind_is_covered_by_a_row() -> None:
    covered = {k.split("=")[0] for c in CASES for k in c.expected}
    assert covered == {k.value for k in Kind}


def test_the_purge_is_the_only_statement_that_deletes_chats() -> None:
    """A new statement deleting chats (directly, or by the cascade from deleting their owner
    or organization) needs its workflow to publish chat.deleted: this names it when it comes."""
    queries = Path(__file__).resolve().parents[2] / "sql" / "queries"
    deleting = set()
    for path in sorted(queries.glob("*.sql")):
        for block in path.read_text().split("-- name: ")[1:]:
            if re.search(r"\bDELETE\s+FROM\s+(chats|users|organizations)\b", block, re.I):
                deleting.add(block.split()[0])
    assert deleting == {"DeleteOldChats"}, "publish chat.deleted for these (docs/events.md)"
