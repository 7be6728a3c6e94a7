"""The monitor: one batched price request per check, crossed alerts claimed exactly once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from django.db import connection

from cryptotrack.alerts.models import Alert, AlertNotification
from cryptotrack.alerts.monitor import CheckReport, check_alerts
from cryptotrack.alerts.notifications import DELIVERY_BATCH_SIZE
from cryptotrack.simulators.coingecko import CoinGeckoSimulator
from tests.support.postgres import lock_waiters
from tests.support.processes import wait_until

MakeAlert = Callable[..., Alert]


@pytest.fixture
def run_check(
    django_capture_on_commit_callbacks: Any,
) -> Callable[[], tuple[CheckReport, list[list[int]]]]:
    """One check; returns its report and the batches it queued once its transactions committed."""

    def run() -> tuple[CheckReport, list[list[int]]]:
        batches: list[list[int]] = []
        with django_capture_on_commit_callbacks(execute=True):
            report = check_alerts(enqueue=batches.append)
        return report, batches

    return run


RunCheck = Callable[[], tuple[CheckReport, list[list[int]]]]


@pytest.mark.django_db
def test_price_crossing_the_target_triggers_the_alert_and_queues_its_email(
    coingecko: CoinGeckoSimulator, make_alert: MakeAlert, run_check: RunCheck
) -> None:
    alert = make_alert(target="70000", direction="above")

    report, batches = run_check()
    assert (report.triggered, batches) == (0, [])
    alert.refresh_from_db()
    assert alert.status == "active"

    coingecko.set_price("bitcoin", "usd", "70000.01")
    report, batches = run_check()

    alert.refresh_from_db()
    assert alert.status == "triggered"
    assert alert.triggered_price == Decimal("70000.01")
    assert alert.triggered_at is not None
    note = AlertNotification.objects.get()
    assert batches == [[note.pk]]
    assert (note.alert_id, note.state, note.attempts) == (alert.pk, "pending", 0)
    assert (note.coin, note.currency, note.direction) == ("bitcoin", "usd", "above")
    assert (note.target_price, note.triggered_price) == (Decimal(70000), Decimal("70000.01"))
    assert report.triggered == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("direction", "price", "fires"),
    [
        ("above", "69999.99", False),
        ("above", "70000", True),
        ("above", "80000", True),
        ("below", "70000.01", False),
        ("below", "70000", True),
        ("below", "100", True),
    ],
)
def test_above_fires_at_or_over_the_target_below_at_or_under(
    coingecko: CoinGeckoSimulator,
    make_alert: MakeAlert,
    run_check: RunCheck,
    direction: str,
    price: str,
    fires: bool,
) -> None:
    alert = make_alert(target="70000", direction=direction)
    coingecko.set_price("bitcoin", "usd", price)

    run_check()

    alert.refresh_from_db()
    assert (alert.status == "triggered") is fires


@pytest.mark.django_db
def test_alert_whose_condition_already_holds_fires_at_the_next_check(
    coingecko: CoinGeckoSimulator, user_client: Any, run_check: RunCheck
) -> None:
    created = user_client.post(
        "/api/v1/alerts",
        {"coin": "ethereum", "currency": "eur", "target_price": "1", "direction": "above"},
        format="json",
    ).json()

    report, _ = run_check()

    assert report.triggered == 1
    assert Alert.objects.get(pk=created["id"]).status == "triggered"


@pytest.mark.django_db
def test_price_staying_on_its_side_triggers_nothing_and_a_crossing_fires_once(
    coingecko: CoinGeckoSimulator, make_alert: MakeAlert, run_check: RunCheck
) -> None:
    above = make_alert(target="70000", direction="above")
    below = make_alert(target="60000", direction="below")

    for price in ["67000", "65000", "69999.9999", "60000.0001"]:
        coingecko.set_price("bitcoin", "usd", price)
        assert run_check()[0].triggered == 0

    coingecko.set_price("bitcoin", "usd", "71000")
    assert run_check()[0].triggered == 1
    assert run_check()[0].triggered == 0  # still above: already claimed, not again
    above.refresh_from_db()
    below.refresh_from_db()
    assert (above.status, below.status) == ("triggered", "active")
    assert AlertNotification.objects.count() == 1


@pytest.mark.django_db
def test_only_active_alerts_are_checked(
    coingecko: CoinGeckoSimulator, make_alert: MakeAlert, run_check: RunCheck
) -> None:
    for status in ["triggered", "sleeping", "deleted"]:
        make_alert(target="1", direction="above", status=status)

    report, _ = run_check()

    assert (report.pairs, report.triggered) == (0, 0)
    assert coingecko.count("/simple/price") == 0
    assert not AlertNotification.objects.exists()


@pytest.mark.django_db
def test_many_alerts_on_few_coins_cost_one_price_request_per_check(
    coingecko: CoinGeckoSimulator,
    make_user: Callable[..., Any],
    run_check: RunCheck,
) -> None:
    users = [make_user() for _ in range(4)]
    coins = ["bitcoin", "ethereum", "solana"]
    currencies = ["usd", "eur"]
    alerts = []
    for n in range(300):
        coin, currency = coins[n % 3], currencies[n % 2]
        price = coingecko.price(coin, currency)
        assert price is not None
        # Every third alert is already crossed; the others wait far above the price.
        target = price / 2 if n % 3 == 0 else price * 2
        alerts.append(
            Alert(
                user=users[n % 4],
                coin=coin,
                currency=currency,
                target_price=target.quantize(Decimal("0.000001")),
                direction="above",
            )
        )
    Alert.objects.bulk_create(alerts)
    coingecko.reset_stats()

    report, batches = run_check()

    assert coingecko.count("/simple/price") == 1
    assert coingecko.count() == 1  # and nothing else (no coin list, no per-coin call)
    (request,) = coingecko.simple_price_requests
    assert sorted(request["ids"]) == sorted(coins)
    assert sorted(request["vs_currencies"]) == sorted(currencies)
    assert report.pairs == 6
    assert report.triggered == 100
    queued = [note_id for batch in batches for note_id in batch]
    assert sorted(queued) == sorted(AlertNotification.objects.values_list("id", flat=True))
    assert all(len(batch) <= DELIVERY_BATCH_SIZE for batch in batches)
    assert len(batches) < 100  # batched: not one task per alert

    coingecko.reset_stats()
    assert run_check()[0].triggered == 0
    assert coingecko.count("/simple/price") == 1


@pytest.mark.django_db
def test_coingecko_down_skips_the_check_until_the_next(
    coingecko: CoinGeckoSimulator, make_alert: MakeAlert, run_check: RunCheck
) -> None:
    alert = make_alert(target="1", direction="above")
    coingecko.inject_fault("error", status=503, path="/api/v3/simple/price")

    report, batches = run_check()

    assert (report.error, report.triggered, batches) == ("unavailable", 0, [])
    alert.refresh_from_db()
    assert alert.status == "active"

    coingecko.clear_faults()
    assert run_check()[0].triggered == 1


@pytest.mark.django_db
def test_pair_without_a_price_is_left_alone(
    coingecko: CoinGeckoSimulator, make_alert: MakeAlert, run_check: RunCheck
) -> None:
    coingecko.add_coin("quiet-coin", "qc", "Quiet Coin")
    quiet = make_alert(coin="quiet-coin", target="1", direction="below")
    btc = make_alert(target="1", direction="above")

    report, _ = run_check()

    assert (report.pairs, report.priced, report.triggered) == (2, 1, 1)
    quiet.refresh_from_db()
    assert quiet.status == "active"
    btc.refresh_from_db()
    assert btc.status == "triggered"


def test_two_monitors_at_once_claim_a_crossing_once(
    coingecko: CoinGeckoSimulator,
    make_alert: MakeAlert,
    live_database_url: str,
) -> None:
    alerts = [make_alert(target=str(60000 + n), direction="above") for n in range(5)]
    reports: list[CheckReport] = []
    queued: list[int] = []
    lock = threading.Lock()

    def monitor() -> None:
        batches: list[list[int]] = []
        try:
            report = check_alerts(enqueue=batches.append)
        finally:
            connection.close()
        with lock:
            reports.append(report)
            queued.extend(note_id for batch in batches for note_id in batch)

    # Hold the first alert's row lock, so that both monitors have priced the pair and are
    # inside their UPDATE, waiting on it, before either can claim anything.
    with psycopg.connect(live_database_url) as blocker:
        blocker.execute("SELECT id FROM alerts_alert WHERE id = %s FOR UPDATE", [alerts[0].pk])
        threads = [threading.Thread(target=monitor) for _ in range(2)]
        for thread in threads:
            thread.start()
        wait_until(lambda: lock_waiters(live_database_url) >= 2, timeout=20, what="2 monitors")
        blocker.rollback()
    for thread in threads:
        thread.join(timeout=30)

    assert len(reports) == 2
    assert sorted(r.triggered for r in reports) == [0, 5]
    assert AlertNotification.objects.count() == 5
    assert sorted(queued) == sorted(AlertNotification.objects.values_list("id", flat=True))
    assert set(Alert.objects.values_list("status", flat=True)) == {"triggered"}
