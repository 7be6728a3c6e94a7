"""Live quotes keep every point for QUOTES_LIVE_MINUTE_DAYS, then the last of each hour per
pair and source; Alpha Vantage's record and forced refreshes are never thinned."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

pytestmark = pytest.mark.django_db


def test_live_quotes_keep_minutes_for_a_week_then_the_last_of_each_hour(
    make_quotes: Callable[..., list[Any]], settings: Any
) -> None:
    from django.utils import timezone

    from cryptotrack.quotes.models import Quote
    from cryptotrack.quotes.retention import downsample_live_quotes

    settings.QUOTES_LIVE_MINUTE_DAYS = 7
    live = {"trigger": Quote.Trigger.LIVE, "source": Quote.Source.COINGECKO}
    now = timezone.now()
    # Minute points filling three whole hours (H-2:00 ... H:59), ten days ago.
    old_end = (now - timedelta(days=10)).replace(minute=59, second=0, microsecond=0)
    btc = make_quotes(180, end=old_end, **live)
    eth = make_quotes(120, pair=("ETH", "USD"), end=old_end, **live)
    recent = make_quotes(30, end=now, **live)
    record = make_quotes(48, end=old_end, step=timedelta(hours=1))  # Alpha Vantage's
    fallback = make_quotes(5, end=old_end, trigger=Quote.Trigger.FORCED, source="coingecko")

    deleted = downsample_live_quotes(now=now)
    again = downsample_live_quotes(now=now)

    kept = set(Quote.objects.values_list("id", flat=True))
    assert deleted == (180 - 3) + (120 - 2)
    assert again == 0
    last_of_each_hour = {btc[59].pk, btc[119].pk, btc[179].pk, eth[59].pk, eth[119].pk}
    untouched = {q.pk for q in recent + record + fallback}
    assert kept == last_of_each_hour | untouched
