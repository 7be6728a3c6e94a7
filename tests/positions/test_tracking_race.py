"""Two first ``POST /tracking`` of one account at once: both succeed, one subscription."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cryptotrack.positions.models import TrackingSubscription
from tests.support.postgres import race_behind_lock

pytestmark = pytest.mark.django_db(transaction=True)

# A first subscription of the user that has not committed yet: both racers wait behind it.
HOLD_SUBSCRIPTION = (
    "INSERT INTO positions_trackingsubscription (user_id, account_id, state, symbols,"
    " interval, next_poll_at, consecutive_failures, last_error_kind, last_error_message,"
    " events_baseline_pending, created_at, updated_at)"
    " VALUES (%s, %s, 'stopped', '[]', interval '30 seconds', now(), 0, '', '', true,"
    " now(), now())"
)


def test_two_first_tracking_requests_at_once_both_succeed(
    make_trader: Callable[..., Any], client_for: Any, live_database_url: str
) -> None:
    trader = make_trader()
    clients = [client_for(trader.user) for _ in range(2)]

    answers = race_behind_lock(
        live_database_url,
        HOLD_SUBSCRIPTION,
        (trader.user.pk, trader.user.exchange_accounts.get().pk),
        [lambda c=client: c.post("/api/v1/tracking", {}, format="json") for client in clients],
    )

    statuses = sorted(getattr(answer, "status_code", repr(answer)) for answer in answers)
    assert statuses == [200, 201], answers
    subscription = TrackingSubscription.objects.get(user=trader.user)
    assert subscription.state == "active"
