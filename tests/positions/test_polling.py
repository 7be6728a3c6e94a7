"""Polling against the KuCoin simulator, in process: what gets stored, cached and paused.

These call the dispatcher and the batch poller directly (the Celery task is a three-line
wrapper around them); test_tracking_processes.py runs the same through real workers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import caches
from django.utils import timezone

from cryptotrack.accounts.models import ExchangeAccount
from cryptotrack.positions import dispatch, polling, services
from cryptotrack.positions.cache import user_key
from cryptotrack.positions.models import Position, PositionSnapshot, TrackingSubscription
from cryptotrack.simulators.kucoin import KucoinSimulator

pytestmark = pytest.mark.django_db(transaction=True)


def _track(trader: Any, symbols: list[str] | None = None) -> TrackingSubscription:
    subscription, _ = services.start_tracking(user=trader.user, symbols=symbols or [])
    return subscription


def _poll(*subscriptions: TrackingSubscription) -> polling.BatchSummary:
    """Poll these subscriptions in one batch, each in a fresh slot."""
    slot = timezone.now()
    return polling.poll_batch(batch=[(s.id, slot.isoformat()) for s in subscriptions])


def _positions(client: Any, query: str = "") -> dict[str, Any]:
    response = client.get(f"/api/v1/positions{query}")
    assert response.status_code == 200, response.content
    return response.json()


def test_position_opened_moved_and_closed_shows_changes_and_disappears(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator, client_for: Any
) -> None:
    trader = make_trader()
    client = client_for(trader.user)
    subscription = _track(trader)
    kucoin_sim.open_position(
        trader.api_key,
        "XBTUSDTM",
        side="short",
        size=3,
        entry_price=60000,
        mark_price=60000,
        leverage=5,
        margin_mode="cross",  # KuCoin reports the live leverage of isolated positions
    )

    _poll(subscription)
    opened = _positions(client)["results"]
    assert [(p["symbol"], p["side"], Decimal(p["size"])) for p in opened] == [
        ("XBTUSDTM", "short", 3)
    ]
    assert Decimal(opened[0]["entry_price"]) == 60000
    assert Decimal(opened[0]["leverage"]) == 5
    assert opened[0]["margin_mode"] == "cross"

    kucoin_sim.set_mark_price("XBTUSDTM", 59000)
    _poll(subscription)
    moved = _positions(client)["results"][0]
    assert Decimal(moved["mark_price"]) == 59000
    assert Decimal(moved["unrealised_pnl"]) > 0  # a short gains when the price falls

    kucoin_sim.close_position(trader.api_key, "XBTUSDTM")
    _poll(subscription)
    assert _positions(client)["results"] == []
    assert not Position.objects.exists()
    history = client.get("/api/v1/positions/history").json()
    assert history["results"][0]["closed"] is True
    assert history["count"] >= 2


def test_each_user_sees_only_their_own_positions(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator, client_for: Any
) -> None:
    alice, bob = make_trader(), make_trader()
    kucoin_sim.open_position(alice.api_key, "XBTUSDTM", size=1)
    kucoin_sim.open_position(bob.api_key, "ETHUSDTM", size=7)
    kucoin_sim.open_position(bob.api_key, "SOLUSDTM", size=2)

    _poll(_track(alice), _track(bob))

    assert [p["symbol"] for p in _positions(client_for(alice.user))["results"]] == ["XBTUSDTM"]
    bobs = _positions(client_for(bob.user))
    assert sorted(p["symbol"] for p in bobs["results"]) == ["ETHUSDTM", "SOLUSDTM"]
    assert bobs["count"] == 2
    assert [
        p["symbol"] for p in _positions(client_for(bob.user), "?symbol=ETHUSDTM")["results"]
    ] == ["ETHUSDTM"]


def test_chosen_symbols_only(make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator) -> None:
    trader = make_trader()
    kucoin_sim.open_position(trader.api_key, "XBTUSDTM")
    kucoin_sim.open_position(trader.api_key, "ETHUSDTM")

    _poll(_track(trader, ["ETHUSDTM"]))

    assert list(Position.objects.values_list("symbol", flat=True)) == ["ETHUSDTM"]


def test_positions_come_from_cache_then_database_when_cache_is_empty(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator, client_for: Any
) -> None:
    trader = make_trader()
    client = client_for(trader.user)
    kucoin_sim.open_position(trader.api_key, "XBTUSDTM")
    _poll(_track(trader))

    cached = _positions(client)
    assert cached["source"] == "cache"
    assert cached["as_of"].endswith("Z")

    caches["live"].delete(user_key(trader.user.pk))
    from_db = _positions(client)
    assert from_db["source"] == "database"
    assert from_db["as_of"].endswith("Z")
    assert from_db["results"] == cached["results"]
    # The database read refilled the cache.
    assert _positions(client)["source"] == "cache"


def test_revoked_key_pauses_that_user_only(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator, client_for: Any
) -> None:
    good, revoked = make_trader(), make_trader()
    kucoin_sim.open_position(good.api_key, "XBTUSDTM")
    subscriptions = _track(good), _track(revoked)
    kucoin_sim.remove_key(revoked.api_key)

    summary = _poll(*subscriptions)

    assert summary.polled == 2
    assert summary.failed == 1
    status = client_for(revoked.user).get("/api/v1/tracking").json()
    assert status["state"] == "paused"
    assert status["last_error"]["kind"] == "invalid_credentials"
    assert status["consecutive_failures"] == 1
    assert ExchangeAccount.objects.get(user=revoked.user).status == "invalid"
    assert client_for(good.user).get("/api/v1/tracking").json()["state"] == "active"
    assert _positions(client_for(good.user))["count"] == 1


def test_replacing_a_revoked_key_with_a_valid_one_resumes_tracking(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator, client_for: Any
) -> None:
    trader = make_trader()
    subscription = _track(trader)
    kucoin_sim.remove_key(trader.api_key)
    _poll(subscription)
    client = client_for(trader.user)
    assert client.get("/api/v1/tracking").json()["state"] == "paused"

    kucoin_sim.add_key("fresh-key-000001", "fresh-secret-000001", "fresh-pass")
    response = client.put(
        "/api/v1/me/kucoin",
        {
            "api_key": "fresh-key-000001",
            "api_secret": "fresh-secret-000001",
            "api_passphrase": "fresh-pass",
        },
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["status"] == "valid"
    assert response.json()["api_key_hint"] == "…0001"
    status = client.get("/api/v1/tracking").json()
    assert status["state"] == "active"
    assert status["last_error"] is None


def test_rate_limited_user_backs_off_alone(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator
) -> None:
    limited, other = make_trader(), make_trader()
    subscriptions = _track(limited), _track(other)
    kucoin_sim.configure(rate_limit={"futures": 2}, rate_limit_window=20)  # one call (weight 2)
    _poll(subscriptions[0])  # spends the limited user's futures quota

    _poll(*subscriptions)

    limited_row = TrackingSubscription.objects.get(user=limited.user)
    assert limited_row.last_error_kind == "rate_limited"
    assert limited_row.state == "active"
    assert limited_row.next_poll_at >= timezone.now() + timedelta(seconds=15)
    other_row = TrackingSubscription.objects.get(user=other.user)
    assert other_row.last_error_kind == ""
    assert other_row.last_success_at is not None


def test_slow_user_times_out_without_holding_back_the_others(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator, settings: Any
) -> None:
    settings.KUCOIN_TIMEOUT_SECONDS = 1.0
    slow, fast = make_trader(), make_trader()
    kucoin_sim.open_position(fast.api_key, "XBTUSDTM")
    subscriptions = _track(slow), _track(fast)
    kucoin_sim.inject_fault("latency", api_key=slow.api_key, latency=5.0)

    _poll(*subscriptions)

    slow_row = TrackingSubscription.objects.get(user=slow.user)
    fast_row = TrackingSubscription.objects.get(user=fast.user)
    assert slow_row.last_error_kind == "timeout"
    assert fast_row.last_success_at is not None
    # The fast user's positions were recorded in the first flush, not after the timeouts.
    fast_position = Position.objects.get(user=fast.user)
    assert slow_row.last_error_at is not None
    assert fast_position.seen_at < slow_row.last_error_at - timedelta(seconds=0.5)


def test_redelivered_batch_polls_nobody_twice(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator
) -> None:
    traders = [make_trader() for _ in range(3)]
    subscriptions = [_track(t) for t in traders]
    batch = [(s.id, timezone.now().isoformat()) for s in subscriptions]

    first = polling.poll_batch(batch=batch)
    again = polling.poll_batch(batch=batch)

    assert (first.polled, again.polled, again.skipped) == (3, 0, 3)
    for trader in traders:
        assert kucoin_sim.request_count(api_key=trader.api_key, path="/api/v1/positions") == 1


def test_dispatcher_claims_only_due_rows_and_moves_them_one_interval_on(
    make_trader: Callable[..., Any], settings: Any
) -> None:
    settings.POSITIONS_BATCH_SIZE = 2
    now = timezone.now()
    due = [_track(make_trader()) for _ in range(3)]
    later = _track(make_trader())
    behind = _track(make_trader())
    TrackingSubscription.objects.filter(id__in=[s.id for s in due]).update(
        next_poll_at=now - timedelta(seconds=1)
    )
    TrackingSubscription.objects.filter(id=later.id).update(
        next_poll_at=now + timedelta(seconds=10)
    )
    TrackingSubscription.objects.filter(id=behind.id).update(
        next_poll_at=now - timedelta(minutes=5)
    )

    first = dispatch.claim_due_batch(now=now, limit=10)

    assert {subscription_id for subscription_id, _ in first} == {s.id for s in [*due, behind]}
    for subscription in due:
        subscription.refresh_from_db()
        assert subscription.next_poll_at == now - timedelta(seconds=1) + timedelta(seconds=30)
    behind.refresh_from_db()
    assert behind.next_poll_at == now + timedelta(seconds=30)  # missed slots are not replayed
    assert dispatch.claim_due_batch(now=now, limit=10) == []


def test_stopped_tracking_is_not_polled(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator
) -> None:
    trader = make_trader()
    subscription = _track(trader)
    services.stop_tracking(user=trader.user)

    assert _poll(subscription).polled == 0
    assert kucoin_sim.request_count(api_key=trader.api_key, path="/api/v1/positions") == 0


def test_history_snapshots_on_change_not_on_every_mark_move(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator
) -> None:
    trader = make_trader()
    subscription = _track(trader)
    kucoin_sim.open_position(trader.api_key, "XBTUSDTM", size=1, mark_price=60000)
    _poll(subscription)
    kucoin_sim.set_mark_price("XBTUSDTM", 60100)
    _poll(subscription)
    assert PositionSnapshot.objects.count() == 1  # only the mark moved

    kucoin_sim.resize_position(trader.api_key, "XBTUSDTM", 2)
    _poll(subscription)
    assert PositionSnapshot.objects.count() == 2


def test_old_history_is_purged(make_trader: Callable[..., Any], settings: Any) -> None:
    settings.POSITIONS_HISTORY_RETENTION_DAYS = 7
    trader = make_trader()
    common = {
        "user": trader.user,
        "symbol": "XBTUSDTM",
        "side": "long",
        "size": 1,
        "entry_price": 1,
    }
    common |= {"mark_price": 1, "unrealised_pnl": 0, "realised_pnl": 0}
    PositionSnapshot.objects.create(**common, taken_at=timezone.now() - timedelta(days=8))
    PositionSnapshot.objects.create(**common, taken_at=timezone.now() - timedelta(days=6))

    assert services.purge_position_history() == 1
    assert PositionSnapshot.objects.count() == 1


def _stored_position(user: Any, **overrides: Any) -> Position:
    """An open XBTUSDTM long of ``user``'s one account, as a poll stores it."""
    now = timezone.now()
    fields = {
        "user": user,
        "account": user.exchange_accounts.get(),
        "symbol": "XBTUSDTM",
        "side": "long",
        "size": Decimal(3),
        "entry_price": Decimal("60000.5"),
        "mark_price": Decimal("60100"),
        "liquidation_price": Decimal("40000"),
        "leverage": Decimal(5),
        "margin_mode": "cross",
        "unrealised_pnl": Decimal("-0.25"),
        "realised_pnl": Decimal("0"),
        "settle_currency": "USDT",
        "opened_at": now - timedelta(hours=1),
        "updated_at": now,
        "seen_at": now,
        **overrides,
    }
    position = Position.objects.create(**fields)
    position.refresh_from_db()
    return position


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"liquidation_price": None, "leverage": None, "opened_at": None},
        {
            "size": Decimal("1E-8"),
            "entry_price": Decimal("67012.123456789012"),
            "leverage": Decimal("2.5"),
        },
    ],
)
def test_cached_representation_is_exactly_the_api_serializer(
    make_trader: Callable[..., Any], overrides: dict[str, Any]
) -> None:
    from cryptotrack.positions.representations import PositionOutput, position_representation

    position = _stored_position(make_trader().user, **overrides)

    label = position.account.label
    assert position_representation(position, label=label) == PositionOutput(position).data


