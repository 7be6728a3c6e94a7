"""Throttles: what they count, where (Redis, or this process while Redis is down), and what
a throttled client is told (429, ``Retry-After``)."""

from __future__ import annotations

import signal
from typing import Any

import httpx
import pytest
import redis as redis_py
from rest_framework.test import APIClient

from tests.conftest import STRONG_PASSWORD
from tests.support.processes import AsgiServer, RedisServer

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token"


def _rate(settings: Any, scope: str, rate: str) -> None:
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], scope: rate}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


def _sign_in(client: APIClient, user: Any) -> Any:
    return client.post(
        TOKEN, {"username": user.username, "password": STRONG_PASSWORD}, format="json"
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_login_throttle_holds_while_redis_is_down(
    user: Any, live_env: dict[str, str], throttle_redis: RedisServer
) -> None:
    """Through uvicorn, where every request has a cache instance of its own: the counts
    must live in the process, not in one instance's fallback."""
    env = {**live_env, "REDIS_URL": throttle_redis.url, "THROTTLE_LOGIN": "30/min"}
    with AsgiServer(env) as server:
        throttle_redis.kill(signal.SIGKILL)
        body = {"username": user.username, "password": STRONG_PASSWORD}

        # Counted before the body is read: 29 empty bodies (400, no password hashing)
        # keep 35 logins well inside the minute even on a loaded machine.
        answers = [httpx.post(f"{server.url}{TOKEN}", json=body, timeout=30)]
        answers += [httpx.post(f"{server.url}{TOKEN}", json={}, timeout=30) for _ in range(29)]
        answers += [httpx.post(f"{server.url}{TOKEN}", json=body, timeout=30) for _ in range(5)]

    assert [a.status_code for a in answers] == [200] + [400] * 29 + [429] * 5
    assert all(int(a.headers["Retry-After"]) >= 1 for a in answers[30:])


def test_counts_go_back_to_redis_when_it_returns(
    api_client: APIClient, user: Any, settings: Any, throttle_redis: Any
) -> None:
    _rate(settings, "login", "3/min")
    assert _sign_in(api_client, user).status_code == 200  # counted in Redis
    with redis_py.Redis.from_url(throttle_redis.url) as client:
        assert any(b"throttle_login" in key for key in client.keys("*"))


def test_a_throttle_check_is_one_redis_command(
    api_client: APIClient, user: Any, settings: Any, throttle_redis: Any
) -> None:
    """One round trip per throttle (DRF's own throttle reads the history list, then writes
    it back: two)."""
    _rate(settings, "login", "30/min")
    assert _sign_in(api_client, user).status_code == 200  # connects, loads the script
    with redis_py.Redis.from_url(throttle_redis.url) as client:
        client.config_resetstat()

        for _ in range(3):
            assert _sign_in(api_client, user).status_code == 200

        stats = client.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()}
    # Redis counts the commands a script runs as well: only EVALSHA came over the wire.
    assert calls.pop("evalsha", 0) == 3, calls
    assert set(calls) <= {"zremrangebyscore", "zcard", "zadd", "pexpire", "config|resetstat"}, calls
