"""ProviderConfig (SPEC 9): provider API keys are sealed before writing, opened after reading.

Only chatd (which calls the providers) reads a key in clear; the owner who configures a
provider reads it redacted (issue 8 item 4).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from chatdb.authz import CHATD, Subject
from chatdb.authz.redaction import REDACTED
from chatdb.db import Querier
from chatdb.dbcrypt import Cipher, Ciphers, DecryptError, ensure_active_keys, generate_key
from chatdb.errors import InvalidInput, NotAuthorized, UniqueViolation
from chatdb.ops import ProviderConfig
from chatdb.store import Store

State = dict[str, object]
SECRET = "sk-live-0123456789abcdef"


@pytest.fixture
def ciphers(conn: psycopg.Connection[Any]) -> Ciphers:
    keys = Ciphers(Cipher(generate_key()))
    ensure_active_keys(conn, keys)
    return keys


def stored(conn: psycopg.Connection[Any], provider: str) -> tuple[str, str | None]:
    row = conn.execute(
        "SELECT api_key, api_key_key_id FROM chat_providers WHERE provider = %s", (provider,)
    ).fetchone()
    assert row is not None
    return row[0], row[1]


def test_with_a_cipher_the_key_never_reaches_the_table_in_clear(
    store: Store[Querier], conn: psycopg.Connection[Any], ciphers: Ciphers, admin: Subject
) -> None:
    providers = ProviderConfig(store, ciphers=ciphers)

    created = providers.create("openai", api_key=SECRET, base_url="https://api", actor=admin)

    value, key_id = stored(conn, "openai")
    assert SECRET not in value
    assert key_id == ciphers.primary.digest
    assert created.api_key == REDACTED
    assert providers.get(created.id, actor=CHATD).api_key == SECRET
    assert [p.api_key for p in providers.list(actor=CHATD)] == [SECRET]
    dump = conn.execute("SELECT string_agg(t::text, '') FROM chat_providers AS t").fetchone()
    assert dump is not None and SECRET not in dump[0]


def test_updating_reseals_a_new_key_and_keeps_an_unchanged_one(
    store: Store[Querier], conn: psycopg.Connection[Any], ciphers: Ciphers, admin: Subject
) -> None:
    providers = ProviderConfig(store, ciphers=ciphers)
    created = providers.create("anthropic", api_key=SECRET, actor=admin)
    sealed_before = stored(conn, "anthropic")

    renamed = providers.update(created.id, display_name="Claude", enabled=False, actor=admin)
    assert (renamed.display_name, renamed.enabled) == ("Claude", False)
    assert providers.get(created.id, actor=CHATD).api_key == SECRET
    assert stored(conn, "anthropic") == sealed_before

    providers.update(created.id, api_key="sk-new", actor=admin)
    assert providers.get(created.id, actor=CHATD).api_key == "sk-new"
    value, key_id = stored(conn, "anthropic")
    assert "sk-new" not in value and key_id == ciphers.primary.digest


def test_before_any_key_exists_keys_are_stored_in_clear_and_stay_readable_once_one_is(
    store: Store[Querier], conn: psycopg.Connection[Any], admin: Subject
) -> None:
    ProviderConfig(store).create("google", api_key=SECRET, actor=admin)
    assert stored(conn, "google") == (SECRET, None)
    ciphers = Ciphers(Cipher(generate_key()))
    ensure_active_keys(conn, ciphers)
    assert [p.api_key for p in ProviderConfig(store, ciphers=ciphers).list(actor=CHATD)] == [SECRET]


def test_reading_a_sealed_key_without_the_cipher_fails_loudly(
    store: Store[Querier], ciphers: Ciphers, admin: Subject
) -> None:
    created = ProviderConfig(store, ciphers=ciphers).create("openai", api_key=SECRET, actor=admin)
    with pytest.raises(DecryptError):
        ProviderConfig(store).get(created.id, actor=CHATD)


def test_a_chat_user_may_not_configure_providers(
    store: Store[Querier], alice: Subject, db_state: Callable[[], State]
) -> None:
    before = db_state()
    with pytest.raises(NotAuthorized):
        ProviderConfig(store).create("openai", api_key=SECRET, actor=alice)
    assert db_state() == before


def test_an_unknown_provider_kind_is_refused_before_the_database_is_asked(
    store: Store[Querier], admin: Subject, db_state: Callable[[], State]
) -> None:
    before = db_state()
    with pytest.raises(InvalidInput) as exc:
        ProviderConfig(store).create("skynet", api_key=SECRET, actor=admin)
    assert exc.value.field == "provider"
    assert db_state() == before


def test_a_second_row_for_the_same_provider_is_a_unique_violation(
    store: Store[Querier], admin: Subject
) -> None:
    providers = ProviderConfig(store)
    providers.create("openai", actor=admin)
    with pytest.raises(UniqueViolation):
        providers.create("openai", actor=admin)


def test_deleting_removes_the_provider(
    store: Store[Querier], conn: psycopg.Connection[Any], admin: Subject
) -> None:
    providers = ProviderConfig(store)
    created = providers.create("vercel", actor=admin)
    providers.delete(created.id, actor=admin)
    assert conn.execute("SELECT count(*) FROM chat_providers").fetchone() == (0,)
