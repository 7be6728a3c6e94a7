"""Sign-in with JWT: tokens, refresh rotation, logout, lockout, and the 401 contract."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/token/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/me"


def _sign_in(
    client: APIClient, username: str, password: str = STRONG_PASSWORD, **extra: Any
) -> Any:
    return client.post(TOKEN, {"username": username, "password": password}, format="json", **extra)


@pytest.mark.parametrize("prefix", ["Bearer", "JWT"])
def test_access_token_opens_me_with_either_prefix(
    api_client: APIClient, user: Any, prefix: str
) -> None:
    tokens = _sign_in(api_client, user.username).json()
    api_client.credentials(HTTP_AUTHORIZATION=f"{prefix} {tokens['access']}")

    response = api_client.get(ME)

    assert response.status_code == 200
    assert response.json()["username"] == user.username
    assert response.json()["exchange_accounts"] == []


def test_wrong_password_and_unknown_user_get_the_same_401(api_client: APIClient, user: Any) -> None:
    wrong_password = _sign_in(api_client, user.username, "not-the-password-1")
    unknown_user = _sign_in(api_client, "nobody-here", "not-the-password-1")

    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.json() == unknown_user.json()
    assert wrong_password.json()["code"] == "bad_credentials"
    assert wrong_password.headers["WWW-Authenticate"].startswith("Bearer")


def test_missing_token_is_401_with_www_authenticate(api_client: APIClient) -> None:
    response = api_client.get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert "WWW-Authenticate" in response.headers


def test_garbage_token_is_401(api_client: APIClient) -> None:
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.jwt")
    response = api_client.get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


@pytest.mark.parametrize(
    ("token", "reason"), [("expired", "Token is expired"), ("not.a.jwt", "Token is invalid")]
)
def test_bad_access_token_401_is_the_plain_error_shape(
    api_client: APIClient, user: Any, token: str, reason: str
) -> None:
    if token == "expired":
        access = AccessToken.for_user(user)
        access.set_exp(from_time=timezone.now() - timedelta(hours=1))
        token = str(access)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = api_client.get(ME)

    assert response.status_code == 401
    assert response.json() == {
        "detail": f"Given token not valid for any token type: {reason}",
        "code": "token_not_valid",
    }


def test_refresh_rotates_and_the_old_refresh_dies(api_client: APIClient, user: Any) -> None:
    first = _sign_in(api_client, user.username).json()

    rotated = api_client.post(REFRESH, {"refresh": first["refresh"]}, format="json")
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh"] != first["refresh"]
    assert second["access"]

    replay = api_client.post(REFRESH, {"refresh": first["refresh"]}, format="json")
    assert replay.status_code == 401
    assert replay.json()["code"] == "token_not_valid"
    assert (
        api_client.post(REFRESH, {"refresh": second["refresh"]}, format="json").status_code == 200
    )


def test_logout_kills_the_refresh_token(api_client: APIClient, user: Any) -> None:
    tokens = _sign_in(api_client, user.username).json()

    response = api_client.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json")

    assert response.status_code == 205
    after = api_client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")
    assert after.status_code == 401
    assert api_client.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json").status_code == 401


def test_refresh_without_body_is_400(api_client: APIClient) -> None:
    response = api_client.post(REFRESH, {}, format="json")
    assert response.status_code == 400
    assert "refresh" in response.json()["errors"]


def test_lockout_after_repeated_failures_even_with_right_password(
    api_client: APIClient, user: Any, settings: Any
) -> None:
    settings.LOGIN_LOCKOUT_FAILURES = 3
    for _ in range(3):
        assert _sign_in(api_client, user.username, "wrong-password-x").status_code == 401

    locked = _sign_in(api_client, user.username)

    assert locked.status_code == 429
    assert locked.json()["code"] == "login_locked"
    assert int(locked.headers["Retry-After"]) > 0
    # Another address is not locked out by this one's failures.
    assert _sign_in(api_client, user.username, REMOTE_ADDR="10.9.8.7").status_code == 200


def test_lockout_answers_the_same_for_unknown_usernames(
    api_client: APIClient, settings: Any
) -> None:
    settings.LOGIN_LOCKOUT_FAILURES = 2
    for _ in range(2):
        assert _sign_in(api_client, "ghost", "whatever-pass-1").status_code == 401
    assert _sign_in(api_client, "ghost", "whatever-pass-1").status_code == 429


def test_success_resets_the_failure_count(api_client: APIClient, user: Any, settings: Any) -> None:
    settings.LOGIN_LOCKOUT_FAILURES = 3
    for _ in range(2):
        _sign_in(api_client, user.username, "wrong-password-x")
    assert _sign_in(api_client, user.username).status_code == 200
    for _ in range(2):
        _sign_in(api_client, user.username, "wrong-password-x")
    assert _sign_in(api_client, user.username).status_code == 200


def test_sign_in_is_throttled_per_ip(api_client: APIClient, user: Any, settings: Any) -> None:
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login": "3/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    for _ in range(3):
        assert _sign_in(api_client, user.username).status_code == 200

    throttled = _sign_in(api_client, user.username)

    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert int(throttled.headers["Retry-After"]) > 0


def test_signup_is_throttled_per_ip(api_client: APIClient, settings: Any) -> None:
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "signup": "2/hour"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    for n in range(2):
        payload = {"name": "N", "username": f"throttled{n}", "password": STRONG_PASSWORD}
        assert api_client.post("/api/v1/auth/signup", payload, format="json").status_code == 201

    payload = {"name": "N", "username": "throttled9", "password": STRONG_PASSWORD}
    response = api_client.post("/api/v1/auth/signup", payload, format="json")

    assert response.status_code == 429
    assert "Retry-After" in response.headers
