"""AlphaVantageClient over real sockets: against the simulator and against replayed samples."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import httpx
import pytest

from cryptotrack.exchanges.alphavantage import AlphaVantageClient
from cryptotrack.exchanges.errors import (
    UpstreamBadResponse,
    UpstreamInvalidCredentials,
    UpstreamRateLimited,
    UpstreamRequestRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from cryptotrack.simulators.alphavantage import AlphaVantageSimulator
from tests.exchanges.alphavantage_coingecko_fixtures import Canned, replay_server, sample_bytes

KEY = "av-SECRET-key-7731"


@pytest.fixture
def sim() -> Iterator[AlphaVantageSimulator]:
    with AlphaVantageSimulator() as simulator:
        yield simulator


def client_for(url: str, **options) -> AlphaVantageClient:
    options.setdefault("timeout", 2.0)
    options.setdefault("base_delay", 0.01)
    options.setdefault("max_delay", 0.02)
    return AlphaVantageClient(api_key=options.pop("api_key", KEY), url=url, **options)


async def test_fetches_a_nine_field_rate_from_the_simulator(sim: AlphaVantageSimulator) -> None:
    sim.set_rate("BTC", "USD", "64123.45000000", bid="64123.40000000", ask="64123.50000000")

    async with client_for(sim.url) as client:
        rate = await client.get_exchange_rate("btc", "usd")

    assert (rate.from_currency, rate.to_currency) == ("BTC", "USD")
    assert rate.from_currency_name == "Bitcoin"
    assert rate.to_currency_name == "United States Dollar"
    assert rate.rate == Decimal("64123.45000000")
    assert (rate.bid, rate.ask) == (Decimal("64123.40000000"), Decimal("64123.50000000"))
    assert rate.last_refreshed.tzinfo is not None
    assert rate.last_refreshed.astimezone(UTC).utcoffset().total_seconds() == 0
    assert sim.call_count == 1


async def test_a_shared_http_pool_stays_open_after_the_client_closes(
    sim: AlphaVantageSimulator,
) -> None:
    async with httpx.AsyncClient() as http:
        async with client_for(sim.url, http=http) as client:
            await client.get_exchange_rate("ETH", "EUR")
        assert not http.is_closed


async def test_unknown_pair_is_a_rejected_request(sim: AlphaVantageSimulator) -> None:
    async with client_for(sim.url) as client:
        with pytest.raises(UpstreamRequestRejected):
            await client.get_exchange_rate("BTC", "ZZZ")


async def test_unlisted_key_is_invalid_credentials_and_never_echoed(
    sim: AlphaVantageSimulator,
) -> None:
    sim.set_api_keys({"the-only-good-key"})

    async with client_for(sim.url) as client:
        with pytest.raises(UpstreamInvalidCredentials) as caught:
            await client.get_exchange_rate("BTC", "USD")

    assert KEY not in str(caught.value)
    assert sim.call_count == 1


async def test_empty_key_fails_without_spending_a_call(sim: AlphaVantageSimulator) -> None:
    async with client_for(sim.url, api_key="") as client:
        with pytest.raises(UpstreamInvalidCredentials):
            await client.get_exchange_rate("BTC", "USD")

    assert sim.call_count == 0


async def test_daily_quota_body_is_rate_limited_and_not_retried(
    sim: AlphaVantageSimulator,
) -> None:
    sim.set_quota(per_day=1)

    async with client_for(sim.url, max_attempts=5) as client:
        await client.get_exchange_rate("BTC", "USD")
        with pytest.raises(UpstreamRateLimited) as caught:
            await client.get_exchange_rate("BTC", "USD")

    assert caught.value.code == "daily_limit"
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 0
    assert sim.call_count == 2


@pytest.mark.parametrize("style", ["information", "note"])
async def test_minute_quota_body_is_rate_limited_for_a_minute(style: str) -> None:
    with AlphaVantageSimulator(per_minute=1, minute_limit_style=style) as sim:
        async with client_for(sim.url, max_attempts=5) as client:
            await client.get_exchange_rate("BTC", "USD")
            with pytest.raises(UpstreamRateLimited) as caught:
                await client.get_exchange_rate("BTC", "USD")

        assert caught.value.retry_after == 60
        assert sim.call_count == 2


async def test_server_error_is_retried_then_succeeds(sim: AlphaVantageSimulator) -> None:
    sim.inject_fault("error", status=502, times=1)

    async with client_for(sim.url) as client:
        rate = await client.get_exchange_rate("BTC", "USD")

    assert rate.rate > 0
    assert sim.call_count == 2


async def test_persistent_server_error_is_unavailable_after_bounded_attempts(
    sim: AlphaVantageSimulator,
) -> None:
    sim.inject_fault("error", status=503)

    async with client_for(sim.url, max_attempts=3) as client:
        with pytest.raises(UpstreamUnavailable) as caught:
            await client.get_exchange_rate("BTC", "USD")

    assert caught.value.status == 503
    assert sim.call_count == 3


async def test_slow_answers_time_out_after_bounded_attempts(sim: AlphaVantageSimulator) -> None:
    sim.inject_fault("latency", latency=0.6)

    async with client_for(sim.url, timeout=0.15, max_attempts=2) as client:
        with pytest.raises(UpstreamTimeout):
            await client.get_exchange_rate("BTC", "USD")

    assert sim.call_count == 2


async def test_dropped_connection_is_unavailable(sim: AlphaVantageSimulator) -> None:
    sim.inject_fault("drop")

    async with client_for(sim.url, max_attempts=2) as client:
        with pytest.raises(UpstreamUnavailable):
            await client.get_exchange_rate("BTC", "USD")

    assert sim.call_count == 2


async def test_malformed_json_is_a_bad_response_and_not_retried(
    sim: AlphaVantageSimulator,
) -> None:
    sim.inject_fault("malformed")

    async with client_for(sim.url) as client:
        with pytest.raises(UpstreamBadResponse):
            await client.get_exchange_rate("BTC", "USD")

    assert sim.call_count == 1


async def test_unreachable_host_is_unavailable() -> None:
    with AlphaVantageSimulator() as sim:
        url = sim.url
    async with client_for(url, max_attempts=1) as client:
        with pytest.raises(UpstreamUnavailable):
            await client.get_exchange_rate("BTC", "USD")


async def test_concurrent_calls_each_reach_the_simulator(sim: AlphaVantageSimulator) -> None:
    async with client_for(sim.url) as client:
        rates = await asyncio.gather(*(client.get_exchange_rate("BTC", "USD") for _ in range(5)))

    assert len(rates) == 5
    assert sim.call_count == 5


async def test_the_key_is_masked_in_httpx_request_logs(
    sim: AlphaVantageSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="httpx")

    async with client_for(sim.url) as client:
        await client.get_exchange_rate("BTC", "USD")

    assert "apikey=" in caplog.text
    assert KEY not in caplog.text


def test_the_httpx_logger_itself_masks_the_key_before_any_handler() -> None:
    # Processes without the project's logging config (simulators, benchmarks) rely on this.
    url = httpx.URL("http://h/query", params={"function": "F", "apikey": KEY})
    record = logging.LogRecord(
        "httpx", logging.INFO, __file__, 1, "HTTP Request: %s %s", ("GET", url), None
    )

    assert logging.getLogger("httpx").filter(record)
    assert KEY not in record.getMessage()
    assert "apikey=***" in record.getMessage()


def test_repr_does_not_show_the_key() -> None:
    assert KEY not in repr(client_for("http://127.0.0.1:1/query"))


# -- the recorded samples, byte for byte over a socket --------------------------------


@pytest.mark.parametrize(
    ("sample", "pair", "bid"),
    [
        ("alphavantage_currency_exchange_rate", ("BTC", "CNY"), None),
        ("alphavantage_currency_exchange_rate_9field", ("GBP", "USD"), Decimal("1.36602600")),
    ],
)
async def test_recorded_rate_samples_parse_through_the_client(sample, pair, bid) -> None:
    with replay_server([Canned(sample_bytes(sample))]) as server:
        async with client_for(server.url + "/query") as client:
            rate = await client.get_exchange_rate(*pair)

    assert rate.bid == bid
    query = server.requests[0]["query"]
    assert query == {
        "function": "CURRENCY_EXCHANGE_RATE",
        "from_currency": pair[0],
        "to_currency": pair[1],
        "apikey": KEY,
    }


@pytest.mark.parametrize(
    ("sample", "error"),
    [
        ("alphavantage_error_invalid_call", UpstreamRequestRejected),
        ("alphavantage_error_invalid_or_missing_apikey", UpstreamInvalidCredentials),
        ("alphavantage_rate_limit", UpstreamRateLimited),
        ("alphavantage_rate_limit_legacy_note", UpstreamRateLimited),
    ],
)
async def test_recorded_error_samples_raise_their_type_after_one_call(sample, error) -> None:
    with replay_server([Canned(sample_bytes(sample))]) as server:
        async with client_for(server.url + "/query", max_attempts=3) as client:
            with pytest.raises(error):
                await client.get_exchange_rate("BTC", "USD")

    assert len(server.requests) == 1


async def test_a_rate_for_another_pair_is_a_bad_response() -> None:
    body = sample_bytes("alphavantage_currency_exchange_rate")  # BTC -> CNY
    with replay_server([Canned(body)]) as server:
        async with client_for(server.url + "/query") as client:
            with pytest.raises(UpstreamBadResponse, match="BTC/CNY for BTC/USD"):
                await client.get_exchange_rate("BTC", "USD")


async def test_http_429_from_a_proxy_is_rate_limited_with_its_retry_after() -> None:
    with replay_server([Canned(b"slow down", status=429, headers={"Retry-After": "30"})]) as s:
        async with client_for(s.url + "/query") as client:
            with pytest.raises(UpstreamRateLimited) as caught:
                await client.get_exchange_rate("BTC", "USD")

    assert caught.value.retry_after == 30


async def test_http_429_with_an_http_date_retry_after_is_read_as_seconds() -> None:
    # RFC 9110 allows Retry-After as an HTTP-date; a proxy in front of Alpha Vantage may use it.
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    with replay_server([Canned(b"slow down", status=429, headers={"Retry-After": when})]) as s:
        async with client_for(s.url + "/query") as client:
            with pytest.raises(UpstreamRateLimited) as caught:
                await client.get_exchange_rate("BTC", "USD")

    assert caught.value.retry_after is not None
    assert 100 <= caught.value.retry_after <= 120  # 20 s of margin for a loaded machine
