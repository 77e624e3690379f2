"""Who may assign the chat-access role (seed: "Allow system, owner, and user-admin to assign
the new role"), through the authorized querier; a refusal leaves the user's roles alone."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
import pytest

from chatdb import db
from chatdb.authz import (
    AUDITOR,
    CHAT_ACCESS,
    CHATD,
    MEMBER,
    ORGANIZATION_ADMIN,
    OWNER,
    SYSTEM,
    USER_ADMIN,
    Subject,
)
from chatdb.authz.wrapper import AuthzQuerier
from chatdb.db import Querier
from chatdb.errors import InvalidInput, NotAuthorized
from chatdb.testing.factories import Factories


def person(
    f: Factories, org: db.Organization, *site: str, org_roles: tuple[str, ...] = ()
) -> Subject:
    user = f.user(organization_id=org.id, rbac_roles=list(site))
    return Subject(
        id=user.id,
        name=user.username,
        site_roles=(*site, MEMBER),
        org_roles={org.id: org_roles} if org_roles else {},
        memberships={org.id},
    )


def roles(conn: psycopg.Connection[Any], user_id: UUID) -> list[str]:
    row = conn.execute("SELECT rbac_roles FROM users WHERE id = %s", (user_id,)).fetchone()
    assert row is not None
    return list(row[0])


ACTORS = {
    "system": lambda f, org: SYSTEM,
    "owner": lambda f, org: person(f, org, OWNER),
    "user-admin": lambda f, org: person(f, org, USER_ADMIN),
    "chatd": lambda f, org: CHATD,
    "organization-admin": lambda f, org: person(f, org, org_roles=(ORGANIZATION_ADMIN,)),
    "auditor": lambda f, org: person(f, org, AUDITOR),
    "chat-access member": lambda f, org: person(f, org, CHAT_ACCESS),
    "member": lambda f, org: person(f, org),
}
MAY_ASSIGN = {"system", "owner", "user-admin"}


@pytest.mark.parametrize("who", sorted(ACTORS))
def test_only_system_owner_and_user_admin_grant_and_take_chat_access(
    chatdb_conn: psycopg.Connection[Any], who: str
) -> None:
    f = Factories(chatdb_conn)
    org = f.organization()
    actor = ACTORS[who](f, org)
    target = f.user(organization_id=org.id)
    az = AuthzQuerier(Querier(chatdb_conn), actor=actor)
    if who in MAY_ASSIGN:
        az.update_user_site_roles(user_id=target.id, rbac_roles=[CHAT_ACCESS])
        assert roles(chatdb_conn, target.id) == [CHAT_ACCESS]
        az.update_user_site_roles(user_id=target.id, rbac_roles=[])
        assert roles(chatdb_conn, target.id) == []
    else:
        with pytest.raises(NotAuthorized):
            az.update_user_site_roles(user_id=target.id, rbac_roles=[CHAT_ACCESS])
        assert roles(chatdb_conn, target.id) == []


def test_a_user_admin_cannot_make_an_owner_and_unknown_roles_are_refused(
    chatdb_conn: psycopg.Connection[Any],
) -> None:
    f = Factories(chatdb_conn)
    org = f.organization()
    admin = AuthzQuerier(Querier(chatdb_conn), actor=person(f, org, USER_ADMIN))
    target = f.user(organization_id=org.id, rbac_roles=[CHAT_ACCESS])
    with pytest.raises(NotAuthorized):
        admin.update_user_site_roles(user_id=target.id, rbac_roles=[CHAT_ACCESS, OWNER])
    with pytest.raises(InvalidInput):
        admin.update_user_site_roles(user_id=target.id, rbac_roles=[CHAT_ACCESS, "wizard"])
    assert roles(chatdb_conn, target.id) == [CHAT_ACCESS]
    # Keeping chat-access while the system adds the auditor role needs no right on the former.
    AuthzQuerier(Querier(chatdb_conn), actor=SYSTEM).update_user_site_roles(
        user_id=target.id, rbac_roles=[CHAT_ACCESS, AUDITOR]
    )
    assert roles(chatdb_conn, target.id) == [CHAT_ACCESS, AUDITOR]
