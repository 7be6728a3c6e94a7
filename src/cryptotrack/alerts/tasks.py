"""Celery tasks of alerts: thin wrappers that take ids, call one service, own the retries."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from cryptotrack.alerts import monitor, notifications, position_notifications
from cryptotrack.notify import deliveries


@shared_task(name="cryptotrack.alerts.tasks.check_alerts")
def check_alerts() -> None:
    """Beat runs this every ``ALERTS_INTERVAL_SECONDS``; two at once are harmless."""
    monitor.check_alerts(
        enqueue_firings=enqueue_position_alert_firings,
        enqueue_deliveries=deliveries.enqueue_deliveries,
    )


@shared_task(
    bind=True,
    name="cryptotrack.alerts.tasks.send_alert_notifications",
    acks_late=True,
    max_retries=None,  # bounded per email by notifications.MAX_ATTEMPTS, not per task
)
def send_alert_notifications(self: Any, notification_ids: list[int]) -> None:
    """Send these outbox rows' emails; after an SMTP failure, retry the rest with backoff.

    Safe to run twice for the same ids (redelivery, the monitor's sweep): each email is
    claimed in the database before it is sent.
    """
    outcome = notifications.deliver_notifications(notification_ids)
    if outcome.retry_ids:
        raise self.retry(args=[outcome.retry_ids], countdown=outcome.retry_in)


@shared_task(
    bind=True,
    name="cryptotrack.alerts.tasks.send_position_alert_firings",
    acks_late=True,
    max_retries=None,  # bounded per email by outbox.MAX_ATTEMPTS, not per task
)
def send_position_alert_firings(self: Any, firing_ids: list[int]) -> None:
    """Send these position alert firings' emails; after an SMTP failure, retry the rest.

    Safe to run twice for the same ids: each email is claimed before it is sent.
    """
    outcome = position_notifications.deliver_firings(firing_ids)
    if outcome.retry_ids:
        raise self.retry(args=[outcome.retry_ids], countdown=outcome.retry_in)


def enqueue_position_alert_firings(firing_ids: list[int]) -> None:
    """Queue one ``send_position_alert_firings`` task for these firings."""
    send_position_alert_firings.delay(firing_ids)
