"""The CoinGecko simulator answers the recorded shapes under /api/v3 and is scriptable."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from cryptotrack.simulators.coingecko import CoinGeckoControl, CoinGeckoSimulator
from tests.exchanges.alphavantage_coingecko_fixtures import sample_json

ALL_FLAGS = {
    "include_market_cap": "true",
    "include_24hr_vol": "true",
    "include_24hr_change": "true",
    "include_last_updated_at": "true",
}


@pytest.fixture
def sim() -> Iterator[CoinGeckoSimulator]:
    with CoinGeckoSimulator() as simulator:
        yield simulator


def get(sim: CoinGeckoSimulator, path: str, **kwargs) -> httpx.Response:
    return httpx.get(sim.url + path, timeout=5, **kwargs)


def json_type(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def test_url_is_the_base_including_api_v3(sim: CoinGeckoSimulator) -> None:
    assert sim.url == sim.base_url + "/api/v3"


def test_simple_price_with_every_flag_has_the_sample_shape(sim: CoinGeckoSimulator) -> None:
    sample = sample_json("coingecko_simple_price")
    params = {"ids": "bitcoin", "vs_currencies": "usd", **ALL_FLAGS}

    response = get(sim, "/simple/price", params=params)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    answer = response.json()
    assert list(answer) == list(sample)
    assert list(answer["bitcoin"]) == list(sample["bitcoin"])
    assert {k: json_type(v) for k, v in answer["bitcoin"].items()} == {
        k: json_type(v) for k, v in sample["bitcoin"].items()
    }
    assert isinstance(answer["bitcoin"]["last_updated_at"], int)


def test_minimal_simple_price_is_just_the_price(sim: CoinGeckoSimulator) -> None:
    answer = get(sim, "/simple/price", params={"ids": "bitcoin", "vs_currencies": "usd"}).json()

    assert list(answer) == ["bitcoin"]
    assert list(answer["bitcoin"]) == ["usd"]
    assert json_type(answer["bitcoin"]["usd"]) == "number"


def test_default_table_prices_the_usual_coins_in_the_usual_currencies(
    sim: CoinGeckoSimulator,
) -> None:
    params = {"ids": "bitcoin,ethereum,solana", "vs_currencies": "usd,eur,gbp,jpy,btc"}
    answer = get(sim, "/simple/price", params=params).json()

    assert set(answer) == {"bitcoin", "ethereum", "solana"}
    for quotes in answer.values():
        assert set(quotes) == {"usd", "eur", "gbp", "jpy", "btc"}
        assert all(price > 0 for price in quotes.values())
    assert answer["bitcoin"]["usd"] > answer["bitcoin"]["eur"]


def test_set_price_is_served_as_an_exact_number_literal(sim: CoinGeckoSimulator) -> None:
    sim.set_price("bitcoin", "usd", "70000.123456789012345678")

    raw = get(sim, "/simple/price", params={"ids": "bitcoin", "vs_currencies": "usd"}).content
    parsed = json.loads(raw, parse_float=Decimal)

    assert parsed == {"bitcoin": {"usd": Decimal("70000.123456789012345678")}}


def test_unknown_ids_are_omitted_and_unknown_currencies_leave_an_empty_object(
    sim: CoinGeckoSimulator,
) -> None:
    answer = get(
        sim, "/simple/price", params={"ids": "bitcoin,not-a-coin", "vs_currencies": "xyz"}
    ).json()

    assert answer == {"bitcoin": {}}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"vs_currencies": "usd"}, "Missing parameter ids"),
        ({"ids": "bitcoin"}, "Missing parameter vs_currencies"),
    ],
)
def test_missing_parameters_are_400(sim: CoinGeckoSimulator, params, message: str) -> None:
    response = get(sim, "/simple/price", params=params)

    assert response.status_code == 400
    assert response.json() == {"error": message}


def test_precision_rounds_prices(sim: CoinGeckoSimulator) -> None:
    sim.set_price("bitcoin", "usd", "70000.126")
    params = {"ids": "bitcoin", "vs_currencies": "usd", "precision": "2"}

    raw = get(sim, "/simple/price", params=params).text

    assert raw == '{"bitcoin":{"usd":70000.13}}'


def test_coins_list_supported_currencies_and_ping(sim: CoinGeckoSimulator) -> None:
    coins = get(sim, "/coins/list").json()
    currencies = get(sim, "/simple/supported_vs_currencies").json()
    ping = get(sim, "/ping").json()

    assert {"id": "bitcoin", "symbol": "btc", "name": "Bitcoin"} in coins
    assert all(set(c) == {"id", "symbol", "name"} for c in coins)
    assert {"usd", "eur", "btc", "eth"} <= set(currencies)
    assert all(isinstance(c, str) for c in currencies)
    assert ping == {"gecko_says": "(V3) To the Moon!"}


def test_a_new_coin_and_currency_get_listed(sim: CoinGeckoSimulator) -> None:
    sim.set_price("my-token", "sgd", "0.25")

    coin_ids = [c["id"] for c in get(sim, "/coins/list").json()]
    currencies = get(sim, "/simple/supported_vs_currencies").json()

    assert "my-token" in coin_ids
    assert "sgd" in currencies


def test_rate_limit_answers_the_recorded_429_with_retry_after(sim: CoinGeckoSimulator) -> None:
    sim.set_rate_limit(2)
    answers = [get(sim, "/ping") for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json() == sample_json("coingecko_rate_limit_429")
    assert 1 <= int(answers[2].headers["retry-after"]) <= 60
    assert sim.stats()["rate_limit"]["rate_limited"] == 1
    sim.reset_rate_limit()
    assert get(sim, "/ping").status_code == 200


def test_rate_limit_is_per_key(sim: CoinGeckoSimulator) -> None:
    sim.set_rate_limit(1)

    assert get(sim, "/ping", headers={"x-cg-demo-api-key": "a"}).status_code == 200
    assert get(sim, "/ping", headers={"x-cg-demo-api-key": "b"}).status_code == 200
    assert get(sim, "/ping", headers={"x-cg-demo-api-key": "a"}).status_code == 429


def test_configured_keys_require_a_listed_key_in_header_or_query(
    sim: CoinGeckoSimulator,
) -> None:
    sim.set_api_keys({"good"})

    missing = get(sim, "/ping")
    wrong = get(sim, "/ping", headers={"x-cg-demo-api-key": "bad"})

    assert missing.status_code == wrong.status_code == 401
    assert missing.json()["status"]["error_code"] == 10002
    assert "Missing" in missing.json()["status"]["error_message"]
    assert wrong.json()["status"]["error_code"] == 10002
    assert get(sim, "/ping", headers={"x-cg-demo-api-key": "good"}).status_code == 200
    assert get(sim, "/ping", headers={"x-cg-pro-api-key": "good"}).status_code == 200
    assert get(sim, "/ping", params={"x_cg_demo_api_key": "good"}).status_code == 200


def test_requests_are_counted_per_path_and_simple_price_requests_recorded(
    sim: CoinGeckoSimulator,
) -> None:
    get(sim, "/simple/price", params={"ids": "bitcoin,ethereum", "vs_currencies": "usd,eur"})
    get(sim, "/coins/list")
    get(sim, "/coins/list")

    assert sim.count("/simple/price") == 1
    assert sim.count("/coins/list") == 2
    assert sim.count() == 3
    assert sim.simple_price_requests == [
        {"ids": ["bitcoin", "ethereum"], "vs_currencies": ["usd", "eur"]}
    ]
    assert sim.stats()["requests"] == {"/api/v3/simple/price": 1, "/api/v3/coins/list": 2}
    sim.reset_stats()
    assert sim.count() == 0
    assert sim.simple_price_requests == []


def test_faults_error_malformed_drop_and_latency(sim: CoinGeckoSimulator) -> None:
    params = {"ids": "bitcoin", "vs_currencies": "usd"}
    sim.inject_fault("error", status=500, times=1, path="/api/v3/simple/price")
    assert get(sim, "/ping").status_code == 200
    assert get(sim, "/simple/price", params=params).status_code == 500

    sim.inject_fault("malformed", times=1)
    with pytest.raises(json.JSONDecodeError):
        json.loads(get(sim, "/simple/price", params=params).text)

    sim.inject_fault("drop", times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        get(sim, "/simple/price", params=params)

    sim.inject_fault("latency", latency=0.3, times=1)
    started = time.monotonic()
    assert get(sim, "/simple/price", params=params).status_code == 200
    assert time.monotonic() - started >= 0.3
    assert sim.count("/simple/price") == 4


def test_http_control_api_scripts_prices_limits_keys_faults_and_stats(
    sim: CoinGeckoSimulator,
) -> None:
    params = {"ids": "bitcoin,ethereum", "vs_currencies": "usd"}
    with CoinGeckoControl(sim.base_url) as control:
        control.set_price("bitcoin", "usd", "12345.6789")
        control.set_prices({"ethereum": {"usd": "2345.5"}})
        raw = json.loads(get(sim, "/simple/price", params=params).content, parse_float=Decimal)
        assert raw == {
            "bitcoin": {"usd": Decimal("12345.6789")},
            "ethereum": {"usd": Decimal("2345.5")},
        }
        assert control.get("/prices")["bitcoin"]["usd"] == "12345.6789"

        control.set_price("bitcoin", "usd", None)
        assert get(sim, "/simple/price", params=params).json()["bitcoin"] == {}

        control.post("/coins", {"id": "listed-only", "symbol": "lo", "name": "Listed Only"})
        assert "listed-only" in [c["id"] for c in get(sim, "/coins/list").json()]

        control.set_rate_limit(0)
        assert get(sim, "/ping").status_code == 429
        control.set_rate_limit(None)

        control.set_api_keys(["k"])
        assert get(sim, "/ping").status_code == 401
        control.set_api_keys(None)

        control.inject_fault("error", status=503)
        assert get(sim, "/ping").status_code == 503
        assert control.clear_faults() == 1

        stats = control.stats()
        assert stats["requests"]["/api/v3/ping"] == 3
        assert stats["simple_price_requests"][0] == {
            "ids": ["bitcoin", "ethereum"],
            "vs_currencies": ["usd"],
        }

        control.reset()
        assert control.stats()["total"] == 0
        assert sim.price("bitcoin", "usd") == Decimal("67187.3358936566")


def test_control_api_rejects_bad_prices_with_400(sim: CoinGeckoSimulator) -> None:
    url = sim.base_url + "/_sim/prices"
    assert (
        httpx.post(url, json={"coin": "bitcoin", "currency": "usd", "price": "abc"}).status_code
        == 400
    )
    assert (
        httpx.post(url, json={"coin": "bitcoin", "currency": "usd", "price": "-1"}).status_code
        == 400
    )
    assert httpx.post(url, json={"prices": ["x"]}).status_code == 400


def test_runs_as_a_subprocess_on_the_given_port() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cryptotrack.simulators.coingecko",
            "--port",
            "0",
            "--per-minute",
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
        first = httpx.get(base + "/api/v3/ping", timeout=5)
        second = httpx.get(base + "/api/v3/ping", timeout=5)
        stats = httpx.get(base + "/_sim/stats", timeout=5).json()
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert first.json() == {"gecko_says": "(V3) To the Moon!"}
    assert second.status_code == 429
    assert stats["requests"] == {"/api/v3/ping": 2}
