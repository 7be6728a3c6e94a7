"""The Alpha Vantage simulator answers exactly the recorded shapes, over HTTP, and is scriptable."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest

from cryptotrack.simulators.alphavantage import AlphaVantageControl, AlphaVantageSimulator
from tests.exchanges.alphavantage_coingecko_fixtures import sample_json

RATE_KEY = "Realtime Currency Exchange Rate"


@pytest.fixture
def sim() -> Iterator[AlphaVantageSimulator]:
    with AlphaVantageSimulator() as simulator:
        yield simulator


def query(sim: AlphaVantageSimulator, **params: str) -> httpx.Response:
    params.setdefault("function", "CURRENCY_EXCHANGE_RATE")
    params.setdefault("apikey", "k")
    return httpx.get(sim.url, params=params, timeout=5)


def test_rate_answer_has_exactly_the_nine_field_sample_shape(sim: AlphaVantageSimulator) -> None:
    response = query(sim, from_currency="BTC", to_currency="USD")
    sample = sample_json("alphavantage_currency_exchange_rate_9field")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    answer = response.json()
    assert list(answer) == list(sample)
    assert list(answer[RATE_KEY]) == list(sample[RATE_KEY])
    assert all(isinstance(value, str) for value in answer[RATE_KEY].values())
    fields = answer[RATE_KEY]
    assert fields["2. From_Currency Name"] == "Bitcoin"
    assert fields["7. Time Zone"] == "UTC"
    time.strptime(fields["6. Last Refreshed"], "%Y-%m-%d %H:%M:%S")
    assert len(fields["5. Exchange Rate"].split(".")[1]) == 8
    assert Decimal(fields["8. Bid Price"]) < Decimal(fields["5. Exchange Rate"])
    assert Decimal(fields["9. Ask Price"]) > Decimal(fields["5. Exchange Rate"])


def test_seven_field_shape_on_request() -> None:
    sample = sample_json("alphavantage_currency_exchange_rate")
    with AlphaVantageSimulator(include_bid_ask=False) as sim:
        answer = query(sim, from_currency="BTC", to_currency="CNY").json()

    assert list(answer[RATE_KEY]) == list(sample[RATE_KEY])
    assert answer[RATE_KEY]["4. To_Currency Name"] == "Chinese Yuan"


@pytest.mark.parametrize(
    ("params", "sample"),
    [
        ({"apikey": ""}, "alphavantage_error_invalid_or_missing_apikey"),
        ({"from_currency": "WRONG_VALUE"}, "alphavantage_error_invalid_call"),
        ({"to_currency": ""}, "alphavantage_error_invalid_call"),
    ],
)
def test_error_bodies_are_the_recorded_ones_with_http_200(
    sim: AlphaVantageSimulator, params: dict[str, str], sample: str
) -> None:
    full = {"from_currency": "BTC", "to_currency": "USD", **params}
    response = query(sim, **full)

    assert response.status_code == 200
    assert response.json() == sample_json(sample)


def test_unknown_function_is_an_error_message(sim: AlphaVantageSimulator) -> None:
    answer = query(sim, function="TIME_SERIES_DAILY", from_currency="BTC").json()

    assert answer == {
        "Error Message": "Invalid API call. Please retry or visit the documentation "
        "(https://www.alphavantage.co/documentation/) for TIME_SERIES_DAILY."
    }


def test_configured_keys_refuse_every_other_key(sim: AlphaVantageSimulator) -> None:
    sim.set_api_keys({"good"})

    refused = query(sim, from_currency="BTC", to_currency="USD", apikey="bad").json()
    accepted = query(sim, from_currency="BTC", to_currency="USD", apikey="good").json()

    assert refused == sample_json("alphavantage_error_invalid_or_missing_apikey")
    assert RATE_KEY in accepted


def test_daily_quota_answers_the_recorded_information_body(sim: AlphaVantageSimulator) -> None:
    sim.set_quota(per_day=25)
    answers = [query(sim, from_currency="BTC", to_currency="USD", apikey="a") for _ in range(26)]

    assert all(RATE_KEY in r.json() for r in answers[:25])
    assert answers[25].status_code == 200
    assert answers[25].json() == sample_json("alphavantage_rate_limit")
    other_key = query(sim, from_currency="BTC", to_currency="USD", apikey="b").json()
    assert RATE_KEY in other_key
    quota = sim.stats()["quota"]
    assert quota["used"]["a"] == {"minute": 25, "day": 25}
    assert quota["rate_limited"] == 1


def test_legacy_minute_note_is_the_recorded_body() -> None:
    with AlphaVantageSimulator(per_minute=5, per_day=500, minute_limit_style="note") as sim:
        answers = [query(sim, from_currency="BTC", to_currency="USD") for _ in range(6)]

    assert answers[5].json() == sample_json("alphavantage_rate_limit_legacy_note")


def test_minute_quota_answers_an_information_body_naming_the_minute() -> None:
    with AlphaVantageSimulator(per_minute=2) as sim:
        answers = [query(sim, from_currency="BTC", to_currency="USD") for _ in range(3)]
        sim.reset_quota()
        after_reset = query(sim, from_currency="BTC", to_currency="USD").json()

    assert list(answers[2].json()) == ["Information"]
    assert "2 requests per minute" in answers[2].json()["Information"]
    assert RATE_KEY in after_reset


def test_rates_walk_over_time() -> None:
    with AlphaVantageSimulator(step_seconds=0.01, volatility=0.01) as sim:
        first = sim.quote("BTC", "USD").rate
        time.sleep(0.05)
        second = sim.quote("BTC", "USD").rate

    assert first != second


def test_cross_rates_stay_coherent(sim: AlphaVantageSimulator) -> None:
    btc_usd = sim.quote("BTC", "USD").rate
    eur_usd = sim.quote("EUR", "USD").rate
    btc_eur = sim.quote("BTC", "EUR").rate

    assert abs(btc_eur - btc_usd / eur_usd) / btc_eur < Decimal("0.01")


def test_set_rate_pins_a_pair_exactly_until_unpinned() -> None:
    with AlphaVantageSimulator(step_seconds=0.01, volatility=0.01) as sim:
        sim.set_rate("BTC", "USD", "50000.12345678", bid="50000", ask="50001")
        time.sleep(0.03)
        fields = query(sim, from_currency="BTC", to_currency="USD").json()[RATE_KEY]
        sim.unpin("BTC", "USD")
        walked = sim.quote("BTC", "USD").rate

    assert fields["5. Exchange Rate"] == "50000.12345678"
    assert fields["8. Bid Price"] == "50000.00000000"
    assert fields["9. Ask Price"] == "50001.00000000"
    assert walked != Decimal("50000.12345678")


def test_set_rate_makes_an_unknown_pair_known(sim: AlphaVantageSimulator) -> None:
    sim.set_rate("ABC", "USD", "2.5")

    fields = query(sim, from_currency="ABC", to_currency="USD").json()[RATE_KEY]

    assert fields["5. Exchange Rate"] == "2.50000000"


def test_every_call_is_counted_even_concurrent_ones(sim: AlphaVantageSimulator) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: query(sim, from_currency="BTC", to_currency="USD"), range(8)))
    query(sim, from_currency="BTC", to_currency="USD", apikey="")

    assert sim.call_count == 9
    assert sim.stats()["requests_by_key"] == {"k": 8, "": 1}
    sim.reset_stats()
    assert sim.call_count == 0


def test_faults_error_malformed_drop_and_latency(sim: AlphaVantageSimulator) -> None:
    sim.inject_fault("error", status=503, times=1)
    assert query(sim, from_currency="BTC", to_currency="USD").status_code == 503

    sim.inject_fault("malformed", times=1)
    malformed = query(sim, from_currency="BTC", to_currency="USD")
    assert malformed.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(malformed.text)

    sim.inject_fault("drop", times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        query(sim, from_currency="BTC", to_currency="USD")

    sim.inject_fault("latency", latency=0.3, times=1)
    started = time.monotonic()
    assert RATE_KEY in query(sim, from_currency="BTC", to_currency="USD").json()
    assert time.monotonic() - started >= 0.3

    assert sim.call_count == 4


def test_faults_scoped_to_one_key_spare_the_others(sim: AlphaVantageSimulator) -> None:
    sim.inject_fault("error", status=500, scope="victim")

    assert query(sim, from_currency="BTC", to_currency="USD", apikey="victim").status_code == 500
    assert query(sim, from_currency="BTC", to_currency="USD", apikey="other").status_code == 200
    assert sim.clear_faults() == 1
    assert query(sim, from_currency="BTC", to_currency="USD", apikey="victim").status_code == 200


def test_http_control_api_scripts_rates_keys_quota_faults_and_stats(
    sim: AlphaVantageSimulator,
) -> None:
    with AlphaVantageControl(sim.base_url) as control:
        control.set_rate("ETH", "USD", "3000.5", bid="3000.4", ask="3000.6")
        fields = query(sim, from_currency="ETH", to_currency="USD").json()[RATE_KEY]
        assert (fields["5. Exchange Rate"], fields["9. Ask Price"]) == (
            "3000.50000000",
            "3000.60000000",
        )

        control.set_api_keys(["only"])
        assert "Error Message" in query(sim, from_currency="ETH", to_currency="USD").json()
        control.set_api_keys(None)

        control.set_quota(per_minute=None, per_day=0)
        assert "Information" in query(sim, from_currency="ETH", to_currency="USD").json()
        control.set_quota(per_minute=None, per_day=None)

        fault = control.inject_fault("error", status=502)
        assert query(sim, from_currency="ETH", to_currency="USD").status_code == 502
        assert control.get("/faults")[0]["id"] == fault["id"]
        assert control.clear_faults() == 1

        stats = control.stats()
        assert stats["requests"] == 4
        assert stats["quota"]["rate_limited"] == 1
        assert stats["pinned"][0]["rate"] == "3000.50000000"

        control.delete("/rates")
        assert control.get("/rates") == []
        control.post("/options", {"include_bid_ask": False})
        assert (
            "8. Bid Price"
            not in query(sim, from_currency="ETH", to_currency="USD").json()[RATE_KEY]
        )
        control.reset()
        assert control.stats()["requests"] == 0
        assert "8. Bid Price" in query(sim, from_currency="ETH", to_currency="USD").json()[RATE_KEY]


def test_control_api_rejects_bad_input_with_400(sim: AlphaVantageSimulator) -> None:
    response = httpx.post(
        sim.base_url + "/_sim/rates",
        json={"from_currency": "BTC", "to_currency": "USD", "rate": "-1"},
    )
    assert response.status_code == 400
    assert httpx.post(sim.base_url + "/_sim/quota", json={"per_day": "x"}).status_code == 400


def test_runs_as_a_subprocess_on_the_given_port() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cryptotrack.simulators.alphavantage",
            "--port",
            "0",
            "--api-key",
            "sub-key",
            "--per-day",
            "1",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "listening on http://" in line
        base = line.rsplit(" ", 1)[1].strip()
        params = {
            "function": "CURRENCY_EXCHANGE_RATE",
            "from_currency": "BTC",
            "to_currency": "USD",
            "apikey": "sub-key",
        }
        first = httpx.get(base + "/query", params=params, timeout=5).json()
        second = httpx.get(base + "/query", params=params, timeout=5).json()
        stats = httpx.get(base + "/_sim/stats", timeout=5).json()
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert RATE_KEY in first
    assert list(second) == ["Information"]
    assert "(1 requests per day)" in second["Information"]
    assert stats["requests"] == 2
