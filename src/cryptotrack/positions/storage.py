"""Recording poll results: current positions, history, per-account status, the cache.

One transaction per flush of a batch: positions upserted in bulk, positions no longer
reported closed (with a closing snapshot), position events derived from the change
(``positions.events``; the first poll after tracking starts is their baseline),
subscription status updated, ``positions_recorded`` sent (position alerts are evaluated
there), and the accounts' current positions written through to the cache in one round
trip. After the commit the polled users' ``/ws/positions`` sockets are told
(``positions.live``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, QuerySet, Value, When
from django.db.models.functions import Greatest

from cryptotrack.accounts.models import ExchangeAccount
from cryptotrack.audit.services import Kind, record_service_events
from cryptotrack.exchanges.errors import (
    UpstreamError,
    UpstreamInvalidCredentials,
    UpstreamPermissionDenied,
    UpstreamRateLimited,
)
from cryptotrack.exchanges.kucoin import FuturesPosition
from cryptotrack.positions import cache, live
from cryptotrack.positions.events import derive_events, positions_recorded
from cryptotrack.positions.models import (
    Position,
    PositionEvent,
    PositionSnapshot,
    TrackingSubscription,
)
from cryptotrack.positions.representations import positions_payload

logger = logging.getLogger(__name__)

# What makes a position "changed" for history: its structure, not what moves with the
# mark price every poll (PnL, isolated leverage, liquidation price), which is snapshotted
# every POSITIONS_SNAPSHOT_EVERY_SECONDS.
_STRUCTURAL = ("size", "entry_price", "margin_mode", "realised_pnl")
_UPDATED_FIELDS = [
    "exchange_id",
    "size",
    "entry_price",
    "mark_price",
    "liquidation_price",
    "leverage",
    "margin_mode",
    "unrealised_pnl",
    "realised_pnl",
    "position_margin",
    "settle_currency",
    "opened_at",
    "updated_at",
    "seen_at",
    "snapshot_at",
]
_PAUSED = TrackingSubscription.State.PAUSED.value
_STOPPED = TrackingSubscription.State.STOPPED.value


@dataclass(frozen=True)
class PollOutcome:
    """What one poll of one subscription (one account) produced: positions, or the error."""

    subscription_id: int
    user_id: int
    account_id: int
    symbols: tuple[str, ...]
    started_at: datetime
    positions: list[FuturesPosition] | None = None
    error: UpstreamError | None = None
    # The first poll since tracking started: its positions are the events' baseline.
    baseline: bool = False


def positions_json(rows: list[dict[str, Any]]) -> bytes:
    """Positions as the JSON array the API answers (DRF's JSONRenderer's encoding)."""
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode()


def account_entry(
    rows: list[dict[str, Any]],
    *,
    as_of: datetime | None,
    tracking: cache.AccountTracking | None = None,
) -> bytes:
    """One account's positions as the cache holds them (see ``positions.cache``)."""
    return cache.encode_entry(
        cache.AccountEntry(
            as_of, len(rows), positions_json(rows), tracking=tracking or cache.AccountTracking()
        )
    )


def account_tracking(
    subscription: TrackingSubscription | None, *, label: str
) -> cache.AccountTracking:
    """What the cache keeps of an account's tracking (none: ``stopped``)."""
    if subscription is None:
        return cache.AccountTracking(
            label=label, state=_STOPPED, interval=settings.TRACKING_INTERVAL_SECONDS
        )
    return cache.AccountTracking(
        label=label,
        state=subscription.state,
        error=subscription.last_error_kind if subscription.state == _PAUSED else "",
        interval=int(subscription.interval.total_seconds()),
    )


def _subscription(account: ExchangeAccount) -> TrackingSubscription | None:
    try:
        return account.tracking
    except TrackingSubscription.DoesNotExist:
        return None


def _polled_tracking(
    succeeded: list[PollOutcome], *, labels: dict[int, str]
) -> dict[int, cache.AccountTracking]:
    """The polled accounts' tracking as it is after this flush's UPDATE of their rows (a
    concurrent stop either committed before it, and is read here, or waits for it and
    drops the cache after)."""
    subscriptions = TrackingSubscription.objects.filter(
        id__any_of=[o.subscription_id for o in succeeded]
    ).only("account_id", "state", "last_error_kind", "interval")
    return {s.account_id: account_tracking(s, label=labels[s.account_id]) for s in subscriptions}


