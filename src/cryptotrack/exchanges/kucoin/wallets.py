"""The futures account overview (``GET /api/v1/account-overview``) as a typed value.

Kept apart from :mod:`.models` (positions, spot accounts, key info), which is long enough.
Amounts are ``Decimal`` like every KuCoin amount here; ``riskRatio`` and
``maxWithdrawAmount`` are optional (older answers and some currencies lack them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cryptotrack.exchanges.errors import UpstreamBadResponse
from cryptotrack.exchanges.kucoin.models import to_decimal


@dataclass(frozen=True, slots=True)
class FuturesAccountOverview:
    """One currency's futures account: equity = margin balance + unrealised PnL; what is
    available once position margin, order margin and frozen funds are set aside."""

    currency: str
    account_equity: Decimal
    unrealised_pnl: Decimal
    margin_balance: Decimal
    position_margin: Decimal
    order_margin: Decimal
    frozen_funds: Decimal
    available_balance: Decimal
    risk_ratio: Decimal | None
    max_withdraw_amount: Decimal | None


def parse_futures_account_overview(data: Any, *, currency: str) -> FuturesAccountOverview:
    """The ``data`` object of ``GET /api/v1/account-overview``; ``currency`` (what was
    asked) stands in when the answer does not name its own."""
    if not isinstance(data, Mapping):
        raise _bad(f"account overview is {type(data).__name__}, expected an object")

    def required(key: str) -> Decimal:
        if data.get(key) is None:
            raise _bad(f"missing {key!r}")
        return to_decimal(data[key], key)

    def optional(key: str) -> Decimal | None:
        raw = data.get(key)
        return None if raw is None or raw == "" else to_decimal(raw, key)

    return FuturesAccountOverview(
        currency=str(data.get("currency") or currency),
        account_equity=required("accountEquity"),
        unrealised_pnl=required("unrealisedPNL"),
        margin_balance=required("marginBalance"),
        position_margin=required("positionMargin"),
        order_margin=required("orderMargin"),
        frozen_funds=required("frozenFunds"),
        available_balance=required("availableBalance"),
        risk_ratio=optional("riskRatio"),
        max_withdraw_amount=optional("maxWithdrawAmount"),
    )


def _bad(what: str) -> UpstreamBadResponse:
    return UpstreamBadResponse(f"KuCoin answer does not match the contract: {what}", status=200)
