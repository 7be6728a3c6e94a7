"""``GET /api/v1/positions`` answered ahead of Django (positions/fast_read.py) is the
answer Django gives: two real servers on the same database and Redis, one with the fast
read and one without (``POSITIONS_FAST_READ=0``), are sent the same requests and must
answer the same status, body and headers (all but ``date``). The fast server's
``cryptotrack_fast_answers_total`` tells which of its answers it gave itself: the usual
read must be one of them, and every other request must have been left to Django."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from threading import Barrier
from typing import Any

import httpx
import pytest
from django.core.cache import caches
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from cryptotrack.accounts.api_keys import api_key_create
from cryptotrack.accounts.user_cache import TOMBSTONE, cache_key
from cryptotrack.positions import cache
from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.support.processes import AsgiServer, RedisServer, wait_until
from tests.support.tracking import poll, track

pytestmark = pytest.mark.slow

METRICS_TOKEN = "fast-read-metrics"
REQUEST_ID = "parity-0123456789abcdef"
HSTS_SECONDS = "3600"


class Servers:
    """The server with the fast read, and Django alone, on one environment."""

    def __init__(self, fast: AsgiServer, django: AsgiServer) -> None:
        self.fast, self.django = fast, django

    def both(self, path: str = "/api/v1/positions", **request: Any) -> tuple[Any, Any]:
        """The same request to each: (fast server's answer, Django's)."""
        return tuple(self._send(server, path, **request) for server in (self.fast, self.django))

    def _send(self, server: AsgiServer, path: str, *, method: str = "GET", **request: Any) -> Any:
        given = request.pop("headers", {})  # a dict, or (name, value) pairs to repeat one
        pairs = given.items() if isinstance(given, dict) else given
        headers = [("X-Request-ID", REQUEST_ID), *pairs]
        return httpx.request(method, server.url + path, headers=headers, timeout=10, **request)

    def fast_answers(self) -> int:
        text = httpx.get(
            f"{self.fast.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        ).text
        found = re.search(
            r'^cryptotrack_fast_answers_total\{route="positions"\} (\S+)$', text, re.M
        )
        return int(float(found.group(1))) if found else 0


@contextmanager
def _servers(env: dict[str, str], tmp_path: Path) -> Iterator[Servers]:
    env = env | {"METRICS_TOKEN": METRICS_TOKEN, "SECURE_HSTS_SECONDS": HSTS_SECONDS}
    fast_env = env | {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "fast-metrics")}
    django_env = env | {
        "POSITIONS_FAST_READ": "0",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "django-metrics"),
    }
    with AsgiServer(fast_env) as fast, AsgiServer(django_env) as django:
        yield Servers(fast, django)


@pytest.fixture
def servers(live_env: dict[str, str], tmp_path: Path) -> Iterator[Servers]:
    with _servers(live_env | {"THROTTLE_USER": "100000/min"}, tmp_path) as running:
        yield running


@pytest.fixture
def trader(make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator) -> Any:
    """A trader with two positions, polled once (so they are in the cache)."""
    trader = make_trader()
    kucoin_sim.open_position(trader.api_key, "XBTUSDTM", size=2)
    kucoin_sim.open_position(trader.api_key, "ETHUSDTM", side="short", size=5)
    poll(track(trader))
    return trader


def _bearer(user: Any, scheme: str = "Bearer") -> dict[str, str]:
    return {"Authorization": f"{scheme} {AccessToken.for_user(user)}"}


def _same(fast: httpx.Response, django: httpx.Response) -> None:
    """Both servers gave the same answer: status, body, every header but the date."""
    assert fast.status_code == django.status_code, (fast.text, django.text)
    assert fast.content == django.content

    def headers(answer: httpx.Response) -> list[tuple[str, str]]:
        return sorted(
            (k.lower(), v) for k, v in answer.headers.multi_items() if k.lower() != "date"
        )

    assert headers(fast) == headers(django)


def _warm(servers: Servers, user: Any) -> None:
    """One read through Django puts the token's user in the cache (as any first read)."""
    _forget_tombstone(user)
    fast, django = servers.both(headers=_bearer(user))
    assert fast.status_code == django.status_code == 200, servers.fast.log()[-3000:]


def _forget_tombstone(user: Any) -> None:
    """As if the user had not been saved for ``TOMBSTONE_SECONDS``: saving a user leaves a
    tombstone that keeps them out of the cache for that long (``accounts.user_cache``)."""
    if caches["live"].get(cache_key(user.pk)) == TOMBSTONE:
        caches["live"].delete(cache_key(user.pk))


