"""Forwarded headers: believed from TRUSTED_PROXIES only, by the throttles and by uvicorn."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from rest_framework.test import APIClient

from cryptotrack import launcher
from tests.conftest import STRONG_PASSWORD
from tests.support.processes import free_port, wait_until
from tests.support.procfile import ProcfileProcess

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token"
SIGNUP = "/api/v1/auth/signup"


def _rates(settings: Any, **rates: str) -> None:
    merged = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": merged}


def _sign_in(client: APIClient, user: Any, **extra: str) -> int:
    body = {"username": user.username, "password": STRONG_PASSWORD}
    return int(client.post(TOKEN, body, format="json", **extra).status_code)


def test_a_new_forwarded_for_per_request_does_not_bypass_the_login_throttle(
    api_client: APIClient, user: Any, settings: Any
) -> None:
    _rates(settings, login="30/min")

    # The throttle counts before the body is read: 29 empty bodies (400, no password
    # hashing) keep the 30 within the minute on a slow machine; the 31st login is refused.
    first = _sign_in(api_client, user, HTTP_X_FORWARDED_FOR="198.51.100.0")
    empties = [
        api_client.post(TOKEN, {}, format="json", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
        for n in range(1, 30)
    ]
    after = [_sign_in(api_client, user, HTTP_X_FORWARDED_FOR=f"198.51.101.{n}") for n in range(2)]

    assert first == 200
    assert [e.status_code for e in empties] == [400] * 29
    assert after == [429, 429]


def test_a_new_forwarded_for_per_request_does_not_bypass_the_signup_throttle(
    api_client: APIClient, settings: Any
) -> None:
    _rates(settings, signup="10/hour")

    answers = [
        api_client.post(
            SIGNUP,
            {"name": "N", "username": f"spoofer{n}", "password": STRONG_PASSWORD},
            format="json",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        ).status_code
        for n in range(12)
    ]

    assert answers == [201] * 10 + [429] * 2


def test_behind_a_trusted_proxy_the_forwarded_client_is_throttled(
    api_client: APIClient, user: Any, settings: Any
) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    _rates(settings, login="3/min")
    proxy = {"REMOTE_ADDR": "10.1.2.3"}

    # The client wrote the first address; our proxy appended the one it saw.
    first = [
        _sign_in(api_client, user, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.7", **proxy)
        for n in range(4)
    ]
    other_client = _sign_in(api_client, user, HTTP_X_FORWARDED_FOR="203.0.113.8", **proxy)
    behind_two_proxies = _sign_in(
        api_client, user, HTTP_X_FORWARDED_FOR="203.0.113.7, 10.9.9.9", **proxy
    )

    assert first == [200, 200, 200, 429]
    assert other_client == 200
    assert behind_two_proxies == 429  # 10.9.9.9 is ours too: the client is 203.0.113.7


def test_launcher_gives_uvicorn_the_same_trusted_proxies(settings: Any) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "192.0.2.1"]
    assert "--forwarded-allow-ips=10.0.0.0/8,192.0.2.1" in launcher.uvicorn_command("8000")
    settings.TRUSTED_PROXIES = []
    assert "--forwarded-allow-ips=" in launcher.uvicorn_command("8000")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("trusted", ["", "127.0.0.1"])
def test_procfile_web_believes_forwarded_for_only_from_trusted_proxies(
    user: Any, live_env: dict[str, str], trusted: str
) -> None:
    """uvicorn rewrites the client address from X-Forwarded-For for the addresses it trusts
    (127.0.0.1 unless told otherwise): the Procfile's web line must tell it ours."""
    port = free_port()
    env = {
        **live_env,
        "PATH": f"{Path(sys.executable).parent}:{live_env.get('PATH', '/usr/bin:/bin')}",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "THROTTLE_LOGIN": "3/min",
        "TRUSTED_PROXIES": trusted,
    }
    base = f"http://127.0.0.1:{port}"
    body = {"username": user.username, "password": STRONG_PASSWORD}

    def sign_in(forwarded_for: str) -> int:
        headers = {"X-Forwarded-For": forwarded_for}
        return httpx.post(f"{base}{TOKEN}", json=body, headers=headers, timeout=30).status_code

    with ProcfileProcess("web", env=env) as web:
        wait_until(lambda: _healthy(base, web), timeout=60, what="web /healthz")
        spoofed = [sign_in(f"198.51.100.{n}") for n in range(4)]
        other = sign_in("203.0.113.8")

    assert spoofed == [200, 200, 200, 429] if not trusted else [200] * 4
    assert other == (429 if not trusted else 200)


def _healthy(base: str, web: ProcfileProcess) -> bool:
    assert web.alive(), web.log()[-3000:]
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
