"""Encrypting secret columns before they are written and decrypting them after they are read.

The secret columns are declared once (``[tool.codegen.secrets]``, listed in
:data:`chatdb.db.secrets.SECRET_COLUMNS`); the workflows that write them (:class:`ProviderConfig`,
:class:`McpServers`) seal every value with the primary dbcrypt key and open every row they
return. Without ciphers a value is written as given, which the database refuses
(:class:`~chatdb.errors.UnencryptedSecret`) as soon as a dbcrypt key is active.

Rows come from the authorized querier, which redacts the secrets an actor may not read
(:mod:`chatdb.authz.redaction`): those stay redacted, they are never decrypted.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from chatdb.authz.params import check_text
from chatdb.authz.redaction import REDACTED
from chatdb.db.secrets import SECRET_COLUMNS
from chatdb.dbcrypt import Ciphers, DecryptError, Sealed
from chatdb.errors import InvalidInput

R = TypeVar("R")


class Sealer:
    """Seals and opens the secret columns of rows of one table."""

    def __init__(self, table: str, ciphers: Ciphers | None) -> None:
        self.table = table
        self.ciphers = ciphers
        self._columns = [
            c for c in SECRET_COLUMNS if c.table == table and c.key_id_column is not None
        ]
        if not self._columns:
            raise ValueError(f"{table} has no encrypted secret column")

    def seal(self, value: object, field: str) -> Sealed:
        """The value to store and its key id (``''`` stays clear: "no secret set")."""
        if not isinstance(value, str):
            raise InvalidInput(f"{field} must be a string", field=field)
        if value == REDACTED:
            # A redacted row written back would replace the real secret with the marker.
            raise InvalidInput(f"{field} is the redaction marker, not a secret", field=field)
        check_text(field, value)  # encrypting needs valid UTF-8, like the database
        if self.ciphers is None:
            return Sealed(value, None)
        return self.ciphers.encrypt_field(value)

    def open(self, row: R) -> R:
        """``row`` with every secret it may show in clear; DecryptError when a key is missing
        or revoked."""
        changes: dict[str, Any] = {}
        for col in self._columns:
            assert col.key_id_column is not None
            value, key_id = getattr(row, col.column), getattr(row, col.key_id_column)
            if key_id is None or value == REDACTED:
                continue
            if self.ciphers is None:
                raise DecryptError(
                    f"{col.name} is encrypted with key {key_id} but no dbcrypt keys are configured",
                    key_id=key_id,
                )
            changes[col.column] = self.ciphers.decrypt_field(value, key_id)
        return dataclasses.replace(row, **changes) if changes else row  # type: ignore[type-var]
