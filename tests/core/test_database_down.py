"""PostgreSQL unreachable: a request that needs it is answered 503 with the API's JSON
error and a Retry-After, within the pool's wait — not a 500. A real server whose
database URL points at a port where nothing listens (and whose Redis is gone too, so the
positions read ahead of Django tries the database first, then hands over)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from rest_framework_simplejwt.tokens import AccessToken

from tests.support.processes import AsgiServer, free_port

pytestmark = pytest.mark.slow


def test_requests_that_need_the_database_get_a_503(live_env: dict[str, str]) -> None:
    env = live_env | {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/gone",
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "WEB_DATABASE_POOL_TIMEOUT": "1",
    }
    token = AccessToken()
    token["user_id"] = 1
    requests: list[dict[str, Any]] = [
        {
            "method": "GET",
            "url": "/api/v1/positions",
            "headers": {"Authorization": f"Bearer {token}"},
        },
        {"method": "POST", "url": "/api/v1/auth/token", "json": {"username": "a", "password": "b"}},
    ]
    with AsgiServer(env) as server:
        for request in requests:
            started = time.monotonic()
            answer = httpx.request(
                request["method"],
                server.url + request["url"],
                headers=request.get("headers"),
                json=request.get("json"),
                timeout=30,
            )
            assert answer.status_code == 503, (request, answer.text, server.log()[-2000:])
            assert answer.json()["code"] == "database_unavailable"
            assert int(answer.headers["Retry-After"]) >= 1
            # The fast read waits a second for its pool, Django a second for its own.
            assert time.monotonic() - started < 10
