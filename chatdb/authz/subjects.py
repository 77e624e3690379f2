"""Building a user's Subject from the database (what an authentication layer does once per request)."""

from __future__ import annotations

from uuid import UUID

from chatdb.authz.rbac import SCOPE_ALL, Scope, Subject
from chatdb.authz.roles import MEMBER
from chatdb.db import AsyncQuerier, GetAuthzSubjectByUserIDRow, Querier, UserStatus
from chatdb.errors import NotAuthorized


def _subject(row: GetAuthzSubjectByUserIDRow, scope: Scope = SCOPE_ALL) -> Subject:
    if row.deleted or row.status is UserStatus.SUSPENDED:
        raise NotAuthorized(
            f"user {row.username} may not act ({'deleted' if row.deleted else 'suspended'})"
        )
    org_roles = {UUID(org): tuple(roles) for org, roles in dict(row.org_roles).items()}
    return Subject(
        id=row.id,
        name=row.username,
        # Every person is a member (its own user and personal settings), as in the original.
        site_roles=(*row.rbac_roles, MEMBER),
        org_roles=org_roles,
        group_ids=frozenset(row.group_ids),
        memberships=frozenset(org_roles),
        scope=scope,
    )


def subject_for_user(querier: Querier, user_id: UUID, *, scope: Scope = SCOPE_ALL) -> Subject:
    """The Subject of ``user_id``: site roles, organization roles and memberships, groups.

    Uses the plain querier: there is no actor yet when authentication resolves one.
    Deleted or suspended users are refused with NotAuthorized. ``scope`` limits it further,
    e.g. to an API key's scope (``chatdb.authz.api_key_scope("chat:read")``).
    """
    return _subject(querier.get_authz_subject_by_user_id(user_id=user_id), scope)


async def async_subject_for_user(
    querier: AsyncQuerier, user_id: UUID, *, scope: Scope = SCOPE_ALL
) -> Subject:
    return _subject(await querier.get_authz_subject_by_user_id(user_id=user_id), scope)
