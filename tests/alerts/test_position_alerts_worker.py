"""Position alerts through real processes: a Celery worker (beat: the tracking dispatcher)
polling the KuCoin simulator, PostgreSQL, Redis and an SMTP server over sockets.

Marks are moved through the simulator; each step waits until a poll has recorded it
(the position row shows the new mark: the alerts were evaluated in that same commit).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from cryptotrack.alerts.models import PositionAlertFiring
from cryptotrack.positions import services as tracking
from cryptotrack.positions.models import Position, PositionEvent, TrackingSubscription
from cryptotrack.positions.tasks import poll_subscriptions
from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.alerts.conftest import FROM_EMAIL
from tests.alerts.smtp_server import SmtpServer
from tests.support.processes import CeleryWorker, free_port, running, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

INTERVAL = 2
STEP_TIMEOUT = INTERVAL * 4 + 5
MakeAlert = Callable[..., Any]


@pytest.fixture
def worker_env(
    settings: Any, live_env: dict[str, str], kucoin_sim: KucoinSimulator, smtp: SmtpServer
) -> dict[str, str]:
    settings.TRACKING_INTERVAL_SECONDS = INTERVAL
    nowhere = f"http://127.0.0.1:{free_port()}"
    return live_env | {
        "KUCOIN_SPOT_URL": kucoin_sim.url,
        "KUCOIN_FUTURES_URL": kucoin_sim.url,
        "KUCOIN_TIMEOUT_SECONDS": "5",
        "TRACKING_INTERVAL_SECONDS": str(INTERVAL),
        "DISPATCH_TICK_SECONDS": "0.5",
        "ALERTS_INTERVAL_SECONDS": "1",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
        "EMAIL_TIMEOUT": "2",
        "DEFAULT_FROM_EMAIL": FROM_EMAIL,
        # Nothing else of the beat schedule should reach the outside world.
        "COINGECKO_URL": nowhere,
        "ALPHAVANTAGE_URL": f"{nowhere}/query",
    }


def _mark_for(payload: dict[str, Any], distance: str) -> Decimal:
    """The mark (on XBTUSDTM's 0.1 tick) at which a long is ``distance`` % above its
    liquidation price."""
    liquidation = Decimal(str(payload["liquidationPrice"]))
    return (liquidation / (1 - Decimal(distance) / 100)).quantize(Decimal("0.1"))


def _recorded(trader: Any, symbol: str, mark: Decimal) -> Callable[[], bool]:
    return lambda: Position.objects.filter(
        user=trader.user, symbol=symbol, mark_price=mark
    ).exists()


def _walk(sim: KucoinSimulator, trader: Any, payload: dict[str, Any], distance: str) -> None:
    mark = _mark_for(payload, distance)
    sim.set_mark_price(payload["symbol"], mark)
    wait_until(_recorded(trader, payload["symbol"], mark), timeout=STEP_TIMEOUT, what=distance)


def test_a_long_walked_to_liquidation_emails_at_the_line_not_hovering_and_after_recovery(
    worker_env: dict[str, str],
    kucoin_sim: KucoinSimulator,
    smtp: SmtpServer,
    make_trader: Callable[..., Any],
    make_position_alert: MakeAlert,
) -> None:
    trader = make_trader(email="trader@example.com")
    payload = kucoin_sim.open_position(
        trader.api_key, "XBTUSDTM", size=2, entry_price=60000, leverage=10
    )
    kucoin_sim.set_mark_price("XBTUSDTM", _mark_for(payload, "30"))
    alert = make_position_alert(trader.user, threshold_percent=Decimal(5))
    tracking.start_tracking(user=trader.user, symbols=[])

    with running(CeleryWorker(worker_env, beat=True)):
        _walk(kucoin_sim, trader, payload, "30")
        _walk(kucoin_sim, trader, payload, "4.8")
        wait_until(smtp.received, timeout=20, what="the email at the line")
        for hover in ["5.3", "4.6", "5.4", "4.9"]:  # never back past 5.5 %: nothing
            _walk(kucoin_sim, trader, payload, hover)
        assert PositionAlertFiring.objects.count() == 1
        _walk(kucoin_sim, trader, payload, "7")  # past the hysteresis: re-armed
        _walk(kucoin_sim, trader, payload, "4.7")
        wait_until(lambda: len(smtp.received()) >= 2, timeout=20, what="the second email")
        _walk(kucoin_sim, trader, payload, "4.5")  # still below: nothing more

    first, second = smtp.received()
    assert first.rcpt_tos == second.rcpt_tos == ("trader@example.com",)
    assert "4.8% from liquidation (threshold 5%)" in first.subject
    assert "4.7% from liquidation" in second.subject
    assert f"position alert #{alert.pk}" in first.body
    values = PositionAlertFiring.objects.order_by("id").values_list("value", "state")
    assert [(round(v, 1), state) for v, state in values] == [
        (Decimal("4.8"), "sent"),
        (Decimal("4.7"), "sent"),
    ]


def test_a_close_emails_my_event_alert_once_and_another_users_trades_trigger_nothing_of_mine(
    worker_env: dict[str, str],
    kucoin_sim: KucoinSimulator,
    smtp: SmtpServer,
    make_trader: Callable[..., Any],
    make_position_alert: MakeAlert,
) -> None:
    alice = make_trader(email="alice@example.com")
    bob = make_trader(email="bob@example.com")
    kucoin_sim.open_position(alice.api_key, "XBTUSDTM", size=3, leverage=3)
    bobs = kucoin_sim.open_position(bob.api_key, "XBTUSDTM", size=2, leverage=10)
    kucoin_sim.open_position(bob.api_key, "ETHUSDTM", size=5)
    make_position_alert(alice.user, "event", events=["closed"])
    make_position_alert(alice.user, threshold_percent=Decimal(5))
    for trader in (alice, bob):
        tracking.start_tracking(user=trader.user, symbols=[])

    with running(CeleryWorker(worker_env, beat=True)):
        for trader in (alice, bob):
            wait_until(
                lambda t=trader: TrackingSubscription.objects.filter(
                    user=t.user, events_baseline_pending=False
                ).exists(),
                timeout=STEP_TIMEOUT,
                what="the baselines",
            )
        # Bob's long goes near liquidation (Alice's, at 3x, stays far), then he closes ETH.
        _walk(kucoin_sim, bob, bobs, "3")
        kucoin_sim.close_position(bob.api_key, "ETHUSDTM")
        # Alice reduces, then closes.
        kucoin_sim.resize_position(alice.api_key, "XBTUSDTM", size=1)
        wait_until(
            lambda: PositionEvent.objects.filter(user=alice.user, kind="reduced").exists(),
            timeout=STEP_TIMEOUT,
            what="the reduced event",
        )
        kucoin_sim.close_position(alice.api_key, "XBTUSDTM")
        wait_until(smtp.received, timeout=STEP_TIMEOUT + 10, what="the close email")
        wait_until(
            lambda: PositionEvent.objects.filter(user=bob.user, kind="closed").exists(),
            timeout=STEP_TIMEOUT,
            what="bob's close",
        )
        _walk(kucoin_sim, bob, bobs, "2")  # one more poll of Bob's after everything

    (mail,) = smtp.received()
    assert mail.rcpt_tos == ("alice@example.com",)
    assert "XBTUSDTM long on default was closed" in mail.subject
    (firing,) = PositionAlertFiring.objects.all()
    assert (firing.alert.user_id, firing.event_kind, firing.state) == (
        alice.user.pk,
        "closed",
        "sent",
    )
    assert firing.event is not None
    assert firing.event.kind == "closed"


def test_a_redelivered_poll_batch_makes_no_second_event_firing_or_email(
    worker_env: dict[str, str],
    kucoin_sim: KucoinSimulator,
    smtp: SmtpServer,
    make_trader: Callable[..., Any],
    make_position_alert: MakeAlert,
) -> None:
    trader = make_trader()
    payload = kucoin_sim.open_position(trader.api_key, "XBTUSDTM", size=2, leverage=10)
    kucoin_sim.set_mark_price("XBTUSDTM", _mark_for(payload, "30"))
    make_position_alert(trader.user, threshold_percent=Decimal(5))
    make_position_alert(trader.user, "event", events=["closed"])
    # Its first poll, queued to expire within the interval, is gone before the worker runs.
    subscription, _ = tracking.start_tracking(user=trader.user, symbols=[])

    def deliver_twice() -> str:
        """One batch in a new slot, sent twice (as a redelivery would); returns the slot."""
        batch = [(subscription.pk, timezone.now().isoformat())]
        poll_subscriptions.delay(batch)
        poll_subscriptions.delay(batch)
        return batch[0][1]

    def polls_run() -> int:
        """Poll tasks the worker has finished (a copy that lost its slot returns 0)."""
        return len(re.findall(r"tasks\.poll_subscriptions\[[^]]+\] succeeded", worker.log()))

    # No beat: only the polls this test sends run.
    with running(CeleryWorker(worker_env, beat=False)) as worker:
        poll_subscriptions.delay([(subscription.pk, timezone.now().isoformat())])  # baseline
        wait_until(
            _recorded(trader, "XBTUSDTM", _mark_for(payload, "30")),
            timeout=STEP_TIMEOUT,
            what="the first poll",
        )
        kucoin_sim.set_mark_price("XBTUSDTM", _mark_for(payload, "4"))
        crossed = deliver_twice()
        wait_until(lambda: polls_run() >= 3, timeout=STEP_TIMEOUT, what="both copies")
        kucoin_sim.close_position(trader.api_key, "XBTUSDTM")
        deliver_twice()
        wait_until(lambda: polls_run() >= 5, timeout=STEP_TIMEOUT, what="both copies")
        poll_subscriptions.delay([(subscription.pk, crossed)])  # a late copy of an old slot
        wait_until(lambda: polls_run() >= 6, timeout=STEP_TIMEOUT, what="the late copy")
        wait_until(lambda: len(smtp.received()) >= 2, timeout=20, what="two emails")

    assert list(PositionEvent.objects.values_list("kind", flat=True)) == ["closed"]
    assert sorted(PositionAlertFiring.objects.values_list("kind", "state")) == [
        ("event", "sent"),
        ("liquidation_distance", "sent"),
    ]
    assert len(smtp.received()) == 2
