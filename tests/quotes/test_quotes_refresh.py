"""POST /api/v1/quotes against the Alpha Vantage simulator: stored quotes, every upstream
error body and how it is answered, our daily quota, the per-user throttle, and latest."""

from __future__ import annotations

import signal
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from rest_framework.test import APIClient
from tests.quotes.conftest import API_KEY
from tests.support.processes import AsgiServer, RedisServer

from cryptotrack.simulators.alphavantage import AlphaVantageSimulator

pytestmark = pytest.mark.django_db


def refresh(client: APIClient, **body: str) -> Any:
    return client.post("/api/v1/quotes", body, format="json")


def stored_quotes() -> int:
    from cryptotrack.quotes.models import Quote

    return Quote.objects.count()


def test_forced_refresh_fetches_stores_and_answers_the_quote(
    user_client: APIClient, av_settings: AlphaVantageSimulator
) -> None:
    av_settings.set_rate("BTC", "USD", "64123.45678901", bid="64120.1", ask="64125.9")

    response = refresh(user_client)

    assert response.status_code == 201, response.content
    quote = response.json()
    assert quote["from_currency"] == "BTC"
    assert quote["to_currency"] == "USD"
    assert quote["rate"] == "64123.45678901"
    assert quote["bid"] == "64120.10000000"
    assert quote["ask"] == "64125.90000000"
    assert quote["refreshed_at"].endswith("Z")
    assert av_settings.call_count == 1
    listed = user_client.get("/api/v1/quotes").json()["results"]
    assert quote.pop("warning") is None  # Alpha Vantage answered: no fallback
    assert listed == [quote]
    from cryptotrack.quotes.models import Quote

    assert Quote.objects.get().trigger == Quote.Trigger.FORCED


def test_refresh_of_another_pair_and_the_older_seven_field_answer(
    user_client: APIClient, av_settings: AlphaVantageSimulator, settings: Any
) -> None:
    response = refresh(user_client, from_currency="ETH", to_currency="EUR")
    with AlphaVantageSimulator(api_keys={API_KEY}, include_bid_ask=False) as older:
        settings.ALPHAVANTAGE_URL = older.url
        seven_fields = refresh(user_client, from_currency="BTC", to_currency="CNY")

    assert response.status_code == 201
    assert (response.json()["from_currency"], response.json()["to_currency"]) == ("ETH", "EUR")
    assert seven_fields.status_code == 201
    assert seven_fields.json()["bid"] is None
    assert seven_fields.json()["ask"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"from_currency": "btc"},
        {"from_currency": "BT"},
        {"to_currency": "US-D"},
        {"to_currency": "ABCDEFGHIJK"},
        {"from_currency": 5},
    ],
)
def test_bad_currency_codes_are_400_without_an_upstream_call(
    user_client: APIClient, av_settings: AlphaVantageSimulator, body: dict[str, Any]
) -> None:
    response = user_client.post("/api/v1/quotes", body, format="json")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == set(body)
    assert av_settings.call_count == 0


def _wrong_key(sim: AlphaVantageSimulator, settings: Any) -> dict[str, str]:
    settings.ALPHAVANTAGE_API_KEY = "not-the-key"
    return {}


def _server_error(sim: AlphaVantageSimulator, settings: Any) -> dict[str, str]:
    sim.inject_fault("error", status=503)
    return {}


def _malformed(sim: AlphaVantageSimulator, settings: Any) -> dict[str, str]:
    sim.inject_fault("malformed")
    return {}


def _timeout(sim: AlphaVantageSimulator, settings: Any) -> dict[str, str]:
    settings.ALPHAVANTAGE_TIMEOUT_SECONDS = 0.3
    sim.inject_fault("latency", latency=1.5)
    return {}


def _dropped(sim: AlphaVantageSimulator, settings: Any) -> dict[str, str]:
    sim.inject_fault("drop")
    return {}


