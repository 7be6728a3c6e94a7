"""Keeping a year of live quotes small: minute points for a week, hourly points after.

The live feed stores one quote per pair every ``QUOTES_LIVE_INTERVAL_SECONDS`` (1,440 a day
per pair at the default minute). Once older than ``QUOTES_LIVE_MINUTE_DAYS`` only the last
live quote of each hour, per pair and source, is kept: a year is then ~7 * 1,440 + 358 * 24
≈ 18,700 points per pair instead of 525,600. Alpha Vantage's hourly record and the quotes
of forced refreshes (fallback ones included) are never thinned.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Subquery, Window
from django.db.models.functions import RowNumber, TruncHour
from django.utils import timezone

from cryptotrack.quotes.models import Quote


def downsample_live_quotes(*, now: datetime | None = None) -> int:
    """Delete every live quote older than the minute window but the last of its hour (per
    pair and source); return how many were deleted. Idempotent: run it as often as you like.
    """
    cutoff = (now or timezone.now()) - timedelta(days=settings.QUOTES_LIVE_MINUTE_DAYS)
    old_live = Quote.objects.filter(trigger=Quote.Trigger.LIVE, fetched_at__lt=cutoff)
    # Number the old live quotes of each (source, pair, hour) newest first; all but the
    # first go. One sort, whatever the depth. The obvious `id NOT IN (SELECT MAX(id) ...
    # GROUP BY hour)` is quadratic on PostgreSQL (it cannot estimate the groups of
    # date_trunc, so it rescans the subquery for every row instead of hashing it), and so
    # is EXISTS(a later row of the same hour): the first run over a year of minute quotes
    # did not finish in ten minutes (docs/benchmarks.md).
    ranked = old_live.annotate(
        newest_first=Window(
            RowNumber(),
            partition_by=["source", "from_currency", "to_currency", TruncHour("fetched_at")],
            order_by=F("id").desc(),
        )
    )
    doomed = ranked.filter(newest_first__gt=1).values("id")
    deleted, _ = Quote.objects.filter(id__in=Subquery(doomed)).delete()
    return deleted