def record_poll_outcomes(outcomes: list[PollOutcome], *, now: datetime) -> None:
    """Store a flush of poll outcomes (see the module docstring).

    The polled accounts' rows are locked first (``FOR NO KEY UPDATE``) and the cache is
    written before the commit: a rename or delete of one of them waits for this flush and
    then drops the cache after it, so no cached row keeps an old label or a deleted
    account. An account deleted before the flush got its lock is skipped.
    """
    if not outcomes:
        return
    with transaction.atomic():
        locked = (
            ExchangeAccount.objects.select_for_update(no_key=True, of=("self",))
            .filter(id__any_of=sorted({o.account_id for o in outcomes}))
            .order_by("id")
            .values_list("id", "label", "user_id", "user__has_position_alerts")
        )
        labels: dict[int, str] = {}
        alert_user_ids: set[int] = set()
        for account_id, label, user_id, has_position_alerts in locked:
            labels[account_id] = label
            if has_position_alerts:
                alert_user_ids.add(user_id)
        outcomes = [o for o in outcomes if o.account_id in labels]
        succeeded = [o for o in outcomes if o.positions is not None]
        current, events = _store_positions(succeeded, labels=labels, now=now)
        _update_subscriptions(outcomes, now=now)
        positions_recorded.send(
            sender=PositionEvent,
            positions={o.account_id: current.get(o.account_id, []) for o in succeeded},
            events=events,
            labels=labels,
            alert_user_ids=alert_user_ids,
        )
        tracking = _polled_tracking(succeeded, labels=labels)
        entries: cache.Entries = {}
        for o in succeeded:
            label = labels[o.account_id]
            rows = positions_payload(current.get(o.account_id, []), label=label)
            entries.setdefault(o.user_id, {})[o.account_id] = account_entry(
                rows,
                as_of=now,
                tracking=tracking.get(o.account_id) or account_tracking(None, label=label),
            )
        cache.write(entries, fill=_other_accounts(succeeded))
        # /ws/positions: after the commit, so a socket reads what this flush stored.
        polled_users = {o.user_id for o in outcomes}
        transaction.on_commit(lambda: live.announce_polls(polled_users))


def _other_accounts(succeeded: list[PollOutcome]) -> cache.Entries:
    """The cache entries of the polled users' other accounts that hold positions or are
    tracked (to keep each user's hash complete; ``HSETNX`` adds them only where missing)."""
    if not succeeded:
        return {}
    users = {o.user_id for o in succeeded}
    polled = {o.account_id for o in succeeded}
    others = list(
        ExchangeAccount.objects.filter(user_id__any_of=users)
        .exclude(id__any_of=polled)
        .values_list("id", flat=True)
    )
    if not others:
        return {}  # the usual case: every account of these users was just polled
    positions = Position.objects.filter(account_id__any_of=others)
    entries = entries_by_account(list(with_entry_relations(positions)))
    subscriptions = TrackingSubscription.objects.filter(account_id__any_of=others)
    add_tracked_without_positions(entries, tracked(subscriptions))
    return entries


# What a cache entry shows of an account's tracking (account_tracking reads these).
_ENTRY_TRACKING_FIELDS = ("state", "last_error_kind", "interval")


def with_entry_relations(positions: QuerySet[Position]) -> QuerySet[Position]:
    """``positions`` with what :func:`entries_by_account` reads of their account and its
    tracking, and no more (not the account's encrypted keys and JSON, nor the tracking's
    timestamps: a sixth of the read's cost while Redis is down, by py-spy)."""
    return positions.select_related("account__tracking").only(
        *(field.name for field in Position._meta.concrete_fields),
        "account__label",
        *(f"account__tracking__{name}" for name in _ENTRY_TRACKING_FIELDS),
    )


def tracked(subscriptions: QuerySet[TrackingSubscription]) -> QuerySet[TrackingSubscription]:
    """Those of ``subscriptions`` not stopped, with what
    :func:`add_tracked_without_positions` reads of them and their account (a stopped
    account without positions has nothing to show)."""
    return (
        subscriptions.exclude(state=_STOPPED)
        .select_related("account")
        .only("user", "account__label", "last_success_at", *_ENTRY_TRACKING_FIELDS)
    )


def add_tracked_without_positions(
    entries: cache.Entries, subscriptions: Iterable[TrackingSubscription]
) -> None:
    """Add to ``entries`` the accounts of these :func:`tracked` subscriptions that hold no
    position: empty, as of their last successful poll (None before the first), with their
    tracking state (a paused one is stale though it shows nothing)."""
    for subscription in subscriptions:
        accounts = entries.setdefault(subscription.user_id, {})
        if subscription.account_id not in accounts:
            accounts[subscription.account_id] = account_entry(
                [],
                as_of=subscription.last_success_at,
                tracking=account_tracking(subscription, label=subscription.account.label),
            )


