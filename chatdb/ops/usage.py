"""Spend limits: may this user start more LLM work in the current period?

The effective limit comes from ResolveUserChatSpendLimit (limits off → user override →
lowest group limit → default); the spend is the priced cost of the user's messages in the
current period window, computed in UTC: the day, the ISO week (from Monday), or the calendar
month. Spend equal to the limit is exhausted (a limit of 0 allows nothing). Like the
original, the check is advisory and fails open under concurrency: cost is only known after
the LLM answers, so two messages sent at once may both pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from chatdb.authz import Subject
from chatdb.errors import InvalidInput
from chatdb.ops._base import Tx, Workflows
from chatdb.validation import UsageLimitPeriod, parse_enum


@dataclass(frozen=True, slots=True)
class UsageLimitStatus:
    """``allowed`` and, when a limit applies, the numbers behind it (micro-dollars)."""

    allowed: bool
    limited: bool
    source: str
    limit_micros: int | None = None
    spent_micros: int | None = None
    remaining_micros: int | None = None
    period: UsageLimitPeriod | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None


def period_bounds(now: datetime, period: UsageLimitPeriod) -> tuple[datetime, datetime]:
    """The UTC ``[start, end)`` window of ``period`` containing ``now``."""
    if now.tzinfo is None:
        raise InvalidInput("now must be a timezone-aware datetime", field="now")
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period is UsageLimitPeriod.DAY:
        return day, day + timedelta(days=1)
    if period is UsageLimitPeriod.WEEK:
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    start = day.replace(day=1)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


class UsageLimits(Workflows):
    """Spend-limit checks (read on the user's chats; a user may check itself)."""

    def check_usage_limit(
        self,
        user_id: UUID,
        organization_id: UUID | None = None,
        *,
        now: datetime | None = None,
        actor: Subject | None = None,
    ) -> UsageLimitStatus:
        """Whether ``user_id`` is under its limit now (in that organization when given)."""
        at = datetime.now(UTC) if now is None else now
        if at.tzinfo is None:
            raise InvalidInput("now must be a timezone-aware datetime", field="now")

        def body(tx: Tx) -> UsageLimitStatus:
            resolved = tx.q.resolve_user_chat_spend_limit(
                user_id=user_id, organization_id=organization_id
            )
            if resolved.limit_micros is None:
                return UsageLimitStatus(allowed=True, limited=False, source=resolved.source)
            period = parse_enum(UsageLimitPeriod, resolved.period, "period")
            start, end = period_bounds(at, period)
            spent = tx.q.get_user_chat_spend_in_period(
                user_id=user_id, organization_id=organization_id, start=start, end=end
            ).total_spend_micros
            return UsageLimitStatus(
                allowed=spent < resolved.limit_micros,
                limited=True,
                source=resolved.source,
                limit_micros=resolved.limit_micros,
                spent_micros=spent,
                remaining_micros=max(0, resolved.limit_micros - spent),
                period=period,
                period_start=start,
                period_end=end,
            )

        return self._run(actor, body)
