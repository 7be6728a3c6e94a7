"""The JSON shape of an account's balances, shared by the API and the cache.

One contract, one place: the cache holds exactly what the API answers per account (every
spot balance, zeros included; the API hides zeros unless asked), so a cache hit and a
database read cannot drift apart. Amounts are plain decimal strings (no exponent, no
trailing zeros), times ISO 8601 in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from cryptotrack.accounts.models import ExchangeAccount
from cryptotrack.balances.models import BalanceRefresh, FuturesOverview, SpotBalance

SPOT_FIELDS = ("currency", "type", "balance", "available", "holds")
FUTURES_FIELDS = (
    "currency",
    "account_equity",
    "available_balance",
    "margin_balance",
    "position_margin",
    "order_margin",
    "frozen_funds",
    "unrealised_pnl",
    "risk_ratio",
    "max_withdraw_amount",
)


def amount(value: Decimal | None) -> str | None:
    """A Decimal as an API amount: ``"26.66759503"``, ``"0"``, never ``"2.5E+3"``."""
    if value is None:
        return None
    text = f"{value.normalize():f}"
    return "0" if text in ("-0", "0") else text


def _time(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def account_ref(account: ExchangeAccount) -> dict[str, Any]:
    # ``label`` arrives with several accounts per user; until then every account is the
    # one signup and PUT /me/kucoin create, which issue 14 calls "default".
    return {"id": account.pk, "label": getattr(account, "label", "default")}


def spot_representation(row: SpotBalance) -> dict[str, Any]:
    return {
        "currency": row.currency,
        "type": row.type,
        "balance": amount(row.balance),
        "available": amount(row.available),
        "holds": amount(row.holds),
    }


def futures_representation(row: FuturesOverview | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        name: getattr(row, name) if name == "currency" else amount(getattr(row, name))
        for name in FUTURES_FIELDS
    }


def error_representation(refresh: BalanceRefresh | None) -> dict[str, Any] | None:
    if refresh is None or not refresh.last_error_kind:
        return None
    return {
        "kind": refresh.last_error_kind,
        "message": refresh.last_error_message,
        "at": _time(refresh.last_error_at),
    }


def account_balances_payload(
    account: ExchangeAccount,
    *,
    refresh: BalanceRefresh | None,
    spot: list[SpotBalance],
    futures: FuturesOverview | None,
) -> dict[str, Any]:
    """One account's result: ``{account, as_of, spot, futures, last_error}``."""
    return {
        "account": account_ref(account),
        "as_of": _time(refresh.refreshed_at if refresh else None),
        "spot": [spot_representation(row) for row in sorted(spot, key=_spot_order)],
        "futures": futures_representation(futures),
        "last_error": error_representation(refresh),
    }


def _spot_order(row: SpotBalance) -> tuple[str, str]:
    return row.currency, row.type


def is_zero(spot: dict[str, Any]) -> bool:
    """A spot balance with nothing in it (hidden unless ``include_zero``)."""
    return Decimal(spot["balance"]) == 0


# -- the contract, for the OpenAPI schema ------------------------------------------------


def _amount(**options: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=40, decimal_places=18, **options)


class BalanceAccountOutput(serializers.Serializer[Any]):
    """The exchange account the balances are of (positions' ``AccountRefOutput`` allows a
    null id, for history outliving its account; balances never do)."""

    id = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label


class SpotBalanceOutput(serializers.Serializer[Any]):
    currency = serializers.CharField()
    type = serializers.CharField(help_text="KuCoin's account type: main, trade, margin, …")
    balance = _amount()
    available = _amount()
    holds = _amount()


class FuturesOverviewOutput(serializers.Serializer[Any]):
    currency = serializers.CharField()
    account_equity = _amount(help_text="Margin balance plus unrealised PnL.")
    available_balance = _amount()
    margin_balance = _amount()
    position_margin = _amount()
    order_margin = _amount()
    frozen_funds = _amount()
    unrealised_pnl = _amount()
    risk_ratio = _amount(allow_null=True)
    max_withdraw_amount = _amount(allow_null=True)


class BalanceErrorOutput(serializers.Serializer[Any]):
    kind = serializers.CharField()
    message = serializers.CharField()
    at = serializers.DateTimeField()


class AccountBalancesOutput(serializers.Serializer[Any]):
    account = BalanceAccountOutput()
    as_of = serializers.DateTimeField(
        allow_null=True, help_text="When KuCoin was last read successfully; null: not yet."
    )
    spot = SpotBalanceOutput(many=True)
    futures = FuturesOverviewOutput(allow_null=True)
    last_error = BalanceErrorOutput(
        allow_null=True, help_text="The last refresh's failure, cleared by a success."
    )
