"""Recording balance refreshes in the database and writing them through to the cache.

Same pattern as positions (positions/storage.py): the database holds the truth, one
transaction per flush; then each refreshed account's API representation goes to the
``live`` cache in one round trip, read back by :mod:`.selectors` with the database as
the fallback.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import transaction
from django.db.models import F, prefetch_related_objects

from cryptotrack.accounts.models import ExchangeAccount
from cryptotrack.balances.models import BalanceRefresh, FuturesOverview, SpotBalance
from cryptotrack.balances.representations import FUTURES_FIELDS, account_balances_payload
from cryptotrack.exchanges import kucoin
from cryptotrack.exchanges.errors import UpstreamError

_SPOT_UPDATED = ["balance", "available", "holds"]
# Every column of the overview is the API's, so an update writes what the API shows.
_FUTURES_UPDATED = list(FUTURES_FIELDS)


@dataclass(frozen=True)
class BalanceOutcome:
    """What one refresh of one account produced: both answers, or the error it met."""

    account_id: int
    spot: list[kucoin.SpotAccount] | None = None
    futures: kucoin.FuturesAccountOverview | None = None
    error: UpstreamError | None = None


def cache_key(account_id: int) -> str:
    return f"balances:v1:{account_id}"


def cache_timeout() -> int:
    # Outlives a few missed refreshes; an account no longer polled ages out of the cache.
    return settings.BALANCES_REFRESH_SECONDS * 4


def record_balances(outcomes: list[BalanceOutcome], *, now: datetime) -> None:
    """Store a flush of refresh outcomes: balances of those that succeeded (replacing the
    previous ones), the failure of the others (their balances stay as they were), then
    each account's representation in the cache."""
    if not outcomes:
        return
    succeeded = [o for o in outcomes if o.error is None]
    with transaction.atomic():
        _store_spot(succeeded)
        _store_futures(succeeded)
        _update_refreshes(outcomes, now=now)
    payloads = {
        cache_key(payload["account"]["id"]): payload
        for payload in balances_from_database([o.account_id for o in outcomes])
    }
    caches["live"].set_many(payloads, timeout=cache_timeout())


def _store_spot(succeeded: list[BalanceOutcome]) -> None:
    rows = [
        SpotBalance(
            account_id=o.account_id,
            currency=a.currency,
            type=a.type,
            balance=a.balance,
            available=a.available,
            holds=a.holds,
        )
        for o in succeeded
        for a in o.spot or ()
    ]
    # Currencies KuCoin no longer lists are gone; the rest are upserted in one statement.
    listed = {(row.account_id, row.currency, row.type) for row in rows}
    stale = [
        row_id
        for row_id, account_id, currency, kind in SpotBalance.objects.filter(
            account_id__in=[o.account_id for o in succeeded]
        ).values_list("id", "account_id", "currency", "type")
        if (account_id, currency, kind) not in listed
    ]
    if stale:
        SpotBalance.objects.filter(id__in=stale).delete()
    if rows:
        SpotBalance.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["account", "currency", "type"],
            update_fields=_SPOT_UPDATED,
        )


def _store_futures(succeeded: list[BalanceOutcome]) -> None:
    rows = [
        FuturesOverview(
            account_id=o.account_id,
            **{name: getattr(o.futures, name) for name in _FUTURES_UPDATED},
        )
        for o in succeeded
        if o.futures is not None
    ]
    if rows:
        FuturesOverview.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["account"],
            update_fields=_FUTURES_UPDATED,
        )


def _update_refreshes(outcomes: list[BalanceOutcome], *, now: datetime) -> None:
    succeeded = [o.account_id for o in outcomes if o.error is None]
    if succeeded:
        BalanceRefresh.objects.filter(account_id__in=succeeded).update(
            refreshed_at=now,
            last_attempt_at=now,
            consecutive_failures=0,
            last_error_kind="",
            last_error_message="",
            last_error_at=None,
        )
    for outcome in outcomes:
        if outcome.error is None:
            continue
        BalanceRefresh.objects.filter(account_id=outcome.account_id).update(
            last_attempt_at=now,
            consecutive_failures=F("consecutive_failures") + 1,
            last_error_kind=outcome.error.kind,
            last_error_message=outcome.error.message[:2000],
            last_error_at=now,
        )


def balances_from_database(
    account_ids: Iterable[int] | None = None, *, accounts: list[ExchangeAccount] | None = None
) -> list[dict[str, Any]]:
    """The accounts' representations read from the database (two queries): by id, or for
    ``accounts`` already loaded with ``balance_refresh`` and ``futures_overview``."""
    if accounts is None:
        accounts = list(
            ExchangeAccount.objects.filter(id__in=list(account_ids or ()))
            .select_related("balance_refresh", "futures_overview")
            .prefetch_related("spot_balances")
            .order_by("id")
        )
    else:
        prefetch_related_objects(accounts, "spot_balances")
    return [
        account_balances_payload(
            account,
            refresh=getattr(account, "balance_refresh", None),
            spot=list(account.spot_balances.all()),
            futures=getattr(account, "futures_overview", None),
        )
        for account in accounts
    ]


def cached_balances(account_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The accounts' representations found in the cache (none when Redis is down)."""
    found = caches["live"].get_many([cache_key(i) for i in account_ids])
    return {
        i: found[cache_key(i)] for i in account_ids if isinstance(found.get(cache_key(i)), dict)
    }


def refill_cache(payloads: list[dict[str, Any]]) -> None:
    """Put representations read from the database into the cache, never over a fresher
    one a worker wrote meanwhile (``add``); only accounts refreshed at least once."""
    cache = caches["live"]
    for payload in payloads:
        if payload["as_of"] is not None:
            cache.add(cache_key(payload["account"]["id"]), payload, timeout=cache_timeout())
