"""KuCoin's public level-1 ticker: the simulator serves KuCoin's path and shape, the client
reads it without credentials, typed and exact."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from cryptotrack.exchanges.errors import UpstreamRateLimited
from cryptotrack.exchanges.kucoin import KucoinClient, KucoinUnknownSymbol, SpotTicker
from cryptotrack.simulators.kucoin import KucoinSimulator

LEVEL1 = "/api/v1/market/orderbook/level1"


@pytest.fixture
def sim():
    with KucoinSimulator(seed=1) as simulator:
        yield simulator


def ticker(sim: KucoinSimulator, symbol: str, **client_options: Any) -> SpotTicker:
    async def call() -> SpotTicker:
        async with KucoinClient(spot_url=sim.url, futures_url=sim.url, **client_options) as c:
            return await c.spot_ticker(symbol)

    return asyncio.run(call())


def get_raw(url: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


def test_the_simulator_answers_kucoins_envelope_and_fields_without_a_key(sim):
    sim.set_ticker("BTC-USDT", "64123.45", best_bid="64123.4", best_ask="64123.5")

    status, body, headers = get_raw(f"{sim.url}{LEVEL1}?symbol=BTC-USDT")

    assert status == 200
    assert body["code"] == "200000"
    assert set(body["data"]) == {
        "sequence",
        "price",
        "size",
        "bestBid",
        "bestBidSize",
        "bestAsk",
        "bestAskSize",
        "time",
    }
    assert body["data"]["price"] == "64123.45"
    assert body["data"]["bestBid"] == "64123.4"
    assert isinstance(body["data"]["sequence"], str)
    assert isinstance(body["data"]["time"], int)
    assert headers["gw-ratelimit-limit"] == "2000"  # the Public pool


def test_an_unlisted_symbol_answers_kucoins_400100_with_http_200(sim):
    status, body, _ = get_raw(f"{sim.url}{LEVEL1}?symbol=NOPE-USDT")

    assert status == 200
    assert body == {"code": "400100", "msg": "This pair is not provided at present"}


def test_the_client_reads_the_ticker_as_exact_decimals_and_an_aware_time(sim):
    sim.set_ticker("ETH-USDT", "3150.123456789", best_bid="3150.12", best_ask="3150.13")

    result = ticker(sim, "ETH-USDT")

    assert result.symbol == "ETH-USDT"
    assert result.price == Decimal("3150.123456789")
    assert (result.best_bid, result.best_ask) == (Decimal("3150.12"), Decimal("3150.13"))
    assert result.time.tzinfo is UTC
    assert abs((datetime.now(UTC) - result.time).total_seconds()) < 60


def test_each_price_change_gets_a_new_sequence(sim):
    sim.set_ticker("BTC-USDT", "60000")
    first = ticker(sim, "BTC-USDT")
    sim.set_ticker("BTC-USDT", "60001")
    second = ticker(sim, "BTC-USDT")

    assert int(second.sequence) > int(first.sequence)
    assert second.price == Decimal("60001")


def test_the_client_raises_unknown_symbol_for_an_unlisted_market(sim):
    sim.remove_ticker("SOL-USDT")

    with pytest.raises(KucoinUnknownSymbol) as caught:
        ticker(sim, "SOL-USDT")

    assert caught.value.code == "400100"
    assert caught.value.kind == "unknown_symbol"
    assert sim.request_count(path=LEVEL1) == 1  # a refusal is not retried


def test_the_ticker_sends_no_credentials(sim):
    ticker(sim, "BTC-USDT")

    # The counter scopes requests by KC-API-KEY: a public call has none.
    assert sim.request_count(api_key=None, path=LEVEL1) == 1
    assert all(row["scope"] is None for row in sim.sim.requests.snapshot())


def test_the_public_pool_limits_the_ticker_per_ip(sim):
    sim.configure(rate_limit={"public": 4})  # two tickers of weight 2

    ticker(sim, "BTC-USDT")
    ticker(sim, "BTC-USDT")
    with pytest.raises(UpstreamRateLimited) as caught:
        ticker(sim, "BTC-USDT", max_attempts=1)

    assert caught.value.code == "429000"
    assert caught.value.retry_after is not None


def test_tickers_are_scripted_over_the_control_api(sim):
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{sim.url}/_sim/tickers",
        data=json.dumps({"tickers": {"DOGE-USDT": "0.1234"}}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
        assert response.status == 200

    assert ticker(sim, "DOGE-USDT").price == Decimal("0.1234")


def test_a_null_data_answer_is_an_unknown_symbol_too():
    from cryptotrack.exchanges.kucoin import parse_level1_ticker

    with pytest.raises(KucoinUnknownSymbol):
        parse_level1_ticker(None, symbol="NOPE-USDT")


@pytest.mark.parametrize(
    ("field", "value"), [("price", "0"), ("bestBid", None), ("price", "abc"), ("time", None)]
)
def test_a_ticker_breaking_the_documented_shape_is_a_bad_response(field, value):
    from cryptotrack.exchanges.errors import UpstreamBadResponse
    from cryptotrack.exchanges.kucoin import parse_level1_ticker

    data = {
        "sequence": "1",
        "price": "1.5",
        "size": "0.1",
        "bestBid": "1.4",
        "bestBidSize": "2",
        "bestAsk": "1.6",
        "bestAskSize": "3",
        "time": 1550653727731,
        field: value,
    }
    with pytest.raises(UpstreamBadResponse):
        parse_level1_ticker(data, symbol="ABC-USDT")


def test_drift_moves_the_tickers_too():
    with KucoinSimulator(seed=3, drift=0.01, drift_interval=0.05) as moving:
        first = ticker(moving, "BTC-USDT")
        for _ in range(100):  # up to 5 s of 0.05 s drift steps
            later = ticker(moving, "BTC-USDT")
            if later.sequence != first.sequence:
                break
            time.sleep(0.05)

    assert later.sequence != first.sequence
    assert later.price != first.price  # a 1 % step of 60,000 at 0.01: never the same
