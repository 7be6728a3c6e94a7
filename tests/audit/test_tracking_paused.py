"""The service pausing tracking on a rejected key is recorded with why, for that user only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from cryptotrack.positions import polling, services
from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.audit.conftest import events_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_revoked_key_pause_is_recorded_with_the_reason_for_that_user_only(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator
) -> None:
    good, revoked = make_trader(), make_trader()
    subscriptions = [
        services.start_tracking(user=trader.user, symbols=[])[0] for trader in (good, revoked)
    ]
    kucoin_sim.remove_key(revoked.api_key)
    slot = timezone.now().isoformat()

    polling.poll_batch(batch=[(s.id, slot) for s in subscriptions])
    # A second failing poll of the paused tracking is no new pause.
    polling.poll_batch(batch=[(subscriptions[1].id, timezone.now().isoformat())])

    [paused] = events_of(revoked.user, "tracking_paused")
    assert paused.details["error"] == "invalid_credentials"
    assert paused.details["reason"]
    assert (paused.ip_address, paused.user_agent) == (None, "")
    assert not events_of(good.user, "tracking_paused")


def test_a_new_valid_key_resuming_tracking_is_recorded(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator, client_for: Any
) -> None:
    trader = make_trader()
    subscription, _ = services.start_tracking(user=trader.user, symbols=[])
    kucoin_sim.remove_key(trader.api_key)
    polling.poll_batch(batch=[(subscription.id, timezone.now().isoformat())])
    kucoin_sim.add_key("fresh-key-000001", "fresh-secret-000001", "fresh-pass")

    client_for(trader.user).put(
        "/api/v1/me/kucoin",
        {
            "api_key": "fresh-key-000001",
            "api_secret": "fresh-secret-000001",
            "api_passphrase": "fresh-pass",
        },
        format="json",
    )

    assert [e.kind for e in events_of(trader.user)] == [
        "tracking_started",
        "tracking_paused",
        "login_succeeded",
        "tracking_resumed",  # while the new key is checked, before the change is recorded
        "exchange_account_updated",
    ]
