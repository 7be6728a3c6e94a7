"""Balances refreshed by real polls against the KuCoin simulator, served by the API.

Polls run through the batch poller in process (as tests/positions/test_polling.py does;
the Celery task is a three-line wrapper around it).
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from cryptotrack.balances.models import BalanceRefresh
from cryptotrack.positions import polling, services
from cryptotrack.positions.models import Position, TrackingSubscription
from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.support.processes import RedisServer

pytestmark = pytest.mark.django_db(transaction=True)

OVERVIEW = "/api/v1/account-overview"


def _track(trader: Any) -> TrackingSubscription:
    subscription, _ = services.start_tracking(user=trader.user, symbols=[])
    return subscription


def _poll(*subscriptions: TrackingSubscription) -> polling.BatchSummary:
    """Poll these subscriptions in one batch, each in a fresh slot."""
    slot = timezone.now()
    return polling.poll_batch(batch=[(s.id, slot.isoformat()) for s in subscriptions])


def _balances(client: Any, query: str = "") -> dict[str, Any]:
    response = client.get(f"/api/v1/balances{query}")
    assert response.status_code == 200, response.content
    return response.json()


def _fund(sim: KucoinSimulator, api_key: str) -> None:
    sim.set_balance(api_key, "USDT", "2500.5", account_type="trade", holds="120")
    sim.set_balance(api_key, "BTC", "0.0125", account_type="main")
    sim.set_balance(api_key, "ETH", "0", account_type="trade")
    sim.set_futures_balance(api_key, "1000", order_margin="12.5")
    sim.open_position(api_key, "XBTUSDTM", size=2, entry_price=60000, mark_price=61000)


def test_a_poll_stores_balances_that_match_the_simulator(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator, client_for: Any
) -> None:
    trader = make_trader()
    _fund(kucoin_sim, trader.api_key)
    before = timezone.now()

    _poll(_track(trader))

    body = _balances(client_for(trader.user))
    assert (body["count"], body["page"], body["source"]) == (1, 1, "cache")
    (result,) = body["results"]
    account = trader.user.exchange_accounts.get()
    assert result["account"] == {"id": account.pk, "label": "default"}
    assert result["as_of"].endswith("Z")
    assert result["last_error"] is None
    assert result["spot"] == [
        {
            "currency": "BTC",
            "type": "main",
            "balance": "0.0125",
            "available": "0.0125",
            "holds": "0",
        },
        {
            "currency": "USDT",
            "type": "trade",
            "balance": "2500.5",
            "available": "2380.5",
            "holds": "120",
        },
    ]
    theirs = kucoin_sim.set_futures_balance(trader.api_key, "1000", order_margin="12.5")
    futures = result["futures"]
    assert futures["currency"] == "USDT"
    for ours, kucoin_name in [
        ("account_equity", "accountEquity"),
        ("available_balance", "availableBalance"),
        ("margin_balance", "marginBalance"),
        ("position_margin", "positionMargin"),
        ("order_margin", "orderMargin"),
        ("frozen_funds", "frozenFunds"),
        ("unrealised_pnl", "unrealisedPNL"),
        ("risk_ratio", "riskRatio"),
        ("max_withdraw_amount", "maxWithdrawAmount"),
    ]:
        assert Decimal(futures[ours]) == Decimal(str(theirs[kucoin_name])), ours
    assert Decimal(futures["account_equity"]) == 1000 + Decimal(futures["unrealised_pnl"]) > 1000
    assert BalanceRefresh.objects.get().refreshed_at >= before


def test_balances_are_read_once_per_refresh_interval_not_on_every_poll(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator, client_for: Any, settings: Any
) -> None:
    settings.BALANCES_REFRESH_SECONDS = 300
    trader = make_trader()
    _fund(kucoin_sim, trader.api_key)
    subscription = _track(trader)

    _poll(subscription)
    kucoin_sim.set_balance(trader.api_key, "BTC", "0.5", account_type="main")
    _poll(subscription)
    _poll(subscription)

    assert kucoin_sim.request_count(api_key=trader.api_key, path="/api/v1/positions") == 3
    assert kucoin_sim.request_count(api_key=trader.api_key, path=OVERVIEW) == 1
    assert kucoin_sim.request_count(api_key=trader.api_key, path="/api/v1/accounts") == 1
    client = client_for(trader.user)
    first = _balances(client)["results"][0]
    assert first["spot"][0]["balance"] == "0.0125"
    refresh = BalanceRefresh.objects.get()
    assert refresh.next_refresh_at >= refresh.refreshed_at + timedelta(seconds=299)

    # The interval passes (the schedule row says so; no sleeping).
    BalanceRefresh.objects.update(next_refresh_at=timezone.now() - timedelta(seconds=1))
    _poll(subscription)

    assert kucoin_sim.request_count(api_key=trader.api_key, path=OVERVIEW) == 2
    second = _balances(client)["results"][0]
    assert second["spot"][0]["balance"] == "0.5"
    assert second["as_of"] > first["as_of"]


def test_a_failed_positions_poll_reads_no_balances(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator, client_for: Any
) -> None:
    trader = make_trader()
    kucoin_sim.inject_fault("error", api_key=trader.api_key, path="/api/v1/positions", status=500)

    _poll(_track(trader))

    assert kucoin_sim.request_count(api_key=trader.api_key, path=OVERVIEW) == 0
    (result,) = _balances(client_for(trader.user))["results"]
    assert (result["as_of"], result["spot"], result["futures"]) == (None, [], None)


@pytest.mark.parametrize(
    ("status", "kind"), [(503, "unavailable"), (500, "unavailable"), (429, "rate_limited")]
)
def test_a_balance_endpoint_failure_leaves_positions_tracking_untouched(
    make_trader: Callable[..., Any],
    kucoin_sim: KucoinSimulator,
    client_for: Any,
    status: int,
    kind: str,
) -> None:
    failing, healthy = make_trader(), make_trader()
    for trader in (failing, healthy):
        _fund(kucoin_sim, trader.api_key)
    kucoin_sim.inject_fault("error", api_key=failing.api_key, path=OVERVIEW, status=status)

    summary = _poll(_track(failing), _track(healthy))

    assert (summary.polled, summary.failed) == (2, 0)
    for trader in (failing, healthy):
        row = TrackingSubscription.objects.get(user=trader.user)
        assert (row.state, row.last_error_kind, row.consecutive_failures) == ("active", "", 0)
        assert Position.objects.filter(user=trader.user).count() == 1
    (failed,) = _balances(client_for(failing.user))["results"]
    assert failed["as_of"] is None
    assert failed["last_error"]["kind"] == kind
    assert failed["last_error"]["at"].endswith("Z")
    assert BalanceRefresh.objects.get(account__user=failing.user).consecutive_failures == 1
    (fine,) = _balances(client_for(healthy.user))["results"]
    assert fine["last_error"] is None
    assert fine["futures"]["margin_balance"] == "1000"


def test_a_later_success_clears_the_error_and_keeps_serving_the_last_balances(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator, client_for: Any
) -> None:
    trader = make_trader()
    _fund(kucoin_sim, trader.api_key)
    subscription = _track(trader)
    _poll(subscription)
    client = client_for(trader.user)
    good = _balances(client)["results"][0]

    kucoin_sim.inject_fault("error", api_key=trader.api_key, path="/api/v1/accounts", status=503)
    BalanceRefresh.objects.update(next_refresh_at=timezone.now())
    _poll(subscription)
    failed = _balances(client)["results"][0]
    assert failed["last_error"]["kind"] == "unavailable"
    assert (failed["as_of"], failed["spot"], failed["futures"]) == (
        good["as_of"],
        good["spot"],
        good["futures"],
    )

    kucoin_sim.clear_faults()
    BalanceRefresh.objects.update(next_refresh_at=timezone.now())
    _poll(subscription)
    again = _balances(client)["results"][0]
    assert again["last_error"] is None
    assert again["as_of"] > good["as_of"]


def test_zero_spot_balances_are_hidden_unless_asked_for(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator, client_for: Any
) -> None:
    trader = make_trader()
    _fund(kucoin_sim, trader.api_key)
    _poll(_track(trader))
    client = client_for(trader.user)

    hidden = _balances(client)["results"][0]["spot"]
    shown = _balances(client, "?include_zero=true")["results"][0]["spot"]
    assert "ETH" not in [s["currency"] for s in hidden]
    assert [s for s in shown if s["currency"] == "ETH"] == [
        {"currency": "ETH", "type": "trade", "balance": "0", "available": "0", "holds": "0"}
    ]
    assert _balances(client, "?include_zero=false")["results"][0]["spot"] == hidden

    garbage = client.get("/api/v1/balances?include_zero=maybe")
    assert garbage.status_code == 400
    assert garbage.json()["code"] == "invalid"
    assert "include_zero" in garbage.json()["errors"]


def test_each_user_sees_only_their_own_accounts_balances(
    make_trader: Callable[..., Any],
    kucoin_sim: KucoinSimulator,
    client_for: Any,
    make_user: Callable[..., Any],
) -> None:
    alice, bob = make_trader(), make_trader()
    _fund(kucoin_sim, alice.api_key)
    kucoin_sim.set_futures_balance(bob.api_key, "7")
    _poll(_track(alice), _track(bob))

    bobs = _balances(client_for(bob.user))
    assert [r["account"]["id"] for r in bobs["results"]] == [bob.user.exchange_accounts.get().pk]
    assert bobs["results"][0]["spot"] == []
    assert bobs["results"][0]["futures"]["account_equity"] == "7"
    nobody = _balances(client_for(make_user()))
    assert (nobody["count"], nobody["results"]) == (0, [])


def test_balances_need_a_token_and_a_read_only_api_key_may_read_them(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator, client_for: Any, api_client: Any
) -> None:
    from rest_framework.test import APIClient

    trader = make_trader()
    _poll(_track(trader))
    key = (
        client_for(trader.user)
        .post("/api/v1/me/api-keys", {"name": "reader"}, format="json")
        .json()["key"]
    )

    anonymous = api_client.get("/api/v1/balances")
    assert anonymous.status_code == 401
    assert "WWW-Authenticate" in anonymous
    with_key = APIClient(HTTP_X_API_KEY=key).get("/api/v1/balances")
    assert with_key.status_code == 200
    assert with_key.json()["count"] == 1


def test_redis_down_serves_balances_from_the_database(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator, client_for: Any, settings: Any
) -> None:
    with RedisServer() as redis:
        settings.CACHES = {
            **settings.CACHES,
            "live": {
                "BACKEND": "cryptotrack.core.cache.ResilientRedisCache",
                "LOCATION": redis.url,
                "KEY_PREFIX": "balances-redis-down",
                "OPTIONS": {"SOCKET_TIMEOUT": 0.25, "BREAKER_SECONDS": 1.0},
            },
        }
        trader = make_trader()
        _fund(kucoin_sim, trader.api_key)
        _poll(_track(trader))
        client = client_for(trader.user)
        cached = _balances(client)
        assert cached["source"] == "cache"

        redis.kill(signal.SIGKILL)
        from_database = _balances(client)

        assert from_database["source"] == "database"
        assert from_database["results"] == cached["results"]
