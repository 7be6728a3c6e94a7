"""Reading quotes: the filtered history, the latest per pair (cache first), recent history."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db.models import QuerySet

from cryptotrack.core import metrics
from cryptotrack.quotes.models import Quote
from cryptotrack.quotes.pairs import Pair
from cryptotrack.quotes.serializers import quote_payload

logger = logging.getLogger(__name__)

LATEST_CACHE_ALIAS = "live"


def quote_list(
    *,
    source: str | None = Quote.Source.ALPHAVANTAGE,
    from_currency: str | None = None,
    to_currency: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Quote]:
    """Quotes newest first (``fetched_at``, then ``id``), ``since <= fetched_at <= until``.

    Of one ``source`` (Alpha Vantage's record by default), of every source with ``None``.
    """
    quotes = Quote.objects.all()
    if source:
        quotes = quotes.filter(source=source)
    if from_currency:
        quotes = quotes.filter(from_currency=from_currency)
    if to_currency:
        quotes = quotes.filter(to_currency=to_currency)
    if since is not None:
        quotes = quotes.filter(fetched_at__gte=since)
    if until is not None:
        quotes = quotes.filter(fetched_at__lte=until)
    return quotes.order_by("-fetched_at", "-id")


def newest_quote(*, pair: Pair | None = None) -> Quote | None:
    """The newest stored quote of ``pair`` (of any pair without one), from the database."""
    quotes = Quote.objects.all()
    if pair is not None:
        quotes = quotes.filter(from_currency=pair.from_currency, to_currency=pair.to_currency)
    return quotes.order_by("-fetched_at", "-id").first()


def latest_cache_key(pair: Pair) -> str:
    return f"quotes:latest:{pair.from_currency}:{pair.to_currency}"


def latest_entry(quote: Quote) -> dict[str, Any]:
    """What the cache keeps for the latest quote of a pair: its id and its API payload."""
    return {"id": quote.pk, "quote": quote_payload(quote)}


def cache_latest(quote: Quote) -> None:
    """Write-through of the newest quote of its pair; a cache failure is only logged."""
    pair = Pair(quote.from_currency, quote.to_currency)
    try:
        caches[LATEST_CACHE_ALIAS].set(
            latest_cache_key(pair), latest_entry(quote), timeout=_cache_timeout()
        )
    except Exception as exc:
        logger.warning("could not cache the latest %s quote: %r", pair, exc)


def latest_quote(*, pair: Pair) -> dict[str, Any] | None:
    """``{"id", "quote": payload}`` of the newest quote of ``pair``, or None when there is none.

    Served from the "live" cache; on a miss, or when the cache fails (Redis down), from
    the database, refilling the cache.
    """
    cache = caches[LATEST_CACHE_ALIAS]
    key = latest_cache_key(pair)
    try:
        entry = cache.get(key)
    except Exception as exc:
        logger.warning("latest %s quote: cache unavailable, reading the database: %r", pair, exc)
        entry = None
    metrics.record_cache_read("latest_quote", hit=isinstance(entry, dict))
    if isinstance(entry, dict):
        return entry
    quote = newest_quote(pair=pair)
    if quote is None:
        return None
    cache_latest(quote)
    return latest_entry(quote)


def recent_quotes(*, pair: Pair, limit: int) -> list[Quote]:
    """The ``limit`` newest quotes of ``pair`` from any source, oldest first (for a chart)."""
    newest = quote_list(
        source=None, from_currency=pair.from_currency, to_currency=pair.to_currency
    )[:limit]
    return list(reversed(list(newest)))


def quotes_after(*, last_id: int, limit: int = 100) -> list[Quote]:
    """Quotes stored with an id above ``last_id``, in id order (the live watcher's query)."""
    return list(Quote.objects.filter(id__gt=last_id).order_by("id")[:limit])


def last_quote_id() -> int:
    """The highest quote id so far (0 when there is none)."""
    last = Quote.objects.order_by("-id").values_list("id", flat=True).first()
    return last or 0


def _cache_timeout() -> int:
    # The entry is replaced by every new quote; expiring it only bounds how long a row
    # removed behind our back (admin, retention) could still be served.
    return max(300, 2 * settings.QUOTES_INTERVAL_SECONDS)
