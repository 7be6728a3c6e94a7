"""What alerts need from CoinGecko: prices in one batch, and the ids and currencies it knows.

The client (``cryptotrack.exchanges.coingecko``) does the I/O; this module adds settings,
the cache of the reference lists, and the mapping of upstream failures to API answers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache

from cryptotrack.core import metrics
from cryptotrack.core.exceptions import ServiceUnavailable, UpstreamFailed
from cryptotrack.exchanges.coingecko import CoinGeckoClient, PriceTable
from cryptotrack.exchanges.errors import UpstreamError, UpstreamRateLimited

logger = logging.getLogger(__name__)

# The lists change a few times a day at most: reuse them for hours, keep a stale copy for
# a week (used only while CoinGecko cannot be reached), and refresh early, at most every
# few minutes, when a coin we have never seen is asked for (a coin listed this morning).
REFERENCE_FRESH_SECONDS = 6 * 3600
REFERENCE_KEEP_SECONDS = 7 * 86400
REFERENCE_MISS_REFRESH_SECONDS = 600
# When CoinGecko is down and we have nothing to check against: come back in a minute.
UNAVAILABLE_RETRY_AFTER_SECONDS = 60

_COINS_KEY = "alerts:coingecko:coins"
_CURRENCIES_KEY = "alerts:coingecko:vs_currencies"


def coingecko_client() -> CoinGeckoClient:
    """A client for ``settings.COINGECKO_URL``; the key goes in the pro header on pro-api."""
    key = settings.COINGECKO_API_KEY or None
    pro = "pro-api.coingecko.com" in settings.COINGECKO_URL
    return CoinGeckoClient(
        base_url=settings.COINGECKO_URL,
        demo_api_key=None if pro else key,
        pro_api_key=key if pro else None,
        timeout=settings.COINGECKO_TIMEOUT_SECONDS,
    )


def fetch_prices(pairs: Iterable[tuple[str, str]]) -> PriceTable:
    """Prices of every ``(coin, currency)`` pair CoinGecko knows, in as few requests as the
    client can batch them (one for the usual few hundred coins). Raises UpstreamError."""
    pairs = list(pairs)
    coins = sorted({coin for coin, _ in pairs})
    currencies = sorted({currency for _, currency in pairs})
    if not pairs:
        return {}

    async def fetch() -> PriceTable:
        async with coingecko_client() as client:
            return await client.simple_price(coins, currencies)

    try:
        table = asyncio.run(fetch())
    except UpstreamError as exc:
        metrics.record_upstream_failure("coingecko", exc.kind)
        raise
    wanted = set(pairs)
    return {pair: price for pair, price in table.items() if pair in wanted}


def current_price(coin: str, currency: str) -> Decimal | None:
    """The price now, or None when CoinGecko has none for the pair; raises the API errors."""
    try:
        return fetch_prices([(coin, currency)]).get((coin, currency))
    except UpstreamError as exc:
        raise _api_error(exc, "the current price") from exc


def is_known_coin(coin: str) -> bool:
    """Whether ``coin`` is a CoinGecko coin id (``/coins/list``, cached)."""
    return _is_listed(coin, _COINS_KEY, _fetch_coin_ids, "the coin list")


def is_known_currency(currency: str) -> bool:
    """Whether CoinGecko prices in ``currency`` (``/simple/supported_vs_currencies``, cached)."""
    return _is_listed(currency, _CURRENCIES_KEY, _fetch_currencies, "the supported currencies")


@dataclass(frozen=True)
class _Reference:
    fetched_at: float
    values: frozenset[str]


def _is_listed(
    value: str, key: str, fetch: Callable[[], Coroutine[Any, Any, frozenset[str]]], what: str
) -> bool:
    entry: _Reference | None = cache.get(key)
    if entry is not None:
        age = time.time() - entry.fetched_at
        if age < REFERENCE_FRESH_SECONDS and (
            value in entry.values or age < REFERENCE_MISS_REFRESH_SECONDS
        ):
            return value in entry.values
    try:
        values = asyncio.run(fetch())
    except UpstreamError as exc:
        metrics.record_upstream_failure("coingecko", exc.kind)
        if entry is not None:
            logger.warning("CoinGecko %s could not be refreshed (%s): using the cache", what, exc)
            return value in entry.values
        raise _api_error(exc, what) from exc
    cache.set(key, _Reference(time.time(), values), timeout=REFERENCE_KEEP_SECONDS)
    return value in values


async def _fetch_coin_ids() -> frozenset[str]:
    async with coingecko_client() as client:
        return frozenset(coin.id for coin in await client.coins_list())


async def _fetch_currencies() -> frozenset[str]:
    async with coingecko_client() as client:
        return frozenset(code.lower() for code in await client.supported_vs_currencies())


def _api_error(exc: UpstreamError, what: str) -> ServiceUnavailable | UpstreamFailed:
    """Unreachable or rate-limited CoinGecko is a 503 with Retry-After; a broken answer 502."""
    if isinstance(exc, UpstreamRateLimited):
        retry_after = int(exc.retry_after or UNAVAILABLE_RETRY_AFTER_SECONDS)
        return ServiceUnavailable(
            f"CoinGecko is rate limiting us, so {what} cannot be checked now; try again later.",
            retry_after=retry_after,
            code="upstream_rate_limited",
        )
    if exc.retryable:
        return ServiceUnavailable(
            f"CoinGecko cannot be reached, so {what} cannot be checked now; try again later.",
            retry_after=UNAVAILABLE_RETRY_AFTER_SECONDS,
            code="upstream_unavailable",
        )
    logger.error("CoinGecko answered %s badly: %s", what, exc)
    return UpstreamFailed(f"CoinGecko answered an error for {what}.", code="upstream_error")
