"""Plans that scale: at a realistic volume the hot queries read through indexes.

The volume: 50,000 chats (40,000 roots, 10,000 sub-agent chats) of 400 owners in 4
organizations, 500,000 messages, and one long chat of 5,000 messages with a compaction
summary; seeded with set-based SQL and ANALYZEd once for the module.

Every query is checked in two situations, both running the SQL text of the generated module:

* ``custom``: planned for its actual parameter values (EXPLAIN of the statement with its
  parameters), which is what the server does for the first executions of a statement;
* ``settled``: the plan the server keeps once psycopg has prepared the statement and run it a
  few times. From the sixth execution on PostgreSQL may switch a prepared statement to a
  *generic* plan that knows no parameter values, where ``($1 IS NULL OR col = $1)`` can no
  longer be an index condition. If the server kept planning per execution, the custom plan is
  what runs; if it switched, the generic plan is what gets checked.

No timing here (that is ``bench/``): only the shape of the plans.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg import RawCursor, sql

from chatdb.authz import (
    CHAT_ACCESS,
    ORGANIZATION_ADMIN,
    OWNER,
    Action,
    ResourceType,
    Subject,
    compile_filter,
)
from chatdb.db.chat_messages import (
    GET_CHAT_MESSAGES_BY_CHAT_ID,
    GET_CHAT_MESSAGES_BY_CHAT_ID_DESC_PAGINATED,
    GET_CHAT_MESSAGES_FOR_PROMPT_BY_CHAT_ID,
)
from chatdb.db.chat_workers import ACQUIRE_CHATS
from chatdb.db.chats import (
    GET_CHATS_AFTER_FILTER,
    GET_CHATS_BEFORE_FILTER_NULLS,
    GET_CHATS_BETWEEN_FILTERS_1,
    GET_CHATS_NULLS,
    PIN_CHAT_BY_ID,
    UNPIN_CHAT_BY_ID,
    UPDATE_CHAT_PIN_ORDER,
)
from codegen.pgserver import PgServer

ORGS = 4
OWNERS = 400
ROOTS = 40_000
CHILDREN = 10_000
MESSAGES_PER_CHAT = 10
LONG_CHAT_MESSAGES = 5_000
LONG_CHAT_SUMMARY_AT = 4_000
PAGE = 50
# Executions of the prepared statement before asking which plan the server settled on.
SETTLE_EXECUTIONS = 10
BIG_TABLES = ("chats", "chat_messages")
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

# -- the volume

_SEED = (
    "INSERT INTO organizations (name) SELECT 'org-' || g FROM generate_series(1, %(orgs)s) g",
    "CREATE TEMP TABLE seed_orgs AS "
    "SELECT id, row_number() OVER (ORDER BY name) - 1 AS n FROM organizations",
    "INSERT INTO users (email, username) "
    "SELECT 'user' || g || '@example.com', 'user' || g FROM generate_series(1, %(owners)s) g",
    "CREATE TEMP TABLE seed_users AS "
    "SELECT id, row_number() OVER (ORDER BY username) - 1 AS n FROM users",
    "INSERT INTO organization_members (organization_id, user_id, roles) "
    "SELECT o.id, u.id, %(member_roles)s FROM seed_users u JOIN seed_orgs o ON o.n = u.n %% %(orgs)s",
    "INSERT INTO chat_model_configs (provider, model, context_limit, compression_threshold) "
    "VALUES ('anthropic', 'claude', 200000, 70)",
    # Root chats, owners skewed (a few heavy users, a long tail), each in its owner's
    # organization; about 1% pending, 1% running, 20% archived, a few pinned.
    """
    INSERT INTO chats (owner_id, organization_id, last_model_config_id, title, status,
        archived, pin_order, client_type, created_at, updated_at)
    SELECT u.id, o.id, (SELECT id FROM chat_model_configs), 'chat ' || g,
        (CASE WHEN g %% 100 = 1 THEN 'pending' WHEN g %% 100 = 2 THEN 'running'
              WHEN g %% 7 = 0 THEN 'waiting' ELSE 'completed' END)::chat_status,
        g %% 5 = 0,
        CASE WHEN g %% 5 <> 0 AND g %% 997 = 0 THEN 1 + g %% 3 ELSE 0 END,
        'ui',
        %(now)s - make_interval(mins => g * 7919 %% %(roots)s) - interval '1 day',
        %(now)s - make_interval(mins => g * 7919 %% %(roots)s)
    FROM generate_series(1, %(roots)s) g
    JOIN seed_users u ON u.n = floor(
        %(owners)s * power((g::bigint * 104729 %% %(roots)s) / %(roots)s::float8, 2))::bigint
    JOIN seed_orgs o ON o.n = u.n %% %(orgs)s
    """,
    """
    INSERT INTO chats (owner_id, organization_id, last_model_config_id, title, status,
        parent_chat_id, root_chat_id, created_at, updated_at)
    SELECT p.owner_id, p.organization_id, p.last_model_config_id, 'sub-agent', 'completed',
        p.id, p.id, p.created_at, p.updated_at
    FROM (
        SELECT * FROM chats WHERE pin_order = 0 AND NOT archived ORDER BY id LIMIT %(children)s
    ) p
    """,
    # Ten messages per chat, interleaved across chats as they arrive in time: a model-only
    # system prompt, then user/assistant turns; every tenth chat was compacted at turn 6.
    """
    INSERT INTO chat_messages (chat_id, role, content, content_version, visibility, compressed,
        created_at, input_tokens, output_tokens, total_cost_micros)
    SELECT c.id,
        (CASE WHEN g = 1 THEN 'system' WHEN g %% 2 = 0 THEN 'user' ELSE 'assistant' END)
            ::chat_message_role,
        '[{"type": "text", "text": "hello there"}]'::jsonb, 1,
        (CASE WHEN g = 1 OR (c.n %% 10 = 0 AND g = 6) THEN 'model' ELSE 'both' END)
            ::chat_message_visibility,
        c.n %% 10 = 0 AND g BETWEEN 2 AND 6,
        c.created_at + make_interval(secs => g), 1000, 200,
        CASE WHEN g %% 2 = 1 AND g > 1 THEN 1500 END
    FROM (SELECT id, created_at, row_number() OVER (ORDER BY id) AS n FROM chats) c
    CROSS JOIN generate_series(1, %(per_chat)s) g
    ORDER BY g, c.id
    """,
    # The long chat: compacted at LONG_CHAT_SUMMARY_AT, whose message is the model-only summary.
    """
    INSERT INTO chats (owner_id, organization_id, last_model_config_id, title, status)
    SELECT owner_id, organization_id, last_model_config_id, 'the long one', 'waiting'
    FROM chats WHERE parent_chat_id IS NULL ORDER BY id LIMIT 1
    """,
    """
    INSERT INTO chat_messages (chat_id, role, content, content_version, visibility, compressed,
        created_at)
    SELECT (SELECT id FROM chats WHERE title = 'the long one'),
        (CASE WHEN g = 1 THEN 'system' WHEN g %% 2 = 0 THEN 'user' ELSE 'assistant' END)
            ::chat_message_role,
        '[{"type": "text", "text": "step"}]'::jsonb, 1,
        (CASE WHEN g = 1 OR g = %(summary_at)s THEN 'model' ELSE 'both' END)
            ::chat_message_visibility,
        g > 1 AND g <= %(summary_at)s,
        %(now)s + make_interval(secs => g)
    FROM generate_series(1, %(long_messages)s) g
    """,
)


@contextlib.contextmanager
def _bulk_load(conn: psycopg.Connection[Any], tables: Sequence[str]) -> Iterator[None]:
    """Load without per-row index maintenance or foreign-key triggers, then index once.

    Secondary indexes (those not backing a constraint) are dropped and re-created from their
    own catalog definitions. Foreign-key triggers are skipped when the role may set
    ``session_replication_role``; the seed only references rows it inserted itself.
    """
    indexes = conn.execute(
        """
        SELECT ic.relname, pg_get_indexdef(i.indexrelid)
        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
        WHERE i.indrelid = ANY(%s::regclass[])
            AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        """,
        (list(tables),),
    ).fetchall()
    for name, _ in indexes:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    try:
        conn.execute("SET session_replication_role = replica")
        replica = True
    except psycopg.errors.InsufficientPrivilege:
        replica = False
    try:
        yield
    finally:
        if replica:
            conn.execute("RESET session_replication_role")
        for _, definition in indexes:
            conn.execute(definition)


@dataclass(frozen=True)
class Volume:
    dsn: str
    owner_id: UUID  # a heavy user: hundreds of chats
    owner_after_id: UUID  # last chat of the owner's first page
    owner_org_id: UUID
    org_id: UUID  # the org an organization-admin looks at
    org_after_id: UUID  # last chat of that org's first page
    chat_id: UUID  # a typical chat (10 messages)
    long_chat_id: UUID
    long_stream_after_id: int  # the streaming cursor near the end of the long chat
    long_before_id: int  # a cursor halfway up the long chat


def _one(conn: psycopg.Connection[Any], query: str, params: Sequence[Any] = ()) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None, query
    return row[0]


_LIST_ORDER = "ORDER BY (pin_order > 0) DESC, -pin_order DESC, updated_at DESC, id DESC"


def _seed(conn: psycopg.Connection[Any], dsn: str) -> Volume:
    params = {
        "orgs": ORGS,
        "owners": OWNERS,
        "roots": ROOTS,
        "children": CHILDREN,
        "per_chat": MESSAGES_PER_CHAT,
        "long_messages": LONG_CHAT_MESSAGES,
        "summary_at": LONG_CHAT_SUMMARY_AT,
        "member_roles": [CHAT_ACCESS],
        "now": NOW,
    }
    with _bulk_load(conn, BIG_TABLES):
        for statement in _SEED:
            conn.execute(statement, params)
    conn.execute("ANALYZE")
    heavy = conn.execute(
        "SELECT owner_id, organization_id FROM chats WHERE parent_chat_id IS NULL "
        "GROUP BY 1, 2 ORDER BY count(*) DESC, 1 OFFSET 5 LIMIT 1"
    ).fetchone()
    assert heavy is not None
    owner_id: UUID = heavy[0]
    owner_org_id: UUID = heavy[1]
    org_id = _one(conn, "SELECT id FROM organizations ORDER BY name DESC LIMIT 1")
    long_chat_id = _one(conn, "SELECT id FROM chats WHERE title = 'the long one'")
    long_ids = [
        r[0]
        for r in conn.execute(
            "SELECT id FROM chat_messages WHERE chat_id = %s ORDER BY id", (long_chat_id,)
        )
    ]
    return Volume(
        dsn=dsn,
        owner_id=owner_id,
        owner_after_id=_one(
            conn,
            "SELECT id FROM chats WHERE parent_chat_id IS NULL AND NOT archived "
            "AND owner_id = %s " + _LIST_ORDER + " OFFSET %s LIMIT 1",
            (owner_id, PAGE - 1),
        ),
        owner_org_id=owner_org_id,
        org_id=org_id,
        org_after_id=_one(
            conn,
            "SELECT id FROM chats WHERE parent_chat_id IS NULL AND NOT archived "
            "AND organization_id = %s " + _LIST_ORDER + " OFFSET %s LIMIT 1",
            (org_id, PAGE - 1),
        ),
        chat_id=_one(
            conn,
            "SELECT id FROM chats WHERE owner_id = %s AND parent_chat_id IS NULL "
            "ORDER BY id LIMIT 1",
            (owner_id,),
        ),
        long_chat_id=long_chat_id,
        long_stream_after_id=long_ids[-10],
        long_before_id=long_ids[len(long_ids) // 2],
    )


@pytest.fixture(scope="module")
def volume(chatdb_pg_server: PgServer, chatdb_template: str) -> Iterator[Volume]:
    name = chatdb_pg_server.create_database(template=chatdb_template)
    try:
        dsn = chatdb_pg_server.dsn(name)
        with psycopg.connect(dsn, autocommit=True) as conn:
            vol = _seed(conn, dsn)
        yield vol
    finally:
        chatdb_pg_server.drop_database(name)


# -- reading plans

Plan = dict[str, Any]


def _root(explain_output: Any) -> Plan:
    doc = json.loads(explain_output) if isinstance(explain_output, str) else explain_output
    plan: Plan = doc[0]["Plan"]
    return plan


def _nodes(plan: Plan) -> Iterator[Plan]:
    """Every node, including init plans and sub plans."""
    stack = [plan]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.get("Plans", []))


def _outline(plan: Plan, depth: int = 0) -> str:
    """A compact indented rendering for assertion messages."""
    what = plan["Node Type"]
    for key in ("Scan Direction", "Index Name", "Relation Name"):
        if key in plan:
            what += f" {key.split()[0].lower()}={plan[key]}"
    for key in ("Index Cond", "Filter", "Recheck Cond"):
        if key in plan:
            what += f" {key}: {plan[key]}"
    lines = ["  " * depth + what]
    lines += [_outline(child, depth + 1) for child in plan.get("Plans", [])]
    return "\n".join(lines)


def explain_custom(conn: psycopg.Connection[Any], query: str, params: Sequence[Any]) -> Plan:
    """The plan for these parameter values (EXPLAIN only: nothing is executed)."""
    row = RawCursor(conn).execute("EXPLAIN (FORMAT JSON) " + query, params).fetchone()
    assert row is not None
    return _root(row[0])


def explain_settled(dsn: str, query: str, params: Sequence[Any]) -> tuple[str, Plan]:
    """Which plan the server uses for the prepared statement after repeated executions.

    Runs it SETTLE_EXECUTIONS times as psycopg does once it prepares a statement (inside a
    rolled-back transaction: some of these queries write), then reads the statement's
    ``generic_plans`` counter. Returns ("custom", plan for these values) or ("generic", the
    generic plan, obtained by preparing the same text under ``force_generic_plan``).
    """
    with (
        psycopg.connect(dsn, autocommit=True) as conn,
        conn.transaction(force_rollback=True),
    ):
        for _ in range(SETTLE_EXECUTIONS):
            cur = RawCursor(conn).execute(query, params, prepare=True)
            if cur.description is not None:
                cur.fetchall()
        generic = _one(
            conn,
            "SELECT generic_plans FROM pg_prepared_statements WHERE statement = %s",
            (query,),
        )
        if not generic:
            return "custom", explain_custom(conn, query, params)
        return "generic", _explain_generic(conn, query)


def explain_generic(dsn: str, query: str) -> Plan:
    """The generic plan of the statement, whether or not the server would settle on it."""
    with (
        psycopg.connect(dsn, autocommit=True) as conn,
        conn.transaction(force_rollback=True),
    ):
        return _explain_generic(conn, query)


def _explain_generic(conn: psycopg.Connection[Any], query: str) -> Plan:
    conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    RawCursor(conn).execute("PREPARE plan_check AS " + query)
    n = _one(
        conn,
        "SELECT cardinality(parameter_types) FROM pg_prepared_statements WHERE name = 'plan_check'",
    )
    # A generic plan does not depend on the values: NULLs only fill the argument list.
    args = sql.SQL(", ").join([sql.NULL] * n)
    row = conn.execute(
        sql.SQL("EXPLAIN (FORMAT JSON) EXECUTE plan_check ({})").format(args)
    ).fetchone()
    assert row is not None
    conn.execute("DEALLOCATE plan_check")
    return _root(row[0])


# -- the queries under test


@dataclass(frozen=True)
class Known:
    """A plan defect known today, kept visible as a strict xfail until it is fixed."""

    check: str  # "seq_scan", "index_condition" or "order"
    modes: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Case:
    """A hot query with realistic parameters and what its plan must look like."""

    id: str
    statement: Callable[[Volume], tuple[str, tuple[Any, ...]]]
    indexes: tuple[str, ...]  # the main scan must use one of these
    conditions: tuple[str, ...] = ()  # fragments of that scan's Index Cond
    ordered: bool = False  # a page read in index order: no Sort anywhere
    also: tuple[str, ...] = ()  # further indexes the plan must use
    known: tuple[Known, ...] = ()


# The planner takes owner_id and organization_id for independent, so "this owner's chats in
# these organizations" looks ~4x rarer than it is (an owner's chats are in the owner's
# organizations) and a bitmap scan plus a sort of ALL the owner's chats wins over reading 50
# in index order: the page costs O(chats of the owner). Verified fix (a migration): multi-column
# MCV statistics, `CREATE STATISTICS chats_owner_organization (mcv) ON owner_id,
# organization_id FROM chats;` then the plan is a Limit over idx_chats_list_by_owner.
MEMBER_FILTER_SORTS = Known(
    "order",
    ("custom", "settled"),
    "owner_id/organization_id correlation unknown to the planner: bitmap scan + sort of all "
    "the owner's chats; needs CREATE STATISTICS chats_owner_organization (mcv) ON owner_id, "
    "organization_id FROM chats",
)
# Once prepared, GetChatMessagesByChatIDDescPaginated settles on a generic plan in which
# `($2 IS NULL OR id < $2)` is a row filter, so a page deep in a long chat first reads every
# newer message. Verified fix (the query): `AND id < coalesce(sqlc.narg(before_id)::bigint,
# 9223372036854775807)` is an index condition in the generic plan too.
DESC_CURSOR_IS_A_FILTER = Known(
    "index_condition",
    ("settled",),
    "generic plan filters ($2 IS NULL OR id < $2) row by row instead of seeking to before_id; "
    "needs id < coalesce(sqlc.narg(before_id)::bigint, 9223372036854775807) in the query",
)


def _chats_page(owner: UUID | None, after: UUID | None) -> tuple[Any, ...]:
    return (owner, False, None, None, None, after, 0, PAGE)


def _nulls(page: tuple[Any, ...]) -> tuple[bool, ...]:
    """Which optional filters of a GetChats call are NULL (its text's NULL variant)."""
    return tuple(value is None for value in page[:6])


def _chats(owner: UUID | None, after: UUID | None) -> tuple[str, tuple[Any, ...]]:
    """GetChats as the generated querier runs it: the text of this call's NULL variant."""
    page = _chats_page(owner, after)
    return GET_CHATS_NULLS.text(_nulls(page)), page


def _filtered_chats(subject: Subject) -> Callable[[Volume, UUID | None], tuple[str, tuple[Any, ...]]]:  # fmt: skip
    """GetChats as the authorized querier runs it for ``subject`` (the sql_filter policy)."""

    def build(v: Volume, after: UUID | None) -> tuple[str, tuple[Any, ...]]:
        flt = compile_filter(
            subject,
            Action.READ,
            ResourceType.CHAT,
            owner_column="chats.owner_id",
            org_column="chats.organization_id",
            first_param=9,
            # As the generated AuthzQuerier.get_chats asks: chats.organization_id is NOT NULL.
            org_nullable=False,
        )
        page = _chats_page(None, after)
        before = GET_CHATS_BEFORE_FILTER_NULLS.text(_nulls(page))
        # The same predicate filters the keyset cursor's row and the page.
        query = before + flt.sql + GET_CHATS_BETWEEN_FILTERS_1 + flt.sql + GET_CHATS_AFTER_FILTER
        return query, (*page, *flt.params)

    return build


def _member(v: Volume) -> Subject:
    return Subject(id=v.owner_id, name="member", site_roles=[CHAT_ACCESS], memberships={v.owner_org_id})  # fmt: skip


def _org_admin(v: Volume) -> Subject:
    return Subject(id=uuid4(), name="org-admin", org_roles={v.org_id: [ORGANIZATION_ADMIN]})


def _site_owner(v: Volume) -> Subject:
    return Subject(id=uuid4(), name="site-owner", site_roles=[OWNER])


CHATS_BY_OWNER = ("idx_chats_list_by_owner",)
CHATS_LIST = ("idx_chats_list",)
BY_CHAT = ("idx_chat_messages_chat_id_id",)

CASES = [
    Case(
        "chat list, one owner, first page",
        lambda v: _chats(v.owner_id, None),
        CHATS_BY_OWNER,
        ("owner_id =",),
        ordered=True,
    ),
    Case(
        "chat list, one owner, cursor page",
        lambda v: _chats(v.owner_id, v.owner_after_id),
        CHATS_BY_OWNER,
        ("owner_id =", "ROW("),
        ordered=True,
    ),
    Case(
        "chat list, chat-access member through the authz filter, first page",
        lambda v: _filtered_chats(_member(v))(v, None),
        CHATS_BY_OWNER,
        ("owner_id =",),
        ordered=True,
    ),
    Case(
        "chat list, chat-access member through the authz filter, cursor page",
        lambda v: _filtered_chats(_member(v))(v, v.owner_after_id),
        CHATS_BY_OWNER,
        ("owner_id =", "ROW("),
        ordered=True,
    ),
    Case(
        "chat list, organization admin through the authz filter, first page",
        lambda v: _filtered_chats(_org_admin(v))(v, None),
        CHATS_LIST,
        ordered=True,
    ),
    Case(
        "chat list, organization admin through the authz filter, cursor page",
        lambda v: _filtered_chats(_org_admin(v))(v, v.org_after_id),
        CHATS_LIST,
        ("ROW(",),
        ordered=True,
    ),
    Case(
        "chat list, site owner through the authz filter, first page",
        lambda v: _filtered_chats(_site_owner(v))(v, None),
        CHATS_LIST,
        ordered=True,
    ),
    # has_unread of each listed chat: only messages that can make a chat unread are read, not
    # every message after the read mark (migration 000042).
    Case(
        "unread flags of a chat-list page",
        lambda v: _chats(v.owner_id, None),
        ("idx_chat_messages_unread",),
        ("chat_id =", "id >"),
    ),
    Case(
        "message stream, typical chat, from the start",
        lambda v: (GET_CHAT_MESSAGES_BY_CHAT_ID, (v.chat_id, 0)),
        (*BY_CHAT, "idx_chat_messages_chat_created"),
        ("chat_id =",),
    ),
    Case(
        "message stream, long chat, after a cursor near the end",
        lambda v: (GET_CHAT_MESSAGES_BY_CHAT_ID, (v.long_chat_id, v.long_stream_after_id)),
        BY_CHAT,
        ("chat_id =", "id >"),
        ordered=True,
    ),
    Case(
        "message pages newest first, long chat, first page",
        lambda v: (GET_CHAT_MESSAGES_BY_CHAT_ID_DESC_PAGINATED, (v.long_chat_id, None, PAGE + 1)),
        BY_CHAT,
        ("chat_id =",),
        ordered=True,
    ),
    Case(
        "message pages newest first, long chat, page before a cursor",
        lambda v: (
            GET_CHAT_MESSAGES_BY_CHAT_ID_DESC_PAGINATED,
            (v.long_chat_id, v.long_before_id, PAGE + 1),
        ),
        BY_CHAT,
        ("chat_id =", "id <"),
        ordered=True,
    ),
    Case(
        "prompt of a typical chat",
        lambda v: (GET_CHAT_MESSAGES_FOR_PROMPT_BY_CHAT_ID, (v.chat_id,)),
        (*BY_CHAT, "idx_chat_messages_chat_created"),
        ("chat_id =",),
        also=("idx_chat_messages_compressed_summary",),
    ),
    Case(
        "prompt of a long compacted chat",
        lambda v: (GET_CHAT_MESSAGES_FOR_PROMPT_BY_CHAT_ID, (v.long_chat_id,)),
        BY_CHAT,
        ("chat_id =",),
        also=("idx_chat_messages_compressed_summary",),
    ),
    Case(
        "worker acquiring pending chats",
        lambda v: (ACQUIRE_CHATS, (10, uuid4(), NOW)),
        ("idx_chats_pending",),
    ),
    # The pin statements renumber the owner's pinned chats: found through the index of pinned
    # chats, not by reading every chat of a heavy owner (migration 000041).
    Case(
        "pinning a chat of a heavy owner",
        lambda v: (PIN_CHAT_BY_ID, (v.owner_after_id,)),
        ("idx_chats_pinned_by_owner",),
        ("owner_id =",),
    ),
    Case(
        "unpinning a chat of a heavy owner",
        lambda v: (UNPIN_CHAT_BY_ID, (v.owner_after_id,)),
        ("idx_chats_pinned_by_owner",),
        ("owner_id =",),
    ),
    Case(
        "moving a pinned chat of a heavy owner",
        lambda v: (UPDATE_CHAT_PIN_ORDER, (v.owner_after_id, 1)),
        ("idx_chats_pinned_by_owner",),
        ("owner_id =",),
    ),
]


def _params(check: str, *, ordered_only: bool = False) -> list[Any]:
    """(case, mode) pairs for one check, known defects marked as strict xfails."""
    out = []
    for case in CASES:
        if ordered_only and not case.ordered:
            continue
        # A chat-list page must be fast under both plans whatever the server settles on: its
        # generic plan is checked on its own too (bench/bench_plans.py times both).
        modes = (
            ("custom", "settled", "generic")
            if case.id.startswith("chat list")
            else ("custom", "settled")
        )
        for mode in modes:
            marks = [
                pytest.mark.xfail(strict=True, reason=k.reason)
                for k in case.known
                if k.check == check and mode in k.modes
            ]
            out.append(pytest.param(case, mode, id=f"{case.id} [{mode}]", marks=marks))
    return out


class Plans:
    """Plans computed once per (case, mode) and shared by the tests below."""

    def __init__(self, volume: Volume) -> None:
        self.volume = volume
        self._cache: dict[tuple[str, str], tuple[str, Plan]] = {}

    def get(self, case: Case, mode: str) -> tuple[str, Plan]:
        key = (case.id, mode)
        if key not in self._cache:
            query, params = case.statement(self.volume)
            if mode == "custom":
                with psycopg.connect(self.volume.dsn, autocommit=True) as conn:
                    self._cache[key] = ("custom", explain_custom(conn, query, params))
            elif mode == "generic":
                self._cache[key] = ("generic", explain_generic(self.volume.dsn, query))
            else:
                self._cache[key] = explain_settled(self.volume.dsn, query, params)
        return self._cache[key]


@pytest.fixture(scope="module")
def plans(volume: Volume) -> Plans:
    return Plans(volume)


# -- the tests


def test_the_volume_is_realistic(volume: Volume) -> None:
    with psycopg.connect(volume.dsn, autocommit=True) as conn:
        chats, roots = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE parent_chat_id IS NULL) FROM chats"
        ).fetchone() or (0, 0)
        messages = _one(conn, "SELECT count(*) FROM chat_messages")
        owned = _one(conn, "SELECT count(*) FROM chats WHERE owner_id = %s", (volume.owner_id,))
        # Column statistics exist only once ANALYZE ran: the planner sees the volume.
        analyzed = _one(
            conn,
            "SELECT count(DISTINCT tablename) FROM pg_stats "
            "WHERE tablename = ANY(%s) AND attname IN ('owner_id', 'chat_id')",
            (list(BIG_TABLES),),
        )
    assert chats == ROOTS + CHILDREN + 1 and roots == ROOTS + 1
    assert messages == (ROOTS + CHILDREN) * MESSAGES_PER_CHAT + LONG_CHAT_MESSAGES
    assert owned >= 200, "the chat-list owner should be a heavy user"
    assert analyzed == len(BIG_TABLES)


