"""The schedule: a real Celery worker with embedded beat fetches every pair at start-up and
then every QUOTES_INTERVAL_SECONDS; start-up and redelivered ticks spend no extra calls."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from tests.quotes.conftest import PUSH_TIMEOUT, Frames, ws_url
from tests.support.processes import AsgiServer, CeleryWorker, wait_until
from websockets.sync.client import connect

from cryptotrack.simulators.alphavantage import AlphaVantageSimulator


@pytest.mark.slow
def test_worker_with_beat_fetches_at_start_up_then_on_schedule_and_pushes_each_live(
    quotes_env: dict[str, str], av_sim: AlphaVantageSimulator
) -> None:
    from cryptotrack.quotes.models import Quote
    from cryptotrack.quotes.serializers import quote_payload

    env = {**quotes_env, "QUOTES_INTERVAL_SECONDS": "2", "QUOTES_PAIRS": "BTC/USD, ETH/USD"}

    def triggers(pair: tuple[str, str]) -> set[str]:
        rows = Quote.objects.filter(from_currency=pair[0], to_currency=pair[1])
        return set(rows.values_list("trigger", flat=True))

    with (
        AsgiServer(env) as server,
        connect(ws_url(server), open_timeout=5) as ws,
        CeleryWorker(env, beat=True, concurrency=1) as worker,
    ):
        frames = Frames(ws)
        try:
            wait_until(
                lambda: (
                    {"startup", "scheduled"} <= triggers(("BTC", "USD"))
                    and {"startup", "scheduled"} <= triggers(("ETH", "USD"))
                ),
                timeout=30,
                interval=0.2,
                what="start-up and scheduled quotes of both pairs",
            )
        except AssertionError:
            print(worker.log()[-5000:])
            raise
        first = Quote.objects.order_by("fetched_at", "id").first()
        assert first is not None
        # Stored by the worker process, pushed through Redis by it (see PUSH_TIMEOUT).
        arrived_at, frame = frames.next(timeout=PUSH_TIMEOUT)
        assert frame == quote_payload(first)
        assert arrived_at - first.fetched_at.timestamp() < PUSH_TIMEOUT

    assert first.trigger == Quote.Trigger.STARTUP
    assert first.rate > 0
    assert first.refreshed_at.tzinfo is not None
    assert av_sim.call_count == Quote.objects.count()


def test_start_up_fetch_is_skipped_when_a_quote_younger_than_the_interval_exists(
    av_settings: AlphaVantageSimulator, make_quotes: Callable[..., list[Any]], settings: Any
) -> None:
    from cryptotrack.quotes.models import Quote
    from cryptotrack.quotes.services import fetch_configured_pairs

    settings.QUOTES_INTERVAL_SECONDS = 3600
    settings.QUOTES_PAIRS = ["BTC/USD", "ETH/USD"]
    make_quotes(1, pair=("BTC", "USD"))  # just now
    make_quotes(1, pair=("ETH", "USD"), end=Quote.objects.get().fetched_at - timedelta(hours=2))

    results = fetch_configured_pairs(trigger=Quote.Trigger.STARTUP)

    assert [r.fetched for r in results] == [False, True]
    assert av_settings.call_count == 1  # only ETH/USD, whose quote was two hours old
    assert Quote.objects.filter(trigger=Quote.Trigger.STARTUP).count() == 1


def test_a_redelivered_scheduled_tick_spends_no_call(
    av_settings: AlphaVantageSimulator, settings: Any, db: None
) -> None:
    from cryptotrack.quotes.models import Quote
    from cryptotrack.quotes.services import fetch_configured_pairs

    settings.QUOTES_PAIRS = ["BTC/USD"]

    fetch_configured_pairs(trigger=Quote.Trigger.SCHEDULED)
    fetch_configured_pairs(trigger=Quote.Trigger.SCHEDULED)

    assert av_settings.call_count == 1
    assert Quote.objects.count() == 1


def test_a_failing_pair_does_not_stop_the_others(
    av_settings: AlphaVantageSimulator, settings: Any, db: None
) -> None:
    from cryptotrack.quotes.models import Quote
    from cryptotrack.quotes.services import fetch_configured_pairs

    # KPW is on Alpha Vantage's list but has no rate; ZZZ is not even listed (no call).
    settings.QUOTES_PAIRS = ["KPW/USD", "ZZZ/USD", "ETH/USD"]

    results = fetch_configured_pairs(trigger=Quote.Trigger.SCHEDULED)

    assert [(r.quote.from_currency, r.fetched) for r in results] == [("ETH", True)]
    assert av_settings.call_count == 2
