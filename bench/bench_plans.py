"""The chat list under the custom and the generic plan, at volume (issue "Performance" item 3).

PostgreSQL plans a prepared statement for its parameter values (custom plan) for the first
executions, then may switch to one generic plan that knows no values. The authorized chat
list (``GetChats`` with the actor's row filter) is timed on two connections that force one or
the other (``plan_cache_mode``), for a member, an organization admin and the site owner. Both
connections run with chatdb's connection settings (JIT off, :data:`chatdb.store.OLTP_SETTINGS`);
one more row shows the organization admin's generic plan with the server's default JIT on,
which is what made generic plans costly before.

The volume: 1,000,000 root chats (20,000 with ``--quick``) of 2,000 owners in 10
organizations, seeded with ``INSERT ... SELECT ... FROM generate_series`` and ANALYZEd.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg

from bench.harness import QUICK, Result, Settings, compare
from chatdb.authz import CHAT_ACCESS, MEMBER, ORGANIZATION_ADMIN, OWNER, Subject
from chatdb.authz.wrapper import AuthzQuerier
from chatdb.db import Querier
from chatdb.store import OLTP_SETTINGS

GROUP = "plans"
FULL_CHATS = 1_000_000
QUICK_CHATS = 20_000
ORGS = 10
OWNERS = 2_000
# Issue "Performance": list p50 under the generic plan within 2x of the custom plan.
TARGET = 2.0
NOW = datetime(2025, 6, 1, tzinfo=UTC)

_SEED = (
    "INSERT INTO organizations (name) SELECT 'org-' || g FROM generate_series(1, %(orgs)s) g",
    "CREATE TEMP TABLE seed_orgs AS "
    "SELECT id, row_number() OVER (ORDER BY name) - 1 AS n FROM organizations",
    "INSERT INTO users (email, username) "
    "SELECT 'plan' || g || '@example.com', 'plan' || g FROM generate_series(1, %(owners)s) g",
    "CREATE TEMP TABLE seed_users AS "
    "SELECT id, row_number() OVER (ORDER BY username) - 1 AS n FROM users",
    "INSERT INTO organization_members (organization_id, user_id) "
    "SELECT o.id, u.id FROM seed_users u JOIN seed_orgs o ON o.n = u.n %% %(orgs)s",
    "INSERT INTO chat_providers (provider) VALUES ('anthropic')",
    "INSERT INTO chat_model_configs (provider, model, context_limit, compression_threshold) "
    "VALUES ('anthropic', 'claude', 200000, 70)",
    # Owners skewed (a few heavy users, a long tail); 20% archived, a few pinned.
    """
    INSERT INTO chats (owner_id, organization_id, last_model_config_id, title, status,
        archived, pin_order, client_type, created_at, updated_at)
    SELECT u.id, o.id, (SELECT id FROM chat_model_configs), 'chat ' || g, 'completed',
        g %% 5 = 0, CASE WHEN g %% 5 <> 0 AND g %% 9973 = 0 THEN 1 + g %% 3 ELSE 0 END, 'ui',
        %(now)s - make_interval(mins => g),
        %(now)s - make_interval(mins => (g::bigint * 7919 %% %(chats)s)::int)
    FROM generate_series(1, %(chats)s) g
    JOIN seed_users u ON u.n = floor(
        %(owners)s * power((g::bigint * 104729 %% %(chats)s) / %(chats)s::float8, 2))::bigint
    JOIN seed_orgs o ON o.n = u.n %% %(orgs)s
    """,
    "ANALYZE",
)


def seed(conn: psycopg.Connection[Any], chats: int) -> tuple[Subject, Subject, Subject]:
    """The volume, and a member (the heaviest owner), her organization's admin, a site owner."""
    params = {"orgs": ORGS, "owners": OWNERS, "chats": chats, "now": NOW}
    with conn.transaction():
        for statement in _SEED:
            conn.execute(statement, params)
    row = conn.execute(
        "SELECT owner_id, organization_id FROM chats GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()
    assert row is not None
    owner_id, org_id = row
    member = Subject(
        id=owner_id, name="member", site_roles=[MEMBER, CHAT_ACCESS], memberships={org_id}
    )
    admin = Subject(
        id=UUID(int=1),
        name="org-admin",
        site_roles=[MEMBER],
        org_roles={org_id: [ORGANIZATION_ADMIN]},
    )
    site_owner = Subject(id=UUID(int=2), name="owner", site_roles=[MEMBER, OWNER])
    return member, admin, site_owner


def _connect(dsn: str, plan_cache_mode: str, jit: bool = False) -> psycopg.Connection[Any]:
    settings = {**OLTP_SETTINGS, "plan_cache_mode": plan_cache_mode}
    if jit:
        settings["jit"] = "on"
    options = " ".join(f"-c {k}={v}" for k, v in settings.items())
    return psycopg.connect(dsn, autocommit=True, prepare_threshold=1, options=options)


def _page(conn: psycopg.Connection[Any], actor: Subject) -> Callable[[], object]:
    q = AuthzQuerier(Querier(conn), actor=actor)

    def page() -> object:
        return q.get_chats(
            owner_id=None,
            archived=False,
            label_filter=None,
            has_unread=None,
            title_query=None,
            after_id=None,
            offset=0,
            limit=50,
        )

    return page


def run(dsn: str, settings: Settings) -> list[Result]:
    chats = QUICK_CHATS if settings == QUICK else FULL_CHATS
    with psycopg.connect(dsn, autocommit=True) as conn:
        actors = seed(conn, chats)
    results = []
    with (
        _connect(dsn, "force_custom_plan") as custom,
        _connect(dsn, "force_generic_plan") as generic,
        _connect(dsn, "force_generic_plan", jit=True) as generic_jit,
    ):
        for actor in actors:
            results.append(
                compare(
                    GROUP,
                    f"chat list page, {actor.name}, {chats:,} chats",
                    ("custom plan", _page(custom, actor)),
                    ("generic plan", _page(generic, actor)),
                    settings,
                    target=TARGET,
                    note="authorized GetChats, 50 rows, JIT off (chatdb's connection setting)",
                )
            )
        admin = actors[1]
        results.append(
            compare(
                GROUP,
                f"generic plan, org-admin: JIT on vs off, {chats:,} chats",
                ("JIT off", _page(generic, admin)),
                ("JIT on (server default)", _page(generic_jit, admin)),
                settings,
                note="why chatdb turns JIT off on its connections",
            )
        )
    return results