def entries_by_account(positions: list[Position]) -> cache.Entries:
    """Cache entries for these positions (``account__tracking`` loaded), as of their last
    poll."""
    grouped: dict[tuple[int, int], list[Position]] = {}
    for position in positions:
        grouped.setdefault((position.user_id, position.account_id), []).append(position)
    entries: cache.Entries = {}
    for (user_id, account_id), rows in grouped.items():
        account = rows[0].account
        payload = positions_payload(rows, label=account.label)
        entries.setdefault(user_id, {})[account_id] = account_entry(
            payload,
            as_of=max(p.seen_at for p in rows),
            tracking=account_tracking(_subscription(account), label=account.label),
        )
    return entries


def _store_positions(
    succeeded: list[PollOutcome], *, labels: dict[int, str], now: datetime
) -> tuple[dict[int, list[Position]], list[PositionEvent]]:
    """Upsert the polled accounts' positions and snapshots; return them by account and the
    events made (stored)."""
    account_ids = [o.account_id for o in succeeded]
    if not account_ids:
        return {}, []
    existing = {
        (p.account_id, p.symbol, p.side): p
        for p in Position.objects.filter(account_id__any_of=account_ids)
    }
    snapshot_every = timedelta(seconds=settings.POSITIONS_SNAPSHOT_EVERY_SECONDS)
    rows: list[Position] = []
    snapshots: list[PositionSnapshot] = []
    current: dict[int, list[Position]] = {}
    for outcome in succeeded:
        wanted = set(outcome.symbols)
        for reported in outcome.positions or ():
            if wanted and reported.symbol not in wanted:
                continue
            row = _position_row(outcome, reported, now=now)
            old = existing.get((row.account_id, row.symbol, row.side))
            if (
                old is None
                or any(getattr(old, f) != getattr(row, f) for f in _STRUCTURAL)
                or old.snapshot_at is None
                or old.snapshot_at <= now - snapshot_every
            ):
                snapshots.append(_snapshot(row, label=labels[row.account_id], taken_at=now))
            else:
                row.snapshot_at = old.snapshot_at
            rows.append(row)
            current.setdefault(row.account_id, []).append(row)
    if rows:
        Position.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["account", "symbol", "side"],
            update_fields=_UPDATED_FIELDS,
        )
    vanished = Position.objects.filter(account_id__any_of=account_ids, seen_at__lt=now)
    snapshots += [
        _snapshot(p, label=labels[p.account_id], taken_at=now, closed=True) for p in vanished
    ]
    vanished.delete()
    if snapshots:
        PositionSnapshot.objects.bulk_create(snapshots)
    events = _events(succeeded, existing.values(), current, labels=labels, now=now)
    if events:
        PositionEvent.objects.bulk_create(events)
    return current, events


def _events(
    succeeded: list[PollOutcome],
    existing: Iterable[Position],
    current: dict[int, list[Position]],
    *,
    labels: dict[int, str],
    now: datetime,
) -> list[PositionEvent]:
    """Each non-baseline account's events between its rows before and after this poll."""
    before: dict[int, list[Position]] = {}
    for position in existing:
        before.setdefault(position.account_id, []).append(position)
    events: list[PositionEvent] = []
    for outcome in succeeded:
        if outcome.baseline:
            continue
        account_id = outcome.account_id
        events += derive_events(
            before.get(account_id, []),
            current.get(account_id, []),
            label=labels[account_id],
            at=now,
        )
    return events


def _position_row(outcome: PollOutcome, reported: FuturesPosition, *, now: datetime) -> Position:
    return Position(
        user_id=outcome.user_id,
        account_id=outcome.account_id,
        exchange_id=reported.id,
        symbol=reported.symbol,
        side=reported.side.value,
        size=reported.size,
        entry_price=reported.entry_price,
        mark_price=reported.mark_price,
        liquidation_price=reported.liquidation_price,
        leverage=reported.leverage,
        margin_mode=reported.margin_mode.value,
        unrealised_pnl=reported.unrealised_pnl,
        realised_pnl=reported.realised_pnl,
        position_margin=reported.position_margin,
        settle_currency=reported.settle_currency,
        opened_at=reported.opened_at,
        updated_at=reported.updated_at or now,
        seen_at=now,
        snapshot_at=now,
    )


def _snapshot(
    position: Position, *, label: str, taken_at: datetime, closed: bool = False
) -> PositionSnapshot:
    return PositionSnapshot(
        user_id=position.user_id,
        account_id=position.account_id,
        account_label=label,
        symbol=position.symbol,
        side=position.side,
        size=position.size,
        entry_price=position.entry_price,
        mark_price=position.mark_price,
        liquidation_price=position.liquidation_price,
        leverage=position.leverage,
        unrealised_pnl=position.unrealised_pnl,
        realised_pnl=position.realised_pnl,
        closed=closed,
        taken_at=taken_at,
    )


