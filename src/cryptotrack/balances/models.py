"""What KuCoin last said about an exchange account's money, and when to ask again.

Keyed on :class:`~cryptotrack.accounts.models.ExchangeAccount`, not on the user: a user
with several accounts (main, sub-accounts) has balances per account.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from cryptotrack.accounts.models import ExchangeAccount


def amount_field(*, null: bool = False) -> Any:
    # KuCoin quotes balances with up to 8-10 decimals and ratios with 10; room for both.
    return models.DecimalField(max_digits=40, decimal_places=18, null=null, blank=null)


class BalanceRefresh(models.Model):
    """An account's balance schedule (``next_refresh_at``, claimed by the poller) and the
    outcome of its last refresh. ``refreshed_at`` is the ``as_of`` of the stored balances."""

    account = models.OneToOneField(
        ExchangeAccount,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="balance_refresh",
    )
    next_refresh_at = models.DateTimeField()
    refreshed_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error_kind = models.CharField(max_length=40, blank=True)
    last_error_message = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"balances of account {self.account_id} (as of {self.refreshed_at})"


class SpotBalance(models.Model):
    """One spot-side account (``GET /api/v1/accounts``): a currency in a ``type`` of
    account (``main``, ``trade``, ``margin``, …)."""

    account = models.ForeignKey(
        ExchangeAccount, on_delete=models.CASCADE, related_name="spot_balances"
    )
    currency = models.CharField(max_length=32)
    type = models.CharField(max_length=32)
    balance = amount_field()
    available = amount_field()
    holds = amount_field()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "currency", "type"], name="one_spot_balance_per_currency_type"
            )
        ]
        ordering = ["currency", "type"]

    def __str__(self) -> str:
        return f"{self.balance} {self.currency} ({self.type}) of account {self.account_id}"


class FuturesOverview(models.Model):
    """The futures account in one settle currency (``GET /api/v1/account-overview``)."""

    account = models.OneToOneField(
        ExchangeAccount,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="futures_overview",
    )
    currency = models.CharField(max_length=16)
    account_equity = amount_field()
    available_balance = amount_field()
    margin_balance = amount_field()
    position_margin = amount_field()
    order_margin = amount_field()
    frozen_funds = amount_field()
    unrealised_pnl = amount_field()
    risk_ratio = amount_field(null=True)
    max_withdraw_amount = amount_field(null=True)

    def __str__(self) -> str:
        return f"{self.account_equity} {self.currency} futures equity of {self.account_id}"
