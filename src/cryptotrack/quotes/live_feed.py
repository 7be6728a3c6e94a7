"""The live feed: every ``QUOTES_LIVE_INTERVAL_SECONDS`` each source of
``QUOTES_LIVE_SOURCES`` prices the pairs of ``QUOTES_PAIRS`` it can, each rate is stored as
a ``live`` quote with that ``source`` and pushed to the subscribers.

However many clients watch, a tick makes the same calls: they are made here, by the worker,
never per WebSocket. Per source:

* ``coingecko``: ONE batched ``/simple/price`` call for every pair it prices;
* ``kucoin``: one public level-1 ticker request per pair (see :mod:`.kucoin` for why not
  ``allTickers``); a pair KuCoin refuses (an unlisted market, say) is logged and counted
  (``cryptotrack_upstream_failures_total{upstream="kucoin"}``) and the others are stored.

A pair with a live quote of that source younger than half the interval (a redelivered or
doubled tick) is not asked for. A failing source is logged; the next tick tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from cryptotrack.core import metrics
from cryptotrack.exchanges.errors import UpstreamError
from cryptotrack.quotes import coingecko, kucoin
from cryptotrack.quotes.models import Quote
from cryptotrack.quotes.pairs import Pair, configured_pairs
from cryptotrack.quotes.services import record_quote

logger = logging.getLogger(__name__)


def fetch_live_quotes() -> list[Quote]:
    """One tick of the live feed over every configured source; the quotes it stored."""
    now = timezone.now()
    stored: list[Quote] = []
    for source in settings.QUOTES_LIVE_SOURCES:
        stored += FEEDS[source](now)
    return stored


def _due(source: str, priceable: Callable[[Pair], bool], now: datetime) -> list[Pair]:
    recent = now - timedelta(seconds=settings.QUOTES_LIVE_INTERVAL_SECONDS / 2)
    fresh = {
        Pair(f, t)
        for f, t in Quote.objects.filter(
            source=source, trigger=Quote.Trigger.LIVE, fetched_at__gte=recent
        ).values_list("from_currency", "to_currency")
    }
    return [pair for pair in configured_pairs() if priceable(pair) and pair not in fresh]


def _coingecko_tick(now: datetime) -> list[Quote]:
    due = _due(Quote.Source.COINGECKO, coingecko.priceable, now)
    if not due:
        return []
    try:
        rates = coingecko.fetch_rates(due)
    except UpstreamError as exc:
        metrics.record_upstream_failure("coingecko", exc.kind)
        logger.warning("live feed: CoinGecko failed: %s (%s)", exc.message, exc.kind)
        return []
    return [
        record_quote(
            pair=pair,
            rate=rate,
            refreshed_at=now,
            trigger=Quote.Trigger.LIVE,
            source=Quote.Source.COINGECKO,
        )
        for pair, rate in rates.items()
    ]


def _kucoin_tick(now: datetime) -> list[Quote]:
    due = _due(Quote.Source.KUCOIN, kucoin.priceable, now)
    if not due:
        return []
    tickers, failures = kucoin.fetch_tickers(due)
    for pair, exc in failures.items():
        metrics.record_upstream_failure("kucoin", exc.kind)
        logger.warning(
            "live feed: KuCoin %s (%s) failed: %s (%s)",
            pair,
            kucoin.symbol_for(pair),
            exc.message,
            exc.kind,
        )
    return [
        record_quote(
            pair=pair,
            rate=ticker.price,
            bid=ticker.best_bid,
            ask=ticker.best_ask,
            refreshed_at=ticker.time,
            trigger=Quote.Trigger.LIVE,
            source=Quote.Source.KUCOIN,
        )
        for pair, ticker in tickers.items()
    ]


# The sources QUOTES_LIVE_SOURCES may name (settings.LIVE_QUOTE_SOURCES lists the same).
FEEDS: dict[str, Callable[[datetime], list[Quote]]] = {
    Quote.Source.COINGECKO: _coingecko_tick,
    Quote.Source.KUCOIN: _kucoin_tick,
}
