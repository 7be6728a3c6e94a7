"""Reads of position tracking: status, current positions (cache first), history."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from cryptotrack.accounts.models import ExchangeAccount, User
from cryptotrack.core import metrics
from cryptotrack.positions import cache
from cryptotrack.positions.models import (
    Position,
    PositionEvent,
    PositionSnapshot,
    TrackingSubscription,
)
from cryptotrack.positions.services import default_account
from cryptotrack.positions.storage import (
    add_tracked_without_positions,
    entries_by_account,
    positions_json,
    tracked,
    with_entry_relations,
)


class StaleReason(models.TextChoices):
    """Why an account's positions may no longer be what KuCoin holds."""

    OUTDATED = "outdated", "No successful poll for two tracking intervals (or none yet)"
    TRACKING_PAUSED = "tracking_paused", "Tracking paused: KuCoin refused the key"
    TRACKING_STOPPED = "tracking_stopped", "Tracking stopped"


@dataclass(frozen=True)
class AccountFreshness:
    """How fresh one account's positions are (``tracking_error``: the error kind that
    paused it)."""

    id: int
    label: str
    as_of: datetime | None
    tracking: str
    tracking_error: str | None
    stale: bool
    stale_reason: str | None


def freshness(account_id: int, entry: cache.AccountEntry, *, now: datetime) -> AccountFreshness:
    """Stale when tracking is paused or stopped (that reason first), or when ``as_of`` is
    older than two of the account's tracking intervals."""
    tracking = entry.tracking
    reason: str | None = None
    if tracking.state == TrackingSubscription.State.STOPPED:
        reason = StaleReason.TRACKING_STOPPED
    elif tracking.state == TrackingSubscription.State.PAUSED:
        reason = StaleReason.TRACKING_PAUSED
    elif entry.as_of is None or now - entry.as_of > timedelta(seconds=2 * tracking.interval):
        reason = StaleReason.OUTDATED
    return AccountFreshness(
        id=account_id,
        label=tracking.label,
        as_of=entry.as_of,
        tracking=tracking.state,
        tracking_error=tracking.error or None,
        stale=reason is not None,
        stale_reason=reason,
    )


@dataclass(frozen=True)
class CurrentPositions:
    """Positions as the JSON array the API answers (``storage.positions_json``), and how
    fresh each account's are (``accounts``, by account id)."""

    positions_json: bytes
    count: int
    as_of: datetime | None
    source: str  # "cache" or "database"
    accounts: list[AccountFreshness] = field(default_factory=list)

    @property
    def stale(self) -> bool:
        return any(account.stale for account in self.accounts)

    @property
    def stale_reason(self) -> str | None:
        """The first stale account's reason (each account's is in ``accounts``)."""
        return next((a.stale_reason for a in self.accounts if a.stale), None)

    @property
    def positions(self) -> list[dict[str, Any]]:
        return list(json.loads(self.positions_json))


def tracking_subscription(
    *, user: User, account: ExchangeAccount | None = None
) -> TrackingSubscription | None:
    """The tracking of ``account``, or of the user's ``default`` account (None if none)."""
    if account is None:
        account = default_account(user=user)
        if account is None:
            return None
    return TrackingSubscription.objects.filter(account=account).first()


def _joined(entries: list[cache.AccountEntry]) -> bytes:
    """Several accounts' encoded arrays as one array, joined as bytes (no re-encoding)."""
    inner = [entry.positions_json[1:-1] for entry in entries if entry.count]
    return b"[" + b",".join(inner) + b"]"


def _from_entries(
    entries: dict[int, cache.AccountEntry], *, account_id: int | None, source: str
) -> CurrentPositions:
    if account_id is not None:
        entries = {account_id: entries[account_id]} if account_id in entries else {}
    ordered = [entries[key] for key in sorted(entries)]
    now = timezone.now()
    return CurrentPositions(
        positions_json=_joined(ordered),
        count=sum(entry.count for entry in ordered),
        # The oldest account's: every position shown is at least this fresh.
        as_of=min((entry.as_of for entry in ordered if entry.as_of), default=None),
        source=source,
        accounts=[freshness(key, entries[key], now=now) for key in sorted(entries)],
    )


def from_cache(
    entries: dict[int, cache.AccountEntry], *, account_id: int | None = None
) -> CurrentPositions:
    """The positions of a cache hit (``cache.read``'s entries), counted as one."""
    metrics.record_cache_read("positions", hit=True)
    return _from_entries(entries, account_id=account_id, source="cache")


def stored_positions(user_id: int) -> QuerySet[Position]:
    """A user's positions in the database, with what their cache entries show of the
    account and its tracking (read while Redis is down, or on a miss)."""
    return with_entry_relations(Position.objects.filter(user_id=user_id))


def stored_tracking(user_id: int) -> QuerySet[TrackingSubscription]:
    """A user's tracked accounts in the database (those without positions show too)."""
    return tracked(TrackingSubscription.objects.filter(user_id=user_id))


def database_entries(
    user_id: int, positions: list[Position], subscriptions: Iterable[TrackingSubscription]
) -> dict[int, bytes]:
    """The user's cache entries by account, made from :func:`stored_positions` and
    :func:`stored_tracking` (``positions.fast_read`` runs those queries on its loop)."""
    entries = entries_by_account(positions)
    add_tracked_without_positions(entries, subscriptions)
    return entries.get(user_id, {})


