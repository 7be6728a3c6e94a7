"""KuCoin's public spot market data: the level-1 ticker, typed.

``GET /api/v1/market/orderbook/level1?symbol=BTC-USDT`` ("Get Ticker",
https://www.kucoin.com/docs/rest/spot-trading/market-data/get-ticker) needs no key; its
``data`` carries every number as a string (``time`` is epoch ms). A symbol KuCoin does not
list comes back as HTTP 200 ``{"code": "400100", "msg": "This pair is not provided at
present"}`` or, on some gateways, as a success whose ``data`` is ``null``: both raise
:class:`KucoinUnknownSymbol`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from cryptotrack.exchanges.errors import UpstreamBadResponse, UpstreamRequestRejected

LEVEL1_PATH = "/api/v1/market/orderbook/level1"
# KuCoin's code for a bad parameter; on the ticker the symbol is the only one.
PARAMETER_ERROR_CODE = "400100"


class KucoinUnknownSymbol(UpstreamRequestRejected):
    """KuCoin lists no spot market of that symbol (a pair it does not trade)."""

    kind = "unknown_symbol"


@dataclass(frozen=True, slots=True)
class SpotTicker:
    """One level-1 snapshot of a spot market: last trade and the best of each side."""

    symbol: str
    sequence: str
    price: Decimal  # last traded price
    size: Decimal  # last traded size
    best_bid: Decimal
    best_bid_size: Decimal
    best_ask: Decimal
    best_ask_size: Decimal
    time: datetime


def parse_level1_ticker(data: Any, *, symbol: str) -> SpotTicker:
    """The ticker of ``symbol`` from the envelope's ``data``; ``None`` (KuCoin's answer for an
    unlisted symbol on some gateways) raises :class:`KucoinUnknownSymbol`, anything else
    that breaks the documented shape :class:`UpstreamBadResponse`."""
    where = f"GET {LEVEL1_PATH}?symbol={symbol}"
    if data is None:
        raise KucoinUnknownSymbol(f"KuCoin lists no market {symbol} ({where})", status=200)
    if not isinstance(data, Mapping):
        raise UpstreamBadResponse(f"KuCoin {where}: data is not an object", status=200)
    raw_time = data.get("time")
    if isinstance(raw_time, bool) or not isinstance(raw_time, int | Decimal | str):
        raise UpstreamBadResponse(f"KuCoin {where}: time is missing", status=200)
    try:
        stamp = datetime.fromtimestamp(int(Decimal(str(raw_time))) / 1000, tz=UTC)
    except (InvalidOperation, ValueError, OverflowError) as exc:
        raise UpstreamBadResponse(f"KuCoin {where}: time {raw_time!r} is no epoch ms") from exc
    return SpotTicker(
        symbol=symbol,
        sequence=str(data.get("sequence", "")),
        price=_price(data, "price", where),
        size=_amount(data, "size", where),
        best_bid=_price(data, "bestBid", where),
        best_bid_size=_amount(data, "bestBidSize", where),
        best_ask=_price(data, "bestAsk", where),
        best_ask_size=_amount(data, "bestAskSize", where),
        time=stamp,
    )


def _amount(data: Mapping[str, Any], name: str, where: str) -> Decimal:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise UpstreamBadResponse(f"KuCoin {where}: {name} is missing", status=200)
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise UpstreamBadResponse(f"KuCoin {where}: {name} {value!r} is no number") from exc
    if not number.is_finite() or number < 0:
        raise UpstreamBadResponse(f"KuCoin {where}: {name} {value!r} is out of range")
    return number


def _price(data: Mapping[str, Any], name: str, where: str) -> Decimal:
    number = _amount(data, name, where)
    if number == 0:
        # KuCoin's listed-but-untraded markets answer zeros: no price to record.
        raise UpstreamBadResponse(f"KuCoin {where}: {name} is 0 (no trade yet)", status=200)
    return number