@pytest.mark.parametrize(
    ("arrange", "code"),
    [
        (_wrong_key, "upstream_invalid_key"),  # {"Error Message": "the parameter apikey ..."}
        (_server_error, "upstream_unavailable"),
        (_dropped, "upstream_unavailable"),
        (_malformed, "upstream_bad_response"),
        (_timeout, "upstream_timeout"),
    ],
)
def test_upstream_errors_answer_502_once_and_store_nothing(
    user_client: APIClient,
    av_settings: AlphaVantageSimulator,
    settings: Any,
    arrange: Callable[[AlphaVantageSimulator, Any], dict[str, str]],
    code: str,
) -> None:
    body = arrange(av_settings, settings)

    response = refresh(user_client, **body)

    assert response.status_code == 502, response.content
    assert response.json()["code"] == code
    assert response.json()["detail"]
    assert API_KEY not in response.content.decode()
    assert av_settings.call_count == 1  # never retried: each try spends the free tier
    assert stored_quotes() == 0


def test_a_pair_alpha_vantage_does_not_know_is_400_and_stores_nothing(
    user_client: APIClient, av_settings: AlphaVantageSimulator
) -> None:
    # KPW is on Alpha Vantage's currency list, but it has no rate for it (nor the simulator):
    # {"Error Message": "Invalid API call. ..."} is the caller's mistake.
    response = refresh(user_client, from_currency="KPW", to_currency="USD")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "unknown_pair"
    assert "KPW/USD" in response.json()["detail"]
    assert av_settings.call_count == 1
    assert stored_quotes() == 0


def test_no_api_key_configured_is_502_without_a_call(
    user_client: APIClient, av_settings: AlphaVantageSimulator, settings: Any
) -> None:
    settings.ALPHAVANTAGE_API_KEY = ""

    response = refresh(user_client)

    assert response.status_code == 502
    assert response.json()["code"] == "upstream_not_configured"
    assert av_settings.call_count == 0


def test_an_unusable_upstream_url_is_502_not_500(
    user_client: APIClient, av_settings: AlphaVantageSimulator, settings: Any
) -> None:
    settings.ALPHAVANTAGE_URL = "http://\x00/query"  # httpx.InvalidURL, untyped by the client

    response = refresh(user_client)

    assert response.status_code == 502
    assert response.json()["code"] == "upstream_error"


def test_daily_limit_information_is_503_until_midnight_and_stops_further_calls(
    user_client: APIClient, av_settings: AlphaVantageSimulator
) -> None:
    av_settings.set_quota(per_day=0)  # {"Information": "... (25 requests per day) ..."}

    first = refresh(user_client)
    second = refresh(user_client)

    assert first.status_code == 503
    assert first.json()["code"] == "upstream_rate_limited"
    assert "Alpha Vantage" in first.json()["detail"]
    assert 1 <= int(first["Retry-After"]) <= 86401
    assert second.status_code == 503
    assert second.json()["code"] == "upstream_rate_limited"
    assert int(second["Retry-After"]) <= int(first["Retry-After"])
    assert av_settings.call_count == 1  # the second one did not even ask
    assert stored_quotes() == 0


@pytest.mark.parametrize("style", ["note", "information"])
def test_minute_limit_note_or_information_is_503_with_retry_after_a_minute(
    user_client: APIClient, settings: Any, style: str
) -> None:
    with AlphaVantageSimulator(
        api_keys={API_KEY}, per_minute=0, per_day=500, minute_limit_style=style
    ) as sim:
        settings.ALPHAVANTAGE_URL = sim.url
        settings.ALPHAVANTAGE_API_KEY = API_KEY

        response = refresh(user_client)

        assert response.status_code == 503
        assert response.json()["code"] == "upstream_rate_limited"
        assert 55 <= int(response["Retry-After"]) <= 62
        assert sim.call_count == 1


def test_our_daily_quota_spent_is_503_without_calling_upstream(
    user_client: APIClient, av_settings: AlphaVantageSimulator, settings: Any
) -> None:
    settings.ALPHAVANTAGE_DAILY_QUOTA = 2
    settings.QUOTES_SCHEDULE_RESERVED_CALLS = 0  # every call open to forced refreshes

    answers = [refresh(user_client) for _ in range(3)]

    assert [a.status_code for a in answers] == [201, 201, 503]
    assert answers[2].json()["code"] == "quota_exhausted"
    assert 1 <= int(answers[2]["Retry-After"]) <= 86401
    assert av_settings.call_count == 2
    from cryptotrack.quotes import budget

    assert budget.calls_today(provider=budget.ALPHAVANTAGE) == 2


