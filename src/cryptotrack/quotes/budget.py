"""Our side of Alpha Vantage's free tier: calls per UTC day, counted in the database.

Every process (web servers, workers) reserves a call here before making it, with one
conditional ``UPDATE ... SET calls = calls + 1 WHERE calls < quota``: atomic on
PostgreSQL and SQLite alike, so the quota holds however many processes race for the last
call, and survives restarts. When Alpha Vantage itself says "rate limit", the day is
blocked until the time it gave, so nobody spends a call just to hear that again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db.models import F
from django.utils import timezone

from cryptotrack.core.exceptions import ServiceUnavailable
from cryptotrack.quotes.models import UpstreamBudget

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
    if budget.blocked_until is not None and budget.blocked_until > now:
        raise ServiceUnavailable(
            "Alpha Vantage's rate limit is reached; no call is made until it lifts.",
            retry_after=int((budget.blocked_until - now).total_seconds()) + 1,
            code="upstream_rate_limited",
        )
    reserved = UpstreamBudget.objects.filter(pk=budget.pk, calls__lt=quota).update(
        calls=F("calls") + 1
    )
    if not reserved:
        raise ServiceUnavailable(
            f"Today's quota of {quota} Alpha Vantage calls is spent; it renews at midnight UTC.",
            retry_after=seconds_until_next_utc_day(now),
            code="quota_exhausted",
        )
    budget.refresh_from_db(fields=["calls"])
    return budget.calls


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
