"""The ASGI stack under uvicorn: in-loop middleware, pooled threads and connections.

The sync test client never runs the async path of the middleware, nor the ASGI handler;
these requests go through a real uvicorn serving ``cryptotrack.asgi``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from cryptotrack.positions import cache as positions_cache
from cryptotrack.positions.storage import account_entry
from tests.conftest import STRONG_PASSWORD
from tests.support.processes import AsgiServer

pytestmark = pytest.mark.slow


@pytest.fixture
def server(live_env: dict[str, str]) -> Iterator[AsgiServer]:
    with AsgiServer({**live_env, "WEB_THREADS": "4", "WEB_DATABASE_POOL_SIZE": "2"}) as server:
        yield server


def test_admin_sign_in_saves_its_session_over_asgi(server: AsgiServer, make_user: Any) -> None:
    """Session and messages do I/O in process_response: it must still happen (in a thread)."""
    admin = make_user()
    admin.is_staff = admin.is_superuser = True
    admin.save()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        form = client.get("/admin/login/")
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert csrf is not None
        signed_in = client.post(
            "/admin/login/?next=/admin/",
            data={
                "csrfmiddlewaretoken": csrf[1],
                "username": admin.username,
                "password": STRONG_PASSWORD,
            },
        )
        assert signed_in.status_code == 302, signed_in.text[:500]
        assert "sessionid" in client.cookies
        assert client.get("/admin/").status_code == 200


def test_static_files_and_security_headers_over_asgi(server: AsgiServer) -> None:
    page = httpx.get(f"{server.url}/docs", timeout=10)
    script = re.search(r'src="(/static/[^"]+\.js)"', page.text)
    assert script is not None, page.text[:500]

    static = httpx.get(f"{server.url}{script[1]}", timeout=10)
    api = httpx.get(f"{server.url}/healthz", timeout=10)

    assert static.status_code == 200
    assert "javascript" in static.headers["content-type"]
    assert api.headers["x-frame-options"] == "DENY"
    assert api.headers["x-content-type-options"] == "nosniff"


def test_more_requests_than_threads_and_connections_all_answer(
    server: AsgiServer, make_user: Any, client_for: Any
) -> None:
    """32 concurrent JWT requests through 4 request threads and 2 pooled connections."""
    user = make_user()
    token = client_for(user)._credentials["HTTP_AUTHORIZATION"]
    positions_cache.write({user.pk: {1: account_entry([], as_of=datetime.now(UTC))}})

    def get(path: str) -> int:
        return httpx.get(
            f"{server.url}{path}", headers={"Authorization": token}, timeout=20
        ).status_code

    with ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(get, ["/api/v1/positions", "/api/v1/me"] * 16))

    assert statuses == [200] * 32
