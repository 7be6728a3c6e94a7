"""Alert emails over a real SMTP server: one per crossing, retried, never twice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from cryptotrack.alerts import notifications, services
from cryptotrack.alerts.models import Alert, AlertNotification
from cryptotrack.alerts.monitor import check_alerts
from cryptotrack.alerts.notifications import deliver_notifications, requeue_stalled
from cryptotrack.simulators.coingecko import CoinGeckoSimulator
from tests.alerts.conftest import FROM_EMAIL
from tests.alerts.smtp_server import SmtpServer
from tests.support.postgres import lock_waiters
from tests.support.processes import wait_until

MakeAlert = Callable[..., Alert]


@pytest.fixture
def crossed(
    coingecko: CoinGeckoSimulator,
    make_alert: MakeAlert,
    django_capture_on_commit_callbacks: Any,
) -> Callable[..., list[int]]:
    """Run a check at ``price`` (bitcoin/usd) and return the notification ids it queued."""

    def cross(price: str = "71000") -> list[int]:
        coingecko.set_price("bitcoin", "usd", price)
        batches: list[list[int]] = []
        with django_capture_on_commit_callbacks(execute=True):
            check_alerts(enqueue=batches.append)
        return [note_id for batch in batches for note_id in batch]

    return cross


@pytest.mark.django_db
def test_crossing_emails_the_owner_once_with_what_crossed(
    smtp: SmtpServer,
    make_user: Callable[..., Any],
    make_alert: MakeAlert,
    crossed: Callable[..., list[int]],
) -> None:
    owner = make_user(name="Ada Lovelace", email="ada@example.com")
    alert = make_alert(user=owner, target="70000", direction="above")
    bystander = make_alert(target="90000", direction="above")

    ids = crossed("70123.45")
    outcome = deliver_notifications(ids)

    assert outcome.sent == ids
    (mail,) = smtp.received()
    assert mail.rcpt_tos == ("ada@example.com",)
    assert mail.message["To"] == "ada@example.com"
    assert "bitcoin" in mail.subject
    assert "70000 USD" in mail.subject
    assert "70123.45 USD" in mail.subject
    assert "Hello Ada Lovelace" in mail.body
    assert f"alert #{alert.pk}" in mail.body
    assert f"/api/v1/alerts/{alert.pk}/activate" in mail.body
    note = AlertNotification.objects.get()
    assert mail.message["From"] == FROM_EMAIL
    expected_id = f"<alert-{alert.pk}-notification-{note.pk}@cryptotrack.test>"
    assert mail.message["Message-ID"] == expected_id
    alert.refresh_from_db()
    assert alert.status == "sleeping"
    assert alert.last_notified_at is not None
    assert (note.state, note.attempts) == ("sent", 1)
    bystander.refresh_from_db()
    assert bystander.status == "active"

    # The same task again (redelivered, retried): nothing more leaves.
    again = deliver_notifications(ids)
    assert (again.sent, again.skipped) == ([], ids)
    # The price stays above: the sleeping alert does not fire again.
    assert crossed("72000") == []
    assert len(smtp.received()) == 1


@pytest.mark.django_db
def test_reactivated_alert_fires_and_emails_again(
    smtp: SmtpServer,
    make_alert: MakeAlert,
    crossed: Callable[..., list[int]],
) -> None:
    alert = make_alert(target="70000", direction="above")
    deliver_notifications(crossed("71000"))

    services.alert_activate(user=alert.user, alert_id=alert.pk)
    second = crossed("71500")
    deliver_notifications(second)

    first_mail, second_mail = smtp.received()
    assert "71500 USD" in second_mail.subject
    assert first_mail.message["Message-ID"] != second_mail.message["Message-ID"]
    alert.refresh_from_db()
    assert alert.status == "sleeping"
    assert AlertNotification.objects.filter(state="sent").count() == 2


@pytest.mark.django_db
def test_smtp_refusing_for_now_is_retried_then_delivered_once(
    smtp: SmtpServer, make_alert: MakeAlert, crossed: Callable[..., list[int]]
) -> None:
    make_alert()
    ids = crossed()
    smtp.refuse_next("451 4.3.0 Try again later")

    first = deliver_notifications(ids)

    assert first.retry_ids == ids
    assert 0 < first.retry_in <= notifications.RETRY_MAX_SECONDS
    assert smtp.received() == []
    note = AlertNotification.objects.get()
    assert (note.state, note.attempts) == ("pending", 1)
    assert "451" in note.last_error
    assert Alert.objects.get().status == "triggered"

    second = deliver_notifications(first.retry_ids)

    assert second.sent == ids
    assert len(smtp.received()) == 1
    assert AlertNotification.objects.get().attempts == 2


@pytest.mark.django_db
def test_smtp_server_down_is_retried_then_delivered_once(
    smtp: SmtpServer, make_alert: MakeAlert, crossed: Callable[..., list[int]]
) -> None:
    make_alert()
    ids = crossed()
    smtp.stop()

    outcomes = [deliver_notifications(ids) for _ in range(2)]

    assert [o.retry_ids for o in outcomes] == [ids, ids]
    # Full jitter: each wait is random below a ceiling that doubles per failed attempt.
    assert 0 <= outcomes[0].retry_in <= notifications.RETRY_BASE_SECONDS
    assert 0 <= outcomes[1].retry_in <= 2 * notifications.RETRY_BASE_SECONDS
    note = AlertNotification.objects.get()
    assert (note.state, note.attempts) == ("pending", 2)
    assert "ConnectionRefusedError" in note.last_error
    smtp.start()
    assert deliver_notifications(ids).sent == ids
    assert deliver_notifications(ids).sent == []
    assert len(smtp.received()) == 1


@pytest.mark.django_db
def test_permanent_refusal_fails_that_email_only(
    smtp: SmtpServer,
    make_user: Callable[..., Any],
    make_alert: MakeAlert,
    crossed: Callable[..., list[int]],
) -> None:
    make_alert(user=make_user(email="gone@example.com"))
    make_alert(user=make_user(email="here@example.com"))
    ids = crossed()
    smtp.refuse_next("550 5.1.1 No such user")

    outcome = deliver_notifications(ids)

    assert (len(outcome.failed), len(outcome.sent), outcome.retry_ids) == (1, 1, [])
    (mail,) = smtp.received()
    assert mail.rcpt_tos == ("here@example.com",)
    failed = AlertNotification.objects.get(state="failed")
    assert "550" in failed.last_error
    assert failed.alert.status == "triggered"  # not emailed, so not asleep either


@pytest.mark.django_db
def test_email_is_given_up_after_the_last_attempt(
    smtp: SmtpServer, make_alert: MakeAlert, crossed: Callable[..., list[int]]
) -> None:
    make_alert()
    ids = crossed()
    AlertNotification.objects.update(attempts=notifications.MAX_ATTEMPTS - 1)
    smtp.stop()

    outcome = deliver_notifications(ids)

    assert (outcome.failed, outcome.retry_ids) == (ids, [])
    assert AlertNotification.objects.get().state == "failed"


@pytest.mark.django_db
def test_email_of_a_deleted_alert_is_cancelled(
    smtp: SmtpServer, make_alert: MakeAlert, crossed: Callable[..., list[int]]
) -> None:
    alert = make_alert()
    ids = crossed()
    services.alert_delete(user=alert.user, alert_id=alert.pk)

    outcome = deliver_notifications(ids)

    assert outcome.cancelled == ids
    assert smtp.received() == []
    alert.refresh_from_db()
    assert alert.status == "deleted"


@pytest.mark.django_db
def test_row_claimed_by_a_live_sender_is_not_sent_by_another(
    smtp: SmtpServer, make_alert: MakeAlert, crossed: Callable[..., list[int]]
) -> None:
    make_alert()
    ids = crossed()
    AlertNotification.objects.update(
        state="sending", attempts=1, due_at=timezone.now() + timedelta(seconds=60)
    )
    queued: list[list[int]] = []

    assert deliver_notifications(ids).skipped == ids
    assert requeue_stalled(enqueue=queued.append) == 0
    assert smtp.received() == []


@pytest.mark.django_db
def test_sender_lost_mid_send_is_sent_again_once_its_lease_ran_out(
    smtp: SmtpServer, make_alert: MakeAlert, crossed: Callable[..., list[int]]
) -> None:
    make_alert()
    ids = crossed()
    # What a worker killed between its claim and the server's reply leaves behind.
    AlertNotification.objects.update(
        state="sending", attempts=1, due_at=timezone.now() - timedelta(seconds=1)
    )
    queued: list[list[int]] = []

    assert requeue_stalled(enqueue=queued.append) == 1
    assert queued == [ids]
    assert AlertNotification.objects.get().state == "pending"
    assert deliver_notifications(ids).sent == ids
    assert len(smtp.received()) == 1
    assert AlertNotification.objects.get().attempts == 2


@pytest.mark.django_db
def test_sweep_requeues_a_lost_task_once_per_grace_period(
    settings: Any, make_alert: MakeAlert, crossed: Callable[..., list[int]]
) -> None:
    make_alert()
    ids = crossed()
    queued: list[list[int]] = []
    assert requeue_stalled(enqueue=queued.append) == 0  # just queued: not lost yet

    grace = timedelta(seconds=2 * settings.ALERTS_INTERVAL_SECONDS)
    AlertNotification.objects.update(due_at=timezone.now() - grace - timedelta(seconds=1))
    assert requeue_stalled(enqueue=queued.append) == 1
    assert requeue_stalled(enqueue=queued.append) == 0
    assert queued == [ids]


def test_two_senders_at_once_send_one_email(
    smtp: SmtpServer,
    coingecko: CoinGeckoSimulator,
    make_alert: MakeAlert,
    live_database_url: str,
) -> None:
    make_alert()
    coingecko.set_price("bitcoin", "usd", "71000")
    batches: list[list[int]] = []
    check_alerts(enqueue=batches.append)
    (ids,) = batches
    outcomes: list[notifications.DeliveryOutcome] = []

    def sender() -> None:
        try:
            outcomes.append(deliver_notifications(ids))
        finally:
            connection.close()

    # Both senders reach their claim while a third connection holds the row, then race.
    with psycopg.connect(live_database_url) as blocker:
        blocker.execute("SELECT id FROM alerts_alertnotification FOR UPDATE")
        threads = [threading.Thread(target=sender) for _ in range(2)]
        for thread in threads:
            thread.start()
        wait_until(lambda: lock_waiters(live_database_url) >= 2, timeout=20, what="2 senders")
        blocker.rollback()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(len(o.sent) for o in outcomes) == [0, 1]
    assert len(smtp.received()) == 1
