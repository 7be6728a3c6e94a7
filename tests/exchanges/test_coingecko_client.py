"""CoinGeckoClient over real sockets: against the simulator and against replayed samples."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest

from cryptotrack.exchanges.coingecko import Coin, CoinGeckoClient
from cryptotrack.exchanges.errors import (
    UpstreamBadResponse,
    UpstreamInvalidCredentials,
    UpstreamPermissionDenied,
    UpstreamRateLimited,
    UpstreamRequestRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from cryptotrack.simulators.coingecko import CoinGeckoSimulator
from tests.exchanges.alphavantage_coingecko_fixtures import Canned, replay_server, sample_bytes


@pytest.fixture
def sim() -> Iterator[CoinGeckoSimulator]:
    with CoinGeckoSimulator() as simulator:
        yield simulator


def client_for(base_url: str, **options) -> CoinGeckoClient:
    options.setdefault("timeout", 2.0)
    options.setdefault("base_delay", 0.01)
    options.setdefault("max_delay", 0.05)
    return CoinGeckoClient(base_url=base_url, **options)


def body(value: object) -> bytes:
    return json.dumps(value).encode()


async def test_simple_price_returns_exact_decimals_per_coin_and_currency(
    sim: CoinGeckoSimulator,
) -> None:
    sim.set_price("bitcoin", "usd", "70123.123456789012345678")

    async with client_for(sim.url) as client:
        prices = await client.simple_price(["bitcoin", "ethereum"], ["usd", "eur"])

    assert prices[("bitcoin", "usd")] == Decimal("70123.123456789012345678")
    assert str(prices[("bitcoin", "usd")]) == "70123.123456789012345678"
    assert prices[("ethereum", "eur")] == sim.price("ethereum", "eur")
    assert set(prices) == {
        ("bitcoin", "usd"),
        ("bitcoin", "eur"),
        ("ethereum", "usd"),
        ("ethereum", "eur"),
    }
    assert all(isinstance(p, Decimal) for p in prices.values())


async def test_many_coins_and_currencies_take_one_request(sim: CoinGeckoSimulator) -> None:
    coins = [f"coin-{i}" for i in range(60)]
    for coin in coins:
        sim.set_price(coin, "usd", "1.5")
        sim.set_price(coin, "eur", "1.25")

    async with client_for(sim.url) as client:
        prices = await client.simple_price([*coins, "bitcoin"], ["usd", "eur", "gbp"])

    assert sim.count("/simple/price") == 1
    assert len(sim.simple_price_requests[0]["ids"]) == 61
    assert prices[("coin-59", "eur")] == Decimal("1.25")
    assert ("bitcoin", "gbp") in prices


async def test_ids_are_chunked_only_past_the_chunk_size(sim: CoinGeckoSimulator) -> None:
    coins = [f"coin-{i}" for i in range(25)]
    for coin in coins:
        sim.set_price(coin, "usd", "2")

    async with client_for(sim.url, ids_per_request=10) as client:
        prices = await client.simple_price(coins, ["usd"])

    assert sim.count("/simple/price") == 3
    assert [len(r["ids"]) for r in sim.simple_price_requests] == [10, 10, 5]
    assert len(prices) == 25


async def test_ids_are_chunked_when_the_url_would_grow_too_long(sim: CoinGeckoSimulator) -> None:
    coins = [f"a-rather-long-coin-identifier-{i:03d}" for i in range(40)]
    for coin in coins:
        sim.set_price(coin, "usd", "3")

    async with client_for(sim.url, max_url_length=600) as client:
        prices = await client.simple_price(coins, ["usd"])

    assert len(prices) == 40
    assert 2 <= sim.count("/simple/price") <= 4
    assert sum(len(r["ids"]) for r in sim.simple_price_requests) == 40


async def test_unknown_coins_and_currencies_are_simply_absent(sim: CoinGeckoSimulator) -> None:
    async with client_for(sim.url) as client:
        prices = await client.simple_price(["bitcoin", "no-such-coin"], ["usd", "xyz"])

    assert set(prices) == {("bitcoin", "usd")}


async def test_ids_are_normalised_and_deduplicated(sim: CoinGeckoSimulator) -> None:
    async with client_for(sim.url) as client:
        prices = await client.simple_price(["Bitcoin", " bitcoin ", "BITCOIN"], ["USD"])

    assert set(prices) == {("bitcoin", "usd")}
    assert sim.simple_price_requests[0] == {"ids": ["bitcoin"], "vs_currencies": ["usd"]}


async def test_nothing_to_ask_makes_no_request(sim: CoinGeckoSimulator) -> None:
    async with client_for(sim.url) as client:
        assert await client.simple_price([], ["usd"]) == {}
        assert await client.simple_price(["bitcoin"], []) == {}

    assert sim.count() == 0


async def test_one_string_instead_of_a_list_is_refused(sim: CoinGeckoSimulator) -> None:
    async with client_for(sim.url) as client:
        with pytest.raises(TypeError):
            await client.simple_price("bitcoin", ["usd"])  # type: ignore[arg-type]


async def test_coins_list_supported_currencies_and_ping(sim: CoinGeckoSimulator) -> None:
    sim.add_coin("newcoin", "new", "New Coin")

    async with client_for(sim.url) as client:
        coins = await client.coins_list()
        currencies = await client.supported_vs_currencies()
        greeting = await client.ping()

    assert Coin(id="bitcoin", symbol="btc", name="Bitcoin") in coins
    assert Coin(id="newcoin", symbol="new", name="New Coin") in coins
    assert {"usd", "eur", "btc"} <= set(currencies)
    assert greeting == "(V3) To the Moon!"
    assert sim.count("/coins/list") == 1
    assert sim.count("/simple/supported_vs_currencies") == 1
    assert sim.count("/ping") == 1


@pytest.mark.parametrize("key_kind", ["demo_api_key", "pro_api_key"])
async def test_keys_travel_in_their_headers(sim: CoinGeckoSimulator, key_kind: str) -> None:
    sim.set_api_keys({"cg-good"})

    async with client_for(sim.url, **{key_kind: "cg-good"}) as client:
        assert await client.ping() == "(V3) To the Moon!"


@pytest.mark.parametrize("key", [None, "cg-wrong"])
async def test_missing_or_wrong_key_is_invalid_credentials(
    sim: CoinGeckoSimulator, key: str | None
) -> None:
    sim.set_api_keys({"cg-good"})

    async with client_for(sim.url, demo_api_key=key, max_attempts=3) as client:
        with pytest.raises(UpstreamInvalidCredentials) as caught:
            await client.simple_price(["bitcoin"], ["usd"])

    assert caught.value.status == 401
    assert caught.value.code == "10002"
    assert sim.count() == 1


async def test_rate_limit_is_raised_with_the_retry_after_of_the_answer(
    sim: CoinGeckoSimulator,
) -> None:
    sim.set_rate_limit(1)

    async with client_for(sim.url, max_delay=0) as client:
        await client.ping()
        with pytest.raises(UpstreamRateLimited) as caught:
            await client.ping()

    assert caught.value.status == 429
    assert caught.value.retry_after is not None
    assert 1 <= caught.value.retry_after <= 60
    assert sim.count("/ping") == 2


async def test_persistent_server_error_is_unavailable_after_bounded_attempts(
    sim: CoinGeckoSimulator,
) -> None:
    sim.inject_fault("error", status=500, path="/api/v3/simple/price")

    async with client_for(sim.url, max_attempts=3) as client:
        with pytest.raises(UpstreamUnavailable):
            await client.simple_price(["bitcoin"], ["usd"])

    assert sim.count("/simple/price") == 3


async def test_one_server_error_is_retried_then_succeeds(sim: CoinGeckoSimulator) -> None:
    sim.inject_fault("error", status=503, times=1)

    async with client_for(sim.url) as client:
        prices = await client.simple_price(["bitcoin"], ["usd"])

    assert prices[("bitcoin", "usd")] == sim.price("bitcoin", "usd")
    assert sim.count("/simple/price") == 2


async def test_slow_answers_time_out_after_bounded_attempts(sim: CoinGeckoSimulator) -> None:
    sim.inject_fault("latency", latency=0.6)

    async with client_for(sim.url, timeout=0.15, max_attempts=2) as client:
        with pytest.raises(UpstreamTimeout):
            await client.simple_price(["bitcoin"], ["usd"])

    assert sim.count("/simple/price") == 2


async def test_dropped_connection_is_unavailable(sim: CoinGeckoSimulator) -> None:
    sim.inject_fault("drop")

    async with client_for(sim.url, max_attempts=2) as client:
        with pytest.raises(UpstreamUnavailable):
            await client.coins_list()

    assert sim.count("/coins/list") == 2


async def test_malformed_json_is_a_bad_response_and_not_retried(sim: CoinGeckoSimulator) -> None:
    sim.inject_fault("malformed")

    async with client_for(sim.url) as client:
        with pytest.raises(UpstreamBadResponse):
            await client.simple_price(["bitcoin"], ["usd"])

    assert sim.count("/simple/price") == 1


# -- recorded samples and other upstream answers, replayed byte for byte ----------------


async def test_recorded_simple_price_sample_parses_exactly() -> None:
    with replay_server([Canned(sample_bytes("coingecko_simple_price"))]) as server:
        async with client_for(server.url + "/api/v3") as client:
            prices = await client.simple_price(["bitcoin"], ["usd"])

    assert prices == {("bitcoin", "usd"): Decimal("67187.3358936566")}
    request = server.requests[0]
    assert request["path"] == "/api/v3/simple/price"
    assert request["query"] == {"ids": "bitcoin", "vs_currencies": "usd"}


async def test_recorded_429_sample_is_rate_limited_with_its_retry_after() -> None:
    canned = Canned(sample_bytes("coingecko_rate_limit_429"), 429, {"retry-after": "119"})
    with replay_server([canned]) as server:
        async with client_for(server.url + "/api/v3", max_attempts=3) as client:
            with pytest.raises(UpstreamRateLimited) as caught:
                await client.simple_price(["bitcoin"], ["usd"])

    assert caught.value.retry_after == 119
    assert caught.value.code == "429"
    assert "exceeded the Rate Limit" in str(caught.value)
    assert len(server.requests) == 1


async def test_a_short_retry_after_is_honoured_and_retried() -> None:
    limited = Canned(sample_bytes("coingecko_rate_limit_429"), 429, {"retry-after": "0"})
    ok = Canned(sample_bytes("coingecko_simple_price"))
    with replay_server([limited, ok]) as server:
        async with client_for(server.url + "/api/v3") as client:
            prices = await client.simple_price(["bitcoin"], ["usd"])

    assert prices == {("bitcoin", "usd"): Decimal("67187.3358936566")}
    assert len(server.requests) == 2


async def test_demo_key_header_is_sent() -> None:
    with replay_server([Canned(b'{"gecko_says":"(V3) To the Moon!"}')]) as server:
        async with client_for(server.url + "/api/v3", demo_api_key="cg-demo-1") as client:
            await client.ping()

    assert server.requests[0]["headers"].get("x-cg-demo-api-key") == "cg-demo-1"


@pytest.mark.parametrize(
    ("status", "payload", "error"),
    [
        (400, {"error": "Missing parameter vs_currencies"}, UpstreamRequestRejected),
        (
            400,
            {"error_code": 10011, "status": {"error_message": "If you are using Demo API key"}},
            UpstreamInvalidCredentials,
        ),
        (
            403,
            {"status": {"error_code": 10002, "error_message": "nope"}},
            UpstreamInvalidCredentials,
        ),
        (403, {"status": {"error_code": 10005, "error_message": "plan"}}, UpstreamPermissionDenied),
        (
            401,
            {"status": {"error_code": 10002, "error_message": "API Key Missing"}},
            UpstreamInvalidCredentials,
        ),
        (404, {"error": "coin not found"}, UpstreamRequestRejected),
    ],
)
async def test_client_errors_map_to_their_types_without_retry(status, payload, error) -> None:
    with replay_server([Canned(body(payload), status)]) as server:
        async with client_for(server.url + "/api/v3", max_attempts=3) as client:
            with pytest.raises(error):
                await client.simple_price(["bitcoin"], ["usd"])

    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "answer",
    [
        {"bitcoin": {"usd": "67187.33"}},
        {"bitcoin": {"usd": True}},
        {"bitcoin": [1, 2]},
        ["bitcoin"],
    ],
)
async def test_prices_that_are_not_numbers_are_bad_responses(answer: object) -> None:
    with replay_server([Canned(body(answer))]) as server:
        async with client_for(server.url + "/api/v3") as client:
            with pytest.raises(UpstreamBadResponse):
                await client.simple_price(["bitcoin"], ["usd"])


async def test_null_and_integer_prices_are_absent_and_exact() -> None:
    answer = b'{"bitcoin":{"usd":null,"eur":62000},"ethereum":{}}'
    with replay_server([Canned(answer)]) as server:
        async with client_for(server.url + "/api/v3") as client:
            prices = await client.simple_price(["bitcoin", "ethereum"], ["usd", "eur"])

    assert prices == {("bitcoin", "eur"): Decimal(62000)}


@pytest.mark.parametrize(
    ("call", "answer"),
    [
        ("coins_list", {"id": "bitcoin"}),
        ("coins_list", [{"id": "bitcoin", "symbol": "btc"}]),
        ("supported_vs_currencies", ["usd", 5]),
        ("ping", {"status": "ok"}),
    ],
)
async def test_malformed_lists_are_bad_responses(call: str, answer: object) -> None:
    with replay_server([Canned(body(answer))]) as server:
        async with client_for(server.url + "/api/v3") as client:
            with pytest.raises(UpstreamBadResponse):
                await getattr(client, call)()


async def test_html_gateway_error_is_unavailable() -> None:
    gateway = Canned(b"<html>502 Bad Gateway</html>", 502, content_type="text/html")
    with replay_server([gateway]) as server:
        async with client_for(server.url + "/api/v3", max_attempts=2) as client:
            with pytest.raises(UpstreamUnavailable) as caught:
                await client.ping()

    assert caught.value.status == 502
    assert len(server.requests) == 2


async def test_a_far_future_retry_after_is_capped_to_a_day() -> None:
    # Taken as is, it would park the caller for 30 000 years (or overflow a timedelta).
    canned = Canned(sample_bytes("coingecko_rate_limit_429"), 429, {"retry-after": "1e12"})
    with replay_server([canned]) as server:
        async with client_for(server.url + "/api/v3") as client:
            with pytest.raises(UpstreamRateLimited) as caught:
                await client.simple_price(["bitcoin"], ["usd"])

    assert caught.value.retry_after == 24 * 3600
    assert len(server.requests) == 1
