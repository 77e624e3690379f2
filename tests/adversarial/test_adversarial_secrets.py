"""Secrets at rest and in errors, attacked (issue 8 items 4-5, issue 9 item 1; SPEC 9).

Every secret column is declared once (``[tool.codegen.secrets]``). Once a dbcrypt key is active
no writer can store one of them in clear (the database refuses), the workflows encrypt on every
write path and decrypt on read, rotation and revocation cover them end to end, and no error
about a secret-bearing table carries a secret.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql

from chatdb import db
from chatdb.authz import (
    AUDITOR,
    CHATD,
    MEMBER,
    OWNER,
    SYSTEM,
    Action,
    Authorizer,
    Object,
    ResourceType,
    Scope,
    Subject,
)
from chatdb.authz.redaction import REDACTED
from chatdb.authz.wrapper import AsyncAuthzQuerier, AuthzQuerier
from chatdb.db import AsyncQuerier, Querier
from chatdb.db.secrets import SECRET_COLUMNS
from chatdb.dbcrypt import (
    Cipher,
    Ciphers,
    DecryptError,
    ensure_active_keys,
    generate_key,
    revoke,
    rotate,
)
from chatdb.errors import (
    ChatDBError,
    CheckViolation,
    ForeignKeyViolation,
    InvalidInput,
    NotNullViolation,
    UnencryptedSecret,
)
from chatdb.ops import McpServers, ProviderConfig
from chatdb.store import Store
from chatdb.testing.factories import Factories

pytestmark = pytest.mark.timeout(120)

State = dict[str, object]
SECRET_TABLES = ("chat_providers", "mcp_server_configs", "mcp_server_user_tokens", "dbcrypt_keys")

PROVIDER_KEY = "sk-live-provider-0123456789"
CLIENT_SECRET = "sk-live-123"
MCP_API_KEY = "mcp-key-abcdef"
HEADERS = {"X-Api-Token": "hdr-secret-987"}
ACCESS = "oauth-access-token-555"
REFRESH = "oauth-refresh-token-666"
ALL_SECRETS = (PROVIDER_KEY, CLIENT_SECRET, MCP_API_KEY, "hdr-secret-987", ACCESS, REFRESH)


@pytest.fixture
def conn(chatdb_conn: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    return chatdb_conn


@pytest.fixture
def store(chatdb_store: Store[Querier]) -> Store[Querier]:
    return chatdb_store


@pytest.fixture
def f(conn: psycopg.Connection[Any]) -> Factories:
    return Factories(conn)


@pytest.fixture
def org(f: Factories) -> db.Organization:
    return f.organization()


def _person(f: Factories, org: db.Organization, name: str, *roles: str) -> Subject:
    user = f.user(organization_id=org.id, username=name, rbac_roles=list(roles))
    return Subject(id=user.id, name=name, site_roles=(*roles, MEMBER), memberships={org.id})


@pytest.fixture
def admin(f: Factories, org: db.Organization) -> Subject:
    """A site owner: configures providers and MCP servers."""
    return _person(f, org, "admin", OWNER)


@pytest.fixture
def bob(f: Factories, org: db.Organization) -> Subject:
    """A plain member who connects his own MCP token."""
    return _person(f, org, "bob")


@pytest.fixture
def ciphers(conn: psycopg.Connection[Any]) -> Ciphers:
    keys = Ciphers(Cipher(generate_key()))
    ensure_active_keys(conn, keys)
    return keys


@pytest.fixture
def db_state(conn: psycopg.Connection[Any]) -> Callable[[], State]:
    """Counts and a digest of every row of the secret tables (any write changes it)."""

    def snapshot() -> State:
        state: State = {}
        for table in SECRET_TABLES:
            row = conn.execute(
                sql.SQL(
                    "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                    " FROM {} AS t"
                ).format(sql.Identifier(table))
            ).fetchone()
            assert row is not None
            state[table] = row
        return state

    return snapshot


def stored_secrets(conn: psycopg.Connection[Any]) -> list[tuple[str, str, str | None]]:
    """(table.column, stored value, key id) of every non-empty secret in the database."""
    out = []
    for col in SECRET_COLUMNS:
        assert col.key_id_column is not None
        query = sql.SQL("SELECT {}, {} FROM {}").format(
            sql.Identifier(col.column), sql.Identifier(col.key_id_column), sql.Identifier(col.table)
        )
        out += [(col.name, v, k) for v, k in conn.execute(query).fetchall() if v != ""]
    return out


def table_dump(conn: psycopg.Connection[Any]) -> str:
    """Every row of the secret tables as text."""
    parts = []
    for table in SECRET_TABLES:
        query = sql.SQL("SELECT coalesce(string_agg(t::text, '|'), '') FROM {} AS t").format(
            sql.Identifier(table)
        )
        row = conn.execute(query).fetchone()
        assert row is not None
        parts.append(row[0])
    return "\n".join(parts)


def write_everything(
    providers: ProviderConfig, servers: McpServers, admin: Subject, bob: Subject
) -> tuple[db.ChatProvider, db.McpServerConfig, db.McpServerUserToken]:
    """Every write path of the secret columns, each secret written at least twice."""
    provider = providers.create("openai", api_key="sk-first", actor=admin)
    provider = providers.update(provider.id, api_key=PROVIDER_KEY, actor=admin)
    provider = providers.update(provider.id, display_name="OpenAI", actor=admin)
    server = servers.create(
        display_name="Sentry",
        slug="sentry",
        url="https://mcp.sentry.example",
        auth_type="oauth2",
        oauth2_client_secret="first-secret",
        api_key_value="first-key",
        custom_headers={"X-First": "1"},
        actor=admin,
    )
    server = servers.update(
        server.id,
        oauth2_client_secret=CLIENT_SECRET,
        api_key_value=MCP_API_KEY,
        custom_headers=HEADERS,
        actor=admin,
    )
    server = servers.update(server.id, display_name="Sentry (prod)", actor=admin)
    servers.set_user_token(server.id, bob.id, access_token="old-access", actor=bob)
    token = servers.set_user_token(
        server.id, bob.id, access_token=ACCESS, refresh_token=REFRESH, actor=bob
    )
    return provider, server, token


# --- issue 9.1: encrypted on every write path, decrypted on read ------------------------------


def test_after_every_write_path_no_secret_column_holds_a_clear_value(
    store: Store[Querier],
    conn: psycopg.Connection[Any],
    ciphers: Ciphers,
    admin: Subject,
    bob: Subject,
) -> None:
    providers, servers = ProviderConfig(store, ciphers=ciphers), McpServers(store, ciphers=ciphers)
    write_everything(providers, servers, admin, bob)

    found = stored_secrets(conn)
    assert {name for name, _, _ in found} == {c.name for c in SECRET_COLUMNS}
    for name, value, key_id in found:
        assert key_id == ciphers.primary.digest, name
        assert ciphers.decrypt_field(value, key_id) != value, name
    dump = table_dump(conn)
    for secret in (*ALL_SECRETS, "sk-first", "first-secret", "old-access"):
        assert secret not in dump


def test_reads_give_back_the_clear_values(
    store: Store[Querier], ciphers: Ciphers, admin: Subject, bob: Subject
) -> None:
    providers, servers = ProviderConfig(store, ciphers=ciphers), McpServers(store, ciphers=ciphers)
    provider, server, token = write_everything(providers, servers, admin, bob)

    assert providers.get(provider.id, actor=CHATD).api_key == PROVIDER_KEY
    for got in (
        servers.get(server.id, actor=CHATD),
        servers.get_by_slug("sentry", actor=CHATD),
        *servers.list(actor=CHATD),
    ):
        assert (got.oauth2_client_secret, got.api_key_value) == (CLIENT_SECRET, MCP_API_KEY)
        assert got.custom_headers == '{"X-Api-Token": "hdr-secret-987"}'
        assert got.display_name == "Sentry (prod)"  # a later update kept the secrets
    for t in (
        servers.get_user_token(server.id, bob.id, actor=bob),
        *servers.user_tokens(bob.id, actor=bob),
        token,
    ):
        assert (t.access_token, t.refresh_token) == (ACCESS, REFRESH)


@pytest.mark.parametrize("col", SECRET_COLUMNS, ids=lambda c: c.name)
def test_the_plain_querier_cannot_store_a_clear_secret_once_a_key_exists(
    conn: psycopg.Connection[Any],
    f: Factories,
    db_state: Callable[[], State],
    col: Any,
) -> None:
    # Rows that exist before the first key (clear secrets stay as they are until rotated).
    user = f.user()
    f.chat_provider(provider="anthropic")
    server = f.mcp_server_config(slug="target")
    f.mcp_server_user_token(mcp_server_config_id=server.id, user_id=user.id)
    ensure_active_keys(conn, Ciphers(Cipher(generate_key())))
    before = db_state()

    # A hand-written UPDATE of that one column, value as given: the mistake the issue describes.
    statement = sql.SQL("UPDATE {} SET {} = %s").format(
        sql.Identifier(col.table), sql.Identifier(col.column)
    )
    with (
        pytest.raises(UnencryptedSecret) as exc,
        Store(conn.info.dsn, querier_factory=Querier, min_size=1, max_size=1) as raw,
    ):
        raw.in_tx(lambda q: q.conn.execute(statement, ("sk-live-123",)))
    assert (exc.value.table, exc.value.field) == (col.table, col.column)
    assert "sk-live-123" not in str(exc.value)
    assert db_state() == before


def test_generated_queriers_refuse_clear_secrets_on_every_write_method(
    conn: psycopg.Connection[Any],
    f: Factories,
    ciphers: Ciphers,
    admin: Subject,
    db_state: Callable[[], State],
) -> None:
    user = f.user()
    before = db_state()
    plain = Querier(conn)
    authorized = AuthzQuerier(plain, actor=admin)
    for q in (plain, authorized):
        with pytest.raises(UnencryptedSecret):
            q.insert_chat_provider(
                provider="openai",
                display_name="",
                api_key=CLIENT_SECRET,
                api_key_key_id=None,
                base_url="",
                enabled=True,
                created_by=None,
            )
        with pytest.raises(UnencryptedSecret):
            q.insert_mcp_server_config(**mcp_values(oauth2_client_secret=CLIENT_SECRET))
    assert db_state() == before

    # Sealed rows may be written; then no update or upsert may put a clear value next to them.
    sealed = ciphers.encrypt_field("sealed-secret")
    server = plain.insert_mcp_server_config(
        **mcp_values(api_key_value=sealed.value, api_key_value_key_id=sealed.key_id)
    )
    provider = plain.insert_chat_provider(
        provider="openai",
        display_name="",
        api_key=sealed.value,
        api_key_key_id=sealed.key_id,
        base_url="",
        enabled=True,
        created_by=None,
    )
    before = db_state()
    for q in (plain, authorized):
        with pytest.raises(UnencryptedSecret):
            q.update_chat_provider(
                id=provider.id,
                display_name="",
                api_key=PROVIDER_KEY,
                api_key_key_id=None,
                base_url="",
                enabled=True,
            )
        update = mcp_values(api_key_value=MCP_API_KEY)
        update.pop("created_by")
        with pytest.raises(UnencryptedSecret):
            q.update_mcp_server_config(id=server.id, updated_by=None, **update)
        with pytest.raises(UnencryptedSecret):
            q.upsert_mcp_server_user_token(
                mcp_server_config_id=server.id,
                user_id=user.id,
                access_token=ACCESS,
                access_token_key_id=None,
                refresh_token="",
                refresh_token_key_id=None,
                token_type="Bearer",
                expiry=None,
            )
    assert db_state() == before


def mcp_values(**kw: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "display_name": "Linear",
        "slug": "linear",
        "description": "",
        "icon_url": "",
        "transport": "streamable_http",
        "url": "https://mcp.linear.example",
        "auth_type": "api_key",
        "oauth2_client_id": "",
        "oauth2_client_secret": "",
        "oauth2_client_secret_key_id": None,
        "oauth2_auth_url": "",
        "oauth2_token_url": "",
        "oauth2_scopes": "",
        "api_key_header": "Authorization",
        "api_key_value": "",
        "api_key_value_key_id": None,
        "custom_headers": "",
        "custom_headers_key_id": None,
        "tool_allow_list": [],
        "tool_deny_list": [],
        "availability": "default_off",
        "enabled": True,
        "model_intent": False,
        "allow_in_plan_mode": False,
        "created_by": None,
    }
    values.update(kw)
    return values


def test_rows_from_before_the_first_key_stay_readable_editable_and_rotate(
    store: Store[Querier],
    conn: psycopg.Connection[Any],
    admin: Subject,
    bob: Subject,
) -> None:
    write_everything(ProviderConfig(store), McpServers(store), admin, bob)  # no key yet: clear
    assert {k for _, _, k in stored_secrets(conn)} == {None}

    ciphers = Ciphers(Cipher(generate_key()))
    ensure_active_keys(conn, ciphers)
    servers = McpServers(store, ciphers=ciphers)
    server = servers.get_by_slug("sentry", actor=CHATD)
    # Editing other fields of a legacy row is allowed: it rewrites no secret.
    servers.update(server.id, enabled=True, actor=admin)
    assert servers.get(server.id, actor=CHATD).api_key_value == MCP_API_KEY

    counts = rotate(conn, ciphers)
    assert all(counts[c.name] == 1 for c in SECRET_COLUMNS)
    assert {k for _, _, k in stored_secrets(conn)} == {ciphers.primary.digest}
    assert servers.get(server.id, actor=CHATD).api_key_value == MCP_API_KEY
    assert servers.get_user_token(server.id, bob.id, actor=bob).refresh_token == REFRESH


def test_rotation_and_revocation_end_to_end(
    store: Store[Querier],
    conn: psycopg.Connection[Any],
    admin: Subject,
    bob: Subject,
    db_state: Callable[[], State],
) -> None:
    old, new = Cipher(generate_key()), Cipher(generate_key())
    first = Ciphers(old)
    ensure_active_keys(conn, first)
    provider, server, _ = write_everything(
        ProviderConfig(store, ciphers=first), McpServers(store, ciphers=first), admin, bob
    )
    assert {k for _, _, k in stored_secrets(conn)} == {old.digest}

    # A new primary key: rotation moves every secret column to it.
    second = Ciphers(new, old)
    counts = rotate(conn, second)
    assert all(counts[c.name] == 1 for c in SECRET_COLUMNS)
    assert {k for _, _, k in stored_secrets(conn)} == {new.digest}
    revoke(conn, old.digest, second)

    providers, servers = ProviderConfig(store, ciphers=second), McpServers(store, ciphers=second)
    assert providers.get(provider.id, actor=CHATD).api_key == PROVIDER_KEY
    assert servers.get(server.id, actor=CHATD).oauth2_client_secret == CLIENT_SECRET
    assert servers.get_user_token(server.id, bob.id, actor=bob).access_token == ACCESS

    # A process still configured with only the revoked key cannot start ...
    with pytest.raises(DecryptError, match="revoked"):
        ensure_active_keys(conn, Ciphers(old))
    # ... nor read what the new key sealed ...
    stale = Ciphers(old)
    with pytest.raises(DecryptError, match="not configured"):
        McpServers(store, ciphers=stale).get(server.id, actor=CHATD)
    # ... nor write with the revoked key: a typed error, nothing written.
    before = db_state()
    with pytest.raises(ForeignKeyViolation):
        McpServers(store, ciphers=stale).set_user_token(
            server.id, bob.id, access_token="new-access", actor=bob
        )
    stale.mark_revoked(old.digest)
    with pytest.raises(DecryptError, match="revoked"):
        McpServers(store, ciphers=stale).update(server.id, api_key_value="k", actor=admin)
    with pytest.raises(DecryptError, match="revoked"):
        stale.decrypt_field(old.encrypt("x"), old.digest)
    assert db_state() == before


# --- issue 8.5: no clear key next to an active key, no secret in an error ----------------------


def test_a_provider_config_without_ciphers_is_refused_next_to_an_active_key(
    store: Store[Querier],
    ciphers: Ciphers,
    admin: Subject,
    db_state: Callable[[], State],
) -> None:
    created = ProviderConfig(store, ciphers=ciphers).create("openai", api_key="sk", actor=admin)
    before = db_state()
    with pytest.raises(UnencryptedSecret) as exc:
        ProviderConfig(store).create("anthropic", api_key=PROVIDER_KEY, actor=admin)
    assert exc.value.field == "api_key"
    with pytest.raises(UnencryptedSecret):
        ProviderConfig(store).update(created.id, api_key=PROVIDER_KEY, actor=admin)
    with pytest.raises(UnencryptedSecret):
        McpServers(store).create(
            display_name="X", slug="x", url="https://x", api_key_value=MCP_API_KEY, actor=admin
        )
    assert db_state() == before


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [e.__cause__, e.__context__]


def _texts(exc: BaseException) -> Iterator[str]:
    """Everything an error shows: str, repr, args and the driver's diagnostics, whole chain."""
    for e in _chain(exc):
        yield str(e)
        yield repr(e)
        yield from (repr(a) for a in e.args)
        yield repr(vars(e)) if hasattr(e, "__dict__") else ""
        if isinstance(e, psycopg.Error):
            d = e.diag
            yield from (
                str(v)
                for v in (
                    d.message_primary,
                    d.message_detail,
                    d.message_hint,
                    d.context,
                    d.internal_query,
                )
            )
            if e.pgresult is not None:
                yield str(e.pgresult.error_message)


