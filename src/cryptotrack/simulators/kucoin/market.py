"""The KuCoin simulator's public market data: the level-1 ticker of spot symbols.

``GET /api/v1/market/orderbook/level1?symbol=BTC-USDT`` ("Get Ticker",
https://www.kucoin.com/docs/rest/spot-trading/market-data/get-ticker): public, no key and
no signature, weight 2 in the Public pool (per IP). Its ``data`` is KuCoin's documented
object, every number a string but ``time`` (epoch ms)::

    {"sequence": "1550467636704", "price": "0.03715005", "size": "0.17",
     "bestAsk": "0.03715004", "bestAskSize": "1.788", "bestBid": "0.03710768",
     "bestBidSize": "3.803", "time": 1550653727731}

A symbol KuCoin does not list answers HTTP 200 with ``{"code": "400100", "msg": "This
pair is not provided at present"}`` — what KuCoin's public market endpoints answer for an
unknown pair (observed on ``/api/v1/market/candles``; see docs/upstream.md). Prices are
set by the control API (``POST /_sim/tickers``); each change bumps the symbol's
``sequence`` and stamps ``time`` with the simulated clock.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aiohttp import web

from cryptotrack.simulators.control import json_handler

LEVEL1_PATH = "/api/v1/market/orderbook/level1"
PAIR_NOT_PROVIDED_CODE = "400100"
PAIR_NOT_PROVIDED_MSG = "This pair is not provided at present"

# A fresh simulator prices the spot symbols the live feed asks for by default.
DEFAULT_TICKERS: Mapping[str, Decimal] = {
    "BTC-USDT": Decimal("60000"),
    "ETH-USDT": Decimal("3000"),
    "SOL-USDT": Decimal("150"),
}
# The book's best bid / ask sit this far below / above the last price unless set.
DEFAULT_HALF_SPREAD = Decimal("0.1")


class PairNotProvided(LookupError):
    """The simulator lists no ticker for the symbol (KuCoin's 400100 answer)."""


@dataclass(frozen=True, slots=True)
class SimTicker:
    symbol: str
    price: Decimal
    size: Decimal
    best_bid: Decimal
    best_bid_size: Decimal
    best_ask: Decimal
    best_ask_size: Decimal
    sequence: int
    time_ms: int

    def payload(self) -> dict[str, Any]:
        """KuCoin's ``data`` object for this ticker (numbers as strings, like KuCoin)."""
        return {
            "sequence": str(self.sequence),
            "price": _plain(self.price),
            "size": _plain(self.size),
            "bestBid": _plain(self.best_bid),
            "bestBidSize": _plain(self.best_bid_size),
            "bestAsk": _plain(self.best_ask),
            "bestAskSize": _plain(self.best_ask_size),
            "time": self.time_ms,
        }


class TickerBook:
    """The level-1 tickers of the simulated spot market, safe across threads."""

    def __init__(self, *, now_ms: Callable[[], int]) -> None:
        self._now_ms = now_ms
        self._lock = threading.Lock()
        self._sequences = itertools.count(1550467636704)
        self._tickers: dict[str, SimTicker] = {}
        self.reset()

    def reset(self) -> None:
        """Back to :data:`DEFAULT_TICKERS` only."""
        with self._lock:
            self._tickers.clear()
        for symbol, price in DEFAULT_TICKERS.items():
            self.set(symbol, price)

    def set(
        self,
        symbol: str,
        price: Decimal,
        *,
        best_bid: Decimal | None = None,
        best_ask: Decimal | None = None,
        size: Decimal = Decimal("0.01"),
    ) -> SimTicker:
        """List ``symbol`` (``BTC-USDT``) at ``price``; bid/ask default to ±0.1 around it."""
        if price <= 0:
            raise ValueError("price must be > 0")
        with self._lock:
            ticker = SimTicker(
                symbol=symbol,
                price=price,
                size=size,
                best_bid=best_bid if best_bid is not None else price - DEFAULT_HALF_SPREAD,
                best_bid_size=Decimal("1.5"),
                best_ask=best_ask if best_ask is not None else price + DEFAULT_HALF_SPREAD,
                best_ask_size=Decimal("0.8"),
                sequence=next(self._sequences),
                time_ms=self._now_ms(),
            )
            self._tickers[symbol] = ticker
            return ticker

    def drift(self, rng: Any, volatility: float) -> None:
        """Move every listed price by a Gaussian step of ``volatility`` (relative), as the
        simulator's ``drift`` moves mark prices: a live page fed by it keeps moving."""
        with self._lock:
            current = {symbol: t.price for symbol, t in self._tickers.items()}
        for symbol, price in current.items():
            step = Decimal(str(rng.gauss(0.0, volatility)))
            places = Decimal("0.01") if price >= 1 else Decimal("0.00000001")
            self.set(symbol, max(price * (1 + step), price / 2).quantize(places))

    def remove(self, symbol: str) -> None:
        """Delist ``symbol``: it then answers KuCoin's 400100."""
        with self._lock:
            self._tickers.pop(symbol, None)

    def level1(self, symbol: str) -> dict[str, Any]:
        """The ``data`` of ``GET /api/v1/market/orderbook/level1?symbol=``; raises
        :class:`PairNotProvided` for an unlisted symbol."""
        with self._lock:
            ticker = self._tickers.get(symbol)
        if ticker is None:
            raise PairNotProvided(symbol)
        return ticker.payload()

    def snapshot(self) -> dict[str, str]:
        with self._lock:
            return {symbol: _plain(t.price) for symbol, t in self._tickers.items()}

    def apply_control(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A ``POST /_sim/tickers`` body: ``{symbol, price, best_bid?, best_ask?}`` or
        ``{"tickers": {symbol: price, ...}}``; returns the tickers set, as KuCoin shows them."""
        if "tickers" in body:
            wanted = body["tickers"]
            if not isinstance(wanted, Mapping) or not wanted:
                raise ValueError("tickers must be a non-empty object {symbol: price}")
            return {
                str(symbol): self.set(str(symbol), _decimal(price, "price")).payload()
                for symbol, price in wanted.items()
            }
        symbol = body.get("symbol")
        if not symbol or "price" not in body:
            raise ValueError("give symbol and price, or tickers")
        ticker = self.set(
            str(symbol),
            _decimal(body["price"], "price"),
            best_bid=_decimal(body["best_bid"], "best_bid") if "best_bid" in body else None,
            best_ask=_decimal(body["best_ask"], "best_ask") if "best_ask" in body else None,
        )
        return {ticker.symbol: ticker.payload()}


def add_ticker_routes(app: web.Application, book: TickerBook, *, prefix: str) -> None:
    """``GET|POST {prefix}/tickers`` (list / set) and ``DELETE {prefix}/tickers/{symbol}``."""

    def tickers(body: dict[str, Any], request: web.Request) -> Any:
        return book.snapshot() if request.method == "GET" else book.apply_control(body)

    def remove(body: dict[str, Any], request: web.Request) -> Any:
        book.remove(request.match_info["symbol"])
        return None

    app.router.add_get(f"{prefix}/tickers", json_handler(tickers))
    app.router.add_post(f"{prefix}/tickers", json_handler(tickers))
    app.router.add_delete(f"{prefix}/tickers/{{symbol}}", json_handler(remove))


def _decimal(value: Any, name: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except ArithmeticError as exc:
        raise ValueError(f"{name} must be a number, got {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"{name} must be finite")
    return result


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
