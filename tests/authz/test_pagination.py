"""The chat list pages over authorized rows only (``sql_filter read chat``).

The original's post-filter returned short pages when unauthorized rows sat between authorized
ones, so clients stopped early; the SQL filter sits before ORDER BY / LIMIT instead. Here 200
root chats alternate between the reader's and other people's (same organization, or another
one), with ties in updated_at, pins and sub-agent chats mixed in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest

from chatdb import db
from chatdb.authz import CHAT_ACCESS, MEMBER, ORGANIZATION_ADMIN, Subject
from chatdb.authz.wrapper import AuthzQuerier
from chatdb.db import GetChatsRow, Querier
from chatdb.testing.factories import Factories
from codegen.pgserver import PgServer

PAGE = 25
ROOTS = 200
START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def module_conn(
    chatdb_pg_server: PgServer, chatdb_template: str
) -> Iterator[psycopg.Connection[Any]]:
    name = chatdb_pg_server.create_database(template=chatdb_template)
    try:
        with psycopg.connect(chatdb_pg_server.dsn(name)) as conn:
            yield conn
    finally:
        chatdb_pg_server.drop_database(name)


@dataclass
class Listing:
    q: Querier
    alice: Subject  # chat-access in A: her own chats in A
    dora: Subject  # organization-admin of A: every chat of A
    org_a: UUID


@pytest.fixture(scope="module")
def listing(module_conn: psycopg.Connection[Any]) -> Iterator[Listing]:
    """200 interleaved root chats (read-only for the tests, rolled back at the end)."""
    f = Factories(module_conn)
    org_a, org_b = f.organization(), f.organization()
    model = f.chat_model_config()
    alice = f.user(organization_id=org_a.id, rbac_roles=[CHAT_ACCESS])
    bob = f.user(organization_id=org_a.id, rbac_roles=[CHAT_ACCESS])
    carol = f.user(organization_id=org_b.id, rbac_roles=[CHAT_ACCESS])
    dora = f.user(organization_id=org_a.id, org_roles=[ORGANIZATION_ADMIN])
    # Alice, Bob (same org), Alice, Carol (other org), ...
    owners: list[tuple[db.User, db.Organization]] = [
        (alice, org_a),
        (bob, org_a),
        (alice, org_a),
        (carol, org_b),
    ]
    pins = {0: 2, 8: 1, 13: 1}  # Alice's two pins and one of Bob's
    for i in range(ROOTS):
        owner, org = owners[i % 4]
        chat = f.chat(
            owner_id=owner.id,
            organization_id=org.id,
            last_model_config_id=model.id,
            updated_at=START + timedelta(minutes=i // 3),  # ties: the id breaks them
            pin_order=pins.get(i, 0),
        )
        if i % 10 == 0:  # sub-agent chats never appear in the list
            f.chat(
                owner_id=owner.id,
                organization_id=org.id,
                last_model_config_id=model.id,
                parent_chat_id=chat.id,
                root_chat_id=chat.id,
            )
    yield Listing(
        q=Querier(module_conn),
        alice=Subject(alice.id, "alice", site_roles=[MEMBER, CHAT_ACCESS], memberships={org_a.id}),
        dora=Subject(dora.id, "dora", org_roles={org_a.id: [ORGANIZATION_ADMIN]}),
        org_a=org_a.id,
    )
    module_conn.rollback()


def page(q: Querier | AuthzQuerier, after: UUID | None, limit: int = PAGE) -> list[GetChatsRow]:
    return q.get_chats(
        owner_id=None,
        archived=None,
        label_filter=None,
        has_unread=None,
        title_query=None,
        after_id=after,
        offset=0,
        limit=limit,
    )


def walk(az: AuthzQuerier) -> list[list[GetChatsRow]]:
    """Every page, following the keyset cursor (after_id = the last row's id)."""
    pages = [page(az, None)]
    # Bounded by the number of chats: a cursor that never advances fails the caller's
    # assertions instead of hanging.
    for _ in range(ROOTS // PAGE + 2):
        if len(pages[-1]) < PAGE:
            break
        pages.append(page(az, pages[-1][-1].chats.id))
    return pages


def visible_in_order(listing: Listing, keep: Any) -> list[UUID]:
    """The whole list as the plain querier orders it, restricted to the rows ``keep`` accepts."""
    return [r.chats.id for r in page(listing.q, None, limit=ROOTS * 2) if keep(r.chats)]


def test_the_fixture_interleaves_authorized_and_unauthorized_chats(listing: Listing) -> None:
    everything = page(listing.q, None, limit=ROOTS * 2)
    assert len(everything) == ROOTS
    mine = [r.chats.owner_id == listing.alice.id for r in everything[:PAGE]]
    assert 0 < sum(mine) < PAGE  # the first raw page holds both kinds


def test_each_page_holds_twenty_five_authorized_chats_and_the_walk_visits_each_once(
    listing: Listing,
) -> None:
    pages = walk(AuthzQuerier(listing.q, actor=listing.alice))
    alices = visible_in_order(listing, lambda c: c.owner_id == listing.alice.id)
    assert len(alices) == ROOTS // 2

    assert [len(p) for p in pages] == [PAGE] * (len(alices) // PAGE) + [len(alices) % PAGE]
    visited = [r.chats.id for p in pages for r in p]
    assert visited == alices  # every authorized chat once, in list order, and nothing else


def test_an_organization_admin_pages_over_every_chat_of_its_organization(
    listing: Listing,
) -> None:
    pages = walk(AuthzQuerier(listing.q, actor=listing.dora))
    in_org = visible_in_order(listing, lambda c: c.organization_id == listing.org_a)
    assert len(in_org) == ROOTS * 3 // 4

    assert all(len(p) == PAGE for p in pages[:-1]) and len(pages[-1]) < PAGE
    assert [r.chats.id for p in pages for r in p] == in_org


def test_asking_for_another_owners_chats_returns_none_of_them(listing: Listing) -> None:
    az = AuthzQuerier(listing.q, actor=listing.alice)
    bobs_and_carols = {r.chats.owner_id for r in page(listing.q, None, limit=ROOTS * 2)} - {
        listing.alice.id
    }
    for owner in bobs_and_carols:
        rows = az.get_chats(
            owner_id=owner,
            archived=None,
            label_filter=None,
            has_unread=None,
            title_query=None,
            after_id=None,
            offset=0,
            limit=PAGE,
        )
        assert rows == []
