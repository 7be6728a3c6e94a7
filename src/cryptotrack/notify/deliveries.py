"""Alert firings delivered to notification channels: the ``Delivery`` outbox.

A firing of an alert with channels (``route_price_firings``/``route_position_firings``,
called in the transaction that writes the firings) gets one ``Delivery`` per channel, and
its own email row is cancelled (the firing stays listed). Deliveries run on the shared
outbox state machine (``alerts.outbox``) with ``senders.deliver`` as the send step and
their own retry policy: a ``retry`` answer is tried again with the backoff (never sooner
than the receiver's ``Retry-After``) until ``NOTIFY_RETRY_HOURS`` after the delivery was
made, then ``failed``; a ``failed`` answer is final at once. Every try is recorded
(``DeliveryAttempt``); a final failure counts against the channel, flagged after
``NOTIFY_FLAG_AFTER_FAILURES`` in a row, and a success clears that.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from cryptotrack.alerts import notifications, outbox, position_notifications
from cryptotrack.alerts.models import (
    Alert,
    AlertNotification,
    OutboxRow,
    PositionAlert,
    PositionAlertFiring,
)
from cryptotrack.alerts.outbox import SWEEP_LIMIT, DeliveryOutcome, Enqueue, plain
from cryptotrack.core import metrics
from cryptotrack.exchanges.retry import backoff_delay
from cryptotrack.notify.models import Channel, Delivery, DeliveryAttempt
from cryptotrack.notify.outcome import Attempt
from cryptotrack.notify.senders import Message, deliver

# What a firing's own email row says when its alert's channels carry it instead.
ROUTED = "not emailed: delivered on the alert's channels (see /api/v1/deliveries)"
PRICE_ALERT_FIRED = "price_alert.fired"
POSITION_ALERT_FIRED = "position_alert.fired"


# -- routing firings to channels ---------------------------------------------------------


def route_price_firings(notification_ids: Sequence[int]) -> tuple[list[int], list[int]]:
    """Price alert firings: (the email rows still to send, the new deliveries)."""
    return _route(AlertNotification, Alert, "notification_id", notification_ids)


def route_position_firings(firing_ids: Sequence[int]) -> tuple[list[int], list[int]]:
    """Position alert firings: (the email rows still to send, the new deliveries)."""
    return _route(PositionAlertFiring, PositionAlert, "firing_id", firing_ids)


def queue_routed(
    routed: tuple[list[int], list[int]],
    *,
    enqueue_emails: Enqueue,
    enqueue: Enqueue | None = None,
) -> int:
    """Queue the emails and the deliveries of ``route_*_firings`` once the transaction
    commits; return the number of tasks."""
    emails, deliveries = routed
    tasks = outbox.enqueue_on_commit(emails, enqueue_emails)
    return tasks + outbox.enqueue_on_commit(deliveries, enqueue or enqueue_deliveries)


def _route(
    model: type[AlertNotification] | type[PositionAlertFiring],
    alert_model: type[models.Model],
    link: str,
    row_ids: Sequence[int],
) -> tuple[list[int], list[int]]:
    """One ``Delivery`` per channel of each row's alert; the routed rows' emails cancelled.
    Call in the transaction that wrote the rows."""
    rows: Any = model._default_manager.filter(pk__in=row_ids)
    alert_of: dict[int, int] = dict(rows.values_list("id", "alert_id"))
    chosen = _channels_of(alert_model, set(alert_of.values()))
    routed = sorted(row for row, alert in alert_of.items() if chosen.get(alert))
    if not routed:
        return list(row_ids), []
    now = timezone.now()
    made = Delivery.objects.bulk_create(
        [
            Delivery(channel_id=channel, due_at=now, **{link: row})
            for row in routed
            for channel in chosen[alert_of[row]]
        ]
    )
    rows.filter(pk__in=routed).update(
        state=OutboxRow.State.CANCELLED, due_at=now, last_error=ROUTED
    )
    return [row for row in row_ids if row not in set(routed)], [d.pk for d in made]


def _channels_of(alert_model: type[models.Model], alert_ids: set[int]) -> dict[int, list[int]]:
    field: Any = alert_model._meta.get_field("channels")
    through = field.remote_field.through
    alert_key, channel_key = field.m2m_field_name(), field.m2m_reverse_field_name()
    chosen: dict[int, list[int]] = defaultdict(list)
    links = through.objects.filter(**{f"{alert_key}_id__in": alert_ids}).order_by("id")
    for alert, channel in links.values_list(f"{alert_key}_id", f"{channel_key}_id"):
        chosen[alert].append(channel)
    return chosen


# -- what a delivery says ----------------------------------------------------------------

# Outbox bookkeeping: not part of what fired.
_NOT_DATA = {field.name for field in OutboxRow._meta.get_fields()} | {"id"}


def message_of(delivery: Delivery) -> Message:
    """The message of a delivery: the firing's email subject and text as title and text,
    the firing's fields as the webhook's ``data``."""
    row = _firing(delivery)
    if isinstance(row, AlertNotification):
        email, event = notifications.compose_email(row), PRICE_ALERT_FIRED
    else:
        email, event = position_notifications.compose_email(row), POSITION_ALERT_FIRED
    return Message(
        delivery_id=delivery.delivery_id,
        event=event,
        title=str(email.subject),
        text=str(email.body),
        created_at=delivery.created_at.isoformat(),
        data=firing_data(row),
    )


def _firing(delivery: Delivery) -> AlertNotification | PositionAlertFiring:
    """What the delivery carries (the table's check: exactly one of the two is set)."""
    firing = delivery.notification or delivery.firing
    if firing is None:
        raise ValueError(f"delivery {delivery.pk} carries no firing")
    return firing


def firing_data(row: OutboxRow) -> dict[str, Any]:
    """A firing's own fields for JSON: decimals as plain strings, times in ISO 8601."""
    data: dict[str, Any] = {}
    for field in row._meta.concrete_fields:
        if field.name in _NOT_DATA:
            continue
        value = getattr(row, field.attname)
        if isinstance(value, Decimal):
            value = plain(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        data[field.attname] = value
    return data


# -- the outbox ----------------------------------------------------------------------------


class ChannelSender:
    """Sends deliveries with ``senders.deliver``; one HTTP client per run."""

    def __init__(self) -> None:
        self.http: httpx.Client | None = None

    def send(self, row: Delivery) -> Attempt:
        if self.http is None:
            self.http = httpx.Client()
        return deliver(row.channel, message_of(row), http=self.http)

    def close(self) -> None:
        if self.http is not None:
            self.http.close()


def enqueue_deliveries(delivery_ids: list[int]) -> None:
    """Queue one ``send_deliveries`` task for these rows."""
    from cryptotrack.notify.tasks import send_deliveries

    send_deliveries.delay(delivery_ids)


def deliver_deliveries(delivery_ids: Sequence[int]) -> DeliveryOutcome:
    """Send these deliveries (see ``outbox.deliver``); each retry is in ``later``."""
    return outbox.deliver(DELIVERIES, delivery_ids)


def requeue_stalled(*, enqueue: Enqueue, limit: int = SWEEP_LIMIT) -> int:
    """Queue again the deliveries whose task or sender was lost."""
    return outbox.requeue_stalled(DELIVERIES, enqueue=enqueue, limit=limit)


def _moot(delivery: Delivery) -> str | None:
    # Both kinds of alert call it ``deleted``.
    if _firing(delivery).alert.status == Alert.Status.DELETED:
        return "the alert was deleted before the message left"
    return None


def _record_attempt(delivery: Delivery, attempt: Attempt) -> None:
    DeliveryAttempt.objects.create(
        delivery=delivery,
        at=timezone.now(),
        outcome=attempt.verdict.value,
        status_code=attempt.status,
        error=attempt.error[:500],
        retry_after=attempt.retry_after,
    )


def _on_sent(delivery: Delivery, now: datetime) -> None:
    Channel.objects.filter(pk=delivery.channel_id).update(consecutive_failures=0, flagged_at=None)
    if delivery.notification is not None:
        notifications.put_to_sleep(delivery.notification, now)


def _on_failed(delivery: Delivery) -> None:
    channels = Channel.objects.filter(pk=delivery.channel_id)
    channels.update(consecutive_failures=F("consecutive_failures") + 1)
    channels.filter(
        consecutive_failures__gte=settings.NOTIFY_FLAG_AFTER_FAILURES, flagged_at__isnull=True
    ).update(flagged_at=timezone.now())


def _retry_window() -> timedelta:
    return timedelta(hours=settings.NOTIFY_RETRY_HOURS)


def _given_up(delivery: Delivery) -> bool:
    return timezone.now() >= delivery.created_at + _retry_window()


def _next_try(delivery: Delivery, attempt: Attempt) -> float:
    backoff = backoff_delay(
        delivery.attempts,
        base_delay=settings.NOTIFY_RETRY_BASE_SECONDS,
        max_delay=settings.NOTIFY_RETRY_MAX_SECONDS,
    )
    return max(backoff, attempt.retry_after or 0.0)


def _exhausted(now: datetime) -> Q:
    return Q(created_at__lte=now - _retry_window())


def _lease() -> float:
    """Longer than one send: an HTTP push (connect, write, read) or an email channel's SMTP."""
    return max(outbox.lease_seconds(), settings.NOTIFY_TIMEOUT_SECONDS * 4 + 5)


DELIVERIES = outbox.Outbox(
    name="Channel",
    noun="delivery",
    model=Delivery,
    related=("channel", "notification__alert__user", "firing__alert__user"),
    moot=_moot,
    open_sender=ChannelSender,
    counter=metrics.NOTIFY_DELIVERIES,
    on_sent=_on_sent,
    on_failed=_on_failed,
    on_attempt=_record_attempt,
    give_up=_given_up,
    next_try=_next_try,
    exhausted=_exhausted,
    lease=_lease,
    stop_on_retry=False,
)
