# ruff: noqa: F811  (pytest fixtures imported from tests/ops/conftest.py are parameters here)
"""Trust boundaries an ordinary user must never cross (issue 8, items 1, 2, 6, 7).

Each attack is made through the public API by a hostile actor — another member of the
organization (bob), the admin of another organization, the auditor — against alice's
objects; a refusal must write nothing (row digests before and after).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from chatdb import db
from chatdb.authz import AUDITOR, ORGANIZATION_ADMIN, Subject
from chatdb.authz.wrapper import AuthzQuerier
from chatdb.db import ChatClientType, ChatStatus, Querier
from chatdb.errors import CheckViolation, ForeignKeyViolation, NotAuthorized
from chatdb.ops import Chats
from chatdb.testing.factories import Factories
from tests.ops.conftest import (  # noqa: F401  (fixtures)
    State,
    alice,
    bob,
    chats,
    conn,
    db_state,
    f,
    model,
    org,
    person,
    q,
    store,
)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def other_org_admin(f: Factories) -> Subject:
    other = f.organization()
    user = f.user(organization_id=other.id, org_roles=[ORGANIZATION_ADMIN])
    return Subject(
        id=user.id, name="eve", org_roles={other.id: (ORGANIZATION_ADMIN,)}, memberships={other.id}
    )


@pytest.fixture
def org_admin(f: Factories, org: db.Organization) -> Subject:
    user = f.user(organization_id=org.id, org_roles=[ORGANIZATION_ADMIN])
    return Subject(
        id=user.id, name="oscar", org_roles={org.id: (ORGANIZATION_ADMIN,)}, memberships={org.id}
    )


@pytest.fixture
def auditor(f: Factories, org: db.Organization) -> Subject:
    return person(f, org, "audrey", AUDITOR)


HOSTILE = ("bob", "other_org_admin", "auditor")


def _insert_args(owner: Subject, org: db.Organization, model: Any, **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "owner_id": owner.id,
        "organization_id": org.id,
        "workspace_id": None,
        "build_id": None,
        "agent_id": None,
        "parent_chat_id": None,
        "root_chat_id": None,
        "last_model_config_id": model.id,
        "title": "t",
        "status": ChatStatus.WAITING,
        "mode": None,
        "plan_mode": None,
        "client_type": ChatClientType.API,
        "mcp_server_ids": None,
        "labels": None,
        "dynamic_tools": None,
    }
    args.update(kw)
    return args


# ---- item 1: binding a workspace -----------------------------------------------------------


@pytest.mark.parametrize("attacker", HOSTILE)
def test_no_hostile_actor_binds_alices_workspace_to_its_chat(
    request: pytest.FixtureRequest,
    attacker: str,
    q: Querier,
    f: Factories,
    org: db.Organization,
    alice: Subject,
    model: Any,
    db_state: Callable[[], State],
) -> None:
    actor: Subject = request.getfixturevalue(attacker)
    mine = f.workspace(organization_id=org.id, owner_id=alice.id)
    # The attacker's own chat (made without the wrapper) in the attacker's first organization.
    own_org = next(iter(actor.memberships))
    theirs = f.chat(owner_id=actor.id, organization_id=own_org, last_model_config_id=model.id)
    authz = AuthzQuerier(q, actor=actor)
    before = db_state()
    with pytest.raises(NotAuthorized):
        authz.update_chat_workspace_binding(
            id=theirs.id, workspace_id=mine.id, build_id=None, agent_id=None
        )
    with pytest.raises(NotAuthorized):
        authz.insert_chat(**_insert_args(actor, org, model, workspace_id=mine.id))
    assert db_state() == before


def test_a_member_binds_its_own_workspace(
    q: Querier, f: Factories, org: db.Organization, alice: Subject, model: Any
) -> None:
    ws = f.workspace(organization_id=org.id, owner_id=alice.id)
    chat = AuthzQuerier(q, actor=alice).insert_chat(
        **_insert_args(alice, org, model, workspace_id=ws.id)
    )
    assert chat.workspace_id == ws.id


def test_a_workspace_of_another_organization_is_never_bound_whoever_asks(
    q: Querier,
    f: Factories,
    org: db.Organization,
    alice: Subject,
    model: Any,
    db_state: Callable[[], State],
) -> None:
    # Even the system subject, which may read every workspace: the database refuses.
    from chatdb.authz import SYSTEM

    foreign = f.workspace(organization_id=f.organization().id, owner_id=alice.id)
    chat = f.chat(owner_id=alice.id, organization_id=org.id, last_model_config_id=model.id)
    authz = AuthzQuerier(q, actor=SYSTEM)
    before = db_state()
    with pytest.raises(ForeignKeyViolation):
        authz.update_chat_workspace_binding(
            id=chat.id, workspace_id=foreign.id, build_id=None, agent_id=None
        )
    with pytest.raises(ForeignKeyViolation):
        authz.insert_chat(**_insert_args(alice, org, model, workspace_id=foreign.id))
    assert db_state() == before


def test_looking_up_a_workspace_for_binding_reveals_nothing_of_an_unreadable_one(
    q: Querier, f: Factories, org: db.Organization, alice: Subject, bob: Subject
) -> None:
    ws = f.workspace(organization_id=org.id, owner_id=alice.id, name="alice-secret-project")
    with pytest.raises(NotAuthorized) as exc:
        AuthzQuerier(q, actor=bob).get_workspace_for_chat_binding(
            owner_id=bob.id,
            organization_id=org.id,
            workspace_id=ws.id,
            build_id=None,
            agent_id=None,
        )
    assert "alice-secret-project" not in str(exc.value)


# ---- item 2: parent and root chats ---------------------------------------------------------


@pytest.mark.parametrize("attacker", HOSTILE)
@pytest.mark.parametrize("link", ["parent_chat_id", "root_chat_id"])
def test_no_hostile_actor_hangs_its_chat_under_alices(
    request: pytest.FixtureRequest,
    attacker: str,
    link: str,
    q: Querier,
    f: Factories,
    org: db.Organization,
    alice: Subject,
    model: Any,
    db_state: Callable[[], State],
) -> None:
    actor: Subject = request.getfixturevalue(attacker)
    hers = f.chat(owner_id=alice.id, organization_id=org.id, last_model_config_id=model.id)
    own_org = f.organization() if not actor.memberships else None
    org_of_actor = next(iter(actor.memberships)) if own_org is None else own_org.id
    before = db_state()
    with pytest.raises(NotAuthorized):
        AuthzQuerier(q, actor=actor).insert_chat(
            **_insert_args(actor, org, model, organization_id=org_of_actor, **{link: hers.id})
        )
    assert db_state() == before


def test_a_sub_agent_chat_has_its_parents_owner_and_organization_whoever_writes_it(
    q: Querier,
    f: Factories,
    org: db.Organization,
    alice: Subject,
    bob: Subject,
    model: Any,
    db_state: Callable[[], State],
) -> None:
    from chatdb.authz import SYSTEM

    hers = f.chat(owner_id=alice.id, organization_id=org.id, last_model_config_id=model.id)
    before = db_state()
    for link in ("parent_chat_id", "root_chat_id"):
        with pytest.raises(ForeignKeyViolation):
            AuthzQuerier(q, actor=SYSTEM).insert_chat(
                **_insert_args(bob, org, model, **{link: hers.id})
            )
    assert db_state() == before


def test_archiving_alices_family_never_takes_a_strangers_chat(
    chats: Chats,
    f: Factories,
    org: db.Organization,
    alice: Subject,
    bob: Subject,
    model: Any,
    conn: psycopg.Connection[Any],
) -> None:
    hers = chats.create_chat(organization_id=org.id, actor=alice).chat
    with pytest.raises(NotAuthorized):
        chats.create_chat(parent_chat_id=hers.id, actor=bob)
    his = chats.create_chat(organization_id=org.id, actor=bob).chat
    chats.archive(hers.id, actor=alice)
    row = conn.execute("SELECT archived FROM chats WHERE id = %s", (his.id,)).fetchone()
    assert row == (False,)


# ---- item 6: money and identity ------------------------------------------------------------


def _message_args(chat_id: Any, created_by: Any, **usage: Any) -> dict[str, Any]:
    one: dict[str, Any] = {
        "created_by": [created_by],
        "model_config_id": [None],
        "role": [db.ChatMessageRole.ASSISTANT],
        "content": [[{"type": "text", "text": "x"}]],
        "content_version": [1],
        "visibility": [None],
        "compressed": [None],
        "provider_response_id": [None],
    }
    for name in (
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "reasoning_tokens",
        "cache_creation_tokens",
        "cache_read_tokens",
        "context_limit",
        "total_cost_micros",
        "runtime_ms",
    ):
        one[name] = [usage.get(name)]
    return {"chat_id": chat_id, **one}


@pytest.mark.parametrize(
    "usage", [{"total_cost_micros": -8_000_000}, {"input_tokens": -1}, {"runtime_ms": -5}]
)
def test_negative_usage_or_cost_is_refused_and_writes_nothing(
    q: Querier,
    f: Factories,
    org: db.Organization,
    alice: Subject,
    model: Any,
    usage: dict[str, int],
    db_state: Callable[[], State],
) -> None:
    chat = f.chat(owner_id=alice.id, organization_id=org.id, last_model_config_id=model.id)
    before = db_state()
    with pytest.raises(CheckViolation):
        AuthzQuerier(q, actor=alice).insert_chat_messages(
            **_message_args(chat.id, alice.id, **usage)
        )
    assert db_state() == before


def test_created_by_is_the_actor_never_another_user(
    q: Querier,
    f: Factories,
    org: db.Organization,
    alice: Subject,
    bob: Subject,
    model: Any,
    db_state: Callable[[], State],
) -> None:
    chat = f.chat(owner_id=alice.id, organization_id=org.id, last_model_config_id=model.id)
    before = db_state()
    with pytest.raises(NotAuthorized):
        AuthzQuerier(q, actor=alice).insert_chat_messages(**_message_args(chat.id, bob.id))
    assert db_state() == before
    rows = AuthzQuerier(q, actor=alice).insert_chat_messages(**_message_args(chat.id, alice.id))
    assert rows[0].created_by == alice.id


def test_an_org_admin_creates_chats_only_for_members_of_its_organization(
    q: Querier,
    f: Factories,
    org: db.Organization,
    org_admin: Subject,
    model: Any,
    db_state: Callable[[], State],
) -> None:
    outsider = f.user(organization_id=f.organization().id)
    member = f.user(organization_id=org.id)
    authz = AuthzQuerier(q, actor=org_admin)
    before = db_state()
    with pytest.raises(NotAuthorized):
        authz.insert_chat(**_insert_args(Subject(id=outsider.id, name="o"), org, model))
    assert db_state() == before
    chat = authz.insert_chat(**_insert_args(Subject(id=member.id, name="m"), org, model))
    assert chat.owner_id == member.id


def test_an_org_admin_does_not_read_the_spend_limit_of_a_user_outside_it(
    q: Querier, f: Factories, org: db.Organization, org_admin: Subject
) -> None:
    outsider = f.user(organization_id=f.organization().id, chat_spend_limit_micros=123_456)
    authz = AuthzQuerier(q, actor=org_admin)
    for call in (authz.resolve_user_chat_spend_limit, authz.get_user_group_spend_limit):
        for org_id in (org.id, None):
            with pytest.raises(NotAuthorized):
                call(user_id=outsider.id, organization_id=org_id)
    now = datetime.now(UTC)
    with pytest.raises(NotAuthorized):
        authz.get_user_chat_spend_in_period(
            user_id=outsider.id, organization_id=org.id, start=now - timedelta(days=1), end=now
        )


# ---- item 7: the keyset cursor -------------------------------------------------------------


def test_a_cursor_naming_an_unreadable_chat_gives_the_page_of_a_missing_one(
    chats: Chats,
    f: Factories,
    org: db.Organization,
    alice: Subject,
    bob: Subject,
    model: Any,
    conn: psycopg.Connection[Any],
) -> None:
    old = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(5):
        f.chat(
            owner_id=bob.id,
            organization_id=org.id,
            last_model_config_id=model.id,
            updated_at=old + timedelta(days=i),
        )
    hers = f.chat(
        owner_id=alice.id,
        organization_id=org.id,
        last_model_config_id=model.id,
        updated_at=old + timedelta(days=2, hours=12),
    )
    missing = chats.list_chats(after_id=uuid4(), actor=bob)
    assert missing == []
    # Were alice's timestamp used, bob would get the two chats older than it.
    assert chats.list_chats(after_id=hers.id, actor=bob) == missing
    # Alice's own cursor works for her.
    assert chats.list_chats(after_id=hers.id, actor=alice) == []
    mine = chats.list_chats(actor=bob)
    assert len(chats.list_chats(after_id=mine[2].chats.id, actor=bob)) == 2
