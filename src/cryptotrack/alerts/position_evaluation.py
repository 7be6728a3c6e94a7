"""Position alerts evaluated right after a poll is recorded, in the transaction that records it.

``positions.storage`` sends ``positions_recorded`` with the flush's current positions (per
account), its events, and the users of the flush that may have position alerts. For those
users only: one query for their active alerts, one for the fired states of the flush's
accounts, then in memory per position (account, symbol, side) each alert covers:

* a threshold alert fires when its condition starts to hold for a position that is armed
  (no ``PositionAlertState`` row), and the row is written; it re-arms (the row goes) when
  the value moves back past the threshold by the hysteresis; a closed position's rows go;
* an event alert fires once per matching event (unique per alert and event).

Firings and state changes are written in bulk; the firings' emails are queued once the
transaction commits. A flush with no user holding a position alert costs no query.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from django.db import DatabaseError, transaction
from django.utils import timezone

from cryptotrack.alerts.models import (
    VALUE_DECIMAL_PLACES,
    VALUE_MAX_DIGITS,
    PositionAlert,
    PositionAlertFiring,
    PositionAlertState,
)
from cryptotrack.alerts.tasks import enqueue_position_alert_firings
from cryptotrack.core import metrics
from cryptotrack.notify import deliveries
from cryptotrack.positions import figures
from cryptotrack.positions.models import Position, PositionEvent

logger = logging.getLogger(__name__)

Kind = PositionAlert.Kind
Direction = PositionAlert.Direction
Enqueue = Callable[[list[int]], None]
StateKey = tuple[int, int, str, str]  # alert, account, symbol, side

_QUANTUM = Decimal(1).scaleb(-VALUE_DECIMAL_PLACES)
_LARGEST = Decimal(10) ** (VALUE_MAX_DIGITS - VALUE_DECIMAL_PLACES) - 1


def position_value(alert: PositionAlert, position: Position) -> Decimal | None:
    """What a threshold alert compares for a position; ``None`` when it cannot be known
    (no liquidation price, no margin): then the alert neither fires nor re-arms."""
    try:
        # The same figures as the positions the user reads (positions.figures).
        if alert.kind == Kind.LIQUIDATION_DISTANCE:
            value = figures.liquidation_distance_percent(
                mark=position.mark_price, liquidation=position.liquidation_price
            )
        elif alert.kind == Kind.PNL_PERCENT:
            value = figures.roe_percent(
                unrealised_pnl=position.unrealised_pnl, margin=position.position_margin
            )
        elif alert.kind == Kind.PNL_AMOUNT:
            value = Decimal(position.unrealised_pnl)
        else:
            return None
    except (InvalidOperation, ArithmeticError):
        return None
    if value is None:
        return None
    # Stored like the positions' own figures: 10 decimals, at most 20 integer digits.
    with localcontext(prec=VALUE_MAX_DIGITS + 2):
        return max(-_LARGEST, min(_LARGEST, value)).quantize(_QUANTUM)


def fires_below(alert: PositionAlert) -> bool:
    """Whether the alert fires at or below its threshold (a liquidation distance always does)."""
    return alert.kind == Kind.LIQUIDATION_DISTANCE or alert.direction == Direction.BELOW


def _threshold_of(alert: PositionAlert) -> Decimal:
    if alert.threshold is None:
        raise ValueError(f"position alert {alert.pk} ({alert.kind}) has no threshold")
    return Decimal(str(alert.threshold))


def condition_holds(alert: PositionAlert, value: Decimal) -> bool:
    threshold = _threshold_of(alert)
    return value <= threshold if fires_below(alert) else value >= threshold


def rearms(alert: PositionAlert, value: Decimal) -> bool:
    """Whether ``value`` has moved back past the threshold by the hysteresis band
    (``|threshold| * hysteresis_percent / 100``), strictly."""
    threshold = _threshold_of(alert)
    band = abs(threshold) * alert.hysteresis_percent / 100
    if fires_below(alert):
        return value > threshold + band
    return value < threshold - band


def covers(alert: PositionAlert, *, account_id: int | None, symbol: str) -> bool:
    """Whether the alert watches this account's symbol."""
    return (alert.account_id is None or alert.account_id == account_id) and (
        not alert.symbol or alert.symbol == symbol
    )


@dataclass
class Evaluation:
    """What one flush's evaluation decided: rows to write and state rows to drop."""

    firings: list[PositionAlertFiring] = field(default_factory=list)
    fired: list[PositionAlertState] = field(default_factory=list)
    rearmed: list[int] = field(default_factory=list)


def evaluate(
    alerts: Iterable[PositionAlert],
    *,
    positions: dict[int, list[Position]],
    events: Iterable[PositionEvent],
    states: dict[StateKey, int],
    labels: dict[int, str],
    now: datetime,
) -> Evaluation:
    """Decide, without a query, what these active alerts do after a flush.

    ``positions``: the flush's accounts' current positions; ``states``: the fired states
    of those accounts (key -> row id); ``labels``: the accounts' labels.
    """
    by_user: dict[int, list[PositionAlert]] = {}
    for alert in alerts:
        by_user.setdefault(alert.user_id, []).append(alert)
    result = Evaluation()
    live: set[StateKey] = set()
    for account_id, rows in positions.items():
        for position in rows:
            for alert in by_user.get(position.user_id, []):
                if alert.kind == Kind.EVENT or not covers(
                    alert, account_id=account_id, symbol=position.symbol
                ):
                    continue
                key = (alert.pk, account_id, position.symbol, position.side)
                live.add(key)
                _threshold(alert, position, key, states, labels, now, result)
    # A closed position (or one no alert covers any more) forgets its state.
    result.rearmed += [row_id for key, row_id in states.items() if key not in live]
    current = {(p.account_id, p.symbol, p.side): p for rows in positions.values() for p in rows}
    for event in events:
        for alert in by_user.get(event.user_id, []):
            if (
                alert.kind == Kind.EVENT
                and event.kind in alert.events
                and covers(alert, account_id=event.account_id, symbol=event.symbol)
            ):
                still_open = current.get((event.account_id or 0, event.symbol, event.side))
                result.firings.append(_event_firing(alert, event, still_open))
    return result


