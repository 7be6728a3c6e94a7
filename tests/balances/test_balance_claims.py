"""Claiming due balance refreshes: each account at most once per interval, whoever asks."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction

from cryptotrack.balances.models import BalanceRefresh
from cryptotrack.balances.refresh import claim_due_balances
from tests.balances.test_balances_queries import _account

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_a_new_account_is_due_at_once_then_once_per_interval_in_a_phase_of_its_own(
    make_user: Callable[..., Any], settings: Any
) -> None:
    settings.BALANCES_REFRESH_SECONDS = 300
    first, second = _account(make_user()), _account(make_user())

    assert sorted(claim_due_balances([first.pk, second.pk], now=NOW)) == [first.pk, second.pk]
    # A redelivered batch, or the next poll 30 s later: nothing to do.
    assert claim_due_balances([first.pk, second.pk], now=NOW) == []
    assert claim_due_balances([first.pk], now=NOW + timedelta(seconds=299)) == []
    # The second refresh comes one interval plus the account's phase later...
    nexts = [BalanceRefresh.objects.get(pk=a.pk).next_refresh_at for a in (first, second)]
    for next_at in nexts:
        assert NOW + timedelta(seconds=300) <= next_at < NOW + timedelta(seconds=600)
    assert nexts[0] != nexts[1]  # consecutive accounts do not refresh together
    later = NOW + timedelta(seconds=600)
    assert claim_due_balances([first.pk], now=later) == [first.pk]
    # ...and every later one exactly one interval on.
    assert BalanceRefresh.objects.get(pk=first.pk).next_refresh_at == later + timedelta(seconds=300)


@pytest.mark.django_db(transaction=True)
def test_a_row_another_worker_is_claiming_is_skipped_not_waited_for(
    make_user: Callable[..., Any],
) -> None:
    account = _account(make_user())
    claim_due_balances([account.pk], now=NOW)
    later = NOW + timedelta(days=1)
    locked, release = threading.Event(), threading.Event()

    def other_worker() -> None:
        try:
            with transaction.atomic():
                BalanceRefresh.objects.select_for_update().get(pk=account.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(10)
        assert claim_due_balances([account.pk], now=later) == []
    finally:
        release.set()
        thread.join(10)
    assert claim_due_balances([account.pk], now=later) == [account.pk]
