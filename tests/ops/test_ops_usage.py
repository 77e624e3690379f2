"""check_usage_limit (SPEC 5): effective limit vs. priced spend in the current UTC period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest

from chatdb import db
from chatdb.authz import Subject
from chatdb.errors import NotAuthorized
from chatdb.ops import Chats, period_bounds
from chatdb.testing.factories import Factories
from chatdb.validation import UsageLimitPeriod

NOW = datetime(2025, 3, 13, 15, 30, tzinfo=UTC)  # a Thursday


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("period", "now", "start", "end"),
    [
        ("day", NOW, utc(2025, 3, 13), utc(2025, 3, 14)),
        ("week", NOW, utc(2025, 3, 10), utc(2025, 3, 17)),
        ("week", utc(2025, 3, 16, 23, 59), utc(2025, 3, 10), utc(2025, 3, 17)),  # Sunday
        ("month", NOW, utc(2025, 3, 1), utc(2025, 4, 1)),
        ("month", utc(2025, 12, 31, 23), utc(2025, 12, 1), utc(2026, 1, 1)),
        # 01:00 on the 1st in UTC+2 is still the previous month in UTC.
        (
            "month",
            datetime(2025, 4, 1, 1, tzinfo=timezone(timedelta(hours=2))),
            utc(2025, 3, 1),
            utc(2025, 4, 1),
        ),
    ],
)
def test_periods_are_utc_day_monday_week_and_calendar_month(
    period: str, now: datetime, start: datetime, end: datetime
) -> None:
    assert period_bounds(now, UsageLimitPeriod(period)) == (start, end)


@pytest.fixture
def spend(f: Factories, org: db.Organization, alice: Subject, model: db.ChatModelConfig) -> Any:
    """Record a priced assistant message of alice's at a time, in ``org`` or another org."""

    def add(micros: int, at: datetime, organization_id: Any = None) -> None:
        chat = f.chat(
            owner_id=alice.id,
            organization_id=organization_id or org.id,
            last_model_config_id=model.id,
        )
        f.chat_message(chat_id=chat.id, role="assistant", total_cost_micros=micros, created_at=at)

    return add


def limits(conn: psycopg.Connection[Any], *, enabled: bool, default: int, period: str) -> None:
    conn.execute(
        "UPDATE chat_usage_limit_config SET enabled = %s, default_limit_micros = %s, period = %s",
        (enabled, default, period),
    )


def test_with_limits_off_everyone_is_allowed(
    chats: Chats, conn: psycopg.Connection[Any], alice: Subject, spend: Any
) -> None:
    spend(10**9, NOW)
    status = chats.check_usage_limit(alice.id, now=NOW, actor=alice)
    assert (status.allowed, status.limited, status.source) == (True, False, "disabled")
    assert status.remaining_micros is None


def test_spend_in_the_current_period_counts_against_the_limit(
    chats: Chats, conn: psycopg.Connection[Any], alice: Subject, spend: Any
) -> None:
    limits(conn, enabled=True, default=1000, period="week")
    spend(300, utc(2025, 3, 10))  # Monday of this week
    spend(200, NOW)
    spend(5000, utc(2025, 3, 9, 23, 59))  # last week: not counted

    status = chats.check_usage_limit(alice.id, now=NOW, actor=alice)

    assert status.allowed and status.limited
    assert (status.limit_micros, status.spent_micros, status.remaining_micros) == (1000, 500, 500)
    assert (status.period_start, status.period_end) == (utc(2025, 3, 10), utc(2025, 3, 17))
    assert status.source == "default"


def test_reaching_the_limit_refuses_and_leaves_nothing_remaining(
    chats: Chats, conn: psycopg.Connection[Any], alice: Subject, spend: Any
) -> None:
    limits(conn, enabled=True, default=1000, period="day")
    spend(600, NOW)
    spend(400, NOW)
    status = chats.check_usage_limit(alice.id, now=NOW, actor=alice)
    assert not status.allowed
    assert status.remaining_micros == 0


def test_the_user_override_beats_the_default(
    chats: Chats, conn: psycopg.Connection[Any], alice: Subject, spend: Any
) -> None:
    limits(conn, enabled=True, default=100, period="month")
    conn.execute("UPDATE users SET chat_spend_limit_micros = 5000 WHERE id = %s", (alice.id,))
    spend(400, NOW)
    status = chats.check_usage_limit(alice.id, now=NOW, actor=alice)
    assert (status.allowed, status.source, status.remaining_micros) == (True, "user", 4600)


def test_an_organization_scoped_check_counts_only_that_organizations_spend(
    chats: Chats,
    conn: psycopg.Connection[Any],
    f: Factories,
    org: db.Organization,
    alice: Subject,
    spend: Any,
) -> None:
    limits(conn, enabled=True, default=1000, period="month")
    elsewhere = f.organization()
    spend(100, NOW)
    spend(800, NOW, elsewhere.id)
    assert chats.check_usage_limit(alice.id, org.id, now=NOW, actor=alice).spent_micros == 100
    assert chats.check_usage_limit(alice.id, now=NOW, actor=alice).spent_micros == 900


def test_one_user_may_not_check_another(chats: Chats, alice: Subject, bob: Subject) -> None:
    with pytest.raises(NotAuthorized):
        chats.check_usage_limit(alice.id, now=NOW, actor=bob)
