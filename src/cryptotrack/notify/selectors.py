"""Reads of notify: the delivery log."""

from __future__ import annotations

from django.db.models import QuerySet

from cryptotrack.accounts.models import User
from cryptotrack.notify.models import Delivery

PRICE = "price"
POSITION = "position"
ALERT_TYPES = (PRICE, POSITION)


def delivery_list(
    *,
    user: User,
    channel: int | None = None,
    status: str | None = None,
    alert_type: str | None = None,
    alert: int | None = None,
) -> QuerySet[Delivery]:
    """The user's deliveries (through their channels), newest first, with their attempts.
    ``alert_type`` (``price``/``position``) and ``alert`` (an id of that type) narrow them
    to one kind of alert, or to one alert."""
    deliveries = (
        Delivery.objects.filter(channel__user=user)
        .select_related("channel", "notification", "firing")
        .prefetch_related("attempts_made")
        .order_by("-created_at", "-id")
    )
    if channel is not None:
        deliveries = deliveries.filter(channel_id=channel)
    if status:
        deliveries = deliveries.filter(state=status)
    if alert_type == PRICE:
        deliveries = deliveries.filter(notification__isnull=False)
        if alert is not None:
            deliveries = deliveries.filter(notification__alert_id=alert)
    elif alert_type == POSITION:
        deliveries = deliveries.filter(firing__isnull=False)
        if alert is not None:
            deliveries = deliveries.filter(firing__alert_id=alert)
    return deliveries


def delivery_alert(delivery: Delivery) -> dict[str, object]:
    """``{type, id}`` of the alert whose firing the delivery carries."""
    if delivery.notification is not None:
        return {"type": PRICE, "id": delivery.notification.alert_id}
    firing = delivery.firing
    return {"type": POSITION, "id": firing.alert_id if firing is not None else None}
