"""SQL-level behaviour of the telemetry and retention queries (SPEC 4.9), through the generated
querier. Telemetry rows must carry no PII: no titles, labels, content, display names or URLs."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest

from chatdb.authz import DBPURGE
from chatdb.authz.wrapper import AuthzQuerier
from chatdb.db import (
    ChatStatus,
    GetChatModelConfigsForTelemetryRow,
    GetChatsUpdatedAfterRow,
    Querier,
)
from chatdb.db.chat_telemetry import GetChatMessageSummariesPerChatRow
from chatdb.testing.factories import Factories

T0 = datetime(2024, 5, 1, tzinfo=UTC)
PII_FIELDS = {"title", "labels", "last_error", "content", "display_name", "url", "options"}


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def q(chatdb_conn: psycopg.Connection[Any]) -> Querier:
    return Querier(chatdb_conn)


@pytest.fixture
def f(chatdb_conn: psycopg.Connection[Any]) -> Factories:
    return Factories(chatdb_conn)


def field_names(cls: type[Any]) -> set[str]:
    return {fld.name for fld in dataclasses.fields(cls)}


def test_telemetry_rows_carry_no_pii_columns() -> None:
    for cls in (
        GetChatsUpdatedAfterRow,
        GetChatMessageSummariesPerChatRow,
        GetChatModelConfigsForTelemetryRow,
    ):
        assert not field_names(cls) & PII_FIELDS, cls.__name__


# ---- GetChatsUpdatedAfter ----------------------------------------------------------------


def test_chats_updated_after_returns_newer_chats_oldest_change_first(
    q: Querier, f: Factories
) -> None:
    f.chat(updated_at=at(0))
    root = f.chat(updated_at=at(2), status="running", pin_order=1, labels={"secret": "x"})
    child = f.chat(
        updated_at=at(1),
        parent_chat_id=root.id,
        root_chat_id=root.id,
        organization_id=root.organization_id,
        owner_id=root.owner_id,
        archived=True,
        mcp_server_ids=[f.mcp_server_config().id],
    )
    rows = q.get_chats_updated_after(updated_after=at(0))
    assert [r.id for r in rows] == [child.id, root.id]
    c, r = rows
    assert (c.has_parent, c.parent_chat_id, c.root_chat_id, c.archived) == (
        True,
        root.id,
        root.id,
        True,
    )
    assert (c.mcp_server_count, c.pinned) == (1, False)
    assert (r.has_parent, r.status, r.pinned, r.mcp_server_count) == (
        False,
        ChatStatus.RUNNING,
        True,
        0,
    )
    assert (r.owner_id, r.organization_id, r.last_model_config_id) == (
        root.owner_id,
        root.organization_id,
        root.last_model_config_id,
    )


# ---- GetChatMessageSummariesPerChat ------------------------------------------------------


def test_message_summaries_aggregate_each_chat_after_the_cutoff(q: Querier, f: Factories) -> None:
    chat = f.chat()
    quiet = f.chat()
    other_model = f.chat_model_config()

    def msg(role: str, minute: int = 1, chat_id: UUID = chat.id, **kw: Any) -> None:
        f.chat_message(chat_id=chat_id, role=role, created_at=at(minute), **kw)

    msg("system", compressed=True)
    msg("user")
    msg(
        "assistant",
        model_config_id=chat.last_model_config_id,
        input_tokens=10,
        output_tokens=20,
        reasoning_tokens=5,
        cache_creation_tokens=3,
        cache_read_tokens=4,
        total_cost_micros=100,
        runtime_ms=1_000,
    )
    msg(
        "assistant",
        minute=3,
        model_config_id=other_model.id,
        input_tokens=1,
        total_cost_micros=7,
        runtime_ms=10,
        deleted=True,  # sent and paid for: counted
    )
    msg("tool", minute=2)
    msg("assistant", minute=0, total_cost_micros=999)  # at the cutoff: excluded
    msg("user", minute=0, chat_id=quiet.id)

    rows = q.get_chat_message_summaries_per_chat(created_after=at(0))
    assert [r.chat_id for r in rows] == [chat.id]
    s = rows[0]
    assert (s.message_count, s.system_message_count, s.user_message_count) == (5, 1, 1)
    assert (s.assistant_message_count, s.tool_message_count, s.deleted_message_count) == (2, 1, 1)
    assert (s.total_input_tokens, s.total_output_tokens, s.total_reasoning_tokens) == (11, 20, 5)
    assert (s.total_cache_creation_tokens, s.total_cache_read_tokens) == (3, 4)
    assert (s.total_cost_micros, s.total_runtime_ms) == (107, 1_010)
    assert (s.distinct_model_count, s.compressed_message_count) == (2, 1)
    assert (s.first_message_at, s.last_message_at) == (at(1), at(3))


# ---- GetChatModelConfigsForTelemetry -----------------------------------------------------


def test_model_configs_for_telemetry_are_the_live_ones(q: Querier, f: Factories) -> None:
    b = f.chat_model_config(provider="openai", model="b", is_default=True, display_name="Mine")
    a = f.chat_model_config(provider="openai", model="a", enabled=False, context_limit=1_000)
    f.chat_model_config(provider="openai", model="c", deleted=True)
    rows = q.get_chat_model_configs_for_telemetry()
    assert [(r.id, r.enabled, r.is_default) for r in rows] == [
        (a.id, False, False),
        (b.id, True, True),
    ]
    assert (rows[0].provider, rows[0].model, rows[0].context_limit) == ("openai", "a", 1_000)


# ---- GetChatDiffStatusSummary ------------------------------------------------------------


def test_diff_status_summary_is_all_zeros_without_prs(q: Querier, f: Factories) -> None:
    f.chat_diff_status(git_branch="wip")  # no PR yet
    s = q.get_chat_diff_status_summary()
    assert (s.total_prs, s.open_prs, s.merged_prs, s.closed_prs) == (0, 0, 0, 0)


def test_diff_status_summary_counts_each_pr_once(q: Querier, f: Factories) -> None:
    def pr(url: str | None, state: str | None, refreshed: int | None = 0) -> None:
        f.chat_diff_status(
            url=url,
            pull_request_state=state,
            refreshed_at=None if refreshed is None else at(refreshed),
        )

    pr("https://gh/o/r/pull/1", "open")
    pr("https://gh/o/r/pull/1", "open")  # two chats on the same PR
    pr("https://gh/o/r/pull/2", "merged")
    pr("https://gh/o/r/pull/3", "closed")
    pr("https://gh/o/r/pull/4", None)  # not a PR state yet
    # One PR seen by two chats, one of them stale: the latest refresh says merged.
    pr("https://gh/o/r/pull/5", "open", refreshed=1)
    pr("https://gh/o/r/pull/5", "merged", refreshed=2)
    pr("https://gh/o/r/pull/5", "open", refreshed=None)
    s = q.get_chat_diff_status_summary()
    assert (s.total_prs, s.open_prs, s.merged_prs, s.closed_prs) == (4, 1, 2, 1)


# ---- DeleteOldChats ----------------------------------------------------------------------


def chat_ids(conn: psycopg.Connection[Any]) -> set[UUID]:
    return {row[0] for row in conn.execute("SELECT id FROM chats")}


def test_delete_old_chats_deletes_only_archived_chats_older_than_the_cutoff(
    q: Querier, f: Factories, chatdb_conn: psycopg.Connection[Any]
) -> None:
    old_archived = f.chat(archived=True, updated_at=at(0))
    f.chat_message(chat_id=old_archived.id)
    keep = {
        f.chat(archived=False, updated_at=at(0)).id,  # old but active
        f.chat(archived=True, updated_at=at(10)).id,  # archived at the cutoff
        f.chat(archived=True, updated_at=at(20)).id,  # archived recently
    }
    assert [r.id for r in q.delete_old_chats(before_time=at(10), limit=100)] == [old_archived.id]
    assert chat_ids(chatdb_conn) == keep
    messages = chatdb_conn.execute("SELECT count(*) FROM chat_messages").fetchone()
    assert messages == (0,)


def test_delete_old_chats_works_in_batches_oldest_first(
    q: Querier, f: Factories, chatdb_conn: psycopg.Connection[Any]
) -> None:
    oldest = [f.chat(archived=True, updated_at=at(m)).id for m in (3, 1, 2)]
    first = q.delete_old_chats(before_time=at(60), limit=2)
    assert {r.id for r in first} == {oldest[1], oldest[2]}
    assert chat_ids(chatdb_conn) == {oldest[0]}  # at(3) survives the first batch
    assert [r.id for r in q.delete_old_chats(before_time=at(60), limit=2)] == [oldest[0]]
    assert q.delete_old_chats(before_time=at(60), limit=2) == []
    assert chat_ids(chatdb_conn) == set()


def family_of(f: Factories, depth: int, **kw: Any) -> list[UUID]:
    """A root and a chain of ``depth`` sub-agents below it (all sharing ``kw``)."""
    root = f.chat(**kw)
    ids = [root.id]
    for _ in range(depth):
        child = f.chat(
            **kw,
            owner_id=root.owner_id,
            organization_id=root.organization_id,
            parent_chat_id=ids[-1],
            root_chat_id=root.id,
        )
        ids.append(child.id)
    return ids


def purge(chatdb_conn: psycopg.Connection[Any], before: datetime, limit: int) -> int:
    """One batch as the retention job; how many chats it deleted."""
    rows = AuthzQuerier(Querier(chatdb_conn), actor=DBPURGE).delete_old_chats(
        before_time=before, limit=limit
    )
    return len(rows)


def test_the_retention_purge_returns_where_each_deleted_chat_belonged(
    f: Factories, chatdb_conn: psycopg.Connection[Any]
) -> None:
    """What a chat.deleted event needs once the rows are gone: id, owner, organization and
    the family links each chat had (the expectation is read before the purge)."""
    family = family_of(f, 2, archived=True, updated_at=at(0))
    before = {
        row[0]: row
        for row in chatdb_conn.execute(
            "SELECT id, owner_id, organization_id, parent_chat_id, root_chat_id FROM chats"
            " WHERE id = ANY(%s)",
            [family],
        )
    }
    rows = AuthzQuerier(Querier(chatdb_conn), actor=DBPURGE).delete_old_chats(
        before_time=at(10), limit=100
    )
    got = {
        r.id: (r.id, r.owner_id, r.organization_id, r.parent_chat_id, r.root_chat_id) for r in rows
    }
    assert got == before
    assert len(rows) == len(family)
    assert before[family[2]][3:] == (family[1], family[0])  # grandchild: parent, root


def test_the_retention_purge_deletes_a_family_whole_even_with_a_batch_of_one(
    f: Factories, chatdb_conn: psycopg.Connection[Any]
) -> None:
    old = family_of(f, 3, archived=True, updated_at=at(0))
    assert purge(chatdb_conn, at(10), limit=1) == 4
    assert chat_ids(chatdb_conn).isdisjoint(old)


def test_the_retention_purge_never_leaves_a_child_to_surface_as_a_root(
    f: Factories, chatdb_conn: psycopg.Connection[Any]
) -> None:
    """The root was archived long ago, its sub-agents after the cutoff (e.g. a late status
    write moved their updated_at): they go with the root, never stay behind parentless."""
    root, child, grandchild = family_of(f, 2, archived=True, updated_at=at(0))
    chatdb_conn.execute(
        "UPDATE chats SET updated_at = %s WHERE id = ANY(%s)", (at(30), [child, grandchild])
    )
    assert purge(chatdb_conn, at(10), limit=100) == 3
    assert chat_ids(chatdb_conn).isdisjoint({root, child, grandchild})


def test_the_retention_purge_waits_for_the_archived_parent_of_an_old_archived_child(
    f: Factories, chatdb_conn: psycopg.Connection[Any]
) -> None:
    """A sub-agent archived long ago under a parent archived recently is part of the
    parent's archived subtree: purged with it, not before."""
    root, child = family_of(f, 1, archived=True, updated_at=at(30))
    chatdb_conn.execute("UPDATE chats SET updated_at = %s WHERE id = %s", (at(0), child))
    assert purge(chatdb_conn, at(10), limit=100) == 0
    assert {root, child} <= chat_ids(chatdb_conn)
    assert purge(chatdb_conn, at(40), limit=100) == 2


def test_the_retention_purge_takes_an_archived_sub_agent_of_a_live_root_with_its_children(
    f: Factories, chatdb_conn: psycopg.Connection[Any]
) -> None:
    root = family_of(f, 2, archived=True, updated_at=at(0))[0]
    chatdb_conn.execute("UPDATE chats SET archived = false WHERE id = %s", (root,))
    assert purge(chatdb_conn, at(10), limit=100) == 2
    assert chat_ids(chatdb_conn) == {root}
    parent = chatdb_conn.execute("SELECT parent_chat_id FROM chats").fetchall()
    assert parent == [(None,)]


def test_the_retention_purge_keeps_a_subtree_that_still_has_a_live_descendant(
    f: Factories, chatdb_conn: psycopg.Connection[Any]
) -> None:
    """Rows from before the family invariant (an archived chat over a live sub-agent) are not
    purged: deleting the parent would turn the live sub-agent into a root."""
    root, child, grandchild = family_of(f, 2, archived=True, updated_at=at(0))
    chatdb_conn.execute("UPDATE chats SET archived = false WHERE id = %s", (grandchild,))
    assert purge(chatdb_conn, at(10), limit=100) == 0
    assert chat_ids(chatdb_conn) >= {root, child, grandchild}
