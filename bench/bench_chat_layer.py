"""Chat-layer workloads at volume (issue "chat layer" item 5).

* ``InsertChatMessages``: one batched statement of 10 messages against 10 single-message calls,
  both through the generated querier inside one transaction.
* ``UpdateChatHeartbeats``: one worker heartbeating its 10,000 running chats among 100,000 —
  raw psycopg against generated, and the narrow lease rows (migration 000040) against the
  statement it replaced, which rewrote the wide chats rows.
* The chat list (``GetChats``, 50 root chats per page) over 100,000 chats: generated against
  raw psycopg, and a keyset-cursor page deep in the list against the first page (it should cost
  the same: the cursor is an index condition), with an OFFSET page for contrast.

The 100,000 chats are seeded with set-based ``INSERT ... SELECT ... FROM generate_series``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import psycopg
from psycopg import RawCursor

from bench.harness import Result, Settings, compare
from chatdb.db import (
    Chat,
    ChatClientType,
    ChatMessageRole,
    ChatMessageVisibility,
    ChatMode,
    ChatPlanMode,
    ChatStatus,
    GetChatsRow,
    Querier,
    UpdateChatHeartbeatsRow,
)
from chatdb.db.chat_workers import UPDATE_CHAT_HEARTBEATS
from chatdb.db.chats import GET_CHATS

GROUP = "chat layer"
CHATS = 100_000
ROOTS = 90_000
OWNERS = 200
RUNNING = 10_000  # every ROOTS // RUNNING-th root chat, all on one worker
PAGE = 50
BATCH = 10

_SEED = (
    "INSERT INTO users (email, username) "
    "SELECT 'bench' || g || '@example.com', 'bench' || g FROM generate_series(1, %(owners)s) g",
    "CREATE TEMP TABLE bench_owners AS "
    "SELECT id, row_number() OVER (ORDER BY username) - 1 AS n FROM users",
    # Root chats. Every 9th is running on the one worker; some are pinned, archived, waiting.
    """
    INSERT INTO chats (owner_id, organization_id, last_model_config_id, title, status,
        worker_id, started_at, heartbeat_at, archived, pin_order, labels, client_type,
        created_at, updated_at)
    SELECT o.id, %(org)s, %(model)s, 'chat ' || g,
        (CASE WHEN g %% %(every)s = 0 THEN 'running' WHEN g %% 11 = 0 THEN 'waiting'
              WHEN g %% 101 = 0 THEN 'pending' ELSE 'completed' END)::chat_status,
        CASE WHEN g %% %(every)s = 0 THEN %(worker)s::uuid END,
        CASE WHEN g %% %(every)s = 0 THEN %(now)s::timestamptz END,
        CASE WHEN g %% %(every)s = 0 THEN %(now)s::timestamptz END,
        g %% %(every)s <> 0 AND g %% 7 = 0 AND g %% 4999 <> 0,
        CASE WHEN g %% 4999 = 0 THEN 1 + g / 4999 %% 3 ELSE 0 END,
        jsonb_build_object('repo', 'repo-' || g %% 13),
        'ui',
        %(now)s::timestamptz - make_interval(mins => g),
        %(now)s::timestamptz - make_interval(mins => (g::bigint * 7919 %% %(roots)s)::int)
    FROM generate_series(1, %(roots)s) g
    JOIN bench_owners o ON o.n = g %% %(owners)s
    """,
    # Sub-agent chats (not in the list) of the first non-pinned, non-archived roots.
    """
    INSERT INTO chats (owner_id, organization_id, last_model_config_id, title, status,
        parent_chat_id, root_chat_id, created_at, updated_at)
    SELECT p.owner_id, p.organization_id, p.last_model_config_id, 'sub-agent', 'completed',
        p.id, p.id, p.created_at, p.updated_at
    FROM chats p
    WHERE p.parent_chat_id IS NULL AND p.pin_order = 0 AND NOT p.archived
        AND p.status <> 'running'
    ORDER BY p.id
    LIMIT %(children)s
    """,
    # One assistant reply per root chat, so the list's has_unread probe finds something.
    """
    INSERT INTO chat_messages (chat_id, role, content, content_version, model_config_id,
        created_at)
    SELECT id, 'assistant', '[{"type": "text", "text": "done"}]'::jsonb, 1,
        last_model_config_id, updated_at
    FROM chats WHERE parent_chat_id IS NULL
    """,
    "ANALYZE",
)


def seed(conn: psycopg.Connection[Any], worker_id: UUID, now: datetime) -> tuple[UUID, UUID]:
    """100,000 chats (90,000 roots) of 200 owners in one organization; returns (owner, model)."""
    org = conn.execute("INSERT INTO organizations (name) VALUES ('bench') RETURNING id").fetchone()
    conn.execute("INSERT INTO chat_providers (provider) VALUES ('anthropic')")
    model = conn.execute(
        "INSERT INTO chat_model_configs (provider, model, context_limit, compression_threshold) "
        "VALUES ('anthropic', 'claude-bench', 200000, 70) RETURNING id"
    ).fetchone()
    assert org is not None and model is not None
    params = {
        "org": org[0],
        "model": model[0],
        "worker": worker_id,
        "now": now,
        "owners": OWNERS,
        "roots": ROOTS,
        "every": ROOTS // RUNNING,
        "children": CHATS - ROOTS,
    }
    for statement in _SEED:
        conn.execute(statement, params)
    owner = conn.execute(
        "SELECT owner_id FROM chats WHERE parent_chat_id IS NULL "
        "GROUP BY owner_id ORDER BY count(*) DESC, owner_id LIMIT 1"
    ).fetchone()
    counts = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE worker_id = %s AND status = 'running') FROM chats",
        (worker_id,),
    ).fetchone()
    assert owner is not None and counts == (CHATS, RUNNING), counts
    return owner[0], model[0]


# -- InsertChatMessages: a batch of 10 against 10 single-message statements


def _message_columns(n: int, model_id: UUID) -> dict[str, Any]:
    """Keyword arguments of insert_chat_messages for ``n`` assistant steps."""
    content = [[{"type": "text", "text": f"step {i}: " + "lorem ipsum " * 10}] for i in range(n)]
    return {
        "created_by": [None] * n,
        "model_config_id": [model_id] * n,
        "role": [ChatMessageRole.ASSISTANT] * n,
        "content": content,
        "content_version": [1] * n,
        "visibility": [ChatMessageVisibility.BOTH] * n,
        "input_tokens": [1200] * n,
        "output_tokens": [300] * n,
        "total_tokens": [1500] * n,
        "reasoning_tokens": [0] * n,
        "cache_creation_tokens": [0] * n,
        "cache_read_tokens": [900] * n,
        "context_limit": [200_000] * n,
        "compressed": [False] * n,
        "total_cost_micros": [4100] * n,
        "runtime_ms": [850] * n,
        "provider_response_id": [None] * n,
    }


def _bench_inserts(conn: psycopg.Connection[Any], q: Querier, model_id: UUID, owner_id: UUID, settings: Settings) -> Result:  # fmt: skip
    row = conn.execute(
        "SELECT id FROM chats WHERE owner_id = %s AND parent_chat_id IS NULL LIMIT 1", (owner_id,)
    ).fetchone()
    assert row is not None
    chat_id: UUID = row[0]
    batch = _message_columns(BATCH, model_id)
    single = _message_columns(1, model_id)

    def batched() -> None:
        with conn.transaction():
            rows = q.insert_chat_messages(chat_id=chat_id, **batch)
        assert len(rows) == BATCH

    def singles() -> None:
        with conn.transaction():
            for _ in range(BATCH):
                q.insert_chat_messages(chat_id=chat_id, **single)

    result = compare(
        GROUP,
        f"InsertChatMessages, {BATCH} messages in one transaction",
        (f"{BATCH} single-row calls", singles),
        (f"1 batch of {BATCH}", batched),
        settings,
    )
    return _with_note(result, f"the batch takes {result.ratio:.2f}× the time of {BATCH} singles")


# -- UpdateChatHeartbeats: one worker, 10,000 running chats


# The statement UpdateChatHeartbeats was before migration 000040 moved heartbeats to
# chat_leases. Run with the session's triggers off (session_replication_role = replica), so the
# lease trigger does not fire and it costs what it cost on the schema it was written for.
_HEARTBEATS_ON_CHATS = (
    "UPDATE chats SET heartbeat_at = $1::timestamptz"
    " WHERE worker_id = $2::uuid AND status = 'running' RETURNING id"
)


def _bench_heartbeats(conn: psycopg.Connection[Any], q: Querier, worker_id: UUID, settings: Settings) -> list[Result]:  # fmt: skip
    def raw() -> list[UpdateChatHeartbeatsRow]:
        rows = RawCursor(conn).execute(UPDATE_CHAT_HEARTBEATS, (datetime.now(UTC), worker_id))
        return [UpdateChatHeartbeatsRow(*r) for r in rows.fetchall()]

    def generated() -> list[UpdateChatHeartbeatsRow]:
        return q.update_chat_heartbeats(now=datetime.now(UTC), worker_id=worker_id)

    def on_chats() -> list[UpdateChatHeartbeatsRow]:
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
            rows = RawCursor(conn).execute(_HEARTBEATS_ON_CHATS, (datetime.now(UTC), worker_id))
            return [UpdateChatHeartbeatsRow(*r) for r in rows.fetchall()]

    assert len(generated()) == RUNNING
    assert {r.id for r in on_chats()} == {r.id for r in generated()}
    plan = _plan_summary(conn, UPDATE_CHAT_HEARTBEATS, (datetime.now(UTC), worker_id))
    hot = _hot_updates(conn, "chat_leases", generated)
    result = compare(
        GROUP,
        f"UpdateChatHeartbeats, {RUNNING:,} running chats of one worker among {CHATS:,}",
        ("raw RawCursor", raw),
        ("generated", generated),
        settings,
    )
    per_chat = result.candidate_us / RUNNING
    old_plan = _plan_summary(conn, _HEARTBEATS_ON_CHATS, (datetime.now(UTC), worker_id))
    old_hot = _hot_updates(conn, "chats", on_chats)
    leases = compare(
        GROUP,
        f"UpdateChatHeartbeats, {RUNNING:,} chats: lease rows vs rewriting the chats rows",
        ("chats rows", on_chats),
        ("lease rows", generated),
        settings,
    )
    return [
        _with_note(result, f"{per_chat:.2f} µs per chat; plan: {plan}; {hot}"),
        _with_note(
            leases,
            f"before migration 000040 (chats rows): plan {old_plan}; {old_hot}",
        ),
    ]


# -- GetChats: the chat list over 100,000 chats


def raw_get_chats(conn: psycopg.Connection[Any], owner_id: UUID | None, after_id: UUID | None, offset: int) -> list[GetChatsRow]:  # fmt: skip
    params = (owner_id, False, None, None, None, after_id, offset, PAGE)
    rows = RawCursor(conn).execute(GET_CHATS, params).fetchall()
    return [GetChatsRow(Chat(r[0], r[1], r[2], r[3], ChatStatus(r[4]), r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], None if r[15] is None else ChatMode(r[15]), r[16], r[17], r[18], r[19], r[20], r[21], r[22], r[23], None if r[24] is None else ChatPlanMode(r[24]), r[25], ChatClientType(r[26])), r[27]) for r in rows]  # fmt: skip


def _page(q: Querier, owner_id: UUID | None, after_id: UUID | None = None, offset: int = 0) -> list[GetChatsRow]:  # fmt: skip
    return q.get_chats(
        owner_id=owner_id,
        archived=False,
        label_filter=None,
        has_unread=None,
        title_query=None,
        after_id=after_id,
        offset=offset,
        limit=PAGE,
    )


def _bench_chat_list(conn: psycopg.Connection[Any], q: Querier, owner_id: UUID, settings: Settings) -> list[Result]:  # fmt: skip
    first = _page(q, owner_id)
    if len(first) != PAGE or raw_get_chats(conn, owner_id, None, 0) != first:
        raise AssertionError("raw and generated get_chats differ")
    results = [
        compare(
            GROUP,
            f"GetChats first page of {PAGE}, one owner's chats",
            ("raw RawCursor", lambda: raw_get_chats(conn, owner_id, None, 0)),
            ("generated", lambda: _page(q, owner_id)),
            settings,
        )
    ]
    # Deep in the whole list (what an admin or the site-wide view pages through).
    visible = conn.execute(
        "SELECT count(*) FROM chats WHERE parent_chat_id IS NULL AND NOT archived"
    ).fetchone()
    assert visible is not None
    depth = int(visible[0]) * 9 // 10
    deep = conn.execute(
        "SELECT id FROM chats WHERE parent_chat_id IS NULL AND NOT archived "
        "ORDER BY (pin_order > 0) DESC, -pin_order DESC, updated_at DESC, id DESC "
        "OFFSET %s LIMIT 1",
        (depth - 1,),
    ).fetchone()
    assert deep is not None
    after_id: UUID = deep[0]
    by_cursor = _page(q, None, after_id=after_id)
    if [r.chats.id for r in by_cursor] != [r.chats.id for r in _page(q, None, offset=depth)]:
        raise AssertionError("cursor page and offset page at the same depth differ")
    results.append(
        compare(
            GROUP,
            f"GetChats all chats: keyset page after {depth:,} chats vs first page",
            ("first page", lambda: _page(q, None)),
            ("cursor page", lambda: _page(q, None, after_id=after_id)),
            settings,
            note="a keyset page costs what the first page costs, at any depth",
        )
    )
    results.append(
        compare(
            GROUP,
            f"GetChats all chats: OFFSET {depth:,} page vs first page",
            ("first page", lambda: _page(q, None)),
            ("offset page", lambda: _page(q, None, offset=depth)),
            settings,
            note="contrast only: OFFSET reads and discards every row before the page",
        )
    )
    return results


# -- helpers and entry point


def _plan_summary(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...]) -> str:
    """The scan nodes of the statement's plan, e.g. 'Seq Scan on chats' (EXPLAIN, not run)."""
    row = RawCursor(conn).execute("EXPLAIN (FORMAT JSON) " + query, params).fetchone()
    assert row is not None
    raw = row[0]
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    scans: list[str] = []
    stack = [plan]
    while stack:
        node = stack.pop()
        if "Scan" in node["Node Type"] and "Relation Name" in node:
            via = f" using {node['Index Name']}" if "Index Name" in node else ""
            scans.append(f"{node['Node Type']} on {node['Relation Name']}{via}")
        stack.extend(node.get("Plans", []))
    return ", ".join(scans) or plan["Node Type"]