@pytest.mark.parametrize(("case", "mode"), _params("seq_scan"))
def test_hot_queries_never_scan_chats_or_messages_sequentially(
    plans: Plans, case: Case, mode: str
) -> None:
    kind, plan = plans.get(case, mode)
    seq = [n["Relation Name"] for n in _nodes(plan) if n["Node Type"] == "Seq Scan"]
    assert not set(seq) & set(BIG_TABLES), f"{kind} plan:\n{_outline(plan)}"


@pytest.mark.parametrize(("case", "mode"), _params("index_condition"))
def test_hot_queries_find_their_rows_through_an_index_condition(
    plans: Plans, case: Case, mode: str
) -> None:
    kind, plan = plans.get(case, mode)
    scans = [n for n in _nodes(plan) if n.get("Index Name") in case.indexes]
    assert scans, f"{kind} plan uses none of {case.indexes}:\n{_outline(plan)}"
    conds = [n.get("Index Cond", "") for n in scans]
    assert any(all(f in cond for f in case.conditions) for cond in conds), (
        f"{kind} plan: {case.conditions} not all in an Index Cond of {case.indexes}:\n"
        f"{_outline(plan)}"
    )
    used = {n.get("Index Name") for n in _nodes(plan)}
    assert set(case.also) <= used, f"{kind} plan:\n{_outline(plan)}"


@pytest.mark.parametrize(("case", "mode"), _params("order", ordered_only=True))
def test_pages_come_out_of_the_index_in_order_without_a_sort(
    plans: Plans, case: Case, mode: str
) -> None:
    kind, plan = plans.get(case, mode)
    sorts = [n for n in _nodes(plan) if "Sort" in n["Node Type"]]
    assert not sorts, f"{kind} plan sorts:\n{_outline(plan)}"
