"""SQL-level behaviour of the chat queries (SPEC 4.1), through the generated querier."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg import RawCursor

from chatdb.db import Chat, ChatClientType, ChatMode, ChatPlanMode, ChatStatus, Querier
from chatdb.db.chats import GET_CHATS
from chatdb.errors import CheckViolation, DatabaseError, ForeignKeyViolation, NotFound
from chatdb.testing.factories import Factories

OLD = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


def minutes(n: int) -> datetime:
    return OLD + timedelta(minutes=n)


@dataclass
class Env:
    """One owner in one organization with a model config, so each chat costs one INSERT."""

    q: Querier
    f: Factories
    owner_id: UUID
    org_id: UUID
    model_id: UUID

    def chat(self, **kw: Any) -> Chat:
        values: dict[str, Any] = {
            "owner_id": self.owner_id,
            "organization_id": self.org_id,
            "last_model_config_id": self.model_id,
            "updated_at": OLD,
        }
        values.update(kw)
        return self.f.chat(**values)

    def other_owner(self) -> UUID:
        return self.f.user(organization_id=self.org_id).id

    def reload(self, chat: Chat) -> Chat:
        return self.q.get_chat_by_id(id=chat.id)


@pytest.fixture
def env(chatdb_conn: psycopg.Connection[Any]) -> Env:
    f = Factories(chatdb_conn)
    org = f.organization()
    owner = f.user(organization_id=org.id)
    model = f.chat_model_config()
    return Env(Querier(chatdb_conn), f, owner.id, org.id, model.id)


def list_chats(env: Env, **kw: Any) -> list[UUID]:
    params: dict[str, Any] = {
        "owner_id": env.owner_id,
        "archived": None,
        "label_filter": None,
        "has_unread": None,
        "title_query": None,
        "after_id": None,
        "offset": 0,
        "limit": 0,
    }
    params.update(kw)
    return [row.chats.id for row in env.q.get_chats(**params)]


# ---- InsertChat / GetChatByID ------------------------------------------------------------


def test_insert_chat_defaults_absent_labels_and_mcp_ids_to_empty(env: Env) -> None:
    chat = env.q.insert_chat(
        owner_id=env.owner_id,
        organization_id=env.org_id,
        workspace_id=None,
        build_id=None,
        agent_id=None,
        parent_chat_id=None,
        root_chat_id=None,
        last_model_config_id=env.model_id,
        title="hello",
        status=ChatStatus.PENDING,
        mode=None,
        plan_mode=None,
        client_type=ChatClientType.UI,
        mcp_server_ids=None,
        labels=None,
        dynamic_tools=None,
    )
    assert chat.labels == {}
    assert chat.mcp_server_ids == []
    assert chat.status is ChatStatus.PENDING
    assert chat.client_type is ChatClientType.UI
    assert (chat.title, chat.archived, chat.pin_order) == ("hello", False, 0)
    assert chat.workspace_id is None and chat.parent_chat_id is None and chat.mode is None
    assert env.q.get_chat_by_id(id=chat.id) == chat


def test_insert_chat_writes_every_create_time_field(env: Env) -> None:
    agent = env.f.workspace_agent()
    root = env.chat()
    mcp = [uuid4(), uuid4()]
    tools = [{"name": "pick_file", "input_schema": {"type": "object"}}]
    chat = env.q.insert_chat(
        owner_id=env.owner_id,
        organization_id=env.org_id,
        workspace_id=None,
        build_id=agent.build_id,
        agent_id=agent.id,
        parent_chat_id=root.id,
        root_chat_id=root.id,
        last_model_config_id=env.model_id,
        title="child",
        status=ChatStatus.WAITING,
        mode=ChatMode.EXPLORE,
        plan_mode=ChatPlanMode.PLAN,
        client_type=ChatClientType.API,
        mcp_server_ids=mcp,
        labels={"team": "infra"},
        dynamic_tools=tools,
    )
    assert (chat.build_id, chat.agent_id) == (agent.build_id, agent.id)
    assert (chat.parent_chat_id, chat.root_chat_id) == (root.id, root.id)
    assert (chat.mode, chat.plan_mode) == (ChatMode.EXPLORE, ChatPlanMode.PLAN)
    assert chat.mcp_server_ids == mcp
    assert chat.labels == {"team": "infra"}
    assert chat.dynamic_tools == tools


def test_insert_chat_with_unknown_owner_is_a_foreign_key_violation(env: Env) -> None:
    with pytest.raises(ForeignKeyViolation) as info:
        env.q.insert_chat(
            owner_id=uuid4(),
            organization_id=env.org_id,
            workspace_id=None,
            build_id=None,
            agent_id=None,
            parent_chat_id=None,
            root_chat_id=None,
            last_model_config_id=env.model_id,
            title="x",
            status=ChatStatus.WAITING,
            mode=None,
            plan_mode=None,
            client_type=ChatClientType.API,
            mcp_server_ids=None,
            labels=None,
            dynamic_tools=None,
        )
    assert info.value.constraint == "chats_owner_id_fkey"


def test_get_chat_by_id_of_a_missing_chat_is_not_found(env: Env) -> None:
    with pytest.raises(NotFound):
        env.q.get_chat_by_id(id=uuid4())


def test_get_chat_by_id_for_update_locks_the_row_until_commit(
    env: Env, chatdb_conn: psycopg.Connection[Any], chatdb_dsn: str
) -> None:
    chat = env.chat()
    with psycopg.connect(chatdb_dsn, autocommit=True) as other:
        other.execute("SET lock_timeout = '100ms'")
        with chatdb_conn.transaction():
            assert env.q.get_chat_by_id_for_update(id=chat.id).id == chat.id
            with pytest.raises(DatabaseError) as info:
                Querier(other).update_chat_title_by_id(id=chat.id, title="blocked")
            assert info.value.sqlstate == "55P03"  # lock_not_available
        assert Querier(other).update_chat_title_by_id(id=chat.id, title="free").title == "free"


# ---- GetChats ----------------------------------------------------------------------------


def test_get_chats_lists_root_chats_only(env: Env) -> None:
    root = env.chat()
    env.chat(parent_chat_id=root.id, root_chat_id=root.id)
    assert list_chats(env) == [root.id]


def test_get_chats_orders_pinned_by_position_then_newest_updated_then_id(env: Env) -> None:
    same_time = [env.chat(updated_at=minutes(5)) for _ in range(2)]
    newest = env.chat(updated_at=minutes(10))
    oldest = env.chat(updated_at=minutes(1))
    pin2 = env.chat(updated_at=minutes(0), pin_order=2)
    pin1 = env.chat(updated_at=minutes(-1), pin_order=1)
    tie_desc = sorted((c.id for c in same_time), reverse=True)
    assert list_chats(env) == [pin1.id, pin2.id, newest.id, *tie_desc, oldest.id]


def test_get_chats_cursor_pages_through_the_same_order(env: Env) -> None:
    for i in range(7):
        env.chat(updated_at=minutes(i % 3), pin_order=0)
    env.chat(updated_at=minutes(-5), pin_order=1)
    env.chat(updated_at=minutes(50), pin_order=2)
    full = list_chats(env)
    assert len(full) == 9
    pages: list[list[UUID]] = []
    after: UUID | None = None
    # Bounded: a cursor that never advances must fail the assertion below, not hang.
    for _ in range(len(full) + 2):
        page = list_chats(env, after_id=after, limit=2)
        if not page:
            break
        pages.append(page)
        after = page[-1]
    assert [len(p) for p in pages] == [2, 2, 2, 2, 1]
    assert [c for p in pages for c in p] == full


def test_get_chats_cursor_of_a_deleted_chat_yields_an_empty_page(env: Env) -> None:
    env.chat()
    assert list_chats(env, after_id=uuid4()) == []


def test_get_chats_offset_skips_and_zero_limit_means_fifty(env: Env) -> None:
    for i in range(52):
        env.chat(updated_at=minutes(i))
    full = list_chats(env, limit=100)
    assert list_chats(env, limit=0) == full[:50]
    assert list_chats(env, offset=3, limit=2) == full[3:5]


def test_get_chats_filters_by_owner_and_none_lists_every_owner(env: Env) -> None:
    mine = env.chat(updated_at=minutes(2))
    theirs = env.chat(owner_id=env.other_owner(), updated_at=minutes(1))
    assert list_chats(env) == [mine.id]
    assert list_chats(env, owner_id=None) == [mine.id, theirs.id]


def test_get_chats_archived_filter_null_means_both(env: Env) -> None:
    live = env.chat(updated_at=minutes(2))
    gone = env.chat(updated_at=minutes(1), archived=True)
    assert list_chats(env, archived=None) == [live.id, gone.id]
    assert list_chats(env, archived=False) == [live.id]
    assert list_chats(env, archived=True) == [gone.id]


def test_get_chats_label_filter_is_containment(env: Env) -> None:
    both = env.chat(labels={"team": "infra", "env": "prod"}, updated_at=minutes(2))
    team = env.chat(labels={"team": "infra"}, updated_at=minutes(1))
    env.chat(labels={"team": "web"})
    assert list_chats(env, label_filter={"team": "infra"}) == [both.id, team.id]
    assert list_chats(env, label_filter={"team": "infra", "env": "prod"}) == [both.id]
    assert list_chats(env, label_filter={}) == list_chats(env)


def test_get_chats_title_query_is_a_case_insensitive_literal_substring(env: Env) -> None:
    deploy = env.chat(title="Fix the Deploy script", updated_at=minutes(2))
    percent = env.chat(title="100% coverage", updated_at=minutes(1))
    env.chat(title="1000 coverage")
    assert list_chats(env, title_query="dEPLOY") == [deploy.id]
    assert list_chats(env, title_query="0%") == [percent.id]
    assert list_chats(env, title_query="_") == []


def test_get_chats_has_unread_counts_only_live_assistant_messages_past_the_watermark(
    env: Env,
) -> None:
    never_read = env.chat(updated_at=minutes(5))
    env.f.chat_message(chat_id=never_read.id, role="assistant")

    only_user = env.chat(updated_at=minutes(4))
    env.f.chat_message(chat_id=only_user.id, role="user")

    deleted = env.chat(updated_at=minutes(3))
    env.f.chat_message(chat_id=deleted.id, role="assistant", deleted=True)

    read = env.chat(updated_at=minutes(2))
    seen = env.f.chat_message(chat_id=read.id, role="assistant")
    env.q.update_chat_last_read_message_id(id=read.id, last_read_message_id=seen.id)

    newer = env.chat(updated_at=minutes(1))
    first = env.f.chat_message(chat_id=newer.id, role="assistant")
    env.f.chat_message(chat_id=newer.id, role="assistant")
    env.q.update_chat_last_read_message_id(id=newer.id, last_read_message_id=first.id)

    rows = env.q.get_chats(
        owner_id=env.owner_id,
        archived=None,
        label_filter=None,
        has_unread=None,
        title_query=None,
        after_id=None,
        offset=0,
        limit=0,
    )
    assert {r.chats.id: r.has_unread for r in rows} == {
        never_read.id: True,
        only_user.id: False,
        deleted.id: False,
        read.id: False,
        newer.id: True,
    }
    assert list_chats(env, has_unread=True) == [never_read.id, newer.id]
    assert list_chats(env, has_unread=False) == [only_user.id, deleted.id, read.id]


def test_get_chats_carries_the_authorization_filter_placeholder_before_order_by() -> None:
    where, order = GET_CHATS.split("ORDER BY")
    assert "AND /* authz:filter */ TRUE" in where
    assert "/* authz:filter */" not in order


def _plan(conn: psycopg.Connection[Any], params: tuple[Any, ...]) -> str:
    cur = RawCursor(conn)
    cur.execute("EXPLAIN (FORMAT JSON) " + GET_CHATS, params)
    row = cur.fetchone()
    assert row is not None
    return json.dumps(row[0])


def test_get_chats_pages_from_the_list_indexes_without_sorting(
    env: Env, chatdb_conn: psycopg.Connection[Any]
) -> None:
    owners = [env.other_owner() for _ in range(20)]
    chatdb_conn.execute(
        """
        INSERT INTO chats (owner_id, organization_id, last_model_config_id, status, updated_at)
        SELECT (%(owners)s::uuid[])[1 + i %% 20], %(org)s, %(model)s, 'waiting',
               %(old)s - i * interval '1 minute'
        FROM generate_series(1, 4000) AS i
        """,
        {"owners": owners, "org": env.org_id, "model": env.model_id, "old": OLD},
    )
    chatdb_conn.execute("ANALYZE chats")
    cursor = list_chats(env, owner_id=owners[0], limit=30)[-1]

    by_owner = _plan(chatdb_conn, (owners[0], False, None, None, None, cursor, 0, 25))
    assert '"Index Name": "idx_chats_list_by_owner"' in by_owner
    assert "ROW((pin_order > 0), (- pin_order), updated_at, id) < ROW(" in by_owner
    assert '"Sort"' not in by_owner

    everyone = _plan(chatdb_conn, (None, None, None, None, None, cursor, 0, 25))
    assert '"Index Name": "idx_chats_list"' in everyone
    assert '"Sort"' not in everyone


# ---- children, workspaces, agents, family ------------------------------------------------


def test_get_child_chats_by_parent_ids_returns_children_newest_first_with_unread(
    env: Env,
) -> None:
    a, b, c = env.chat(), env.chat(), env.chat()
    a1 = env.chat(parent_chat_id=a.id, root_chat_id=a.id, created_at=minutes(1))
    b1 = env.chat(parent_chat_id=b.id, root_chat_id=b.id, created_at=minutes(2))
    a2 = env.chat(parent_chat_id=a.id, root_chat_id=a.id, created_at=minutes(3), archived=True)
    env.chat(parent_chat_id=c.id, root_chat_id=c.id)
    env.f.chat_message(chat_id=b1.id, role="assistant")

    rows = env.q.get_child_chats_by_parent_ids(parent_ids=[a.id, b.id], archived=None)
    assert [r.chats.id for r in rows] == [a2.id, b1.id, a1.id]
    assert [r.has_unread for r in rows] == [False, True, False]

    live = env.q.get_child_chats_by_parent_ids(parent_ids=[a.id, b.id], archived=False)
    assert [r.chats.id for r in live] == [b1.id, a1.id]
    gone = env.q.get_child_chats_by_parent_ids(parent_ids=[a.id, b.id], archived=True)
    assert [r.chats.id for r in gone] == [a2.id]


def test_get_chats_by_workspace_ids_lists_live_chats_by_workspace_then_newest(env: Env) -> None:
    w1, w2, w3 = (env.f.workspace(organization_id=env.org_id) for _ in range(3))
    old1 = env.chat(workspace_id=w1.id, updated_at=minutes(1))
    new1 = env.chat(workspace_id=w1.id, updated_at=minutes(2))
    only2 = env.chat(workspace_id=w2.id)
    env.chat(workspace_id=w1.id, archived=True, updated_at=minutes(9))
    env.chat(workspace_id=w3.id)
    env.chat()

    got = env.q.get_chats_by_workspace_ids(ids=[w1.id, w2.id])
    by_ws = {w1.id: [new1.id, old1.id], w2.id: [only2.id]}
    assert [c.id for c in got] == [cid for ws in sorted(by_ws) for cid in by_ws[ws]]


def test_get_latest_chat_ids_by_workspace_ids_maps_each_workspace_to_its_newest_chat(
    env: Env,
) -> None:
    w1, w2, w3 = (env.f.workspace(organization_id=env.org_id) for _ in range(3))
    env.chat(workspace_id=w1.id, updated_at=minutes(1))
    newest1 = env.chat(workspace_id=w1.id, updated_at=minutes(3))
    env.chat(workspace_id=w1.id, updated_at=minutes(2))
    only2 = env.chat(workspace_id=w2.id)
    env.chat(workspace_id=w3.id)

    rows = env.q.get_latest_chat_ids_by_workspace_ids(workspace_ids=[w1.id, w2.id, uuid4()])
    assert {r.workspace_id: r.id for r in rows} == {w1.id: newest1.id, w2.id: only2.id}
    assert all((r.owner_id, r.organization_id) == (env.owner_id, env.org_id) for r in rows)


def test_get_active_chats_by_agent_id_lists_unfinished_live_chats_of_that_agent(
    env: Env,
) -> None:
    agent = env.f.workspace_agent()
    active = {
        status: env.chat(agent_id=agent.id, status=status, updated_at=minutes(i))
        for i, status in enumerate(["waiting", "pending", "running", "paused", "requires_action"])
    }
    env.chat(agent_id=agent.id, status="completed")
    env.chat(agent_id=agent.id, status="error")
    env.chat(agent_id=agent.id, status="running", archived=True)
    env.chat(agent_id=env.f.workspace_agent().id, status="running")

    got = env.q.get_active_chats_by_agent_id(agent_id=agent.id)
    assert {c.id for c in got} == {c.id for c in active.values()}


def test_get_chat_family_ids_by_root_id_lists_root_then_descendants_by_creation(
    env: Env,
) -> None:
    root = env.chat(created_at=minutes(10))
    late = env.chat(parent_chat_id=root.id, root_chat_id=root.id, created_at=minutes(3))
    early = env.chat(parent_chat_id=root.id, root_chat_id=root.id, created_at=minutes(1))
    grandchild = env.chat(parent_chat_id=early.id, root_chat_id=root.id, created_at=minutes(2))
    env.chat()
    rows = env.q.get_chat_family_ids_by_root_id(id=root.id)
    assert [r.id for r in rows] == [root.id, early.id, grandchild.id, late.id]


# ---- updates: NULL semantics and updated_at ----------------------------------------------


def test_update_chat_by_id_null_keeps_values_and_bumps_updated_at(env: Env) -> None:
    chat = env.chat(title="keep me", labels={"a": "1"})
    got = env.q.update_chat_by_id(id=chat.id, title=None, labels=None)
    assert (got.title, got.labels) == ("keep me", {"a": "1"})
    assert got.updated_at > OLD


def test_update_chat_by_id_replaces_labels_whole(env: Env) -> None:
    chat = env.chat(title="t", labels={"a": "1", "b": "2"})
    got = env.q.update_chat_by_id(id=chat.id, title="renamed", labels={"c": "3"})
    assert (got.title, got.labels) == ("renamed", {"c": "3"})
    cleared = env.q.update_chat_by_id(id=chat.id, title=None, labels={})
    assert cleared.labels == {}


def test_update_chat_by_id_of_a_missing_chat_is_not_found(env: Env) -> None:
    with pytest.raises(NotFound):
        env.q.update_chat_by_id(id=uuid4(), title="x", labels=None)


def test_update_chat_title_by_id_keeps_updated_at(env: Env) -> None:
    chat = env.chat(title="New Chat")
    got = env.q.update_chat_title_by_id(id=chat.id, title="Automatic title")
    assert got.title == "Automatic title"
    assert got.updated_at == OLD


def test_update_chat_status_nulls_clear_worker_and_error_and_bump_updated_at(env: Env) -> None:
    chat = env.chat(
        status="running",
        worker_id=uuid4(),
        started_at=OLD,
        heartbeat_at=OLD,
        last_error="boom",
    )
    got = env.q.update_chat_status(
        id=chat.id,
        status=ChatStatus.WAITING,
        worker_id=None,
        started_at=None,
        heartbeat_at=None,
        last_error=None,
    )
    assert got.status is ChatStatus.WAITING
    assert (got.worker_id, got.started_at, got.heartbeat_at, got.last_error) == (None,) * 4
    assert got.updated_at > OLD


def test_update_chat_status_sets_the_given_values(env: Env) -> None:
    chat = env.chat()
    worker = uuid4()
    got = env.q.update_chat_status(
        id=chat.id,
        status=ChatStatus.ERROR,
        worker_id=worker,
        started_at=minutes(1),
        heartbeat_at=minutes(2),
        last_error="provider down",
    )
    assert (got.status, got.worker_id, got.last_error) == (
        ChatStatus.ERROR,
        worker,
        "provider down",
    )
    assert (got.started_at, got.heartbeat_at) == (minutes(1), minutes(2))


def test_update_chat_status_preserve_updated_at_writes_the_callers_updated_at(env: Env) -> None:
    chat = env.chat(status="running", worker_id=uuid4(), last_error="x")
    got = env.q.update_chat_status_preserve_updated_at(
        id=chat.id,
        status=ChatStatus.PAUSED,
        worker_id=None,
        started_at=None,
        heartbeat_at=None,
        last_error=None,
        updated_at=minutes(7),
    )
    assert (got.status, got.worker_id, got.last_error) == (ChatStatus.PAUSED, None, None)
    assert got.updated_at == minutes(7)


def test_update_chat_last_model_config_by_id_keeps_updated_at(env: Env) -> None:
    chat = env.chat()
    model = env.f.chat_model_config()
    got = env.q.update_chat_last_model_config_by_id(id=chat.id, last_model_config_id=model.id)
    assert got.last_model_config_id == model.id
    assert got.updated_at == OLD


def test_update_chat_workspace_binding_overwrites_all_three_and_bumps_updated_at(
    env: Env,
) -> None:
    build = env.f.workspace_build(workspace_id=env.f.workspace(organization_id=env.org_id).id)
    agent = env.f.workspace_agent(build_id=build.id)
    chat = env.chat(workspace_id=build.workspace_id, build_id=build.id, agent_id=agent.id)
    ws = env.f.workspace(organization_id=env.org_id)
    got = env.q.update_chat_workspace_binding(
        id=chat.id, workspace_id=ws.id, build_id=None, agent_id=None
    )
    assert (got.workspace_id, got.build_id, got.agent_id) == (ws.id, None, None)
    assert got.updated_at > OLD


def test_update_chat_build_agent_binding_keeps_workspace_and_bumps_updated_at(env: Env) -> None:
    agent = env.f.workspace_agent()
    ws = env.f.workspace(organization_id=env.org_id)
    chat = env.chat(workspace_id=ws.id)
    got = env.q.update_chat_build_agent_binding(
        id=chat.id, build_id=agent.build_id, agent_id=agent.id
    )
    assert (got.workspace_id, got.build_id, got.agent_id) == (ws.id, agent.build_id, agent.id)
    assert got.updated_at > OLD


def test_update_chat_mcp_server_ids_replaces_the_list_and_bumps_updated_at(env: Env) -> None:
    chat = env.chat(mcp_server_ids=[uuid4()])
    ids = [uuid4(), uuid4()]
    got = env.q.update_chat_mcp_server_ids(id=chat.id, mcp_server_ids=ids)
    assert got.mcp_server_ids == ids
    assert got.updated_at > OLD


def test_update_chat_plan_mode_by_id_sets_and_clears_keeping_updated_at(env: Env) -> None:
    chat = env.chat()
    planned = env.q.update_chat_plan_mode_by_id(id=chat.id, plan_mode=ChatPlanMode.PLAN)
    assert planned.plan_mode is ChatPlanMode.PLAN
    normal = env.q.update_chat_plan_mode_by_id(id=chat.id, plan_mode=None)
    assert normal.plan_mode is None
    assert normal.updated_at == OLD


def test_update_chat_last_injected_context_keeps_updated_at(env: Env) -> None:
    chat = env.chat()
    parts = [{"type": "context-file", "context_file_path": "/home/AGENTS.md"}]
    got = env.q.update_chat_last_injected_context(id=chat.id, last_injected_context=parts)
    assert got.last_injected_context == parts
    assert got.updated_at == OLD


def test_update_chat_last_read_message_id_keeps_updated_at(env: Env) -> None:
    chat = env.chat()
    env.q.update_chat_last_read_message_id(id=chat.id, last_read_message_id=42)
    got = env.reload(chat)
    assert got.last_read_message_id == 42
    assert got.updated_at == OLD


# ---- archive / unarchive -----------------------------------------------------------------


def family(env: Env) -> tuple[Chat, Chat, Chat]:
    root = env.chat(created_at=minutes(5), pin_order=1)
    late = env.chat(parent_chat_id=root.id, root_chat_id=root.id, created_at=minutes(2))
    early = env.chat(parent_chat_id=root.id, root_chat_id=root.id, created_at=minutes(1))
    return root, late, early


def test_archiving_a_root_archives_unpins_and_bumps_its_whole_family(env: Env) -> None:
    root, late, early = family(env)
    bystander = env.chat(pin_order=2)

    got = env.q.archive_chat_by_id(id=root.id)
    assert [c.id for c in got] == [root.id, early.id, late.id]
    for chat in got:
        assert chat.archived and chat.pin_order == 0 and chat.updated_at > OLD
        assert env.reload(chat) == chat
    untouched = env.reload(bystander)
    assert (untouched.archived, untouched.pin_order, untouched.updated_at) == (False, 2, OLD)


def test_archiving_a_child_archives_it_alone(env: Env) -> None:
    root, late, early = family(env)
    got = env.q.archive_chat_by_id(id=late.id)
    assert [c.id for c in got] == [late.id]
    assert got[0].archived
    assert not env.reload(root).archived and not env.reload(early).archived
    assert env.reload(root).updated_at == OLD


def test_unarchiving_a_root_restores_the_family_without_pin_order(env: Env) -> None:
    root, late, early = family(env)
    env.q.archive_chat_by_id(id=root.id)
    got = env.q.unarchive_chat_by_id(id=root.id)
    assert [c.id for c in got] == [root.id, early.id, late.id]
    assert all(not c.archived and c.pin_order == 0 for c in got)


def test_unarchiving_a_child_of_an_archived_parent_changes_nothing(env: Env) -> None:
    root, late, early = family(env)
    env.q.archive_chat_by_id(id=root.id)
    assert env.q.unarchive_chat_by_id(id=early.id) == []
    assert all(env.reload(c).archived for c in (root, late, early))


def test_unarchiving_a_child_of_a_live_parent_restores_it_and_its_descendants(
    env: Env,
) -> None:
    root, late, early = family(env)
    below = env.chat(parent_chat_id=early.id, root_chat_id=root.id, created_at=minutes(3))
    assert [c.id for c in env.q.archive_chat_by_id(id=early.id)] == [early.id, below.id]
    got = env.q.unarchive_chat_by_id(id=early.id)
    assert [c.id for c in got] == [early.id, below.id]
    assert not any(env.reload(c).archived for c in (root, late, early, below))


def test_archiving_a_missing_chat_affects_nothing(env: Env) -> None:
    assert env.q.archive_chat_by_id(id=uuid4()) == []


# ---- pinning -----------------------------------------------------------------------------


def pins(env: Env, *chats: Chat) -> list[int]:
    return [env.reload(c).pin_order for c in chats]


def test_pinning_appends_after_the_owners_pins_and_keeps_updated_at(env: Env) -> None:
    a = env.chat(pin_order=1)
    b = env.chat(pin_order=2)
    theirs = env.chat(owner_id=env.other_owner(), pin_order=1)
    target = env.chat()
    env.q.pin_chat_by_id(id=target.id)
    assert pins(env, a, b, target, theirs) == [1, 2, 3, 1]
    assert env.reload(target).updated_at == OLD


def test_pinning_heals_gaps_and_duplicates_in_displayed_order(env: Env) -> None:
    older_dup = env.chat(pin_order=4, updated_at=minutes(1))
    newer_dup = env.chat(pin_order=4, updated_at=minutes(2))
    first = env.chat(pin_order=2)
    last = env.chat(pin_order=9)
    target = env.chat()
    env.q.pin_chat_by_id(id=target.id)
    assert pins(env, first, newer_dup, older_dup, last, target) == [1, 2, 3, 4, 5]
    assert env.reload(older_dup).updated_at == minutes(1)


def test_pinning_an_already_pinned_chat_moves_it_to_the_end(env: Env) -> None:
    a, b, c = env.chat(pin_order=1), env.chat(pin_order=2), env.chat(pin_order=3)
    env.q.pin_chat_by_id(id=a.id)
    assert pins(env, b, c, a) == [1, 2, 3]


def test_pinning_an_archived_or_child_chat_is_refused_by_a_check(env: Env) -> None:
    archived = env.chat(archived=True)
    with pytest.raises(CheckViolation) as info:
        env.q.pin_chat_by_id(id=archived.id)
    assert info.value.constraint == "chats_pin_order_not_archived_check"
    root = env.chat()
    child = env.chat(parent_chat_id=root.id, root_chat_id=root.id)
    with pytest.raises(CheckViolation) as info:
        env.q.pin_chat_by_id(id=child.id)
    assert info.value.constraint == "chats_pin_order_root_only_check"


def test_unpinning_shifts_later_pins_down_and_keeps_updated_at(env: Env) -> None:
    a, b, c = env.chat(pin_order=1), env.chat(pin_order=2), env.chat(pin_order=3)
    env.q.unpin_chat_by_id(id=b.id)
    assert pins(env, a, b, c) == [1, 0, 2]
    assert [env.reload(x).updated_at for x in (a, b, c)] == [OLD] * 3


def test_unpinning_heals_gaps_and_duplicates(env: Env) -> None:
    a = env.chat(pin_order=3, updated_at=minutes(1))
    b = env.chat(pin_order=3, updated_at=minutes(2))
    target = env.chat(pin_order=5)
    c = env.chat(pin_order=8)
    env.q.unpin_chat_by_id(id=target.id)
    assert pins(env, b, a, c, target) == [1, 2, 3, 0]


def test_unpinning_a_chat_that_is_not_pinned_changes_nothing(env: Env) -> None:
    a, b = env.chat(pin_order=2), env.chat(pin_order=5)
    target = env.chat()
    env.q.unpin_chat_by_id(id=target.id)
    assert pins(env, a, b, target) == [2, 5, 0]


@pytest.mark.parametrize(
    ("move_to", "expected"),
    [
        (1, [2, 3, 1, 4]),  # c moves up: a and b shift down
        (4, [1, 2, 4, 3]),  # c moves down: d shifts up
        (3, [1, 2, 3, 4]),  # same place
        (99, [1, 2, 4, 3]),  # clamped to the pinned count
        (0, [2, 3, 1, 4]),  # clamped to 1
    ],
)
def test_update_chat_pin_order_moves_within_the_clamped_range(
    env: Env, move_to: int, expected: list[int]
) -> None:
    a, b, c, d = (env.chat(pin_order=i) for i in (1, 2, 3, 4))
    env.q.update_chat_pin_order(id=c.id, pin_order=move_to)
    assert pins(env, a, b, c, d) == expected
    assert env.reload(c).updated_at == OLD


def test_update_chat_pin_order_heals_gaps_while_moving(env: Env) -> None:
    a, b, c = env.chat(pin_order=2), env.chat(pin_order=5), env.chat(pin_order=9)
    env.q.update_chat_pin_order(id=a.id, pin_order=2)
    assert pins(env, b, a, c) == [1, 2, 3]


def test_update_chat_pin_order_of_an_unpinned_chat_changes_nothing(env: Env) -> None:
    a = env.chat(pin_order=3)
    target = env.chat()
    env.q.update_chat_pin_order(id=target.id, pin_order=1)
    assert pins(env, a, target) == [3, 0]
