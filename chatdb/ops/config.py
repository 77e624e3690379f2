"""LLM provider configuration with the API key encrypted at rest (SPEC 9).

With ``ciphers`` the key is sealed with the primary dbcrypt key before it is written and
``api_key_key_id`` names that key; without, it is stored in clear with a NULL key id. Reads
decrypt (rows written in clear stay readable), so callers only ever see clear keys. The
ciphers' keys must be registered first (:func:`chatdb.dbcrypt.ensure_active_keys` at
startup): ``api_key_key_id`` references ``dbcrypt_keys``.
"""

from __future__ import annotations

import dataclasses
from uuid import UUID

from chatdb.authz import AuthorizerLike, Subject
from chatdb.db import ChatProvider, Querier
from chatdb.dbcrypt import Ciphers, DecryptError
from chatdb.errors import InvalidInput, NotFound
from chatdb.ops._base import Tx, Workflows
from chatdb.store import Store
from chatdb.validation import ChatProviderName, parse_enum


class ProviderConfig(Workflows):
    """Create, update, read and delete ``chat_providers`` rows (deployment_config rights)."""

    def __init__(
        self,
        store: Store[Querier],
        *,
        ciphers: Ciphers | None = None,
        authorizer: AuthorizerLike | None = None,
    ) -> None:
        super().__init__(store, authorizer=authorizer)
        self.ciphers = ciphers

    def _seal(self, api_key: str) -> tuple[str, str | None]:
        if not isinstance(api_key, str):
            raise InvalidInput("api_key must be a string", field="api_key")
        if self.ciphers is None:
            return api_key, None
        sealed = self.ciphers.encrypt_field(api_key)
        return sealed.value, sealed.key_id

    def _open(self, row: ChatProvider) -> ChatProvider:
        """The row with ``api_key`` in clear."""
        if row.api_key_key_id is None:
            return row
        if self.ciphers is None:
            raise DecryptError(
                f"provider {row.provider}'s API key is encrypted but no dbcrypt keys are configured",
                key_id=row.api_key_key_id,
            )
        clear = self.ciphers.decrypt_field(row.api_key, row.api_key_key_id)
        return dataclasses.replace(row, api_key=clear)

    def create(
        self,
        provider: ChatProviderName | str,
        *,
        api_key: str = "",
        display_name: str = "",
        base_url: str = "",
        enabled: bool = True,
        created_by: UUID | None = None,
        actor: Subject | None = None,
    ) -> ChatProvider:
        """Insert a provider (one row per provider kind: a second is a UniqueViolation)."""
        kind = parse_enum(ChatProviderName, provider, "provider")
        value, key_id = self._seal(api_key)

        def body(tx: Tx) -> ChatProvider:
            return tx.q.insert_chat_provider(
                provider=kind.value,
                display_name=display_name,
                api_key=value,
                api_key_key_id=key_id,
                base_url=base_url,
                enabled=enabled,
                created_by=created_by,
            )

        return self._open(self._run(actor, body))

    def update(
        self,
        provider_id: UUID,
        *,
        api_key: str | None = None,
        display_name: str | None = None,
        base_url: str | None = None,
        enabled: bool | None = None,
        actor: Subject | None = None,
    ) -> ChatProvider:
        """Change the given fields (None keeps one); a new key is sealed with the primary key."""
        sealed = None if api_key is None else self._seal(api_key)

        def body(tx: Tx) -> ChatProvider:
            current = tx.q.get_chat_provider_by_id(id=provider_id)
            value, key_id = sealed or (current.api_key, current.api_key_key_id)
            return tx.q.update_chat_provider(
                id=provider_id,
                display_name=current.display_name if display_name is None else display_name,
                api_key=value,
                api_key_key_id=key_id,
                base_url=current.base_url if base_url is None else base_url,
                enabled=current.enabled if enabled is None else enabled,
            )

        try:
            return self._open(self._run(actor, body))
        except NotFound:
            raise NotFound("chat provider", str(provider_id)) from None

    def get(self, provider_id: UUID, *, actor: Subject | None = None) -> ChatProvider:
        """One provider, key in clear."""
        try:
            return self._open(
                self._run(actor, lambda tx: tx.q.get_chat_provider_by_id(id=provider_id))
            )
        except NotFound:
            raise NotFound("chat provider", str(provider_id)) from None

    def list(self, *, actor: Subject | None = None) -> list[ChatProvider]:
        """Every provider by kind, keys in clear."""
        return [self._open(row) for row in self._run(actor, lambda tx: tx.q.get_chat_providers())]

    def delete(self, provider_id: UUID, *, actor: Subject | None = None) -> None:
        """Delete a provider (no-op when it does not exist)."""
        self._run(actor, lambda tx: tx.q.delete_chat_provider_by_id(id=provider_id))
