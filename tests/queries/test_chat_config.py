"""SQL-level behaviour of the admin configuration queries (SPEC 4.7): providers, model configs,
MCP servers and per-user MCP tokens, through the generated querier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from chatdb.db import ChatModelConfig, McpServerConfig, Querier
from chatdb.errors import CheckViolation, ForeignKeyViolation, NotFound, UniqueViolation
from chatdb.testing.factories import Factories

OLD = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def q(chatdb_conn: psycopg.Connection[Any]) -> Querier:
    return Querier(chatdb_conn)


@pytest.fixture
def f(chatdb_conn: psycopg.Connection[Any]) -> Factories:
    return Factories(chatdb_conn)


def add_dbcrypt_key(conn: psycopg.Connection[Any], digest: str) -> str:
    """A dbcrypt_keys row, so `<secret>_key_id` columns can reference ``digest``."""
    number = conn.execute("SELECT coalesce(max(number), 0) + 1 FROM dbcrypt_keys").fetchone()
    assert number is not None
    conn.execute(
        "INSERT INTO dbcrypt_keys (number, active_key_digest, test) VALUES (%s, %s, 'x')",
        (number[0], digest),
    )
    return digest


def just_now(ts: datetime) -> bool:
    return abs(datetime.now(UTC) - ts) < timedelta(minutes=1)


# ---- chat_providers ----------------------------------------------------------------------


def insert_provider(q: Querier, provider: str = "anthropic", **kw: Any) -> Any:
    values: dict[str, Any] = {
        "provider": provider,
        "display_name": provider.title(),
        "api_key": "sk-secret",
        "api_key_key_id": None,
        "base_url": "",
        "enabled": True,
        "created_by": None,
    }
    values.update(kw)
    return q.insert_chat_provider(**values)


def test_inserted_provider_keeps_the_secret_and_key_id_as_given(
    q: Querier, f: Factories, chatdb_conn: psycopg.Connection[Any]
) -> None:
    digest = add_dbcrypt_key(chatdb_conn, "abc1234")
    admin = f.user()
    p = insert_provider(
        q, api_key="ciphertext==", api_key_key_id=digest, base_url="https://x", created_by=admin.id
    )
    assert (p.api_key, p.api_key_key_id, p.base_url, p.created_by) == (
        "ciphertext==",
        digest,
        "https://x",
        admin.id,
    )
    assert q.get_chat_provider_by_id(id=p.id) == p
    assert q.get_chat_provider_by_provider(provider="anthropic") == p


def test_provider_key_id_must_name_a_known_dbcrypt_key(q: Querier) -> None:
    with pytest.raises(ForeignKeyViolation) as err:
        insert_provider(q, api_key_key_id="nokey00")
    assert err.value.constraint == "chat_providers_api_key_key_id_fkey"


def test_one_row_per_provider_kind(q: Querier) -> None:
    insert_provider(q, "openai")
    with pytest.raises(UniqueViolation) as err:
        insert_provider(q, "openai")
    assert err.value.constraint == "chat_providers_provider_key"


def test_unknown_provider_kind_is_refused(q: Querier) -> None:
    with pytest.raises(CheckViolation) as err:
        insert_provider(q, "acme")
    assert err.value.constraint == "chat_providers_provider_check"


def test_missing_provider_is_not_found(q: Querier) -> None:
    with pytest.raises(NotFound):
        q.get_chat_provider_by_id(id=uuid4())
    with pytest.raises(NotFound):
        q.get_chat_provider_by_provider(provider="google")


def test_providers_list_by_kind_and_enabled_list_skips_disabled(q: Querier) -> None:
    insert_provider(q, "openai")
    insert_provider(q, "anthropic", enabled=False)
    insert_provider(q, "google")
    assert [p.provider for p in q.get_chat_providers()] == ["anthropic", "google", "openai"]
    assert [p.provider for p in q.get_enabled_chat_providers()] == ["google", "openai"]


def test_update_provider_replaces_fields_and_bumps_updated_at(q: Querier, f: Factories) -> None:
    old = f.chat_provider(
        provider="openai", api_key="k1", updated_at=OLD, created_at=OLD, base_url="https://a"
    )
    new = q.update_chat_provider(
        id=old.id,
        display_name="OpenAI EU",
        api_key="",
        api_key_key_id=None,
        base_url="https://b",
        enabled=False,
    )
    assert (new.provider, new.display_name, new.api_key, new.base_url, new.enabled) == (
        "openai",
        "OpenAI EU",
        "",
        "https://b",
        False,
    )
    assert new.created_at == OLD
    assert new.updated_at > OLD and just_now(new.updated_at)


def test_update_of_a_missing_provider_is_not_found(q: Querier) -> None:
    with pytest.raises(NotFound):
        q.update_chat_provider(
            id=uuid4(), display_name="", api_key="", api_key_key_id=None, base_url="", enabled=True
        )


def test_deleted_provider_is_gone(q: Querier) -> None:
    p = insert_provider(q)
    keep = insert_provider(q, "openai")
    q.delete_chat_provider_by_id(id=p.id)
    with pytest.raises(NotFound):
        q.get_chat_provider_by_id(id=p.id)
    assert q.get_chat_providers() == [keep]


# ---- chat_model_configs ------------------------------------------------------------------


def insert_model(q: Querier, model: str = "gpt-5", **kw: Any) -> ChatModelConfig:
    values: dict[str, Any] = {
        "provider": "openai",
        "model": model,
        "display_name": model.upper(),
        "created_by": None,
        "updated_by": None,
        "enabled": True,
        "is_default": False,
        "context_limit": 100_000,
        "compression_threshold": 70,
        "options": {},
    }
    values.update(kw)
    try:  # a model config belongs to a configured provider (chat_model_configs_provider_fkey)
        q.get_chat_provider_by_provider(provider=values["provider"])
    except NotFound:
        q.insert_chat_provider(
            provider=values["provider"],
            display_name="",
            api_key="",
            api_key_key_id=None,
            created_by=None,
            enabled=True,
            base_url="",
        )
    return q.insert_chat_model_config(**values)


def update_model(q: Querier, m: ChatModelConfig, **kw: Any) -> ChatModelConfig:
    values: dict[str, Any] = {
        "id": m.id,
        "provider": m.provider,
        "model": m.model,
        "display_name": m.display_name,
        "updated_by": m.updated_by,
        "enabled": m.enabled,
        "is_default": m.is_default,
        "context_limit": m.context_limit,
        "compression_threshold": m.compression_threshold,
        "options": m.options,
    }
    values.update(kw)
    return q.update_chat_model_config(**values)


def test_inserted_model_config_round_trips_options(q: Querier) -> None:
    options = {"cost": {"input_price_per_million_tokens": "3"}, "temperature": 0.2}
    m = insert_model(q, options=options, context_limit=8192, compression_threshold=0)
    got = q.get_chat_model_config_by_id(id=m.id)
    assert got == m
    assert (got.options, got.context_limit, got.compression_threshold) == (options, 8192, 0)
    assert not got.deleted and got.deleted_at is None


def test_model_config_limits_are_checked(q: Querier) -> None:
    with pytest.raises(CheckViolation) as err:
        insert_model(q, compression_threshold=101)
    assert err.value.constraint == "chat_model_configs_compression_threshold_check"
    with pytest.raises(CheckViolation) as err:
        insert_model(q, context_limit=0)
    assert err.value.constraint == "chat_model_configs_context_limit_check"


def test_deleting_a_model_config_is_a_soft_delete(
    q: Querier, chatdb_conn: psycopg.Connection[Any]
) -> None:
    m = insert_model(q)
    q.delete_chat_model_config_by_id(id=m.id)
    with pytest.raises(NotFound):
        q.get_chat_model_config_by_id(id=m.id)
    row = chatdb_conn.execute(
        "SELECT deleted, deleted_at FROM chat_model_configs WHERE id = %s", (m.id,)
    ).fetchone()
    assert row is not None
    deleted, deleted_at = row
    assert deleted and deleted_at is not None and just_now(deleted_at)


def test_deleting_twice_keeps_the_first_deleted_at(
    q: Querier, f: Factories, chatdb_conn: psycopg.Connection[Any]
) -> None:
    m = f.chat_model_config(deleted=True, deleted_at=OLD)
    q.delete_chat_model_config_by_id(id=m.id)
    row = chatdb_conn.execute(
        "SELECT deleted_at FROM chat_model_configs WHERE id = %s", (m.id,)
    ).fetchone()
    assert row == (OLD,)


def test_a_deleted_model_keeps_chats_pointing_at_it(
    q: Querier, f: Factories, chatdb_conn: psycopg.Connection[Any]
) -> None:
    chat = f.chat()
    q.delete_chat_model_config_by_id(id=chat.last_model_config_id)  # no FK error: soft delete
    row = chatdb_conn.execute(
        "SELECT m.deleted FROM chats AS c JOIN chat_model_configs AS m"
        " ON m.id = c.last_model_config_id WHERE c.id = %s",
        (chat.id,),
    ).fetchone()
    assert row == (True,)


def test_model_config_list_skips_deleted_and_sorts_by_provider_then_model(
    q: Querier, f: Factories
) -> None:
    b = f.chat_model_config(provider="openai", model="b")
    a = f.chat_model_config(provider="openai", model="a")
    c = f.chat_model_config(provider="anthropic", model="z")
    f.chat_model_config(provider="anthropic", model="deleted", deleted=True)
    assert [m.id for m in q.get_chat_model_configs()] == [c.id, a.id, b.id]


def test_enabled_models_need_an_enabled_provider_and_a_live_enabled_config(
    q: Querier, f: Factories
) -> None:
    f.chat_provider(provider="openai", enabled=True)
    f.chat_provider(provider="anthropic", enabled=False)
    usable = f.chat_model_config(provider="openai", model="a")
    f.chat_model_config(provider="openai", model="off", enabled=False)
    f.chat_model_config(provider="openai", model="gone", deleted=True)
    f.chat_model_config(provider="anthropic", model="provider-off")
    assert [m.id for m in q.get_enabled_chat_model_configs()] == [usable.id]


def test_default_model_is_the_live_default(q: Querier, f: Factories) -> None:
    with pytest.raises(NotFound):
        q.get_default_chat_model_config()
    f.chat_model_config(is_default=True, deleted=True)
    with pytest.raises(NotFound):
        q.get_default_chat_model_config()
    live = f.chat_model_config(is_default=True)
    f.chat_model_config()
    assert q.get_default_chat_model_config().id == live.id


def test_at_most_one_live_default_until_unset(q: Querier) -> None:
    first = insert_model(q, "a", is_default=True)
    with pytest.raises(UniqueViolation) as err:
        insert_model(q, "b", is_default=True)
    assert err.value.constraint == "chat_model_configs_single_default"
    q.unset_default_chat_model_configs()
    assert not q.get_chat_model_config_by_id(id=first.id).is_default
    second = insert_model(q, "b", is_default=True)
    assert q.get_default_chat_model_config().id == second.id


def test_unset_default_leaves_other_configs_untouched(q: Querier, f: Factories) -> None:
    default = f.chat_model_config(is_default=True, updated_at=OLD)
    other = f.chat_model_config(updated_at=OLD)
    q.unset_default_chat_model_configs()
    assert just_now(q.get_chat_model_config_by_id(id=default.id).updated_at)
    assert q.get_chat_model_config_by_id(id=other.id).updated_at == OLD


def test_update_model_config_replaces_fields_and_bumps_updated_at(q: Querier, f: Factories) -> None:
    editor = f.user()
    m = f.chat_model_config(updated_at=OLD, created_at=OLD, options={"a": 1})
    new = update_model(
        q,
        m,
        display_name="Renamed",
        enabled=False,
        context_limit=1234,
        compression_threshold=55,
        options={"b": 2},
        updated_by=editor.id,
    )
    assert (new.display_name, new.enabled, new.context_limit, new.compression_threshold) == (
        "Renamed",
        False,
        1234,
        55,
    )
    assert (new.options, new.updated_by, new.created_at) == ({"b": 2}, editor.id, OLD)
    assert new.updated_at > OLD and just_now(new.updated_at)


def test_a_deleted_model_config_cannot_be_updated(q: Querier, f: Factories) -> None:
    m = f.chat_model_config(deleted=True, display_name="old")
    with pytest.raises(NotFound):
        update_model(q, m, display_name="new")


PRICING_CASES: list[tuple[dict[str, Any], bool]] = [
    ({}, True),
    ({"cost": None}, True),
    ({"cost": {}}, True),
    ({"cost": "3"}, True),
    ({"cost": {"input_price_per_million_tokens": "abc"}}, True),
    ({"cost": {"input_price_per_million_tokens": -1}}, True),
    ({"cost": {"input_price_per_million_tokens": None}}, True),
    ({"cost": {"unknown_price": "1"}}, True),
    ({"cost": {"input_price_per_million_tokens": "3"}}, False),
    ({"cost": {"output_price_per_million_tokens": 0}}, False),
    ({"cost": {"cache_read_price_per_million_tokens": " 0.30 "}}, False),
    ({"cost": {"cache_write_price_per_million_tokens": 3.75}}, False),
]


def test_models_without_pricing_are_those_with_no_usable_price(q: Querier, f: Factories) -> None:
    expected = 0
    for options, unpriced in PRICING_CASES:
        f.chat_model_config(options=options)
        expected += int(unpriced)
        assert q.count_enabled_models_without_pricing().count == expected, options


def test_models_without_pricing_counts_only_enabled_live_configs(q: Querier, f: Factories) -> None:
    f.chat_model_config()
    f.chat_model_config()
    f.chat_model_config(enabled=False)
    f.chat_model_config(deleted=True)
    f.chat_model_config(options={"cost": {"input_price_per_million_tokens": "1"}})
    assert q.count_enabled_models_without_pricing().count == 2


# ---- mcp_server_configs ------------------------------------------------------------------


def mcp_values(slug: str = "sentry", **kw: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "display_name": slug.title(),
        "slug": slug,
        "description": "errors",
        "icon_url": "https://icons/x.svg",
        "transport": "streamable_http",
        "url": f"https://{slug}.example.com/mcp",
        "auth_type": "oauth2",
        "oauth2_client_id": "client",
        "oauth2_client_secret": "client-secret",
        "oauth2_client_secret_key_id": None,
        "oauth2_auth_url": "https://auth",
        "oauth2_token_url": "https://token",
        "oauth2_scopes": "read write",
        "api_key_header": "X-Api-Key",
        "api_key_value": "api-secret",
        "api_key_value_key_id": None,
        "custom_headers": '{"X-A": "b"}',
        "custom_headers_key_id": None,
        "tool_allow_list": ["search"],
        "tool_deny_list": ["delete"],
        "availability": "default_on",
        "enabled": True,
        "model_intent": True,
        "allow_in_plan_mode": True,
        "created_by": None,
    }
    values.update(kw)
    return values


def test_inserted_mcp_server_stores_every_field_and_secret_key_ids(
    q: Querier, f: Factories, chatdb_conn: psycopg.Connection[Any]
) -> None:
    k1 = add_dbcrypt_key(chatdb_conn, "key0001")
    k2 = add_dbcrypt_key(chatdb_conn, "key0002")
    admin = f.user()
    values = mcp_values(
        oauth2_client_secret_key_id=k1,
        api_key_value_key_id=k2,
        custom_headers_key_id=k1,
        created_by=admin.id,
    )
    s = q.insert_mcp_server_config(**values)
    for name, value in values.items():
        if name != "created_by":
            assert getattr(s, name) == value, name
    assert (s.created_by, s.updated_by) == (admin.id, admin.id)
    assert q.get_mcp_server_config_by_id(id=s.id) == s
    assert q.get_mcp_server_config_by_slug(slug="sentry") == s


def test_mcp_server_enumerations_are_checked(q: Querier) -> None:
    for field, value, constraint in [
        ("transport", "websocket", "mcp_server_configs_transport_check"),
        ("auth_type", "basic", "mcp_server_configs_auth_type_check"),
        ("availability", "always", "mcp_server_configs_availability_check"),
    ]:
        with pytest.raises(CheckViolation) as err:
            q.insert_mcp_server_config(**mcp_values(**{field: value}))
        assert err.value.constraint == constraint


def test_mcp_server_slugs_are_unique(q: Querier) -> None:
    q.insert_mcp_server_config(**mcp_values("linear"))
    with pytest.raises(UniqueViolation) as err:
        q.insert_mcp_server_config(**mcp_values("linear", display_name="Other"))
    assert err.value.constraint == "mcp_server_configs_slug_key"


def test_missing_mcp_server_is_not_found(q: Querier) -> None:
    with pytest.raises(NotFound):
        q.get_mcp_server_config_by_id(id=uuid4())
    with pytest.raises(NotFound):
        q.get_mcp_server_config_by_slug(slug="nope")


def test_mcp_server_lists_filter_enabled_forced_and_by_ids(q: Querier, f: Factories) -> None:
    c = f.mcp_server_config(display_name="C", enabled=True, availability="force_on")
    a = f.mcp_server_config(display_name="A", enabled=True, availability="default_off")
    b = f.mcp_server_config(display_name="B", enabled=False, availability="force_on")
    d = f.mcp_server_config(display_name="D", enabled=True, availability="default_on")
    assert [s.id for s in q.get_mcp_server_configs()] == [a.id, b.id, c.id, d.id]
    assert [s.id for s in q.get_enabled_mcp_server_configs()] == [a.id, c.id, d.id]
    assert [s.id for s in q.get_forced_mcp_server_configs()] == [c.id]
    by_ids = q.get_mcp_server_configs_by_ids(ids=[d.id, uuid4(), b.id])
    assert [s.id for s in by_ids] == [b.id, d.id]


def test_update_mcp_server_replaces_every_field_and_bumps_updated_at(
    q: Querier, f: Factories
) -> None:
    editor = f.user()
    old = f.mcp_server_config(updated_at=OLD, created_at=OLD)
    values = mcp_values("renamed", auth_type="api_key", enabled=False, tool_allow_list=[])
    del values["created_by"]
    new = q.update_mcp_server_config(id=old.id, updated_by=editor.id, **values)
    for name, value in values.items():
        assert getattr(new, name) == value, name
    assert (new.updated_by, new.created_at) == (editor.id, OLD)
    assert new.updated_at > OLD and just_now(new.updated_at)


def test_deleting_an_mcp_server_removes_its_user_tokens(
    q: Querier, f: Factories, chatdb_conn: psycopg.Connection[Any]
) -> None:
    s = f.mcp_server_config()
    user = f.user()
    upsert_token(q, s, user.id)
    q.delete_mcp_server_config_by_id(id=s.id)
    with pytest.raises(NotFound):
        q.get_mcp_server_config_by_id(id=s.id)
    assert q.get_mcp_server_user_tokens_by_user_id(user_id=user.id) == []


# ---- mcp_server_user_tokens --------------------------------------------------------------


def upsert_token(q: Querier, server: McpServerConfig, user_id: UUID, **kw: Any) -> Any:
    values: dict[str, Any] = {
        "mcp_server_config_id": server.id,
        "user_id": user_id,
        "access_token": "access",
        "access_token_key_id": None,
        "refresh_token": "refresh",
        "refresh_token_key_id": None,
        "token_type": "Bearer",
        "expiry": None,
    }
    values.update(kw)
    return q.upsert_mcp_server_user_token(**values)


def test_upserting_a_token_twice_replaces_it_in_place(
    q: Querier, f: Factories, chatdb_conn: psycopg.Connection[Any]
) -> None:
    s = f.mcp_server_config()
    user = f.user()
    first = upsert_token(q, s, user.id)  # clear: written before the first key
    digest = add_dbcrypt_key(chatdb_conn, "tok0001")
    expiry = datetime(2030, 1, 1, tzinfo=UTC)
    second = upsert_token(
        q,
        s,
        user.id,
        access_token="enc-access",
        access_token_key_id=digest,
        refresh_token="",
        token_type="DPoP",
        expiry=expiry,
    )
    assert second.id == first.id and second.created_at == first.created_at
    assert second.updated_at > first.updated_at
    assert (second.access_token, second.access_token_key_id, second.refresh_token) == (
        "enc-access",
        digest,
        "",
    )
    assert (second.token_type, second.expiry) == ("DPoP", expiry)
    got = q.get_mcp_server_user_token(mcp_server_config_id=s.id, user_id=user.id)
    assert got == second


def test_user_tokens_are_per_user(q: Querier, f: Factories) -> None:
    s1, s2 = f.mcp_server_config(), f.mcp_server_config()
    alice, bob = f.user(), f.user()
    a1 = upsert_token(q, s1, alice.id)
    a2 = upsert_token(q, s2, alice.id)
    upsert_token(q, s1, bob.id)
    assert q.get_mcp_server_user_tokens_by_user_id(user_id=alice.id) == [a1, a2]
    with pytest.raises(NotFound):
        q.get_mcp_server_user_token(mcp_server_config_id=s2.id, user_id=bob.id)


def test_deleting_a_user_token_touches_only_that_server_and_user(q: Querier, f: Factories) -> None:
    s1, s2 = f.mcp_server_config(), f.mcp_server_config()
    alice, bob = f.user(), f.user()
    upsert_token(q, s1, alice.id)
    a2 = upsert_token(q, s2, alice.id)
    b1 = upsert_token(q, s1, bob.id)
    q.delete_mcp_server_user_token(mcp_server_config_id=s1.id, user_id=alice.id)
    q.delete_mcp_server_user_token(mcp_server_config_id=s1.id, user_id=alice.id)  # idempotent
    assert q.get_mcp_server_user_tokens_by_user_id(user_id=alice.id) == [a2]
    assert q.get_mcp_server_user_tokens_by_user_id(user_id=bob.id) == [b1]


# ---- CleanupDeletedMCPServerIDsFromChats -------------------------------------------------


def test_cleanup_drops_dangling_server_ids_keeping_order_and_updated_at(
    q: Querier, f: Factories, chatdb_conn: psycopg.Connection[Any]
) -> None:
    a, b = f.mcp_server_config(), f.mcp_server_config()
    gone = uuid4()
    dirty = f.chat(mcp_server_ids=[b.id, gone, a.id, uuid4()], updated_at=OLD)
    only_gone = f.chat(mcp_server_ids=[gone], updated_at=OLD)
    clean = f.chat(mcp_server_ids=[a.id, b.id], updated_at=OLD)
    untouched_xmin = chatdb_conn.execute(
        "SELECT xmin::text FROM chats WHERE id = %s", (clean.id,)
    ).fetchone()

    q.cleanup_deleted_mcp_server_ids_from_chats()

    rows = {
        r[0]: (r[1], r[2])
        for r in chatdb_conn.execute("SELECT id, mcp_server_ids, updated_at FROM chats")
    }
    assert rows[dirty.id] == ([b.id, a.id], OLD)
    assert rows[only_gone.id] == ([], OLD)
    assert rows[clean.id] == ([a.id, b.id], OLD)
    # a chat without dangling ids is not rewritten at all
    assert (
        chatdb_conn.execute("SELECT xmin::text FROM chats WHERE id = %s", (clean.id,)).fetchone()
        == untouched_xmin
    )
