"""The built-in roles and the named system subjects.

``chat-access`` is how a person gets chats at all (``member`` has no chat rights, as in the
original after it introduced the role). It is stored as a *site* role in ``users.rbac_roles``
but grants only *user-level* permissions, and user-level permissions of a site role apply to
the subject's own objects **in organizations it is a member of** (plus its own org-less
objects). So a chat-access user may create, read and update its own chats and chat files in
its organizations; not another user's chat, and not its own chat in an organization it has
left. It may also be held as an organization role, limiting it to that organization.

System subjects are for background services. Their roles are ``system_only``: the same name
in a person's role list grants nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from uuid import UUID

from chatdb.authz.rbac import SCOPE_ALL, Action, ResourceType, Role, Scope, Subject, allow
from chatdb.errors import InvalidInput, NotAuthorized

A = Action
T = ResourceType

OWNER = "owner"
MEMBER = "member"
AUDITOR = "auditor"
USER_ADMIN = "user-admin"
CHAT_ACCESS = "chat-access"
ORGANIZATION_ADMIN = "organization-admin"
ORGANIZATION_MEMBER = "organization-member"

CRUD = (A.CREATE, A.READ, A.UPDATE, A.DELETE)

_ROLES: tuple[Role, ...] = (
    Role(OWNER, site=allow(T.WILDCARD)),
    # Members see and edit their own user (incl. personal settings) and read their own personal
    # secrets (their MCP tokens) in clear; nothing chat-related.
    Role(
        MEMBER,
        user=allow(T.USER, A.READ, A.READ_PERSONAL, A.UPDATE_PERSONAL) + allow(T.SECRET, A.READ),
    ),
    Role(AUDITOR, site=allow(T.DEPLOYMENT_CONFIG, A.READ)),
    Role(
        USER_ADMIN,
        site=allow(T.USER, *CRUD)
        + allow(T.GROUP, *CRUD)
        + allow(T.ORGANIZATION_MEMBER, *CRUD)
        + allow(T.ORGANIZATION, A.READ),
    ),
    Role(
        CHAT_ACCESS,
        user=allow(T.CHAT, A.CREATE, A.READ, A.UPDATE)
        + allow(T.CHAT_FILE, A.CREATE, A.READ, A.UPDATE)
        # Its own workspaces, to bind one to a chat (binding needs read on the workspace).
        + allow(T.WORKSPACE, A.READ),
        placements=frozenset({"site", "org"}),
    ),
    Role(
        ORGANIZATION_ADMIN,
        org=allow(T.CHAT)
        + allow(T.CHAT_FILE)
        + allow(T.ORGANIZATION, A.READ, A.UPDATE)
        + allow(T.ORGANIZATION_MEMBER, *CRUD)
        + allow(T.GROUP, *CRUD)
        + allow(T.WORKSPACE, A.READ),
        placements=frozenset({"org"}),
    ),
    # Implied by membership: see the organization and one's own membership row.
    Role(
        ORGANIZATION_MEMBER,
        org=allow(T.ORGANIZATION, A.READ),
        user=allow(T.ORGANIZATION_MEMBER, A.READ),
        placements=frozenset({"org"}),
    ),
)


_SYSTEM_ROLES: tuple[Role, ...] = (
    # The chat daemon runs every user's chats: chat CRUD, reads config and users, and is the one
    # that calls providers and MCP servers, so it alone reads their credentials in clear.
    Role(
        "system:chatd",
        site=allow(T.CHAT, *CRUD)
        + allow(T.CHAT_FILE, *CRUD)
        + allow(T.DEPLOYMENT_CONFIG, A.READ)
        + allow(T.USER, A.READ)
        + allow(T.SECRET, A.READ)
        + allow(T.WORKSPACE, A.READ),
        system_only=True,
    ),
    # Retention purges archived chats and unlinked files: delete, never read (SPEC 8:
    # "dbpurge (system delete)"), so it cannot read a chat's messages.
    Role(
        "system:dbpurge",
        site=allow(T.CHAT, A.DELETE) + allow(T.CHAT_FILE, A.DELETE),
        system_only=True,
    ),
    # Telemetry reads aggregates without PII (the "system read system" terms, the original's
    # ResourceSystem) and the deployment config; no single chat, message or file.
    Role(
        "system:telemetry",
        site=allow(T.DEPLOYMENT_CONFIG, A.READ) + allow(T.SYSTEM, A.READ),
        system_only=True,
    ),
    # Everything, secrets included. Its use must be explicit and rare (migrations, bootstrap,
    # tests).
    Role("system:system", site=allow(T.WILDCARD) + allow(T.SECRET), system_only=True),
)

BUILTIN_ROLES: Mapping[str, Role] = MappingProxyType({r.name: r for r in _ROLES + _SYSTEM_ROLES})


def _system_subject(name: str, id: str) -> Subject:
    return Subject(id=UUID(id), name=name, site_roles=(f"system:{name}",), is_system=True)


CHATD = _system_subject("chatd", "00000000-0000-4000-8000-00000000c0d1")
DBPURGE = _system_subject("dbpurge", "00000000-0000-4000-8000-00000000c0d2")
TELEMETRY = _system_subject("telemetry", "00000000-0000-4000-8000-00000000c0d3")
SYSTEM = _system_subject("system", "00000000-0000-4000-8000-00000000c0d4")

SYSTEM_SUBJECTS: tuple[Subject, ...] = (CHATD, DBPURGE, TELEMETRY, SYSTEM)


# --------------------------------------------------------------------------- API-key scopes


def _chat_scope(name: str, *actions: Action) -> Scope:
    # A chat's files are part of the chat (uploads its messages cite), so they share its scope.
    return Scope.restricted(name, [(t, a) for t in (T.CHAT, T.CHAT_FILE) for a in actions])


API_KEY_SCOPES: Mapping[str, Scope] = MappingProxyType(
    {
        "all": SCOPE_ALL,
        "chat:create": _chat_scope("chat:create", A.CREATE),
        "chat:read": _chat_scope("chat:read", A.READ),
        "chat:update": _chat_scope("chat:update", A.UPDATE),
        "chat:delete": _chat_scope("chat:delete", A.DELETE),
        "chat:*": _chat_scope("chat:*", *CRUD),
    }
)
"""The API-key scopes of the seeds' ``api_key_scope`` enum (``chat:create|read|update|
delete|*``) plus ``all``. A scoped key acts with its user's roles *and* within the scope:
``chat:read`` can list and read the user's chats but change nothing, and no chat scope
reaches the deployment configuration, even for a site owner."""


def api_key_scope(name: str) -> Scope:
    """The scope named ``name`` (InvalidInput for an unknown one)."""
    try:
        return API_KEY_SCOPES[name]
    except (KeyError, TypeError):
        known = ", ".join(API_KEY_SCOPES)
        raise InvalidInput(
            f"unknown API key scope {name!r} (one of {known})", field="scope"
        ) from None


# --------------------------------------------------------------------------- role assignment

ASSIGNABLE_BY: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        OWNER: frozenset({OWNER}),
        AUDITOR: frozenset({OWNER}),
        USER_ADMIN: frozenset({OWNER}),
        # Seed: "Allow system, owner, and user-admin to assign the new role".
        CHAT_ACCESS: frozenset({OWNER, USER_ADMIN}),
    }
)
"""The site roles a user may hold in ``users.rbac_roles``, and which roles may grant or take
each (the system subject assigns every one). ``member`` is implied, never stored."""


def can_assign_site_role(actor: Subject, role: str) -> bool:
    """Whether ``actor`` may grant or take away the site role ``role``."""
    if actor.is_system and f"system:{SYSTEM.name}" in actor.site_roles:
        return True
    granters = ASSIGNABLE_BY.get(role, frozenset())
    return any(r in granters for r in actor.site_roles)


def check_site_role_change(
    actor: Subject, current: Sequence[str], wanted: Sequence[str | None]
) -> None:
    """Refuse a change of a user's site roles the actor may not make.

    InvalidInput for a role that cannot be stored; NotAuthorized for a role added or removed
    that the actor may not assign. Roles left as they are need no right.
    """
    unknown = sorted({str(r) for r in wanted if r is None or r not in ASSIGNABLE_BY})
    if unknown:
        known = ", ".join(ASSIGNABLE_BY)
        raise InvalidInput(f"unknown site roles {unknown} (one of {known})", field="rbac_roles")
    for role in sorted(set(current) ^ {r for r in wanted if r is not None}):
        if not can_assign_site_role(actor, role):
            raise NotAuthorized(
                f"{actor.name} may not assign the {role} role", action="assign", object=role
            )
