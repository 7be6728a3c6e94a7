"""Issue 14's story, end to end over the API with a real Celery worker (beat included),
PostgreSQL, Redis and the KuCoin simulator: a trader signs up with their main key, adds a
sub-account, tracks both; sees both accounts' positions labelled and both accounts'
balances as the simulator holds them; a revoked sub-account key pauses that account
only; the audit log tells every step; another user sees none of it."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.conftest import STRONG_PASSWORD
from tests.positions.test_tracking_processes import INTERVAL, fast_tracking
from tests.support.processes import CeleryWorker, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

__all__ = ["fast_tracking"]

MAIN = {"api_key": "story-main-key-0001", "api_secret": "story-main-secret", "api_passphrase": "p1"}
SUB = {"api_key": "story-sub-key-00002", "api_secret": "story-sub-secret-2", "api_passphrase": "p2"}


def _signed_up(username: str, **extra: Any) -> APIClient:
    client = APIClient(HTTP_USER_AGENT="story-test/1.0")
    body = {"name": username.title(), "username": username, "password": STRONG_PASSWORD}
    assert client.post("/api/v1/auth/signup", body | extra, format="json").status_code == 201
    token = client.post(
        "/api/v1/auth/token",
        {"username": username, "password": STRONG_PASSWORD},
        format="json",
    )
    assert token.status_code == 200, token.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.json()['access']}")
    return client


def _get(client: APIClient, path: str) -> dict[str, Any]:
    response = client.get(path)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def test_two_accounts_tracked_balanced_one_paused_all_audited_none_shared(
    kucoin_sim: KucoinSimulator, fast_tracking: dict[str, str]
) -> None:
    main_key = kucoin_sim.add_key(*MAIN.values())
    kucoin_sim.add_key(*SUB.values(), uid=main_key.uid, sub_name="sub1")
    kucoin_sim.open_position(MAIN["api_key"], "XBTUSDTM", side="long", size=2)
    kucoin_sim.open_position(SUB["api_key"], "ETHUSDTM", side="short", size=5)
    kucoin_sim.set_balance(MAIN["api_key"], "USDT", "1250.5")
    kucoin_sim.set_balance(SUB["api_key"], "BTC", "0.25")
    kucoin_sim.set_futures_balance(MAIN["api_key"], "4000")
    kucoin_sim.set_futures_balance(SUB["api_key"], "300")

    trader = _signed_up("story", kucoin=MAIN)
    added = trader.post("/api/v1/exchange-accounts", {"label": "Sub 1", **SUB}, format="json")
    assert added.status_code == 201, added.content
    sub_id = added.json()["id"]
    assert trader.post("/api/v1/tracking", {}, format="json").status_code == 201
    sub_tracking = f"/api/v1/exchange-accounts/{sub_id}/tracking"
    assert trader.post(sub_tracking, {}, format="json").status_code == 201

    with CeleryWorker(fast_tracking | {"BALANCES_REFRESH_SECONDS": "300"}, beat=True):
        wait_until(
            lambda: _get(trader, "/api/v1/positions")["count"] == 2,
            timeout=INTERVAL * 4,
            what="both accounts' positions",
        )
        wait_until(
            lambda: all(r["as_of"] for r in _get(trader, "/api/v1/balances")["results"]),
            timeout=INTERVAL * 4,
            what="both accounts' balances",
        )

        kucoin_sim.remove_key(SUB["api_key"])  # the user revoked it on KuCoin
        wait_until(
            lambda: _get(trader, sub_tracking)["state"] == "paused",
            timeout=INTERVAL * 4,
            what="the revoked account's tracking paused",
        )
        polled_before = _get(trader, "/api/v1/tracking")["last_success_at"]
        wait_until(
            lambda: _get(trader, "/api/v1/tracking")["last_success_at"] != polled_before,
            timeout=INTERVAL * 4,
            what="the default account still polled",
        )

    positions = _get(trader, "/api/v1/positions")["results"]
    assert sorted((p["account"]["label"], p["symbol"], p["side"]) for p in positions) == [
        ("Sub 1", "ETHUSDTM", "short"),
        ("default", "XBTUSDTM", "long"),
    ]
    assert _get(trader, "/api/v1/tracking")["state"] == "active"
    assert _get(trader, sub_tracking)["last_error"]["kind"] == "invalid_credentials"

    balances = {r["account"]["label"]: r for r in _get(trader, "/api/v1/balances")["results"]}
    assert [(s["currency"], s["balance"]) for s in balances["default"]["spot"]] == [
        ("USDT", "1250.5")
    ]
    assert [(s["currency"], s["balance"]) for s in balances["Sub 1"]["spot"]] == [("BTC", "0.25")]
    assert balances["default"]["futures"]["margin_balance"] == "4000"
    assert balances["Sub 1"]["futures"]["margin_balance"] == "300"

    events = _get(trader, "/api/v1/me/audit?per_page=100")["results"]
    story = [
        (e["kind"], e["details"].get("label") or e["details"].get("account"))
        for e in reversed(events)  # oldest first
    ]
    assert story == [
        ("signup", None),
        ("exchange_account_added", "default"),
        ("login_succeeded", None),
        ("exchange_account_added", "Sub 1"),
        ("tracking_started", "default"),
        ("tracking_started", "Sub 1"),
        ("tracking_paused", "Sub 1"),
    ]
    by_client = [e for e in events if e["kind"] != "tracking_paused"]
    assert {(e["ip_address"], e["user_agent"]) for e in by_client} == {
        ("127.0.0.1", "story-test/1.0")
    }

    stranger = _signed_up("stranger")
    assert _get(stranger, "/api/v1/positions")["count"] == 0
    assert _get(stranger, "/api/v1/balances")["results"] == []
    assert _get(stranger, "/api/v1/exchange-accounts")["count"] == 0
    assert stranger.get(f"/api/v1/exchange-accounts/{sub_id}").status_code == 404
    assert stranger.get(sub_tracking).status_code == 404
    assert {e["kind"] for e in _get(stranger, "/api/v1/me/audit")["results"]} == {
        "signup",
        "login_succeeded",
    }
