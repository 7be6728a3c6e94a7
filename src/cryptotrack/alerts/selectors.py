"""Reads of alerts: a user's list and one alert, the pairs the monitor must price, and
position alerts with their firings."""

from __future__ import annotations

from django.db import connection
from django.db.models import QuerySet

from cryptotrack.accounts.models import User
from cryptotrack.alerts.models import (
    Alert,
    AlertNotification,
    PositionAlert,
    PositionAlertFiring,
)
from cryptotrack.core.exceptions import NotFound


def alert_list(
    *, user: User, status: str | None = None, coin: str | None = None
) -> QuerySet[Alert]:
    """The user's alerts, newest first; deleted ones only when ``status="deleted"`` is asked."""
    alerts = Alert.objects.filter(user=user).prefetch_related("channels")
    # Deleted alerts are kept for the record but listed only when asked for by status.
    alerts = alerts.filter(status=status) if status else alerts.exclude(status="deleted")
    if coin:
        alerts = alerts.filter(coin=coin.strip().lower())
    return alerts


def alert_get(*, user: User, alert_id: int) -> Alert:
    """The user's alert (deleted ones too); another user's alert is NotFound, like a missing one."""
    alert = Alert.objects.filter(user=user, pk=alert_id).first()
    if alert is None:
        raise NotFound(f"No alert {alert_id}.")
    return alert


def alert_firings(*, user: User, alert_id: int) -> QuerySet[AlertNotification]:
    """The crossings of the user's price alert (each owes one email), newest first."""
    alert = alert_get(user=user, alert_id=alert_id)
    return AlertNotification.objects.filter(alert=alert).order_by("-triggered_at", "-id")


def active_alert_count(*, user: User) -> int:
    return Alert.objects.filter(user=user, status=Alert.Status.ACTIVE).count()


# A loose index scan: one index probe per distinct pair instead of reading every active
# alert, so the monitor's first query stays in milliseconds with a million alerts.
_ACTIVE_PAIRS_POSTGRES = """
WITH RECURSIVE pairs(coin, currency) AS (
    (SELECT coin, currency FROM {table}
     WHERE status = %s ORDER BY coin, currency LIMIT 1)
  UNION ALL
    SELECT nxt.coin, nxt.currency FROM pairs CROSS JOIN LATERAL (
        SELECT a.coin, a.currency FROM {table} a
        WHERE a.status = %s AND (a.coin, a.currency) > (pairs.coin, pairs.currency)
        ORDER BY a.coin, a.currency LIMIT 1
    ) nxt
)
SELECT coin, currency FROM pairs
"""


def active_pairs() -> list[tuple[str, str]]:
    """The distinct ``(coin, currency)`` pairs that have at least one active alert, sorted."""
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(Alert._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                _ACTIVE_PAIRS_POSTGRES.format(table=table),
                [Alert.Status.ACTIVE, Alert.Status.ACTIVE],
            )
            return [(coin, currency) for coin, currency in cursor.fetchall()]
    rows = (
        Alert.objects.filter(status=Alert.Status.ACTIVE)
        .order_by("coin", "currency")
        .values_list("coin", "currency")
        .distinct()
    )
    return list(rows)


def position_alert_list(*, user: User, status: str | None = None) -> QuerySet[PositionAlert]:
    """The user's position alerts, newest first; deleted ones only when asked by status."""
    alerts = (
        PositionAlert.objects.filter(user=user)
        .select_related("account")
        .prefetch_related("channels")
    )
    return alerts.filter(status=status) if status else alerts.exclude(status="deleted")


def position_alert_get(*, user: User, alert_id: int) -> PositionAlert:
    """The user's position alert (deleted ones too); another user's is NotFound."""
    alert = PositionAlert.objects.filter(user=user, pk=alert_id).select_related("account").first()
    if alert is None:
        raise NotFound(f"No position alert {alert_id}.")
    return alert


def position_alert_firings(*, user: User, alert_id: int) -> QuerySet[PositionAlertFiring]:
    """The firings of the user's position alert, newest first."""
    alert = position_alert_get(user=user, alert_id=alert_id)
    return PositionAlertFiring.objects.filter(alert=alert).order_by("-fired_at", "-id")


def kept_position_alert_count(*, user: User) -> int:
    """Position alerts that count against the cap: every one not deleted."""
    return PositionAlert.objects.filter(user=user).exclude(status="deleted").count()
