"""Tracking through real processes: Celery workers with beat, Redis, the KuCoin simulator.

Every worker and Redis here is started by the test on its own port and killed by PID.
Cadences are shortened (a 3 s interval) so a few intervals pass in seconds.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from django.core.cache import caches
from django.utils import timezone

from cryptotrack.positions import dispatch, services
from cryptotrack.positions.models import TrackingSubscription
from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.conftest import STRONG_PASSWORD
from tests.positions.test_polling import _poll, _positions
from tests.support.processes import AsgiServer, CeleryWorker, RedisServer, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

INTERVAL = 3


@pytest.fixture
def fast_tracking(
    settings: Any, kucoin_sim: KucoinSimulator, live_env: dict[str, str]
) -> dict[str, str]:
    """Settings and worker environment for a 3 s tracking interval against the simulator."""
    settings.TRACKING_INTERVAL_SECONDS = INTERVAL
    return live_env | {
        "KUCOIN_SPOT_URL": kucoin_sim.url,
        "KUCOIN_FUTURES_URL": kucoin_sim.url,
        "KUCOIN_TIMEOUT_SECONDS": "5",
        "TRACKING_INTERVAL_SECONDS": str(INTERVAL),
        "DISPATCH_TICK_SECONDS": "0.5",
        "POSITIONS_BATCH_SIZE": "10",
    }


def _polls(sim: KucoinSimulator, trader: Any) -> int:
    return sim.request_count(api_key=trader.api_key, path="/api/v1/positions")


def test_many_users_see_their_own_positions_within_one_interval(
    make_trader: Callable[..., Any],
    kucoin_sim: KucoinSimulator,
    client_for: Any,
    fast_tracking: dict[str, str],
) -> None:
    traders = [make_trader() for _ in range(24)]
    for n, trader in enumerate(traders):
        kucoin_sim.open_position(trader.api_key, "XBTUSDTM", size=n + 1)
    clients = [client_for(t.user) for t in traders]
    for client in clients:
        assert client.post("/api/v1/tracking", {}, format="json").status_code == 201

    with CeleryWorker(fast_tracking, beat=True):
        started = time.monotonic()
        for n, client in enumerate(clients):
            wait_until(
                lambda c=client: _positions(c)["count"] == 1, timeout=INTERVAL + 5, what="positions"
            )
            assert _positions(client)["results"][0]["size"].startswith(str(n + 1))
        assert time.monotonic() - started < INTERVAL + 5

        # A position opened, moved and closed on the exchange shows, changes and goes.
        first, client = traders[0], clients[0]
        kucoin_sim.open_position(first.api_key, "ETHUSDTM", side="short", size=4)
        wait_until(lambda: _positions(client)["count"] == 2, timeout=INTERVAL * 2, what="opened")
        kucoin_sim.set_mark_price("ETHUSDTM", 2500)
        wait_until(
            lambda: any(p["mark_price"].startswith("2500") for p in _positions(client)["results"]),
            timeout=INTERVAL * 2,
            what="moved",
        )
        kucoin_sim.close_position(first.api_key, "ETHUSDTM")
        wait_until(lambda: _positions(client)["count"] == 1, timeout=INTERVAL * 2, what="closed")

        # Over several intervals nobody is polled more than once per slot.
        before = [_polls(kucoin_sim, t) for t in traders]
        time.sleep(INTERVAL * 3)
        after = [_polls(kucoin_sim, t) for t in traders]
    for polled in (b - a for a, b in zip(before, after, strict=True)):
        assert 2 <= polled <= 4, (before, after)


def _worker_backends() -> dict[int, Any]:
    """The other sessions on the test database: backend pid -> when it started."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, backend_start FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return dict(cursor.fetchall())


def test_worker_keeps_its_database_connections_from_task_to_task(
    make_trader: Callable[..., Any],
    kucoin_sim: KucoinSimulator,
    client_for: Any,
    fast_tracking: dict[str, str],
) -> None:
    """Celery's Django fixup would close them around every task: a new PostgreSQL backend
    for every poll batch and dispatcher tick (two a second here)."""
    trader = make_trader()
    kucoin_sim.open_position(trader.api_key, "XBTUSDTM")
    client = client_for(trader.user)
    assert client.post("/api/v1/tracking", {}, format="json").status_code == 201
    with CeleryWorker(fast_tracking, beat=True, concurrency=1):
        wait_until(lambda: _positions(client)["count"] == 1, timeout=INTERVAL + 5, what="polled")
        polls = _polls(kucoin_sim, trader)
        warm = _worker_backends()
        seen: dict[int, Any] = {}
        # Two intervals: about eight dispatcher ticks and two poll batches.
        deadline = time.monotonic() + INTERVAL * 2
        while time.monotonic() < deadline:
            seen.update(_worker_backends())
            time.sleep(0.1)
        assert _polls(kucoin_sim, trader) >= polls + 1, "the worker went on polling"
    opened = {pid: started for pid, started in seen.items() if warm.get(pid) != started}
    assert not opened, f"new backends while the worker ran: {opened} (before: {warm})"


