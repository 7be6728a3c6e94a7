"""The freshness flag of GET /api/v1/positions, from the cache and from the database.

Each reason is checked on both read paths: with Redis up (a database read refills the
cache, the next read is a cache hit) and with Redis down (every read is the database's).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import caches
from django.utils import timezone

from cryptotrack.accounts import services as accounts
from cryptotrack.accounts.user_cache import cache_key
from cryptotrack.exchanges.kucoin import KucoinCredentials
from cryptotrack.positions import cache, services
from cryptotrack.positions.models import Position, TrackingSubscription
from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.support.tracking import poll as _poll
from tests.support.tracking import track as _track

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["redis up", "redis down"])
def redis_state(request: pytest.FixtureRequest, settings: Any) -> str:
    """Redis down: the live cache points at a port nobody listens on."""
    if request.param == "redis down":
        settings.CACHES = {
            **settings.CACHES,
            "live": {
                "BACKEND": "cryptotrack.core.cache.ResilientRedisCache",
                "LOCATION": "redis://127.0.0.1:9/0",
                "KEY_PREFIX": "freshness-redis-down",
                "OPTIONS": {"SOCKET_TIMEOUT": 0.25, "BREAKER_SECONDS": 60.0},
            },
        }
    return str(request.param)


def _reads(client: Any, redis_state: str, query: str = "") -> list[dict[str, Any]]:
    """Two answers in a row: with Redis up the first may be the database's (after an
    invalidation) and the second is the cache's; with Redis down both are the database's."""
    answers = []
    for _ in range(2):
        response = client.get(f"/api/v1/positions{query}")
        assert response.status_code == 200, response.content
        answers.append(response.json())
    expected = "cache" if redis_state == "redis up" else "database"
    assert answers[1]["source"] == expected
    return answers


@pytest.fixture
def polled(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator, client_for: Any
) -> tuple[Any, TrackingSubscription, Any]:
    """A trader with one position, tracked and polled once."""
    trader = make_trader()
    kucoin_sim.open_position(trader.api_key, "XBTUSDTM", size=1)
    subscription = _track(trader)
    _poll(subscription)
    return trader, subscription, client_for(trader.user)


def test_fresh_positions_are_not_stale(
    polled: tuple[Any, TrackingSubscription, Any], redis_state: str
) -> None:
    _trader, subscription, client = polled
    for answer in _reads(client, redis_state):
        assert answer["stale"] is False
        assert answer["stale_reason"] is None
        [account] = answer["accounts"]
        assert account == {
            "id": subscription.account_id,
            "label": "default",
            "as_of": answer["as_of"],
            "tracking": "active",
            "tracking_error": None,
            "stale": False,
            "stale_reason": None,
        }


def test_no_successful_poll_for_two_intervals_is_outdated(
    polled: tuple[Any, TrackingSubscription, Any], redis_state: str
) -> None:
    trader, subscription, client = polled
    # The last successful poll, three intervals ago (a worker down since then).
    long_ago = timezone.now() - 3 * subscription.interval
    Position.objects.filter(user=trader.user).update(seen_at=long_ago)
    TrackingSubscription.objects.filter(id=subscription.id).update(last_success_at=long_ago)
    cache.drop_user(trader.user.pk)  # what the cache's expiry does after four intervals

    for answer in _reads(client, redis_state):
        assert answer["stale"] is True
        assert answer["stale_reason"] == "outdated"
        assert answer["accounts"][0]["tracking"] == "active"


def test_paused_tracking_is_stale_with_its_error(
    polled: tuple[Any, TrackingSubscription, Any], redis_state: str, kucoin_sim: KucoinSimulator
) -> None:
    trader, subscription, client = polled
    kucoin_sim.remove_key(trader.api_key)  # KuCoin now refuses it: tracking pauses
    _poll(subscription)

    for answer in _reads(client, redis_state):
        assert answer["count"] == 1  # the positions last seen are still shown
        assert answer["stale"] is True
        assert answer["stale_reason"] == "tracking_paused"
        [account] = answer["accounts"]
        assert (account["tracking"], account["tracking_error"]) == (
            "paused",
            "invalid_credentials",
        )


def test_stopped_tracking_is_stale_and_a_restart_is_fresh_again(
    polled: tuple[Any, TrackingSubscription, Any], redis_state: str
) -> None:
    trader, subscription, client = polled
    _reads(client, redis_state)  # cached as active

    services.stop_tracking(user=trader.user)
    for answer in _reads(client, redis_state):
        assert answer["stale"] is True
        assert answer["stale_reason"] == "tracking_stopped"
        assert answer["accounts"][0]["tracking"] == "stopped"

    services.start_tracking(user=trader.user, symbols=[])
    _poll(TrackingSubscription.objects.get(id=subscription.id))
    for answer in _reads(client, redis_state):
        assert answer["stale"] is False
        assert answer["accounts"][0]["tracking"] == "active"


def _hedge_account(trader: Any, kucoin_sim: KucoinSimulator, key: tuple[str, str, str]) -> Any:
    """A second exchange account of the trader, labelled ``hedge``, with its own key."""
    kucoin_sim.add_key(*key)
    hedge = accounts.exchange_account_store(
        user=trader.user, credentials=KucoinCredentials(*key), label="hedge"
    )
    accounts.exchange_account_check(account=hedge)
    return hedge


def test_a_paused_account_without_positions_is_stale_also_after_another_account_polls(
    make_trader: Callable[..., Any],
    kucoin_sim: KucoinSimulator,
    client_for: Any,
    redis_state: str,
) -> None:
    trader = make_trader()
    client = client_for(trader.user)
    hedge_key = ("key-empty-000001", "secret-empty-000001", "pass-empty")
    hedge = _hedge_account(trader, kucoin_sim, hedge_key)
    kucoin_sim.open_position(trader.api_key, "XBTUSDTM", size=1)
    main_tracking = _track(trader)
    hedge_tracking, _ = services.start_tracking(user=trader.user, account=hedge, symbols=[])
    kucoin_sim.remove_key(hedge_key[0])
    _poll(main_tracking, hedge_tracking)  # the hedge account pauses, holding nothing
    cache.drop_user(trader.user.pk)  # the hash expired: the next poll starts a new one
    _poll(main_tracking)

    for answer in _reads(client, redis_state):
        assert answer["count"] == 1
        assert answer["stale_reason"] == "tracking_paused"
        assert [(a["label"], a["tracking"], a["tracking_error"]) for a in answer["accounts"]] == [
            ("default", "active", None),
            ("hedge", "paused", "invalid_credentials"),
        ]


def test_one_stale_account_of_two_and_the_account_filter(
    make_trader: Callable[..., Any],
    kucoin_sim: KucoinSimulator,
    client_for: Any,
    redis_state: str,
) -> None:
    trader = make_trader()
    client = client_for(trader.user)
    main = trader.user.exchange_accounts.get()
    other_key = ("key-hedge-000001", "secret-hedge-000001", "pass-hedge")
    hedge = _hedge_account(trader, kucoin_sim, other_key)
    kucoin_sim.open_position(trader.api_key, "XBTUSDTM", size=1)
    kucoin_sim.open_position(other_key[0], "ETHUSDTM", size=2)
    for account in (main, hedge):
        subscription, _ = services.start_tracking(user=trader.user, account=account, symbols=[])
        _poll(subscription)
    services.stop_tracking(user=trader.user, account=hedge)

    for answer in _reads(client, redis_state):
        assert answer["count"] == 2
        assert answer["stale"] is True
        assert answer["stale_reason"] == "tracking_stopped"
        assert [(a["label"], a["stale"]) for a in answer["accounts"]] == [
            ("default", False),
            ("hedge", True),
        ]
    for answer in _reads(client, redis_state, f"?account={main.pk}"):
        assert answer["stale"] is False
        assert [a["id"] for a in answer["accounts"]] == [main.pk]
    for answer in _reads(client, redis_state, f"?account={hedge.pk}&symbol=ETHUSDTM"):
        assert answer["stale_reason"] == "tracking_stopped"
        assert answer["count"] == 1


def test_a_cache_hit_with_freshness_costs_no_query(
    polled: tuple[Any, TrackingSubscription, Any], django_assert_num_queries: Any
) -> None:
    trader, _subscription, client = polled
    services.stop_tracking(user=trader.user)
    _reads(client, "redis up")  # refilled from the database, as stopped
    caches["live"].delete(cache_key(trader.user.pk))
    assert client.get("/api/v1/positions").status_code == 200  # fills the user cache

    with django_assert_num_queries(0):
        answer = client.get("/api/v1/positions").json()

    assert (answer["source"], answer["stale_reason"]) == ("cache", "tracking_stopped")
