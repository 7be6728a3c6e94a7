"""Our side of Alpha Vantage's free tier: calls per UTC day, counted in the database.

Every process (web servers, workers) reserves a call here before making it, with one
conditional ``UPDATE ... SET calls = calls + 1 WHERE calls < quota``: atomic on
PostgreSQL and SQLite alike, so the quota holds however many processes race for the last
call, and survives restarts. When Alpha Vantage itself says "rate limit", the day is
blocked until the time it gave, so nobody spends a call just to hear that again.

The quota is shared fairly (docs/operations.md): a forced refresh may only spend a call
while fewer than ``quota - schedule_reserve`` are spent (the rest is the schedule's), and
while its user has made fewer than ``user_share`` such calls today. Both counts move in one
transaction, so a refusal of either leaves both as they were.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from cryptotrack.core.exceptions import ApplicationError, ServiceUnavailable
from cryptotrack.quotes.models import ForcedFetchUsage, UpstreamBudget

ALPHAVANTAGE = "alphavantage"


def seconds_until_next_utc_day(now: datetime) -> int:
    """Whole seconds from ``now`` to the next midnight UTC (at least 1)."""
    utc = now.astimezone(UTC)
    midnight = (utc + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((midnight - utc).total_seconds()) + 1)


def _today(provider: str, now: datetime) -> UpstreamBudget:
    budget, _ = UpstreamBudget.objects.get_or_create(
        provider=provider, day=now.astimezone(UTC).date()
    )
    return budget


def reserve_call(*, provider: str, quota: int, now: datetime | None = None) -> int:
    """Count one upstream call for today and return today's count including it.

    Raises ServiceUnavailable (503, ``Retry-After``) without counting when the upstream
    blocked us (``upstream_rate_limited``) or today's ``quota`` is spent (``quota_exhausted``).
    """
    now = now or timezone.now()
    budget = _today(provider, now)
    _refuse_if_blocked(budget, now)
    if not _count_call(budget, limit=quota):
        raise ServiceUnavailable(
            f"Today's quota of {quota} Alpha Vantage calls is spent; it renews at midnight UTC.",
            retry_after=seconds_until_next_utc_day(now),
            code="quota_exhausted",
        )
    budget.refresh_from_db(fields=["calls"])
    return budget.calls


def reserve_forced_call(
    *,
    provider: str,
    user_id: int,
    quota: int,
    schedule_reserve: int,
    user_share: int,
    now: datetime | None = None,
) -> None:
    """Count one call of a forced refresh by ``user_id`` for today (see the module docstring).

    Raises, counting nothing: ServiceUnavailable as :func:`reserve_call` (the part of the
    quota open to forced refreshes spent: ``quota_exhausted``), or a 429
    ``forced_refresh_share_spent`` when this user has spent their ``user_share`` today.
    """
    now = now or timezone.now()
    budget = _today(provider, now)
    _refuse_if_blocked(budget, now)
    open_to_forced = max(0, quota - schedule_reserve)
    with transaction.atomic():
        usage, _ = ForcedFetchUsage.objects.get_or_create(
            user_id=user_id, day=now.astimezone(UTC).date()
        )
        charged = ForcedFetchUsage.objects.filter(pk=usage.pk, calls__lt=user_share).update(
            calls=F("calls") + 1
        )
        if not charged:
            raise ApplicationError(
                f"You have made your {user_share} forced refreshes of today (each user's share "
                "of the daily Alpha Vantage quota); they renew at midnight UTC. Scheduled "
                "quotes keep coming: GET /api/v1/quotes/latest.",
                code="forced_refresh_share_spent",
                status=429,
                headers={"Retry-After": str(seconds_until_next_utc_day(now))},
            )
        if not _count_call(budget, limit=open_to_forced):
            # Raising rolls the user's count back: the refusal cost them nothing.
            raise ServiceUnavailable(
                f"Today's {open_to_forced} Alpha Vantage calls open to forced refreshes are "
                f"spent (the other {quota - open_to_forced} of the {quota} are kept for the "
                "schedule); they renew at midnight UTC.",
                retry_after=seconds_until_next_utc_day(now),
                code="quota_exhausted",
            )


def _refuse_if_blocked(budget: UpstreamBudget, now: datetime) -> None:
    if budget.blocked_until is not None and budget.blocked_until > now:
        raise ServiceUnavailable(
            "Alpha Vantage's rate limit is reached; no call is made until it lifts.",
            retry_after=int((budget.blocked_until - now).total_seconds()) + 1,
            code="upstream_rate_limited",
        )


def _count_call(budget: UpstreamBudget, *, limit: int) -> bool:
    """One conditional UPDATE: count a call unless ``limit`` calls are counted already."""
    return bool(
        UpstreamBudget.objects.filter(pk=budget.pk, calls__lt=limit).update(calls=F("calls") + 1)
    )


def block_until(*, provider: str, until: datetime, now: datetime | None = None) -> None:
    """Make no call to ``provider`` before ``until`` (the upstream said it is rate limited)."""
    now = now or timezone.now()
    budget = _today(provider, now)
    UpstreamBudget.objects.filter(pk=budget.pk).update(blocked_until=until)


def calls_today(*, provider: str, now: datetime | None = None) -> int:
    """Calls counted for ``provider`` on the current UTC day."""
    now = now or timezone.now()
    budget = UpstreamBudget.objects.filter(
        provider=provider, day=now.astimezone(UTC).date()
    ).first()
    return budget.calls if budget else 0
