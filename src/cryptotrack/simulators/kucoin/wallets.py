"""The simulator's futures wallets: ``GET /api/v1/account-overview`` and its control API.

A key's futures account per settle currency is a wallet balance (plus what open orders and
withdrawals hold, set by hand: the simulator has no orders); everything else KuCoin reports
is derived, when a request asks, from that balance and the key's open positions settling in
that currency, with the same numbers ``GET /api/v1/positions`` shows for them:

* ``unrealisedPNL`` = the sum of the positions' ``unrealisedPnl``
* ``accountEquity`` = balance + unrealisedPNL
* ``marginBalance`` = the wallet balance (KuCoin: equity without the unrealised PnL)
* ``positionMargin`` = the sum of the positions' ``posMargin``
* ``availableBalance`` = balance + min(unrealisedPNL, 0) - positionMargin - orderMargin
  - frozenFunds, never below 0 (an unrealised profit cannot be spent; a loss reduces it)
* ``maxWithdrawAmount`` = availableBalance
* ``riskRatio`` = maintenance margin (the positions' ``|posCost|`` times the maintenance
  margin rate) / accountEquity (0 without equity)

Field names, order and JSON types are those of KuCoin's recorded example
(tests/fixtures/upstream/kucoin_futures_account_overview.json).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from cryptotrack.simulators.control import json_handler, parse_decimal
from cryptotrack.simulators.kucoin.contracts import MAINT_MARGIN_REQ, contract_for, rounded
from cryptotrack.simulators.kucoin.keys import SimFuturesWallet, SimKey

if TYPE_CHECKING:
    from cryptotrack.simulators.kucoin.state import SimulatorState

# KuCoin's default when the request names no currency (its spec: "Default XBT").
DEFAULT_CURRENCY = "XBT"
RATIO_PLACES = Decimal("1E-10")


def set_futures_balance(
    state: SimulatorState,
    api_key: str,
    balance: Decimal | str | float,
    *,
    currency: str = "USDT",
    order_margin: Decimal | str | float = 0,
    frozen_funds: Decimal | str | float = 0,
) -> dict[str, Any]:
    """Set the key's futures wallet in ``currency``; return its account overview."""
    values = [Decimal(str(v)) for v in (balance, order_margin, frozen_funds)]
    if any(v < 0 for v in values):
        raise ValueError("balance, order_margin and frozen_funds must be >= 0")
    if not currency:
        raise ValueError("currency must be non-empty")
    with state.lock:
        key = state.key(api_key)
        key.futures_wallets[currency] = SimFuturesWallet(currency, *values)
        return account_overview_payload(state, key, currency=currency)


def account_overview_payload(
    state: SimulatorState, key: SimKey, *, currency: str | None = None
) -> dict[str, Any]:
    """``GET /api/v1/account-overview`` data of ``key`` in ``currency`` (see the module
    docstring); an account never funded answers zeros, as KuCoin does."""
    currency = currency or DEFAULT_CURRENCY
    with state.lock:
        wallet = key.futures_wallets.get(currency) or SimFuturesWallet(currency)
        positions = [
            state.position_payload(key, symbol, single=False)
            for symbol in key.positions
            if contract_for(symbol).settle_currency == currency
        ]
    upnl = _sum(positions, "unrealisedPnl")
    position_margin = _sum(positions, "posMargin")
    maintenance = sum(
        (abs(Decimal(str(p["posCost"]))) * MAINT_MARGIN_REQ for p in positions), Decimal(0)
    )
    equity = wallet.balance + upnl
    available = max(
        wallet.balance
        + min(upnl, Decimal(0))
        - position_margin
        - wallet.order_margin
        - wallet.frozen_funds,
        Decimal(0),
    )
    risk_ratio = maintenance / equity if equity > 0 else Decimal(0)
    return {
        "accountEquity": rounded(equity),
        "unrealisedPNL": rounded(upnl),
        "marginBalance": rounded(wallet.balance),
        "positionMargin": rounded(position_margin),
        "orderMargin": rounded(wallet.order_margin),
        "frozenFunds": rounded(wallet.frozen_funds),
        "availableBalance": rounded(available),
        "currency": currency,
        "riskRatio": rounded(risk_ratio, RATIO_PLACES),
        "maxWithdrawAmount": rounded(available),
    }


def _sum(positions: list[dict[str, Any]], name: str) -> Decimal:
    # The payload's rounded floats, so the overview adds up to what /positions shows.
    return sum((Decimal(str(p.get(name) or 0)) for p in positions), Decimal(0))


def add_wallet_routes(app: web.Application, state: SimulatorState, *, prefix: str) -> None:
    """``PUT {prefix}/keys/{key}/futures-balance`` ``{balance, currency?, order_margin?,
    frozen_funds?}`` -> the overview; ``GET`` the same path ``?currency=`` reads it."""

    def futures_balance(body: dict[str, Any], request: web.Request) -> Any:
        api_key = request.match_info["api_key"]
        currency = str(body.get("currency") or "USDT")
        if request.method == "GET":
            with state.lock:
                return account_overview_payload(state, state.key(api_key), currency=currency)
        if "balance" not in body:
            raise ValueError("missing 'balance'")
        return set_futures_balance(
            state,
            api_key,
            parse_decimal(body["balance"], "balance"),
            currency=currency,
            order_margin=parse_decimal(body.get("order_margin", 0), "order_margin"),
            frozen_funds=parse_decimal(body.get("frozen_funds", 0), "frozen_funds"),
        )

    path = f"{prefix}/keys/{{api_key}}/futures-balance"
    app.router.add_put(path, json_handler(futures_balance))
    app.router.add_get(path, json_handler(futures_balance))