@pytest.mark.parametrize(
    ("overrides", "distance", "roe"),
    [
        ({}, "33.4443", "-0.5000"),  # (60100 - 40000) / 60100; -0.25 / 50
        ({"liquidation_price": None}, None, "-0.5000"),
        ({"position_margin": None}, "33.4443", None),
        ({"position_margin": Decimal(0)}, "33.4443", None),
    ],
)
def test_positions_carry_the_figures_their_alerts_compare(
    make_trader: Callable[..., Any],
    overrides: dict[str, Any],
    distance: str | None,
    roe: str | None,
) -> None:
    from cryptotrack.alerts.models import PositionAlert
    from cryptotrack.alerts.position_evaluation import position_value
    from cryptotrack.positions.representations import position_representation

    position = _stored_position(make_trader().user, **{"position_margin": Decimal(50), **overrides})
    row = position_representation(position, label="main")

    assert (row["liquidation_distance_percent"], row["roe_percent"]) == (distance, roe)
    for kind, shown in (
        (PositionAlert.Kind.LIQUIDATION_DISTANCE, distance),
        (PositionAlert.Kind.PNL_PERCENT, roe),
    ):
        compared = position_value(PositionAlert(kind=kind), position)
        assert (None if compared is None else f"{compared:.4f}") == shown
