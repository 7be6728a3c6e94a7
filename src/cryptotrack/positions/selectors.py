"""Reads of position tracking: status, current positions (cache first), history."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from cryptotrack.accounts.models import User
from cryptotrack.core import metrics
from cryptotrack.positions.models import Position, PositionSnapshot, TrackingSubscription
from cryptotrack.positions.representations import positions_payload
from cryptotrack.positions.storage import cached_positions, positions_json, refill_cache


@dataclass(frozen=True)
class CurrentPositions:
    """The user's positions as the JSON array the API answers (``storage.positions_json``)."""

    positions_json: bytes
    count: int
    as_of: datetime | None
    source: str  # "cache" or "database"

    @property
    def positions(self) -> list[dict[str, Any]]:
        return list(json.loads(self.positions_json))


def tracking_subscription(*, user: User) -> TrackingSubscription | None:
    return TrackingSubscription.objects.filter(user=user).first()


def current_positions(*, user: User, symbol: str | None = None) -> CurrentPositions:
    """The user's open positions: from the cache, else (miss, Redis down) the database."""
    cached = cached_positions(user.pk)
    metrics.record_cache_read("positions", hit=cached is not None)
    if cached is not None:
        current = CurrentPositions(
            positions_json=cached["positions"],
            count=cached["count"],
            as_of=datetime.fromisoformat(cached["as_of"]),
            source="cache",
        )
    else:
        rows = positions_payload(list(Position.objects.filter(user=user)))
        subscription = tracking_subscription(user=user)
        as_of = subscription.last_success_at if subscription else None
        if as_of is not None:
            # Refill a cold cache (after a Redis restart) without waiting for the next poll;
            # ``add`` never overwrites what a worker wrote meanwhile.
            refill_cache(user.pk, rows, as_of=as_of)
        current = CurrentPositions(positions_json(rows), len(rows), as_of, source="database")
    if symbol:
        rows = [row for row in current.positions if row["symbol"] == symbol]
        current = CurrentPositions(positions_json(rows), len(rows), current.as_of, current.source)
    return current


def position_history(
    *,
    user: User,
    symbol: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[PositionSnapshot]:
    """The user's position snapshots, newest first, filtered."""
    snapshots = PositionSnapshot.objects.filter(user=user)
    if symbol:
        snapshots = snapshots.filter(symbol=symbol)
    if since:
        snapshots = snapshots.filter(taken_at__gte=since)
    if until:
        snapshots = snapshots.filter(taken_at__lt=until)
    return snapshots.order_by("-taken_at", "-id")
