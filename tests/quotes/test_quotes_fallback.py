"""When Alpha Vantage cannot answer a forced refresh, CoinGecko's rate answers it (201, with
`source` and a `warning`); 503/502 only when CoinGecko cannot price the pair either."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from cryptotrack.simulators.alphavantage import AlphaVantageSimulator
from cryptotrack.simulators.coingecko import CoinGeckoSimulator

pytestmark = pytest.mark.django_db


def refresh(client: APIClient, **body: str) -> Any:
    return client.post("/api/v1/quotes", body, format="json")


def test_with_the_quota_spent_a_forced_refresh_answers_coingeckos_rate(
    user_client: APIClient,
    cg_settings: CoinGeckoSimulator,
    av_settings: AlphaVantageSimulator,
    settings: Any,
) -> None:
    from cryptotrack.quotes.models import Quote

    settings.ALPHAVANTAGE_DAILY_QUOTA = 0
    cg_settings.set_price("bitcoin", "usd", "65432.10")

    response = refresh(user_client)

    assert response.status_code == 201, response.content
    quote = response.json()
    assert quote["source"] == "coingecko"
    assert quote["rate"] == "65432.10000000"
    assert "quota_exhausted" in quote["warning"]
    assert av_settings.call_count == 0
    assert cg_settings.count("/simple/price") == 1
    stored = Quote.objects.get()
    assert (stored.source, stored.trigger) == (Quote.Source.COINGECKO, Quote.Trigger.FORCED)
    listed = user_client.get("/api/v1/quotes?source=coingecko").json()["results"]
    assert [q["rate"] for q in listed] == [quote["rate"]]


def test_alpha_vantages_answer_carries_no_warning(
    user_client: APIClient, cg_settings: CoinGeckoSimulator, av_settings: AlphaVantageSimulator
) -> None:
    response = refresh(user_client)

    assert response.status_code == 201
    assert response.json()["source"] == "alphavantage"
    assert response.json()["warning"] is None
    assert cg_settings.count() == 0


@pytest.mark.parametrize("status", [500, 503])
def test_a_failing_alpha_vantage_falls_back_too(
    user_client: APIClient,
    cg_settings: CoinGeckoSimulator,
    av_settings: AlphaVantageSimulator,
    status: int,
) -> None:
    av_settings.inject_fault("error", status=status)

    response = refresh(user_client, from_currency="ETH", to_currency="EUR")

    assert response.status_code == 201, response.content
    assert response.json()["source"] == "coingecko"
    assert "upstream_unavailable" in response.json()["warning"]
    assert Decimal(response.json()["rate"]) > 0


def test_503_only_when_coingecko_cannot_price_the_pair_either(
    user_client: APIClient,
    cg_settings: CoinGeckoSimulator,
    av_settings: AlphaVantageSimulator,
    settings: Any,
) -> None:
    settings.ALPHAVANTAGE_DAILY_QUOTA = 0

    currency_pair = refresh(user_client, from_currency="EUR", to_currency="USD")  # no coin
    cg_settings.inject_fault("error", status=503)
    coingecko_down = refresh(user_client)

    assert currency_pair.status_code == 503
    assert currency_pair.json()["code"] == "quota_exhausted"
    assert coingecko_down.status_code == 503
    assert coingecko_down.json()["code"] == "quota_exhausted"


def test_a_spent_share_is_still_429_not_a_fallback(
    make_user: Callable[..., Any],
    client_for: Callable[[Any], APIClient],
    cg_settings: CoinGeckoSimulator,
    av_settings: AlphaVantageSimulator,
    settings: Any,
) -> None:
    settings.QUOTES_USER_DAILY_FORCED = 1
    alice = client_for(make_user())

    answers = [refresh(alice).status_code for _ in range(2)]

    assert answers == [201, 429]
    assert cg_settings.count() == 0
