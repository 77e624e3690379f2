"""SQL-level behaviour of the cost analytics queries (SPEC 4.8): summary, per model, per chat
(rolled up to the root) and per user, through the generated querier."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest

from chatdb.db import Chat, Querier
from chatdb.testing.factories import Factories

START = datetime(2024, 3, 1, tzinfo=UTC)
END = datetime(2024, 4, 1, tzinfo=UTC)
INSIDE = START + timedelta(days=3)


@dataclass
class Env:
    q: Querier
    f: Factories
    owner_id: UUID
    org_id: UUID

    def chat(self, **kw: Any) -> Chat:
        return self.f.chat(owner_id=self.owner_id, organization_id=self.org_id, **kw)

    def assistant(self, chat: Chat, **kw: Any) -> None:
        """An assistant message inside the window, in the chat's model unless told."""
        kw.setdefault("created_at", INSIDE)
        kw.setdefault("model_config_id", chat.last_model_config_id)
        self.f.chat_message(chat_id=chat.id, role="assistant", **kw)


@pytest.fixture
def env(chatdb_conn: psycopg.Connection[Any]) -> Env:
    f = Factories(chatdb_conn)
    org = f.organization()
    owner = f.user(organization_id=org.id)
    return Env(Querier(chatdb_conn), f, owner.id, org.id)


def window(env: Env) -> dict[str, Any]:
    return {"owner_id": env.owner_id, "start": START, "end": END}


# ---- GetChatCostSummary ------------------------------------------------------------------


def test_summary_of_nothing_is_all_zeros(env: Env) -> None:
    s = env.q.get_chat_cost_summary(**window(env))
    assert (s.total_cost_micros, s.priced_message_count, s.unpriced_message_count) == (0, 0, 0)
    assert (s.total_input_tokens, s.total_output_tokens, s.total_runtime_ms) == (0, 0, 0)
    assert (s.total_cache_read_tokens, s.total_cache_creation_tokens) == (0, 0)


def test_summary_sums_the_owners_assistant_messages_in_the_window(env: Env) -> None:
    chat = env.chat()
    env.assistant(
        chat,
        total_cost_micros=100,
        input_tokens=10,
        output_tokens=20,
        cache_read_tokens=3,
        cache_creation_tokens=4,
        runtime_ms=1_000,
        created_at=START,
    )
    env.assistant(
        chat,
        total_cost_micros=50,
        input_tokens=1,
        output_tokens=2,
        cache_read_tokens=None,
        runtime_ms=500,
        deleted=True,  # soft-deleted messages still count: the money was spent
    )
    env.assistant(chat, total_cost_micros=None, input_tokens=7, runtime_ms=None)  # unpriced
    # ignored: other roles, outside the window, another owner
    env.f.chat_message(chat_id=chat.id, role="user", total_cost_micros=1_000, created_at=INSIDE)
    env.assistant(chat, total_cost_micros=2_000, created_at=END)
    env.assistant(chat, total_cost_micros=4_000, created_at=START - timedelta(microseconds=1))
    env.assistant(env.f.chat(), total_cost_micros=8_000)

    s = env.q.get_chat_cost_summary(**window(env))
    assert s.total_cost_micros == 150
    assert (s.priced_message_count, s.unpriced_message_count) == (2, 1)
    assert (s.total_input_tokens, s.total_output_tokens) == (18, 22)
    assert (s.total_cache_read_tokens, s.total_cache_creation_tokens) == (3, 4)
    assert s.total_runtime_ms == 1_500


# ---- GetChatCostPerModel -----------------------------------------------------------------


def test_per_model_groups_by_model_config_most_expensive_first(env: Env) -> None:
    cheap = env.f.chat_model_config(provider="openai", model="mini", display_name="Mini")
    dear = env.f.chat_model_config(provider="anthropic", model="big", display_name="Big")
    chat = env.chat(last_model_config_id=cheap.id)
    env.assistant(chat, model_config_id=cheap.id, total_cost_micros=5, input_tokens=100)
    env.assistant(chat, model_config_id=cheap.id, total_cost_micros=None, runtime_ms=7)
    env.assistant(chat, model_config_id=dear.id, total_cost_micros=90, cache_read_tokens=9)

    rows = env.q.get_chat_cost_per_model(**window(env))
    assert [(r.model_config_id, r.display_name, r.provider, r.model) for r in rows] == [
        (dear.id, "Big", "anthropic", "big"),
        (cheap.id, "Mini", "openai", "mini"),
    ]
    big, mini = rows
    assert (big.total_cost_micros, big.message_count, big.total_cache_read_tokens) == (90, 1, 9)
    assert (mini.total_cost_micros, mini.message_count, mini.total_input_tokens) == (5, 2, 100)
    assert (mini.priced_message_count, mini.unpriced_message_count) == (1, 1)
    assert mini.total_runtime_ms == 7


