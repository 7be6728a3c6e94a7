"""A burst of creations of one channel name against a real server (PostgreSQL): the
unique constraint decides, so exactly one is created and every other request is told
why, never a 500 and never a second channel under the name."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any

import httpx
import pytest
from rest_framework_simplejwt.tokens import AccessToken

from cryptotrack.notify.models import Channel
from tests.support.processes import AsgiServer

pytestmark = pytest.mark.slow

BURST = 24


@pytest.fixture
def server(live_env: dict[str, str]) -> Iterator[AsgiServer]:
    env = live_env | {"THROTTLE_USER": "100000/min", "WEB_THREADS": "0"}
    with AsgiServer(env) as running:
        yield running


def test_a_burst_of_one_name_creates_one_channel(
    server: AsgiServer, make_user: Callable[..., Any]
) -> None:
    user = make_user()
    headers = {"Authorization": f"Bearer {AccessToken.for_user(user)}"}
    start = Barrier(BURST)

    def create(n: int) -> httpx.Response:
        # The same name in two cases: names are unique ignoring case.
        body = {"kind": "email", "name": "Desk" if n % 2 else "DESK", "config": {}}
        start.wait()
        return httpx.post(f"{server.url}/api/v1/channels", json=body, headers=headers, timeout=60)

    with ThreadPoolExecutor(max_workers=BURST) as pool:
        answers = list(pool.map(create, range(BURST)))

    assert Counter(a.status_code for a in answers) == {201: 1, 400: BURST - 1}
    refusals = [a.json() for a in answers if a.status_code == 400]
    assert all("name" in r["errors"] for r in refusals), refusals[:3]
    assert Channel.objects.filter(user=user).count() == 1
