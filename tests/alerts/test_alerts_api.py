"""The alerts API: create, list, read, change, delete, re-activate; validation; privacy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from cryptotrack.alerts.models import Alert
from cryptotrack.simulators.coingecko import CoinGeckoSimulator

pytestmark = pytest.mark.django_db

ALERTS = "/api/v1/alerts"
BTC_ABOVE = {"coin": "bitcoin", "currency": "usd", "target_price": "70000", "direction": "above"}


def _create(client: APIClient, **fields: Any) -> dict[str, Any]:
    response = client.post(ALERTS, {**BTC_ABOVE, **fields}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_create_answers_the_active_alert(
    user_client: APIClient, coingecko: CoinGeckoSimulator
) -> None:
    created = _create(user_client, coin="Bitcoin", currency="USD", target_price="70000.50")

    assert created == {
        "id": created["id"],
        "coin": "bitcoin",
        "currency": "usd",
        "target_price": "70000.5",
        "direction": "above",
        "status": "active",
        "created_at": created["created_at"],
        "triggered_at": None,
        "triggered_price": None,
        "last_notified_at": None,
        "channels": [],
    }
    assert created["created_at"].endswith("Z")
    assert user_client.get(f"{ALERTS}/{created['id']}").json() == created


@pytest.mark.parametrize(
    ("target", "direction"),
    [("70000", "above"), ("60000", "below"), ("67187.3358936566", "above")],
)
def test_direction_is_inferred_from_the_current_price(
    user_client: APIClient, coingecko: CoinGeckoSimulator, target: str, direction: str
) -> None:
    body = {"coin": "bitcoin", "currency": "usd", "target_price": target}

    response = user_client.post(ALERTS, body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["direction"] == direction


def test_tiny_prices_in_btc_keep_every_digit(
    user_client: APIClient, coingecko: CoinGeckoSimulator
) -> None:
    created = _create(
        user_client, coin="dogecoin", currency="btc", target_price="0.000000002283312345"
    )
    assert created["target_price"] == "0.000000002283312345"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"coin": "notacoin"}, "coin", "not a CoinGecko coin id"),
        ({"currency": "zzz"}, "currency", "does not price coins in 'zzz'"),
        ({"target_price": "0"}, "target_price", "greater than zero"),
        ({"target_price": "-5"}, "target_price", "greater than zero"),
        ({"target_price": "1000000000001"}, "target_price", "not a real price"),
        ({"target_price": "1e13"}, "target_price", "not a real price"),
        ({"target_price": "0.0000000000000000001"}, "target_price", "at most 18 decimal"),
        ({"target_price": "abc"}, "target_price", "decimal number"),
        ({"target_price": "NaN"}, "target_price", "decimal number"),
        ({"target_price": True}, "target_price", "decimal number"),
        ({"direction": "sideways"}, "direction", "not a valid choice"),
        ({"coin": ""}, "coin", "may not be blank"),
    ],
)
def test_invalid_alert_is_400_naming_the_field(
    user_client: APIClient,
    coingecko: CoinGeckoSimulator,
    changes: dict[str, Any],
    field: str,
    message: str,
) -> None:
    response = user_client.post(ALERTS, {**BTC_ABOVE, **changes}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert message in " ".join(body["errors"][field]), body
    assert not Alert.objects.exists()


def test_missing_fields_are_named(user_client: APIClient, coingecko: CoinGeckoSimulator) -> None:
    response = user_client.post(ALERTS, {}, format="json")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"coin", "currency", "target_price"}


def test_unknown_coin_and_currency_are_both_reported(
    user_client: APIClient, coingecko: CoinGeckoSimulator
) -> None:
    response = user_client.post(
        ALERTS, {**BTC_ABOVE, "coin": "nope", "currency": "nope"}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"coin", "currency"}


def test_account_without_email_cannot_create_alerts(
    make_user: Callable[..., Any],
    client_for: Callable[[Any], APIClient],
    coingecko: CoinGeckoSimulator,
) -> None:
    client = client_for(make_user(email=""))

    response = client.post(ALERTS, BTC_ABOVE, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "email_required"
    assert "email" in response.json()["detail"]


def test_active_alerts_are_capped_per_user(
    user_client: APIClient, coingecko: CoinGeckoSimulator, settings: Any
) -> None:
    settings.ALERTS_MAX_PER_USER = 2
    first = _create(user_client)
    _create(user_client)

    refused = user_client.post(ALERTS, BTC_ABOVE, format="json")
    assert refused.status_code == 400
    assert refused.json()["code"] == "too_many_alerts"
    assert "2 active alerts" in refused.json()["detail"]

    # A deleted alert frees its slot; re-arming one needs a free slot too.
    assert user_client.delete(f"{ALERTS}/{first['id']}").status_code == 204
    third = _create(user_client)
    Alert.objects.filter(pk=third["id"]).update(status=Alert.Status.SLEEPING)
    _create(user_client)
    again = user_client.post(f"{ALERTS}/{third['id']}/activate")
    assert again.status_code == 400
    assert again.json()["code"] == "too_many_alerts"


def test_reference_lists_are_fetched_once_and_cached(
    user_client: APIClient, coingecko: CoinGeckoSimulator
) -> None:
    _create(user_client)
    _create(user_client, coin="ethereum", currency="eur", target_price="3000")

    assert coingecko.count("/coins/list") == 1
    assert coingecko.count("/simple/supported_vs_currencies") == 1


def test_unreachable_coingecko_without_cache_is_503_with_retry_after(
    user_client: APIClient, coingecko: CoinGeckoSimulator
) -> None:
    coingecko.stop()

    response = user_client.post(ALERTS, BTC_ABOVE, format="json")

    assert response.status_code == 503
    assert response.json()["code"] == "upstream_unavailable"
    assert int(response["Retry-After"]) > 0
    assert not Alert.objects.exists()


def test_rate_limited_coingecko_is_503_with_its_retry_after(
    user_client: APIClient, coingecko: CoinGeckoSimulator
) -> None:
    coingecko.set_rate_limit(0)

    response = user_client.post(ALERTS, BTC_ABOVE, format="json")

    assert response.status_code == 503
    assert response.json()["code"] == "upstream_rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 60


def test_cached_lists_still_validate_while_coingecko_is_down(
    user_client: APIClient, coingecko: CoinGeckoSimulator
) -> None:
    _create(user_client)
    coingecko.stop()

    assert user_client.post(ALERTS, BTC_ABOVE, format="json").status_code == 201
    unknown = user_client.post(ALERTS, {**BTC_ABOVE, "coin": "nope"}, format="json")
    assert unknown.status_code == 400
    # Inferring the direction needs a live price, though.
    no_direction = {"coin": "bitcoin", "currency": "usd", "target_price": "1"}
    assert user_client.post(ALERTS, no_direction, format="json").status_code == 503


def test_direction_cannot_be_inferred_without_a_price(
    user_client: APIClient, coingecko: CoinGeckoSimulator
) -> None:
    coingecko.add_coin("brand-new-coin", "bnc", "Brand New Coin")
    body = {"coin": "brand-new-coin", "currency": "usd", "target_price": "1"}

    response = user_client.post(ALERTS, body, format="json")

    assert response.status_code == 400
    assert "give 'above' or 'below'" in response.json()["errors"]["direction"][0]


def test_list_is_the_callers_newest_first_in_the_envelope(
    user_client: APIClient,
    coingecko: CoinGeckoSimulator,
    make_alert: Callable[..., Any],
) -> None:
    ids = [_create(user_client, target_price=str(70000 + n))["id"] for n in range(3)]
    make_alert(target="1")  # someone else's

    page = user_client.get(ALERTS, {"per_page": 2}).json()

    assert {k: page[k] for k in ("count", "total_pages", "page", "per_page")} == {
        "count": 3,
        "total_pages": 2,
        "page": 1,
        "per_page": 2,
    }
    assert [a["id"] for a in page["results"]] == [ids[2], ids[1]]
    second = user_client.get(ALERTS, {"per_page": 2, "page": 2}).json()
    assert [a["id"] for a in second["results"]] == [ids[0]]
    assert user_client.get(ALERTS, {"page": 9}).json()["results"] == []


def test_list_filters_by_status_and_coin_and_hides_deleted(
    user_client: APIClient, user: Any, make_alert: Callable[..., Any]
) -> None:
    btc = make_alert(user=user)
    eth = make_alert(user=user, coin="ethereum", target="4000")
    sleeping = make_alert(user=user, status="sleeping")
    deleted = make_alert(user=user, status="deleted")

    def listed(**query: str) -> set[int]:
        response = user_client.get(ALERTS, query)
        assert response.status_code == 200, response.content
        return {a["id"] for a in response.json()["results"]}

    assert listed() == {btc.pk, eth.pk, sleeping.pk}
    assert listed(status="active") == {btc.pk, eth.pk}
    assert listed(status="sleeping") == {sleeping.pk}
    assert listed(status="deleted") == {deleted.pk}
    assert listed(coin="ethereum") == {eth.pk}
    assert listed(coin="bitcoin", status="active") == {btc.pk}


@pytest.mark.parametrize(
    "query", [{"status": "asleep"}, {"per_page": "0"}, {"per_page": "101"}, {"page": "x"}]
)
def test_bad_list_parameters_are_400(user_client: APIClient, query: dict[str, str]) -> None:
    response = user_client.get(ALERTS, query)

    assert response.status_code == 400
    assert set(response.json()["errors"]) == set(query)


def test_list_costs_the_same_queries_for_many_alerts(
    user_client: APIClient,
    user: Any,
    make_alert: Callable[..., Any],
    django_assert_max_num_queries: Any,
) -> None:
    for n in range(30):
        make_alert(user=user, target=str(100 + n))

    # Count, page, and the page's channels (one prefetch, however many alerts).
    with django_assert_max_num_queries(4):
        assert user_client.get(ALERTS, {"per_page": 30}).json()["count"] == 30


def test_patch_changes_target_and_direction_but_not_status(
    user_client: APIClient, user: Any, make_alert: Callable[..., Any]
) -> None:
    alert = make_alert(user=user, status="sleeping")

    response = user_client.patch(
        f"{ALERTS}/{alert.pk}", {"target_price": "65000", "direction": "below"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["target_price"] == "65000"
    assert response.json()["direction"] == "below"
    assert response.json()["status"] == "sleeping"


def test_patch_validates_a_new_coin(
    user_client: APIClient, user: Any, make_alert: Callable[..., Any], coingecko: Any
) -> None:
    alert = make_alert(user=user)

    bad = user_client.patch(f"{ALERTS}/{alert.pk}", {"coin": "nope"}, format="json")
    good = user_client.patch(f"{ALERTS}/{alert.pk}", {"coin": "ethereum"}, format="json")
    bad_price = user_client.patch(f"{ALERTS}/{alert.pk}", {"target_price": "0"}, format="json")

    assert bad.status_code == 400
    assert "coin" in bad.json()["errors"]
    assert good.status_code == 200
    assert good.json()["coin"] == "ethereum"
    assert bad_price.status_code == 400


def test_delete_is_soft_and_idempotent(
    user_client: APIClient, user: Any, make_alert: Callable[..., Any]
) -> None:
    alert = make_alert(user=user)

    assert user_client.delete(f"{ALERTS}/{alert.pk}").status_code == 204
    assert user_client.delete(f"{ALERTS}/{alert.pk}").status_code == 204

    read = user_client.get(f"{ALERTS}/{alert.pk}")
    assert read.status_code == 200
    assert read.json()["status"] == "deleted"
    assert user_client.get(ALERTS).json()["count"] == 0


def test_deleted_alert_cannot_be_activated_or_changed(
    user_client: APIClient, user: Any, make_alert: Callable[..., Any]
) -> None:
    alert = make_alert(user=user, status="deleted")

    activate = user_client.post(f"{ALERTS}/{alert.pk}/activate")
    patch = user_client.patch(f"{ALERTS}/{alert.pk}", {"target_price": "1"}, format="json")

    assert activate.status_code == 409
    assert activate.json()["code"] == "conflict"
    assert patch.status_code == 409


@pytest.mark.parametrize("status", ["triggered", "sleeping", "active"])
def test_activate_re_arms_the_alert(
    user_client: APIClient, user: Any, make_alert: Callable[..., Any], status: str
) -> None:
    alert = make_alert(user=user, status=status)

    response = user_client.post(f"{ALERTS}/{alert.pk}/activate")

    assert response.status_code == 200
    assert response.json()["status"] == "active"
    assert response.json()["triggered_at"] is None


def test_another_users_alert_is_404_everywhere(
    user_client: APIClient, make_alert: Callable[..., Any]
) -> None:
    theirs = make_alert()
    url = f"{ALERTS}/{theirs.pk}"

    answers = [
        user_client.get(url),
        user_client.patch(url, {"target_price": "1"}, format="json"),
        user_client.delete(url),
        user_client.post(f"{url}/activate"),
    ]

    assert [a.status_code for a in answers] == [404, 404, 404, 404]
    assert all(a.json()["code"] == "not_found" for a in answers)
    theirs.refresh_from_db()
    assert (theirs.status, str(theirs.target_price)) == ("active", "70000.000000000000000000")


def test_alerts_need_authentication(api_client: APIClient) -> None:
    response = api_client.get(ALERTS)
    assert response.status_code == 401
    assert "WWW-Authenticate" in response


def test_schema_documents_the_alert_endpoints(api_client: APIClient) -> None:
    schema = api_client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]

    listing = paths["/api/v1/alerts"]
    assert {"200", "400", "401"} <= set(listing["get"]["responses"])
    assert {"201", "400", "401", "503"} <= set(listing["post"]["responses"])
    assert {p["name"] for p in listing["get"]["parameters"]} >= {"status", "coin", "page"}
    detail = paths["/api/v1/alerts/{alert_id}"]
    assert {"get", "patch", "delete"} <= set(detail)
    assert {"200", "404", "409"} <= set(detail["patch"]["responses"])
    assert "204" in detail["delete"]["responses"]
    activate = paths["/api/v1/alerts/{alert_id}/activate"]["post"]["responses"]
    assert {"200", "404", "409"} <= set(activate)
    output = schema["components"]["schemas"]["AlertOutput"]["properties"]
    assert set(output) == {
        "id",
        "coin",
        "currency",
        "target_price",
        "direction",
        "status",
        "created_at",
        "triggered_at",
        "triggered_price",
        "last_notified_at",
        "channels",
    }


def test_post_alerts_with_a_slash_creates_an_alert(
    user_client: APIClient, coingecko: CoinGeckoSimulator
) -> None:
    created = user_client.post(f"{ALERTS}/", BTC_ABOVE, format="json")

    assert created.status_code == 201, created.content
    listed = user_client.get(ALERTS).json()
    assert [alert["id"] for alert in listed["results"]] == [created.json()["id"]]
    assert user_client.get(f"{ALERTS}/").json() == listed
