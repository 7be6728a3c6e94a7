"""The fair share of Alpha Vantage's daily quota: codes Alpha Vantage does not list cost no
call, each user has a daily share of forced refreshes, and part of the day is the schedule's.

With the free tier (25 calls a day) and the defaults: 5 calls kept for the schedule, 4 forced
refreshes per user — four users cannot spend what forced refreshes may use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from cryptotrack.simulators.alphavantage import AlphaVantageSimulator

pytestmark = pytest.mark.django_db

# On Alpha Vantage's physical currency list, unknown to the simulator: Alpha Vantage would
# answer "Invalid API call" for it, and that answer spends one of the day's calls.
LISTED_BUT_UNQUOTED = {"from_currency": "KPW", "to_currency": "USD"}


def refresh(client: APIClient, **body: str) -> Any:
    return client.post("/api/v1/quotes", body, format="json")


def calls_today() -> int:
    from cryptotrack.quotes import budget

    return budget.calls_today(provider=budget.ALPHAVANTAGE)


def test_the_default_share_follows_the_daily_quota(settings: Any) -> None:
    assert settings.ALPHAVANTAGE_DAILY_QUOTA == 25
    assert settings.QUOTES_SCHEDULE_RESERVED_CALLS == 5
    assert settings.QUOTES_USER_DAILY_FORCED == 4


@pytest.mark.parametrize(
    ("body", "unlisted"),
    [
        ({"from_currency": "ZZZ", "to_currency": "USD"}, {"from_currency"}),
        ({"from_currency": "BTC", "to_currency": "QQQ"}, {"to_currency"}),
        ({"from_currency": "ABC", "to_currency": "XYZ"}, {"from_currency", "to_currency"}),
    ],
)
def test_a_code_alpha_vantage_does_not_list_is_400_without_an_upstream_call(
    user_client: APIClient,
    av_settings: AlphaVantageSimulator,
    body: dict[str, str],
    unlisted: set[str],
) -> None:
    response = refresh(user_client, **body)

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "unknown_currency"
    assert set(response.json()["errors"]) == unlisted
    for field in unlisted:
        assert body[field] in response.json()["detail"]
    assert av_settings.counter.count() == 0  # not a single request reached the simulator
    assert calls_today() == 0


def test_four_users_with_unknown_pairs_cannot_drain_the_day(
    make_user: Callable[..., Any],
    client_for: Callable[[Any], APIClient],
    av_settings: AlphaVantageSimulator,
    settings: Any,
) -> None:
    from cryptotrack.quotes.models import Quote
    from cryptotrack.quotes.services import fetch_configured_pairs

    settings.QUOTES_PAIRS = ["ETH/USD"]
    attackers = [client_for(make_user()) for _ in range(4)]

    unlisted = [refresh(c, from_currency="ZZZ").status_code for c in attackers for _ in range(10)]
    listed = [refresh(c, **LISTED_BUT_UNQUOTED) for c in attackers for _ in range(10)]
    bystander = refresh(client_for(make_user()))
    scheduled = fetch_configured_pairs(trigger=Quote.Trigger.SCHEDULED)

    assert set(unlisted) == {400}
    # Each attacker spends their own 4 calls on "Invalid API call", then hears 429.
    assert [r.status_code for r in listed] == ([400] * 4 + [429] * 6) * 4
    assert {r.json()["code"] for r in listed} == {"unknown_pair", "forced_refresh_share_spent"}
    assert bystander.status_code == 201, bystander.content
    assert [r.fetched for r in scheduled] == [True]
    assert av_settings.call_count == 4 * 4 + 1 + 1
    assert calls_today() == 18  # of 25: 2 more for forced refreshes, 5 for the schedule


def test_a_user_over_their_share_gets_429_while_others_still_fetch(
    make_user: Callable[..., Any],
    client_for: Callable[[Any], APIClient],
    av_settings: AlphaVantageSimulator,
    settings: Any,
) -> None:
    settings.QUOTES_USER_DAILY_FORCED = 2
    alice, bob = client_for(make_user()), client_for(make_user())

    alice_answers = [refresh(alice) for _ in range(3)]
    bob_answer = refresh(bob)

    assert [a.status_code for a in alice_answers] == [201, 201, 429]
    refused = alice_answers[2]
    assert refused.json()["code"] == "forced_refresh_share_spent"
    assert "2 forced refreshes of today" in refused.json()["detail"]
    assert "midnight UTC" in refused.json()["detail"]
    assert 1 <= int(refused["Retry-After"]) <= 86401
    assert bob_answer.status_code == 201
    assert av_settings.call_count == 3  # the refusal spent no call
    assert calls_today() == 3


def test_the_schedule_keeps_its_reserve_when_forced_refreshes_spent_theirs(
    make_user: Callable[..., Any],
    client_for: Callable[[Any], APIClient],
    av_settings: AlphaVantageSimulator,
    settings: Any,
) -> None:
    from cryptotrack.quotes.models import Quote
    from cryptotrack.quotes.services import fetch_configured_pairs

    settings.ALPHAVANTAGE_DAILY_QUOTA = 6
    settings.QUOTES_SCHEDULE_RESERVED_CALLS = 2
    settings.QUOTES_PAIRS = ["BTC/EUR", "ETH/EUR"]
    users = [client_for(make_user()) for _ in range(3)]

    forced = [refresh(c, from_currency=code) for c in users for code in ("BTC", "ETH")]
    scheduled = fetch_configured_pairs(trigger=Quote.Trigger.SCHEDULED)
    after = fetch_configured_pairs(trigger=Quote.Trigger.SCHEDULED)  # the day is spent now

    assert [a.status_code for a in forced] == [201, 201, 201, 201, 503, 503]
    assert forced[4].json()["code"] == "quota_exhausted"
    assert "kept for the schedule" in forced[4].json()["detail"]
    assert [(r.quote.from_currency, r.fetched) for r in scheduled] == [
        ("BTC", True),
        ("ETH", True),
    ]
    assert [r.fetched for r in after] == [False, False]  # recent enough: no call
    assert av_settings.call_count == 6
    assert calls_today() == 6
