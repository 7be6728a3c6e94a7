"""Simultaneous forced refreshes, over real sockets to two uvicorn processes, make ONE call
to Alpha Vantage and all answer the same stored quote."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from tests.support.processes import AsgiServer

from cryptotrack.simulators.alphavantage import AlphaVantageSimulator

pytestmark = pytest.mark.slow


@pytest.fixture
def two_servers(quotes_env: dict[str, str]) -> Iterator[list[AsgiServer]]:
    servers = [AsgiServer(quotes_env), AsgiServer(quotes_env)]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


def post_together(
    urls: list[str], headers: list[dict[str, str]], body: dict[str, str]
) -> list[httpx.Response]:
    """POST to every url at the same instant (a barrier releases all threads at once)."""
    barrier = threading.Barrier(len(urls))

    def post(url: str, header: dict[str, str]) -> httpx.Response:
        with httpx.Client(timeout=30) as client:
            barrier.wait()
            return client.post(url, json=body, headers=header)

    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(post, urls, headers))


def test_concurrent_refreshes_on_two_servers_make_one_upstream_call(
    two_servers: list[AsgiServer],
    av_sim: AlphaVantageSimulator,
    make_user: Callable[..., Any],
    access_token: Callable[[Any], str],
) -> None:
    from cryptotrack.quotes.models import Quote

    users = [make_user() for _ in range(4)]
    tokens = [access_token(user) for user in users]
    # A slow upstream answer, so that every request arrives while the first is in flight.
    av_sim.inject_fault("latency", latency=0.7)
    n = 8
    urls = [f"{two_servers[i % 2].url}/api/v1/quotes" for i in range(n)]
    headers = [{"Authorization": f"Bearer {tokens[i % len(tokens)]}"} for i in range(n)]

    answers = post_together(urls, headers, {"from_currency": "BTC", "to_currency": "USD"})

    assert [a.status_code for a in answers] == [201] * n, [a.text for a in answers]
    assert len({a.text for a in answers}) == 1  # the same stored quote for everybody
    assert av_sim.call_count == 1
    assert Quote.objects.count() == 1
    from cryptotrack.quotes import budget

    assert budget.calls_today(provider=budget.ALPHAVANTAGE) == 1


def test_concurrent_refreshes_that_fail_share_the_one_failure(
    two_servers: list[AsgiServer],
    av_sim: AlphaVantageSimulator,
    make_user: Callable[..., Any],
    access_token: Callable[[Any], str],
) -> None:
    token = access_token(make_user())
    av_sim.inject_fault("error", status=500, latency=0.7)
    n = 6
    urls = [f"{two_servers[i % 2].url}/api/v1/quotes" for i in range(n)]

    answers = post_together(urls, [{"Authorization": f"Bearer {token}"}] * n, {})

    assert [a.status_code for a in answers] == [502] * n
    assert {a.json()["code"] for a in answers} == {"upstream_unavailable"}
    assert av_sim.call_count == 1
