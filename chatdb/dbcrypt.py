"""Secrets at rest: AES-256-GCM encryption of secret columns, keyed by digest (SPEC 9).

Format (stable; compatible with the original service's ``dbcrypt``):

* A key is 32 random bytes. Its **digest** is the first 7 hex characters of
  ``SHA-256("aes256gcm" || key)`` (the cipher name keeps a key reused by another cipher from
  matching these rows). The digest is what ``dbcrypt_keys.active_key_digest`` and every ``<secret>_key_id`` column
  hold, so rows say which key encrypted them without revealing it.
* A stored secret is ``base64(nonce || ciphertext || tag)`` with a random 12-byte nonce and no
  associated data, so it fits the existing ``text`` columns.
* ``<secret>_key_id`` NULL means the value is clear text (rows written before encryption was
  configured). The empty string is never encrypted: it stays ``''`` with a NULL key id, so
  "is a secret set?" stays answerable without a key.

``dbcrypt_keys.test`` holds the encryption of :data:`SENTINEL` under that key, so starting
with a wrong key whose digest collides (or a corrupted row) is detected at once rather than
when a secret is first read.

Usage: build :class:`Ciphers` from the configured keys (first = primary), call
:func:`ensure_active_keys` at startup (registers the keys, learns which are revoked), then
``ciphers.encrypt_field`` before writes and ``ciphers.decrypt_field`` after reads of every
column in :data:`SECRET_COLUMNS`. :func:`rotate` re-encrypts everything with the primary key;
:func:`revoke` retires a key no row uses any more.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import psycopg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg import sql
from psycopg.rows import tuple_row

from chatdb.db.secrets import SECRET_COLUMNS as DECLARED_SECRETS
from chatdb.errors import ChatDBError, Conflict, InvalidInput, NotFound, classify

KEY_SIZE = 32
NONCE_SIZE = 12
DIGEST_LENGTH = 7
CIPHER_NAME = b"aes256gcm"
SENTINEL = "coder"
"""The clear text of ``dbcrypt_keys.test`` (the original service's value, kept for compatibility)."""


class DecryptError(ChatDBError):
    """A value cannot be decrypted: unknown or revoked key, wrong key, or tampered data."""

    def __init__(self, message: str, *, key_id: str | None = None) -> None:
        self.key_id = key_id
        super().__init__(message)


def generate_key() -> bytes:
    """A fresh random AES-256 key."""
    return AESGCM.generate_key(bit_length=256)


def key_digest(key: bytes) -> str:
    """The public identifier of ``key``: 7 hex chars of SHA-256 of the cipher name and key."""
    return hashlib.sha256(CIPHER_NAME + key).hexdigest()[:DIGEST_LENGTH]


class Cipher:
    """One AES-256-GCM key. ``repr`` shows only the digest, never the key."""

    __slots__ = ("_aead", "digest")

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != KEY_SIZE:
            raise InvalidInput(f"a dbcrypt key must be {KEY_SIZE} bytes", field="key")
        self._aead = AESGCM(key)
        self.digest = key_digest(key)

    @classmethod
    def from_base64(cls, encoded: str) -> Cipher:
        """A key given as base64 text (how keys are usually configured)."""
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("a dbcrypt key must be valid base64", field="key") from None
        return cls(key)

    def encrypt(self, plaintext: str) -> str:
        """``base64(nonce || ciphertext || tag)`` of the UTF-8 text."""
        nonce = os.urandom(NONCE_SIZE)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), None)
        return base64.b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, encoded: str) -> str:
        """The clear text of :meth:`encrypt`'s output; DecryptError if it was not made by us."""
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise DecryptError("encrypted value is not valid base64", key_id=self.digest) from None
        if len(raw) < NONCE_SIZE + 16:
            raise DecryptError("encrypted value is too short", key_id=self.digest)
        try:
            plain = self._aead.decrypt(raw[:NONCE_SIZE], raw[NONCE_SIZE:], None)
        except InvalidTag:
            raise DecryptError(
                f"value does not decrypt with key {self.digest} (wrong key or tampered data)",
                key_id=self.digest,
            ) from None
        try:
            return plain.decode()
        except UnicodeDecodeError:
            raise DecryptError("decrypted value is not UTF-8", key_id=self.digest) from None

    def __repr__(self) -> str:
        return f"Cipher(digest={self.digest!r})"


class Sealed(NamedTuple):
    """A secret ready to store: the column value and the ``_key_id`` value."""

    value: str
    key_id: str | None


