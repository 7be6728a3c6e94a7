"""The positions page and its tracking forms, server side: the same services as the API,
another user's account is a 404, CSRF holds, hostile input is a 4xx, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from cryptotrack.accounts import services as accounts
from cryptotrack.exchanges.kucoin import KucoinCredentials
from cryptotrack.positions.models import TrackingSubscription

pytestmark = pytest.mark.django_db


def exchange_account(user: Any, label: str = "default") -> Any:
    credentials = KucoinCredentials("key-page-abcdef", "secret-page-0123456789", "pass-page")
    account = accounts.exchange_account_store(user=user, credentials=credentials)
    if account.label != label:
        account.label = label
        account.save(update_fields=["label"])
    return account


def signed_in(user: Any, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def post(client: Client, path: str, data: dict[str, str]) -> Any:
    client.get("/")  # the CSRF cookie, as the browser gets it with the page
    return client.post(path, {"csrfmiddlewaretoken": client.cookies["csrftoken"].value, **data})


def state(account: Any) -> str:
    subscription = TrackingSubscription.objects.filter(account=account).first()
    return subscription.state if subscription else "stopped"


def test_the_dashboard_lists_each_account_with_its_tracking_and_a_start_button(
    make_user: Any,
) -> None:
    user = make_user()
    exchange_account(user)

    page = signed_in(user).get("/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "No open positions" in html
    assert "Tracking stopped" in html
    assert 'data-action="start"' in html
    assert "no-store" in page["Cache-Control"]


def test_start_then_stop_tracking_through_the_forms(make_user: Any) -> None:
    user = make_user()
    account = exchange_account(user)
    client = signed_in(user, csrf=True)

    started = post(client, f"/tracking/{account.pk}", {"action": "start"})

    assert started.status_code == 302
    assert state(account) == "active"
    assert "Tracking of default started." in client.get("/").content.decode()

    stopped = post(client, f"/tracking/{account.pk}", {"action": "stop"})

    assert stopped.status_code == 302
    assert state(account) == "stopped"


def test_another_users_account_is_not_found(make_user: Any) -> None:
    owner, intruder = make_user(), make_user()
    account = exchange_account(owner)

    answer = post(signed_in(intruder, csrf=True), f"/tracking/{account.pk}", {"action": "start"})

    assert answer.status_code == 404
    assert state(account) == "stopped"


def test_a_form_without_the_csrf_token_is_refused(make_user: Any) -> None:
    user = make_user()
    account = exchange_account(user)

    answer = signed_in(user, csrf=True).post(f"/tracking/{account.pk}", {"action": "start"})

    assert answer.status_code == 403
    assert state(account) == "stopped"


@pytest.mark.parametrize(
    "data",
    [{"action": "explode"}, {}, {"action": "start", "symbols": "not a symbol!"}],
)
def test_hostile_input_is_a_400_said_on_the_page(make_user: Any, data: dict[str, str]) -> None:
    user = make_user()
    account = exchange_account(user)

    answer = post(signed_in(user, csrf=True), f"/tracking/{account.pk}", data)

    assert answer.status_code == 400
    assert 'role="alert"' in answer.content.decode()
    assert state(account) == "stopped"


def test_anonymous_posts_go_to_sign_in_and_get_is_not_allowed(make_user: Any) -> None:
    account = exchange_account(make_user())

    assert Client().post(f"/tracking/{account.pk}", {"action": "start"}).status_code == 302
    assert signed_in(account.user).get(f"/tracking/{account.pk}").status_code == 405
    assert state(account) == "stopped"
