"""What authorization costs: the wrapped querier against the plain one, and one RBAC check.

Issue "Authorization" item 6: an authorized ``get_chat_by_id`` (policy ``fetch read chat``:
run, then one check on the row) must cost at most 1.15× the unwrapped call on the same
connection and the same chat. The actor is a chat-access user reading her own chat, so the
check walks the engine's real path (site level refuses nothing, org level has no grant, the
owner level allows) on a subject whose permissions are already compiled and cached. The check
alone is measured too, against an empty call taking the same arguments.

``run(dsn)`` is called by ``python -m bench`` with a freshly migrated database;
``python -m bench.bench_authz [--quick]`` runs it alone on a throwaway server.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg

from bench.harness import FULL, QUICK, Result, Settings, compare, compare_async, render_table
from chatdb.authz import (
    CHAT_ACCESS,
    CHATD,
    MEMBER,
    ORGANIZATION_ADMIN,
    OWNER,
    Action,
    Object,
    Subject,
    default_authorizer,
)
from chatdb.authz.wrapper import AsyncAuthzQuerier, AuthzQuerier
from chatdb.db import AsyncQuerier, Querier, Queries
from chatdb.testing.factories import Factories

GROUP = "authz"
TARGET = 1.15
# Issue "Performance" item 1: every policy kind within 1.10x of the plain querier.
KIND_TARGET = 1.10


def seed(conn: psycopg.Connection[Any]) -> tuple[Subject, UUID]:
    """A chat-access user in an organization with one chat of her own (and a neighbour's)."""
    f = Factories(conn)
    org = f.organization()
    alice = f.user(organization_id=org.id, rbac_roles=[CHAT_ACCESS])
    chat = f.chat(owner_id=alice.id, organization_id=org.id, title="Refactor billing")
    f.chat(organization_id=org.id)  # someone else's chat in the same organization
    subject = Subject(
        id=alice.id,
        name="alice",
        site_roles=[MEMBER, CHAT_ACCESS],
        memberships={org.id},
    )
    return subject, chat.id


def _noop(subject: Subject | None, action: Action, obj: Object) -> None:
    """The floor of a check: a call with the same arguments that decides nothing."""


def run(dsn: str, settings: Settings = FULL) -> list[Result]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        subject, chat_id = seed(conn)
        plain = Querier(conn)
        wrapped = AuthzQuerier(plain, actor=subject)
        wrapped.get_chat_by_id(id=chat_id)  # the actor may read it: fail here, not mid-run

        results = [
            compare(
                GROUP,
                "get_chat_by_id (fetch read chat)",
                ("Querier", lambda: plain.get_chat_by_id(id=chat_id)),
                ("AuthzQuerier", lambda: wrapped.get_chat_by_id(id=chat_id)),
                settings,
                target=TARGET,
                note="same connection, same chat; the actor is a chat-access owner (cached)",
            )
        ]

        results.extend(_policy_kinds(conn, subject, chat_id, settings))

        authorizer = default_authorizer()
        row = plain.get_chat_by_id(id=chat_id)
        chat = Object.chat(row.id, row.owner_id, row.organization_id)
        authorizer.authorize(subject, Action.READ, chat)  # compiles and caches the subject
        results.append(
            compare(
                GROUP,
                "one check, cached subject",
                ("empty call", lambda: _noop(subject, Action.READ, chat)),
                ("Authorizer.authorize", lambda: authorizer.authorize(subject, Action.READ, chat)),
                settings,
                note="candidate per op = the absolute cost of one allowed check",
            )
        )
    results.append(asyncio.run(_run_async(dsn, subject, chat_id, settings)))
    return results


def _policy_kinds(
    conn: psycopg.Connection[Any], subject: Subject, chat_id: UUID, settings: Settings
) -> list[Result]:
    """One cheap call per policy kind, wrapped vs plain, on the same connection and rows.

    The load kinds (``read chat(chat_id)``, ``update chat(id)``, ``read chat[](ids)``) need
    the chat's owner and organization: loaded once per connection, then remembered
    (chatdb/authz/objects.py), so a steady stream of calls is one round trip each.
    """
    plain = Querier(conn)
    mine = AuthzQuerier(plain, actor=subject)
    chatd = AuthzQuerier(plain, actor=CHATD)
    now = datetime.now(UTC)
    titles = iter(range(10**9))
    cases: list[tuple[str, Callable[[Queries], object]]] = [
        (
            "read chat(chat_id): queued messages",
            lambda q: q.get_chat_queued_messages(chat_id=chat_id),
        ),
        (
            "update chat(id): title",
            lambda q: q.update_chat_title_by_id(id=chat_id, title=f"t{next(titles)}"),
        ),
        (
            "read chat[](ids): diff statuses",
            lambda q: q.get_chat_diff_statuses_by_chat_ids(chat_ids=[chat_id]),
        ),
        (
            "read chat(owner=): cost summary",
            lambda q: q.get_chat_cost_summary(
                owner_id=subject.id, start=now - timedelta(days=1), end=now
            ),
        ),
        (
            "sql_filter read chat: list page",
            lambda q: q.get_chats(
                owner_id=subject.id,
                archived=None,
                label_filter=None,
                has_unread=None,
                title_query=None,
                after_id=None,
                offset=0,
                limit=50,
            ),
        ),
        (
            "post_filter read chat: children",
            lambda q: q.get_child_chats_by_parent_ids(parent_ids=[chat_id], archived=None),
        ),
        ("any_actor: retention days", lambda q: q.get_chat_retention_days()),
    ]
    results = []
    for name, call in cases:
        call(mine)  # allowed: fail here, not mid-run
        results.append(
            compare(
                GROUP,
                name,
                ("Querier", functools.partial(call, plain)),
                ("AuthzQuerier", functools.partial(call, mine)),
                settings,
                target=KIND_TARGET,
                note="same connection; the actor owns the chat",
            )
        )
    results.extend(_list_page_subjects(conn, plain, subject, settings))
    chatd.get_enabled_chat_model_configs()
    results.append(
        compare(
            GROUP,
            "deployment_config read: enabled models",
            ("Querier", lambda: plain.get_enabled_chat_model_configs()),
            ("AuthzQuerier", lambda: chatd.get_enabled_chat_model_configs()),
            settings,
            target=KIND_TARGET,
            note="actor: chatd",
        )
    )
    return results


PLAN_CACHE_MODES = {
    "auto": "RESET plan_cache_mode",
    "custom": "SET plan_cache_mode = force_custom_plan",
    "generic": "SET plan_cache_mode = force_generic_plan",
}


def _list_page_subjects(
    conn: psycopg.Connection[Any], plain: Querier, member: Subject, settings: Settings
) -> list[Result]:
    """The sql_filter list page for each kind of subject that sees rows, under each plan.

    An organization admin's predicate is on the organization, the member's on owner and
    organization, the site owner's is TRUE; each lists what the plain querier lists. Which
    plan PostgreSQL runs a prepared statement with depends on the statistics (this database
    has none until autovacuum analyzes it, mid-run): custom plans, planned on every call, or
    the generic plan. So the member's and the admin's pages are also measured with each
    forced (``plan_cache_mode``, on both sides). A subject without the permission gets
    FALSE and no rows: not the same work as the plain page, so not compared.
    """
    (org,) = member.memberships
    admin = Subject(id=uuid4(), name="org-admin", org_roles={org: [ORGANIZATION_ADMIN]})
    site_owner = Subject(id=uuid4(), name="site-owner", site_roles=[OWNER])
    cases = [
        ("member", member, member.id, ("custom", "generic")),
        ("org admin", admin, None, ("auto", "custom", "generic")),
        ("site owner", site_owner, None, ("auto",)),
    ]
    results = []
    for kind, actor, owner_id, modes in cases:

        def page(q: Queries, owner_id: UUID | None = owner_id) -> object:
            return q.get_chats(
                owner_id=owner_id,
                archived=None,
                label_filter=None,
                has_unread=None,
                title_query=None,
                after_id=None,
                offset=0,
                limit=50,
            )

        wrapped = AuthzQuerier(plain, actor=actor)
        page(wrapped)  # allowed: fail here, not mid-run
        for mode in modes:
            conn.execute(PLAN_CACHE_MODES[mode])
            try:
                results.append(
                    compare(
                        GROUP,
                        f"sql_filter list page, {kind}"
                        + ("" if mode == "auto" else f", {mode} plans"),
                        ("Querier", functools.partial(page, plain)),
                        ("AuthzQuerier", functools.partial(page, wrapped)),
                        settings,
                        target=KIND_TARGET,
                        note="same connection"
                        + ("" if mode == "auto" else f"; plans forced: {PLAN_CACHE_MODES[mode]}"),
                    )
                )
            finally:
                conn.execute("RESET plan_cache_mode")
    return results


async def _run_async(dsn: str, subject: Subject, chat_id: UUID, settings: Settings) -> Result:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as aconn:
        plain = AsyncQuerier(aconn)
        wrapped = AsyncAuthzQuerier(plain, actor=subject)
        await wrapped.get_chat_by_id(id=chat_id)
        return await compare_async(
            GROUP,
            "async get_chat_by_id (fetch read chat)",
            ("AsyncQuerier", lambda: plain.get_chat_by_id(id=chat_id)),
            ("AsyncAuthzQuerier", lambda: wrapped.get_chat_by_id(id=chat_id)),
            settings,
            target=TARGET,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_authz", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny rounds: proves it runs")
    args = parser.parse_args(argv)

    from chatdb.migrate import Migrator
    from codegen.pgserver import throwaway_server

    with throwaway_server() as server:
        name = server.create_database()
        dsn = server.dsn(name)
        Migrator(dsn).up()
        results = run(dsn, QUICK if args.quick else FULL)
    print(render_table(results))
    return 1 if any(r.verdict == "OVER" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