def test_worker_killed_mid_batch_every_subscription_is_polled_again(
    make_trader: Callable[..., Any],
    kucoin_sim: KucoinSimulator,
    fast_tracking: dict[str, str],
) -> None:
    traders = [make_trader() for _ in range(20)]
    for trader in traders:
        services.start_tracking(user=trader.user, symbols=[])
    kucoin_sim.inject_fault("latency", latency=1.5)  # keeps batches in flight

    worker = CeleryWorker(fast_tracking, beat=True).start()
    try:
        wait_until(
            lambda: "polled" in worker.log() or sum(_polls(kucoin_sim, t) for t in traders) > 0,
            timeout=INTERVAL * 3,
            what="a batch in flight",
        )
        worker.kill(signal.SIGKILL)
        killed_at = timezone.now()
    finally:
        worker.kill()
    kucoin_sim.clear_faults()

    with CeleryWorker(fast_tracking, beat=True):

        def all_polled_since_kill() -> bool:
            rows = TrackingSubscription.objects.filter(user__in=[t.user for t in traders])
            return all(r.last_success_at and r.last_success_at > killed_at for r in rows)

        wait_until(
            all_polled_since_kill, timeout=INTERVAL * 2 + 8, what="every subscription polled"
        )
        assert TrackingSubscription.objects.filter(state="active").count() == len(traders)


def test_redis_down_serves_positions_from_database_then_cache_again(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator, client_for: Any, settings: Any
) -> None:
    with RedisServer() as redis:
        settings.CACHES = {
            **settings.CACHES,
            "live": {
                "BACKEND": "cryptotrack.core.cache.ResilientRedisCache",
                "LOCATION": redis.url,
                "KEY_PREFIX": "redis-down-test",
                "OPTIONS": {"SOCKET_TIMEOUT": 0.25, "BREAKER_SECONDS": 1.0},
            },
        }
        trader = make_trader()
        kucoin_sim.open_position(trader.api_key, "XBTUSDTM", size=2)
        subscription, _ = services.start_tracking(user=trader.user, symbols=[])
        _poll(subscription)
        client = client_for(trader.user)
        assert _positions(client)["source"] == "cache"

        redis.kill(signal.SIGKILL)
        breaker = caches["live"].breaker
        trips_before, started = breaker.trips, time.monotonic()
        for _ in range(40):
            body = _positions(client)  # asserts 200
            assert body["source"] == "database"
            assert body["count"] == 1
        # Requests do not each wait on the dead Redis: it is tried once per breaker window.
        windows = (time.monotonic() - started) / breaker.seconds
        assert 1 <= breaker.trips - trips_before <= windows + 1

        redis.start()
        time.sleep(1.2)  # the breaker lets a probe through again
        wait_until(lambda: _positions(client)["source"] == "cache", timeout=5, what="cache again")


def test_broker_down_tracking_is_saved_answered_and_left_to_the_dispatcher(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator, live_env: dict[str, str]
) -> None:
    up, down = make_trader(), make_trader()
    with RedisServer() as broker:
        env = live_env | {
            "CELERY_BROKER_URL": broker.url,
            "KUCOIN_SPOT_URL": kucoin_sim.url,
            "KUCOIN_FUTURES_URL": kucoin_sim.url,
        }
        with AsgiServer(env) as web:

            def start_tracking(trader: Any) -> httpx.Response:
                token = httpx.post(
                    f"{web.url}/api/v1/auth/token",
                    json={"username": trader.user.username, "password": STRONG_PASSWORD},
                    timeout=30,
                )
                return httpx.post(
                    f"{web.url}/api/v1/tracking",
                    json={"symbols": ["XBTUSDTM"]},
                    headers={"Authorization": f"Bearer {token.json()['access']}"},
                    timeout=30,
                )

            assert start_tracking(up).status_code == 201  # the web is connected to its broker
            broker.kill(signal.SIGKILL)
            response = start_tracking(down)

            assert response.status_code == 201, response.text
            body = response.json()
            assert (body["state"], body["symbols"]) == ("active", ["XBTUSDTM"])
            row = TrackingSubscription.objects.get(user=down.user)
            assert row.state == "active"
            # Due at once (not at a random slot within the 30 s interval): the dispatcher's
            # next tick polls it once the broker is back. The answer says so too.
            assert row.next_poll_at <= timezone.now()
            assert body["next_poll_at"] == row.next_poll_at.isoformat().replace("+00:00", "Z")
            claimed = dispatch.claim_due_batch(now=timezone.now(), limit=10)
            assert row.pk in [subscription_id for subscription_id, _ in claimed]
            log = web.log()
    assert "Traceback" not in log
    not_enqueued = [line for line in log.splitlines() if "not enqueued" in line]
    assert len(not_enqueued) == 1, log
    assert f"tracking {row.pk} " in not_enqueued[0]