def test_the_cached_read_is_answered_fast_and_as_django_answers_it(
    servers: Servers, trader: Any
) -> None:
    _warm(servers, trader.user)
    before = servers.fast_answers()
    token = _bearer(trader.user)
    answered_fast = [
        servers.both(headers=token),
        servers.both(headers=_bearer(trader.user, "JWT")),
        servers.both("/api/v1/positions/", headers=token),
        servers.both(headers=token | {"Accept": "application/json"}),
        servers.both(headers=token | {"Accept": "text/html;q=0.9, */*;q=0.1"}),
        # Behind a TLS proxy (uvicorn believes X-Forwarded-Proto from loopback): HSTS too.
        servers.both(headers=token | {"X-Forwarded-Proto": "https"}),
    ]
    for fast, django in answered_fast:
        _same(fast, django)
        assert fast.status_code == 200
    assert servers.fast_answers() == before + len(answered_fast)

    fast, _ = answered_fast[0]
    body = fast.json()
    assert body["source"] == "cache"
    assert sorted(row["symbol"] for row in body["results"]) == ["ETHUSDTM", "XBTUSDTM"]
    assert fast.headers["x-request-id"] == REQUEST_ID
    assert "strict-transport-security" not in fast.headers
    assert answered_fast[-1][0].headers["strict-transport-security"] == f"max-age={HSTS_SECONDS}"


def test_every_other_request_is_left_to_django(servers: Servers, trader: Any) -> None:
    _warm(servers, trader.user)
    user = trader.user
    token = _bearer(user)
    expired = AccessToken.for_user(user)
    expired.set_exp(lifetime=-timedelta(seconds=1))
    api_key = api_key_create(user=user, name="read-only").plaintext
    before = servers.fast_answers()
    cases: dict[str, dict[str, Any]] = {
        "a query string": {"path": "/api/v1/positions?per_page=1", "headers": token},
        "a bad query string": {"path": "/api/v1/positions?per_page=0", "headers": token},
        "HEAD": {"method": "HEAD", "headers": token},
        "no credentials": {},
        "an API key": {"headers": {"X-API-Key": api_key}},
        "a wrong signature": {"headers": {"Authorization": f"Bearer {str(expired)[:-3]}abc"}},
        "an expired token": {"headers": {"Authorization": f"Bearer {expired}"}},
        "a refresh token": {"headers": {"Authorization": f"Bearer {RefreshToken.for_user(user)}"}},
        "three parts": {"headers": {"Authorization": f"Bearer {AccessToken.for_user(user)} x"}},
        "two Authorization headers": {"headers": [("Authorization", token["Authorization"])] * 2},
        "an unknown host": {"headers": token | {"Host": "evil.example"}},
        "an Accept it cannot answer": {"headers": token | {"Accept": "text/html"}},
        "a POST": {"method": "POST", "headers": token, "json": {}},
    }
    statuses = {}
    for name, request in cases.items():
        fast, django = servers.both(request.pop("path", "/api/v1/positions"), **request)
        _same(fast, django)
        statuses[name] = fast.status_code
    assert servers.fast_answers() == before, "the fast read answered one of these"
    assert statuses == {
        "a query string": 200,
        "a bad query string": 400,
        "HEAD": 200,
        "no credentials": 401,
        "an API key": 200,
        "a wrong signature": 401,
        "an expired token": 401,
        "a refresh token": 401,
        "three parts": 401,
        "two Authorization headers": 401,
        "an unknown host": 400,
        "an Accept it cannot answer": 406,
        "a POST": 405,
    }


def test_a_deactivated_user_is_refused_at_once(servers: Servers, trader: Any) -> None:
    """The user cached a moment ago is deactivated: the very next read is Django's 401."""
    _warm(servers, trader.user)
    token = _bearer(trader.user)
    trader.user.is_active = False
    trader.user.save()  # replaces the cached user with a tombstone
    before = servers.fast_answers()
    for _ in range(2):  # the second: after Django's own read
        fast, django = servers.both(headers=token)
        _same(fast, django)
        assert fast.status_code == 401
    assert servers.fast_answers() == before


def test_a_cache_miss_reads_the_database_then_the_cache(servers: Servers, trader: Any) -> None:
    _warm(servers, trader.user)
    cache.drop_user(trader.user.pk)
    token = _bearer(trader.user)
    before = servers.fast_answers()
    first = servers.fast.url
    refilled = httpx.get(f"{first}/api/v1/positions", headers=token).json()
    assert refilled["source"] == "database"
    assert servers.fast_answers() == before
    again = httpx.get(f"{first}/api/v1/positions", headers=token).json()
    assert again["source"] == "cache"
    assert again["results"] == refilled["results"]
    assert servers.fast_answers() == before + 1


