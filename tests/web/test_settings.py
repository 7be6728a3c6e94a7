"""Sign-up, settings and rates pages take the API's paths: the same validation messages,
throttles, services and audit; secrets never come back in a page; another user's objects
are not found; hostile input is an inline error, never a 500."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from cryptotrack.accounts import api_keys, services
from cryptotrack.accounts.models import ApiKey, ExchangeAccount, User
from cryptotrack.audit.models import AuditEvent
from cryptotrack.exchanges.kucoin import KucoinCredentials
from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.conftest import STRONG_PASSWORD
from tests.positions.conftest import kucoin_sim  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-horse-battery-77"
KEY = {
    "api_key": "web-key-0001-abcd",
    "api_secret": "web-secret-0001-xyz",
    "api_passphrase": "pp-1",
}


def lower_rate(settings: Any, scope: str, rate: str) -> None:
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], scope: rate}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


@pytest.fixture
def browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_text(response: Any) -> str:
    return html.unescape(response.content.decode())


def sign_up_form(body: dict[str, Any]) -> dict[str, str]:
    """The sign-up form's fields for an API body (KuCoin fields as ``kucoin.<name>``)."""
    form = {name: value for name, value in body.items() if name != "kucoin"}
    for name, value in (body.get("kucoin") or {}).items():
        form[f"kucoin.{name}"] = value
    return form


def api_messages(errors: Any) -> list[str]:
    if isinstance(errors, dict):
        return [m for value in errors.values() for m in api_messages(value)]
    if isinstance(errors, list):
        return [m for value in errors for m in api_messages(value)]
    return [str(errors)]


GOOD = {"name": "Ada", "username": "ada", "password": STRONG_PASSWORD}


# Sign-up -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"username": "ada", "password": STRONG_PASSWORD},
        {**GOOD, "password": "12345678"},
        {**GOOD, "password": "ada"},
        {**GOOD, "username": "has space", "email": "not-an-email"},
        {**GOOD, "kucoin": {"api_key": "short", "api_secret": "with spaces in it"}},
        {**GOOD, "name": "x" * 151},
    ],
)
def test_sign_up_says_what_the_signup_api_says(body: dict[str, Any]) -> None:
    api = APIClient().post("/api/v1/auth/signup", body, format="json")
    assert api.status_code == 400

    response = Client().post("/sign-up", sign_up_form(body))

    assert response.status_code == 400
    text = page_text(response)
    for message in api_messages(api.json()["errors"]):
        assert message in text
    assert 'aria-invalid="true"' in text
    assert not User.objects.exists()


def test_the_username_taken_is_said_next_to_the_field(user: Any) -> None:
    response = Client().post("/sign-up", {**GOOD, "username": user.username.upper()})

    assert response.status_code == 400
    assert 'id="username-errors"' in page_text(response)
    assert "This username is taken." in page_text(response)


def test_a_refused_sign_up_never_echoes_the_password_or_the_secrets() -> None:
    body = {**GOOD, "username": "bad name", "kucoin": KEY}

    response = Client().post("/sign-up", sign_up_form(body))

    assert response.status_code == 400
    text = page_text(response)
    assert STRONG_PASSWORD not in text
    assert KEY["api_secret"] not in text
    assert KEY["api_passphrase"] not in text


def test_sign_up_with_a_kucoin_key_signs_in_and_never_shows_the_secrets(
    kucoin_sim: KucoinSimulator,  # noqa: F811
) -> None:
    kucoin_sim.add_key(*KEY.values())
    client = Client()

    response = client.post(
        "/sign-up", sign_up_form({**GOOD, "email": "ada@example.com", "kucoin": KEY})
    )

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.session.get_expire_at_browser_close()  # not remembered unless asked
    home = page_text(client.get("/"))
    assert "Sign out" in home
    assert f"KuCoin key …{KEY['api_key'][-4:]}: Valid." in home
    assert "Futures permission" in home  # the simulator's key may trade futures: said
    user = User.objects.get(username="ada")
    assert user.check_password(STRONG_PASSWORD)
    account = ExchangeAccount.objects.get(user=user)
    assert account.status == ExchangeAccount.Status.VALID
    assert AuditEvent.objects.filter(user=user, kind="signup").exists()
    settings_page = client.get("/settings")
    text = page_text(settings_page)
    assert f"…{KEY['api_key'][-4:]}" in text
    for secret in KEY.values():
        assert secret not in text
    assert STRONG_PASSWORD not in text


