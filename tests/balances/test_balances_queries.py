"""Reading balances costs a fixed number of queries, however many accounts are listed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import caches

from cryptotrack.accounts.models import ExchangeAccount
from cryptotrack.balances import selectors
from cryptotrack.balances.storage import BalanceOutcome, cache_key, record_balances
from cryptotrack.exchanges.kucoin import FuturesAccountOverview, SpotAccount

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _account(user: Any) -> ExchangeAccount:
    return ExchangeAccount.objects.create(
        user=user,
        api_key_encrypted="x",
        api_secret_encrypted="x",
        api_passphrase_encrypted="x",
        api_key_hint="…abcd",
    )


def _outcome(account: ExchangeAccount, n: int) -> BalanceOutcome:
    spot = [
        SpotAccount(f"{n}-{c}", c, "trade", Decimal(n), Decimal(n), Decimal(0))
        for c in ("USDT", "BTC", "ETH")
    ]
    futures = FuturesAccountOverview(
        "USDT", *(Decimal(n),) * 7, risk_ratio=None, max_withdraw_amount=Decimal(n)
    )
    return BalanceOutcome(account.pk, spot=spot, futures=futures)


def _refreshed_accounts(make_user: Callable[..., Any], count: int) -> list[ExchangeAccount]:
    from cryptotrack.balances.refresh import claim_due_balances

    accounts = [_account(make_user()) for _ in range(count)]
    claim_due_balances([a.pk for a in accounts], now=NOW)
    record_balances([_outcome(a, n + 1) for n, a in enumerate(accounts)], now=NOW)
    return accounts


def _page(accounts: list[ExchangeAccount]) -> list[ExchangeAccount]:
    return list(
        ExchangeAccount.objects.filter(pk__in=[a.pk for a in accounts])
        .select_related("balance_refresh", "futures_overview")
        .order_by("id")
    )


@pytest.mark.parametrize("count", [1, 8])
def test_a_page_read_from_the_database_costs_one_query_whatever_its_size(
    make_user: Callable[..., Any], django_assert_num_queries: Any, count: int
) -> None:
    page = _page(_refreshed_accounts(make_user, count))
    caches["live"].delete_many([cache_key(a.pk) for a in page])

    with django_assert_num_queries(1):  # the spot balances of the page, prefetched
        balances = selectors.account_balances(accounts=page)

    assert balances.source == "database"
    assert [len(r["spot"]) for r in balances.results] == [3] * count
    assert balances.results[-1]["futures"]["account_equity"] == str(count)


@pytest.mark.parametrize("count", [1, 8])
def test_a_page_from_the_cache_costs_no_query(
    make_user: Callable[..., Any], django_assert_num_queries: Any, count: int
) -> None:
    page = _page(_refreshed_accounts(make_user, count))

    with django_assert_num_queries(0):
        balances = selectors.account_balances(accounts=page)

    assert balances.source == "cache"
    assert len(balances.results) == count


@pytest.mark.parametrize("cached", [True, False])
def test_the_endpoint_costs_a_fixed_number_of_queries(
    make_user: Callable[..., Any],
    client_for: Callable[[Any], Any],
    django_assert_num_queries: Any,
    cached: bool,
) -> None:
    (account,) = _refreshed_accounts(make_user, 1)
    client = client_for(account.user)
    client.get("/api/v1/balances")  # warms what authentication caches
    if not cached:
        caches["live"].delete(cache_key(account.pk))

    # the user behind the token, the page of accounts (not full: no count query; + their
    # spot balances when read from the database)
    with django_assert_num_queries(2 if cached else 3):
        body = client.get("/api/v1/balances").json()

    assert body["source"] == ("cache" if cached else "database")
    assert body["results"][0]["spot"][0] == {
        "currency": "BTC",
        "type": "trade",
        "balance": "1",
        "available": "1",
        "holds": "0",
    }
