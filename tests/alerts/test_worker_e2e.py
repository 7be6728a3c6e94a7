"""The whole loop in real processes: Celery beat + worker subprocess, the CoinGecko simulator
and an SMTP server over sockets, PostgreSQL and Redis. Cadences shortened through the
environment (a check every second)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cryptotrack.alerts.models import Alert, AlertNotification
from cryptotrack.simulators.coingecko import CoinGeckoSimulator
from tests.alerts.conftest import FROM_EMAIL
from tests.alerts.smtp_server import SmtpServer
from tests.support.processes import CeleryWorker, free_port, running, wait_until

pytestmark = pytest.mark.slow

MakeAlert = Callable[..., Alert]


@pytest.fixture
def worker_env(
    live_env: dict[str, str], coingecko: CoinGeckoSimulator, smtp: SmtpServer
) -> dict[str, str]:
    return live_env | {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
        "EMAIL_TIMEOUT": "2",
        "DEFAULT_FROM_EMAIL": FROM_EMAIL,
        "COINGECKO_URL": coingecko.url,
        "ALERTS_INTERVAL_SECONDS": "1",
        # Nothing else of the beat schedule should reach the outside world.
        "ALPHAVANTAGE_URL": f"http://127.0.0.1:{free_port()}/query",
    }


def _checks(coingecko: CoinGeckoSimulator, more: int) -> None:
    """Wait until the monitor has priced ``more`` more times (it prices only while some
    alert is active: each test keeps one that never fires)."""
    target = coingecko.count("/simple/price") + more
    wait_until(lambda: coingecko.count("/simple/price") >= target, timeout=30, what="checks")


def test_worker_emails_a_crossing_once_and_again_after_reactivation(
    worker_env: dict[str, str],
    coingecko: CoinGeckoSimulator,
    smtp: SmtpServer,
    make_user: Callable[..., Any],
    make_alert: MakeAlert,
    client_for: Callable[[Any], Any],
) -> None:
    owner = make_user(email="owner@example.com")
    alert = make_alert(user=owner, target="70000", direction="above")
    quiet = make_alert(target="90000", direction="above")

    with running(CeleryWorker(worker_env, beat=True)):
        _checks(coingecko, 2)
        assert smtp.received() == []  # the price stays below both targets: no email

        coingecko.set_price("bitcoin", "usd", "70500")
        wait_until(lambda: smtp.received(), timeout=30, what="the email")
        wait_until(
            lambda: Alert.objects.get(pk=alert.pk).status == "sleeping", timeout=10, what="sleep"
        )
        _checks(coingecko, 3)
        assert len(smtp.received()) == 1  # still above, but asleep: nothing more

        activated = client_for(owner).post(f"/api/v1/alerts/{alert.pk}/activate")
        assert activated.status_code == 200
        wait_until(lambda: len(smtp.received()) >= 2, timeout=30, what="the second email")
        _checks(coingecko, 2)

    first, second = smtp.received()
    assert first.rcpt_tos == second.rcpt_tos == ("owner@example.com",)
    assert "70500 USD" in first.subject
    assert f"alert #{alert.pk}" in first.body
    assert first.message["Message-ID"] != second.message["Message-ID"]
    quiet.refresh_from_db()
    assert quiet.status == "active"
    assert list(AlertNotification.objects.values_list("state", flat=True)) == ["sent", "sent"]


def test_worker_retries_while_smtp_is_down_then_delivers_once(
    worker_env: dict[str, str],
    coingecko: CoinGeckoSimulator,
    smtp: SmtpServer,
    make_alert: MakeAlert,
) -> None:
    make_alert(target="70000", direction="above")
    make_alert(target="90000", direction="above")  # keeps the monitor pricing
    smtp.stop()
    coingecko.set_price("bitcoin", "usd", "71000")

    with running(CeleryWorker(worker_env, beat=True)):
        wait_until(
            lambda: AlertNotification.objects.filter(attempts__gte=2).exists(),
            timeout=30,
            what="two failed attempts",
        )
        note = AlertNotification.objects.get()
        assert note.state in {"pending", "sending"}
        assert "ConnectionRefusedError" in note.last_error

        smtp.start()
        wait_until(lambda: smtp.received(), timeout=30, what="the email once SMTP is back")
        _checks(coingecko, 3)

    assert len(smtp.received()) == 1
    note = AlertNotification.objects.get()
    assert note.state == "sent"
    assert note.attempts >= 3
    assert note.alert.status == "sleeping"


def test_worker_killed_mid_send_still_delivers_exactly_once(
    worker_env: dict[str, str],
    coingecko: CoinGeckoSimulator,
    smtp: SmtpServer,
    make_alert: MakeAlert,
) -> None:
    make_alert(target="70000", direction="above")
    make_alert(target="90000", direction="above")  # keeps the monitor pricing
    smtp.stall()  # the first sender hangs inside the SMTP exchange, before the message
    coingecko.set_price("bitcoin", "usd", "71000")

    first = CeleryWorker(worker_env, beat=True)
    with running(first):
        wait_until(lambda: smtp.rcpt_seen >= 1, timeout=30, interval=0.01, what="a send")
        first.kill()  # SIGKILL, by PID, mid-send
    smtp.release()
    note = AlertNotification.objects.get()
    assert (note.state, note.attempts) == ("sending", 1)
    assert smtp.received() == []

    # A new worker: once the dead sender's lease runs out, the monitor's sweep re-queues it.
    with running(CeleryWorker(worker_env, beat=True)):
        wait_until(lambda: smtp.received(), timeout=60, what="the email after the lease")
        _checks(coingecko, 3)

    assert len(smtp.received()) == 1
    note = AlertNotification.objects.get()
    assert (note.state, note.attempts) == ("sent", 2)