def test_a_signed_in_user_is_sent_home_from_sign_up(browser: Client) -> None:
    response = browser.get("/sign-up")

    assert response.status_code == 302
    assert response["Location"] == "/"


def test_the_signup_throttle_of_the_api_holds_on_the_form(settings: Any) -> None:
    lower_rate(settings, "signup", "2/min")
    for n in range(2):
        assert Client().post("/sign-up", {**GOOD, "username": f"user{n}"}).status_code == 302

    throttled = Client().post("/sign-up", {**GOOD, "username": "third"})

    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    assert "Too many sign-ups" in page_text(throttled)
    assert not User.objects.filter(username="third").exists()


# API keys ----------------------------------------------------------------------------------


def test_an_api_key_is_shown_once_works_and_stops_after_revoke(browser: Client) -> None:
    created = browser.post("/settings/api-keys", {"name": "nightly export"})

    assert created.status_code == 200
    plaintext = created.context["created_key"].plaintext
    assert f'class="secret-once" id="new-api-key">{plaintext}<' in created.content.decode()
    assert plaintext not in browser.get("/settings").content.decode()
    api = APIClient()
    assert api.get("/api/v1/me", HTTP_X_API_KEY=plaintext).status_code == 200

    key = created.context["created_key"].api_key
    revoked = browser.post(f"/settings/api-keys/{key.pk}/revoke")

    assert revoked.status_code == 302
    assert api.get("/api/v1/me", HTTP_X_API_KEY=plaintext).status_code in {401, 403}
    assert "nightly export" not in browser.get("/settings").content.decode()
    kinds = set(AuditEvent.objects.values_list("kind", flat=True))
    assert {"api_key_created", "api_key_revoked"} <= kinds


def test_a_resent_create_form_makes_no_second_key(browser: Client) -> None:
    form = browser.get("/settings")
    submission = form.context["submission_id"]

    first = browser.post("/settings/api-keys", {"name": "desk", "submission": submission})
    again = browser.post("/settings/api-keys", {"name": "desk", "submission": submission})
    followed = browser.get(again["Location"])
    fresh = browser.post("/settings/api-keys", {"name": "desk", "submission": submission + "x"})

    assert first.status_code == fresh.status_code == 200
    assert again.status_code == 302
    assert "already sent" in page_text(followed)
    assert 'class="secret-once"' not in followed.content.decode()
    assert ApiKey.objects.filter(name="desk").count() == 2  # the first and the fresh form


def test_an_api_key_name_is_checked_as_the_api_checks_it(browser: Client) -> None:
    response = browser.post("/settings/api-keys", {"name": "x" * 101})

    assert response.status_code == 400
    assert "Ensure this field has no more than 100 characters." in page_text(response)
    assert 'class="secret-once"' not in response.content.decode()


def test_another_users_api_key_and_exchange_account_are_not_found(
    browser: Client, make_user: Callable[..., Any]
) -> None:
    other = make_user()
    their_key = api_keys.api_key_create(user=other, name="theirs").api_key
    their_account = services.exchange_account_store(
        user=other, credentials=KucoinCredentials(**KEY), label="theirs"
    )

    assert browser.post(f"/settings/api-keys/{their_key.pk}/revoke").status_code == 404
    account_url = f"/settings/exchange-accounts/{their_account.pk}"
    assert browser.get(account_url).status_code == 404
    assert browser.post(account_url, {"label": "mine now"}).status_code == 404
    assert browser.get(f"{account_url}/delete").status_code == 404
    assert browser.post(f"{account_url}/delete").status_code == 404
    their_key.refresh_from_db()
    assert their_key.revoked_at is None
    assert ExchangeAccount.objects.filter(pk=their_account.pk, label="theirs").exists()


# Exchange accounts -------------------------------------------------------------------------


