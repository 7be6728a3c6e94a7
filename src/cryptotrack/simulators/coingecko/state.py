"""What the CoinGecko simulator knows: coins, a scriptable price table, keys, a rate limit.

Prices are Decimals and stay exact all the way to the JSON answer. The default table is
static (alerts tests want to know the price); scripts move it with ``set_price``. All
methods are thread-safe: the server thread answers while a test thread scripts.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Context, Decimal

_SIGNIFICANT = Context(prec=12)
WINDOW_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class CoinInfo:
    """A listed coin: ``id`` (what ``ids=`` takes), ``symbol``, ``name``, and for the
    optional ``include_*`` fields a circulating supply, a daily volume in coins and a 24 h
    change in percent."""

    id: str
    symbol: str
    name: str
    supply: Decimal = Decimal(0)
    daily_volume: Decimal = Decimal(0)
    change_24h: Decimal = Decimal(0)


# (id, symbol, name, USD price, circulating supply, coins traded per day, 24 h change %)
DEFAULT_COINS: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("bitcoin", "btc", "Bitcoin", "67187.3358936566", "19614025", "465280", "3.63727894677354"),
    ("ethereum", "eth", "Ethereum", "3501.27436178", "120072544", "4712000", "2.1043321"),
    ("solana", "sol", "Solana", "151.829113", "444021366", "21500000", "-1.2851906"),
    ("tether", "usdt", "Tether", "1.000312", "104012455911", "41200000000", "0.0101331"),
    ("binancecoin", "bnb", "BNB", "585.12093", "153856150", "1610000", "0.8812"),
    ("ripple", "xrp", "XRP", "0.521345", "55218325486", "2310000000", "-0.4471"),
    ("cardano", "ada", "Cardano", "0.452111", "35481614328", "651000000", "1.0231"),
    ("dogecoin", "doge", "Dogecoin", "0.153412", "143602816384", "6130000000", "4.78301"),
    ("litecoin", "ltc", "Litecoin", "81.2211", "74555187", "4220000", "-0.9121"),
    ("polkadot", "dot", "Polkadot", "6.87119", "1437381917", "28300000", "0.3211"),
)
# Units of each vs-currency per US dollar (crypto vs-currencies follow the coin prices).
DEFAULT_FIAT_PER_USD: dict[str, str] = {
    "usd": "1",
    "eur": "0.92593",
    "gbp": "0.78740",
    "jpy": "151.21",
    "chf": "0.89286",
    "cad": "1.3699",
    "aud": "1.5152",
    "cny": "7.2464",
    "inr": "83.412",
}
DEFAULT_CRYPTO_VS: dict[str, str] = {"btc": "bitcoin", "eth": "ethereum", "ltc": "litecoin"}


class CoinGeckoState:
    """Coins, prices, accepted keys and the per-minute limit of one simulator instance.

    ``api_keys=None`` accepts requests with any key or none (like the keyless public API);
    a set of keys makes a key mandatory. ``per_minute=None`` means no rate limit; otherwise
    each key (or the keyless caller) gets that many calls in any sliding 60 s window.
    """

    def __init__(
        self,
        *,
        api_keys: Iterable[str] | None = None,
        per_minute: int | None = None,
        clock: Callable[[], float] = time.time,
        history: int = 100,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.api_keys: frozenset[str] | None = None
        self.per_minute: int | None = None
        self._usage: dict[str, deque[float]] = {}
        self.rate_limited = 0
        self.simple_price_requests: deque[dict[str, list[str]]] = deque(maxlen=history)
        self.coins: dict[str, CoinInfo] = {}
        self.currencies: list[str] = []
        self.prices: dict[tuple[str, str], Decimal] = {}
        self.updated_at: dict[str, int] = {}
        self.set_api_keys(api_keys)
        self.set_rate_limit(per_minute)
        self.reset()

    # -- prices ----------------------------------------------------------------------

    def reset(self) -> None:
        """Default coins, currencies and prices; no usage, no recorded requests."""
        now = int(self._clock())
        coins: dict[str, CoinInfo] = {}
        usd: dict[str, Decimal] = {}
        for coin_id, symbol, name, price, supply, volume, change in DEFAULT_COINS:
            coins[coin_id] = CoinInfo(
                coin_id, symbol, name, Decimal(supply), Decimal(volume), Decimal(change)
            )
            usd[coin_id] = Decimal(price)
        per_usd = {code: Decimal(rate) for code, rate in DEFAULT_FIAT_PER_USD.items()}
        per_usd.update({code: 1 / usd[coin] for code, coin in DEFAULT_CRYPTO_VS.items()})
        prices = {
            (coin_id, code): _convert(usd_price, factor)
            for coin_id, usd_price in usd.items()
            for code, factor in per_usd.items()
        }
        with self._lock:
            self.coins = coins
            self.currencies = [*DEFAULT_CRYPTO_VS, *DEFAULT_FIAT_PER_USD]
            self.prices = prices
            self.updated_at = dict.fromkeys(coins, now)
            self._usage.clear()
            self.rate_limited = 0
            self.simple_price_requests.clear()

    def set_price(self, coin: str, currency: str, price: Decimal | None) -> None:
        """Set (or with ``None`` remove) one price; unknown coins and currencies get listed."""
        coin, currency = coin.strip().lower(), currency.strip().lower()
        if not coin or not currency:
            raise ValueError("coin and currency must be non-empty")
        if price is not None and (not price.is_finite() or price < 0):
            raise ValueError("a price is a finite, non-negative number")
        with self._lock:
            if price is None:
                self.prices.pop((coin, currency), None)
                return
            if coin not in self.coins:
                self.coins[coin] = CoinInfo(coin, coin[:5], coin.replace("-", " ").title())
            if currency not in self.currencies:
                self.currencies.append(currency)
            self.prices[(coin, currency)] = price
            self.updated_at[coin] = int(self._clock())

    def add_coin(self, coin_id: str, symbol: str, name: str) -> None:
        """List a coin (without prices) in ``/coins/list``."""
        with self._lock:
            self.coins[coin_id] = CoinInfo(coin_id, symbol, name)
            self.updated_at.setdefault(coin_id, int(self._clock()))

    def price_table(self) -> dict[str, dict[str, str]]:
        """``{coin: {currency: "decimal string"}}`` of every price (JSON-ready, exact)."""
        with self._lock:
            table: dict[str, dict[str, str]] = {}
            for (coin, currency), price in self.prices.items():
                table.setdefault(coin, {})[currency] = str(price)
            return table

    def simple_price(
        self,
        ids: list[str],
        vs_currencies: list[str],
        *,
        market_cap: bool = False,
        volume: bool = False,
        change: bool = False,
        last_updated: bool = False,
        precision: int | None = None,
    ) -> dict[str, dict[str, Decimal | int]]:
        """The ``/simple/price`` document: known ids only, each with its known currencies."""
        with self._lock:
            self.simple_price_requests.append({"ids": ids, "vs_currencies": vs_currencies})
            answer: dict[str, dict[str, Decimal | int]] = {}
            for coin_id in ids:
                info = self.coins.get(coin_id)
                if info is None or coin_id in answer:
                    continue
                entry: dict[str, Decimal | int] = {}
                for currency in vs_currencies:
                    price = self.prices.get((coin_id, currency))
                    if price is None:
                        continue
                    entry[currency] = _round(price, precision)
                    if market_cap:
                        entry[f"{currency}_market_cap"] = _round(price * info.supply, 2)
                    if volume:
                        entry[f"{currency}_24h_vol"] = _round(price * info.daily_volume, 4)
                    if change:
                        entry[f"{currency}_24h_change"] = info.change_24h
                if last_updated:
                    entry["last_updated_at"] = self.updated_at.get(coin_id, 0)
                answer[coin_id] = entry
            return answer

    # -- keys and rate limit -----------------------------------------------------------

    def set_api_keys(self, keys: Iterable[str] | None) -> None:
        """Require one of ``keys`` from now on, or (``None``) accept any key or none."""
        self.api_keys = None if keys is None else frozenset(keys)

    def set_rate_limit(self, per_minute: int | None) -> None:
        """Calls allowed per caller per minute (``None`` = unlimited); usage is kept."""
        if per_minute is not None and per_minute < 0:
            raise ValueError("per_minute must be >= 0 (or null for unlimited)")
        self.per_minute = per_minute

    def reset_rate_limit(self) -> None:
        """Forget every caller's usage in the last minute."""
        with self._lock:
            self._usage.clear()
            self.rate_limited = 0

    def consume(self, caller: str) -> int | None:
        """Count one call; if the limit refuses it, return the seconds until a slot frees up.

        A sliding window (calls in the last 60 s) rather than calendar minutes, so a burst
        never gets through by straddling a minute boundary, and tests are not flaky near one.
        """
        now = self._clock()
        with self._lock:
            calls = self._usage.setdefault(caller, deque())
            while calls and calls[0] <= now - WINDOW_SECONDS:
                calls.popleft()
            if self.per_minute is not None and len(calls) >= self.per_minute:
                self.rate_limited += 1
                oldest = calls[0] if calls else now
                return max(1, math.ceil(oldest + WINDOW_SECONDS - now))
            calls.append(now)
            return None

    def usage(self) -> dict[str, int]:
        """Calls per caller in the last 60 s."""
        since = self._clock() - WINDOW_SECONDS
        with self._lock:
            counts = {c: sum(1 for t in calls if t > since) for c, calls in self._usage.items()}
            return {c: n for c, n in counts.items() if n}

    def coin_list(self) -> list[dict[str, str]]:
        """The ``/coins/list`` document."""
        with self._lock:
            return [{"id": c.id, "symbol": c.symbol, "name": c.name} for c in self.coins.values()]

    def supported(self) -> list[str]:
        """The ``/simple/supported_vs_currencies`` document."""
        with self._lock:
            return list(self.currencies)


def _convert(usd_price: Decimal, per_usd: Decimal) -> Decimal:
    # USD prices keep their recorded digits; the rest get 12 significant ones, like the API.
    if per_usd == 1:
        return usd_price
    return _SIGNIFICANT.multiply(usd_price, per_usd).normalize(_SIGNIFICANT)


def _round(value: Decimal, places: int | None) -> Decimal:
    if places is None:
        return value
    return value.quantize(Decimal(1).scaleb(-places))
