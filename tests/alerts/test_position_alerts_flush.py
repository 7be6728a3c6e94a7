"""Position alerts evaluated where a poll is recorded, in process: PostgreSQL, the KuCoin
simulator and a real SMTP server (the worker runs the same code in
test_position_alerts_worker.py)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cryptotrack.accounts.models import User
from cryptotrack.alerts import services
from cryptotrack.alerts.models import PositionAlertFiring, PositionAlertState
from cryptotrack.alerts.outbox import plain
from cryptotrack.alerts.position_notifications import deliver_firings
from cryptotrack.exchanges.kucoin.models import parse_positions
from cryptotrack.positions import polling
from cryptotrack.positions import services as tracking
from cryptotrack.positions.models import PositionEvent, TrackingSubscription
from cryptotrack.positions.storage import PollOutcome, record_poll_outcomes
from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.alerts.smtp_server import SmtpServer

pytestmark = pytest.mark.django_db(transaction=True)

MakeAlert = Callable[..., Any]


def _track(*traders: Any) -> list[TrackingSubscription]:
    return [tracking.start_tracking(user=t.user, symbols=[])[0] for t in traders]


def _poll(*subscriptions: TrackingSubscription) -> None:
    """One batch, in a fresh slot (the Celery task's body)."""
    slot = timezone.now().isoformat()
    polling.poll_batch(batch=[(s.id, slot) for s in subscriptions])


def _record(sim: KucoinSimulator, *traders: Any) -> None:
    """Record what the simulator holds for these traders as one flush, in this thread (the
    poller records in a thread of its own, where this test's query capture cannot see)."""
    outcomes = []
    for trader in traders:
        subscription = TrackingSubscription.objects.get(user=trader.user)
        outcomes.append(
            PollOutcome(
                subscription_id=subscription.pk,
                user_id=subscription.user_id,
                account_id=subscription.account_id,
                symbols=(),
                started_at=timezone.now(),
                positions=parse_positions(sim.state.positions_payload(trader.api_key)),
                baseline=subscription.events_baseline_pending,
            )
        )
    record_poll_outcomes(outcomes, now=timezone.now())


def _walk_to(sim: KucoinSimulator, payload: dict[str, Any], distance: str) -> None:
    """Move the mark so a long is ``distance`` % above its liquidation price."""
    liquidation = Decimal(str(payload["liquidationPrice"]))
    mark = (liquidation / (1 - Decimal(distance) / 100)).quantize(Decimal("0.1"))
    sim.set_mark_price(payload["symbol"], mark)


def _alert_queries(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "alerts_position" in q["sql"]]


def test_a_user_without_position_alerts_costs_no_alert_query(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator
) -> None:
    trader = make_trader()
    kucoin_sim.open_position(trader.api_key, "XBTUSDTM", size=2)
    _track(trader)
    with CaptureQueriesContext(connection) as queries:
        _record(kucoin_sim, trader)
        _record(kucoin_sim, trader)
    assert len(queries) > 0
    assert _alert_queries(queries) == []
    assert PositionEvent.objects.count() == 0  # the first poll is the baseline


def test_a_flush_of_many_users_reads_their_alerts_in_one_query_and_states_in_one(
    make_trader: Callable[..., Any],
    kucoin_sim: KucoinSimulator,
    make_position_alert: MakeAlert,
) -> None:
    traders = [make_trader() for _ in range(6)]
    for n, trader in enumerate(traders):
        kucoin_sim.open_position(trader.api_key, "XBTUSDTM", size=n + 1, leverage=10)
        make_position_alert(trader.user, threshold_percent=Decimal(1))
        make_position_alert(trader.user, "pnl_amount", threshold=Decimal(10**6), direction="above")
        make_position_alert(trader.user, "event", events=["closed"])
    _track(*traders)
    with CaptureQueriesContext(connection) as queries:
        _record(kucoin_sim, *traders)
    reads = [sql for sql in _alert_queries(queries) if sql.startswith("SELECT")]
    assert len(reads) == 2, reads
    assert not PositionAlertFiring.objects.exists()


def test_walk_to_liquidation_fires_once_per_crossing_and_emails_what_fired(
    make_trader: Callable[..., Any],
    kucoin_sim: KucoinSimulator,
    make_position_alert: MakeAlert,
    smtp: SmtpServer,
) -> None:
    trader = make_trader(name="Ada Lovelace", email="ada@example.com")
    payload = kucoin_sim.open_position(
        trader.api_key, "XBTUSDTM", size=2, entry_price=60000, leverage=10
    )
    alert = make_position_alert(trader.user, threshold_percent=Decimal(5))
    (subscription,) = _track(trader)
    fired_per_step = []
    for distance in ["30", "4.8", "5.3", "4.6", "5.4", "7", "4.9"]:
        _walk_to(kucoin_sim, payload, distance)
        before = PositionAlertFiring.objects.count()
        _poll(subscription)
        fired_per_step.append(PositionAlertFiring.objects.count() - before)
    assert fired_per_step == [0, 1, 0, 0, 0, 0, 1]

    first = PositionAlertFiring.objects.order_by("id").first()
    assert first is not None
    assert deliver_firings([first.pk]).sent == [first.pk]
    (mail,) = smtp.received()
    assert mail.rcpt_tos == ("ada@example.com",)
    assert "XBTUSDTM long on default" in mail.subject
    assert "from liquidation (threshold 5%)" in mail.subject
    assert f"position alert #{alert.pk} fired" in mail.body
    assert "size 2" in mail.body
    assert f"Liquidation price: {plain(Decimal(str(payload['liquidationPrice'])))}" in mail.body
    assert "4.8% from liquidation" in mail.subject
    assert f"PATCH /api/v1/position-alerts/{alert.pk}" in mail.body
    assert f"DELETE /api/v1/position-alerts/{alert.pk}" in mail.body
    expected_id = f"<position-alert-{alert.pk}-notification-{first.pk}@cryptotrack.test>"
    assert mail.message["Message-ID"] == expected_id
    first.refresh_from_db()
    assert (first.state, first.attempts) == ("sent", 1)
    assert abs(Decimal(str(first.value)) - Decimal("4.8")) < Decimal("0.001")  # mark on its tick


def test_a_closed_position_forgets_its_state_and_activate_re_arms(
    make_trader: Callable[..., Any],
    kucoin_sim: KucoinSimulator,
    make_position_alert: MakeAlert,
) -> None:
    trader = make_trader()
    payload = kucoin_sim.open_position(trader.api_key, "XBTUSDTM", size=2, leverage=10)
    alert = make_position_alert(trader.user, threshold_percent=Decimal(5))
    (subscription,) = _track(trader)
    _walk_to(kucoin_sim, payload, "4")
    _poll(subscription)
    assert PositionAlertState.objects.count() == 1

    services.position_alert_activate(user=trader.user, alert_id=alert.pk)
    assert PositionAlertState.objects.count() == 0
    _poll(subscription)  # still at 4 %: re-armed, so it fires again
    assert PositionAlertFiring.objects.count() == 2

    kucoin_sim.close_position(trader.api_key, "XBTUSDTM")
    _poll(subscription)
    assert PositionAlertState.objects.count() == 0


def test_the_same_outcomes_recorded_twice_make_one_event_and_one_firing(
    make_trader: Callable[..., Any],
    kucoin_sim: KucoinSimulator,
    make_position_alert: MakeAlert,
) -> None:
    trader = make_trader()
    payload = kucoin_sim.open_position(trader.api_key, "XBTUSDTM", size=2, leverage=10)
    make_position_alert(trader.user, threshold_percent=Decimal(5))
    make_position_alert(trader.user, "event", events=["opened", "increased"])
    (subscription,) = _track(trader)
    _poll(subscription)  # the baseline
    kucoin_sim.resize_position(trader.api_key, "XBTUSDTM", size=3)
    _walk_to(kucoin_sim, payload, "3")
    _record(kucoin_sim, trader)
    _record(kucoin_sim, trader)  # a replay of the same flush

    assert list(PositionEvent.objects.values_list("kind", flat=True)) == ["increased"]
    assert sorted(PositionAlertFiring.objects.values_list("kind", flat=True)) == [
        "event",
        "liquidation_distance",
    ]


def test_the_flag_follows_the_users_active_alerts(
    make_user: Callable[..., Any], make_position_alert: MakeAlert
) -> None:
    user = make_user()

    def flag() -> bool:
        return User.objects.get(pk=user.pk).has_position_alerts

    assert not flag()
    alert = make_position_alert(user, threshold_percent=Decimal(5))
    assert flag()
    services.position_alert_update(user=user, alert_id=alert.pk, changes={"status": "paused"})
    assert not flag()
    services.position_alert_activate(user=user, alert_id=alert.pk)
    assert flag()
    services.position_alert_delete(user=user, alert_id=alert.pk)
    assert not flag()


def test_a_deleted_alerts_owed_email_is_cancelled(
    make_trader: Callable[..., Any],
    kucoin_sim: KucoinSimulator,
    make_position_alert: MakeAlert,
    smtp: SmtpServer,
) -> None:
    trader = make_trader()
    payload = kucoin_sim.open_position(trader.api_key, "XBTUSDTM", size=2, leverage=10)
    alert = make_position_alert(trader.user, threshold_percent=Decimal(5))
    (subscription,) = _track(trader)
    _walk_to(kucoin_sim, payload, "4")
    _poll(subscription)
    services.position_alert_delete(user=trader.user, alert_id=alert.pk)

    firing = PositionAlertFiring.objects.get()
    assert deliver_firings([firing.pk]).cancelled == [firing.pk]
    assert smtp.received() == []


def test_a_close_fires_an_event_alert_with_the_closed_event_and_emails_it(
    make_trader: Callable[..., Any],
    kucoin_sim: KucoinSimulator,
    make_position_alert: MakeAlert,
    smtp: SmtpServer,
) -> None:
    trader = make_trader()
    kucoin_sim.open_position(trader.api_key, "XBTUSDTM", size=3, leverage=3)
    make_position_alert(trader.user, "event", events=["closed"])
    make_position_alert(trader.user, threshold_percent=Decimal(5))
    (subscription,) = _track(trader)
    _poll(subscription)
    kucoin_sim.resize_position(trader.api_key, "XBTUSDTM", size=1)
    _poll(subscription)
    assert not PositionAlertFiring.objects.exists()  # reduced: not what it watches
    kucoin_sim.close_position(trader.api_key, "XBTUSDTM")
    _poll(subscription)
    (firing,) = PositionAlertFiring.objects.all()
    event = PositionEvent.objects.get(kind="closed")
    assert (firing.event_id, firing.event_kind, firing.size) == (event.pk, "closed", Decimal(1))
    assert deliver_firings([firing.pk]).sent == [firing.pk]
    (mail,) = smtp.received()
    assert mail.subject == "Position alert: XBTUSDTM long on default was closed"
    assert "size 1" in mail.body
    assert "Liquidation price: none" in mail.body
    assert "at each matching position event" in mail.body
