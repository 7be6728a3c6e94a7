"""Refreshing balances alongside the positions poll, at most every BALANCES_REFRESH_SECONDS.

The poller (positions/polling.py) calls :func:`refresh_due_balances` with the accounts
whose positions it has just read successfully: their key works and KuCoin answers, so the
balances ride on the same worker, loop, client and decrypted credentials, and no second
schedule has to be kept. Each account's ``BalanceRefresh`` row is its schedule: claimed
with ``SKIP LOCKED`` and moved one interval on before KuCoin is asked (as the dispatcher
does with subscriptions), so a redelivered or concurrent batch asks at most once per
interval. A failed refresh is retried one interval later, not at the next poll: a rate
limit or an outage is not helped by asking every 30 s.

A balance failure never fails the positions poll, nor anyone else's refresh: each account
is fetched on its own, its error recorded on its own row; anything unexpected is logged
and swallowed here.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.db.models import Case, Value, When
from django.utils import timezone

from cryptotrack.balances.models import BalanceRefresh
from cryptotrack.balances.storage import BalanceOutcome, record_balances
from cryptotrack.core import metrics
from cryptotrack.exchanges import kucoin
from cryptotrack.exchanges.errors import UpstreamError

logger = logging.getLogger(__name__)

# The settle currency of the linear (USDT-margined) contracts most traders hold.
FUTURES_CURRENCY = "USDT"

AccountCredentials = tuple[int, kucoin.KucoinCredentials]


def claim_due_balances(account_ids: list[int], *, now: datetime) -> list[int]:
    """Of ``account_ids``, those whose balances are due, each moved one interval on.

    An account seen for the first time gets its schedule row here, due at once; its next
    refresh is then one interval plus a phase of its own (0 to one interval, from its id)
    later. Without the phase, accounts that started together (every account, the day
    this shipped) would all refresh in the same poll cycle every interval, for good.
    """
    if not account_ids:
        return []
    # The common case (nothing due: balances are read every 10th poll) in one plain read.
    known = dict(
        BalanceRefresh.objects.filter(account_id__any_of=account_ids).values_list(
            "account_id", "next_refresh_at"
        )
    )
    new = [i for i in account_ids if i not in known]
    if new:
        BalanceRefresh.objects.bulk_create(
            [BalanceRefresh(account_id=i, next_refresh_at=now) for i in new],
            ignore_conflicts=True,
        )
    candidates = new + [i for i, due_at in known.items() if due_at <= now]
    if not candidates:
        return []
    with transaction.atomic():
        due = list(
            BalanceRefresh.objects.select_for_update(skip_locked=True)
            .filter(account_id__any_of=candidates, next_refresh_at__lte=now)
            .values_list("account_id", flat=True)
        )
        if due:
            interval = timedelta(seconds=settings.BALANCES_REFRESH_SECONDS)
            fresh = set(new)
            first = [i for i in due if i in fresh]
            next_at: Any = Value(now + interval)
            if first:
                next_at = Case(
                    *[When(account_id=i, then=Value(now + interval + _phase(i))) for i in first],
                    default=next_at,
                )
            BalanceRefresh.objects.filter(account_id__any_of=due).update(next_refresh_at=next_at)
    return due


def _phase(account_id: int) -> timedelta:
    # Knuth's multiplicative hash: consecutive ids land far apart within the interval.
    seconds = max(settings.BALANCES_REFRESH_SECONDS, 1)
    return timedelta(seconds=(account_id * 2654435761) % seconds)


async def fetch_balances(
    client: kucoin.KucoinClient, account_id: int, credentials: kucoin.KucoinCredentials
) -> BalanceOutcome:
    """Both balance calls of one account, concurrently; the first failure is its outcome."""
    spot, futures = await asyncio.gather(
        client.spot_accounts(credentials),
        client.futures_account_overview(credentials, currency=FUTURES_CURRENCY),
        return_exceptions=True,
    )
    for result in (spot, futures):
        if isinstance(result, UpstreamError):
            metrics.record_upstream_failure("kucoin", result.kind)
            return BalanceOutcome(account_id, error=result)
        if isinstance(result, BaseException):
            raise result
    assert isinstance(spot, list)  # noqa: S101 - narrowed for mypy
    assert isinstance(futures, kucoin.FuturesAccountOverview)  # noqa: S101
    return BalanceOutcome(account_id, spot=spot, futures=futures)


async def refresh_due_balances(
    client: kucoin.KucoinClient, polled: list[AccountCredentials]
) -> list[BalanceOutcome]:
    """Refresh and record the balances of those ``polled`` accounts that are due.

    ``polled``: (exchange account id, its credentials) of accounts whose positions poll
    just succeeded. Returns the outcomes (empty when none was due). Never raises but
    for cancellation: a balance problem must not touch the positions poll.
    """
    if not polled:
        return []
    try:
        due = await sync_to_async(claim_due_balances, thread_sensitive=True)(
            [account_id for account_id, _ in polled], now=timezone.now()
        )
        if not due:
            return []
        credentials = dict(polled)
        outcomes = list(
            await asyncio.gather(*(fetch_balances(client, i, credentials[i]) for i in due))
        )
        await sync_to_async(record_balances, thread_sensitive=True)(outcomes, now=timezone.now())
    except Exception:
        logger.exception("balance refresh of %d account(s) failed", len(polled))
        return []
    failed = sum(1 for o in outcomes if o.error is not None)
    logger.info("refreshed balances of %d account(s): %d failed", len(outcomes), failed)
    return outcomes
