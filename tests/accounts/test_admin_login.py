"""The admin's login goes through the API's sign-in lockout and throttle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from cryptotrack.accounts.models import User
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = "/admin/login/"


@pytest.fixture
def staff(make_user: Callable[..., Any]) -> User:
    user: User = make_user()
    User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    return user


def _admin_login(client: Client, username: str, password: str) -> Any:
    return client.post(ADMIN_LOGIN, {"username": username, "password": password, "next": "/admin/"})


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_right_password_signs_in_to_the_admin(client: Client, staff: User) -> None:
    response = _admin_login(client, staff.username, STRONG_PASSWORD)
    assert response.status_code == 302
    assert _signed_in(client)


def test_admin_login_locks_out_even_the_right_password(client: Client, staff: User) -> None:
    for _ in range(11):
        assert _admin_login(client, staff.username, "wrong-password-x").status_code == 200

    response = _admin_login(client, staff.username, STRONG_PASSWORD)

    assert not _signed_in(client)
    assert "Too many failed sign-ins" in response.content.decode()
    assert client.get("/admin/").status_code == 302  # back to the login page


def test_api_failures_lock_the_admin_login_too(
    client: Client, api_client: APIClient, staff: User
) -> None:
    for _ in range(5):
        wrong = {"username": staff.username, "password": "wrong-password-x"}
        assert api_client.post("/api/v1/auth/token", wrong, format="json").status_code == 401

    _admin_login(client, staff.username, STRONG_PASSWORD)

    assert not _signed_in(client)


def test_admin_login_shares_the_sign_in_throttle(
    client: Client, api_client: APIClient, staff: User, settings: Any
) -> None:
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login": "3/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    right = {"username": staff.username, "password": STRONG_PASSWORD}
    for _ in range(2):
        assert api_client.post("/api/v1/auth/token", right, format="json").status_code == 200
    assert _admin_login(client, staff.username, "wrong-password-x").status_code == 200

    response = _admin_login(client, staff.username, STRONG_PASSWORD)

    assert not _signed_in(client)
    assert "Too many sign-in attempts" in response.content.decode()
