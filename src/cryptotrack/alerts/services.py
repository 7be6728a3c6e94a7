"""What users do with alerts: create, change, delete and re-arm them.

CoinGecko is asked (coin and currency known? current price for the direction?) before
any transaction opens, so no database lock is ever held across an HTTP call.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cryptotrack.accounts.models import User
from cryptotrack.alerts import coingecko, selectors
from cryptotrack.alerts.models import Alert
from cryptotrack.core.exceptions import ApplicationError, Conflict


class TooManyAlerts(ApplicationError):
    code = "too_many_alerts"


class EmailRequired(ApplicationError):
    code = "email_required"


def alert_create(
    *,
    user: User,
    coin: str,
    currency: str,
    target_price: Decimal,
    direction: str | None = None,
) -> Alert:
    """Create an active alert; without ``direction``, infer it from the current price
    (a target above the price waits for a rise, below it for a fall)."""
    coin, currency = coin.strip().lower(), currency.strip().lower()
    _require_email(user)
    _require_room(user)
    _require_known_pair(coin, currency)
    if direction is None:
        direction = _inferred_direction(coin, currency, target_price)
    with transaction.atomic():
        _lock(user)
        _require_room(user)
        return Alert.objects.create(
            user=user,
            coin=coin,
            currency=currency,
            target_price=target_price,
            direction=direction,
        )


def alert_update(
    *,
    user: User,
    alert_id: int,
    coin: str | None = None,
    currency: str | None = None,
    target_price: Decimal | None = None,
    direction: str | None = None,
) -> Alert:
    """Change what an alert watches; its status stays (re-arming is ``alert_activate``)."""
    alert = selectors.alert_get(user=user, alert_id=alert_id)
    _require_not_deleted(alert)
    new_coin = coin.strip().lower() if coin is not None else alert.coin
    new_currency = currency.strip().lower() if currency is not None else alert.currency
    if (new_coin, new_currency) != (alert.coin, alert.currency):
        _require_known_pair(new_coin, new_currency)
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        _require_not_deleted(alert)
        alert.coin, alert.currency = new_coin, new_currency
        if target_price is not None:
            alert.target_price = target_price
        if direction is not None:
            alert.direction = direction
        alert.save()
    return alert


def alert_delete(*, user: User, alert_id: int) -> None:
    """Soft-delete: the alert is kept as ``deleted`` (readable, listed only on request) and
    no longer checked; an email still owed for an earlier crossing is not sent."""
    alert = selectors.alert_get(user=user, alert_id=alert_id)
    now = timezone.now()
    Alert.objects.filter(pk=alert.pk).exclude(status=Alert.Status.DELETED).update(
        status=Alert.Status.DELETED, deleted_at=now, updated_at=now
    )


def alert_activate(*, user: User, alert_id: int) -> Alert:
    """Re-arm a triggered or sleeping alert (an active one stays as it is). 409 if deleted."""
    selectors.alert_get(user=user, alert_id=alert_id)
    with transaction.atomic():
        _lock(user)
        alert = Alert.objects.select_for_update().get(pk=alert_id)
        _require_not_deleted(alert)
        if alert.status == Alert.Status.ACTIVE:
            return alert
        _require_room(user)
        alert.status = Alert.Status.ACTIVE
        alert.triggered_at = None
        alert.triggered_price = None
        alert.save(update_fields=["status", "triggered_at", "triggered_price", "updated_at"])
    return alert


def _require_email(user: User) -> None:
    if not user.email:
        raise EmailRequired(
            "Your account has no email address, and alerts are delivered by email: "
            "add one to your account first."
        )


def _require_room(user: User) -> None:
    limit = settings.ALERTS_MAX_PER_USER
    if selectors.active_alert_count(user=user) >= limit:
        raise TooManyAlerts(
            f"You already have {limit} active alerts, the most allowed: "
            "delete one or wait for one to fire first."
        )


def _require_not_deleted(alert: Alert) -> None:
    if alert.status == Alert.Status.DELETED:
        raise Conflict(f"Alert {alert.pk} is deleted; create a new alert instead.")


def _require_known_pair(coin: str, currency: str) -> None:
    errors: dict[str, list[str]] = {}
    if not coingecko.is_known_coin(coin):
        errors["coin"] = [
            f"'{coin}' is not a CoinGecko coin id: use the id from CoinGecko's coin list, "
            "e.g. 'bitcoin' or 'ethereum'."
        ]
    if not coingecko.is_known_currency(currency):
        errors["currency"] = [
            f"CoinGecko does not price coins in '{currency}': use one of its supported "
            "vs-currencies, e.g. 'usd', 'eur' or 'btc'."
        ]
    if errors:
        raise ValidationError(errors)


def _inferred_direction(coin: str, currency: str, target_price: Decimal) -> str:
    price = coingecko.current_price(coin, currency)
    if price is None:
        raise ValidationError(
            {
                "direction": [
                    f"CoinGecko has no {coin} price in {currency} right now, so the direction "
                    "cannot be inferred: give 'above' or 'below'."
                ]
            }
        )
    return Alert.Direction.ABOVE if target_price >= price else Alert.Direction.BELOW


def _lock(user: User) -> None:
    """Serialise a user's alert writes, so two requests cannot both take the last free slot."""
    User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()
