"""Redacting secret columns in what the authorized queriers return (issue: auditors read
metadata, never live credentials).

The secret columns are declared once (``[tool.codegen.secrets]``); for every query whose rows
carry one, the generated wrapper passes the result through :func:`redact` with the paths of
those fields. A non-empty secret is replaced by :data:`REDACTED` unless the actor may read
``Object.secret(owner)``: by the built-in roles only ``chatd`` (which calls providers and MCP
servers), ``system``, and the owner of a personal secret (a user's own MCP token). Everything
else in the row (names, URLs, which key encrypts the value) stays readable, and ``''`` (no
secret set) stays ``''``, so "is a secret configured?" remains answerable.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar
from uuid import UUID

from chatdb.authz.rbac import Action, AuthorizerLike, Object, Subject

T = TypeVar("T")

REDACTED = "[redacted]"
"""What a secret reads as for an actor that may not read it."""

SecretPath = tuple[str, str, str]
"""(embedded table field or ``""`` for the row itself, secret field, owner field or ``""``)."""


def redact(authz: AuthorizerLike, subject: Subject, paths: tuple[SecretPath, ...], result: T) -> T:
    """``result`` (a row, a list of rows, nested lists or None) with unreadable secrets redacted."""
    allowed: dict[UUID | None, bool] = {}  # one check per owner and call

    def may_read(owner: UUID | None) -> bool:
        if owner not in allowed:
            allowed[owner] = authz.allowed(subject, Action.READ, Object.secret(owner))
        return allowed[owner]

    def row(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, list):
            return [row(v) for v in value]
        changes: dict[str, dict[str, str]] = {}
        for embed, field, owner_field in paths:
            holder = getattr(value, embed) if embed else value
            if holder is None or getattr(holder, field) in (None, ""):
                continue
            if not may_read(getattr(holder, owner_field) if owner_field else None):
                changes.setdefault(embed, {})[field] = REDACTED
        for embed, fields in changes.items():
            if embed:
                inner = dataclasses.replace(getattr(value, embed), **fields)
                value = dataclasses.replace(value, **{embed: inner})
            else:
                value = dataclasses.replace(value, **fields)
        return value

    redacted: T = row(result)
    return redacted
