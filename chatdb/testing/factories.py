"""Factories that insert valid rows with sensible defaults; every field can be overridden.

There is one factory per table (:data:`Factories.TABLES` maps each table to it). Each writes
one row with plain SQL (so it works before and beside the generated layer), creates what the
row needs when you don't pass it (a chat gets an owner, an organization and a model config;
a group membership gets a group and a user of its organization), and returns the generated
dataclass of that table::

    f = Factories(conn)
    chat = f.chat(title="hello")            # owner, org and model config made for you
    msg = f.chat_message(chat_id=chat.id, role="assistant")
    f.chat_usage_limit_config(enabled=True, default_limit_micros=5_000_000)  # the singleton

Keyword arguments are column values, written as given (jsonb columns accept Python values).
Secret columns are written as given too: pass already-sealed values with their ``*_key_id``
to test encryption (see :mod:`chatdb.dbcrypt`); the defaults are clear text (NULL key id).
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import typing
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TypeVar
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from chatdb import db
from chatdb.dbcrypt import SENTINEL, Cipher, generate_key
from chatdb.validation import ChatProviderName

__all__ = ["Factories"]

T = TypeVar("T")
_seq = itertools.count(1)

_JSON_COLUMNS = {
    ("chats", "labels"),
    ("chats", "last_injected_context"),
    ("chats", "dynamic_tools"),
    ("chat_messages", "content"),
    ("chat_queued_messages", "content"),
    ("chat_queued_message_quarantine", "content"),
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

    TABLES: Mapping[str, str] = MappingProxyType(
        {
            "organizations": "organization",
            "users": "user",
            "organization_members": "organization_member",
            "groups": "group",
            "group_members": "group_member",
            "workspaces": "workspace",
            "workspace_builds": "workspace_build",
            "workspace_agents": "workspace_agent",
            "dbcrypt_keys": "dbcrypt_key",
            "site_configs": "site_config",
            "user_configs": "user_config",
            "chat_providers": "chat_provider",
            "chat_model_configs": "chat_model_config",
            "mcp_server_configs": "mcp_server_config",
            "mcp_server_user_tokens": "mcp_server_user_token",
            "chat_usage_limit_config": "chat_usage_limit_config",
            "chats": "chat",
            "chat_leases": "chat_lease",
            "chat_messages": "chat_message",
            "chat_queued_messages": "chat_queued_message",
            "chat_queued_message_quarantine": "chat_queued_message_quarantine",
            "chat_diff_statuses": "chat_diff_status",
            "chat_files": "chat_file",
            "chat_file_links": "chat_file_link",
        }
    )
    """Every table of the schema and the name of the method that inserts a row into it."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def insert(self, table: str, cls: type[T], values: Mapping[str, Any]) -> T:
        """INSERT one row (values adapted, jsonb wrapped) and return it as ``cls``."""
        return self._write(table, cls, values)

    def _write(
        self, table: str, cls: type[T], values: Mapping[str, Any], on_conflict: str | None = None
    ) -> T:
        """INSERT (or, with ``on_conflict`` naming the unique column, upsert) one row."""
        cols = list(values)
        params = [
            Jsonb(v) if (table, c) in _JSON_COLUMNS and v is not None else v
            for c, v in values.items()
        ]
        if cols:
            query = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                sql.Identifier(table),
                sql.SQL(", ").join(map(sql.Identifier, cols)),
                sql.SQL(", ").join(sql.Placeholder() * len(cols)),
            )
        else:
            query = sql.SQL("INSERT INTO {} DEFAULT VALUES").format(sql.Identifier(table))
        if on_conflict is not None:
            # A no-op SET when nothing is given, so RETURNING still yields the existing row.
            updates = [c for c in cols if c != on_conflict] or [on_conflict]
            query += sql.SQL(" ON CONFLICT ({}) DO UPDATE SET {}").format(
                sql.Identifier(on_conflict),
                sql.SQL(", ").join(
                    sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c))
                    for c in updates
                ),
            )
        query += sql.SQL(" RETURNING *")
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
        """A membership; a new organization and a new user when not given."""
        if "organization_id" not in kw:
            kw["organization_id"] = self.organization().id
        if "user_id" not in kw:
            kw["user_id"] = self.user().id
        return self.insert("organization_members", db.OrganizationMember, kw)

    def group(self, **kw: Any) -> db.Group:
        if "organization_id" not in kw:
            kw["organization_id"] = self.organization().id
        return self.insert("groups", db.Group, {"name": f"group-{next(_seq)}", **kw})

    def group_member(self, **kw: Any) -> db.GroupMember:
        """A group membership; a new group, and a new member of its organization, when not given."""
        if "group_id" not in kw:
            kw["group_id"] = self.group().id
        if "user_id" not in kw:
            org = self._one("SELECT organization_id FROM groups WHERE id = %s", kw["group_id"])
            kw["user_id"] = self.user(organization_id=org).id
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

    def dbcrypt_key(self, *, cipher: Cipher | None = None, **kw: Any) -> db.DbcryptKey:
        """A registered, active encryption key (a fresh random one unless ``cipher`` is given).

        ``test`` is the sentinel sealed with that key, as :func:`chatdb.dbcrypt.ensure_active_keys`
        writes it; ``number`` is the next free one.
        """
        key = cipher if cipher is not None else Cipher(generate_key())
        if "number" not in kw:
            kw["number"] = self._one("SELECT coalesce(max(number), 0) + 1 FROM dbcrypt_keys")
        values = {"active_key_digest": key.digest, "test": key.encrypt(SENTINEL), **kw}
        return self.insert("dbcrypt_keys", db.DbcryptKey, values)

    def site_config(self, **kw: Any) -> db.SiteConfig:
        """A site setting (``key`` is unique; pass the real key to test a setting)."""
        values = {"key": f"test_setting_{next(_seq)}", "value": "", **kw}
        return self.insert("site_configs", db.SiteConfig, values)

    def user_config(self, **kw: Any) -> db.UserConfig:
        """A per-user setting; a new user when not given."""
        if "user_id" not in kw:
            kw["user_id"] = self.user().id
        values = {"key": f"test_setting_{next(_seq)}", "value": "", **kw}
        return self.insert("user_configs", db.UserConfig, values)

    # ---- chat configuration --------------------------------------------------------------
    def chat_provider(self, **kw: Any) -> db.ChatProvider:
        """A provider (``kw`` updates it when that kind exists); without ``provider``, the
        first kind not configured yet (openai first)."""
        if "provider" not in kw:
            kinds = [ChatProviderName.OPENAI.value] + [
                p.value for p in ChatProviderName if p is not ChatProviderName.OPENAI
            ]
            cur = self.conn.cursor(row_factory=psycopg.rows.tuple_row)
            taken = {r[0] for r in cur.execute("SELECT provider FROM chat_providers")}
            kw["provider"] = next((k for k in kinds if k not in taken), kinds[0])
        # An upsert: chat_model_config() creates its provider's row when it is missing.
        return self._write("chat_providers", db.ChatProvider, kw, on_conflict="provider")

    def chat_model_config(self, **kw: Any) -> db.ChatModelConfig:
        values: dict[str, Any] = {
            "provider": "openai",
            "model": f"gpt-test-{next(_seq)}",
            "context_limit": 200_000,
            "compression_threshold": 80,
            "options": {},
        }
        values.update(kw)
        # A model config belongs to a configured provider (chat_model_configs_provider_fkey).
        self.conn.execute(
            "INSERT INTO chat_providers (provider) VALUES (%s) ON CONFLICT (provider) DO NOTHING",
            (values["provider"],),
        )
        return self.insert("chat_model_configs", db.ChatModelConfig, values)

    def mcp_server_config(self, **kw: Any) -> db.McpServerConfig:
        n = next(_seq)
        values = {
            "display_name": f"MCP {n}",
            "slug": f"mcp-{n}",
            "url": f"https://mcp{n}.example.com",
        }
        return self.insert("mcp_server_configs", db.McpServerConfig, {**values, **kw})

    def mcp_server_user_token(self, **kw: Any) -> db.McpServerUserToken:
        """A user's OAuth token for an MCP server (clear text); server and user made if absent."""
        if "mcp_server_config_id" not in kw:
            kw["mcp_server_config_id"] = self.mcp_server_config(auth_type="oauth2").id
        if "user_id" not in kw:
            kw["user_id"] = self.user().id
        values = {"access_token": f"access-token-{next(_seq)}", **kw}
        return self.insert("mcp_server_user_tokens", db.McpServerUserToken, values)

    def chat_usage_limit_config(self, **kw: Any) -> db.ChatUsageLimitConfig:
        """Set fields of the singleton spend-limit row (created if missing); returns it.

        Without arguments it returns the current row unchanged (a migration inserts it,
        disabled).
        """
        kw.pop("singleton", None)
        if kw and "updated_at" not in kw:
            kw["updated_at"] = self._one("SELECT now()")
        return self._write(
            "chat_usage_limit_config",
            db.ChatUsageLimitConfig,
            {"singleton": True, **kw},
            on_conflict="singleton",
        )

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

    def chat_queued_message_quarantine(self, **kw: Any) -> db.ChatQueuedMessageQuarantine:
        """A quarantined (undeliverable) queued message; its id is a fresh one by default."""
        if "chat_id" not in kw:
            kw["chat_id"] = self.chat().id
        if "id" not in kw:
            cur = self.conn.cursor(row_factory=psycopg.rows.tuple_row)
            row = cur.execute("SELECT nextval('chat_queued_messages_id_seq')").fetchone()
            assert row is not None
            kw["id"] = row[0]
        kw.setdefault("content", {"not": "a user message"})
        kw.setdefault("queued_at", datetime.now(UTC))
        kw.setdefault("reason", "undeliverable queued message: test")
        return self.insert("chat_queued_message_quarantine", db.ChatQueuedMessageQuarantine, kw)

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

    def chat_lease(self, **kw: Any) -> db.ChatLease:
        """The lease of a new running chat (or of ``chat_id``, which should be running).

        A trigger on chats writes a lease whenever a chat starts running; the given columns
        (``worker_id``, ``heartbeat_at``) are then written over it.
        """
        if "chat_id" not in kw:
            kw["chat_id"] = self.chat(status="running").id
        # The heartbeat the trigger starts a lease with, so a lease it never wrote is complete.
        started = self._one(
            "SELECT COALESCE(heartbeat_at, started_at, updated_at) FROM chats WHERE id = %s",
            kw["chat_id"],
        )
        values = {"heartbeat_at": started, **kw}
        return self._write("chat_leases", db.ChatLease, values, on_conflict="chat_id")

    def chat_file_link(self, **kw: Any) -> db.ChatFileLink:
        """Link a file to a chat; a new chat, and a file of its owner, when not given."""
        if "chat_id" not in kw:
            kw["chat_id"] = self.chat().id
        if "file_id" not in kw:
            owner, org = self._row(
                "SELECT owner_id, organization_id FROM chats WHERE id = %s", kw["chat_id"]
            )
            kw["file_id"] = self.chat_file(owner_id=owner, organization_id=org).id
        return self.insert("chat_file_links", db.ChatFileLink, kw)

    # ---- helpers -------------------------------------------------------------------------
    def _row(self, query: str, *params: Any) -> tuple[Any, ...]:
        row = self.conn.cursor(row_factory=psycopg.rows.tuple_row).execute(query, params).fetchone()
        if row is None:
            raise LookupError(f"no row for {query!r} with {params!r}")
        return row

    def _one(self, query: str, *params: Any) -> Any:
        return self._row(query, *params)[0]
