"""Factories that insert valid rows with sensible defaults; every field can be overridden.

Each factory writes one row with plain SQL (so it works before and beside the generated
layer), creates what the row needs when you don't pass it (a chat gets an owner, an
organization and a model config), and returns the generated dataclass of that table::

    f = Factories(conn)
    chat = f.chat(title="hello")            # owner, org and model config made for you
    msg = f.chat_message(chat_id=chat.id, role="assistant")
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import typing
from collections.abc import Mapping
from typing import Any, TypeVar
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from chatdb import db

T = TypeVar("T")
_seq = itertools.count(1)

_JSON_COLUMNS = {
    ("chats", "labels"),
    ("chats", "last_injected_context"),
    ("chats", "dynamic_tools"),
    ("chat_messages", "content"),
    ("chat_queued_messages", "content"),
    ("chat_model_configs", "options"),
}


_ENUM_FIELDS: dict[type[Any], dict[str, type[enum.Enum]]] = {}


def _enum_fields(cls: type[Any]) -> dict[str, type[enum.Enum]]:
    """Fields of a generated dataclass whose values are enums (so raw strings get converted)."""
    cached = _ENUM_FIELDS.get(cls)
    if cached is not None:
        return cached
    hints = typing.get_type_hints(cls, vars(db.models))
    out: dict[str, type[enum.Enum]] = {}
    for name, hint in hints.items():
        for arg in (hint, *typing.get_args(hint)):
            if isinstance(arg, type) and issubclass(arg, enum.Enum):
                out[name] = arg
    _ENUM_FIELDS[cls] = out
    return out


def _build(cls: type[T], row: Mapping[str, Any]) -> T:
    enums = _enum_fields(cls)
    values = {
        f.name: (
            enums[f.name](row[f.name])
            if f.name in enums and row[f.name] is not None
            else row[f.name]
        )
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
    }
    return cls(**values)


class Factories:
    """Row factories over one connection (commits are the caller's business)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def insert(self, table: str, cls: type[T], values: Mapping[str, Any]) -> T:
        """INSERT one row (values adapted, jsonb wrapped) and return it as ``cls``."""
        cols = list(values)
        params = [
            Jsonb(v) if (table, c) in _JSON_COLUMNS and v is not None else v
            for c, v in values.items()
        ]
        query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING *").format(
            sql.Identifier(table),
            sql.SQL(", ").join(map(sql.Identifier, cols)),
            sql.SQL(", ").join(sql.Placeholder() * len(cols)),
        )
        with self.conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            cur.execute(query, params)
            row = cur.fetchone()
        assert row is not None
        return _build(cls, row)

    # ---- core ----------------------------------------------------------------------------
    def organization(self, **kw: Any) -> db.Organization:
        n = next(_seq)
        return self.insert("organizations", db.Organization, {"name": f"org-{n}", **kw})

    def user(
        self, *, organization_id: UUID | None = None, org_roles: list[str] | None = None, **kw: Any
    ) -> db.User:
        """A user; with ``organization_id`` also a member of that organization."""
        n = next(_seq)
        values = {"email": f"user{n}@example.com", "username": f"user{n}", "name": f"User {n}"}
        values.update(kw)
        user = self.insert("users", db.User, values)
        if organization_id is not None:
            self.organization_member(
                organization_id=organization_id, user_id=user.id, roles=org_roles or []
            )
        return user

    def organization_member(self, **kw: Any) -> db.OrganizationMember:
        return self.insert("organization_members", db.OrganizationMember, kw)

    def group(self, **kw: Any) -> db.Group:
        if "organization_id" not in kw:
            kw["organization_id"] = self.organization().id
        return self.insert("groups", db.Group, {"name": f"group-{next(_seq)}", **kw})

    def group_member(self, **kw: Any) -> db.GroupMember:
        return self.insert("group_members", db.GroupMember, kw)

    def workspace(self, **kw: Any) -> db.Workspace:
        if "organization_id" not in kw:
            kw["organization_id"] = self.organization().id
        if "owner_id" not in kw:
            kw["owner_id"] = self.user(organization_id=kw["organization_id"]).id
        return self.insert("workspaces", db.Workspace, {"name": f"ws-{next(_seq)}", **kw})

    def workspace_build(self, **kw: Any) -> db.WorkspaceBuild:
        if "workspace_id" not in kw:
            kw["workspace_id"] = self.workspace().id
        return self.insert(
            "workspace_builds", db.WorkspaceBuild, {"build_number": next(_seq), **kw}
        )

    def workspace_agent(self, **kw: Any) -> db.WorkspaceAgent:
        if "build_id" not in kw:
            kw["build_id"] = self.workspace_build().id
        return self.insert("workspace_agents", db.WorkspaceAgent, {"name": "main", **kw})

    # ---- chat configuration --------------------------------------------------------------
    def chat_provider(self, **kw: Any) -> db.ChatProvider:
        return self.insert("chat_providers", db.ChatProvider, {"provider": "openai", **kw})

    def chat_model_config(self, **kw: Any) -> db.ChatModelConfig:
        values: dict[str, Any] = {
            "provider": "openai",
            "model": f"gpt-test-{next(_seq)}",
            "context_limit": 200_000,
            "compression_threshold": 80,
            "options": {},
        }
        values.update(kw)
        return self.insert("chat_model_configs", db.ChatModelConfig, values)

    def mcp_server_config(self, **kw: Any) -> db.McpServerConfig:
        n = next(_seq)
        values = {
            "display_name": f"MCP {n}",
            "slug": f"mcp-{n}",
            "url": f"https://mcp{n}.example.com",
        }
        return self.insert("mcp_server_configs", db.McpServerConfig, {**values, **kw})

    # ---- chats ---------------------------------------------------------------------------
    def chat(self, **kw: Any) -> db.Chat:
        """A chat; owner, organization and model config are created when not given."""
        if "organization_id" not in kw:
            kw["organization_id"] = self.organization().id
        if "owner_id" not in kw:
            kw["owner_id"] = self.user(organization_id=kw["organization_id"]).id
        if "last_model_config_id" not in kw:
            kw["last_model_config_id"] = self.chat_model_config().id
        values = {"title": f"Chat {next(_seq)}", "status": "waiting", **kw}
        return self.insert("chats", db.Chat, values)

    def chat_message(self, **kw: Any) -> db.ChatMessage:
        if "chat_id" not in kw:
            kw["chat_id"] = self.chat().id
        role = kw.setdefault("role", "user")
        kw.setdefault("content_version", 1)
        kw.setdefault("content", [{"type": "text", "text": f"{role} message {next(_seq)}"}])
        return self.insert("chat_messages", db.ChatMessage, kw)

    def chat_queued_message(self, **kw: Any) -> db.ChatQueuedMessage:
        if "chat_id" not in kw:
            kw["chat_id"] = self.chat().id
        kw.setdefault("content", [{"type": "text", "text": f"queued {next(_seq)}"}])
        return self.insert("chat_queued_messages", db.ChatQueuedMessage, kw)

    def chat_diff_status(self, **kw: Any) -> db.ChatDiffStatus:
        if "chat_id" not in kw:
            kw["chat_id"] = self.chat().id
        return self.insert("chat_diff_statuses", db.ChatDiffStatus, kw)

    def chat_file(self, **kw: Any) -> db.ChatFile:
        if "organization_id" not in kw:
            kw["organization_id"] = self.organization().id
        if "owner_id" not in kw:
            kw["owner_id"] = self.user(organization_id=kw["organization_id"]).id
        values = {
            "name": f"file-{next(_seq)}.txt",
            "mimetype": "text/plain",
            "data": b"hello",
            **kw,
        }
        return self.insert("chat_files", db.ChatFile, values)

    def chat_file_link(self, **kw: Any) -> db.ChatFileLink:
        return self.insert("chat_file_links", db.ChatFileLink, kw)