def test_add_rename_and_delete_an_exchange_account_never_showing_a_secret(
    browser: Client,
    user: Any,
    kucoin_sim: KucoinSimulator,  # noqa: F811
) -> None:
    kucoin_sim.add_key(*KEY.values())

    added = browser.post("/settings/exchange-accounts", {"label": "Main", **KEY})

    assert added.status_code == 302
    account = ExchangeAccount.objects.get(user=user, label="Main")
    listed = page_text(browser.get("/settings"))
    assert "Main" in listed
    assert f"…{KEY['api_key'][-4:]}" in listed
    edit = browser.get(f"/settings/exchange-accounts/{account.pk}")
    renamed = browser.post(f"/settings/exchange-accounts/{account.pk}", {"label": "Sub 2"})
    assert renamed.status_code == 302
    confirm = browser.get(f"/settings/exchange-accounts/{account.pk}/delete")
    assert "Delete account" in page_text(confirm)
    deleted = browser.post(f"/settings/exchange-accounts/{account.pk}/delete")
    assert deleted.status_code == 302
    assert not ExchangeAccount.objects.filter(pk=account.pk).exists()
    for response in (added, edit, renamed, confirm, deleted, browser.get("/settings")):
        text = page_text(response)
        assert KEY["api_secret"] not in text
        assert KEY["api_passphrase"] not in text
        assert KEY["api_key"] not in text


def test_a_key_kucoin_rejects_is_said_inline_and_not_stored(
    browser: Client,
    kucoin_sim: KucoinSimulator,  # noqa: F811
) -> None:
    response = browser.post("/settings/exchange-accounts", {"label": "Main", **KEY})

    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert not ExchangeAccount.objects.exists()
    assert KEY["api_secret"] not in page_text(response)


def test_a_taken_label_and_a_partial_key_are_said_as_the_api_says(
    browser: Client, user: Any
) -> None:
    account = services.exchange_account_store(
        user=user, credentials=KucoinCredentials(**KEY), label="Main"
    )
    services.exchange_account_store(user=user, credentials=KucoinCredentials(**KEY), label="Other")

    taken = browser.post(f"/settings/exchange-accounts/{account.pk}", {"label": "other"})
    partial = browser.post(f"/settings/exchange-accounts/{account.pk}", {"api_key": KEY["api_key"]})

    assert taken.status_code == 400
    assert "You already have an exchange account with this label." in page_text(taken)
    assert partial.status_code == 400
    assert "Give the whole key: api_key, api_secret and api_passphrase." in page_text(partial)


# Password ----------------------------------------------------------------------------------


def test_a_password_change_keeps_this_session_and_is_audited(browser: Client, user: Any) -> None:
    response = browser.post(
        "/settings/password", {"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD}
    )

    assert response.status_code == 302
    assert b"Sign out" in browser.get("/settings").content
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    event = AuditEvent.objects.filter(user=user, kind="password_changed").get()
    assert event.details.get("via") == "web"


def test_a_wrong_current_password_or_weak_new_one_is_said_inline(
    browser: Client, user: Any
) -> None:
    wrong = browser.post(
        "/settings/password", {"current_password": "nope", "new_password": NEW_PASSWORD}
    )
    weak = browser.post(
        "/settings/password", {"current_password": STRONG_PASSWORD, "new_password": "12345678"}
    )

    assert wrong.status_code == 400
    assert "This is not your current password." in page_text(wrong)
    assert 'aria-invalid="true"' in page_text(wrong)
    assert weak.status_code == 400
    assert "This password is entirely numeric." in page_text(weak)
    assert "nope" not in page_text(wrong)
    assert STRONG_PASSWORD not in page_text(weak)
    user.refresh_from_db()
    assert user.check_password(STRONG_PASSWORD)


# Audit log ---------------------------------------------------------------------------------


def test_the_audit_log_is_in_words_and_paginated(browser: Client, user: Any) -> None:
    for n in range(25):
        api_keys.api_key_create(user=user, name=f"key {n}")

    first = page_text(browser.get("/settings/audit"))
    second = page_text(browser.get("/settings/audit?page=2"))

    assert "API key created" in first
    assert "key name: key 24" in first
    assert "Page 1 of 2" in first
    assert "key name: key 0" in second
    assert browser.get("/settings/audit?page=nope").status_code == 200


# Hostile input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/settings/api-keys", {"name": "nul\x00byte"}),
        ("/settings/api-keys", {"name": "bell\x07\u202e"}),
        ("/settings/exchange-accounts", {"label": "a\x00", **KEY}),
        ("/settings/exchange-accounts", {"label": "ok", **KEY, "api_secret": "é" * 20}),
        ("/settings/password", {"current_password": "\x00", "new_password": "x" * 10_000}),
        ("/rates/refresh", {"from_currency": "<script>", "to_currency": "USD"}),
        ("/rates/refresh", {"from_currency": "BTC", "to_currency": "x\x00"}),
    ],
)
def test_hostile_input_is_an_inline_error_not_a_500(
    browser: Client, url: str, data: dict[str, str]
) -> None:
    response = browser.post(url, data)

    assert 400 <= response.status_code < 500
    assert "<script>" not in response.content.decode().split("</h1>", 1)[-1].split("<footer")[0]


