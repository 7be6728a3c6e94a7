"""The tracking endpoints: start, status, cancel, and what bad input gets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from cryptotrack.positions import cache
from cryptotrack.positions.models import PositionSnapshot, TrackingSubscription
from cryptotrack.positions.storage import account_entry, positions_json

pytestmark = pytest.mark.django_db

TRACKING = "/api/v1/tracking"


def test_status_is_stopped_before_tracking(user_client: Any) -> None:
    body = user_client.get(TRACKING).json()
    assert body["state"] == "stopped"
    assert body["last_error"] is None
    assert body["interval_seconds"] == 30


def test_tracking_needs_kucoin_credentials(user_client: Any) -> None:
    response = user_client.post(TRACKING, {}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "no_credentials"
    assert not TrackingSubscription.objects.exists()


def test_start_then_again_then_cancel(make_trader: Callable[..., Any], client_for: Any) -> None:
    trader = make_trader()
    client = client_for(trader.user)

    started = client.post(
        TRACKING, {"symbols": ["XBTUSDTM", "ETHUSDTM", "XBTUSDTM"]}, format="json"
    )
    assert started.status_code == 201, started.json()
    assert started.json()["state"] == "active"
    assert started.json()["symbols"] == ["ETHUSDTM", "XBTUSDTM"]
    assert started.json()["next_poll_at"] is not None

    again = client.post(TRACKING, {}, format="json")
    assert again.status_code == 200
    assert again.json()["symbols"] == []

    assert client.delete(TRACKING).status_code == 204
    assert client.get(TRACKING).json()["state"] == "stopped"
    assert client.post(TRACKING, {}, format="json").status_code == 201


@pytest.mark.parametrize(
    "payload",
    [
        {"symbols": "XBTUSDTM"},
        {"symbols": ["xbt usdt"]},
        {"symbols": [""]},
        {"symbols": [123]},
        {"symbols": ["A" * 31]},
        {"symbols": [f"SYM{n}" for n in range(101)]},
    ],
)
def test_bad_symbols_are_400(
    make_trader: Callable[..., Any], client_for: Any, payload: Any
) -> None:
    client = client_for(make_trader().user)
    response = client.post(TRACKING, payload, format="json")
    assert response.status_code == 400
    assert "symbols" in response.json()["errors"]
    assert not TrackingSubscription.objects.exists()


def test_rejected_key_starts_paused_with_the_reason(
    make_trader: Callable[..., Any], client_for: Any
) -> None:
    trader = make_trader(on_exchange=False)  # the simulator does not know this key
    body = client_for(trader.user).post(TRACKING, {}, format="json").json()
    assert body["state"] == "paused"
    assert body["last_error"]["kind"] == "invalid_credentials"
    assert "KuCoin" in body["last_error"]["message"]


def test_tracking_requires_authentication(api_client: Any) -> None:
    assert api_client.get(TRACKING).status_code == 401
    assert api_client.post(TRACKING, {}, format="json").status_code == 401
    assert api_client.get("/api/v1/positions").status_code == 401


def test_positions_with_bad_pagination_is_400(user_client: Any) -> None:
    response = user_client.get("/api/v1/positions?per_page=1000")
    assert response.status_code == 400
    assert "per_page" in response.json()["errors"]


def test_history_rejects_bad_times(user_client: Any) -> None:
    response = user_client.get("/api/v1/positions/history?since=yesterday")
    assert response.status_code == 400
    assert "since" in response.json()["errors"]
    swapped = user_client.get(
        "/api/v1/positions/history?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z"
    )
    assert swapped.status_code == 400


def test_positions_answer_carries_the_cached_json_as_it_is(user: Any, user_client: Any) -> None:
    """The cache holds the encoded array; the answer sends those bytes, not a re-encoding."""
    rows = [{"symbol": "XBTUSDTM", "size": "1.0000000000", "note": "é as stored"}]
    cache.write({user.pk: {1: account_entry(rows, as_of=timezone.now())}})

    response = user_client.get("/api/v1/positions")

    assert response.status_code == 200
    assert response.content.endswith(b',"results":' + positions_json(rows) + b"}")
    assert response.json()["count"] == 1
    assert response.json()["source"] == "cache"


def test_history_reads_deep_by_cursor(user: Any, user_client: Any) -> None:
    """Keyset mode: each page after the cursor of the last, same instants split by id."""
    now = timezone.now()
    PositionSnapshot.objects.bulk_create(
        PositionSnapshot(
            user=user, symbol="XBTUSDTM", side="long", size=n, entry_price=1, mark_price=1,
            unrealised_pnl=0, realised_pnl=0, taken_at=now - timedelta(seconds=n // 2),
        )
        for n in range(5)
    )  # fmt: skip

    first = user_client.get("/api/v1/positions/history?cursor=&per_page=2").json()
    second = user_client.get(
        f"/api/v1/positions/history?cursor={first['next_cursor']}&per_page=2"
    ).json()
    third = user_client.get(
        f"/api/v1/positions/history?cursor={second['next_cursor']}&per_page=2"
    ).json()

    sizes = [row["size"] for page in (first, second, third) for row in page["results"]]
    assert [float(size) for size in sizes] == [1, 0, 3, 2, 4]  # newest first, then newest id
    assert first["count"] is None
    assert third["next_cursor"] is None
