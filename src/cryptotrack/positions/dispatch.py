"""The dispatcher: claim due subscriptions in batches and hand each batch to a worker.

Runs on every beat tick. One query claims up to ``POSITIONS_BATCH_SIZE`` due rows
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent dispatchers never claim the same
row; SQLite serialises writers instead) and pushes their ``next_poll_at`` one interval on,
so the row is not due again until its next slot. Each batch becomes one Celery task whose
arguments are ids and slot times only — never credentials.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from cryptotrack.positions.models import TrackingSubscription

logger = logging.getLogger(__name__)

# A batch is one task message: [[subscription id, slot as ISO 8601], ...].
Batch = list[tuple[int, str]]


@dataclass(frozen=True)
class DispatchResult:
    batches: int
    subscriptions: int


def claim_due_batch(*, now: datetime, limit: int) -> Batch:
    """Claim up to ``limit`` due active subscriptions and move them to their next slot.

    A row that fell more than one interval behind (workers down, a restart) is polled once
    now and then again one interval from now: missed slots are skipped, not replayed.
    """
    with transaction.atomic():
        due = list(
            TrackingSubscription.objects.select_for_update(skip_locked=True)
            .filter(state=TrackingSubscription.State.ACTIVE, next_poll_at__lte=now)
            .order_by("next_poll_at")
            .values_list("id", "next_poll_at")[:limit]
        )
        if not due:
            return []
        ids = [subscription_id for subscription_id, _ in due]
        claimed = TrackingSubscription.objects.filter(id__any_of=ids)
        claimed.update(next_poll_at=F("next_poll_at") + F("interval"))
        claimed.filter(next_poll_at__lte=now).update(next_poll_at=now + F("interval"))
    return [(subscription_id, slot.isoformat()) for subscription_id, slot in due]


def dispatch_due_subscriptions(*, now: datetime | None = None) -> DispatchResult:
    """Claim every due subscription in batches and enqueue one poll task per batch."""
    from cryptotrack.positions.tasks import poll_subscriptions

    now = now or timezone.now()
    batches = subscriptions = 0
    while batch := claim_due_batch(now=now, limit=settings.POSITIONS_BATCH_SIZE):
        # A batch older than one interval is worth nothing: the next slot supersedes it.
        poll_subscriptions.apply_async(args=(batch,), expires=settings.TRACKING_INTERVAL_SECONDS)
        batches += 1
        subscriptions += len(batch)
        if len(batch) < settings.POSITIONS_BATCH_SIZE:
            break
    if subscriptions:
        logger.info("dispatched %d subscription(s) in %d batch(es)", subscriptions, batches)
    return DispatchResult(batches=batches, subscriptions=subscriptions)
