"""Subjects built from the users and organization_members tables."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from chatdb.authz import CHAT_ACCESS, ORGANIZATION_ADMIN, subject_for_user
from chatdb.authz.wrapper import AuthzQuerier
from chatdb.db import Querier
from chatdb.errors import NotAuthorized
from chatdb.testing.factories import Factories


def test_a_chat_access_member_reads_own_chats_only(chatdb_conn: psycopg.Connection[Any]) -> None:
    f = Factories(chatdb_conn)
    org = f.organization()
    alice = f.user(organization_id=org.id, rbac_roles=[CHAT_ACCESS])
    bob = f.user(organization_id=org.id, rbac_roles=[CHAT_ACCESS])
    mine = f.chat(owner_id=alice.id, organization_id=org.id)
    theirs = f.chat(owner_id=bob.id, organization_id=org.id)
    q = Querier(chatdb_conn)
    subject = subject_for_user(q, alice.id)
    assert subject.memberships == frozenset({org.id})
    assert set(subject.site_roles) == {CHAT_ACCESS, "member"}
    authz = AuthzQuerier(q, actor=subject)
    assert authz.get_chat_by_id(id=mine.id) == mine
    with pytest.raises(NotAuthorized):
        authz.get_chat_by_id(id=theirs.id)


def test_organization_roles_come_from_memberships(chatdb_conn: psycopg.Connection[Any]) -> None:
    f = Factories(chatdb_conn)
    org = f.organization()
    admin = f.user(organization_id=org.id, org_roles=[ORGANIZATION_ADMIN])
    group = f.group(organization_id=org.id)
    f.group_member(user_id=admin.id, group_id=group.id)
    other = f.chat(organization_id=org.id)
    subject = subject_for_user(Querier(chatdb_conn), admin.id)
    assert subject.org_roles[org.id] == (ORGANIZATION_ADMIN,)
    assert subject.group_ids == frozenset({group.id})
    assert AuthzQuerier(Querier(chatdb_conn), actor=subject).get_chat_by_id(id=other.id) == other


def test_suspended_and_deleted_users_cannot_act(chatdb_conn: psycopg.Connection[Any]) -> None:
    f = Factories(chatdb_conn)
    q = Querier(chatdb_conn)
    with pytest.raises(NotAuthorized, match="suspended"):
        subject_for_user(q, f.user(status="suspended").id)
    with pytest.raises(NotAuthorized, match="deleted"):
        subject_for_user(q, f.user(deleted=True).id)
