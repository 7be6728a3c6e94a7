"""Price alert emails: the ``AlertNotification`` outbox on the shared state machine.

Delivery (claim, send, record, retries, the sweep of stalled rows) is ``alerts.outbox``;
this module says what a price alert's email is and what its send does to the alert: the
alert goes to sleep, unless it was re-armed or deleted since this crossing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from django.conf import settings
from django.core.mail import EmailMessage

from cryptotrack.alerts import outbox
from cryptotrack.alerts.models import Alert, AlertNotification
from cryptotrack.alerts.outbox import (
    DELIVERY_BATCH_SIZE,
    MAX_ATTEMPTS,
    RETRY_BASE_SECONDS,
    RETRY_MAX_SECONDS,
    SWEEP_LIMIT,
    DeliveryOutcome,
    Enqueue,
    lease_seconds,
    plain,
    retry_delay,
)
from cryptotrack.core import metrics

__all__ = [
    "DELIVERY_BATCH_SIZE",
    "MAX_ATTEMPTS",
    "RETRY_BASE_SECONDS",
    "RETRY_MAX_SECONDS",
    "SWEEP_LIMIT",
    "DeliveryOutcome",
    "compose_email",
    "deliver_notifications",
    "enqueue_delivery",
    "lease_seconds",
    "message_id",
    "requeue_stalled",
    "retry_delay",
]


def enqueue_delivery(notification_ids: list[int]) -> None:
    """Queue one ``send_alert_notifications`` task for these rows."""
    from cryptotrack.alerts.tasks import send_alert_notifications

    send_alert_notifications.delay(notification_ids)


def deliver_notifications(notification_ids: Sequence[int]) -> DeliveryOutcome:
    """Send these rows' emails (see ``outbox.deliver``)."""
    return outbox.deliver(PRICE_ALERTS, notification_ids)


def requeue_stalled(*, enqueue: Enqueue, limit: int = SWEEP_LIMIT) -> int:
    """Queue again the price alert emails whose task or sender was lost."""
    return outbox.requeue_stalled(PRICE_ALERTS, enqueue=enqueue, limit=limit)


def compose_email(note: AlertNotification) -> EmailMessage:
    """The email of one crossing, to the alert owner's current address."""
    alert = note.alert
    user = alert.user
    currency = note.currency.upper()
    verb = "at or above" if note.direction == Alert.Direction.ABOVE else "at or below"
    target = plain(note.target_price)
    price = plain(note.triggered_price)
    subject = f"Price alert: {note.coin} is {verb} {target} {currency} (now {price} {currency})"
    when = note.triggered_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    body = "\n".join(
        [
            f"Hello {user.name or user.username},",
            "",
            f"Your price alert #{alert.pk} fired: {note.coin} is {verb} your target.",
            "",
            f"  Coin:       {note.coin}",
            f"  Target:     {target} {currency} ({note.direction})",
            f"  Price:      {price} {currency}",
            f"  Checked at: {when}",
            "",
            "The alert now sleeps and will not email you again until you activate it:",
            f"  POST /api/v1/alerts/{alert.pk}/activate",
            "",
            "-- cryptotrack",
        ]
    )
    return EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers={
            "Message-ID": message_id(note),
            "X-Cryptotrack-Alert": str(alert.pk),
            "X-Cryptotrack-Notification": str(note.pk),
        },
    )


def message_id(note: AlertNotification) -> str:
    """The same ``Message-ID`` on every attempt for a row: a resend can be recognised."""
    return outbox.message_id(kind="alert", alert_id=note.alert_id, row_id=note.pk)


def _moot(note: AlertNotification) -> str | None:
    if note.alert.status == Alert.Status.DELETED:
        return "the alert was deleted before the email left"
    return None


def put_to_sleep(note: AlertNotification, now: datetime) -> None:
    Alert.objects.filter(pk=note.alert_id).update(last_notified_at=now, updated_at=now)
    # Only this crossing puts the alert to sleep: not an alert re-armed (or deleted) since.
    Alert.objects.filter(
        pk=note.alert_id, status=Alert.Status.TRIGGERED, triggered_at=note.triggered_at
    ).update(status=Alert.Status.SLEEPING)


PRICE_ALERTS = outbox.Outbox(
    name="Alert",
    model=AlertNotification,
    related=("alert__user",),
    moot=_moot,
    open_sender=lambda: outbox.SmtpSender(compose_email),
    counter=metrics.ALERT_EMAILS,
    on_sent=put_to_sleep,
)
