"""KuCoin's public spot ticker as a keyless live source of quotes.

KuCoin quotes crypto against crypto and stablecoins, not against fiat: our ``BTC/USD`` is
its ``BTC-USDT`` market. We take USDT as USD on purpose — Tether trades within a fraction
of a percent of the dollar, a live chart cannot see that gap, and KuCoin's fiat (``-USD``)
markets are few and thin. A quote it gives is stored as ``BTC/USD`` with ``source:
"kucoin"``, so whoever needs the exact dollar record filters on ``alphavantage``. Any other
pair maps as written (``ETH/BTC`` -> ``ETH-BTC``); a market KuCoin does not list answers
its unknown-symbol error, which costs that pair only.

The level-1 ticker is per symbol, so a tick makes ONE request per pair (weight 2 each in
KuCoin's Public pool of 2,000 per 30 s); they go out concurrently over one connection pool.
``GET /api/v1/market/allTickers`` would price everything in one request, but it weighs 15
and returns ~1,000 markets to keep a handful: per-symbol requests are cheaper up to seven
pairs, which is far beyond what ``QUOTES_PAIRS`` holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from django.conf import settings

from cryptotrack.exchanges.errors import UpstreamError
from cryptotrack.exchanges.kucoin import KucoinClient, SpotTicker
from cryptotrack.quotes.pairs import Pair

# Our quote currency -> KuCoin's: it has no USD spot book worth the name (see above).
QUOTE_CURRENCY_ALIASES: dict[str, str] = {"USD": "USDT"}


def symbol_for(pair: Pair) -> str:
    """KuCoin's spot symbol of ``pair``: ``BTC/USD`` -> ``BTC-USDT``, ``ETH/BTC`` -> ``ETH-BTC``."""
    quote = QUOTE_CURRENCY_ALIASES.get(pair.to_currency, pair.to_currency)
    return f"{pair.from_currency}-{quote}"


def priceable(pair: Pair) -> bool:
    """Whether KuCoin may be asked for ``pair`` (any pair of two different codes: whether
    it lists the market only KuCoin knows, and an unlisted one fails alone)."""
    return symbol_for(pair).split("-") != [pair.from_currency] * 2


def fetch_tickers(
    pairs: Iterable[Pair],
) -> tuple[dict[Pair, SpotTicker], dict[Pair, UpstreamError]]:
    """The ticker of every pair KuCoin answered, and the typed error of every pair it did
    not: one request per pair, concurrently; one failing pair never hides the others."""
    wanted = [pair for pair in dict.fromkeys(pairs) if priceable(pair)]

    async def fetch_all() -> list[SpotTicker | BaseException]:
        async with KucoinClient(
            spot_url=settings.KUCOIN_SPOT_URL,
            timeout=settings.KUCOIN_TIMEOUT_SECONDS,
            # The next tick is the retry: a second try would only make this one late.
            max_attempts=1,
        ) as client:
            return await asyncio.gather(
                *(client.spot_ticker(symbol_for(pair)) for pair in wanted),
                return_exceptions=True,
            )

    if not wanted:
        return {}, {}
    tickers: dict[Pair, SpotTicker] = {}
    failures: dict[Pair, UpstreamError] = {}
    for pair, outcome in zip(wanted, asyncio.run(fetch_all()), strict=True):
        if isinstance(outcome, UpstreamError):
            failures[pair] = outcome
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            tickers[pair] = outcome
    return tickers, failures
