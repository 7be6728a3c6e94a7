"""The monitor: price every watched pair in one batch, claim the crossed alerts, queue emails.

One check costs: one loose index scan for the distinct pairs, one CoinGecko request (the
client batches every coin and currency), and per pair and direction one UPDATE over an
index range of the alerts that crossed, so it grows with the crossed alerts, not with all.

The UPDATE only takes rows still ``active`` (``WHERE status = 'active' ... RETURNING``):
when two monitors run at once, PostgreSQL makes the second wait for the first's row locks
and then re-check the condition, so each crossing is claimed by exactly one of them. The
outbox rows are written in the same transaction, and their tasks are queued only after it
commits (``on_commit``), so a task never looks for a row that is not there yet.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from cryptotrack.alerts import coingecko, notifications, position_notifications, selectors
from cryptotrack.alerts.models import Alert, AlertNotification
from cryptotrack.core import metrics
from cryptotrack.exchanges.errors import UpstreamError
from cryptotrack.notify import deliveries

logger = logging.getLogger(__name__)

Enqueue = Callable[[list[int]], None]


@dataclass
class CheckReport:
    """What one check did, and how long each step took (seconds)."""

    pairs: int = 0
    priced: int = 0
    triggered: int = 0
    batches: int = 0
    swept: int = 0
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)


def check_alerts(
    *,
    enqueue: Enqueue | None = None,
    enqueue_firings: Enqueue | None = None,
    enqueue_deliveries: Enqueue | None = None,
) -> CheckReport:
    """Run one check: claim every active alert whose condition holds at the current price
    (``above``: price >= target, ``below``: price <= target), write one outbox row per
    claimed alert, and queue the rows' emails in batches once committed.

    ``enqueue`` receives each batch of notification ids (default: one
    ``send_alert_notifications`` task per batch). A CoinGecko failure ends the check
    quietly (logged): the next check, one interval later, tries again. Given
    ``enqueue_firings`` (the task does), the check also sweeps the position alert outbox,
    and given ``enqueue_deliveries`` the deliveries to notification channels (whose tasks
    it also queues; default: one ``send_deliveries`` task per batch).
    """
    enqueue = enqueue or notifications.enqueue_delivery
    report = CheckReport()
    started = time.perf_counter()
    report.swept = notifications.requeue_stalled(enqueue=enqueue)
    if enqueue_firings is not None:
        report.swept += position_notifications.requeue_stalled(enqueue=enqueue_firings)
    if enqueue_deliveries is not None:
        report.swept += deliveries.requeue_stalled(enqueue=enqueue_deliveries)
    report.timings["sweep"] = _lap(started)

    mark = time.perf_counter()
    pairs = selectors.active_pairs()
    report.pairs = len(pairs)
    report.timings["pairs"] = _lap(mark)
    if not pairs:
        metrics.ALERT_CHECKS.labels(outcome="idle").inc()
        return report

    mark = time.perf_counter()
    try:
        prices = coingecko.fetch_prices(pairs)
    except UpstreamError as exc:
        logger.warning("Alert check skipped: CoinGecko prices unavailable (%s: %s)", exc.kind, exc)
        report.error = exc.kind
        metrics.ALERT_CHECKS.labels(outcome="skipped").inc()
        return report
    report.priced = len(prices)
    report.timings["prices"] = _lap(mark)

    mark = time.perf_counter()
    now = timezone.now()
    for (coin, currency), price in sorted(prices.items()):
        with transaction.atomic():
            ids = trigger_crossed(coin=coin, currency=currency, price=price, now=now)
            if ids:
                routed = deliveries.route_price_firings(ids)
                report.batches += deliveries.queue_routed(
                    routed, enqueue_emails=enqueue, enqueue=enqueue_deliveries
                )
        report.triggered += len(ids)
    report.timings["trigger_and_enqueue"] = _lap(mark)
    report.timings["total"] = _lap(started)
    metrics.ALERT_CHECKS.labels(outcome="checked").inc()
    metrics.ALERTS_TRIGGERED.inc(report.triggered)
    if report.triggered:
        logger.info("Alert check: %d alerts crossed over %d pairs", report.triggered, report.pairs)
    return report


def trigger_crossed(*, coin: str, currency: str, price: Decimal, now: datetime) -> list[int]:
    """Mark the pair's crossed active alerts ``triggered`` at ``price`` and add their outbox
    rows; return the new notification ids. Call inside a transaction."""
    ids: list[int] = []
    for direction, comparison in ((Alert.Direction.ABOVE, "<="), (Alert.Direction.BELOW, ">=")):
        params = _Crossing(coin, currency, str(direction), comparison, price, now)
        if connection.vendor == "postgresql":
            ids += _trigger_postgres(params)
        else:
            ids += _trigger_portable(params)
    return ids


@dataclass(frozen=True)
class _Crossing:
    coin: str
    currency: str
    direction: str
    comparison: str  # target_price <comparison> price: the alert's condition holds
    price: Decimal
    now: datetime


def _claim_sql(crossing: _Crossing) -> tuple[str, list[Any]]:
    table = connection.ops.quote_name(Alert._meta.db_table)
    sql = (
        f"UPDATE {table} SET status = %s, triggered_at = %s, triggered_price = %s, "  # noqa: S608
        "updated_at = %s "
        "WHERE status = %s AND coin = %s AND currency = %s AND direction = %s "
        f"AND target_price {crossing.comparison} %s "
        "RETURNING id, target_price"
    )
    params: list[Any] = [
        Alert.Status.TRIGGERED.value,
        _db_time(crossing.now),
        _db_price(crossing.price),
        _db_time(crossing.now),
        Alert.Status.ACTIVE.value,
        crossing.coin,
        crossing.currency,
        crossing.direction,
        _db_price(crossing.price),
    ]
    return sql, params


def _trigger_postgres(crossing: _Crossing) -> list[int]:
    # One statement: claim and write the outbox rows without a round trip per row.
    claim, claim_params = _claim_sql(crossing)
    outbox = connection.ops.quote_name(AlertNotification._meta.db_table)
    sql = (
        f"WITH crossed AS ({claim}) "  # noqa: S608 - table names from _meta, values as params
        f"INSERT INTO {outbox} (alert_id, coin, currency, direction, target_price, "
        "triggered_price, triggered_at, state, attempts, due_at, last_error, created_at) "
        "SELECT id, %s, %s, %s, target_price, %s, %s, %s, 0, %s, '', %s FROM crossed "
        "ORDER BY id RETURNING id"
    )
    params = [
        *claim_params,
        crossing.coin,
        crossing.currency,
        crossing.direction,
        _db_price(crossing.price),
        _db_time(crossing.now),
        AlertNotification.State.PENDING.value,
        _db_time(crossing.now),
        _db_time(crossing.now),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _trigger_portable(crossing: _Crossing) -> list[int]:
    # SQLite (the embedded default): UPDATE ... RETURNING, then the outbox rows in bulk.
    sql, params = _claim_sql(crossing)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        claimed = cursor.fetchall()
    rows = AlertNotification.objects.bulk_create(
        [
            AlertNotification(
                alert_id=alert_id,
                coin=crossing.coin,
                currency=crossing.currency,
                direction=crossing.direction,
                target_price=Decimal(str(target)),
                triggered_price=crossing.price,
                triggered_at=crossing.now,
                due_at=crossing.now,
            )
            for alert_id, target in sorted(claimed)
        ],
        batch_size=500,
    )
    return [row.pk for row in rows]


def _db_time(value: datetime) -> Any:
    # Raw SQL gets no field adaptation: store times exactly as the ORM does (SQLite keeps
    # them as text, so another format would break equality and ordering).
    return connection.ops.adapt_datetimefield_value(value)


def _db_price(value: Decimal) -> Any:
    return connection.ops.adapt_decimalfield_value(value)


def _lap(since: float) -> float:
    return round(time.perf_counter() - since, 6)
