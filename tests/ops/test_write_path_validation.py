"""Validation on the write path (seeds: compaction thresholds 0..100, a list that skips a
malformed row, last_injected_context stripped of internal fields at write time, a skill's
custom meta-file name kept): enforced where the value is written, so every path through the
authorized querier gets it, and a refusal writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from chatdb import db
from chatdb.authz import CHAT_ACCESS, CHATD, MEMBER, Subject
from chatdb.authz.wrapper import AuthzQuerier
from chatdb.content import SkillPart, parse_content, strip_internal
from chatdb.db import ChatMessageRole, ChatMessageVisibility, Querier
from chatdb.errors import CheckViolation, NotFound
from chatdb.migrate import Migrator, default_migrations_dir, load_migrations
from chatdb.ops import Chats
from chatdb.store import Store
from chatdb.testing.factories import Factories
from tests.ops.conftest import person

State = dict[str, object]
KEY = "chat_compaction_threshold:"


# ---- compaction thresholds ---------------------------------------------------------------


@pytest.fixture
def carol(f: Factories, org: db.Organization) -> Subject:
    """A member with chat access: may edit her own personal settings."""
    return person(f, org, "carol", MEMBER, CHAT_ACCESS)


@pytest.mark.parametrize("percent", [150, 101, -7, -1])
def test_a_threshold_outside_0_to_100_is_refused_where_it_is_written(
    store: Store[Querier],
    carol: Subject,
    model: db.ChatModelConfig,
    db_state: Callable[[], State],
    percent: int,
) -> None:
    before = db_state()
    with store.querier() as plain, pytest.raises(CheckViolation) as caught:
        AuthzQuerier(plain, actor=carol).update_user_chat_compaction_threshold(
            user_id=carol.id, model_config_id=model.id, threshold_percent=percent
        )
    assert caught.value.constraint == "user_configs_chat_compaction_threshold_check"
    assert db_state() == before


@pytest.mark.parametrize("percent", [0, 100])
def test_the_bounds_of_the_threshold_are_accepted(
    store: Store[Querier], carol: Subject, model: db.ChatModelConfig, percent: int
) -> None:
    with store.querier() as plain:
        az = AuthzQuerier(plain, actor=carol)
        az.update_user_chat_compaction_threshold(
            user_id=carol.id, model_config_id=model.id, threshold_percent=percent
        )
        got = az.get_user_chat_compaction_threshold(user_id=carol.id, model_config_id=model.id)
    assert got.threshold_percent == percent


def test_listing_thresholds_skips_a_malformed_row_instead_of_failing(
    store: Store[Querier], f: Factories, carol: Subject, model: db.ChatModelConfig
) -> None:
    f.user_config(user_id=carol.id, key=KEY + "not-a-uuid", value="50")
    with store.querier() as plain:
        az = AuthzQuerier(plain, actor=carol)
        az.update_user_chat_compaction_threshold(
            user_id=carol.id, model_config_id=model.id, threshold_percent=70
        )
        rows = az.list_user_chat_compaction_thresholds(user_id=carol.id)
    assert [(r.model_config_id, r.threshold_percent) for r in rows] == [(model.id, 70)]


def test_rows_stored_before_the_check_stay_and_are_skipped_when_listing(
    chatdb_empty_dsn: str,
) -> None:
    """Migrate to just before the check, store out-of-range and non-numeric overrides as the
    old schema allowed, migrate on: the migration keeps them, the list and the getter skip
    them, and the good one is still listed."""
    check = next(
        m.version
        for m in load_migrations(default_migrations_dir())
        if m.name.endswith("chat_compaction_threshold_check")
    )
    migrator = Migrator(chatdb_empty_dsn)
    migrator.up(target=check - 1)
    with psycopg.connect(chatdb_empty_dsn, autocommit=True) as conn:
        f = Factories(conn)
        org = f.organization()
        user = f.user(organization_id=org.id)
        good, too_big, words = (f.chat_model_config() for _ in range(3))
        for model_id, value in ((good.id, "40"), (too_big.id, "150"), (words.id, "lots")):
            f.user_config(user_id=user.id, key=f"{KEY}{model_id}", value=value)
        migrator.up()
        me = Subject(id=user.id, name="u", site_roles=(MEMBER,), memberships={org.id})
        az = AuthzQuerier(Querier(conn), actor=me)
        rows = az.list_user_chat_compaction_thresholds(user_id=user.id)
        assert [(r.model_config_id, r.threshold_percent) for r in rows] == [(good.id, 40)]
        count = conn.execute("SELECT count(*) FROM user_configs").fetchone()
        assert count == (3,)
        for malformed in (too_big, words):
            with pytest.raises(NotFound):
                az.get_user_chat_compaction_threshold(user_id=user.id, model_config_id=malformed.id)


# ---- last_injected_context and skill parts -----------------------------------------------


INJECTED = [
    {
        "type": "context-file",
        "path": "/home/coder/AGENTS.md",
        "truncated": False,
        "content": "# secret-ish instructions",
        "os": "linux",
        "directory": "/home/coder",
    },
    {
        "type": "skill",
        "name": "deploy",
        "description": "Ship it",
        "meta_file": "SKILL.custom.md",
        "directory": "/home/coder/.agents/skills/deploy",
    },
    {"type": "text", "text": "kept as is"},
]


def test_internal_fields_are_stripped_when_the_injected_context_is_written(
    store: Store[Querier], chats: Chats, org: db.Organization, alice: Subject, model: Any
) -> None:
    chat = chats.create_chat(organization_id=org.id, actor=alice).chat
    with store.querier() as plain:
        row = AuthzQuerier(plain, actor=CHATD).update_chat_last_injected_context(
            id=chat.id, last_injected_context=INJECTED
        )
    assert row.last_injected_context == [
        {"type": "context-file", "path": "/home/coder/AGENTS.md", "truncated": False},
        {
            "type": "skill",
            "name": "deploy",
            "description": "Ship it",
            "meta_file": "SKILL.custom.md",
        },
        {"type": "text", "text": "kept as is"},
    ]
    # The stored value is what the library's own stripping keeps, part for part.
    parts = parse_content(1, INJECTED, ChatMessageRole.USER)
    assert row.last_injected_context == [
        p.model_dump(mode="json", exclude_none=True) for p in strip_internal(parts)
    ]
    assert row.updated_at == chat.updated_at


def test_a_skill_part_keeps_its_meta_file_name_through_a_message(
    store: Store[Querier], chats: Chats, org: db.Organization, alice: Subject, model: Any
) -> None:
    chat = chats.create_chat(organization_id=org.id, actor=alice).chat
    skill = [{"type": "skill", "name": "deploy", "meta_file": "SKILL.custom.md"}]
    with store.querier() as plain:
        az = AuthzQuerier(plain, actor=CHATD)
        az.insert_chat_messages(
            chat_id=chat.id,
            created_by=[None],
            model_config_id=[None],
            role=[ChatMessageRole.USER],
            content=[skill],
            content_version=[1],
            visibility=[ChatMessageVisibility.BOTH],
            input_tokens=[None],
            output_tokens=[None],
            total_tokens=[None],
            reasoning_tokens=[None],
            cache_creation_tokens=[None],
            cache_read_tokens=[None],
            context_limit=[None],
            compressed=[False],
            total_cost_micros=[None],
            runtime_ms=[None],
            provider_response_id=[None],
        )
        stored = az.get_chat_messages_by_chat_id(chat_id=chat.id, after_id=0)[-1]
    (part,) = parse_content(stored.content_version, stored.content, stored.role)
    assert isinstance(part, SkillPart)
    assert part.meta_file == "SKILL.custom.md"
    assert strip_internal([part]) == [part]  # the name is not internal
