"""Alert checks, crossings and emails are counted for /metrics (this process's values)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cryptotrack.alerts.monitor import check_alerts
from cryptotrack.alerts.notifications import deliver_notifications
from cryptotrack.core import metrics
from cryptotrack.simulators.coingecko import CoinGeckoSimulator
from tests.alerts.smtp_server import SmtpServer


def value(counter: Any) -> float:
    """This process's value of a counter (what it adds to the multiprocess total)."""
    return float(counter._value.get())


@pytest.mark.django_db
def test_a_check_a_crossing_and_its_email_are_counted(
    coingecko: CoinGeckoSimulator,
    smtp: SmtpServer,
    make_alert: Callable[..., Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    checked = metrics.ALERT_CHECKS.labels(outcome="checked")
    sent = metrics.ALERT_EMAILS.labels(outcome="sent")
    before = value(checked), value(metrics.ALERTS_TRIGGERED), value(sent)
    make_alert(target="70000", direction="above")
    coingecko.set_price("bitcoin", "usd", "71000")

    batches: list[list[int]] = []
    with django_capture_on_commit_callbacks(execute=True):
        check_alerts(enqueue=batches.append)
    deliver_notifications([note for batch in batches for note in batch])

    after = value(checked), value(metrics.ALERTS_TRIGGERED), value(sent)
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1]
    assert len(smtp.received()) == 1


@pytest.mark.django_db
def test_a_check_without_prices_is_counted_as_skipped(
    coingecko: CoinGeckoSimulator, make_alert: Callable[..., Any]
) -> None:
    skipped = metrics.ALERT_CHECKS.labels(outcome="skipped")
    failures = metrics.UPSTREAM_FAILURES.labels(upstream="coingecko", kind="unavailable")
    before = value(skipped), value(failures)
    make_alert()
    coingecko.inject_fault("error", status=503)

    check_alerts(enqueue=lambda ids: None)

    assert (value(skipped) - before[0], value(failures) - before[1]) == (1, 1)