def _mcp_check_violation(q: Querier, f: Factories) -> None:
    q.insert_mcp_server_config(
        **mcp_values(transport="carrier-pigeon", oauth2_client_secret=CLIENT_SECRET)
    )


def _provider_check_violation(q: Querier, f: Factories) -> None:
    q.insert_chat_provider(
        provider="skynet",
        display_name="",
        api_key=PROVIDER_KEY,
        api_key_key_id=None,
        base_url="",
        enabled=True,
        created_by=None,
    )


def _token_not_null_violation(q: Querier, f: Factories) -> None:
    server = f.mcp_server_config()
    q.upsert_mcp_server_user_token(
        mcp_server_config_id=server.id,
        user_id=f.user().id,
        access_token=None,  # type: ignore[arg-type]
        access_token_key_id=None,
        refresh_token=REFRESH,
        refresh_token_key_id=None,
        token_type="Bearer",
        expiry=None,
    )


@pytest.mark.parametrize(
    ("provoke", "expected", "secret"),
    [
        (_provider_check_violation, CheckViolation, PROVIDER_KEY),
        (_mcp_check_violation, CheckViolation, CLIENT_SECRET),
        (_token_not_null_violation, NotNullViolation, REFRESH),
    ],
    ids=["provider-check", "mcp-config-check", "token-not-null"],
)
def test_a_constraint_error_on_a_secret_table_never_carries_the_secret(
    conn: psycopg.Connection[Any],
    f: Factories,
    caplog: pytest.LogCaptureFixture,
    provoke: Callable[[Querier, Factories], None],
    expected: type[ChatDBError],
    secret: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(expected) as exc:
        provoke(Querier(conn), f)
    texts = list(_texts(exc.value))
    assert any("violates" in t for t in texts)  # the error still says what went wrong
    assert [t for t in texts if secret in t] == []
    assert exc.value.table in ("chat_providers", "mcp_server_configs", "mcp_server_user_tokens")  # type: ignore[attr-defined]
    assert secret not in caplog.text


def test_errors_on_other_tables_keep_the_row_detail(conn: psycopg.Connection[Any]) -> None:
    with pytest.raises(CheckViolation) as exc:
        Querier(conn).insert_chat_model_config(
            provider="openai",
            model="gpt",
            display_name="",
            created_by=None,
            updated_by=None,
            enabled=True,
            is_default=False,
            context_limit=-5,
            compression_threshold=70,
            options={},
        )
    assert "Failing row contains" in str(exc.value)


# --- issue 8.4: the auditor reads metadata, never live credentials ------------------------------


@pytest.fixture
def auditor(f: Factories, org: db.Organization) -> Subject:
    return _person(f, org, "audrey", AUDITOR)


def _all_rows(az: AuthzQuerier, server_id: Any, bob: Subject) -> list[Any]:
    """Every row any read method of the authorized querier returns about secrets."""
    return [
        *az.get_chat_providers(),
        *az.get_enabled_chat_providers(),
        az.get_chat_provider_by_provider(provider="openai"),
        az.get_mcp_server_config_by_id(id=server_id),
        az.get_mcp_server_config_by_slug(slug="sentry"),
        *az.get_mcp_server_configs(),
        *az.get_mcp_server_configs_by_ids(ids=[server_id]),
        az.get_mcp_server_user_token(mcp_server_config_id=server_id, user_id=bob.id),
        *az.get_mcp_server_user_tokens_by_user_id(user_id=bob.id),
    ]


def _secret_values(rows: list[Any]) -> set[str]:
    names = {c.column for c in SECRET_COLUMNS}
    return {getattr(r, n) for r in rows for n in names if hasattr(r, n) and getattr(r, n) != ""}


@pytest.mark.parametrize("encrypted", [False, True], ids=["clear-legacy-rows", "encrypted-rows"])
def test_the_auditor_and_the_site_owner_read_secrets_redacted(
    store: Store[Querier],
    conn: psycopg.Connection[Any],
    admin: Subject,
    auditor: Subject,
    bob: Subject,
    encrypted: bool,
) -> None:
    keys = None
    if encrypted:
        keys = Ciphers(Cipher(generate_key()))
        ensure_active_keys(conn, keys)
    _, server, _ = write_everything(
        ProviderConfig(store, ciphers=keys), McpServers(store, ciphers=keys), admin, bob
    )
    stored = {v for _, v, _ in stored_secrets(conn)}
    for actor in (auditor, admin):
        rows = _all_rows(AuthzQuerier(Querier(conn), actor=actor), server.id, bob)
        assert _secret_values(rows) == {REDACTED}
        text = repr(rows)
        for secret in (*ALL_SECRETS, *stored):
            assert secret not in text
        # Metadata stays readable: names, URLs, which key encrypts each secret.
        servers = [r for r in rows if isinstance(r, db.McpServerConfig)]
        assert {(s.slug, s.url) for s in servers} == {("sentry", "https://mcp.sentry.example")}
        key_ids = {s.api_key_value_key_id for s in servers}
        assert key_ids == {keys.primary.digest if keys else None}
        # The workflows hand the same redacted rows back (nothing to decrypt).
        assert McpServers(store, ciphers=keys).get(server.id, actor=actor).api_key_value == (
            REDACTED
        )
        assert ProviderConfig(store, ciphers=keys).list(actor=actor)[0].api_key == REDACTED


def test_only_chatd_system_and_the_token_owner_read_secrets_in_clear(
    store: Store[Querier],
    conn: psycopg.Connection[Any],
    ciphers: Ciphers,
    admin: Subject,
    bob: Subject,
) -> None:
    _, server, _ = write_everything(
        ProviderConfig(store, ciphers=ciphers), McpServers(store, ciphers=ciphers), admin, bob
    )
    servers = McpServers(store, ciphers=ciphers)
    for actor in (CHATD, SYSTEM):
        got = servers.get(server.id, actor=actor)
        assert (got.oauth2_client_secret, got.api_key_value) == (CLIENT_SECRET, MCP_API_KEY)
        assert servers.get_user_token(server.id, bob.id, actor=actor).access_token == ACCESS
        assert ProviderConfig(store, ciphers=ciphers).list(actor=actor)[0].api_key == PROVIDER_KEY
    # Bob reads his own token in clear, not the deployment's secrets (he may not read config).
    assert servers.get_user_token(server.id, bob.id, actor=bob).refresh_token == REFRESH
    # The site owner reads bob's token redacted.
    assert servers.get_user_token(server.id, bob.id, actor=admin).access_token == REDACTED


async def test_the_async_wrapper_redacts_the_same_way(
    chatdb_dsn: str,
    store: Store[Querier],
    ciphers: Ciphers,
    admin: Subject,
    auditor: Subject,
    bob: Subject,
) -> None:
    _, server, _ = write_everything(
        ProviderConfig(store, ciphers=ciphers), McpServers(store, ciphers=ciphers), admin, bob
    )
    async with await psycopg.AsyncConnection.connect(chatdb_dsn, autocommit=True) as aconn:
        az = AsyncAuthzQuerier(AsyncQuerier(aconn), actor=auditor)
        got = await az.get_mcp_server_config_by_id(id=server.id)
        token = await az.get_mcp_server_user_token(mcp_server_config_id=server.id, user_id=bob.id)
        chatd = AsyncAuthzQuerier(AsyncQuerier(aconn), actor=CHATD)
        sealed = await chatd.get_mcp_server_config_by_id(id=server.id)
    assert (got.oauth2_client_secret, got.api_key_value, got.custom_headers) == (REDACTED,) * 3
    assert (token.access_token, token.refresh_token) == (REDACTED, REDACTED)
    assert ciphers.decrypt_field(sealed.api_key_value, sealed.api_key_value_key_id) == MCP_API_KEY


def test_the_wildcard_never_grants_reading_secrets() -> None:
    authz = Authorizer()
    everything = Subject(id=uuid4(), name="root", site_roles=(OWNER,))
    assert authz.allowed(everything, Action.READ, Object.deployment_config())
    assert not authz.allowed(everything, Action.READ, Object.secret())
    assert not authz.allowed(everything, Action.READ, Object.secret(uuid4()))
    assert not authz.allowed(everything, Action.READ, Object.secret(everything.id))
    scoped = Subject(
        id=uuid4(),
        name="scoped-chatd",
        site_roles=("system:chatd",),
        is_system=True,
        scope=Scope.restricted("read-all", [(ResourceType.WILDCARD, Action.READ)]),
    )
    assert authz.allowed(scoped, Action.READ, Object.deployment_config())
    assert not authz.allowed(scoped, Action.READ, Object.secret())
    assert authz.allowed(CHATD, Action.READ, Object.secret())
    member = Subject(id=uuid4(), name="m", site_roles=(MEMBER,))
    assert authz.allowed(member, Action.READ, Object.secret(member.id))
    assert not authz.allowed(member, Action.READ, Object.secret(uuid4()))
    assert not authz.allowed(member, Action.READ, Object.secret())


def test_a_redacted_value_is_never_written_back_as_a_secret(
    store: Store[Querier],
    ciphers: Ciphers,
    admin: Subject,
    bob: Subject,
    db_state: Callable[[], State],
) -> None:
    _, server, _ = write_everything(
        ProviderConfig(store, ciphers=ciphers), McpServers(store, ciphers=ciphers), admin, bob
    )
    seen = McpServers(store, ciphers=ciphers).get(server.id, actor=admin)
    before = db_state()
    with pytest.raises(InvalidInput) as exc:
        McpServers(store, ciphers=ciphers).update(
            server.id, api_key_value=seen.api_key_value, actor=admin
        )
    assert exc.value.field == "api_key_value"
    assert db_state() == before


def test_a_clear_write_racing_key_rotation_never_survives_it(
    chatdb_dsn: str, conn: psycopg.Connection[Any], f: Factories
) -> None:
    """A writer that stored a clear token before the first key existed, still uncommitted while
    rotation registers a key and encrypts: rotation must wait for it (the refusing trigger locks
    dbcrypt_keys in SHARE mode), so no clear secret is left next to the new key. Without that
    lock rotation scans past the uncommitted row and it commits in clear."""
    server, user = f.mcp_server_config(slug="race", custom_headers=""), f.user()
    for _ in range(5):
        keys = Ciphers(Cipher(generate_key()))
        done: list[object] = []

        def rotate_now(keys: Ciphers = keys, done: list[object] = done) -> None:
            with psycopg.connect(chatdb_dsn, autocommit=True) as own:
                done.append(rotate(own, keys))

        with psycopg.connect(chatdb_dsn) as writer:  # a transaction left open
            writer.execute(
                "INSERT INTO mcp_server_user_tokens (mcp_server_config_id, user_id, access_token)"
                " VALUES (%s, %s, %s)",
                (server.id, user.id, ACCESS),
            )
            rotation = threading.Thread(target=rotate_now)
            rotation.start()
            deadline = time.monotonic() + 10
            while not done and time.monotonic() < deadline:  # blocked on a lock, or finished
                waiting = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                ).fetchone()
                if waiting is not None and waiting[0] > 0:
                    break
                time.sleep(0.005)
            writer.commit()
        rotation.join(timeout=10)
        assert not rotation.is_alive() and len(done) == 1
        left = conn.execute(
            "SELECT count(*) FROM mcp_server_user_tokens"
            " WHERE access_token_key_id IS NULL AND access_token <> ''"
        ).fetchone()
        assert left == (0,)
        # Back to "no active key" for the next round.
        conn.execute("DELETE FROM mcp_server_user_tokens")
        revoke(conn, keys.primary.digest)
