"""SQL-level behaviour of the spend-limit queries (SPEC 4.8): the deployment config, user and
group overrides, limit resolution and spend in a period, through the generated querier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from chatdb.db import Querier
from chatdb.errors import CheckViolation, NotFound
from chatdb.testing.factories import Factories

OLD = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
START = datetime(2024, 3, 1, tzinfo=UTC)
END = datetime(2024, 4, 1, tzinfo=UTC)


@pytest.fixture
def q(chatdb_conn: psycopg.Connection[Any]) -> Querier:
    return Querier(chatdb_conn)


@pytest.fixture
def f(chatdb_conn: psycopg.Connection[Any]) -> Factories:
    return Factories(chatdb_conn)


def group_with(f: Factories, org_id: UUID, limit: int | None, *members: UUID) -> UUID:
    group = f.group(organization_id=org_id, chat_spend_limit_micros=limit)
    for user_id in members:
        f.group_member(user_id=user_id, group_id=group.id)
    return group.id


def enable_limits(q: Querier, default: int = 1_000, period: str = "month") -> None:
    q.upsert_chat_usage_limit_config(enabled=True, default_limit_micros=default, period=period)


# ---- chat_usage_limit_config -------------------------------------------------------------


def test_limits_start_disabled_with_the_seeded_singleton(q: Querier) -> None:
    cfg = q.get_chat_usage_limit_config()
    assert (cfg.enabled, cfg.default_limit_micros, cfg.period) == (False, 0, "month")


def test_upserting_the_config_updates_the_single_row_and_bumps_updated_at(
    q: Querier, chatdb_conn: psycopg.Connection[Any]
) -> None:
    chatdb_conn.execute(
        "UPDATE chat_usage_limit_config SET created_at = %s, updated_at = %s", (OLD, OLD)
    )
    cfg = q.upsert_chat_usage_limit_config(enabled=True, default_limit_micros=5_000, period="week")
    assert (cfg.enabled, cfg.default_limit_micros, cfg.period) == (True, 5_000, "week")
    assert cfg.created_at == OLD and cfg.updated_at > OLD
    assert q.get_chat_usage_limit_config() == cfg
    assert chatdb_conn.execute("SELECT count(*) FROM chat_usage_limit_config").fetchone() == (1,)


def test_config_upsert_recreates_a_missing_row(
    q: Querier, chatdb_conn: psycopg.Connection[Any]
) -> None:
    chatdb_conn.execute("DELETE FROM chat_usage_limit_config")
    with pytest.raises(NotFound):
        q.get_chat_usage_limit_config()
    q.upsert_chat_usage_limit_config(enabled=False, default_limit_micros=1, period="day")
    assert q.get_chat_usage_limit_config().period == "day"


def test_config_values_are_checked(q: Querier) -> None:
    with pytest.raises(CheckViolation) as err:
        q.upsert_chat_usage_limit_config(enabled=True, default_limit_micros=1, period="year")
    assert err.value.constraint == "chat_usage_limit_config_period_check"
    with pytest.raises(CheckViolation) as err:
        q.upsert_chat_usage_limit_config(enabled=True, default_limit_micros=-1, period="day")
    assert err.value.constraint == "chat_usage_limit_config_default_limit_micros_check"


# ---- user overrides ----------------------------------------------------------------------


def test_user_override_round_trip(q: Querier, f: Factories) -> None:
    user = f.user(updated_at=OLD)
    with pytest.raises(NotFound):
        q.get_chat_usage_limit_user_override(user_id=user.id)
    set_row = q.upsert_chat_usage_limit_user_override(user_id=user.id, spend_limit_micros=700)
    assert (set_row.user_id, set_row.spend_limit_micros) == (user.id, 700)
    q.upsert_chat_usage_limit_user_override(user_id=user.id, spend_limit_micros=900)
    assert q.get_chat_usage_limit_user_override(user_id=user.id).spend_limit_micros == 900
    q.delete_chat_usage_limit_user_override(user_id=user.id)
    with pytest.raises(NotFound):
        q.get_chat_usage_limit_user_override(user_id=user.id)


def test_user_override_keeps_the_users_updated_at(
    q: Querier, f: Factories, chatdb_conn: psycopg.Connection[Any]
) -> None:
    user = f.user(updated_at=OLD)
    q.upsert_chat_usage_limit_user_override(user_id=user.id, spend_limit_micros=1)
    row = chatdb_conn.execute("SELECT updated_at FROM users WHERE id = %s", (user.id,)).fetchone()
    assert row == (OLD,)


def test_user_override_must_be_positive_and_for_a_known_user(q: Querier, f: Factories) -> None:
    user = f.user()
    with pytest.raises(CheckViolation) as err:
        q.upsert_chat_usage_limit_user_override(user_id=user.id, spend_limit_micros=0)
    assert err.value.constraint == "users_chat_spend_limit_micros_check"
    with pytest.raises(NotFound):
        q.upsert_chat_usage_limit_user_override(user_id=uuid4(), spend_limit_micros=1)


def test_user_override_list_has_live_users_with_an_override_by_username(
    q: Querier, f: Factories
) -> None:
    f.user(username="zed", chat_spend_limit_micros=3)
    f.user(username="amy", name="Amy A", avatar_url="https://a", chat_spend_limit_micros=5)
    f.user(username="bob")
    f.user(username="gone", deleted=True, chat_spend_limit_micros=9)
    rows = q.list_chat_usage_limit_overrides()
    assert [(r.username, r.spend_limit_micros) for r in rows] == [("amy", 5), ("zed", 3)]
    assert (rows[0].name, rows[0].avatar_url) == ("Amy A", "https://a")


# ---- group overrides ---------------------------------------------------------------------


def test_group_override_round_trip(q: Querier, f: Factories) -> None:
    group = f.group()
    with pytest.raises(NotFound):
        q.get_chat_usage_limit_group_override(group_id=group.id)
    row = q.upsert_chat_usage_limit_group_override(group_id=group.id, spend_limit_micros=40)
    assert (row.group_id, row.spend_limit_micros) == (group.id, 40)
    assert q.get_chat_usage_limit_group_override(group_id=group.id).spend_limit_micros == 40
    q.delete_chat_usage_limit_group_override(group_id=group.id)
    with pytest.raises(NotFound):
        q.get_chat_usage_limit_group_override(group_id=group.id)
    with pytest.raises(CheckViolation):
        q.upsert_chat_usage_limit_group_override(group_id=group.id, spend_limit_micros=-5)
    with pytest.raises(NotFound):
        q.upsert_chat_usage_limit_group_override(group_id=uuid4(), spend_limit_micros=5)


def test_group_override_list_counts_members_but_not_system_users(q: Querier, f: Factories) -> None:
    org = f.organization()
    people = [f.user().id, f.user().id]
    robot = f.user(is_system=True).id
    limited = group_with(f, org.id, 100, *people, robot)
    f.group(organization_id=org.id, name="aaa-no-limit")
    empty = group_with(f, org.id, 50)
    rows = {r.group_id: r for r in q.list_chat_usage_limit_group_overrides()}
    assert set(rows) == {limited, empty}
    assert (rows[limited].member_count, rows[limited].spend_limit_micros) == (2, 100)
    assert rows[limited].organization_id == org.id
    assert rows[empty].member_count == 0


# ---- GetUserGroupSpendLimit / ResolveUserChatSpendLimit ----------------------------------


def test_group_spend_limit_is_the_lowest_of_the_users_groups(q: Querier, f: Factories) -> None:
    org = f.organization()
    user = f.user(organization_id=org.id)
    assert q.get_user_group_spend_limit(user_id=user.id, organization_id=None).limit_micros is None
    group_with(f, org.id, 300, user.id)
    group_with(f, org.id, 200, user.id)
    group_with(f, org.id, None, user.id)
    group_with(f, org.id, 10)  # not a member
    assert q.get_user_group_spend_limit(user_id=user.id, organization_id=None).limit_micros == 200


def test_group_spend_limit_is_scoped_to_the_organization_when_given(
    q: Querier, f: Factories
) -> None:
    org_a, org_b = f.organization(), f.organization()
    user = f.user(organization_id=org_a.id)
    group_with(f, org_a.id, 500, user.id)
    group_with(f, org_b.id, 100, user.id)

    def limit(org: UUID | None) -> int | None:
        return q.get_user_group_spend_limit(user_id=user.id, organization_id=org).limit_micros

    assert (limit(org_a.id), limit(org_b.id), limit(None)) == (500, 100, 100)
    assert limit(f.organization().id) is None


def resolve(q: Querier, user_id: UUID, org: UUID | None = None) -> tuple[int | None, str]:
    row = q.resolve_user_chat_spend_limit(user_id=user_id, organization_id=org)
    return row.limit_micros, row.source


def test_resolve_reports_disabled_when_limits_are_off(q: Querier, f: Factories) -> None:
    org = f.organization()
    user = f.user(chat_spend_limit_micros=5)
    group_with(f, org.id, 7, user.id)
    q.upsert_chat_usage_limit_config(enabled=False, default_limit_micros=9, period="day")
    assert resolve(q, user.id) == (None, "disabled")


def test_resolve_prefers_user_override_then_lowest_group_then_default(
    q: Querier, f: Factories
) -> None:
    enable_limits(q, default=1_000, period="week")
    org = f.organization()
    user = f.user()
    assert resolve(q, user.id) == (1_000, "default")
    group_with(f, org.id, 800, user.id)
    group_with(f, org.id, 600, user.id)
    assert resolve(q, user.id) == (600, "group")
    q.upsert_chat_usage_limit_user_override(user_id=user.id, spend_limit_micros=5_000)
    assert resolve(q, user.id) == (5_000, "user")  # the override wins even when higher
    row = q.resolve_user_chat_spend_limit(user_id=user.id, organization_id=None)
    assert row.period == "week"


def test_resolve_uses_only_groups_of_the_given_organization(q: Querier, f: Factories) -> None:
    enable_limits(q, default=1_000)
    org_a, org_b = f.organization(), f.organization()
    user = f.user()
    group_with(f, org_b.id, 100, user.id)
    assert resolve(q, user.id, org_a.id) == (1_000, "default")
    assert resolve(q, user.id, org_b.id) == (100, "group")
    assert resolve(q, user.id, None) == (100, "group")


def test_resolve_of_an_unknown_user_falls_back_to_the_default(q: Querier) -> None:
    enable_limits(q, default=42)
    assert resolve(q, uuid4()) == (42, "default")


# ---- GetUserChatSpendInPeriod ------------------------------------------------------------


def test_spend_sums_priced_messages_in_the_half_open_window_including_deleted(
    q: Querier, f: Factories
) -> None:
    org = f.organization()
    user = f.user(organization_id=org.id)
    chat = f.chat(owner_id=user.id, organization_id=org.id)
    other = f.chat(organization_id=org.id)

    def msg(cost: int | None, at: datetime, chat_id: UUID = chat.id, **kw: Any) -> None:
        f.chat_message(
            chat_id=chat_id, role="assistant", total_cost_micros=cost, created_at=at, **kw
        )

    msg(10, START)  # start is inclusive
    msg(20, END - timedelta(microseconds=1))
    msg(40, START + timedelta(days=1), deleted=True)  # deleted messages were still paid for
    msg(None, START + timedelta(days=2))  # unpriced
    msg(80, END)  # end is exclusive
    msg(160, START - timedelta(microseconds=1))
    msg(320, START, chat_id=other.id)  # someone else's chat
    row = q.get_user_chat_spend_in_period(
        user_id=user.id, organization_id=None, start=START, end=END
    )
    assert row.total_spend_micros == 70


def test_spend_is_zero_without_messages(q: Querier, f: Factories) -> None:
    user = f.user()
    row = q.get_user_chat_spend_in_period(
        user_id=user.id, organization_id=None, start=START, end=END
    )
    assert row.total_spend_micros == 0


def test_spend_is_scoped_to_the_organization_when_given(q: Querier, f: Factories) -> None:
    org_a, org_b = f.organization(), f.organization()
    user = f.user(organization_id=org_a.id)
    for org, cost in ((org_a, 3), (org_b, 5)):
        chat = f.chat(owner_id=user.id, organization_id=org.id)
        f.chat_message(chat_id=chat.id, role="assistant", total_cost_micros=cost, created_at=START)

    def spend(org: UUID | None) -> int:
        return q.get_user_chat_spend_in_period(
            user_id=user.id, organization_id=org, start=START, end=END
        ).total_spend_micros

    assert (spend(org_a.id), spend(org_b.id), spend(None)) == (3, 5, 8)
