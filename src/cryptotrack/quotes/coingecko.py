"""CoinGecko as the second, keyless source of quotes: the live feed and the fallback.

Alpha Vantage's free tier allows 25 calls a day; CoinGecko's public ``/simple/price``
needs no key and prices many coins in many currencies in ONE request. It knows coins by
id (``bitcoin``), not by ticker, and tickers are ambiguous there (dozens of coins call
themselves ``BTC``-something), so the coins we ask it for are the explicit map
:data:`COIN_IDS`; the quote currency is any of its vs-currencies (``usd``, ``eur``,
``btc``...). A pair it cannot price (EUR/USD: a currency is no coin) is simply absent.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from cryptotrack.alerts.coingecko import fetch_prices
from cryptotrack.quotes.pairs import Pair

# Ticker -> CoinGecko coin id, for the coins Alpha Vantage's digital list and CoinGecko
# share under one unambiguous id (https://api.coingecko.com/api/v3/coins/list).
COIN_IDS: dict[str, str] = {
    "BTC": "bitcoin",
    "ETH": "ethereum",
    "SOL": "solana",
    "USDT": "tether",
    "BNB": "binancecoin",
    "XRP": "ripple",
    "ADA": "cardano",
    "DOGE": "dogecoin",
    "LTC": "litecoin",
    "DOT": "polkadot",
}


def priceable(pair: Pair) -> bool:
    """Whether CoinGecko can be asked for ``pair`` (a coin of :data:`COIN_IDS` priced in
    another currency)."""
    return pair.from_currency in COIN_IDS and pair.from_currency != pair.to_currency


def fetch_rates(pairs: Iterable[Pair]) -> dict[Pair, Decimal]:
    """The rate of every pair CoinGecko priced, in one batched request (none when no pair is
    priceable). Raises the client's typed UpstreamError."""
    wanted = {
        (COIN_IDS[pair.from_currency], pair.to_currency.lower()): pair
        for pair in pairs
        if priceable(pair)
    }
    if not wanted:
        return {}
    table = fetch_prices(wanted)
    return {wanted[key]: price for key, price in table.items() if key in wanted}
