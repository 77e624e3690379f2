"""Secrets at rest (SPEC 9): the cipher itself, and key registration, rotation and revocation
against a real PostgreSQL.

The schema comes from ``sql/migrations`` (applied in order into a template database). Only
when the repository has no migrations yet does the test create minimal stand-ins of the same
tables and columns.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import tuple_row

from chatdb.dbcrypt import (
    SECRET_COLUMNS,
    SENTINEL,
    Cipher,
    Ciphers,
    DecryptError,
    ensure_active_keys,
    generate_key,
    key_digest,
    revoke,
    rotate,
)
from chatdb.errors import ChatDBError, Conflict, InvalidInput, NotFound
from codegen.pgserver import PgServer, throwaway_server

MIGRATIONS = Path(__file__).resolve().parents[2] / "sql" / "migrations"

MINIMAL_SCHEMA = """
CREATE TABLE dbcrypt_keys (
    number integer PRIMARY KEY,
    active_key_digest text UNIQUE,
    revoked_key_digest text UNIQUE,
    test text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE TABLE users (id uuid PRIMARY KEY, email text NOT NULL, username text NOT NULL);
CREATE TABLE chat_providers (
    id uuid PRIMARY KEY,
    provider text NOT NULL UNIQUE,
    api_key text NOT NULL DEFAULT '',
    api_key_key_id text REFERENCES dbcrypt_keys (active_key_digest)
);
CREATE TABLE mcp_server_configs (
    id uuid PRIMARY KEY,
    display_name text NOT NULL,
    slug text NOT NULL UNIQUE,
    url text NOT NULL,
    oauth2_client_secret text NOT NULL DEFAULT '',
    oauth2_client_secret_key_id text REFERENCES dbcrypt_keys (active_key_digest),
    api_key_value text NOT NULL DEFAULT '',
    api_key_value_key_id text REFERENCES dbcrypt_keys (active_key_digest),
    custom_headers text NOT NULL DEFAULT '{}',
    custom_headers_key_id text REFERENCES dbcrypt_keys (active_key_digest)
);
CREATE TABLE mcp_server_user_tokens (
    id uuid PRIMARY KEY,
    mcp_server_config_id uuid NOT NULL REFERENCES mcp_server_configs ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    access_token text NOT NULL,
    access_token_key_id text REFERENCES dbcrypt_keys (active_key_digest),
    refresh_token text NOT NULL DEFAULT '',
    refresh_token_key_id text REFERENCES dbcrypt_keys (active_key_digest)
);
"""

Conn = psycopg.Connection[tuple[Any, ...]]


# --- the cipher ---------------------------------------------------------------------------


def test_encrypted_text_decrypts_to_the_original() -> None:
    cipher = Cipher(generate_key())
    secret = "sk-ant-api03-ünïcødé"
    sealed = cipher.encrypt(secret)
    assert secret not in sealed
    assert cipher.decrypt(sealed) == secret


def test_encrypting_twice_gives_different_ciphertexts() -> None:
    cipher = Cipher(generate_key())
    assert cipher.encrypt("same") != cipher.encrypt("same")


def test_ciphertext_is_base64_of_nonce_ciphertext_and_tag() -> None:
    cipher = Cipher(generate_key())
    raw = base64.b64decode(cipher.encrypt("abc"))
    assert len(raw) == 12 + 3 + 16


def test_digest_is_7_hex_chars_of_the_sha256_of_cipher_name_and_key() -> None:
    key = bytes(range(32))
    expected = hashlib.sha256(b"aes256gcm" + key).hexdigest()[:7]
    assert Cipher(key).digest == key_digest(key) == expected == "6d28cf8"  # rows store it


def test_a_key_must_be_32_bytes() -> None:
    with pytest.raises(InvalidInput):
        Cipher(b"short")
    with pytest.raises(InvalidInput):
        Cipher.from_base64("not base64!")


def test_keys_can_be_configured_as_comma_separated_base64() -> None:
    k1, k2 = generate_key(), generate_key()
    ciphers = Ciphers.from_base64_keys(
        f"{base64.b64encode(k1).decode()}, {base64.b64encode(k2).decode()}"
    )
    assert ciphers.primary.digest == key_digest(k1)
    assert ciphers.digests == [key_digest(k1), key_digest(k2)]
    with pytest.raises(InvalidInput):
        Ciphers.from_base64_keys(" , ")


def test_the_key_never_shows_in_repr() -> None:
    key = generate_key()
    ciphers = Ciphers(Cipher(key))
    assert base64.b64encode(key).decode() not in repr(ciphers)
    assert key.hex() not in repr(ciphers.primary)


def test_tampered_ciphertext_is_a_decrypt_error() -> None:
    cipher = Cipher(generate_key())
    raw = bytearray(base64.b64decode(cipher.encrypt("secret")))
    raw[-1] ^= 1
    with pytest.raises(DecryptError):
        cipher.decrypt(base64.b64encode(bytes(raw)).decode())
    with pytest.raises(DecryptError):
        cipher.decrypt("%%%")
    with pytest.raises(DecryptError):
        cipher.decrypt(base64.b64encode(b"tiny").decode())


def test_a_different_key_cannot_decrypt() -> None:
    sealed = Cipher(generate_key()).encrypt("secret")
    with pytest.raises(DecryptError):
        Cipher(generate_key()).decrypt(sealed)


def test_ciphers_encrypt_with_the_primary_and_decrypt_with_any_known_key() -> None:
    old, new = Cipher(generate_key()), Cipher(generate_key())
    value, key_id = Ciphers(old).encrypt_field("secret")
    assert key_id == old.digest
    both = Ciphers(new, old)
    assert both.decrypt_field(value, key_id) == "secret"
    assert both.encrypt_field("x").key_id == new.digest


def test_unknown_key_id_is_a_decrypt_error() -> None:
    value, key_id = Ciphers(Cipher(generate_key())).encrypt_field("secret")
    with pytest.raises(DecryptError) as err:
        Ciphers(Cipher(generate_key())).decrypt_field(value, key_id)
    assert err.value.key_id == key_id
    assert isinstance(err.value, ChatDBError)


def test_null_key_id_means_clear_text() -> None:
    assert Ciphers(Cipher(generate_key())).decrypt_field("plain", None) == "plain"


def test_the_empty_string_is_not_encrypted() -> None:
    ciphers = Ciphers(Cipher(generate_key()))
    assert ciphers.encrypt_field("") == ("", None)


def test_two_keys_with_one_digest_are_refused() -> None:
    key = generate_key()
    with pytest.raises(InvalidInput):
        Ciphers(Cipher(key), Cipher(key))


def test_a_key_marked_revoked_no_longer_decrypts() -> None:
    old, new = Cipher(generate_key()), Cipher(generate_key())
    ciphers = Ciphers(new, old)
    value = old.encrypt("secret")
    ciphers.mark_revoked(old.digest)
    with pytest.raises(DecryptError, match="revoked"):
        ciphers.decrypt_field(value, old.digest)


def test_every_spec_secret_column_is_registered() -> None:
    assert {c.name for c in SECRET_COLUMNS} == {
        "chat_providers.api_key",
        "mcp_server_configs.oauth2_client_secret",
        "mcp_server_configs.api_key_value",
        "mcp_server_configs.custom_headers",
        "mcp_server_user_tokens.access_token",
        "mcp_server_user_tokens.refresh_token",
    }
    assert all(c.key_id_column == f"{c.column}_key_id" for c in SECRET_COLUMNS)


# --- against PostgreSQL -------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[PgServer]:
    with throwaway_server() as srv:
        yield srv


@pytest.fixture(scope="module")
def database(server: PgServer) -> str:
    name = server.create_database()
    with psycopg.connect(server.dsn(name), autocommit=True) as conn:
        files = sorted(MIGRATIONS.glob("*.up.sql"))
        for f in files:
            try:
                with conn.transaction():
                    conn.execute(f.read_text())
            except psycopg.Error as exc:
                pytest.fail(f"migration {f.name} does not apply: {exc}")
        if not files:
            conn.execute(MINIMAL_SCHEMA)
    return name


@pytest.fixture
def conn(server: PgServer, database: str) -> Iterator[Conn]:
    """A connection inside a transaction that is rolled back after the test (fast isolation:
    the functions under test open savepoints inside it, as inside any caller's transaction)."""
    with (
        psycopg.connect(server.dsn(database), row_factory=tuple_row) as c,
        c.transaction(force_rollback=True),
    ):
        yield c


def _insert_secrets(conn: Conn, ciphers: Ciphers | None, values: dict[str, str]) -> None:
    """One row in each secret table; ``values`` maps ``table.column`` to its clear text."""
    user_id, config_id = uuid.uuid4(), uuid.uuid4()

    def seal(column: str) -> tuple[str, str | None]:
        clear = values.get(column, "")
        return tuple(ciphers.encrypt_field(clear)) if ciphers else (clear, None)  # type: ignore[return-value]

    conn.execute(
        "INSERT INTO users (id, email, username) VALUES (%s, 'a@example.com', 'a')", (user_id,)
    )
    conn.execute(
        "INSERT INTO chat_providers (id, provider, api_key, api_key_key_id)"
        " VALUES (%s, 'anthropic', %s, %s)",
        (uuid.uuid4(), *seal("chat_providers.api_key")),
    )
    conn.execute(
        "INSERT INTO mcp_server_configs (id, display_name, slug, url,"
        " oauth2_client_secret, oauth2_client_secret_key_id, api_key_value, api_key_value_key_id,"
        " custom_headers, custom_headers_key_id)"
        " VALUES (%s, 'Sentry', 'sentry', 'https://mcp.example.com', %s, %s, %s, %s, %s, %s)",
        (
            config_id,
            *seal("mcp_server_configs.oauth2_client_secret"),
            *seal("mcp_server_configs.api_key_value"),
            *seal("mcp_server_configs.custom_headers"),
        ),
    )
    conn.execute(
        "INSERT INTO mcp_server_user_tokens (id, mcp_server_config_id, user_id,"
        " access_token, access_token_key_id, refresh_token, refresh_token_key_id)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            uuid.uuid4(),
            config_id,
            user_id,
            *seal("mcp_server_user_tokens.access_token"),
            *seal("mcp_server_user_tokens.refresh_token"),
        ),
    )


def _stored(conn: Conn) -> dict[str, tuple[str, str | None]]:
    """``table.column`` → (stored value, key id) of the single row of each secret table."""
    out: dict[str, tuple[str, str | None]] = {}
    for col in SECRET_COLUMNS:
        row = conn.execute(
            f"SELECT {col.column}, {col.key_id_column} FROM {col.table}"  # names from our registry
        ).fetchone()
        assert row is not None
        out[col.name] = (row[0], row[1])
    return out


def _clear(ciphers: Ciphers, stored: dict[str, tuple[str, str | None]]) -> dict[str, str]:
    return {name: ciphers.decrypt_field(value, key_id) for name, (value, key_id) in stored.items()}


SECRETS = {
    "chat_providers.api_key": "sk-provider",
    "mcp_server_configs.oauth2_client_secret": "oauth-secret",
    "mcp_server_configs.api_key_value": "mcp-api-key",
    "mcp_server_configs.custom_headers": '{"X-Token": "t"}',
    "mcp_server_user_tokens.access_token": "access",
    "mcp_server_user_tokens.refresh_token": "refresh",
}


def test_ensure_registers_configured_keys_with_a_test_value(conn: Conn) -> None:
    primary, other = Cipher(generate_key()), Cipher(generate_key())
    rows = ensure_active_keys(conn, Ciphers(primary, other))
    assert [(r.number, r.active_key_digest, r.revoked_key_digest) for r in rows] == [
        (1, primary.digest, None),
        (2, other.digest, None),
    ]
    assert primary.decrypt(rows[0].test) == SENTINEL
    assert other.decrypt(rows[1].test) == SENTINEL


def test_ensure_is_idempotent(conn: Conn) -> None:
    ciphers = Ciphers(Cipher(generate_key()))
    first = ensure_active_keys(conn, ciphers)
    assert ensure_active_keys(conn, ciphers) == first


def test_ensure_adds_a_new_primary_after_the_existing_keys(conn: Conn) -> None:
    old, new = Cipher(generate_key()), Cipher(generate_key())
    ensure_active_keys(conn, Ciphers(old))
    rows = ensure_active_keys(conn, Ciphers(new, old))
    assert [(r.number, r.active_key_digest) for r in rows] == [(1, old.digest), (2, new.digest)]


def test_a_wrong_key_with_a_known_digest_is_detected_at_startup(conn: Conn) -> None:
    real = Cipher(generate_key())
    ensure_active_keys(conn, Ciphers(real))
    # Corrupt the stored test value so that it no longer decrypts with the configured key.
    impostor_test = Cipher(generate_key()).encrypt(SENTINEL)
    conn.execute("UPDATE dbcrypt_keys SET test = %s", (impostor_test,))
    with pytest.raises(DecryptError, match="test value"):
        ensure_active_keys(conn, Ciphers(real))


def test_secrets_written_with_the_primary_key_read_back(conn: Conn) -> None:
    ciphers = Ciphers(Cipher(generate_key()))
    ensure_active_keys(conn, ciphers)
    _insert_secrets(conn, ciphers, SECRETS)
    stored = _stored(conn)
    for name, (value, key_id) in stored.items():
        assert key_id == ciphers.primary.digest
        assert value != SECRETS[name]
    assert _clear(ciphers, stored) == SECRETS


def test_rows_written_before_encryption_stay_readable(conn: Conn) -> None:
    _insert_secrets(conn, None, SECRETS)
    ciphers = Ciphers(Cipher(generate_key()))
    ensure_active_keys(conn, ciphers)
    assert _clear(ciphers, _stored(conn)) == SECRETS


def test_rotation_re_encrypts_clear_text_rows(conn: Conn) -> None:
    _insert_secrets(conn, None, SECRETS)
    ciphers = Ciphers(Cipher(generate_key()))
    counts = rotate(conn, ciphers)
    assert counts == dict.fromkeys(SECRETS, 1)
    stored = _stored(conn)
    assert {key_id for _, key_id in stored.values()} == {ciphers.primary.digest}
    assert _clear(ciphers, stored) == SECRETS


def test_rotation_moves_every_secret_to_the_new_primary_key(conn: Conn) -> None:
    old, new = Cipher(generate_key()), Cipher(generate_key())
    ensure_active_keys(conn, Ciphers(old))
    _insert_secrets(conn, Ciphers(old), SECRETS)
    ciphers = Ciphers(new, old)
    rotate(conn, ciphers)
    stored = _stored(conn)
    assert {key_id for _, key_id in stored.values()} == {new.digest}
    assert _clear(Ciphers(new), stored) == SECRETS


def test_rotation_leaves_rows_already_on_the_primary_key_alone(conn: Conn) -> None:
    ciphers = Ciphers(Cipher(generate_key()))
    ensure_active_keys(conn, ciphers)
    _insert_secrets(conn, ciphers, SECRETS)
    before = _stored(conn)
    assert rotate(conn, ciphers) == dict.fromkeys(SECRETS, 0)
    assert _stored(conn) == before


def test_rotation_keeps_empty_secrets_empty_and_clear(conn: Conn) -> None:
    _insert_secrets(conn, None, {"chat_providers.api_key": "sk"})
    ciphers = Ciphers(Cipher(generate_key()))
    rotate(conn, ciphers)
    stored = _stored(conn)
    assert stored["mcp_server_configs.api_key_value"] == ("", None)
    assert stored["chat_providers.api_key"][1] == ciphers.primary.digest


def test_rotation_is_all_or_nothing(conn: Conn) -> None:
    lost, new = Cipher(generate_key()), Cipher(generate_key())
    _insert_secrets(conn, None, SECRETS)  # clear rows that rotation would encrypt ...
    ensure_active_keys(conn, Ciphers(lost))
    conn.execute(  # ... and one token under a key that is no longer configured
        "UPDATE mcp_server_user_tokens SET refresh_token = %s, refresh_token_key_id = %s",
        (lost.encrypt("refresh"), lost.digest),
    )
    before = _stored(conn)
    with pytest.raises(DecryptError):
        rotate(conn, Ciphers(new))
    assert _stored(conn) == before
    digests = conn.execute("SELECT active_key_digest FROM dbcrypt_keys").fetchall()
    assert digests == [(lost.digest,)]  # the new key's registration was rolled back too


def test_a_revoked_key_can_no_longer_decrypt(conn: Conn) -> None:
    old, new = Cipher(generate_key()), Cipher(generate_key())
    ensure_active_keys(conn, Ciphers(old))
    _insert_secrets(conn, Ciphers(old), SECRETS)
    old_ciphertext = _stored(conn)["chat_providers.api_key"][0]
    rotate(conn, Ciphers(new, old))

    row = revoke(conn, old.digest)
    assert (row.active_key_digest, row.revoked_key_digest) == (None, old.digest)
    revoked_at = conn.execute(
        "SELECT revoked_at FROM dbcrypt_keys WHERE revoked_key_digest = %s", (old.digest,)
    ).fetchone()
    assert revoked_at is not None and revoked_at[0] is not None

    # Another process starting with both keys learns of the revocation at startup.
    restarted = Ciphers(new, old)
    ensure_active_keys(conn, restarted)
    assert old.digest in restarted.revoked
    with pytest.raises(DecryptError, match="revoked"):
        restarted.decrypt_field(old_ciphertext, old.digest)
    assert _clear(restarted, _stored(conn)) == SECRETS


def test_revoke_stops_the_given_ciphers_at_once(conn: Conn) -> None:
    old, new = Cipher(generate_key()), Cipher(generate_key())
    ciphers = Ciphers(new, old)
    ensure_active_keys(conn, ciphers)
    revoke(conn, old.digest, ciphers)
    with pytest.raises(DecryptError):
        ciphers.decrypt_field(old.encrypt("x"), old.digest)


def test_revoking_a_key_still_in_use_is_refused(conn: Conn) -> None:
    old, new = Cipher(generate_key()), Cipher(generate_key())
    ensure_active_keys(conn, Ciphers(new, old))
    _insert_secrets(conn, Ciphers(old), {"mcp_server_user_tokens.access_token": "a"})
    with pytest.raises(Conflict, match=r"mcp_server_user_tokens\.access_token"):
        revoke(conn, old.digest)
    row = conn.execute(
        "SELECT active_key_digest, revoked_key_digest FROM dbcrypt_keys WHERE number = 2"
    ).fetchone()
    assert row == (old.digest, None)


def test_revoking_the_primary_key_is_refused(conn: Conn) -> None:
    ciphers = Ciphers(Cipher(generate_key()))
    ensure_active_keys(conn, ciphers)
    with pytest.raises(Conflict, match="primary"):
        revoke(conn, ciphers.primary.digest, ciphers)


def test_revoking_an_unknown_key_is_not_found(conn: Conn) -> None:
    with pytest.raises(NotFound):
        revoke(conn, "abcdef0")


def test_a_revoked_primary_key_is_refused_at_startup(conn: Conn) -> None:
    old, new = Cipher(generate_key()), Cipher(generate_key())
    ensure_active_keys(conn, Ciphers(new, old))
    revoke(conn, old.digest)
    with pytest.raises(DecryptError, match="revoked"):
        ensure_active_keys(conn, Ciphers(old))


def test_a_revoked_key_is_not_registered_again(conn: Conn) -> None:
    old, new = Cipher(generate_key()), Cipher(generate_key())
    ensure_active_keys(conn, Ciphers(new, old))
    revoke(conn, old.digest)
    rows = ensure_active_keys(conn, Ciphers(new, old))
    assert [(r.active_key_digest, r.revoked_key_digest) for r in rows] == [
        (new.digest, None),
        (None, old.digest),
    ]


def test_key_functions_join_the_callers_transaction(conn: Conn) -> None:
    ciphers = Ciphers(Cipher(generate_key()))
    with pytest.raises(RuntimeError), conn.transaction():
        ensure_active_keys(conn, ciphers)
        raise RuntimeError("caller rolls back")
    assert conn.execute("SELECT count(*) FROM dbcrypt_keys").fetchone() == (0,)
