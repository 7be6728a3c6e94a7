"""Each credential event is recorded by the real endpoint, with the client's address and
user agent as the proxy rules see them, and never with a secret."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.serializers import serialize
from django.test import Client
from rest_framework.test import APIClient

from cryptotrack.accounts.models import User
from cryptotrack.audit.models import AuditEvent
from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.audit.conftest import BROWSER, events_of
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token"
CLIENT_IP = "203.0.113.7"
KUCOIN = {
    "api_key": "audit-key-0000-7788",
    "api_secret": "audit-secret-5f1e2d3c-4b5a",
    "api_passphrase": "Audit-Passphrase-991",
}
SIGNUP_PASSWORD = "signup-password-4471"


def _from_client(**extra: str) -> dict[str, str]:
    return {"REMOTE_ADDR": CLIENT_IP, "HTTP_USER_AGENT": BROWSER, **extra}


def _sign_in(username: str, password: str, **extra: str) -> Any:
    body = {"username": username, "password": password}
    return APIClient().post(TOKEN, body, format="json", **_from_client(**extra))


def _signed_in_client(user: Any) -> APIClient:
    response = _sign_in(user.username, STRONG_PASSWORD)
    assert response.status_code == 200, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}", **_from_client())
    return client


def _assert_origin(event: AuditEvent, ip: str = CLIENT_IP) -> None:
    assert event.ip_address == ip
    assert event.user_agent == BROWSER


def test_successful_sign_in_is_recorded_with_ip_and_user_agent(user: Any) -> None:
    assert _sign_in(user.username, STRONG_PASSWORD).status_code == 200

    [event] = events_of(user, "login_succeeded")
    _assert_origin(event)
    assert event.details == {"method": "username", "via": "api"}


def test_failed_sign_in_of_an_existing_user_is_recorded_though_it_answers_401(
    user: Any,
) -> None:
    response = _sign_in(user.username, "wrong-password-x")

    assert response.status_code == 401
    [event] = events_of(user, "login_failed")
    _assert_origin(event)


def test_failed_sign_in_of_an_unknown_username_is_recorded_for_nobody(user: Any) -> None:
    assert _sign_in("nobody-by-this-name", "wrong-password-x").status_code == 401

    assert not AuditEvent.objects.exists()


def test_locked_sign_in_is_recorded(user: Any, settings: Any) -> None:
    settings.LOGIN_LOCKOUT_FAILURES = 2
    for _ in range(2):
        assert _sign_in(user.username, "wrong-password-x").status_code == 401

    response = _sign_in(user.username, STRONG_PASSWORD)
    for _ in range(3):  # refusals repeated while locked cost no hash: one row per lock
        assert _sign_in(user.username, STRONG_PASSWORD).status_code == 429

    assert response.status_code == 429
    [event] = events_of(user, "login_locked")
    _assert_origin(event)
    assert event.details == {"method": "username", "via": "api"}
    assert len(events_of(user, "login_failed")) == 2
    assert not events_of(user, "login_succeeded")


def test_a_lock_from_another_address_is_its_own_event(user: Any, settings: Any) -> None:
    settings.LOGIN_LOCKOUT_FAILURES = 1
    for address in (CLIENT_IP, CLIENT_IP, "198.51.100.77", "198.51.100.77"):
        _sign_in(user.username, "wrong-password-x", REMOTE_ADDR=address)

    locked = events_of(user, "login_locked")
    assert sorted(e.ip_address for e in locked) == ["198.51.100.77", CLIENT_IP]


def test_spoofed_forwarded_for_from_an_untrusted_client_is_not_the_recorded_ip(
    user: Any, settings: Any
) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    _sign_in(user.username, STRONG_PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.66")

    [event] = events_of(user, "login_succeeded")
    assert event.ip_address == CLIENT_IP


def test_forwarded_for_from_a_trusted_proxy_is_the_recorded_ip(user: Any, settings: Any) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    _sign_in(
        user.username, STRONG_PASSWORD, REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="192.0.2.66"
    )

    [event] = events_of(user, "login_succeeded")
    assert event.ip_address == "192.0.2.66"


def test_admin_sign_ins_are_recorded_as_via_admin(client: Client, user: Any) -> None:
    User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    login = {"username": user.username, "next": "/admin/"}
    extra = _from_client()
    client.post("/admin/login/", {**login, "password": "wrong-password-x"}, **extra)
    assert (
        client.post("/admin/login/", {**login, "password": STRONG_PASSWORD}, **extra).status_code
        == 302
    )

    failed, succeeded = events_of(user)
    assert (failed.kind, failed.details["via"]) == ("login_failed", "admin")
    assert (succeeded.kind, succeeded.details["via"]) == ("login_succeeded", "admin")
    _assert_origin(succeeded)


def test_api_key_created_and_revoked_are_recorded_by_name_and_prefix(user: Any) -> None:
    client = _signed_in_client(user)
    created = client.post("/api/v1/me/api-keys", {"name": "script"}, format="json").json()
    assert client.delete(f"/api/v1/me/api-keys/{created['id']}").status_code == 204
    assert client.delete(f"/api/v1/me/api-keys/{created['id']}").status_code == 404

    table = serialize("json", AuditEvent.objects.all())
    assert created["key"] not in table
    assert created["key"].split("_")[-1] not in table
    created_event, revoked_event = events_of(user)[1:]
    assert created_event.kind == "api_key_created"
    assert revoked_event.kind == "api_key_revoked"  # once: the second delete revoked nothing
    for event in (created_event, revoked_event):
        _assert_origin(event)
        assert event.details == {"name": "script", "prefix": created["prefix"]}


def test_signup_with_kucoin_then_replacing_the_key_is_recorded_without_secrets(
    kucoin_sim: KucoinSimulator,
) -> None:
    kucoin_sim.add_key(*KUCOIN.values())
    signup = {
        "name": "Ada",
        "username": "ada",
        "password": SIGNUP_PASSWORD,
        "kucoin": KUCOIN,
    }
    response = APIClient().post("/api/v1/auth/signup", signup, format="json", **_from_client())
    assert response.status_code == 201, response.content
    ada = User.objects.get(username="ada")
    client = APIClient()
    token = _sign_in("ada", SIGNUP_PASSWORD).json()["access"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}", **_from_client())
    replacement = {**KUCOIN, "api_key": "audit-key-0000-9911"}
    assert client.put("/api/v1/me/kucoin", replacement, format="json").status_code == 200

    kinds = [e.kind for e in events_of(ada)]
    assert kinds == [
        "signup",
        "exchange_account_added",
        "login_succeeded",
        "exchange_account_updated",
    ]
    signed_up, added, _, updated = events_of(ada)
    for event in (signed_up, added, updated):
        _assert_origin(event)
    assert added.details == {
        "exchange": "kucoin",
        "label": "default",
        "api_key_hint": "…7788",
        "status": "valid",
    }
    # The simulator never saw the replacement key: KuCoin's verdict is recorded with it.
    assert updated.details["api_key_hint"] == "…9911"
    assert updated.details["status"] == "invalid"
    table = serialize("json", AuditEvent.objects.all())
    for secret in [*KUCOIN.values(), replacement["api_key"], SIGNUP_PASSWORD]:
        assert secret not in table
    hints = {row["fields"]["details"].get("api_key_hint") for row in json.loads(table)}
    assert {"…7788", "…9911"} <= hints  # the dump does hold the events' details


def test_tracking_started_and_stopped_by_the_user_are_recorded(
    make_trader: Callable[..., Any],
) -> None:
    trader = make_trader()
    client = _signed_in_client(trader.user)

    assert (
        client.post("/api/v1/tracking", {"symbols": ["XBTUSDTM"]}, format="json").status_code == 201
    )
    assert client.post("/api/v1/tracking", {}, format="json").status_code == 200
    assert client.delete("/api/v1/tracking").status_code == 204
    assert client.delete("/api/v1/tracking").status_code == 204

    started, stopped = events_of(trader.user)[1:]
    assert started.kind == "tracking_started"
    assert started.details["symbols"] == ["XBTUSDTM"]
    assert started.details["state"] == "active"
    assert stopped.kind == "tracking_stopped"  # once: the second stop changed nothing
    _assert_origin(started)
    _assert_origin(stopped)


def test_tracking_started_on_a_rejected_key_records_its_pause_reason(
    make_trader: Callable[..., Any],
) -> None:
    trader = make_trader(on_exchange=False)  # KuCoin rejects it: stored as invalid
    client = _signed_in_client(trader.user)

    assert client.post("/api/v1/tracking", {}, format="json").status_code == 201

    [started] = events_of(trader.user, "tracking_started")
    assert started.details["state"] == "paused"
    assert started.details["reason"]
