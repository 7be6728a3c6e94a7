"""A refresh that waits for another request's fetch of its pair sleeps until that fetch
tells it (PostgreSQL LISTEN/NOTIFY), instead of polling the database while it waits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from tests.support.processes import wait_until

from cryptotrack.simulators.alphavantage import AlphaVantageSimulator

pytestmark = pytest.mark.django_db(transaction=True)

UPSTREAM_SECONDS = 2.0


def test_a_waiting_refresh_sleeps_on_a_notification_instead_of_polling(
    av_settings: AlphaVantageSimulator, make_user: Callable[..., Any], settings: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cryptotrack.quotes.models import PairFetch, Quote
    from cryptotrack.quotes.pairs import Pair
    from cryptotrack.quotes.services import force_refresh

    settings.ALPHAVANTAGE_TIMEOUT_SECONDS = 4 * UPSTREAM_SECONDS  # a loaded machine is slow
    holder, waiter = make_user(), make_user()
    av_settings.inject_fault("latency", latency=UPSTREAM_SECONDS)
    pair = Pair("BTC", "USD")
    waited: dict[str, Any] = {}

    def hold() -> Any:
        try:
            return force_refresh(pair=pair, user_id=holder.pk).quote
        finally:
            connection.close()  # this thread's own connection

    def wait() -> Any:
        try:
            with CaptureQueriesContext(connection) as queries:
                started = time.monotonic()
                result = force_refresh(pair=pair, user_id=waiter.pk)
                waited["seconds"] = time.monotonic() - started
            waited["sql"] = [q["sql"] for q in queries.captured_queries]
            return result
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        held = pool.submit(hold)
        wait_until(
            lambda: PairFetch.objects.exclude(lease_token="").exists(),
            timeout=10,
            interval=0.02,
            what="the first refresh to hold the lease",
        )
        waited_for = pool.submit(wait)
        quote, result = held.result(timeout=30), waited_for.result(timeout=30)

    assert result.fetched is False
    assert result.quote == quote  # the holder's quote, not a second call
    assert av_settings.call_count == 1
    assert Quote.objects.count() == 1
    assert waited["seconds"] > UPSTREAM_SECONDS / 2  # it did wait for the upstream answer
    sql = waited["sql"]
    assert sum(s.startswith("LISTEN") for s in sql) == 1
    # Polling every 50 ms made 3 queries each time: 100 over a 3.15 s wait on this loaded
    # machine. Asleep on the notification, a waiter looks again at most once a second (3
    # queries, the safety net): 16 over a 3.63 s wait. Bound: 10 + 4 per second waited.
    assert len(sql) <= 10 + 4 * waited["seconds"], sql


def test_a_refresh_answered_by_another_users_call_in_flight_costs_no_share(
    av_settings: AlphaVantageSimulator, make_user: Callable[..., Any], settings: Any
) -> None:
    from django.db import connection

    from cryptotrack.quotes.models import ForcedFetchUsage, PairFetch
    from cryptotrack.quotes.pairs import Pair
    from cryptotrack.quotes.services import force_refresh

    settings.QUOTES_USER_DAILY_FORCED = 1
    settings.ALPHAVANTAGE_TIMEOUT_SECONDS = 5.0
    users = [make_user() for _ in range(3)]
    av_settings.inject_fault("latency", latency=1.0)
    first_holds = threading.Event()

    def refresh(user: Any) -> Any:
        try:
            if user is not users[0]:
                first_holds.wait(10)
            return force_refresh(pair=Pair("BTC", "USD"), user_id=user.pk)
        finally:
            connection.close()

    with ThreadPoolExecutor(3) as pool:
        results = [pool.submit(refresh, users[0])]
        wait_until(
            lambda: PairFetch.objects.exclude(lease_token="").exists(),
            timeout=10,
            interval=0.02,
            what="the first refresh to hold the lease",
        )
        first_holds.set()
        results += [pool.submit(refresh, user) for user in users[1:]]
        answers = [r.result(timeout=30) for r in results]

    assert [a.fetched for a in answers] == [True, False, False]
    assert av_settings.call_count == 1
    usage = dict(ForcedFetchUsage.objects.values_list("user_id", "calls"))
    assert usage == {users[0].pk: 1}