def test_failed_calls_count_against_the_quota_too(
    user_client: APIClient, av_settings: AlphaVantageSimulator, settings: Any
) -> None:
    settings.ALPHAVANTAGE_DAILY_QUOTA = 1
    settings.QUOTES_SCHEDULE_RESERVED_CALLS = 0
    av_settings.inject_fault("error", status=500, times=1)

    assert refresh(user_client).status_code == 502
    assert refresh(user_client).status_code == 503
    assert av_settings.call_count == 1


def test_refresh_is_throttled_per_user(
    make_user: Callable[..., Any],
    client_for: Callable[[Any], APIClient],
    av_settings: AlphaVantageSimulator,
    settings: Any,
) -> None:
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "quotes_refresh": "2/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    alice, bob = client_for(make_user()), client_for(make_user())

    alice_answers = [refresh(alice).status_code for _ in range(3)]
    throttled = refresh(alice)
    bob_answer = refresh(bob)
    reads = [alice.get("/api/v1/quotes").status_code for _ in range(3)]

    assert alice_answers == [201, 201, 429]
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) >= 1
    assert bob_answer.status_code == 201
    assert reads == [200, 200, 200]  # reading is not a refresh


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_refresh_throttle_holds_while_redis_is_down(
    user: Any,
    quotes_env: dict[str, str],
    access_token: Callable[[Any], str],
    throttle_redis: RedisServer,
) -> None:
    env = {
        **quotes_env,
        "REDIS_URL": throttle_redis.url,
        "THROTTLE_QUOTES_REFRESH": "5/min",
        # The throttle is what is tested, not the user's daily share of Alpha Vantage calls.
        "QUOTES_USER_DAILY_FORCED": "100",
    }
    headers = {"Authorization": f"Bearer {access_token(user)}"}
    with AsgiServer(env) as server:
        throttle_redis.kill(signal.SIGKILL)

        answers = [
            httpx.post(f"{server.url}/api/v1/quotes", json={}, headers=headers, timeout=30)
            for _ in range(7)
        ]

    assert [a.status_code for a in answers] == [201] * 5 + [429] * 2
    assert answers[-1].json()["code"] == "throttled"
    assert int(answers[-1].headers["Retry-After"]) >= 1


def test_latest_is_404_before_any_quote_then_the_newest_of_the_pair(
    user_client: APIClient,
    av_settings: AlphaVantageSimulator,
    make_quotes: Callable[..., list[Any]],
) -> None:
    missing = user_client.get("/api/v1/quotes/latest")
    make_quotes(3, pair=("ETH", "USD"))
    av_settings.set_rate("BTC", "USD", "70000")
    forced = refresh(user_client).json()
    del forced["warning"]  # only the POST answer says whether the fallback answered

    latest = user_client.get("/api/v1/quotes/latest")
    eth = user_client.get("/api/v1/quotes/latest?from_currency=ETH&to_currency=USD")
    bad = user_client.get("/api/v1/quotes/latest?from_currency=eth")

    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    assert latest.status_code == 200
    assert latest.json() == forced
    assert eth.json()["rate"] == f"{Decimal('60002'):.8f}"
    assert bad.status_code == 400


def test_latest_is_served_from_the_cache_and_from_the_database_without_it(
    user_client: APIClient,
    make_quotes: Callable[..., list[Any]],
    django_assert_num_queries: Any,
    settings: Any,
) -> None:
    make_quotes(2)
    first = user_client.get("/api/v1/quotes/latest").json()  # fills the cache

    with django_assert_num_queries(1):  # the user behind the token; no quote query
        cached = user_client.get("/api/v1/quotes/latest").json()
    settings.CACHES = {
        **settings.CACHES,
        "live": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }
    from_database = user_client.get("/api/v1/quotes/latest").json()

    assert cached == first == from_database
    assert first["rate"] == f"{Decimal('60001'):.8f}"
