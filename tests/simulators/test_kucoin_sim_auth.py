"""The simulator checks requests as KuCoin does, seen through an independent signer.

Requests here are signed by ``independent_headers`` (KuCoin's documented formula written
inline, not our client), and each refusal must be byte-for-byte the body KuCoin sends, with
its HTTP status, as recorded in the shared samples.
"""

from __future__ import annotations

import time

import httpx
import pytest

from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.exchanges.kucoin_fixtures import (
    API_KEY,
    API_PASSPHRASE,
    API_SECRET,
    independent_headers,
    sample_http_status,
    sample_json,
)

PATHS = [
    "/api/v1/positions",
    "/api/v1/position?symbol=XBTUSDTM",
    "/api/v1/accounts",
    "/api/v1/account-overview?currency=USDT",
]


@pytest.fixture(scope="module")
def sim():
    with KucoinSimulator() as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def fresh(sim):
    sim.reset()
    sim.add_key(API_KEY, API_SECRET, API_PASSPHRASE, permissions=["General", "Futures"])


@pytest.fixture
def http(sim):
    with httpx.Client(base_url=sim.url) as client:
        yield client


def signed(path: str, **overrides) -> dict[str, str]:
    options = {"key": API_KEY, "secret": API_SECRET, "passphrase": API_PASSPHRASE}
    options.update(overrides)
    return independent_headers(method="GET", path_and_query=path, **options)


def assert_kucoin_error(response: httpx.Response, sample: str) -> None:
    assert response.status_code == sample_http_status(sample)
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == sample_json(sample)


@pytest.mark.parametrize("path", [*PATHS, "/api/v1/user/api-key"])
def test_correctly_signed_requests_are_accepted(http, path):
    response = http.get(path, headers=signed(path))
    assert response.status_code == 200
    assert response.json()["code"] == "200000"


def test_the_unencoded_query_is_what_is_signed(http):
    path = "/api/v1/position?symbol=AB!C"
    response = http.get("/api/v1/position?symbol=AB%21C", headers=signed(path))
    assert response.status_code == 200
    assert response.json()["data"]["symbol"] == "AB!C"


@pytest.mark.parametrize(
    "header", ["KC-API-KEY", "KC-API-SIGN", "KC-API-TIMESTAMP", "KC-API-PASSPHRASE"]
)
def test_a_missing_header_is_400001(http, header):
    headers = signed("/api/v1/positions")
    del headers[header]
    assert_kucoin_error(
        http.get("/api/v1/positions", headers=headers), "kucoin_error_missing_headers"
    )


@pytest.mark.parametrize("shift_ms", [-5_500, 5_500, -3_600_000])
def test_a_timestamp_beyond_five_seconds_is_400002(http, shift_ms):
    ts = int(time.time() * 1000) + shift_ms
    response = http.get("/api/v1/positions", headers=signed("/api/v1/positions", timestamp_ms=ts))
    assert_kucoin_error(response, "kucoin_error_invalid_timestamp")


def test_a_timestamp_within_five_seconds_is_accepted(http):
    ts = int(time.time() * 1000) - 4_000
    response = http.get("/api/v1/positions", headers=signed("/api/v1/positions", timestamp_ms=ts))
    assert response.status_code == 200


def test_a_non_numeric_timestamp_is_400002(http):
    headers = signed("/api/v1/positions")
    headers["KC-API-TIMESTAMP"] = "yesterday"
    assert_kucoin_error(
        http.get("/api/v1/positions", headers=headers), "kucoin_error_invalid_timestamp"
    )


def test_the_timestamp_is_checked_against_the_simulated_clock(sim, http):
    sim.configure(clock_offset_ms=60_000)
    assert_kucoin_error(
        http.get("/api/v1/positions", headers=signed("/api/v1/positions")),
        "kucoin_error_invalid_timestamp",
    )
    ts = http.get("/api/v1/timestamp").json()["data"]
    response = http.get("/api/v1/positions", headers=signed("/api/v1/positions", timestamp_ms=ts))
    assert response.status_code == 200


def test_an_unknown_key_is_400003(http):
    response = http.get("/api/v1/positions", headers=signed("/api/v1/positions", key="nope"))
    assert_kucoin_error(response, "kucoin_error_key_not_exists")


def test_a_wrong_passphrase_is_400004(http):
    response = http.get(
        "/api/v1/positions", headers=signed("/api/v1/positions", passphrase="not-it")
    )
    assert_kucoin_error(response, "kucoin_error_invalid_passphrase")


def test_a_plain_passphrase_for_a_version_2_key_is_400004(http):
    headers = signed("/api/v1/positions")
    headers["KC-API-PASSPHRASE"] = API_PASSPHRASE
    assert_kucoin_error(
        http.get("/api/v1/positions", headers=headers), "kucoin_error_invalid_passphrase"
    )


def test_a_version_1_key_sends_its_passphrase_in_clear(sim, http):
    sim.add_key("v1", "secret-v1", "clear-pass", key_version="1")
    ok = signed("/api/v1/positions", key="v1", secret="secret-v1", passphrase="clear-pass")
    ok["KC-API-PASSPHRASE"] = "clear-pass"
    ok["KC-API-KEY-VERSION"] = "1"
    assert http.get("/api/v1/positions", headers=ok).status_code == 200