def test_per_model_keeps_deleted_models_and_messages_without_a_model(env: Env) -> None:
    gone = env.f.chat_model_config(display_name="Retired", deleted=True)
    chat = env.chat()
    env.assistant(chat, model_config_id=gone.id, total_cost_micros=3)
    env.assistant(chat, model_config_id=None, total_cost_micros=1)
    rows = env.q.get_chat_cost_per_model(**window(env))
    assert [(r.model_config_id, r.display_name, r.total_cost_micros) for r in rows] == [
        (gone.id, "Retired", 3),
        (None, "", 1),
    ]


# ---- GetChatCostPerChat ------------------------------------------------------------------


def test_per_chat_rolls_sub_agents_up_into_their_root(env: Env) -> None:
    root = env.chat(title="Root")
    child = env.chat(title="Child", parent_chat_id=root.id, root_chat_id=root.id)
    grandchild = env.chat(title="Grandchild", parent_chat_id=child.id, root_chat_id=root.id)
    lone = env.chat(title="Lone")
    env.assistant(root, total_cost_micros=1, runtime_ms=10)
    env.assistant(child, total_cost_micros=2, runtime_ms=20)
    env.assistant(grandchild, total_cost_micros=4, runtime_ms=40, deleted=True)
    env.assistant(lone, total_cost_micros=100, output_tokens=5)

    rows = env.q.get_chat_cost_per_chat(**window(env))
    assert [(r.root_chat_id, r.chat_title, r.total_cost_micros) for r in rows] == [
        (lone.id, "Lone", 100),
        (root.id, "Root", 7),
    ]
    assert (rows[1].message_count, rows[1].total_runtime_ms) == (3, 70)
    assert rows[0].total_output_tokens == 5


def test_per_chat_counts_a_sub_agent_whose_root_was_deleted_under_its_own_id(
    env: Env, chatdb_conn: psycopg.Connection[Any]
) -> None:
    root = env.chat(title="Root")
    child = env.chat(title="Child", parent_chat_id=root.id, root_chat_id=root.id)
    env.assistant(child, total_cost_micros=9)
    chatdb_conn.execute("DELETE FROM chats WHERE id = %s", (root.id,))
    rows = env.q.get_chat_cost_per_chat(**window(env))
    assert [(r.root_chat_id, r.chat_title, r.total_cost_micros) for r in rows] == [
        (child.id, "Child", 9)
    ]


def test_per_chat_only_counts_the_owners_chats(env: Env) -> None:
    env.assistant(env.f.chat(), total_cost_micros=5)
    assert env.q.get_chat_cost_per_chat(**window(env)) == []


# ---- GetChatCostPerUser ------------------------------------------------------------------


def per_user(env: Env, **kw: Any) -> list[Any]:
    params: dict[str, Any] = {"start": START, "end": END, "search": None, "limit": 50, "offset": 0}
    params.update(kw)
    return env.q.get_chat_cost_per_user(**params)


def spend(env: Env, cost: int, **user: Any) -> UUID:
    owner = env.f.user(organization_id=env.org_id, **user)
    chat = env.f.chat(owner_id=owner.id, organization_id=env.org_id)
    env.assistant(chat, total_cost_micros=cost, input_tokens=cost, runtime_ms=1)
    return owner.id


def test_per_user_rolls_up_every_owner_most_expensive_first(env: Env) -> None:
    a = spend(env, 10, username="alice", name="Alice A")
    b = spend(env, 30, username="bob")
    second_chat = env.f.chat(owner_id=a, organization_id=env.org_id)
    env.assistant(second_chat, total_cost_micros=25, deleted=True)
    env.assistant(second_chat, total_cost_micros=1_000, created_at=END)
    rows = per_user(env)
    assert [(r.user_id, r.total_cost_micros) for r in rows] == [(a, 35), (b, 30)]
    alice = rows[0]
    assert (alice.username, alice.name, alice.chat_count, alice.message_count) == (
        "alice",
        "Alice A",
        2,
        2,
    )
    assert (alice.total_input_tokens, alice.total_runtime_ms, alice.total_count) == (10, 1, 2)


def test_per_user_search_matches_username_or_name_case_insensitively(env: Env) -> None:
    by_username = spend(env, 3, username="jdoe", name="Someone")
    by_name = spend(env, 2, username="x1", name="Jane DOE")
    spend(env, 1, username="other", name="Other")
    found = per_user(env, search="doe")
    assert [r.user_id for r in found] == [by_username, by_name]
    assert [r.total_count for r in found] == [2, 2]


def test_per_user_search_treats_wildcards_literally(env: Env) -> None:
    literal = spend(env, 2, username="a_b", name="")
    spend(env, 1, username="axb", name="100%")
    assert [r.user_id for r in per_user(env, search="a_b")] == [literal]
    assert [r.username for r in per_user(env, search="%")] == ["axb"]


def test_per_user_pages_with_limit_and_offset_and_reports_the_total(env: Env) -> None:
    ids = [spend(env, cost) for cost in (50, 40, 30, 20, 10)]
    page = per_user(env, limit=2, offset=2)
    assert [r.user_id for r in page] == ids[2:4]
    assert {r.total_count for r in page} == {5}
    assert per_user(env, limit=2, offset=5) == []
