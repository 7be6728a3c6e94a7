"""Signup: what is stored, what is answered, and what bad input gets."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.hashers import identify_hasher

from cryptotrack.accounts.models import ExchangeAccount, User

pytestmark = pytest.mark.django_db

SIGNUP = "/api/v1/auth/signup"
GOOD = {"name": "Ada Lovelace", "username": "ada", "password": "analytical-engine-1843"}
KUCOIN = {
    "api_key": "6710f3c1e1b2a30001f3a9f3a9",
    "api_secret": "c0ffee00-1234-4abc-9def-0123456789ab",
    "api_passphrase": "my passphrase!".replace(" ", "-"),
}


def test_signup_creates_user_with_argon2_password(api_client: Any) -> None:
    response = api_client.post(SIGNUP, {**GOOD, "email": "ada@example.com"}, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["username"] == "ada"
    assert body["name"] == "Ada Lovelace"
    assert body["email"] == "ada@example.com"
    assert body["kucoin"] is None
    assert "password" not in body
    user = User.objects.get(username="ada")
    assert identify_hasher(user.password).algorithm == "argon2"


def test_signup_with_unreachable_kucoin_keeps_credentials_unverified(
    api_client: Any, settings: Any
) -> None:
    settings.KUCOIN_SPOT_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    settings.KUCOIN_FUTURES_URL = "http://127.0.0.1:9"

    response = api_client.post(SIGNUP, {**GOOD, "kucoin": KUCOIN}, format="json")

    assert response.status_code == 201, response.json()
    kucoin = response.json()["kucoin"]
    assert kucoin["status"] == "unverified"
    assert kucoin["api_key_hint"] == "…f3a9"
    assert ExchangeAccount.objects.filter(user__username="ada").count() == 1
    text = response.content.decode()
    for secret in KUCOIN.values():
        assert secret not in text


def _assert_rejected(api_client: Any, payload: dict[str, Any], field: str) -> dict[str, Any]:
    users_before = User.objects.count()
    response = api_client.post(SIGNUP, payload, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert body["detail"]
    assert field in body["errors"], body
    assert all(isinstance(message, str) for message in _flatten(body["errors"][field]))
    assert User.objects.count() == users_before
    assert ExchangeAccount.objects.count() == 0
    return body


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [m for inner in value.values() for m in _flatten(inner)]
    return list(value)


@pytest.mark.parametrize("missing", ["name", "username", "password"])
def test_signup_missing_field_is_400(api_client: Any, missing: str) -> None:
    payload = {key: value for key, value in GOOD.items() if key != missing}
    _assert_rejected(api_client, payload, missing)


@pytest.mark.parametrize("password", ["short1", "12345678901", "password123", "ada-ada-ada"])
def test_signup_weak_password_is_400(api_client: Any, password: str) -> None:
    _assert_rejected(
        api_client, {**GOOD, "username": "ada-ada-ada", "password": password}, "password"
    )


def test_signup_duplicate_username_is_400_case_insensitively(api_client: Any) -> None:
    assert api_client.post(SIGNUP, GOOD, format="json").status_code == 201
    body = _assert_rejected(api_client, {**GOOD, "username": "ADA"}, "username")
    assert "taken" in body["errors"]["username"][0]


def test_signup_bad_email_and_username_are_400(api_client: Any) -> None:
    _assert_rejected(api_client, {**GOOD, "email": "not-an-email"}, "email")
    _assert_rejected(api_client, {**GOOD, "username": "has space"}, "username")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("api_key", ""),
        ("api_key", "short"),
        ("api_secret", "with spaces inside it"),
        ("api_passphrase", ""),
        ("api_secret", "x" * 129),
        ("api_key", 12345678),
        ("api_passphrase", "tab\there"),
    ],
)
def test_signup_malformed_kucoin_credentials_are_400(
    api_client: Any, field: str, value: Any
) -> None:
    body = _assert_rejected(api_client, {**GOOD, "kucoin": {**KUCOIN, field: value}}, "kucoin")
    assert field in body["errors"]["kucoin"]


def test_signup_missing_kucoin_field_is_400(api_client: Any) -> None:
    kucoin = {key: value for key, value in KUCOIN.items() if key != "api_passphrase"}
    body = _assert_rejected(api_client, {**GOOD, "kucoin": kucoin}, "kucoin")
    assert "api_passphrase" in body["errors"]["kucoin"]


def test_signup_rejects_non_json_body_with_json_error(api_client: Any) -> None:
    response = api_client.post(SIGNUP, "name=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    response = api_client.post(SIGNUP, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


@pytest.fixture
def kucoin(settings: Any) -> Any:
    from cryptotrack.simulators.kucoin import KucoinSimulator

    with KucoinSimulator() as sim:
        settings.KUCOIN_SPOT_URL = settings.KUCOIN_FUTURES_URL = sim.url
        yield sim


def test_signup_checks_the_key_with_kucoin_and_warns_about_trading(
    api_client: Any, kucoin: Any
) -> None:
    kucoin.add_key(KUCOIN["api_key"], KUCOIN["api_secret"], KUCOIN["api_passphrase"])

    response = api_client.post(SIGNUP, {**GOOD, "kucoin": KUCOIN}, format="json")

    assert response.status_code == 201
    status = response.json()["kucoin"]
    assert status["status"] == "valid"
    assert status["permissions"] == ["General", "Futures"]
    assert any("Futures" in warning for warning in status["warnings"])


def test_signup_keeps_a_key_kucoin_rejects(api_client: Any, kucoin: Any) -> None:
    kucoin.add_key(KUCOIN["api_key"], KUCOIN["api_secret"], "another-passphrase")

    response = api_client.post(SIGNUP, {**GOOD, "kucoin": KUCOIN}, format="json")

    assert response.status_code == 201
    status = response.json()["kucoin"]
    assert status["status"] == "invalid"
    assert "passphrase" in status["message"].lower()
    assert ExchangeAccount.objects.filter(user__username="ada", status="invalid").exists()


def test_signup_reports_a_key_without_the_futures_permission(api_client: Any, kucoin: Any) -> None:
    kucoin.add_key(
        KUCOIN["api_key"], KUCOIN["api_secret"], KUCOIN["api_passphrase"], permissions=["General"]
    )

    status = api_client.post(SIGNUP, {**GOOD, "kucoin": KUCOIN}, format="json").json()["kucoin"]

    assert status["status"] == "insufficient_permission"
    assert "Futures" in status["message"]
