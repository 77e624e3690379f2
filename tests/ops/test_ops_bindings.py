"""Stale workspace bindings (seed: "if the bound agent is missing or no longer reachable,
chatd re-resolves against the latest build and persists the new binding")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chatdb import db
from chatdb.authz import CHATD, Subject
from chatdb.errors import Conflict, NotAuthorized, NotFound
from chatdb.ops import Chats
from chatdb.testing.factories import Factories

State = dict[str, object]


@pytest.fixture
def bound(
    chats: Chats, f: Factories, org: db.Organization, alice: Subject, model: Any
) -> tuple[db.Chat, db.Workspace]:
    ws = f.workspace(organization_id=org.id, owner_id=alice.id)
    build = f.workspace_build(workspace_id=ws.id, build_number=1)
    agent = f.workspace_agent(build_id=build.id)
    chat = chats.create_chat(
        organization_id=org.id,
        workspace_id=ws.id,
        build_id=build.id,
        agent_id=agent.id,
        actor=alice,
    ).chat
    return chat, ws


def test_a_stale_binding_is_repaired_to_the_latest_builds_first_agent(
    chats: Chats, f: Factories, bound: tuple[db.Chat, db.Workspace]
) -> None:
    chat, ws = bound
    rebuilt = f.workspace_build(workspace_id=ws.id, build_number=2)
    first = f.workspace_agent(build_id=rebuilt.id, name="main")
    f.workspace_agent(build_id=rebuilt.id, name="sidecar")
    f.workspace_build(workspace_id=ws.id, build_number=0)  # an older build number
    repaired = chats.refresh_workspace_binding(chat.id, actor=CHATD)
    assert (repaired.workspace_id, repaired.build_id, repaired.agent_id) == (
        ws.id,
        rebuilt.id,
        first.id,
    )


def test_a_current_binding_is_left_alone(
    chats: Chats, q: Any, bound: tuple[db.Chat, db.Workspace], db_state: Callable[[], State]
) -> None:
    chat, _ = bound
    before = db_state()
    assert chats.refresh_workspace_binding(chat.id, actor=CHATD) == q.get_chat_by_id(id=chat.id)
    assert db_state() == before


def test_a_latest_build_without_an_agent_or_no_workspace_is_refused_and_writes_nothing(
    chats: Chats,
    f: Factories,
    org: db.Organization,
    alice: Subject,
    bound: tuple[db.Chat, db.Workspace],
    db_state: Callable[[], State],
) -> None:
    chat, ws = bound
    f.workspace_build(workspace_id=ws.id, build_number=2)  # stopped: no agent yet
    unbound = chats.create_chat(organization_id=org.id, actor=alice).chat
    before = db_state()
    with pytest.raises(NotFound):
        chats.refresh_workspace_binding(chat.id, actor=CHATD)
    with pytest.raises(Conflict):
        chats.refresh_workspace_binding(unbound.id, actor=CHATD)
    assert db_state() == before


def test_another_user_cannot_rebind_the_chat(
    chats: Chats,
    f: Factories,
    bob: Subject,
    bound: tuple[db.Chat, db.Workspace],
    db_state: Callable[[], State],
) -> None:
    chat, ws = bound
    f.workspace_agent(build_id=f.workspace_build(workspace_id=ws.id, build_number=2).id)
    before = db_state()
    with pytest.raises(NotAuthorized):
        chats.refresh_workspace_binding(chat.id, actor=bob)
    assert db_state() == before
