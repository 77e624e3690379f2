"""SQL-level behaviour of per-user (user_configs) and site-wide (site_configs) chat settings
(SPEC 4.9), through the generated querier."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from chatdb.db import Querier
from chatdb.errors import NotFound
from chatdb.testing.factories import Factories


@pytest.fixture
def q(chatdb_conn: psycopg.Connection[Any]) -> Querier:
    return Querier(chatdb_conn)


@pytest.fixture
def f(chatdb_conn: psycopg.Connection[Any]) -> Factories:
    return Factories(chatdb_conn)


def stored(conn: psycopg.Connection[Any], table: str, key: str) -> list[str]:
    query = {
        "site_configs": "SELECT value FROM site_configs WHERE key = %s",
        "user_configs": "SELECT value FROM user_configs WHERE key = %s",
    }[table]
    return [row[0] for row in conn.execute(query, (key,))]


# ---- per-user compaction thresholds ------------------------------------------------------


def test_compaction_threshold_round_trip_under_its_documented_key(
    q: Querier, f: Factories, chatdb_conn: psycopg.Connection[Any]
) -> None:
    user, model = f.user(), f.chat_model_config()
    with pytest.raises(NotFound):
        q.get_user_chat_compaction_threshold(user_id=user.id, model_config_id=model.id)
    row = q.update_user_chat_compaction_threshold(
        user_id=user.id, model_config_id=model.id, threshold_percent=65
    )
    assert (row.model_config_id, row.threshold_percent) == (model.id, 65)
    got = q.get_user_chat_compaction_threshold(user_id=user.id, model_config_id=model.id)
    assert got.threshold_percent == 65
    assert stored(chatdb_conn, "user_configs", f"chat_compaction_threshold:{model.id}") == ["65"]


def test_compaction_threshold_update_replaces_the_previous_value(q: Querier, f: Factories) -> None:
    user, model = f.user(), f.chat_model_config()
    for value in (0, 100):
        q.update_user_chat_compaction_threshold(
            user_id=user.id, model_config_id=model.id, threshold_percent=value
        )
    rows = q.list_user_chat_compaction_thresholds(user_id=user.id)
    assert [(r.model_config_id, r.threshold_percent) for r in rows] == [(model.id, 100)]


def test_compaction_threshold_needs_a_live_enabled_model(q: Querier, f: Factories) -> None:
    user = f.user()
    for model_id in (
        f.chat_model_config(enabled=False).id,
        f.chat_model_config(deleted=True).id,
        uuid4(),
    ):
        with pytest.raises(NotFound):
            q.update_user_chat_compaction_threshold(
                user_id=user.id, model_config_id=model_id, threshold_percent=50
            )
    assert q.list_user_chat_compaction_thresholds(user_id=user.id) == []


def test_compaction_thresholds_are_listed_per_user_and_skip_other_settings(
    q: Querier, f: Factories
) -> None:
    alice, bob = f.user(), f.user()
    models = sorted((f.chat_model_config().id for _ in range(3)), key=str)
    for i, model_id in enumerate(reversed(models)):
        q.update_user_chat_compaction_threshold(
            user_id=alice.id, model_config_id=model_id, threshold_percent=10 * i
        )
    q.update_user_chat_compaction_threshold(
        user_id=bob.id, model_config_id=models[0], threshold_percent=99
    )
    q.update_user_chat_custom_prompt(user_id=alice.id, chat_custom_prompt="be brief")
    rows = q.list_user_chat_compaction_thresholds(user_id=alice.id)
    assert [(r.model_config_id, r.threshold_percent) for r in rows] == [
        (models[0], 20),
        (models[1], 10),
        (models[2], 0),
    ]


def test_deleting_a_compaction_threshold_is_scoped_and_idempotent(q: Querier, f: Factories) -> None:
    alice, bob = f.user(), f.user()
    m1, m2 = f.chat_model_config(), f.chat_model_config()
    for user_id, model_id in ((alice.id, m1.id), (alice.id, m2.id), (bob.id, m1.id)):
        q.update_user_chat_compaction_threshold(
            user_id=user_id, model_config_id=model_id, threshold_percent=40
        )
    q.delete_user_chat_compaction_threshold(user_id=alice.id, model_config_id=m1.id)
    q.delete_user_chat_compaction_threshold(user_id=alice.id, model_config_id=m1.id)
    alice_rows = q.list_user_chat_compaction_thresholds(user_id=alice.id)
    assert [r.model_config_id for r in alice_rows] == [m2.id]
    assert q.get_user_chat_compaction_threshold(user_id=bob.id, model_config_id=m1.id)


# ---- per-user custom prompt --------------------------------------------------------------


def test_custom_prompt_is_empty_until_set_then_replaced(q: Querier, f: Factories) -> None:
    alice, bob = f.user(), f.user()
    assert q.get_user_chat_custom_prompt(user_id=alice.id).chat_custom_prompt == ""
    q.update_user_chat_custom_prompt(user_id=alice.id, chat_custom_prompt="Answer in French.")
    row = q.update_user_chat_custom_prompt(user_id=alice.id, chat_custom_prompt="In German.")
    assert row.chat_custom_prompt == "In German."
    assert q.get_user_chat_custom_prompt(user_id=alice.id).chat_custom_prompt == "In German."
    assert q.get_user_chat_custom_prompt(user_id=bob.id).chat_custom_prompt == ""


# ---- site settings -----------------------------------------------------------------------


def test_site_settings_have_their_documented_defaults(q: Querier) -> None:
    assert q.get_chat_system_prompt().chat_system_prompt == ""
    assert q.get_chat_include_default_system_prompt().include_default_system_prompt is True
    assert q.get_chat_desktop_enabled().desktop_enabled is False
    assert q.get_chat_template_allowlist().template_ids == []
    assert q.get_chat_workspace_ttl().workspace_ttl == timedelta(0)
    assert q.get_chat_retention_days().retention_days == 30


def test_site_settings_read_back_what_was_upserted(
    q: Querier, chatdb_conn: psycopg.Connection[Any]
) -> None:
    q.upsert_chat_system_prompt(chat_system_prompt="first")
    q.upsert_chat_system_prompt(chat_system_prompt="You are helpful.")
    q.upsert_chat_include_default_system_prompt(include_default_system_prompt=False)
    q.upsert_chat_desktop_enabled(desktop_enabled=True)
    q.upsert_chat_workspace_ttl(workspace_ttl=timedelta(days=1, hours=2, minutes=30))
    q.upsert_chat_retention_days(retention_days=0)

    assert q.get_chat_system_prompt().chat_system_prompt == "You are helpful."
    assert q.get_chat_include_default_system_prompt().include_default_system_prompt is False
    assert q.get_chat_desktop_enabled().desktop_enabled is True
    ttl = q.get_chat_workspace_ttl().workspace_ttl
    assert ttl == timedelta(days=1, hours=2, minutes=30)
    assert q.get_chat_retention_days().retention_days == 0
    assert stored(chatdb_conn, "site_configs", "agents_chat_system_prompt") == ["You are helpful."]


def test_boolean_site_settings_can_be_switched_back(q: Querier) -> None:
    q.upsert_chat_include_default_system_prompt(include_default_system_prompt=False)
    q.upsert_chat_include_default_system_prompt(include_default_system_prompt=True)
    assert q.get_chat_include_default_system_prompt().include_default_system_prompt is True
    q.upsert_chat_desktop_enabled(desktop_enabled=True)
    q.upsert_chat_desktop_enabled(desktop_enabled=False)
    assert q.get_chat_desktop_enabled().desktop_enabled is False


def test_template_allowlist_is_stored_as_a_json_list_in_order(
    q: Querier, chatdb_conn: psycopg.Connection[Any]
) -> None:
    ids = [uuid4(), uuid4(), uuid4()]
    q.upsert_chat_template_allowlist(template_ids=ids)
    assert q.get_chat_template_allowlist().template_ids == ids
    assert stored(chatdb_conn, "site_configs", "agents_template_allowlist") == [
        "[" + ", ".join(f'"{i}"' for i in ids) + "]"
    ]
    q.upsert_chat_template_allowlist(template_ids=[])
    assert q.get_chat_template_allowlist().template_ids == []
