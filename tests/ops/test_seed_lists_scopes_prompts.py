"""Seed behaviours of the chat list, API-key scopes, the system prompt fallback and provider
deletion, through the workflows and the authorized querier."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from chatdb import db
from chatdb.authz import CHATD, SYSTEM, Subject, api_key_scope
from chatdb.authz.wrapper import AuthzQuerier
from chatdb.db import ChatMessageRole, Querier
from chatdb.errors import ForeignKeyViolation, InvalidInput, NotAuthorized
from chatdb.ops import Chats
from chatdb.store import Store
from chatdb.testing.factories import Factories

State = dict[str, object]


# ---- list_chats with children ------------------------------------------------------------


def tree(entries: Any) -> list[Any]:
    return [(e.chats.title, tree(e.children)) for e in entries]


def test_list_chats_embeds_the_sub_agents_of_each_root_at_every_depth(
    chats: Chats, org: db.Organization, alice: Subject, bob: Subject, model: Any
) -> None:
    root = chats.create_chat(organization_id=org.id, title="root", actor=alice).chat
    older = chats.create_chat(parent_chat_id=root.id, title="older", actor=CHATD).chat
    chats.create_chat(parent_chat_id=older.id, title="grandchild", actor=CHATD)
    gone = chats.create_chat(parent_chat_id=root.id, title="gone", actor=CHATD).chat
    chats.create_chat(parent_chat_id=root.id, title="newer", actor=CHATD)
    chats.create_chat(organization_id=org.id, title="bob's", actor=bob)
    chats.archive(gone.id, actor=alice)

    flat = chats.list_chats(actor=alice)
    assert tree(flat) == [("root", [])]  # without include_children, roots only
    live = chats.list_chats(include_children=True, actor=alice)
    assert tree(live) == [("root", [("newer", []), ("older", [("grandchild", [])])])]
    both = chats.list_chats(archived=None, include_children=True, actor=alice)
    assert tree(both) == [("root", [("newer", []), ("gone", []), ("older", [("grandchild", [])])])]
    chats.archive(root.id, actor=alice)
    gone_tree = chats.list_chats(archived=True, include_children=True, actor=alice)
    assert tree(gone_tree) == [
        ("root", [("newer", []), ("gone", []), ("older", [("grandchild", [])])])
    ]


# ---- API-key scopes ----------------------------------------------------------------------


def scoped(subject: Subject, name: str) -> Subject:
    return dataclasses.replace(subject, scope=api_key_scope(name))


def test_a_chat_read_key_lists_and_reads_but_changes_nothing(
    chats: Chats,
    org: db.Organization,
    alice: Subject,
    model: Any,
    db_state: Callable[[], State],
) -> None:
    chat = chats.create_chat(organization_id=org.id, title="mine", actor=alice).chat
    key = scoped(alice, "chat:read")
    assert [e.chats.id for e in chats.list_chats(actor=key)] == [chat.id]
    before = db_state()
    with pytest.raises(NotAuthorized):
        chats.send_message(chat.id, "hi", actor=key)
    with pytest.raises(NotAuthorized):
        chats.create_chat(organization_id=org.id, content="new", actor=key)
    with pytest.raises(NotAuthorized):
        chats.archive(chat.id, actor=key)
    assert db_state() == before


def test_a_chat_wildcard_key_does_all_chat_work_and_nothing_else(
    store: Store[Querier], chats: Chats, org: db.Organization, admin: Subject, model: Any
) -> None:
    """Even a site owner's key scoped to chat:* cannot touch the deployment config."""
    key = scoped(admin, "chat:*")
    created = chats.create_chat(organization_id=org.id, content="go", actor=key)
    chats.send_message(created.chat.id, "more", actor=key)
    chats.archive(created.chat.id, actor=key)
    with store.querier() as plain:
        az = AuthzQuerier(plain, actor=key)
        with pytest.raises(NotAuthorized):
            az.get_chat_providers()
        assert AuthzQuerier(plain, actor=admin).get_chat_providers() is not None


@pytest.mark.parametrize(
    ("scope", "allowed"),
    [
        ("chat:create", {"create"}),
        ("chat:read", {"read"}),
        ("chat:update", {"update"}),
        ("chat:delete", {"delete"}),
        ("chat:*", {"create", "read", "update", "delete"}),
        ("all", {"create", "read", "update", "delete"}),
    ],
)
def test_each_chat_scope_allows_exactly_its_actions(scope: str, allowed: set[str]) -> None:
    from chatdb.authz import Action, ResourceType

    got = {
        a.value
        for a in (Action.CREATE, Action.READ, Action.UPDATE, Action.DELETE)
        if api_key_scope(scope).allows(ResourceType.CHAT, a)
    }
    assert got == allowed
    assert api_key_scope(scope).allows(ResourceType.DEPLOYMENT_CONFIG, Action.READ) is (
        scope == "all"
    )


def test_an_unknown_scope_is_refused() -> None:
    with pytest.raises(InvalidInput):
        api_key_scope("chat:everything")


# ---- system prompt fallback --------------------------------------------------------------


def test_an_unreadable_system_prompt_setting_falls_back_to_the_built_in_default(
    store: Store[Querier],
    conn: psycopg.Connection[Any],
    org: db.Organization,
    alice: Subject,
    model: Any,
) -> None:
    conn.execute(
        "INSERT INTO site_configs (key, value) VALUES"
        " ('agents_include_default_system_prompt', 'maybe'),"
        " ('agents_chat_system_prompt', 'Custom site prompt.')"
    )
    chats = Chats(store, default_system_prompt="Built-in prompt.")
    created = chats.create_chat(organization_id=org.id, content="hello", actor=alice)
    system = [m for m in created.messages if m.role is ChatMessageRole.SYSTEM]
    assert [m.content for m in system] == [[{"type": "text", "text": "Built-in prompt."}]]
    # The rest of the transaction went on: the chat and its first message are there.
    assert created.chat.status.value == "pending"
    assert created.messages[-1].role is ChatMessageRole.USER


# ---- providers own their model configs ---------------------------------------------------


def test_deleting_a_provider_deletes_its_unused_model_configs_and_is_refused_while_used(
    store: Store[Querier],
    chats: Chats,
    f: Factories,
    q: Querier,
    org: db.Organization,
    alice: Subject,
    db_state: Callable[[], State],
) -> None:
    used = f.chat_model_config(provider="anthropic", is_default=True)
    spare = f.chat_model_config(provider="google")
    chats.create_chat(organization_id=org.id, content="hi", actor=alice)
    anthropic = q.get_chat_provider_by_provider(provider="anthropic")
    google = q.get_chat_provider_by_provider(provider="google")
    with store.querier() as plain:
        az = AuthzQuerier(plain, actor=SYSTEM)
        az.delete_chat_provider_by_id(id=google.id)
        assert [m.id for m in q.get_chat_model_configs()] == [used.id]
        assert spare.id not in {m.id for m in q.get_chat_model_configs()}
        before = db_state()
        with pytest.raises(ForeignKeyViolation):
            az.delete_chat_provider_by_id(id=anthropic.id)
        assert db_state() == before
