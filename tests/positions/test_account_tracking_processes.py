"""Two exchange accounts of one user tracked by a real Celery worker with beat: each on
its own schedule, and a revoked key pausing its account only."""

from __future__ import annotations

import time

import pytest

from cryptotrack.positions.models import TrackingSubscription
from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.positions.test_account_positions import (
    TwoAccounts,
    _labelled,
    _track_both,
    two_accounts,  # noqa: F401 - fixture
)
from tests.positions.test_polling import _positions
from tests.positions.test_tracking_processes import INTERVAL, fast_tracking  # noqa: F401
from tests.support.processes import CeleryWorker, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_two_accounts_each_polled_on_its_own_schedule_and_paused_alone(
    two_accounts: TwoAccounts,  # noqa: F811
    kucoin_sim: KucoinSimulator,
    fast_tracking: dict[str, str],  # noqa: F811
) -> None:
    two = two_accounts
    main, sub = _track_both(two)

    def polls(api_key: str) -> int:
        return kucoin_sim.request_count(api_key=api_key, path="/api/v1/positions")

    with CeleryWorker(fast_tracking, beat=True):
        wait_until(
            lambda: len(_positions(two.client)["results"]) == 2,
            timeout=INTERVAL * 3,
            what="both accounts' positions",
        )
        assert _labelled(_positions(two.client)) == [
            ("Sub 1", "ETHUSDTM"),
            ("default", "XBTUSDTM"),
        ]
        keys = (two.trader.api_key, two.sub_key)
        before, started = [polls(key) for key in keys], time.monotonic()
        wait_until(
            lambda: all(polls(k) - b >= 2 for k, b in zip(keys, before, strict=True)),
            timeout=INTERVAL * 6,
            what="two more polls of each account",
        )
        after, slots = [polls(key) for key in keys], (time.monotonic() - started) / INTERVAL
        # Each on its own schedule: once per interval each, neither skipped nor doubled
        # (the slack is for the polls in flight at either end of the window).
        for polled in (b - a for a, b in zip(before, after, strict=True)):
            assert 2 <= polled <= slots + 2, (before, after, slots)

        kucoin_sim.remove_key(two.sub_key)
        wait_until(
            lambda: TrackingSubscription.objects.get(pk=sub.pk).state == "paused",
            timeout=INTERVAL * 3,
            what="the revoked account paused",
        )
        main_polls = polls(two.trader.api_key)
        wait_until(
            lambda: polls(two.trader.api_key) > main_polls,
            timeout=INTERVAL * 3,
            what="the other account still polled",
        )
    assert TrackingSubscription.objects.get(pk=main.pk).state == "active"
