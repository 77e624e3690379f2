"""Admin-managed MCP servers and per-user tokens, with every secret encrypted at rest (SPEC 9).

:class:`McpServers` is the way to write ``mcp_server_configs`` (OAuth2 client secret, API-key
value, custom headers) and ``mcp_server_user_tokens`` (access and refresh tokens): each secret is
sealed with the primary dbcrypt key before it is written and opened after it is read, exactly
like provider keys (:class:`~chatdb.ops.ProviderConfig`). A caller that writes through the
querier instead and forgets to encrypt is refused by the database once a key is active
(:class:`~chatdb.errors.UnencryptedSecret`), so a clear secret cannot be stored by accident.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID

from chatdb.authz import AuthorizerLike, Subject
from chatdb.db import McpServerConfig, McpServerUserToken, Querier
from chatdb.dbcrypt import Ciphers, Sealed
from chatdb.errors import InvalidInput, NotFound
from chatdb.ops._base import Tx, Workflows
from chatdb.ops.sealing import Sealer
from chatdb.store import Store
from chatdb.validation import MCPAuthType, MCPAvailability, MCPTransport, parse_enum

Headers = Mapping[str, str]


def _headers_text(headers: object) -> str:
    """Custom headers as the JSON object text the column holds."""
    if isinstance(headers, str):
        try:
            headers = json.loads(headers)
        except ValueError:
            raise InvalidInput(
                "custom_headers must be a JSON object", field="custom_headers"
            ) from None
    if not isinstance(headers, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise InvalidInput(
            "custom_headers must map header names to string values", field="custom_headers"
        )
    return json.dumps(dict(headers), sort_keys=True)


def _names(values: object, field: str) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise InvalidInput(f"{field} must be a list of tool names", field=field)
    if not all(isinstance(v, str) for v in values):
        raise InvalidInput(f"{field} must hold only strings", field=field)
    return list(values)


class McpServers(Workflows):
    """MCP server configurations (deployment_config rights) and users' tokens for them."""

    def __init__(
        self,
        store: Store[Querier],
        *,
        ciphers: Ciphers | None = None,
        authorizer: AuthorizerLike | None = None,
    ) -> None:
        super().__init__(store, authorizer=authorizer)
        self.ciphers = ciphers
        self._configs = Sealer("mcp_server_configs", ciphers)
        self._tokens = Sealer("mcp_server_user_tokens", ciphers)

    # -- server configurations

    def create(
        self,
        *,
        display_name: str,
        slug: str,
        url: str,
        description: str = "",
        icon_url: str = "",
        transport: MCPTransport | str = MCPTransport.STREAMABLE_HTTP,
        auth_type: MCPAuthType | str = MCPAuthType.NONE,
        oauth2_client_id: str = "",
        oauth2_client_secret: str = "",
        oauth2_auth_url: str = "",
        oauth2_token_url: str = "",
        oauth2_scopes: str = "",
        api_key_header: str = "Authorization",
        api_key_value: str = "",
        custom_headers: Headers | str | None = None,
        tool_allow_list: Sequence[str] = (),
        tool_deny_list: Sequence[str] = (),
        availability: MCPAvailability | str = MCPAvailability.DEFAULT_OFF,
        enabled: bool = False,
        model_intent: bool = False,
        allow_in_plan_mode: bool = False,
        created_by: UUID | None = None,
        actor: Subject | None = None,
    ) -> McpServerConfig:
        """Insert a server (a taken slug is a UniqueViolation); secrets sealed, row opened."""
        client_secret = self._configs.seal(oauth2_client_secret, "oauth2_client_secret")
        api_key = self._configs.seal(api_key_value, "api_key_value")
        headers = self._configs.seal(_headers_text(custom_headers or {}), "custom_headers")
        transport_ = parse_enum(MCPTransport, transport, "transport")
        auth_type_ = parse_enum(MCPAuthType, auth_type, "auth_type")
        availability_ = parse_enum(MCPAvailability, availability, "availability")
        allow = _names(tool_allow_list, "tool_allow_list")
        deny = _names(tool_deny_list, "tool_deny_list")

        def body(tx: Tx) -> McpServerConfig:
            return tx.q.insert_mcp_server_config(
                display_name=display_name,
                slug=slug,
                description=description,
                icon_url=icon_url,
                transport=transport_.value,
                url=url,
                auth_type=auth_type_.value,
                oauth2_client_id=oauth2_client_id,
                oauth2_client_secret=client_secret.value,
                oauth2_client_secret_key_id=client_secret.key_id,
                oauth2_auth_url=oauth2_auth_url,
                oauth2_token_url=oauth2_token_url,
                oauth2_scopes=oauth2_scopes,
                api_key_header=api_key_header,
                api_key_value=api_key.value,
                api_key_value_key_id=api_key.key_id,
                custom_headers=headers.value,
                custom_headers_key_id=headers.key_id,
                tool_allow_list=allow,
                tool_deny_list=deny,
                availability=availability_.value,
                enabled=enabled,
                model_intent=model_intent,
                allow_in_plan_mode=allow_in_plan_mode,
                created_by=created_by,
            )

        return self._configs.open(self._run(actor, body))

    def update(
        self,
        config_id: UUID,
        *,
        display_name: str | None = None,
        slug: str | None = None,
        url: str | None = None,
        description: str | None = None,
        icon_url: str | None = None,
        transport: MCPTransport | str | None = None,
        auth_type: MCPAuthType | str | None = None,
        oauth2_client_id: str | None = None,
        oauth2_client_secret: str | None = None,
        oauth2_auth_url: str | None = None,
        oauth2_token_url: str | None = None,
        oauth2_scopes: str | None = None,
        api_key_header: str | None = None,
        api_key_value: str | None = None,
        custom_headers: Headers | str | None = None,
        tool_allow_list: Sequence[str] | None = None,
        tool_deny_list: Sequence[str] | None = None,
        availability: MCPAvailability | str | None = None,
        enabled: bool | None = None,
        model_intent: bool | None = None,
        allow_in_plan_mode: bool | None = None,
        updated_by: UUID | None = None,
        actor: Subject | None = None,
    ) -> McpServerConfig:
        """Change the given fields (None keeps one). New secrets are sealed; a kept secret is
        never read: the database keeps it and its key id as stored."""
        none = Sealed("", None)
        client_secret = (
            None
            if oauth2_client_secret is None
            else self._configs.seal(oauth2_client_secret, "oauth2_client_secret")
        )
        api_key = (
            None if api_key_value is None else self._configs.seal(api_key_value, "api_key_value")
        )
        headers = (
            None
            if custom_headers is None
            else self._configs.seal(_headers_text(custom_headers), "custom_headers")
        )
        transport_ = None if transport is None else parse_enum(MCPTransport, transport, "transport")
        auth_type_ = None if auth_type is None else parse_enum(MCPAuthType, auth_type, "auth_type")
        availability_ = (
            None
            if availability is None
            else parse_enum(MCPAvailability, availability, "availability")
        )
        allow = None if tool_allow_list is None else _names(tool_allow_list, "tool_allow_list")
        deny = None if tool_deny_list is None else _names(tool_deny_list, "tool_deny_list")

        def body(tx: Tx) -> McpServerConfig:
            cur = tx.q.get_mcp_server_config_by_id(id=config_id)
            return tx.q.update_mcp_server_config(
                id=config_id,
                display_name=cur.display_name if display_name is None else display_name,
                slug=cur.slug if slug is None else slug,
                description=cur.description if description is None else description,
                icon_url=cur.icon_url if icon_url is None else icon_url,
                transport=cur.transport if transport_ is None else transport_.value,
                url=cur.url if url is None else url,
                auth_type=cur.auth_type if auth_type_ is None else auth_type_.value,
                oauth2_client_id=cur.oauth2_client_id
                if oauth2_client_id is None
                else oauth2_client_id,
                oauth2_client_secret=None if client_secret is None else client_secret.value,
                oauth2_client_secret_key_id=(client_secret or none).key_id,
                oauth2_auth_url=cur.oauth2_auth_url if oauth2_auth_url is None else oauth2_auth_url,
                oauth2_token_url=cur.oauth2_token_url
                if oauth2_token_url is None
                else oauth2_token_url,
                oauth2_scopes=cur.oauth2_scopes if oauth2_scopes is None else oauth2_scopes,
                api_key_header=cur.api_key_header if api_key_header is None else api_key_header,
                api_key_value=None if api_key is None else api_key.value,
                api_key_value_key_id=(api_key or none).key_id,
                custom_headers=None if headers is None else headers.value,
                custom_headers_key_id=(headers or none).key_id,
                tool_allow_list=cur.tool_allow_list if allow is None else allow,
                tool_deny_list=cur.tool_deny_list if deny is None else deny,
                availability=cur.availability if availability_ is None else availability_.value,
                enabled=cur.enabled if enabled is None else enabled,
                model_intent=cur.model_intent if model_intent is None else model_intent,
                allow_in_plan_mode=cur.allow_in_plan_mode
                if allow_in_plan_mode is None
                else allow_in_plan_mode,
                updated_by=updated_by,
            )

        try:
            return self._configs.open(self._run(actor, body))
        except NotFound:
            raise NotFound("MCP server config", str(config_id)) from None

    def get(self, config_id: UUID, *, actor: Subject | None = None) -> McpServerConfig:
        """One server, secrets in clear."""
        try:
            row = self._run(actor, lambda tx: tx.q.get_mcp_server_config_by_id(id=config_id))
        except NotFound:
            raise NotFound("MCP server config", str(config_id)) from None
        return self._configs.open(row)

    def get_by_slug(self, slug: str, *, actor: Subject | None = None) -> McpServerConfig:
        try:
            row = self._run(actor, lambda tx: tx.q.get_mcp_server_config_by_slug(slug=slug))
        except NotFound:
            raise NotFound("MCP server config", slug) from None
        return self._configs.open(row)

    def list(
        self, *, enabled_only: bool = False, actor: Subject | None = None
    ) -> list[McpServerConfig]:
        """Every server (or every enabled one) by display name, secrets in clear."""

        def body(tx: Tx) -> list[McpServerConfig]:
            if enabled_only:
                return tx.q.get_enabled_mcp_server_configs()
            return tx.q.get_mcp_server_configs()

        return [self._configs.open(row) for row in self._run(actor, body)]

    def delete(self, config_id: UUID, *, actor: Subject | None = None) -> None:
        """Delete a server and its users' tokens (no-op when it does not exist)."""
        self._run(actor, lambda tx: tx.q.delete_mcp_server_config_by_id(id=config_id))

    # -- per-user tokens

    def set_user_token(
        self,
        config_id: UUID,
        user_id: UUID,
        *,
        access_token: str,
        refresh_token: str = "",
        token_type: str = "Bearer",
        expiry: datetime | None = None,
        actor: Subject | None = None,
    ) -> McpServerUserToken:
        """Store (or replace) ``user_id``'s token for a server, sealed; the row opened."""
        access = self._tokens.seal(access_token, "access_token")
        refresh = self._tokens.seal(refresh_token, "refresh_token")

        def body(tx: Tx) -> McpServerUserToken:
            return tx.q.upsert_mcp_server_user_token(
                mcp_server_config_id=config_id,
                user_id=user_id,
                access_token=access.value,
                access_token_key_id=access.key_id,
                refresh_token=refresh.value,
                refresh_token_key_id=refresh.key_id,
                token_type=token_type,
                expiry=expiry,
            )

        return self._tokens.open(self._run(actor, body))

    def get_user_token(
        self, config_id: UUID, user_id: UUID, *, actor: Subject | None = None
    ) -> McpServerUserToken:
        """``user_id``'s token for a server, in clear."""
        try:
            row = self._run(
                actor,
                lambda tx: tx.q.get_mcp_server_user_token(
                    mcp_server_config_id=config_id, user_id=user_id
                ),
            )
        except NotFound:
            raise NotFound("MCP server user token", f"{config_id}/{user_id}") from None
        return self._tokens.open(row)

    def user_tokens(
        self, user_id: UUID, *, actor: Subject | None = None
    ) -> builtins.list[McpServerUserToken]:
        """Every token of ``user_id``, in clear."""
        rows = self._run(
            actor, lambda tx: tx.q.get_mcp_server_user_tokens_by_user_id(user_id=user_id)
        )
        return [self._tokens.open(row) for row in rows]

    def delete_user_token(
        self, config_id: UUID, user_id: UUID, *, actor: Subject | None = None
    ) -> None:
        """Forget ``user_id``'s token for a server (no-op when there is none)."""
        self._run(
            actor,
            lambda tx: tx.q.delete_mcp_server_user_token(
                mcp_server_config_id=config_id, user_id=user_id
            ),
        )