def from_database(
    by_account: dict[int, bytes], *, account_id: int | None = None
) -> CurrentPositions:
    """The positions of :func:`database_entries`, counted as a cache miss."""
    metrics.record_cache_read("positions", hit=False)
    entries = {key: cache.decode_entry(raw) for key, raw in by_account.items()}
    return _from_entries(entries, account_id=account_id, source="database")


def _from_database(user: User, *, account_id: int | None) -> CurrentPositions:
    """Every account's positions from the database (Redis down, or a miss), and refill."""
    by_account = database_entries(
        user.pk, list(stored_positions(user.pk)), stored_tracking(user.pk)
    )
    if by_account:
        # Refill a cold cache (after a Redis restart) without waiting for the next poll;
        # HSETNX never overwrites what a worker wrote meanwhile.
        cache.refill(user.pk, by_account)
    return from_database(by_account, account_id=account_id)


def current_positions(
    *, user: User, symbol: str | None = None, account_id: int | None = None
) -> CurrentPositions:
    """The user's open positions, all accounts (grouped by account, oldest account first)
    or one (``account_id``: another user's id simply finds nothing): from the cache in one
    round trip, else (miss, Redis down) from the database."""
    cached = cache.read(user.pk)
    if cached is not None:
        current = from_cache(cached, account_id=account_id)
    else:
        current = _from_database(user, account_id=account_id)
    if symbol:
        rows = [row for row in current.positions if row["symbol"] == symbol]
        current = replace(current, positions_json=positions_json(rows), count=len(rows))
    return current


def _filtered(
    rows: QuerySet[Any],
    *,
    time_field: str,
    symbol: str | None,
    account: int | None,
    since: datetime | None,
    until: datetime | None,
) -> QuerySet[Any]:
    """``rows`` of one symbol, one account (an id; another user's finds nothing) and a
    time range ``[since, until)``, newest first (the ``(user, -time, -id)`` indexes)."""
    if symbol:
        rows = rows.filter(symbol=symbol)
    if account is not None:
        rows = rows.filter(account_id=account)
    if since:
        rows = rows.filter(**{f"{time_field}__gte": since})
    if until:
        rows = rows.filter(**{f"{time_field}__lt": until})
    return rows.order_by(f"-{time_field}", "-id")


def position_history(
    *,
    user: User,
    symbol: str | None = None,
    account: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[PositionSnapshot]:
    """The user's position snapshots, newest first, filtered (``account``: an account id;
    another user's finds nothing)."""
    snapshots = PositionSnapshot.objects.filter(user=user).select_related("account")
    return _filtered(
        snapshots, time_field="taken_at", symbol=symbol, account=account, since=since, until=until
    )


def position_events(
    *,
    user: User,
    symbol: str | None = None,
    kind: str | None = None,
    account: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[PositionEvent]:
    """The user's position events, newest first (``-at, -id``), filtered like history and
    by ``kind``. The list view and its CSV export both read this."""
    events = PositionEvent.objects.filter(user=user).select_related("account")
    if kind:
        events = events.filter(kind=kind)
    return _filtered(
        events, time_field="at", symbol=symbol, account=account, since=since, until=until
    )


# What a chart of a position's history holds at most, whatever the range: beyond it, rows
# are sampled (see :func:`position_chart`).
CHART_MAX_POINTS = 500


@dataclass(frozen=True)
class ChartPoint:
    taken_at: datetime
    mark_price: Decimal
    unrealised_pnl: Decimal
    liquidation_price: Decimal | None


@dataclass(frozen=True)
class PositionChart:
    """A position's history in a time range, oldest first: every row (``total`` of them),
    or when there are more than ``max_points`` an even sample of them that always keeps
    the oldest and the newest (``sampled``)."""

    points: list[ChartPoint]
    total: int

    @property
    def sampled(self) -> bool:
        return len(self.points) < self.total


def position_chart(
    *,
    user: User,
    account: int,
    symbol: str,
    side: str,
    since: datetime,
    until: datetime | None = None,
    max_points: int = CHART_MAX_POINTS,
) -> PositionChart:
    """The history of one position (``account``, ``symbol``, ``side``) in ``[since,
    until)``, at most ``max_points`` rows of it (``max_points`` >= 2).

    Sampled in the database, so a 30-day range of a 2-second interval never comes to
    Python whole: rows are numbered oldest first and every ``k``-th kept (``k`` the least
    that leaves fewer than ``max_points``), then the newest added if ``k`` skipped it.
    A stride keeps the shape of a price line; a spike between two kept rows can fall out.
    """
    rows = position_history(
        user=user, symbol=symbol, account=account, since=since, until=until
    ).filter(side=side)
    fields = ("taken_at", "mark_price", "unrealised_pnl", "liquidation_price")
    total = rows.count()
    oldest_first = rows.order_by("taken_at", "id")
    if total <= max_points:
        picked = list(oldest_first.values_list(*fields))
    else:
        stride = math.ceil(total / (max_points - 1))
        numbered = oldest_first.annotate(
            row=Window(RowNumber(), order_by=[F("taken_at").asc(), F("id").asc()])
        ).annotate(phase=(F("row") - 1) % stride)
        picked = list(numbered.filter(phase=0).values_list(*fields))
        if (total - 1) % stride:
            newest = rows.values_list(*fields).first()  # newest first: the last row
            if newest is not None:
                picked.append(newest)
    return PositionChart(points=[ChartPoint(*row) for row in picked], total=total)
