"""The alerts pages say no with the API's words (its input serializers, its services), next
to the field and marked ``aria-invalid``; only the owner reaches an alert; every change is
a CSRF-checked POST; hostile input is an inline error, never a 500."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from cryptotrack.alerts.models import Alert, AlertNotification, PositionAlert
from cryptotrack.notify.models import Channel
from cryptotrack.simulators.coingecko import CoinGeckoSimulator
from cryptotrack.web.forms import FormErrors
from tests.alerts.conftest import coingecko, make_alert, make_position_alert

__all__ = ["coingecko", "make_alert", "make_position_alert"]  # fixtures

pytestmark = pytest.mark.django_db

GOOD_PRICE = {"coin": "bitcoin", "currency": "usd", "target_price": "70000", "direction": "above"}


def browser_for(user: Any) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/alerts")  # the CSRF cookie, as the browser gets it with the form
    return client


def post(client: Client, path: str, data: dict[str, Any] | None = None, **extra: Any) -> Any:
    token = client.cookies["csrftoken"].value
    return client.post(path, {"csrfmiddlewaretoken": token, **(data or {})}, **extra)


def api_errors(api: APIClient, path: str, body: dict[str, Any]) -> dict[str, list[str]]:
    answer = api.post(path, body, format="json")
    assert answer.status_code == 400, answer.content
    return FormErrors.of_serializer(answer.json()["errors"]).by_field


@pytest.fixture
def browser(user: Any) -> Client:
    return browser_for(user)


@pytest.mark.parametrize(
    "change",
    [
        {"target_price": "-5"},
        {"target_price": "seventy"},
        {"target_price": "1e13"},
        {"target_price": "0.0000000000000000001"},
        {"coin": "not-a-coin"},
        {"currency": "doubloons"},
        {"direction": "sideways"},
        {"coin": ""},
    ],
)
def test_price_alert_messages_are_the_apis_next_to_the_field(
    coingecko: CoinGeckoSimulator,
    browser: Client,
    user_client: APIClient,
    change: dict[str, str],
) -> None:
    body = {key: value for key, value in {**GOOD_PRICE, **change}.items() if value}

    page = post(browser, "/alerts/price", {**GOOD_PRICE, **change})

    assert page.status_code == 400
    shown = page.context["price"]["errors"].by_field
    assert shown == api_errors(user_client, "/api/v1/alerts", body)
    (field,) = shown
    html = page.content.decode()
    assert re.search(rf'id="price-{field}"[^>]*aria-invalid="true"', html), html
    assert f'id="price-{field}-errors"' in html
    assert not Alert.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "liquidation_distance", "threshold_percent": "150"},
        {"kind": "pnl_percent", "threshold_percent": "5"},
        {"kind": "event"},
        {"kind": "event", "events": ["opened"], "threshold": "5"},
        {"kind": "pnl_amount", "threshold": "abc", "direction": "above"},
        {"kind": "liquidation_distance", "threshold_percent": "5", "symbol": "xbt usdt"},
        {"kind": "liquidation_distance", "threshold_percent": "5", "account": "999999"},
        {"kind": "volcano"},
    ],
)
def test_position_alert_messages_are_the_apis(
    browser: Client, user_client: APIClient, body: dict[str, Any]
) -> None:
    page = post(browser, "/alerts/position", body)

    assert page.status_code == 400
    shown = page.context["position"]["errors"].by_field
    assert shown == api_errors(user_client, "/api/v1/position-alerts", body)
    assert 'aria-invalid="true"' in page.content.decode()
    assert not PositionAlert.objects.exists()


def test_a_good_price_alert_is_created_with_its_channels_and_listed(
    coingecko: CoinGeckoSimulator, browser: Client, user: Any
) -> None:
    channel = Channel.objects.create(user=user, kind="email", name="inbox", config={})

    created = post(
        browser, "/alerts/price", {**GOOD_PRICE, "direction": "", "channels": [channel.pk]}
    )

    assert (created.status_code, created["Location"]) == (302, "/alerts")
    alert = Alert.objects.get(user=user)
    assert (alert.direction, list(alert.channels.all())) == ("above", [channel])
    listed = browser.get("/alerts").content.decode()
    assert "Price alert created." in listed
    assert f'href="/alerts/price/{alert.pk}"' in listed


def test_htmx_gets_the_form_back_in_place_and_a_redirect_when_done(
    coingecko: CoinGeckoSimulator, browser: Client
) -> None:
    bad = post(
        browser, "/alerts/price", {**GOOD_PRICE, "target_price": "0"}, HTTP_HX_REQUEST="true"
    )
    assert bad.status_code == 200  # htmx swaps 2xx only
    html = bad.content.decode()
    assert html.lstrip().startswith('<form id="price-alert-form"')
    assert "The target price must be greater than zero." in html

    good = post(browser, "/alerts/price", GOOD_PRICE, HTTP_HX_REQUEST="true")
    assert (good.status_code, good["HX-Redirect"]) == (204, "/alerts")


def test_a_refusal_of_the_service_shows_as_the_forms_error(
    coingecko: CoinGeckoSimulator, make_user: Callable[..., Any]
) -> None:
    browser = browser_for(make_user(email=""))

    page = post(browser, "/alerts/price", GOOD_PRICE)

    assert page.status_code == 400
    assert page.context["price"]["errors"].form == [
        "Your account has no email address, and alerts are delivered by email: "
        "add one to your account first."
    ]
    assert 'role="alert"' in page.content.decode()


def test_a_position_alert_is_created_paused_activated_and_shows_its_firings(
    browser: Client, user: Any
) -> None:
    created = post(
        browser,
        "/alerts/position",
        {"kind": "event", "events": ["opened", "closed"], "symbol": "XBTUSDTM"},
    )
    assert created.status_code == 302, created.content
    alert = PositionAlert.objects.get(user=user)
    assert (alert.events, alert.symbol) == (["opened", "closed"], "XBTUSDTM")

    post(browser, f"/alerts/position/{alert.pk}/pause")
    alert.refresh_from_db()
    assert alert.status == "paused"
    post(browser, f"/alerts/position/{alert.pk}/activate")
    alert.refresh_from_db()
    assert alert.status == "active"
    detail = browser.get(f"/alerts/position/{alert.pk}")
    assert detail.status_code == 200
    assert "It has not fired yet." in detail.content.decode()


def test_delete_asks_first_and_then_deletes(
    browser: Client, user: Any, make_alert: Callable[..., Any]
) -> None:
    alert = make_alert(user=user)

    confirm = browser.get(f"/alerts/price/{alert.pk}/delete")
    assert confirm.status_code == 200
    assert "Delete this alert?" in confirm.content.decode()
    alert.refresh_from_db()
    assert alert.status == "active"

    done = post(browser, f"/alerts/price/{alert.pk}/delete")
    assert done.status_code == 302
    alert.refresh_from_db()
    assert alert.status == "deleted"
    assert f"/alerts/price/{alert.pk}" not in browser.get("/alerts").content.decode()


def test_activate_rearms_a_sleeping_alert_and_firings_are_listed(
    browser: Client, user: Any, make_alert: Callable[..., Any]
) -> None:
    alert = make_alert(user=user, status="sleeping")
    AlertNotification.objects.create(
        alert=alert,
        coin="bitcoin",
        currency="usd",
        direction="above",
        target_price="70000",
        triggered_price="70123.5",
        triggered_at="2026-12-01T10:00:00Z",
        due_at="2026-12-01T10:00:00Z",
        state="sent",
    )

    detail = browser.get(f"/alerts/price/{alert.pk}").content.decode()
    assert "70123.5" in detail
    post(browser, f"/alerts/price/{alert.pk}/activate")

    alert.refresh_from_db()
    assert alert.status == "active"


def test_channels_of_an_alert_are_changed_only_to_the_users_own(
    browser: Client, user: Any, make_user: Callable[..., Any], make_alert: Callable[..., Any]
) -> None:
    alert = make_alert(user=user)
    mine = Channel.objects.create(user=user, kind="email", name="mine", config={})
    theirs = Channel.objects.create(user=make_user(), kind="email", name="theirs", config={})

    post(browser, f"/alerts/price/{alert.pk}/channels", {"channels": [mine.pk]})
    assert list(alert.channels.all()) == [mine]
    refused = post(browser, f"/alerts/price/{alert.pk}/channels", {"channels": [theirs.pk]})
    assert refused.status_code == 302
    assert list(alert.channels.all()) == [mine]
    page = browser.get(refused["Location"]).content.decode()
    assert f"You have no notification channel {theirs.pk}" in page
    post(browser, f"/alerts/price/{alert.pk}/channels")
    assert list(alert.channels.all()) == []


def test_another_users_alerts_are_not_found(
    make_user: Callable[..., Any],
    make_alert: Callable[..., Any],
    make_position_alert: Callable[..., Any],
) -> None:
    owner = make_user()
    price = make_alert(user=owner)
    position = make_position_alert(owner, threshold_percent=Decimal(5))
    browser = browser_for(make_user())

    for path in [
        f"/alerts/price/{price.pk}",
        f"/alerts/price/{price.pk}/delete",
        f"/alerts/position/{position.pk}",
        f"/alerts/position/{position.pk}/delete",
    ]:
        assert browser.get(path).status_code == 404, path
    for path in [
        f"/alerts/price/{price.pk}/activate",
        f"/alerts/price/{price.pk}/delete",
        f"/alerts/price/{price.pk}/channels",
        f"/alerts/position/{position.pk}/activate",
        f"/alerts/position/{position.pk}/pause",
        f"/alerts/position/{position.pk}/delete",
        f"/alerts/position/{position.pk}/channels",
    ]:
        assert post(browser, path).status_code == 404, path
    price.refresh_from_db()
    position.refresh_from_db()
    assert (price.status, position.status) == ("active", "active")


def test_changes_need_the_csrf_token(
    browser: Client, user: Any, make_alert: Callable[..., Any]
) -> None:
    alert = make_alert(user=user)
    for path in [
        "/alerts/price",
        "/alerts/position",
        f"/alerts/price/{alert.pk}/activate",
        f"/alerts/price/{alert.pk}/delete",
    ]:
        assert browser.post(path, GOOD_PRICE).status_code == 403, path
    alert.refresh_from_db()
    assert alert.status == "active"


@pytest.mark.parametrize(
    "change",
    [
        {"target_price": "9" * 5000},
        {"target_price": "1e999999999"},
        {"target_price": "NaN"},
        {"target_price": "Infinity"},
        {"target_price": "١٢٣"},
        {"coin": "bit\x00coin"},
        {"coin": "c" * 10_000},
        {"channels": [str(n) for n in range(1, 500)]},
        {"channels": ["9" * 400]},
        {"channels": ["[[[[[[[[[[1]]]]]]]]]]"]},
    ],
)
def test_hostile_price_input_is_an_inline_error_not_a_500(
    coingecko: CoinGeckoSimulator, browser: Client, change: dict[str, Any]
) -> None:
    page = post(browser, "/alerts/price", {**GOOD_PRICE, **change})

    assert page.status_code == 400
    errors = page.context["price"]["errors"].by_field
    assert errors
    for field in errors:
        assert f'id="price-{field}-errors"' in page.content.decode()


def test_a_lone_surrogate_in_the_form_body_is_an_inline_error(
    coingecko: CoinGeckoSimulator, browser: Client
) -> None:
    token = browser.cookies["csrftoken"].value
    # A UTF-8-encoded lone surrogate (ED A0 80): invalid UTF-8, as a hostile client sends it.
    body = f"csrfmiddlewaretoken={token}&coin=%ED%A0%80&currency=usd&target_price=1&direction=above"

    page = browser.post("/alerts/price", body, content_type="application/x-www-form-urlencoded")

    assert page.status_code == 400
    assert page.context["price"]["errors"].by_field.keys() == {"coin"}


def test_hostile_position_input_is_an_inline_error(browser: Client) -> None:
    page = post(
        browser,
        "/alerts/position",
        {"kind": "event", "events": ["opened"] * 50 + ["x" * 5000], "threshold": "1e99999"},
    )

    assert page.status_code == 400
    assert page.context["position"]["errors"]


@pytest.mark.parametrize(
    "path",
    [
        "/alerts/price/99999999999999999999999",
        "/alerts/position/99999999999999999999999",
        "/channels/99999999999999999999999",
        "/alerts/price/1?page=99999999999999999999999",
        "/channels/deliveries?page=-1&channel=99999999999999999999999",
    ],
)
def test_huge_ids_and_pages_are_not_a_500(browser: Client, path: str) -> None:
    assert browser.get(path).status_code in {400, 404}


def test_the_list_costs_the_same_queries_for_one_alert_or_many(
    browser: Client,
    user: Any,
    make_alert: Callable[..., Any],
    make_position_alert: Callable[..., Any],
    django_assert_num_queries: Callable[..., Any],
) -> None:
    channel = Channel.objects.create(user=user, kind="email", name="inbox", config={})

    def add_alerts() -> None:
        make_alert(user=user).channels.set([channel])
        make_position_alert(user, threshold_percent=Decimal(5)).channels.set([channel])

    add_alerts()
    browser.get("/alerts")
    with CaptureQueriesContext(connection) as one:
        browser.get("/alerts")
    for _ in range(4):
        add_alerts()
    with django_assert_num_queries(len(one.captured_queries)):
        assert browser.get("/alerts").content.decode().count('href="/channels/') >= 10
