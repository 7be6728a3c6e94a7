"""Figures derived from a position: what a trader reads beside the raw numbers, and what
position alerts compare. One definition each, used by the API's payload (so the web page
and ``/ws/positions`` show them as sent) and by ``alerts.position_evaluation``.

Pure arithmetic on decimals, no query; ``None`` when the figure cannot be known.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

# Places of a figure in the API (``"12.3456"``).
PLACES = 4


def liquidation_distance_percent(
    *, mark: Decimal | None, liquidation: Decimal | None
) -> Decimal | None:
    """How far the mark price is from the liquidation price, in % of the mark price."""
    if mark is None or liquidation is None or mark <= 0 or liquidation <= 0:
        return None
    return abs(mark - liquidation) / mark * 100


def roe_percent(*, unrealised_pnl: Decimal | None, margin: Decimal | None) -> Decimal | None:
    """Return on equity: the unrealised PnL in % of the margin the position holds
    (KuCoin's ``unrealisedPnl / posMargin``, as its app shows ROE)."""
    if unrealised_pnl is None or margin is None or margin <= 0:
        return None
    try:
        return Decimal(unrealised_pnl) / margin * 100
    except (InvalidOperation, ArithmeticError):
        return None


def as_text(value: Decimal | None) -> str | None:
    """A figure as the API writes it: ``PLACES`` decimals, or null."""
    if value is None or not value.is_finite():
        return None
    return f"{value.quantize(Decimal(1).scaleb(-PLACES)):f}"