def test_the_throttle_counts_each_request_once(
    live_env: dict[str, str], tmp_path: Path, trader: Any
) -> None:
    """Five a minute: the fast server answers five, then Django answers the 429 — no
    request counted twice (the refused one is not logged, Django refuses it too)."""
    with _servers(live_env | {"THROTTLE_USER": "5/min"}, tmp_path) as servers:
        _forget_tombstone(trader.user)
        token = _bearer(trader.user)
        fast_url = f"{servers.fast.url}/api/v1/positions"
        answers = [httpx.get(fast_url, headers=token) for _ in range(7)]
        # The first read fills the user cache through Django; the other four are fast.
        assert [a.status_code for a in answers] == [200] * 5 + [429] * 2
        assert servers.fast_answers() == 4
        refused = answers[-1]
        assert refused.json()["code"] == "throttled"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        # Django alone (same Redis, same counters) agrees the user has no request left.
        assert httpx.get(f"{servers.django.url}/api/v1/positions", headers=token).status_code == 429


def test_a_concurrent_burst_is_counted_once_per_request(
    live_env: dict[str, str], tmp_path: Path, trader: Any
) -> None:
    """Ten a minute, one read spent; then 24 at once: exactly nine more answered, all by
    the fast read (its check and count are one script call), the rest refused."""
    burst = 24
    with _servers(live_env | {"THROTTLE_USER": "10/min"}, tmp_path) as servers:
        _forget_tombstone(trader.user)
        token = _bearer(trader.user)
        url = f"{servers.fast.url}/api/v1/positions"
        assert httpx.get(url, headers=token).status_code == 200  # Django: fills the cache
        start = Barrier(burst)

        def read(_: int) -> int:
            start.wait()
            return httpx.get(url, headers=token, timeout=30).status_code

        with ThreadPoolExecutor(max_workers=burst) as pool:
            statuses = Counter(pool.map(read, range(burst)))

        assert statuses == {200: 9, 429: burst - 9}
        assert servers.fast_answers() == 9


@contextmanager
def _redis_killed(
    live_env: dict[str, str], tmp_path: Path, trader: Any, **env: str
) -> Iterator[tuple[Servers, RedisServer]]:
    """Both servers on a Redis of the test's own, the trader's positions cached in it
    (read once through Django), then that Redis killed by PID."""
    with RedisServer() as redis:
        given = live_env | {"REDIS_URL": redis.url, "REDIS_BREAKER_SECONDS": "1"} | env
        with _servers(given, tmp_path) as servers:
            url = f"{servers.fast.url}/api/v1/positions"
            assert httpx.get(url, headers=_bearer(trader.user)).json()["source"] == "database"
            redis.kill()
            yield servers, redis


def test_redis_down_the_database_is_read_as_django_reads_it(
    live_env: dict[str, str], tmp_path: Path, trader: Any
) -> None:
    """Redis killed: every read is answered from PostgreSQL — by the fast read itself, the
    same answer as Django's (`source: database`) — then from the cache when it is back."""
    with _redis_killed(live_env, tmp_path, trader) as (servers, redis):
        token = _bearer(trader.user)
        served = servers.fast_answers()
        for _ in range(4):
            fast, django = servers.both(headers=token)
            _same(fast, django)
            assert fast.status_code == 200, fast.text
            assert fast.json()["source"] == "database"
            assert fast.json()["count"] == 2
        assert servers.fast_answers() == served + 4

        url = f"{servers.fast.url}/api/v1/positions"
        with RedisServer(port=redis.port):
            # After the breaker's second: the cache is refilled, then answers fast.
            wait_until(
                lambda: httpx.get(url, headers=token).json()["source"] == "cache",
                timeout=10,
                interval=0.3,
                what="reads from the cache again",
            )
            served = servers.fast_answers()
            assert httpx.get(url, headers=token).json()["source"] == "cache"
            assert servers.fast_answers() == served + 1


def test_redis_down_a_deactivated_user_is_refused_at_once(
    live_env: dict[str, str], tmp_path: Path, trader: Any
) -> None:
    with _redis_killed(live_env, tmp_path, trader) as (servers, _redis):
        token = _bearer(trader.user)
        assert servers.both(headers=token)[0].status_code == 200
        trader.user.is_active = False
        trader.user.save()
        served = servers.fast_answers()
        fast, django = servers.both(headers=token)
        _same(fast, django)
        assert fast.status_code == 401
        assert servers.fast_answers() == served


def test_redis_down_the_throttle_holds_and_counts_each_request_once(
    live_env: dict[str, str], tmp_path: Path, trader: Any
) -> None:
    """Five a minute, counted in the process while Redis is down (the logs Django's
    requests use then too): five answered by the fast read, then Django's 429s."""
    with _redis_killed(live_env, tmp_path, trader, THROTTLE_USER="5/min") as (servers, _redis):
        token = _bearer(trader.user)
        url = f"{servers.fast.url}/api/v1/positions"
        served = servers.fast_answers()
        answers = [httpx.get(url, headers=token, timeout=10) for _ in range(7)]
        assert [a.status_code for a in answers] == [200] * 5 + [429] * 2
        assert servers.fast_answers() == served + 5
        assert answers[-1].json()["code"] == "throttled"
