"""The RBAC engine: built-in roles, levels and negation, scopes, the actor context, recording."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

import pytest

from chatdb.authz import (
    AUDITOR,
    BUILTIN_ROLES,
    CHAT_ACCESS,
    CHATD,
    DBPURGE,
    MEMBER,
    ORGANIZATION_ADMIN,
    OWNER,
    SCOPE_ALL,
    SYSTEM,
    TELEMETRY,
    USER_ADMIN,
    Action,
    Authorizer,
    Check,
    Object,
    RecordingAuthorizer,
    ResourceType,
    Role,
    Scope,
    Subject,
    allow,
    as_actor,
    current_actor,
    current_actor_or_none,
    deny,
)
from chatdb.errors import NotAuthorized, NotFound

A = Action
T = ResourceType

ORG_A = UUID("0a000000-0000-4000-8000-000000000001")
ORG_B = UUID("0b000000-0000-4000-8000-000000000002")
ALICE = UUID("a1000000-0000-4000-8000-000000000001")
BOB = UUID("b0000000-0000-4000-8000-000000000002")
CAROL = UUID("c0000000-0000-4000-8000-000000000003")


def person(
    id: UUID,
    name: str,
    *site_roles: str,
    orgs: tuple[UUID, ...] = (ORG_A,),
    org_roles: dict[UUID, list[str]] | None = None,
    scope: Scope | None = None,
) -> Subject:
    return Subject(
        id=id,
        name=name,
        site_roles=site_roles,
        org_roles=org_roles or {},
        memberships=orgs,
        scope=scope or SCOPE_ALL,
    )


SUBJECTS: dict[str, Subject] = {
    "owner": person(uuid4(), "root", OWNER, orgs=()),
    "plain member": person(CAROL, "carol", MEMBER),
    "chat-access member": person(ALICE, "alice", MEMBER, CHAT_ACCESS),
    "org A admin": person(uuid4(), "ann", MEMBER, org_roles={ORG_A: [ORGANIZATION_ADMIN]}),
    "auditor": person(uuid4(), "audrey", MEMBER, AUDITOR),
    "user-admin": person(uuid4(), "ursula", MEMBER, USER_ADMIN),
    "chatd": CHATD,
    "dbpurge": DBPURGE,
    "telemetry": TELEMETRY,
    "system": SYSTEM,
}

OBJECTS: dict[str, Object] = {
    "alice's chat in A": Object.chat(uuid4(), ALICE, ORG_A),
    "alice's chat in B": Object.chat(uuid4(), ALICE, ORG_B),
    "a new chat for alice in A": Object.chat(None, ALICE, ORG_A),
    "a new chat for alice in B": Object.chat(None, ALICE, ORG_B),
    "bob's chat in A": Object.chat(uuid4(), BOB, ORG_A),
    "bob's chat in B": Object.chat(uuid4(), BOB, ORG_B),
    "carol's chat in A": Object.chat(uuid4(), CAROL, ORG_A),
    "alice's file in A": Object.chat_file(uuid4(), ALICE, ORG_A),
    "bob's file in A": Object.chat_file(uuid4(), BOB, ORG_A),
    "deployment config": Object.deployment_config(),
    "alice's user": Object.user(ALICE),
    "bob's user": Object.user(BOB),
    "carol's user": Object.user(CAROL),
    "org A": Object.organization(ORG_A),
    "org B": Object.organization(ORG_B),
}

MATRIX: list[tuple[str, Action, str, bool]] = [
    ("owner", A.READ, "bob's chat in B", True),
    ("owner", A.DELETE, "bob's chat in B", True),
    ("owner", A.UPDATE, "deployment config", True),
    ("owner", A.UPDATE_PERSONAL, "bob's user", True),
    ("plain member", A.READ_PERSONAL, "carol's user", True),
    ("plain member", A.UPDATE_PERSONAL, "carol's user", True),
    ("plain member", A.READ_PERSONAL, "bob's user", False),
    ("plain member", A.CREATE, "a new chat for alice in A", False),
    ("plain member", A.READ, "carol's chat in A", False),
    ("plain member", A.READ, "org A", True),
    ("plain member", A.READ, "org B", False),
    ("chat-access member", A.CREATE, "a new chat for alice in A", True),
    ("chat-access member", A.READ, "alice's chat in A", True),
    ("chat-access member", A.UPDATE, "alice's chat in A", True),
    ("chat-access member", A.DELETE, "alice's chat in A", False),
    ("chat-access member", A.READ, "alice's file in A", True),
    ("chat-access member", A.CREATE, "alice's file in A", True),
    ("chat-access member", A.READ, "bob's chat in A", False),
    ("chat-access member", A.UPDATE, "bob's chat in A", False),
    ("chat-access member", A.READ, "bob's file in A", False),
    ("chat-access member", A.READ, "alice's chat in B", False),
    ("chat-access member", A.CREATE, "a new chat for alice in B", False),
    ("chat-access member", A.READ, "deployment config", False),
    ("chat-access member", A.READ_PERSONAL, "alice's user", True),
    ("chat-access member", A.UPDATE_PERSONAL, "bob's user", False),
    ("org A admin", A.READ, "bob's chat in A", True),
    ("org A admin", A.UPDATE, "bob's chat in A", True),
    ("org A admin", A.DELETE, "bob's chat in A", True),
    ("org A admin", A.CREATE, "a new chat for alice in A", True),
    ("org A admin", A.READ, "bob's file in A", True),
    ("org A admin", A.READ, "bob's chat in B", False),
    ("org A admin", A.CREATE, "a new chat for alice in B", False),
    ("org A admin", A.UPDATE, "org A", True),
    ("org A admin", A.READ, "org B", False),
    ("org A admin", A.READ, "deployment config", False),
    ("auditor", A.READ, "deployment config", True),
    ("auditor", A.UPDATE, "deployment config", False),
    ("auditor", A.READ, "bob's chat in A", False),
    ("user-admin", A.UPDATE, "bob's user", True),
    ("user-admin", A.DELETE, "bob's user", True),
    ("user-admin", A.READ_PERSONAL, "bob's user", False),
    ("user-admin", A.READ, "bob's chat in A", False),
    ("user-admin", A.READ, "deployment config", False),
    ("chatd", A.CREATE, "a new chat for alice in B", True),
    ("chatd", A.READ, "bob's chat in B", True),
    ("chatd", A.UPDATE, "bob's chat in A", True),
    ("chatd", A.DELETE, "bob's file in A", True),
    ("chatd", A.READ, "deployment config", True),
    ("chatd", A.UPDATE, "deployment config", False),
    ("chatd", A.READ, "bob's user", True),
    ("chatd", A.UPDATE, "bob's user", False),
    ("chatd", A.READ_PERSONAL, "bob's user", False),
    ("dbpurge", A.DELETE, "bob's chat in B", True),
    ("dbpurge", A.DELETE, "alice's file in A", True),
    ("dbpurge", A.UPDATE, "bob's chat in B", False),
    ("dbpurge", A.READ, "deployment config", False),
    ("dbpurge", A.READ, "bob's chat in B", False),
    ("dbpurge", A.READ, "alice's file in A", False),
    ("telemetry", A.READ, "bob's chat in B", False),
    ("telemetry", A.READ, "alice's file in A", False),
    ("telemetry", A.READ, "deployment config", True),
    ("telemetry", A.UPDATE, "bob's chat in B", False),
    ("telemetry", A.DELETE, "bob's chat in B", False),
    ("telemetry", A.READ, "bob's user", False),
    ("system", A.UPDATE, "deployment config", True),
    ("system", A.DELETE, "bob's chat in B", True),
    ("system", A.UPDATE_PERSONAL, "bob's user", True),
]


@pytest.mark.parametrize(
    ("who", "action", "what", "expected"),
    MATRIX,
    ids=[f"{w} {'may' if e else 'may not'} {a} {o}" for w, a, o, e in MATRIX],
)
def test_role_matrix(who: str, action: Action, what: str, expected: bool) -> None:
    az = Authorizer()
    subject, obj = SUBJECTS[who], OBJECTS[what]
    assert az.allowed(subject, action, obj) is expected
    if expected:
        az.authorize(subject, action, obj)
    else:
        with pytest.raises(NotAuthorized):
            az.authorize(subject, action, obj)


SYSTEM_MATRIX: list[tuple[str, Action, ResourceType, bool]] = [
    ("owner", A.DELETE, T.CHAT, True),
    ("chatd", A.UPDATE, T.CHAT, True),
    ("chatd", A.READ, T.DEPLOYMENT_CONFIG, True),
    ("chatd", A.DELETE, T.SYSTEM, False),
    ("dbpurge", A.DELETE, T.CHAT, True),
    ("dbpurge", A.DELETE, T.CHAT_FILE, True),
    ("dbpurge", A.UPDATE, T.CHAT, False),
    ("dbpurge", A.READ, T.CHAT, False),
    ("telemetry", A.READ, T.CHAT, False),
    ("telemetry", A.READ, T.SYSTEM, True),
    ("telemetry", A.UPDATE, T.CHAT, False),
    ("system", A.UPDATE, T.SYSTEM, True),
    # Owning chats or administering an organization is not a site-wide grant.
    ("chat-access member", A.READ, T.CHAT, False),
    ("org A admin", A.READ, T.CHAT, False),
    ("auditor", A.READ, T.CHAT, False),
]


@pytest.mark.parametrize(
    ("who", "action", "type", "expected"),
    SYSTEM_MATRIX,
    ids=[f"{w} {'passes' if e else 'fails'} system {a} {t}" for w, a, t, e in SYSTEM_MATRIX],
)
def test_system_terms_need_a_site_wide_grant(
    who: str, action: Action, type: ResourceType, expected: bool
) -> None:
    az = Authorizer()
    assert az.allowed_system(SUBJECTS[who], action, type) is expected
    if not expected:
        with pytest.raises(NotAuthorized):
            az.authorize_system(SUBJECTS[who], action, type)


# --------------------------------------------------------------------------- placement


def test_system_roles_in_a_persons_role_list_grant_nothing() -> None:
    impostor = person(ALICE, "alice", "system:system", "system:chatd")
    assert not Authorizer().allowed(impostor, A.READ, OBJECTS["bob's chat in A"])
    assert not Authorizer().allowed_system(impostor, A.READ, T.CHAT)


def test_a_site_role_held_per_organization_grants_nothing() -> None:
    sneaky = person(ALICE, "alice", org_roles={ORG_A: [OWNER]})
    az = Authorizer()
    assert not az.allowed(sneaky, A.READ, OBJECTS["bob's chat in A"])
    assert not az.allowed(sneaky, A.UPDATE, OBJECTS["deployment config"])


def test_an_organization_role_listed_among_site_roles_grants_nothing() -> None:
    confused = person(ALICE, "alice", ORGANIZATION_ADMIN)
    assert not Authorizer().allowed(confused, A.READ, OBJECTS["bob's chat in A"])


def test_unknown_role_names_grant_nothing() -> None:
    stranger = person(ALICE, "alice", "superuser", org_roles={ORG_A: ["god"]})
    assert not Authorizer().allowed(stranger, A.READ, OBJECTS["alice's chat in A"])


def test_chat_access_held_as_an_org_role_is_limited_to_that_org() -> None:
    alice = person(ALICE, "alice", orgs=(ORG_A, ORG_B), org_roles={ORG_A: [CHAT_ACCESS]})
    az = Authorizer()
    assert az.allowed(alice, A.READ, OBJECTS["alice's chat in A"])
    assert not az.allowed(alice, A.READ, OBJECTS["alice's chat in B"])


def test_chat_access_follows_membership_into_every_member_org() -> None:
    alice = person(ALICE, "alice", CHAT_ACCESS, orgs=(ORG_A, ORG_B))
    az = Authorizer()
    assert az.allowed(alice, A.READ, OBJECTS["alice's chat in A"])
    assert az.allowed(alice, A.READ, OBJECTS["alice's chat in B"])


def test_holding_an_organization_role_implies_membership() -> None:
    admin = person(uuid4(), "ann", orgs=(), org_roles={ORG_B: [ORGANIZATION_ADMIN]})
    assert ORG_B in admin.memberships
    assert Authorizer().allowed(admin, A.READ, OBJECTS["org B"])


def test_a_role_held_per_organization_may_not_carry_site_permissions() -> None:
    with pytest.raises(ValueError):
        Role("bad", site=allow(T.CHAT), placements=frozenset({"org"}))


# --------------------------------------------------------------------------- negation

NEGATING_ROLES = {
    **BUILTIN_ROLES,
    "no-chats": Role("no-chats", site=deny(T.CHAT)),
    "no-chat-delete": Role("no-chat-delete", site=deny(T.CHAT, A.DELETE)),
    "org-no-chats": Role("org-no-chats", org=deny(T.CHAT), placements=frozenset({"org"})),
    "not-my-chats": Role("not-my-chats", user=deny(T.CHAT), placements=frozenset({"site", "org"})),
}


def test_a_negation_beats_a_grant_at_the_same_level() -> None:
    restricted_owner = person(uuid4(), "root", OWNER, "no-chats")
    az = Authorizer(NEGATING_ROLES)
    assert not az.allowed(restricted_owner, A.READ, OBJECTS["bob's chat in A"])
    assert az.allowed(restricted_owner, A.UPDATE, OBJECTS["deployment config"])


def test_a_negation_of_one_action_leaves_the_others() -> None:
    owner = person(uuid4(), "root", OWNER, "no-chat-delete")
    az = Authorizer(NEGATING_ROLES)
    assert az.allowed(owner, A.UPDATE, OBJECTS["bob's chat in A"])
    assert not az.allowed(owner, A.DELETE, OBJECTS["bob's chat in A"])


def test_a_site_negation_beats_org_and_user_grants_below_it() -> None:
    admin = person(ALICE, "alice", CHAT_ACCESS, "no-chats", org_roles={ORG_A: [ORGANIZATION_ADMIN]})
    az = Authorizer(NEGATING_ROLES)
    assert not az.allowed(admin, A.READ, OBJECTS["bob's chat in A"])
    assert not az.allowed(admin, A.READ, OBJECTS["alice's chat in A"])
    assert az.allowed(admin, A.READ, OBJECTS["bob's file in A"])


def test_an_org_negation_beats_a_user_grant_in_that_org_only() -> None:
    alice = person(
        ALICE, "alice", CHAT_ACCESS, orgs=(ORG_A, ORG_B), org_roles={ORG_A: ["org-no-chats"]}
    )
    az = Authorizer(NEGATING_ROLES)
    assert not az.allowed(alice, A.READ, OBJECTS["alice's chat in A"])
    assert az.allowed(alice, A.READ, OBJECTS["alice's chat in B"])


def test_a_grant_at_a_higher_level_beats_a_negation_below() -> None:
    admin = person(ALICE, "alice", "not-my-chats", org_roles={ORG_A: [ORGANIZATION_ADMIN]})
    az = Authorizer(NEGATING_ROLES)
    assert az.allowed(admin, A.UPDATE, OBJECTS["alice's chat in A"])


def test_a_user_level_negation_beats_a_user_level_grant() -> None:
    alice = person(ALICE, "alice", CHAT_ACCESS, "not-my-chats")
    az = Authorizer(NEGATING_ROLES)
    assert not az.allowed(alice, A.READ, OBJECTS["alice's chat in A"])
    assert az.allowed(alice, A.READ, OBJECTS["alice's file in A"])


# --------------------------------------------------------------------------- scope


def test_a_scope_limits_what_the_roles_allow() -> None:
    reader = person(
        ALICE, "alice", CHAT_ACCESS, scope=Scope.restricted("read-chats", [(T.CHAT, A.READ)])
    )
    az = Authorizer()
    assert az.allowed(reader, A.READ, OBJECTS["alice's chat in A"])
    assert not az.allowed(reader, A.UPDATE, OBJECTS["alice's chat in A"])
    assert not az.allowed(reader, A.READ, OBJECTS["alice's file in A"])


def test_a_scope_never_adds_to_the_roles() -> None:
    reader = person(CAROL, "carol", MEMBER, scope=Scope.restricted("read", [(T.WILDCARD, A.READ)]))
    az = Authorizer()
    assert not az.allowed(reader, A.READ, OBJECTS["carol's chat in A"])
    assert az.allowed(reader, A.READ, OBJECTS["org A"])
    assert not az.allowed(reader, A.UPDATE_PERSONAL, OBJECTS["carol's user"])


def test_a_scoped_owner_loses_site_wide_writes() -> None:
    owner = person(uuid4(), "root", OWNER, scope=Scope.restricted("ro", [(T.WILDCARD, A.READ)]))
    az = Authorizer()
    assert az.allowed(owner, A.READ, OBJECTS["deployment config"])
    assert not az.allowed(owner, A.UPDATE, OBJECTS["deployment config"])
    assert not az.allowed_system(owner, A.DELETE, T.CHAT)


# --------------------------------------------------------------------------- refusals


def test_no_actor_is_refused() -> None:
    az = Authorizer()
    with pytest.raises(NotAuthorized, match="no actor"):
        az.authorize(None, A.READ, OBJECTS["alice's chat in A"])
    with pytest.raises(NotAuthorized, match="no actor"):
        az.authorize_system(None, A.READ, T.CHAT)
    assert not az.allowed(None, A.READ, OBJECTS["deployment config"])


def test_a_refusal_names_subject_action_and_object_and_is_not_not_found() -> None:
    chat = OBJECTS["bob's chat in A"]
    with pytest.raises(NotAuthorized) as info:
        Authorizer().authorize(SUBJECTS["chat-access member"], A.UPDATE, chat)
    message = str(info.value)
    assert "alice" in message and str(ALICE) in message
    assert "update" in message and f"chat:{chat.id}" in message
    assert info.value.action == "update"
    assert not isinstance(info.value, NotFound)


def test_an_object_of_wildcard_type_is_refused_even_to_the_owner() -> None:
    assert not Authorizer().allowed(SUBJECTS["owner"], A.READ, Object(T.WILDCARD))


# --------------------------------------------------------------------------- caching


def test_each_subject_is_compiled_once_and_equal_subjects_share_it() -> None:
    az = Authorizer()
    one = person(ALICE, "alice", CHAT_ACCESS, MEMBER, org_roles={ORG_B: ["organization-admin"]})
    same = person(ALICE, "alice", MEMBER, CHAT_ACCESS, org_roles={ORG_B: ["organization-admin"]})
    assert one == same and hash(one) == hash(same) and one is not same
    assert az.compiled(one) is az.compiled(one)
    assert az.compiled(same) is az.compiled(one)
    assert az.compiled.cache_info().misses == 1


def test_subjects_differing_in_roles_are_compiled_separately() -> None:
    az = Authorizer()
    assert az.compiled(SUBJECTS["plain member"]) is not az.compiled(
        person(CAROL, "carol", MEMBER, CHAT_ACCESS)
    )


def test_subject_normalises_its_inputs() -> None:
    s = Subject(
        id=ALICE,
        name="alice",
        site_roles=["b", "a", "a"],
        org_roles={ORG_A: ["y", "x"]},
        group_ids=[ORG_B],
    )
    assert s.site_roles == ("a", "b")
    assert s.org_roles[ORG_A] == ("x", "y")
    assert s.memberships == frozenset({ORG_A})
    assert s.group_ids == frozenset({ORG_B})
    hash(s)


def test_object_constructors_fill_owner_and_org() -> None:
    chat_id = uuid4()
    assert Object.chat(chat_id, ALICE, ORG_A) == Object(T.CHAT, chat_id, ALICE, ORG_A)
    assert Object.user(BOB) == Object(T.USER, BOB, BOB, None)
    assert Object.organization(ORG_A) == Object(T.ORGANIZATION, ORG_A, None, ORG_A)
    assert Object.system(T.CHAT) == Object(T.CHAT, None, None, None)
    assert Object.deployment_config().type is T.DEPLOYMENT_CONFIG


# --------------------------------------------------------------------------- actor context


def test_current_actor_without_one_is_refused() -> None:
    assert current_actor_or_none() is None
    with pytest.raises(NotAuthorized, match="no actor"):
        current_actor()


def test_as_actor_nests_and_restores() -> None:
    alice, carol = SUBJECTS["chat-access member"], SUBJECTS["plain member"]
    with as_actor(alice):
        assert current_actor() is alice
        with as_actor(carol):
            assert current_actor() is carol
        assert current_actor() is alice
    assert current_actor_or_none() is None


def test_as_actor_restores_after_an_exception() -> None:
    with pytest.raises(RuntimeError), as_actor(SUBJECTS["owner"]):
        raise RuntimeError("boom")
    assert current_actor_or_none() is None


def test_as_actor_refuses_a_non_subject() -> None:
    with pytest.raises(TypeError), as_actor(None):  # type: ignore[arg-type]
        pass


async def test_asyncio_tasks_keep_their_own_actor() -> None:
    alice, carol = SUBJECTS["chat-access member"], SUBJECTS["plain member"]
    release = asyncio.Event()

    async def whoami(who: Subject) -> Subject:
        with as_actor(who):
            await release.wait()
            return current_actor()

    async def inherited() -> Subject:
        await release.wait()
        return current_actor()

    first = asyncio.create_task(whoami(alice))
    second = asyncio.create_task(whoami(carol))
    with as_actor(alice):
        third = asyncio.create_task(inherited())
    await asyncio.sleep(0)
    assert current_actor_or_none() is None
    release.set()
    assert await first is alice
    assert await second is carol
    assert await third is alice
    assert current_actor_or_none() is None


# --------------------------------------------------------------------------- recording


def test_recording_authorizer_records_checks_in_order() -> None:
    rec = RecordingAuthorizer()
    alice, chat = SUBJECTS["chat-access member"], OBJECTS["bob's chat in A"]
    rec.authorize(alice, A.READ, chat)
    rec.authorize_system(alice, A.UPDATE, T.CHAT)
    assert rec.allowed(alice, A.DELETE, chat)
    f = rec.sql_filter(
        alice, A.READ, T.CHAT, owner_column="owner_id", org_column="organization_id", first_param=3
    )
    assert (f.sql, f.params, f.next_param) == ("TRUE", (), 3)
    assert rec.calls == [
        Check(A.READ, chat),
        Check(A.UPDATE, Object.system(T.CHAT), "system"),
        Check(A.DELETE, chat),
        Check(A.READ, Object.system(T.CHAT), "filter"),
    ]
    rec.reset()
    assert rec.calls == []


def test_recording_authorizer_delegates_decisions_to_the_inner_authorizer() -> None:
    rec = RecordingAuthorizer(Authorizer())
    alice = SUBJECTS["chat-access member"]
    rec.authorize(alice, A.READ, OBJECTS["alice's chat in A"])
    with pytest.raises(NotAuthorized):
        rec.authorize(alice, A.READ, OBJECTS["bob's chat in A"])
    f = rec.sql_filter(
        alice, A.READ, T.CHAT, owner_column="owner_id", org_column="organization_id", first_param=1
    )
    assert ALICE in f.params
    assert len(rec.calls) == 3


def test_recording_authorizer_can_deny_everything() -> None:
    rec = RecordingAuthorizer(deny_all=True)
    owner = SUBJECTS["owner"]
    with pytest.raises(NotAuthorized):
        rec.authorize(owner, A.READ, OBJECTS["deployment config"])
    with pytest.raises(NotAuthorized):
        rec.authorize_system(owner, A.READ, T.CHAT)
    assert not rec.allowed(owner, A.READ, OBJECTS["org A"])
    f = rec.sql_filter(owner, A.READ, T.CHAT, owner_column="o", org_column=None, first_param=2)
    assert f.sql == "FALSE"
    assert len(rec.calls) == 4


def test_recording_authorizer_can_deny_one_specific_check() -> None:
    chat = OBJECTS["bob's chat in A"]
    rec = RecordingAuthorizer(deny=[Check(A.UPDATE, chat)])
    owner = SUBJECTS["owner"]
    rec.authorize(owner, A.READ, chat)
    with pytest.raises(NotAuthorized):
        rec.authorize(owner, A.UPDATE, chat)
    rec.authorize(owner, A.UPDATE, OBJECTS["bob's chat in B"])


def test_recording_authorizer_can_deny_by_predicate() -> None:
    rec = RecordingAuthorizer(deny=lambda c: c.kind == "system")
    owner = SUBJECTS["owner"]
    rec.authorize(owner, A.DELETE, OBJECTS["bob's chat in A"])
    with pytest.raises(NotAuthorized):
        rec.authorize_system(owner, A.DELETE, T.CHAT)


def test_recording_authorizer_still_refuses_no_actor() -> None:
    rec = RecordingAuthorizer()
    with pytest.raises(NotAuthorized, match="no actor"):
        rec.authorize(None, A.READ, OBJECTS["org A"])
    assert not rec.allowed(None, A.READ, OBJECTS["org A"])
    f = rec.sql_filter(None, A.READ, T.CHAT, owner_column=None, org_column=None, first_param=1)
    assert f.sql == "FALSE"
