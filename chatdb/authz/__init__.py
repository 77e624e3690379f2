"""Authorization: the RBAC engine, the actor context and the SQL-filter compiler.

The generated ``AuthzQuerier`` calls only :class:`AuthorizerLike` methods (``authorize``,
``allowed``, ``authorize_system``, ``sql_filter``) with the actor from :func:`current_actor`.
"""

from chatdb.authz.context import as_actor, current_actor, current_actor_or_none
from chatdb.authz.rbac import (
    SCOPE_ALL,
    Action,
    Authorizer,
    AuthorizerLike,
    CompiledSubject,
    Object,
    Permission,
    ResourceType,
    Role,
    Scope,
    Subject,
    allow,
    default_authorizer,
    deny,
)
from chatdb.authz.recording import Check, RecordingAuthorizer
from chatdb.authz.roles import (
    API_KEY_SCOPES,
    AUDITOR,
    BUILTIN_ROLES,
    CHAT_ACCESS,
    CHATD,
    DBPURGE,
    MEMBER,
    ORGANIZATION_ADMIN,
    ORGANIZATION_MEMBER,
    OWNER,
    SYSTEM,
    SYSTEM_SUBJECTS,
    TELEMETRY,
    USER_ADMIN,
    api_key_scope,
)
from chatdb.authz.sqlfilter import SqlFilter, compile_filter
from chatdb.authz.subjects import async_subject_for_user, subject_for_user

__all__ = [
    "API_KEY_SCOPES",
    "AUDITOR",
    "BUILTIN_ROLES",
    "CHATD",
    "CHAT_ACCESS",
    "DBPURGE",
    "MEMBER",
    "ORGANIZATION_ADMIN",
    "ORGANIZATION_MEMBER",
    "OWNER",
    "SCOPE_ALL",
    "SYSTEM",
    "SYSTEM_SUBJECTS",
    "TELEMETRY",
    "USER_ADMIN",
    "Action",
    "Authorizer",
    "AuthorizerLike",
    "Check",
    "CompiledSubject",
    "Object",
    "Permission",
    "RecordingAuthorizer",
    "ResourceType",
    "Role",
    "Scope",
    "SqlFilter",
    "Subject",
    "allow",
    "api_key_scope",
    "as_actor",
    "async_subject_for_user",
    "compile_filter",
    "current_actor",
    "current_actor_or_none",
    "default_authorizer",
    "deny",
    "subject_for_user",
]