@pytest.mark.parametrize(
    "data",
    [
        {**GOOD, "name": "nul\x00"},
        {**GOOD, "username": "<script>alert(1)</script>"},
        {**GOOD, "kucoin.api_key": "\u202e" * 10, "kucoin.api_secret": "x"},
        {**GOOD, "email": "a@" + "x" * 300 + ".com"},
    ],
)
def test_hostile_sign_up_input_is_an_inline_error_not_a_500(data: dict[str, str]) -> None:
    response = Client().post("/sign-up", data)

    assert response.status_code == 400
    assert "<script>alert(1)</script>" not in response.content.decode()


@pytest.mark.parametrize("object_id", ["0", "99999999999999999999999"])
def test_an_id_out_of_range_is_not_found(browser: Client, object_id: str) -> None:
    assert browser.get(f"/settings/exchange-accounts/{object_id}").status_code == 404
    assert browser.post(f"/settings/api-keys/{object_id}/revoke").status_code == 404


def test_a_form_that_is_not_utf8_is_an_inline_error_not_a_500(browser: Client) -> None:
    response = browser.post(
        "/settings/api-keys",
        "name=%ED%A0%80%FF",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code in {200, 400}


# Rates -------------------------------------------------------------------------------------


def test_the_rates_page_shows_the_history_for_the_chart(browser: Client) -> None:
    from decimal import Decimal

    from django.utils import timezone

    from cryptotrack.quotes.pairs import Pair
    from cryptotrack.quotes.services import record_quote

    record_quote(
        pair=Pair("BTC", "USD"),
        rate=Decimal("65000.5"),
        refreshed_at=timezone.now(),
        trigger="scheduled",
        source="alphavantage",
    )

    response = browser.get("/rates")

    assert response.status_code == 200
    text = page_text(response)
    assert 'id="rates-history"' in text
    assert "65000.5" in text
    assert 'data-from="BTC" data-to="USD"' in text


def test_a_refused_refresh_shows_when_to_come_back(browser: Client, settings: Any) -> None:
    settings.ALPHAVANTAGE_API_KEY = "configured"
    settings.QUOTES_USER_DAILY_FORCED = 0  # this user's share of the day is spent

    response = browser.post("/rates/refresh", {"from_currency": "BTC", "to_currency": "USD"})

    assert response.status_code == 429
    wait = int(response["Retry-After"])
    assert wait > 0
    text = page_text(response)
    assert "forced refreshes of today" in text
    assert f"try again in {wait} seconds" in text


def test_the_refresh_throttle_of_the_api_holds_on_the_page(browser: Client, settings: Any) -> None:
    settings.ALPHAVANTAGE_API_KEY = "configured"
    settings.QUOTES_USER_DAILY_FORCED = 0
    lower_rate(settings, "quotes_refresh", "1/min")
    browser.post("/rates/refresh", {"from_currency": "BTC", "to_currency": "USD"})

    throttled = browser.post("/rates/refresh", {"from_currency": "BTC", "to_currency": "USD"})

    assert throttled.status_code == 429
    assert "Too many forced refreshes" in page_text(throttled)
    assert int(throttled["Retry-After"]) > 0


def test_settings_forms_need_the_csrf_token(user: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    for url in ("/settings/api-keys", "/settings/password", "/rates/refresh"):
        assert client.post(url, {"name": "x"}).status_code == 403, url
    assert not api_keys.api_key_list(user=user).exists()


def test_settings_and_rates_need_a_session() -> None:
    for url in ("/settings", "/settings/audit", "/rates"):
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/?next=")
    assert Client().post("/settings/api-keys", {"name": "x"}).status_code == 302
