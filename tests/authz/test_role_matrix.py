"""Who may do what, through the generated wrapper and the built-in RBAC, on real rows.

People are real ``users`` rows; their ``Subject`` is read back from ``users.rbac_roles`` and
``organization_members`` the way a service would build it. A refusal is NotAuthorized, and
never NotFound; a missing row is NotFound even for an actor who could act on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from chatdb import db
from chatdb.authz import (
    AUDITOR,
    CHAT_ACCESS,
    CHATD,
    DBPURGE,
    MEMBER,
    ORGANIZATION_ADMIN,
    OWNER,
    TELEMETRY,
    Subject,
    as_actor,
)
from chatdb.authz.wrapper import AuthzQuerier
from chatdb.db import ChatClientType, ChatStatus, Querier
from chatdb.errors import NotAuthorized, NotFound
from chatdb.testing.factories import Factories
from codegen.pgserver import PgServer

LONG_AGO = datetime(2024, 1, 1, tzinfo=UTC)


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


@pytest.fixture
def conn(module_conn: psycopg.Connection[Any]) -> Iterator[psycopg.Connection[Any]]:
    """The module's connection; each test's rows are rolled back afterwards."""
    try:
        yield module_conn
    finally:
        module_conn.rollback()


def subject_for(conn: psycopg.Connection[Any], user_id: UUID) -> Subject:
    """The actor of a user, from its site roles and organization memberships; as in Coder,
    every user implicitly holds the ``member`` site role."""
    user = conn.execute(
        "SELECT username, rbac_roles, is_system FROM users WHERE id = %s", (user_id,)
    ).fetchone()
    assert user is not None
    memberships = conn.execute(
        "SELECT organization_id, roles FROM organization_members WHERE user_id = %s", (user_id,)
    ).fetchall()
    return Subject(
        id=user_id,
        name=user[0],
        site_roles=[MEMBER, *user[1]],
        org_roles={org: roles for org, roles in memberships},
        memberships={org for org, _ in memberships},
        is_system=user[2],
    )


@dataclass
class Site:
    """Two organizations, the people of the matrix, and their chats."""

    conn: psycopg.Connection[Any]
    f: Factories
    q: Querier
    org_a: db.Organization
    org_b: db.Organization
    model: db.ChatModelConfig
    owner: db.User  # site owner
    member: db.User  # member of A without chat-access
    alice: db.User  # chat-access, member of A
    bob: db.User  # chat-access, member of A
    carol: db.User  # chat-access, member of B
    dora: db.User  # organization-admin of A
    auditor: db.User  # auditor, member of A
    alice_chat: db.Chat  # alice in A
    bob_chat: db.Chat  # bob in A
    carol_chat: db.Chat  # carol in B
    alice_chat_in_b: db.Chat  # alice's, in an organization she is not a member of
    member_chat: db.Chat  # the member's, in A

    def as_(self, user: db.User | Subject) -> AuthzQuerier:
        subject = user if isinstance(user, Subject) else subject_for(self.conn, user.id)
        return AuthzQuerier(self.q, actor=subject)

    def chat(self, owner: db.User, org: db.Organization, **kw: Any) -> db.Chat:
        return self.f.chat(
            owner_id=owner.id, organization_id=org.id, last_model_config_id=self.model.id, **kw
        )

    def title(self, chat: db.Chat) -> str:
        return self.q.get_chat_by_id(id=chat.id).title

    def chat_count(self) -> int:
        row = self.conn.execute("SELECT count(*) FROM chats").fetchone()
        assert row is not None
        return int(row[0])

    def insert_chat(self, az: AuthzQuerier, owner: db.User, org: db.Organization) -> db.Chat:
        return az.insert_chat(
            owner_id=owner.id,
            organization_id=org.id,
            workspace_id=None,
            build_id=None,
            agent_id=None,
            parent_chat_id=None,
            root_chat_id=None,
            last_model_config_id=self.model.id,
            title="new",
            status=ChatStatus.PENDING,
            mode=None,
            plan_mode=None,
            client_type=ChatClientType.UI,
            mcp_server_ids=None,
            labels=None,
            dynamic_tools=None,
        )


@pytest.fixture
def site(conn: psycopg.Connection[Any]) -> Site:
    f = Factories(conn)
    org_a, org_b = f.organization(), f.organization()
    model = f.chat_model_config()

    def person(org: db.Organization, *site_roles: str, org_roles: list[str] | None = None) -> Any:
        return f.user(organization_id=org.id, rbac_roles=list(site_roles), org_roles=org_roles)

    def chat(owner: db.User, org: db.Organization) -> db.Chat:
        return f.chat(owner_id=owner.id, organization_id=org.id, last_model_config_id=model.id)

    alice, bob = person(org_a, CHAT_ACCESS), person(org_a, CHAT_ACCESS)
    carol, member = person(org_b, CHAT_ACCESS), person(org_a)
    return Site(
        conn=conn,
        f=f,
        q=Querier(conn),
        org_a=org_a,
        org_b=org_b,
        model=model,
        owner=person(org_a, OWNER),
        member=member,
        alice=alice,
        bob=bob,
        carol=carol,
        dora=person(org_a, org_roles=[ORGANIZATION_ADMIN]),
        auditor=person(org_a, AUDITOR),
        alice_chat=chat(alice, org_a),
        bob_chat=chat(bob, org_a),
        carol_chat=chat(carol, org_b),
        alice_chat_in_b=chat(alice, org_b),
        member_chat=chat(member, org_a),
    )


def all_chats(s: Site) -> list[db.Chat]:
    return [s.alice_chat, s.bob_chat, s.carol_chat, s.alice_chat_in_b, s.member_chat]


def listed(az: AuthzQuerier) -> set[UUID]:
    rows = az.get_chats(
        owner_id=None,
        archived=None,
        label_filter=None,
        has_unread=None,
        title_query=None,
        after_id=None,
        offset=0,
        limit=1000,
    )
    return {r.chats.id for r in rows}


def refused(call: Callable[[], object]) -> bool:
    """Whether the call is refused; a NotFound (or success) is not a refusal."""
    try:
        call()
    except NotAuthorized:
        return True
    return False


def reads(az: AuthzQuerier, chat: db.Chat) -> bool:
    return not refused(lambda: az.get_chat_by_id(id=chat.id))


def updates(s: Site, az: AuthzQuerier, chat: db.Chat) -> bool:
    """Whether a rename goes through; a refused one leaves the title as it was."""
    before = s.title(chat)
    if refused(lambda: az.update_chat_title_by_id(id=chat.id, title=f"renamed {uuid4()}")):
        assert s.title(chat) == before
        return False
    assert s.title(chat) != before
    return True


def ids(*chats: db.Chat) -> set[UUID]:
    return {c.id for c in chats}


# --------------------------------------------------------------------------- people


def test_the_site_owner_reads_and_updates_every_chat_of_every_organization(site: Site) -> None:
    az = site.as_(site.owner)
    for chat in all_chats(site):
        assert reads(az, chat)
        assert updates(site, az, chat)
    assert listed(az) == ids(*all_chats(site))
    assert az.get_chat_providers() == Querier(site.conn).get_chat_providers()
    az.upsert_chat_system_prompt(chat_system_prompt="be brief")
    assert az.get_user_chat_custom_prompt(user_id=site.alice.id).chat_custom_prompt == ""


def test_a_member_without_chat_access_can_neither_read_nor_create_chats(site: Site) -> None:
    az = site.as_(site.member)
    count = site.chat_count()
    assert refused(lambda: site.insert_chat(az, site.member, site.org_a))
    assert site.chat_count() == count
    assert not reads(az, site.member_chat)  # not even a chat it owns
    assert not reads(az, site.alice_chat)
    assert not updates(site, az, site.member_chat)
    assert listed(az) == set()
    # Its own personal settings stay its own business.
    az.update_user_chat_custom_prompt(user_id=site.member.id, chat_custom_prompt="hi")
    assert az.get_user_chat_custom_prompt(user_id=site.member.id).chat_custom_prompt == "hi"
    assert refused(lambda: az.get_user_chat_custom_prompt(user_id=site.alice.id))


def test_chat_access_grants_its_own_chats_in_its_organizations_only(site: Site) -> None:
    az = site.as_(site.alice)
    created = site.insert_chat(az, site.alice, site.org_a)
    assert reads(az, site.alice_chat) and reads(az, created)
    assert updates(site, az, site.alice_chat)
    assert listed(az) == ids(site.alice_chat, created)

    assert not reads(az, site.bob_chat)  # another user's chat
    assert not updates(site, az, site.bob_chat)
    assert not reads(az, site.carol_chat)  # another organization
    assert not reads(az, site.alice_chat_in_b)  # its own, in an organization it is not in
    count = site.chat_count()
    assert refused(lambda: site.insert_chat(az, site.bob, site.org_a))
    assert refused(lambda: site.insert_chat(az, site.alice, site.org_b))
    assert site.chat_count() == count


def test_chat_children_are_authorized_through_their_chat(site: Site) -> None:
    az = site.as_(site.alice)
    for chat in (site.alice_chat, site.bob_chat):
        site.f.chat_message(chat_id=chat.id, role="user")
        site.f.chat_queued_message(chat_id=chat.id)
        site.f.chat_diff_status(chat_id=chat.id)
    mine, theirs = site.alice_chat.id, site.bob_chat.id

    assert len(az.get_chat_messages_by_chat_id(chat_id=mine, after_id=0)) == 1
    assert len(az.get_chat_queued_messages(chat_id=mine)) == 1
    assert az.get_chat_diff_status_by_chat_id(chat_id=mine).chat_id == mine
    assert refused(lambda: az.get_chat_messages_by_chat_id(chat_id=theirs, after_id=0))
    assert refused(lambda: az.get_chat_queued_messages(chat_id=theirs))
    assert refused(lambda: az.get_chat_diff_status_by_chat_id(chat_id=theirs))
    assert refused(lambda: az.pop_next_queued_message(chat_id=theirs))
    assert len(site.q.get_chat_queued_messages(chat_id=theirs)) == 1  # nothing popped


def test_a_file_is_readable_by_its_owner_or_through_a_readable_chat(site: Site) -> None:
    alices = site.f.chat_file(owner_id=site.alice.id, organization_id=site.org_a.id)
    bobs = site.f.chat_file(owner_id=site.bob.id, organization_id=site.org_a.id)
    az = site.as_(site.alice)
    assert az.get_chat_file_by_id(id=alices.id).data == alices.data
    assert refused(lambda: az.get_chat_file_by_id(id=bobs.id))
    # Bob attaches his file to a chat Alice may read (an organization admin could, say).
    site.f.chat_file_link(chat_id=site.alice_chat.id, file_id=bobs.id)
    assert az.get_chat_file_by_id(id=bobs.id).id == bobs.id


def test_linking_someone_elses_file_does_not_make_it_readable(site: Site) -> None:
    bobs = site.f.chat_file(owner_id=site.bob.id, organization_id=site.org_a.id)
    az = site.as_(site.alice)
    assert refused(lambda: az.get_chat_file_by_id(id=bobs.id))
    linked = refused(
        lambda: az.link_chat_files(chat_id=site.alice_chat.id, file_ids=[bobs.id], max_links=10)
    )
    assert linked or refused(lambda: az.get_chat_file_by_id(id=bobs.id))


def test_an_organization_admin_manages_every_chat_of_its_organization_and_no_other(
    site: Site,
) -> None:
    az = site.as_(site.dora)
    for chat in (site.alice_chat, site.bob_chat, site.member_chat):
        assert reads(az, chat)
        assert updates(site, az, chat)
    for chat in (site.carol_chat, site.alice_chat_in_b):
        assert not reads(az, chat)
        assert not updates(site, az, chat)
    assert listed(az) == ids(site.alice_chat, site.bob_chat, site.member_chat)
    assert site.insert_chat(az, site.alice, site.org_a).owner_id == site.alice.id
    assert refused(lambda: site.insert_chat(az, site.carol, site.org_b))
    assert refused(lambda: az.get_stale_chats(stale_threshold=LONG_AGO))  # no site-wide reads


def test_an_auditor_reads_the_deployment_config_and_no_chats(site: Site) -> None:
    az = site.as_(site.auditor)
    assert az.get_chat_providers() == Querier(site.conn).get_chat_providers()
    assert [c.id for c in az.get_chat_model_configs()] == [site.model.id]
    assert az.get_mcp_server_configs() == []
    assert az.get_chat_usage_limit_config().singleton
    assert refused(lambda: az.upsert_chat_system_prompt(chat_system_prompt="x"))
    assert refused(lambda: az.delete_chat_model_config_by_id(id=site.model.id))
    assert az.get_chat_model_config_by_id(id=site.model.id).deleted is False
    assert not reads(az, site.alice_chat)
    assert listed(az) == set()


# --------------------------------------------------------------------------- system subjects


def test_chatd_runs_every_users_chats_and_the_worker_queries(site: Site) -> None:
    az = site.as_(CHATD)
    for chat in all_chats(site):
        assert reads(az, chat)
        updated = az.update_chat_status(
            id=chat.id,
            status=ChatStatus.PENDING,
            worker_id=None,
            started_at=None,
            heartbeat_at=None,
            last_error=None,
        )
        assert updated.status is ChatStatus.PENDING
    created = site.insert_chat(az, site.alice, site.org_a)
    assert created.owner_id == site.alice.id
    worker, now = uuid4(), datetime.now(UTC)
    acquired = az.acquire_chats(num_chats=100, worker_id=worker, started_at=now)
    assert ids(*acquired) == ids(*all_chats(site), created)
    assert len(az.update_chat_heartbeats(now=now, worker_id=worker)) == len(acquired)
    assert az.get_stale_chats(stale_threshold=LONG_AGO) == []
    enabled = Querier(site.conn).get_enabled_chat_model_configs()
    assert enabled  # the factories configure the model's provider
    assert az.get_enabled_chat_model_configs() == enabled
    assert refused(lambda: az.upsert_chat_system_prompt(chat_system_prompt="x"))
    assert refused(lambda: az.get_user_chat_custom_prompt(user_id=site.alice.id))


def test_dbpurge_runs_the_retention_deletes_and_nothing_else(site: Site) -> None:
    old = site.chat(site.alice, site.org_a, archived=True, updated_at=LONG_AGO)
    az = site.as_(DBPURGE)
    tomorrow = datetime.now(UTC) + timedelta(days=1)

    purged = az.delete_old_chats(before_time=LONG_AGO + timedelta(days=1), limit=10)
    assert [r.id for r in purged] == [old.id]
    with pytest.raises(NotFound):
        site.q.get_chat_by_id(id=old.id)
    site.f.chat_file(owner_id=site.alice.id, organization_id=site.org_a.id)
    assert az.delete_old_chat_files(before_time=tomorrow, limit=10) == 1

    assert not updates(site, az, site.alice_chat)
    assert refused(lambda: site.insert_chat(az, site.alice, site.org_a))
    assert refused(lambda: az.acquire_chats(num_chats=1, worker_id=uuid4(), started_at=LONG_AGO))
    assert refused(lambda: az.get_chat_providers())
    assert refused(lambda: az.upsert_chat_retention_days(retention_days=1))
    assert refused(lambda: az.get_user_chat_custom_prompt(user_id=site.alice.id))


def test_telemetry_reads_the_telemetry_queries_and_writes_nothing(site: Site) -> None:
    az = site.as_(TELEMETRY)
    assert ids(*all_chats(site)) <= {
        r.id for r in az.get_chats_updated_after(updated_after=LONG_AGO)
    }
    assert az.get_chat_message_summaries_per_chat(created_after=LONG_AGO) == []
    assert [r.id for r in az.get_chat_model_configs_for_telemetry()] == [site.model.id]
    assert az.get_chat_diff_status_summary().total_prs == 0

    count = site.chat_count()
    assert not updates(site, az, site.alice_chat)
    assert refused(lambda: site.insert_chat(az, site.alice, site.org_a))
    assert refused(lambda: az.delete_old_chats(before_time=datetime.now(UTC), limit=10))
    assert refused(lambda: az.acquire_chats(num_chats=1, worker_id=uuid4(), started_at=LONG_AGO))
    assert refused(lambda: az.upsert_chat_system_prompt(chat_system_prompt="x"))
    assert site.chat_count() == count


def test_a_system_role_written_on_a_person_grants_nothing(site: Site) -> None:
    impostor = site.f.user(organization_id=site.org_a.id, rbac_roles=["system:chatd"])
    az = site.as_(impostor)
    assert refused(lambda: az.get_stale_chats(stale_threshold=LONG_AGO))
    assert not reads(az, site.alice_chat)


# --------------------------------------------------------------------------- refusal vs missing


def test_a_missing_chat_is_not_found_even_for_an_authorized_actor(site: Site) -> None:
    missing = uuid4()
    for actor in (site.as_(site.owner), site.as_(CHATD)):
        with pytest.raises(NotFound):
            actor.get_chat_by_id(id=missing)
        with pytest.raises(NotFound):
            actor.update_chat_title_by_id(id=missing, title="x")
        with pytest.raises(NotFound):
            actor.get_chat_messages_by_chat_id(chat_id=missing, after_id=0)


def test_a_refusal_is_not_authorized_and_never_not_found(site: Site) -> None:
    assert not issubclass(NotAuthorized, NotFound) and not issubclass(NotFound, NotAuthorized)
    with pytest.raises(NotAuthorized) as refusal:
        site.as_(site.alice).get_chat_by_id(id=site.bob_chat.id)
    assert not isinstance(refusal.value, NotFound)
    assert refusal.value.action == "read"


def test_the_context_actor_applies_unless_one_is_given(site: Site) -> None:
    context_wrapper = AuthzQuerier(site.q)
    with as_actor(subject_for(site.conn, site.alice.id)):
        assert context_wrapper.get_chat_by_id(id=site.alice_chat.id).id == site.alice_chat.id
        assert refused(lambda: context_wrapper.get_chat_by_id(id=site.bob_chat.id))
        explicit = site.as_(site.owner)
        assert explicit.get_chat_by_id(id=site.bob_chat.id).id == site.bob_chat.id
    assert refused(lambda: context_wrapper.get_chat_by_id(id=site.alice_chat.id))
