"""Bad input through the workflows (issue 8, item 14): typed refusals, nothing written.

A table of hostile calls over every public text, JSON, list and time parameter of the
workflows (``Chats``, ``ProviderConfig``) and the ``Store`` options: each must raise
``InvalidInput`` (a ``chatdb.errors`` type) and leave every table as it was. Before the
fix these raised UnicodeEncodeError, RecursionError, TypeError or ValueError, or wrote.
Also: ``update_chat`` on an archived chat, and a disabled default model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from chatdb import db
from chatdb.authz import CHAT_ACCESS, CHATD, OWNER, Subject
from chatdb.db import Querier
from chatdb.dbcrypt import Cipher, Ciphers, ensure_active_keys, generate_key
from chatdb.errors import ChatArchived, InvalidInput
from chatdb.ops import Chats, ProviderConfig
from chatdb.store import AsyncStore, Store
from chatdb.testing.factories import Factories
from tests.authz.method_cases import fingerprint

pytestmark = pytest.mark.timeout(120)


def _deep(levels: int) -> object:
    value: object = "bottom"
    for _ in range(levels):
        value = {"k": value}
    return value


DEEP = _deep(10_000)
SURROGATE = "lone \ud800 surrogate"
NAIVE = datetime(2025, 1, 1, 12, 0)


@dataclass
class Env:
    chats: Chats
    providers: ProviderConfig
    alice: Subject
    admin: Subject
    org: db.Organization
    chat: db.Chat
    message: db.ChatMessage
    waiting: db.Chat  # requires_action, with a pending dynamic tool call


@pytest.fixture
def env(
    chatdb_dsn: str, chatdb_factories: Factories, chatdb_conn: psycopg.Connection[Any]
) -> Iterator[Env]:
    f = chatdb_factories
    org = f.organization()
    user = f.user(organization_id=org.id, rbac_roles=[CHAT_ACCESS])
    alice = Subject(id=user.id, name="alice", site_roles=(CHAT_ACCESS,), memberships={org.id})
    boss = f.user(organization_id=org.id, rbac_roles=[OWNER])
    admin = Subject(id=boss.id, name="admin", site_roles=(OWNER,), memberships={org.id})
    model = f.chat_model_config(is_default=True)
    chat = f.chat(owner_id=alice.id, organization_id=org.id, last_model_config_id=model.id)
    message = f.chat_message(chat_id=chat.id, role="user", created_by=alice.id)
    waiting = f.chat(
        owner_id=alice.id,
        organization_id=org.id,
        last_model_config_id=model.id,
        status="requires_action",
        dynamic_tools=[{"name": "lookup"}],
    )
    f.chat_message(
        chat_id=waiting.id,
        role="assistant",
        content=[{"type": "tool-call", "tool_call_id": "c1", "tool_name": "lookup"}],
    )
    ciphers = Ciphers(Cipher(generate_key()))
    ensure_active_keys(chatdb_conn, ciphers)
    with Store(chatdb_dsn, querier_factory=Querier, min_size=1, max_size=2) as store:
        yield Env(
            Chats(store),
            ProviderConfig(store, ciphers=ciphers),
            alice,
            admin,
            org,
            chat,
            message,
            waiting,
        )


def _create(e: Env, **kw: Any) -> object:
    return e.chats.create_chat(organization_id=e.org.id, actor=e.alice, **kw)


BAD_CALLS: dict[str, Callable[[Env], object]] = {
    # create_chat: every text, JSON and list parameter
    "create title surrogate": lambda e: _create(e, title=SURROGATE),
    "create content surrogate": lambda e: _create(e, content=SURROGATE),
    "create content part surrogate": lambda e: _create(
        e, content=[{"type": "text", "text": SURROGATE}]
    ),
    "create content nul": lambda e: _create(e, content="nul \x00 here"),
    "create system prompt surrogate": lambda e: _create(e, system_prompt=SURROGATE),
    "create label value surrogate": lambda e: _create(e, labels={"k": SURROGATE}),
    "create nested label value": lambda e: _create(e, labels={"k": {"nested": "v"}}),
    "create deeply nested dynamic tools": lambda e: _create(
        e, dynamic_tools=[{"name": "t", "schema": DEEP}]
    ),
    "create non-JSON dynamic tools": lambda e: _create(
        e, dynamic_tools=[{"name": "t", "schema": object()}]
    ),
    "create NaN in dynamic tools": lambda e: _create(
        e, dynamic_tools=[{"name": "t", "limit": float("nan")}]
    ),
    "create dynamic tools not a list": lambda e: _create(e, dynamic_tools=42),
    "create mcp ids holding None": lambda e: _create(e, mcp_server_ids=[None]),
    "create mcp ids not a list": lambda e: _create(e, mcp_server_ids=7),
    "create non-Subject actor": lambda e: e.chats.create_chat(
        organization_id=e.org.id, actor="alice"
    ),
    # messages
    "send surrogate": lambda e: e.chats.send_message(e.chat.id, SURROGATE, actor=e.alice),
    "send content None": lambda e: e.chats.send_message(e.chat.id, None, actor=e.alice),
    "send non-Subject actor": lambda e: e.chats.send_message(e.chat.id, "hi", actor=object()),
    "edit surrogate": lambda e: e.chats.edit_message(e.message.id, SURROGATE, actor=e.alice),
    "tool results None": lambda e: e.chats.submit_tool_results(e.waiting.id, None, actor=e.alice),
    "tool result deeply nested": lambda e: e.chats.submit_tool_results(
        e.waiting.id, [{"tool_call_id": "c1", "result": DEEP}], actor=e.alice
    ),
    "tool result surrogate": lambda e: e.chats.submit_tool_results(
        e.waiting.id, [{"tool_call_id": "c1", "result": SURROGATE}], actor=e.alice
    ),
    # chat settings and the list
    "update title surrogate": lambda e: e.chats.update_chat(
        e.chat.id, title=SURROGATE, actor=e.alice
    ),
    "update nested label": lambda e: e.chats.update_chat(
        e.chat.id, labels={"k": ["v"]}, actor=e.alice
    ),
    "list title query surrogate": lambda e: e.chats.list_chats(
        title_query=SURROGATE, actor=e.alice
    ),
    "list nested label filter": lambda e: e.chats.list_chats(labels={"k": {"v": 1}}, actor=e.alice),
    # workers: time parameters
    "acquire naive now": lambda e: e.chats.acquire_chats(uuid4(), actor=CHATD, now=NAIVE),
    "heartbeat naive now": lambda e: e.chats.heartbeat(uuid4(), actor=CHATD, now=NAIVE),
    "recover naive threshold": lambda e: e.chats.recover_stale_chats(NAIVE, actor=CHATD),
    "acquire now not a datetime": lambda e: e.chats.acquire_chats(
        uuid4(), actor=CHATD, now="2025-01-01"
    ),
    # provider configuration (the key is encrypted before it is written)
    "provider key surrogate": lambda e: e.providers.create(
        "openai", api_key=SURROGATE, actor=e.admin
    ),
    "provider name surrogate": lambda e: e.providers.create(
        "openai", display_name=SURROGATE, actor=e.admin
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_bad_workflow_input_is_refused_typed_and_writes_nothing(
    env: Env, chatdb_conn: psycopg.Connection[Any], case: str
) -> None:
    before = fingerprint(chatdb_conn)
    with pytest.raises(InvalidInput):
        BAD_CALLS[case](env)
    assert fingerprint(chatdb_conn) == before


@pytest.mark.parametrize(("min_size", "max_size"), [(5, 2), (-1, 2), (1, 0), ("1", 2)])
async def test_bad_pool_sizes_are_refused_typed(
    chatdb_dsn: str, min_size: Any, max_size: Any
) -> None:
    with pytest.raises(InvalidInput):
        Store(chatdb_dsn, querier_factory=Querier, min_size=min_size, max_size=max_size)
    with pytest.raises(InvalidInput):
        AsyncStore(chatdb_dsn, querier_factory=Querier, min_size=min_size, max_size=max_size)


def test_update_chat_on_an_archived_chat_is_refused_and_keeps_updated_at(
    env: Env, chatdb_conn: psycopg.Connection[Any]
) -> None:
    long_ago = datetime(2024, 1, 1, tzinfo=UTC)
    chatdb_conn.execute(
        "UPDATE chats SET archived = true, updated_at = %s WHERE id = %s",
        (long_ago, env.chat.id),
    )
    before = fingerprint(chatdb_conn)
    with pytest.raises(ChatArchived):
        env.chats.update_chat(env.chat.id, title="renamed", actor=env.alice)
    with pytest.raises(ChatArchived):
        env.chats.update_chat(env.chat.id, labels={"k": "v"}, actor=env.alice)
    assert fingerprint(chatdb_conn) == before
    row = chatdb_conn.execute("SELECT updated_at FROM chats WHERE id = %s", (env.chat.id,))
    assert row.fetchone() == (long_ago,)


def test_a_disabled_model_is_never_picked_as_the_default(
    env: Env, chatdb_conn: psycopg.Connection[Any]
) -> None:
    chatdb_conn.execute("UPDATE chat_model_configs SET enabled = false WHERE is_default")
    before = fingerprint(chatdb_conn)
    with pytest.raises(InvalidInput, match="default"):
        env.chats.create_chat(organization_id=env.org.id, content="hi", actor=env.alice)
    assert fingerprint(chatdb_conn) == before