class Ciphers:
    """The configured keys: encrypt with the primary, decrypt with any known, unrevoked key."""

    def __init__(self, primary: Cipher, *others: Cipher) -> None:
        by_digest: dict[str, Cipher] = {}
        for c in (primary, *others):
            if c.digest in by_digest:
                raise InvalidInput(
                    f"two configured dbcrypt keys share the digest {c.digest}", field="keys"
                )
            by_digest[c.digest] = c
        self.primary = primary
        self._by_digest = by_digest
        self._revoked: set[str] = set()

    @classmethod
    def from_base64_keys(cls, keys: str) -> Ciphers:
        """Comma-separated base64 keys, the first being the primary."""
        parts = [k for k in (p.strip() for p in keys.split(",")) if k]
        if not parts:
            raise InvalidInput("no dbcrypt key given", field="keys")
        first, *rest = (Cipher.from_base64(p) for p in parts)
        return cls(first, *rest)

    @property
    def digests(self) -> list[str]:
        """Digests of the configured keys, primary first."""
        return list(self._by_digest)

    @property
    def revoked(self) -> frozenset[str]:
        """Digests known to be revoked (learnt from the database or from :func:`revoke`)."""
        return frozenset(self._revoked)

    def mark_revoked(self, digest: str) -> None:
        """Refuse to decrypt with ``digest`` from now on."""
        self._revoked.add(digest)

    def cipher(self, digest: str) -> Cipher:
        """The usable key with that digest; DecryptError when unknown or revoked."""
        if digest in self._revoked:
            raise DecryptError(f"dbcrypt key {digest} is revoked", key_id=digest)
        found = self._by_digest.get(digest)
        if found is None:
            raise DecryptError(f"dbcrypt key {digest} is not configured", key_id=digest)
        return found

    def encrypt_field(self, plaintext: str) -> Sealed:
        """Encrypt a secret with the primary key; ``''`` stays clear (see module docs)."""
        if plaintext == "":
            return Sealed("", None)
        if self.primary.digest in self._revoked:
            raise DecryptError(
                f"the primary dbcrypt key {self.primary.digest} is revoked",
                key_id=self.primary.digest,
            )
        return Sealed(self.primary.encrypt(plaintext), self.primary.digest)

    def decrypt_field(self, value: str, key_id: str | None) -> str:
        """The clear text of a stored secret; ``key_id`` NULL means it was stored in clear."""
        if key_id is None:
            return value
        return self.cipher(key_id).decrypt(value)

    def __repr__(self) -> str:
        return f"Ciphers(primary={self.primary.digest!r}, digests={self.digests!r})"


# --- the database side -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SecretColumn:
    """One encrypted column, the column holding its key digest, and how to address a row."""

    table: str
    primary_key: tuple[str, ...]
    column: str
    key_id_column: str

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"


SECRET_COLUMNS: tuple[SecretColumn, ...] = tuple(
    SecretColumn(c.table, c.primary_key, c.column, c.key_id_column)
    for c in DECLARED_SECRETS
    if c.key_id_column is not None
)
"""Every encrypted column chatdb stores (SPEC 9), from ``[tool.codegen.secrets]``."""


@dataclass(frozen=True, slots=True)
class KeyRow:
    """A row of ``dbcrypt_keys``."""

    number: int
    active_key_digest: str | None
    revoked_key_digest: str | None
    test: str


def ensure_active_keys(conn: psycopg.Connection[Any], ciphers: Ciphers) -> list[KeyRow]:
    """Register the configured keys and check them against ``dbcrypt_keys``; run at startup.

    Every configured key that the table does not know yet gets a row (with its test value).
    Keys the table marks revoked are marked revoked in ``ciphers``; a revoked *primary* key is
    refused (DecryptError). A known key whose test value does not decrypt to the sentinel is
    refused too (DecryptError): the configured key is not the one that wrote the data.
    Several replicas may start at once: the table is locked for the check-and-insert.
    """
    with _transaction(conn) as cur:
        return _ensure(cur, ciphers)


def rotate(conn: psycopg.Connection[Any], ciphers: Ciphers) -> dict[str, int]:
    """Re-encrypt every secret not already under the primary key, in one transaction.

    Registers the configured keys first (as :func:`ensure_active_keys`, same transaction).
    Clear-text rows (NULL key id) are encrypted too, except empty strings. Returns the
    number of values rewritten per ``table.column``. Old keys stay active until revoked.
    """
    primary = ciphers.primary.digest
    counts: dict[str, int] = {}
    with _transaction(conn) as cur:
        _ensure(cur, ciphers)
        for col in SECRET_COLUMNS:
            pk = sql.SQL(", ").join(sql.Identifier(c) for c in col.primary_key)
            cur.execute(
                sql.SQL(
                    "SELECT {pk}, {secret}, {key_id} FROM {table}"
                    " WHERE {key_id} IS DISTINCT FROM %s"
                    " AND NOT ({key_id} IS NULL AND {secret} = '')"
                    " ORDER BY {pk} FOR UPDATE"
                ).format(
                    pk=pk,
                    secret=sql.Identifier(col.column),
                    key_id=sql.Identifier(col.key_id_column),
                    table=sql.Identifier(col.table),
                ),
                (primary,),
            )
            updates: list[tuple[object, ...]] = []
            n = len(col.primary_key)
            for row in cur.fetchall():
                key_values, value, key_id = row[:n], row[n], row[n + 1]
                sealed = ciphers.encrypt_field(ciphers.decrypt_field(value, key_id))
                updates.append((sealed.value, sealed.key_id, *key_values))
            if updates:
                where = sql.SQL(" AND ").join(
                    sql.SQL("{} = %s").format(sql.Identifier(c)) for c in col.primary_key
                )
                cur.executemany(
                    sql.SQL("UPDATE {table} SET {secret} = %s, {key_id} = %s WHERE {where}").format(
                        table=sql.Identifier(col.table),
                        secret=sql.Identifier(col.column),
                        key_id=sql.Identifier(col.key_id_column),
                        where=where,
                    ),
                    updates,
                )
            counts[col.name] = len(updates)
    return counts