def _update_subscriptions(outcomes: list[PollOutcome], *, now: datetime) -> None:
    """Record each subscription's poll: successes in one statement, failures row by row.

    ``last_polled_at`` is when the answer was recorded (at most one flush after it came).
    """
    succeeded = [o.subscription_id for o in outcomes if o.error is None]
    if succeeded:
        # The common case in one UPDATE: bulk_update's per-row CASE expressions cost more
        # CPU than the KuCoin request itself (measured: 3 ms per poll).
        TrackingSubscription.objects.filter(id__any_of=succeeded).update(
            last_polled_at=now,
            last_success_at=now,
            consecutive_failures=0,
            last_error_kind="",
            last_error_message="",
            last_error_at=None,
            events_baseline_pending=False,
            updated_at=now,
        )
    failed = [o for o in outcomes if o.error is not None]
    if failed:
        _record_failures(failed, now=now)


def _record_failures(outcomes: list[PollOutcome], *, now: datetime) -> None:
    """Record failed polls with conditional UPDATEs, never by writing back rows read earlier.

    A user may stop tracking (or replace the key) while their poll fails: a read-then-write
    would put back the ``state`` and ``next_poll_at`` it read and resume a stopped tracking.
    Each UPDATE here computes from the row as it is when written (PostgreSQL re-reads a row
    a concurrent transaction changed), so a stop always wins: only an ``active`` row pauses,
    and ``next_poll_at`` only moves later. Polls that failed alike (KuCoin down: all of
    them) share one statement. A pause goes to the audit log of each account whose tracking
    it paused (read under the rows' locks, so a concurrent stop is never called a pause).
    """
    groups: dict[tuple[str, str, bool, datetime | None], list[int]] = {}
    account_verdicts: dict[int, tuple[ExchangeAccount.Status, str]] = {}
    paused: list[tuple[int, dict[str, str]]] = []
    for outcome in outcomes:
        error = outcome.error
        if error is None:
            continue
        # Polling again cannot help until the user replaces or fixes the key.
        pause = isinstance(error, UpstreamInvalidCredentials | UpstreamPermissionDenied)
        resume_at = None
        if pause:
            status = (
                ExchangeAccount.Status.INVALID
                if isinstance(error, UpstreamInvalidCredentials)
                else ExchangeAccount.Status.INSUFFICIENT_PERMISSION
            )
            account_verdicts[outcome.account_id] = (
                status,
                f"KuCoin refused the key: {error.message}",
            )
        elif isinstance(error, UpstreamRateLimited) and error.retry_after:
            # Back this user off until KuCoin's window resets; nobody else waits.
            resume_at = now + timedelta(seconds=error.retry_after)
        key = (error.kind, error.message[:2000], pause, resume_at)
        groups.setdefault(key, []).append(outcome.subscription_id)
    for (kind, message, pause, resume_at), ids in groups.items():
        changes: dict[str, Any] = {
            "last_polled_at": now,
            "updated_at": now,
            "consecutive_failures": F("consecutive_failures") + 1,
            "last_error_kind": kind,
            "last_error_message": message,
            "last_error_at": now,
        }
        if pause:
            # Inside record_poll_outcomes' transaction: the locks hold until the UPDATE.
            for user_id, label in (
                TrackingSubscription.objects.select_for_update(of=("self",))
                .filter(id__any_of=ids, state=TrackingSubscription.State.ACTIVE)
                .values_list("user_id", "account__label")
            ):
                paused.append((user_id, {"account": label, "reason": message, "error": kind}))
            changes["state"] = Case(
                When(state=TrackingSubscription.State.ACTIVE, then=Value(_PAUSED)),
                default=F("state"),
            )
        if resume_at is not None:
            changes["next_poll_at"] = Greatest(F("next_poll_at"), Value(resume_at))
        TrackingSubscription.objects.filter(id__any_of=ids).update(**changes)
    for account_id, (status, message) in account_verdicts.items():
        logger.info("tracking of exchange account %s paused: %s", account_id, status)
        ExchangeAccount.objects.filter(id=account_id).update(
            status=status, status_message=message, checked_at=now
        )
    record_service_events(kind=Kind.TRACKING_PAUSED, events=paused)
    if paused:
        # Their cached positions say "active": the next read refills them as paused.
        users = {user_id for user_id, _ in paused}
        transaction.on_commit(lambda: cache.drop_users(users))