def _threshold(
    alert: PositionAlert,
    position: Position,
    key: StateKey,
    states: dict[StateKey, int],
    labels: dict[int, str],
    now: datetime,
    result: Evaluation,
) -> None:
    value = position_value(alert, position)
    if value is None:
        return
    fired = states.get(key)
    if fired is None and condition_holds(alert, value):
        result.firings.append(_threshold_firing(alert, position, value, labels, now))
        result.fired.append(
            PositionAlertState(
                alert_id=alert.pk,
                account_id=position.account_id,
                symbol=position.symbol,
                side=position.side,
                fired_at=now,
            )
        )
    elif fired is not None and rearms(alert, value):
        result.rearmed.append(fired)


def _threshold_firing(
    alert: PositionAlert,
    position: Position,
    value: Decimal,
    labels: dict[int, str],
    now: datetime,
) -> PositionAlertFiring:
    return PositionAlertFiring(
        alert_id=alert.pk,
        account_id=position.account_id,
        account_label=labels.get(position.account_id, ""),
        symbol=position.symbol,
        side=position.side,
        size=position.size,
        kind=alert.kind,
        value=value,
        threshold=alert.threshold,
        direction=Direction.BELOW if fires_below(alert) else Direction.ABOVE,
        mark_price=position.mark_price,
        liquidation_price=position.liquidation_price,
        unrealised_pnl=position.unrealised_pnl,
        settle_currency=position.settle_currency,
        fired_at=now,
        due_at=now,
    )


def _event_firing(
    alert: PositionAlert, event: PositionEvent, position: Position | None
) -> PositionAlertFiring:
    return PositionAlertFiring(
        alert_id=alert.pk,
        account_id=event.account_id,
        account_label=event.account_label,
        symbol=event.symbol,
        side=event.side,
        size=event.size_after if event.kind != PositionEvent.Kind.CLOSED else event.size_before,
        kind=alert.kind,
        event_id=event.pk,
        event_kind=event.kind,
        mark_price=event.mark_price,
        liquidation_price=position.liquidation_price if position else None,
        unrealised_pnl=position.unrealised_pnl if position else None,
        settle_currency=event.settle_currency,
        fired_at=event.at,
        due_at=event.at,
    )


def evaluate_flush(
    *,
    positions: dict[int, list[Position]],
    events: list[PositionEvent],
    user_ids: set[int],
    labels: dict[int, str],
    enqueue: Enqueue | None = None,
) -> list[int]:
    """Evaluate the active position alerts of ``user_ids`` after a recorded flush; write
    the result; queue the firings' emails on commit. Call inside the flush's transaction.

    Returns the new firing ids. A failure here is logged and undone (a savepoint), and
    never fails the flush: the positions stay recorded.
    """
    if not user_ids:
        return []
    enqueue = enqueue or enqueue_position_alert_firings
    try:
        with transaction.atomic():
            return _evaluate_and_write(positions, events, user_ids, labels, enqueue)
    except (DatabaseError, ArithmeticError, ValueError):
        logger.exception("Position alerts of users %s not evaluated", sorted(user_ids)[:20])
        return []


def _evaluate_and_write(
    positions: dict[int, list[Position]],
    events: list[PositionEvent],
    user_ids: set[int],
    labels: dict[int, str],
    enqueue: Enqueue,
) -> list[int]:
    alerts = list(
        PositionAlert.objects.filter(user_id__in=user_ids, status=PositionAlert.Status.ACTIVE)
    )
    if not alerts:
        return []
    states: dict[StateKey, int] = {}
    threshold_ids = [a.pk for a in alerts if a.kind != Kind.EVENT]
    if threshold_ids and positions:
        states = {
            (alert_id, account_id, symbol, side): row_id
            for row_id, alert_id, account_id, symbol, side in PositionAlertState.objects.filter(
                alert_id__in=threshold_ids, account_id__in=list(positions)
            ).values_list("id", "alert_id", "account_id", "symbol", "side")
        }
    result = evaluate(
        alerts,
        positions=positions,
        events=events,
        states=states,
        labels=labels,
        now=timezone.now(),
    )
    if result.rearmed:
        PositionAlertState.objects.filter(pk__in=result.rearmed).delete()
    if result.fired:
        PositionAlertState.objects.bulk_create(result.fired, ignore_conflicts=True)
    if not result.firings:
        return []
    firings = PositionAlertFiring.objects.bulk_create(result.firings)
    for firing in firings:
        metrics.POSITION_ALERTS_FIRED.labels(kind=firing.kind).inc()
    ids = [firing.pk for firing in firings]
    deliveries.queue_routed(deliveries.route_position_firings(ids), enqueue_emails=enqueue)
    return ids


def on_positions_recorded(
    sender: Any,
    *,
    positions: dict[int, list[Position]],
    events: list[PositionEvent],
    alert_user_ids: set[int] | None = None,
    labels: dict[int, str] | None = None,
    **kwargs: Any,
) -> None:
    """The ``positions_recorded`` receiver (connected in ``AlertsConfig.ready``)."""
    evaluate_flush(
        positions=positions,
        events=events,
        user_ids=alert_user_ids or set(),
        labels=labels or {},
    )
