"""What the KuCoin simulator knows of KuCoin itself: the futures contracts, the fields of its
position answers, its fees and margins, and how it writes numbers.

Pure constants and arithmetic helpers; the world that uses them is :mod:`.state`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

# Field sets of KuCoin's own examples (tests/fixtures/upstream/kucoin_futures_*.json):
# isolated positions carry margin details that cross positions do not, the list adds
# isInverse, the single-symbol answer adds riskLimitLevel.
CROSS_LIST_FIELDS = [
    "id",
    "symbol",
    "crossMode",
    "delevPercentage",
    "openingTimestamp",
    "currentTimestamp",
    "currentQty",
    "currentCost",
    "currentComm",
    "unrealisedCost",
    "realisedGrossCost",
    "realisedCost",
    "isOpen",
    "markPrice",
    "markValue",
    "posCost",
    "posInit",
    "posMargin",
    "realisedGrossPnl",
    "realisedPnl",
    "unrealisedPnl",
    "unrealisedPnlPcnt",
    "unrealisedRoePcnt",
    "avgEntryPrice",
    "liquidationPrice",
    "bankruptPrice",
    "settleCurrency",
    "isInverse",
    "marginMode",
    "positionSide",
    "leverage",
]
ISOLATED_LIST_FIELDS = [
    "id",
    "symbol",
    "autoDeposit",
    "crossMode",
    "maintMarginReq",
    "riskLimit",
    "realLeverage",
    "delevPercentage",
    "openingTimestamp",
    "currentTimestamp",
    "currentQty",
    "currentCost",
    "currentComm",
    "unrealisedCost",
    "realisedGrossCost",
    "realisedCost",
    "isOpen",
    "markPrice",
    "markValue",
    "posCost",
    "posCross",
    "posCrossMargin",
    "posInit",
    "posComm",
    "posCommCommon",
    "posLoss",
    "posMargin",
    "posFunding",
    "posMaint",
    "maintMargin",
    "realisedGrossPnl",
    "realisedPnl",
    "unrealisedPnl",
    "unrealisedPnlPcnt",
    "unrealisedRoePcnt",
    "avgEntryPrice",
    "liquidationPrice",
    "bankruptPrice",
    "settleCurrency",
    "isInverse",
    "maintainMargin",
    "marginMode",
    "positionSide",
    "leverage",
]


def _single_fields(list_fields: list[str]) -> list[str]:
    fields = [f for f in list_fields if f != "isInverse"]
    anchor = fields.index("marginMode")
    return [*fields[:anchor], "riskLimitLevel", *fields[anchor:]]


ISOLATED_SINGLE_FIELDS = _single_fields(ISOLATED_LIST_FIELDS)
CROSS_SINGLE_FIELDS = _single_fields(CROSS_LIST_FIELDS)

# Permissions KuCoin's spec lists for the endpoints we serve.
ALL_PERMISSIONS = (
    "General",
    "Spot",
    "Margin",
    "Futures",
    "Earn",
    "InnerTransfer",
    "Transfer",
    "FlexTransfers",
    "LeadtradeFutures",
)

TAKER_FEE = Decimal("0.0006")
FEE_RESERVE = Decimal("0.0008")  # what KuCoin holds back in posComm for closing fees
MAINT_MARGIN_REQ = Decimal("0.005")
VALUE_PLACES = Decimal("1E-10")
PCNT_PLACES = Decimal("0.0001")
LEVERAGE_PLACES = Decimal("0.01")


@dataclass(frozen=True)
class Contract:
    """What the simulator knows of a futures contract (from KuCoin's contracts list)."""

    symbol: str
    multiplier: Decimal  # base units per contract (linear) or USD per contract (inverse)
    settle_currency: str
    is_inverse: bool
    tick_size: Decimal
    default_price: Decimal


CONTRACTS: dict[str, Contract] = {
    c.symbol: c
    for c in (
        Contract("XBTUSDTM", Decimal("0.001"), "USDT", False, Decimal("0.1"), Decimal("67000")),
        Contract("ETHUSDTM", Decimal("0.01"), "USDT", False, Decimal("0.01"), Decimal("2450")),
        Contract("SOLUSDTM", Decimal("0.1"), "USDT", False, Decimal("0.001"), Decimal("150")),
        Contract("XRPUSDTM", Decimal("10"), "USDT", False, Decimal("0.0001"), Decimal("0.55")),
        Contract("XBTUSDM", Decimal("1"), "XBT", True, Decimal("0.1"), Decimal("67000")),
        Contract("ETHUSDM", Decimal("1"), "ETH", True, Decimal("0.01"), Decimal("2450")),
    )
}


def contract_for(symbol: str) -> Contract:
    """The known contract, or a plausible one for an unknown symbol (linear, 1 per lot)."""
    known = CONTRACTS.get(symbol)
    if known is not None:
        return known
    if symbol.endswith("USDM"):
        return Contract(symbol, Decimal("1"), symbol[:-4], True, Decimal("0.01"), Decimal("100"))
    settle = "USDC" if symbol.endswith("USDCM") else "USDT"
    return Contract(symbol, Decimal("1"), settle, False, Decimal("0.01"), Decimal("100"))


def rounded(value: Decimal, places: Decimal = VALUE_PLACES) -> float:
    """``value`` rounded half-up to ``places``, as the float KuCoin's JSON carries."""
    return float(value.quantize(places, rounding=ROUND_HALF_UP))


def on_tick(value: Decimal, tick: Decimal) -> float:
    """A price on the contract's tick (0 for a price that cannot be: bankrupt at 0)."""
    if value <= 0:
        return 0.0
    return float((value / tick).to_integral_value(ROUND_HALF_UP) * tick)


def plain(value: Decimal) -> str:
    """A Decimal as KuCoin writes amounts in strings: no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return text