def _hot_updates(conn: psycopg.Connection[Any], table: str, heartbeat: Callable[[], object]) -> str:  # fmt: skip
    """How many of one heartbeat's updates of ``table`` were HOT (no new index entries), rolled back."""  # fmt: skip
    counters = (
        "SELECT pg_stat_get_xact_tuples_updated(%(t)s::regclass),"
        " pg_stat_get_xact_tuples_hot_updated(%(t)s::regclass),"
        " (SELECT count(*) FROM pg_index WHERE indrelid = %(t)s::regclass)"
    )
    # The xact counters can include earlier, not yet flushed transactions: take a difference.
    with conn.transaction(force_rollback=True):
        before = conn.execute(counters, {"t": table}).fetchone()
        heartbeat()
        after = conn.execute(counters, {"t": table}).fetchone()
    assert before is not None and after is not None
    updated, hot, indexes = after[0] - before[0], after[1] - before[1], after[2]
    return f"HOT updates of {table}: {hot:,} of {updated:,} (a non-HOT update adds an entry to each of its {indexes} indexes)"


def _with_note(result: Result, note: str) -> Result:
    from dataclasses import replace

    return replace(result, note=note)


def run(dsn: str, settings: Settings) -> list[Result]:
    """Seed 100,000 chats, then run the three chat-layer benchmarks on one connection."""
    worker_id = uuid4()
    with psycopg.connect(dsn, autocommit=True) as conn:
        owner_id, model_id = seed(conn, worker_id, datetime.now(UTC))
        q = Querier(conn)
        results = _bench_chat_list(conn, q, owner_id, settings)
        results.extend(_bench_heartbeats(conn, q, worker_id, settings))
        results.append(_bench_inserts(conn, q, model_id, owner_id, settings))
    return results
