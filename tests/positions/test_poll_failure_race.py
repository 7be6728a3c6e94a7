"""A stop during a failing poll wins: recording the failure never resumes the tracking.

The race is forced without sleeps, as in tests/alerts/test_notifications.py: the user's
stop holds the subscription row (its transaction is open) while the poll fails and tries
to record that; ``pg_stat_activity`` shows the recording waiting on the lock, then the
stop commits and the recording goes on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction

from cryptotrack.positions import services
from cryptotrack.positions.models import TrackingSubscription
from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.positions.test_polling import _poll, _track
from tests.support.postgres import lock_waiters
from tests.support.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("failure", "kind"),
    [("kucoin_down", "unavailable"), ("key_revoked", "invalid_credentials")],
)
def test_stop_during_a_failing_poll_stays_stopped(
    make_trader: Callable[..., Any],
    kucoin_sim: KucoinSimulator,
    live_database_url: str,
    failure: str,
    kind: str,
) -> None:
    trader = make_trader()
    subscription = _track(trader)
    # The answer comes late, so the stop below happens while the poll is in flight.
    if failure == "kucoin_down":
        kucoin_sim.inject_fault("error", api_key=trader.api_key, status=503, latency=0.5)
    else:
        kucoin_sim.remove_key(trader.api_key)
        kucoin_sim.inject_fault("latency", api_key=trader.api_key, latency=0.5)

    def polls() -> int:
        return kucoin_sim.request_count(api_key=trader.api_key, path="/api/v1/positions")

    polled_before = polls()

    def poller() -> None:
        try:
            _poll(subscription)
        finally:
            connection.close()

    thread = threading.Thread(target=poller)
    thread.start()
    try:
        wait_until(lambda: polls() > polled_before, timeout=20, what="the poll in flight")
        with transaction.atomic():
            services.stop_tracking(user=trader.user)
            # The failed poll now tries to record itself and waits for the stop's row lock.
            wait_until(lambda: lock_waiters(live_database_url) >= 1, timeout=20, what="record")
    finally:
        thread.join(timeout=30)

    row = TrackingSubscription.objects.get(pk=subscription.pk)
    assert row.state == TrackingSubscription.State.STOPPED
    assert row.consecutive_failures == 1  # the failure itself is still recorded
    assert row.last_error_kind == kind
