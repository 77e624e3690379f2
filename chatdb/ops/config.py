"""LLM provider configuration with the API key encrypted at rest (SPEC 9).

With ``ciphers`` the key is sealed with the primary dbcrypt key before it is written and
``api_key_key_id`` names that key. Without, it is written as given, which only works while no
dbcrypt key is active: once one is, the database refuses a clear key
(:class:`~chatdb.errors.UnencryptedSecret`, nothing written). Reads decrypt (rows written in
clear before the first key stay readable). The ciphers' keys must be registered first
(:func:`chatdb.dbcrypt.ensure_active_keys` at startup): ``api_key_key_id`` references
``dbcrypt_keys``.
"""

from __future__ import annotations

from uuid import UUID

from chatdb.authz import AuthorizerLike, Subject
from chatdb.db import ChatProvider, Querier
from chatdb.dbcrypt import Ciphers
from chatdb.errors import NotFound
from chatdb.ops._base import Tx, Workflows
from chatdb.ops.sealing import Sealer
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
        self._sealer = Sealer("chat_providers", ciphers)

    def _open(self, row: ChatProvider) -> ChatProvider:
        return self._sealer.open(row)

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
        value, key_id = self._sealer.seal(api_key, "api_key")

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
        """Change the given fields (None keeps one); a new key is sealed with the primary key.

        A kept key is never read: the database keeps it (and its key id) as stored.
        """
        value, key_id = (None, None) if api_key is None else self._sealer.seal(api_key, "api_key")

        def body(tx: Tx) -> ChatProvider:
            current = tx.q.get_chat_provider_by_id(id=provider_id)
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
