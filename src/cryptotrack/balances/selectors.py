"""Reads of balances: a user's exchange accounts with their balances, cache first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from cryptotrack.accounts.models import ExchangeAccount, User
from cryptotrack.balances.representations import account_ref, is_zero
from cryptotrack.balances.storage import balances_from_database, cached_balances, refill_cache
from cryptotrack.core import metrics


@dataclass(frozen=True)
class AccountBalances:
    """One page of accounts' balances and where they were read from."""

    results: list[dict[str, Any]]
    source: str  # "cache" when every account came from the cache, else "database"


def balance_accounts(*, user: User) -> QuerySet[ExchangeAccount]:
    """The user's exchange accounts, in the order they were added, with what a database
    read of their balances needs joined in (no extra query per account)."""
    return (
        ExchangeAccount.objects.filter(user=user)
        .select_related("balance_refresh", "futures_overview")
        # Listing balances has no use for the (encrypted) credentials.
        .defer("api_key_encrypted", "api_secret_encrypted", "api_passphrase_encrypted")
        .order_by("id")
    )


def account_balances(
    *, accounts: list[ExchangeAccount], include_zero: bool = False
) -> AccountBalances:
    """Balances of ``accounts`` (one page of :func:`balance_accounts`): from the cache,
    else (miss, Redis down) from the database, refilling the cache for the next read.
    Spot balances of zero are left out unless ``include_zero``."""
    cached = cached_balances([account.pk for account in accounts])
    missing = [account for account in accounts if account.pk not in cached]
    metrics.record_cache_read("balances", hit=not missing)
    from_database = {}
    if missing:
        payloads = balances_from_database(accounts=missing)
        refill_cache(payloads)
        from_database = {payload["account"]["id"]: payload for payload in payloads}
    results = []
    for account in accounts:
        payload = cached.get(account.pk) or from_database[account.pk]
        # The account as it is now (a label renamed since the refresh shows at once).
        payload = {**payload, "account": account_ref(account)}
        if not include_zero:
            payload = {**payload, "spot": [s for s in payload["spot"] if not is_zero(s)]}
        results.append(payload)
    return AccountBalances(results=results, source="database" if missing else "cache")
