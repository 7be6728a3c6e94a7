"""The live feed with KuCoin's public ticker as its source (QUOTES_LIVE_SOURCES): each pair
read from its USDT market, stored as a `kucoin` quote with bid and ask, pushed to the
subscribers; an unlisted market fails alone."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from cryptotrack.simulators.alphavantage import AlphaVantageSimulator
from cryptotrack.simulators.coingecko import CoinGeckoSimulator
from cryptotrack.simulators.kucoin import KucoinSimulator

LEVEL1 = "/api/v1/market/orderbook/level1"


@pytest.fixture
def kc_sim() -> Iterator[KucoinSimulator]:
    with KucoinSimulator(seed=1) as simulator:
        yield simulator


@pytest.fixture
def kucoin_feed(
    settings: Any, av_settings: AlphaVantageSimulator, kc_sim: KucoinSimulator
) -> KucoinSimulator:
    """The live feed reads KuCoin's simulator only; Alpha Vantage's simulator counts calls."""
    settings.KUCOIN_SPOT_URL = kc_sim.url
    settings.KUCOIN_TIMEOUT_SECONDS = 2.0
    settings.QUOTES_LIVE_SOURCES = ["kucoin"]
    return kc_sim


@pytest.mark.django_db
def test_a_kucoin_tick_stores_each_pair_from_its_usdt_market_with_bid_and_ask(
    kucoin_feed: KucoinSimulator, av_settings: AlphaVantageSimulator, settings: Any
) -> None:
    from cryptotrack.quotes.live_feed import fetch_live_quotes

    settings.QUOTES_PAIRS = ["BTC/USD", "ETH/USD"]
    kucoin_feed.set_ticker("BTC-USDT", "64000.5", best_bid="64000.4", best_ask="64000.6")
    kucoin_feed.set_ticker("ETH-USDT", "3100.25")

    stored = fetch_live_quotes()
    redelivered = fetch_live_quotes()  # the same tick again: nothing is due yet

    by_pair = {(q.from_currency, q.to_currency): q for q in stored}
    assert set(by_pair) == {("BTC", "USD"), ("ETH", "USD")}
    btc = by_pair[("BTC", "USD")]
    assert (btc.source, btc.trigger) == ("kucoin", "live")
    assert (btc.rate, btc.bid, btc.ask) == (
        Decimal("64000.5"),
        Decimal("64000.4"),
        Decimal("64000.6"),
    )
    assert redelivered == []
    assert kucoin_feed.request_count(path=LEVEL1) == 2  # one per pair, once
    assert av_settings.counter.count() == 0


@pytest.mark.django_db
def test_an_unlisted_market_is_logged_and_the_other_pairs_are_stored(
    kucoin_feed: KucoinSimulator, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from cryptotrack.quotes.live_feed import fetch_live_quotes
    from cryptotrack.quotes.models import Quote

    settings.QUOTES_PAIRS = ["NOPE/USD", "BTC/USD", "ETH/BTC"]  # ETH-BTC is not listed
    kucoin_feed.set_ticker("BTC-USDT", "65000")

    with caplog.at_level(logging.WARNING, logger="cryptotrack.quotes.live_feed"):
        stored = fetch_live_quotes()

    assert [(q.from_currency, q.to_currency) for q in stored] == [("BTC", "USD")]
    assert Quote.objects.count() == 1
    failed = "\n".join(r.getMessage() for r in caplog.records)
    assert "NOPE/USD (NOPE-USDT)" in failed
    assert "ETH/BTC (ETH-BTC)" in failed
    assert "unknown_symbol" in failed


@pytest.mark.django_db
def test_kucoin_being_down_stores_nothing_and_raises_nothing(
    kucoin_feed: KucoinSimulator, settings: Any
) -> None:
    from cryptotrack.quotes.live_feed import fetch_live_quotes
    from cryptotrack.quotes.models import Quote

    settings.QUOTES_PAIRS = ["BTC/USD"]
    kucoin_feed.inject_fault("error", status=503)

    assert fetch_live_quotes() == []
    assert Quote.objects.count() == 0


@pytest.mark.django_db
def test_a_kucoin_live_quote_is_pushed_to_the_subscribers(
    kucoin_feed: KucoinSimulator, settings: Any
) -> None:
    from channels.layers import get_channel_layer

    from cryptotrack.quotes.live import GROUP
    from cryptotrack.quotes.live_feed import fetch_live_quotes

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.QUOTES_PAIRS = ["BTC/USD"]
    kucoin_feed.set_ticker("BTC-USDT", "66000.75")
    layer = get_channel_layer()
    assert layer is not None
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(GROUP, channel)

    [stored] = fetch_live_quotes()

    async def next_message() -> dict[str, Any]:
        return await asyncio.wait_for(layer.receive(channel), timeout=5)

    message = async_to_sync(next_message)()
    assert message["id"] == stored.pk
    assert message["quote"]["source"] == "kucoin"
    assert message["quote"]["rate"] == "66000.75000000"


@pytest.mark.django_db
def test_both_sources_tick_together_one_call_each(
    kucoin_feed: KucoinSimulator, cg_settings: CoinGeckoSimulator, settings: Any
) -> None:
    from cryptotrack.quotes.live_feed import fetch_live_quotes

    settings.QUOTES_LIVE_SOURCES = ["coingecko", "kucoin"]
    settings.QUOTES_PAIRS = ["BTC/USD"]
    cg_settings.set_price("bitcoin", "usd", "64000")
    kucoin_feed.set_ticker("BTC-USDT", "64001")

    stored = fetch_live_quotes()

    assert sorted((q.source, str(q.rate)) for q in stored) == [
        ("coingecko", "64000"),
        ("kucoin", "64001"),
    ]
    assert cg_settings.count("/simple/price") == 1
    assert kucoin_feed.request_count(path=LEVEL1) == 1


@pytest.mark.parametrize(("value", "starts"), [("kucoin, CoinGecko", True), ("binance", False)])
def test_quotes_live_sources_is_checked_when_settings_load(value: str, starts: bool) -> None:
    import subprocess
    import sys

    from tests.support.processes import REPO, service_env

    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import "
            "settings; print(settings.QUOTES_LIVE_SOURCES)",
        ],
        env=service_env("sqlite:///:memory:", QUOTES_LIVE_SOURCES=value),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    if starts:
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip().splitlines()[-1] == "['kucoin', 'coingecko']"
    else:
        assert done.returncode != 0
        assert "QUOTES_LIVE_SOURCES names ['binance']" in done.stderr