@pytest.mark.parametrize(
    "tamper",
    ["other-secret", "other-path", "other-query", "other-method", "other-timestamp", "lowercase"],
)
def test_a_signature_over_anything_else_is_400005(http, tamper):
    path = "/api/v1/position?symbol=XBTUSDTM"
    ts = int(time.time() * 1000)
    # The passphrase stays right; only what the signature covers differs from the request.
    headers = signed(path, timestamp_ms=ts)
    if tamper == "other-secret":
        headers["KC-API-SIGN"] = signed(path, secret="x", timestamp_ms=ts)["KC-API-SIGN"]
    elif tamper == "other-path":
        headers["KC-API-SIGN"] = signed("/api/v1/positions", timestamp_ms=ts)["KC-API-SIGN"]
    elif tamper == "other-query":
        other = "/api/v1/position?symbol=ETHUSDTM"
        headers["KC-API-SIGN"] = signed(other, timestamp_ms=ts)["KC-API-SIGN"]
    elif tamper == "other-method":
        headers["KC-API-SIGN"] = independent_headers(
            key=API_KEY,
            secret=API_SECRET,
            passphrase=API_PASSPHRASE,
            method="POST",
            path_and_query=path,
            timestamp_ms=ts,
        )["KC-API-SIGN"]
    elif tamper == "other-timestamp":
        headers["KC-API-SIGN"] = signed(path, timestamp_ms=ts - 1)["KC-API-SIGN"]
    else:
        headers["KC-API-SIGN"] = headers["KC-API-SIGN"].lower()
    assert_kucoin_error(http.get(path, headers=headers), "kucoin_error_invalid_sign")


def test_an_ip_outside_the_whitelist_is_400006(sim, http):
    sim.add_key("walled", "s", "p", ip_whitelist=["203.0.113.7"])
    sim.add_key("open-to-us", "s", "p", ip_whitelist=["203.0.113.7", "127.0.0.*"])
    walled = signed("/api/v1/positions", key="walled", secret="s", passphrase="p")
    assert_kucoin_error(
        http.get("/api/v1/positions", headers=walled), "kucoin_error_ip_not_whitelisted"
    )
    allowed = signed("/api/v1/positions", key="open-to-us", secret="s", passphrase="p")
    assert http.get("/api/v1/positions", headers=allowed).status_code == 200


def test_a_missing_permission_is_400007(sim, http):
    sim.add_key("general", "s", "p", permissions=["General"])
    headers = signed("/api/v1/positions", key="general", secret="s", passphrase="p")
    assert_kucoin_error(
        http.get("/api/v1/positions", headers=headers), "kucoin_error_no_permission"
    )
    headers = signed("/api/v1/accounts", key="general", secret="s", passphrase="p")
    assert http.get("/api/v1/accounts", headers=headers).status_code == 200


def test_checks_run_in_kucoins_order(sim, http):
    # Unknown key and bad signature at once: the key check comes first.
    headers = signed("/api/v1/positions", key="nope")
    headers["KC-API-SIGN"] = "garbage"
    assert http.get("/api/v1/positions", headers=headers).json()["code"] == "400003"
    # Bad passphrase and bad signature: the passphrase check comes first.
    headers = signed("/api/v1/positions", passphrase="wrong")
    headers["KC-API-SIGN"] = "garbage"
    assert http.get("/api/v1/positions", headers=headers).json()["code"] == "400004"


def test_the_timestamp_endpoint_is_public(http):
    response = http.get("/api/v1/timestamp")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == set(sample_json("kucoin_spot_timestamp"))
    assert abs(body["data"] - time.time() * 1000) < 2_000


def test_rate_limit_headers_count_down_by_endpoint_weight(sim, http):
    first = http.get("/api/v1/positions", headers=signed("/api/v1/positions"))
    second = http.get("/api/v1/positions", headers=signed("/api/v1/positions"))
    example = sample_json("kucoin_ratelimit_headers_example")["headers"]
    for name in ("gw-ratelimit-limit", "gw-ratelimit-remaining", "gw-ratelimit-reset"):
        assert name in example
        assert name in first.headers
    assert first.headers["gw-ratelimit-limit"] == "2000"  # Futures pool, VIP0
    assert int(first.headers["gw-ratelimit-remaining"]) == 1998  # weight 2
    assert int(second.headers["gw-ratelimit-remaining"]) == 1996
    assert 0 < int(second.headers["gw-ratelimit-reset"]) <= 30_000


def test_a_spent_quota_answers_429000_until_the_window_resets(sim, http):
    sim.configure(rate_limit={"futures": 4}, rate_limit_window=0.3)
    for _ in range(2):
        assert http.get("/api/v1/positions", headers=signed("/api/v1/positions")).is_success
    refused = http.get("/api/v1/positions", headers=signed("/api/v1/positions"))
    assert_kucoin_error(refused, "kucoin_error_rate_limit")
    assert refused.headers["gw-ratelimit-remaining"] == "0"
    assert 0 < int(refused.headers["gw-ratelimit-reset"]) <= 300
    # Other pools (spot accounts: Management) and other keys keep their own quota.
    assert http.get("/api/v1/accounts", headers=signed("/api/v1/accounts")).is_success
    time.sleep(int(refused.headers["gw-ratelimit-reset"]) / 1000 + 0.02)
    assert http.get("/api/v1/positions", headers=signed("/api/v1/positions")).is_success
