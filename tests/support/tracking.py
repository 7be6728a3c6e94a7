"""Position tracking driven in process: start it, and record polls as a worker does."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from cryptotrack.positions import polling, services
from cryptotrack.positions.models import TrackingSubscription


def track(trader: Any) -> TrackingSubscription:
    """Track every symbol of the trader's ``default`` account."""
    subscription, _ = services.start_tracking(user=trader.user, symbols=[])
    return subscription


def poll(*subscriptions: TrackingSubscription) -> polling.BatchSummary:
    """Poll these subscriptions in one batch, each in a fresh slot."""
    slot = timezone.now()
    return polling.poll_batch(batch=[(s.id, slot.isoformat()) for s in subscriptions])
