"""Figures derived from a position as the API answers it (decimal strings): what a trader
reads beside the raw numbers. Pure arithmetic, no query; ``None`` when not computable.

``static/web/js/positions.js`` computes the same for the rows it receives live.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any


def _decimal(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None
    return number if number is not None and number.is_finite() else None


def liquidation_distance_percent(row: dict[str, Any]) -> Decimal | None:
    """How far the mark price is from the liquidation price, in % of the mark price."""
    mark, liquidation = _decimal(row.get("mark_price")), _decimal(row.get("liquidation_price"))
    if mark is None or liquidation is None or mark <= 0 or liquidation <= 0:
        return None
    return abs(mark - liquidation) / mark * 100


def roe_percent(row: dict[str, Any]) -> Decimal | None:
    """Return on equity: the price move since entry times the leverage, in %, signed for
    the side (KuCoin's ROE, fees aside)."""
    entry, mark = _decimal(row.get("entry_price")), _decimal(row.get("mark_price"))
    leverage = _decimal(row.get("leverage"))
    if entry is None or mark is None or leverage is None or entry <= 0:
        return None
    move = (mark - entry) / entry * leverage * 100
    return -move if row.get("side") == "short" else move
