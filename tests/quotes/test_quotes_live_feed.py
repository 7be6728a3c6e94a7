"""The live feed: every QUOTES_LIVE_INTERVAL_SECONDS one batched CoinGecko call for the
configured pairs, each stored as a `coingecko` quote and pushed to /ws/rates — with no Alpha
Vantage call, and one upstream call per interval however many clients watch."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from tests.quotes.conftest import Frames, ws_url
from tests.support.processes import AsgiServer, CeleryWorker, wait_until
from websockets.sync.client import connect

from cryptotrack.simulators.alphavantage import AlphaVantageSimulator
from cryptotrack.simulators.coingecko import CoinGeckoSimulator


@pytest.mark.django_db
def test_a_live_tick_makes_one_call_for_every_pair_coingecko_prices(
    cg_settings: CoinGeckoSimulator, av_settings: AlphaVantageSimulator, settings: Any
) -> None:
    from cryptotrack.quotes.live_feed import fetch_live_quotes
    from cryptotrack.quotes.models import Quote

    settings.QUOTES_PAIRS = ["BTC/USD", "ETH/EUR", "EUR/USD"]  # no coin in EUR/USD
    cg_settings.set_price("bitcoin", "usd", "64000.5")

    stored = fetch_live_quotes()
    redelivered = fetch_live_quotes()  # the same tick again: nothing is due yet

    assert sorted((q.from_currency, q.to_currency) for q in stored) == [
        ("BTC", "USD"),
        ("ETH", "EUR"),
    ]
    assert {(q.source, q.trigger) for q in stored} == {("coingecko", "live")}
    assert next(q.rate for q in stored if q.from_currency == "BTC") == 64000.5
    assert redelivered == []
    assert cg_settings.count("/simple/price") == 1
    assert av_settings.counter.count() == 0
    assert Quote.objects.count() == 2


@pytest.mark.slow
def test_the_worker_feeds_every_watcher_live_with_one_call_per_interval_and_no_alpha_vantage(
    quotes_env: dict[str, str], av_sim: AlphaVantageSimulator, cg_sim: CoinGeckoSimulator
) -> None:
    from django.core.management import call_command

    from cryptotrack.quotes.models import Quote

    # The embedded default's in-memory channel layer and database cache (the ASGI process
    # watches the quotes table), with Redis only as the broker between beat and worker.
    call_command("createcachetable", "cache")
    env = {
        **quotes_env,
        "REDIS_URL": "",
        "CELERY_BROKER_URL": quotes_env["REDIS_URL"],
        "COINGECKO_URL": cg_sim.url,
        "QUOTES_PAIRS": "BTC/USD",
        "QUOTES_LIVE_INTERVAL_SECONDS": "1",
        "QUOTES_INTERVAL_SECONDS": "3600",
        "ALPHAVANTAGE_DAILY_QUOTA": "0",  # the start-up fetch must not reach Alpha Vantage
    }
    live = Quote.objects.filter(source=Quote.Source.COINGECKO, trigger=Quote.Trigger.LIVE)

    with AsgiServer(env) as server, contextlib.ExitStack() as watchers:
        frames = [
            Frames(watchers.enter_context(connect(ws_url(server), open_timeout=5)))
            for _ in range(3)
        ]
        with CeleryWorker(env, beat=True, concurrency=1) as worker:
            try:
                wait_until(lambda: live.count() >= 3, timeout=30, interval=0.2, what="3 live ticks")
            except AssertionError:
                print(worker.log()[-5000:])
                raise
        ticks = live.count()
        for watcher in frames:
            _, frame = watcher.next(timeout=5)
            assert frame["source"] == "coingecko"
            assert frame["from_currency"] == "BTC"

    # One call per tick for three watchers (a tick stores one quote per pair); the worker
    # may have been stopped between a tick's call and its insert.
    stored = live.count()
    assert stored >= ticks
    assert stored <= cg_sim.count("/simple/price") <= stored + 1
    assert av_sim.counter.count() == 0