def revoke(conn: psycopg.Connection[Any], digest: str, ciphers: Ciphers | None = None) -> KeyRow:
    """Retire an active key: it no longer decrypts anything.

    Refused with Conflict while any secret is still encrypted with it (rotate first) or, when
    ``ciphers`` is given, when it is their primary key; NotFound when no active key has that
    digest. ``ciphers``, if given, stop using the key at once; other processes learn it from
    :func:`ensure_active_keys`.
    """
    if ciphers is not None and digest == ciphers.primary.digest:
        raise Conflict(f"dbcrypt key {digest} is the primary key; configure another one first")
    with _transaction(conn) as cur:
        cur.execute(
            "SELECT number FROM dbcrypt_keys WHERE active_key_digest = %s FOR UPDATE", (digest,)
        )
        if cur.fetchone() is None:
            raise NotFound("active dbcrypt key", digest)
        in_use = [col.name for col in SECRET_COLUMNS if _uses_key(cur, col, digest)]
        if in_use:
            raise Conflict(
                f"dbcrypt key {digest} still encrypts {', '.join(in_use)}; rotate before revoking"
            )
        cur.execute(
            "UPDATE dbcrypt_keys SET revoked_key_digest = active_key_digest,"
            " active_key_digest = NULL, revoked_at = now()"
            " WHERE active_key_digest = %s"
            " RETURNING number, active_key_digest, revoked_key_digest, test",
            (digest,),
        )
        row = cur.fetchone()
        assert row is not None  # locked above
    if ciphers is not None:
        ciphers.mark_revoked(digest)
    return KeyRow(*row)


def _ensure(cur: psycopg.Cursor[tuple[Any, ...]], ciphers: Ciphers) -> list[KeyRow]:
    cur.execute("LOCK TABLE dbcrypt_keys IN SHARE ROW EXCLUSIVE MODE")
    rows = _key_rows(cur)
    _learn_revocations(rows, ciphers)
    active = {r.active_key_digest: r for r in rows if r.active_key_digest is not None}
    next_number = max((r.number for r in rows), default=0) + 1
    for digest in ciphers.digests:
        if digest in ciphers.revoked:
            continue
        row = active.get(digest)
        if row is not None:
            if _test_fails(ciphers.cipher(digest), row.test):
                raise DecryptError(
                    f"dbcrypt key {digest} does not decrypt its test value: the configured "
                    "key is not the key that encrypted this database",
                    key_id=digest,
                )
            continue
        cur.execute(
            "INSERT INTO dbcrypt_keys (number, active_key_digest, test) VALUES (%s, %s, %s)",
            (next_number, digest, ciphers.cipher(digest).encrypt(SENTINEL)),
        )
        next_number += 1
    return _key_rows(cur)


def _uses_key(cur: psycopg.Cursor[tuple[Any, ...]], col: SecretColumn, digest: str) -> bool:
    cur.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM {table} WHERE {key_id} = %s)").format(
            table=sql.Identifier(col.table), key_id=sql.Identifier(col.key_id_column)
        ),
        (digest,),
    )
    row = cur.fetchone()
    return bool(row and row[0])


def _key_rows(cur: psycopg.Cursor[tuple[Any, ...]]) -> list[KeyRow]:
    cur.execute(
        "SELECT number, active_key_digest, revoked_key_digest, test"
        " FROM dbcrypt_keys ORDER BY number"
    )
    return [KeyRow(*r) for r in cur.fetchall()]


def _learn_revocations(rows: list[KeyRow], ciphers: Ciphers) -> None:
    for r in rows:
        if r.revoked_key_digest is not None and r.revoked_key_digest in ciphers.digests:
            ciphers.mark_revoked(r.revoked_key_digest)
    if ciphers.primary.digest in ciphers.revoked:
        raise DecryptError(
            f"the primary dbcrypt key {ciphers.primary.digest} has been revoked; "
            "configure a new primary key",
            key_id=ciphers.primary.digest,
        )


def _test_fails(cipher: Cipher, test: str) -> bool:
    try:
        return cipher.decrypt(test) != SENTINEL
    except DecryptError:
        return True


@contextlib.contextmanager
def _transaction(conn: psycopg.Connection[Any]) -> Iterator[psycopg.Cursor[tuple[Any, ...]]]:
    """A transaction (a savepoint inside one) with a tuple cursor; driver errors classified."""
    try:
        with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
            yield cur
    except psycopg.Error as exc:
        raise classify(exc) from exc
