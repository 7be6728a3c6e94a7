"""Balances through a real Celery worker and beat: refreshed with the positions poll,
once per refresh interval, each user seeing their own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.positions.test_tracking_processes import INTERVAL, fast_tracking
from tests.support.processes import CeleryWorker, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

__all__ = ["fast_tracking"]


def _balances(client: Any) -> dict[str, Any]:
    response = client.get("/api/v1/balances")
    assert response.status_code == 200, response.content
    return response.json()


def test_a_worker_refreshes_each_users_balances_once_per_interval(
    make_trader: Callable[..., Any],
    kucoin_sim: KucoinSimulator,
    client_for: Any,
    fast_tracking: dict[str, str],
) -> None:
    traders = [make_trader() for _ in range(3)]
    for n, trader in enumerate(traders):
        kucoin_sim.set_balance(trader.api_key, "USDT", str(100 + n))
        kucoin_sim.set_futures_balance(trader.api_key, str(1000 + n))
    clients = [client_for(t.user) for t in traders]
    for client in clients:
        assert client.post("/api/v1/tracking", {}, format="json").status_code == 201

    with CeleryWorker(fast_tracking | {"BALANCES_REFRESH_SECONDS": "300"}, beat=True):
        for client in clients:
            wait_until(
                lambda c=client: _balances(c)["results"][0]["as_of"] is not None,
                timeout=INTERVAL + 10,
                what="balances",
            )
        first = traders[0]
        wait_until(
            lambda: kucoin_sim.request_count(api_key=first.api_key, path="/api/v1/positions") >= 4,
            timeout=INTERVAL * 4 + 5,
            what="three more polls",
        )

    for n, (trader, client) in enumerate(zip(traders, clients, strict=True)):
        (result,) = _balances(client)["results"]
        assert result["account"]["id"] == trader.user.exchange_accounts.get().pk
        assert [s["balance"] for s in result["spot"]] == [str(100 + n)]
        assert result["futures"]["margin_balance"] == str(1000 + n)
        overview_calls = kucoin_sim.request_count(
            api_key=trader.api_key, path="/api/v1/account-overview"
        )
        assert overview_calls == 1
