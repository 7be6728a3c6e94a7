"""What users do with alerts (price and position alerts): create, change, delete, re-arm.

CoinGecko is asked (coin and currency known? current price for the direction?) before
any transaction opens, so no database lock is ever held across an HTTP call.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists
from django.utils import timezone

from cryptotrack.accounts.models import ExchangeAccount, User
from cryptotrack.accounts.services import exchange_account_get
from cryptotrack.alerts import coingecko, selectors
from cryptotrack.alerts.models import Alert, PositionAlert, PositionAlertState
from cryptotrack.core.exceptions import ApplicationError, Conflict, NotFound
from cryptotrack.notify.models import Channel


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
    channels: list[int] | None = None,
) -> Alert:
    """Create an active alert; without ``direction``, infer it from the current price
    (a target above the price waits for a rise, below it for a fall). ``channels``: where
    its firings go (the user's channel ids); none: by email."""
    coin, currency = coin.strip().lower(), currency.strip().lower()
    _require_email(user)
    _require_room(user)
    _require_own_channels(user, channels)
    _require_known_pair(coin, currency)
    if direction is None:
        direction = _inferred_direction(coin, currency, target_price)
    with transaction.atomic():
        _lock(user)
        _require_room(user)
        alert = Alert.objects.create(
            user=user,
            coin=coin,
            currency=currency,
            target_price=target_price,
            direction=direction,
        )
        alert.channels.set(channels or [])
    return alert


def alert_update(
    *,
    user: User,
    alert_id: int,
    coin: str | None = None,
    currency: str | None = None,
    target_price: Decimal | None = None,
    direction: str | None = None,
    channels: list[int] | None = None,
) -> Alert:
    """Change what an alert watches, or where it is delivered (``channels``, the whole list);
    its status stays (re-arming is ``alert_activate``)."""
    alert = selectors.alert_get(user=user, alert_id=alert_id)
    _require_not_deleted(alert)
    _require_own_channels(user, channels)
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
        if channels is not None:
            alert.channels.set(channels)
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


def _require_own_channels(user: User, channel_ids: list[int] | None) -> None:
    """Each id must be one of the user's notification channels (400 on ``channels``)."""
    if not channel_ids:
        return
    owned = set(Channel.objects.filter(user=user, pk__in=channel_ids).values_list("pk", flat=True))
    if missing := sorted(set(channel_ids) - owned):
        listed = ", ".join(str(pk) for pk in missing)
        raise ValidationError(
            {"channels": [f"You have no notification channel {listed} (see /api/v1/channels)."]}
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


# -- position alerts ---------------------------------------------------------------------

PositionKind = PositionAlert.Kind
# The fields each kind takes (API names), and of those the ones it cannot do without.
_POSITION_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    PositionKind.LIQUIDATION_DISTANCE: (
        {"threshold_percent", "hysteresis_percent"},
        {"threshold_percent"},
    ),
    PositionKind.PNL_PERCENT: (
        {"threshold_percent", "direction", "hysteresis_percent"},
        {"threshold_percent", "direction"},
    ),
    PositionKind.PNL_AMOUNT: (
        {"threshold", "direction", "hysteresis_percent"},
        {"threshold", "direction"},
    ),
    PositionKind.EVENT: ({"events"}, {"events"}),
}
_SHAPE_FIELDS = ("threshold_percent", "threshold", "direction", "events", "hysteresis_percent")
MAX_PNL_PERCENT = Decimal(100_000)
MAX_PNL_AMOUNT = Decimal(10) ** 12


class TooManyPositionAlerts(ApplicationError):
    code = "too_many_position_alerts"


def position_alert_create(*, user: User, kind: str, **fields: Any) -> PositionAlert:
    """Create an active position alert of ``kind`` with the fields it takes (API names:
    ``account``, ``symbol``, ``threshold_percent`` or ``threshold``, ``direction``,
    ``events``, ``hysteresis_percent``). 400 with per-field errors for a wrong shape."""
    _require_email(user)
    channels = fields.pop("channels", None)
    _require_own_channels(user, channels)
    shape = {name: value for name, value in fields.items() if value is not None}
    _require_shape(kind, shape)
    account = _owned_account(user, fields.get("account"))
    with transaction.atomic():
        _lock(user)
        _require_position_room(user)
        alert = PositionAlert(user=user, kind=kind)
        _apply(alert, {**shape, "account": account, "symbol": fields.get("symbol") or ""})
        alert.save()
        alert.channels.set(channels or [])
        User.objects.filter(pk=user.pk).update(has_position_alerts=True)
    return alert


def position_alert_update(*, user: User, alert_id: int, changes: dict[str, Any]) -> PositionAlert:
    """Change what a position alert watches, where it is delivered (``channels``), or
    pause/resume it (``status``). A change of what it watches re-arms it for every
    position; its kind cannot change."""
    alert = selectors.position_alert_get(user=user, alert_id=alert_id)
    _require_position_alert_not_deleted(alert)
    changes = dict(changes)
    channels = changes.pop("channels", None)
    _require_own_channels(user, channels)
    if "kind" in changes and changes["kind"] != alert.kind:
        raise ValidationError({"kind": ["The kind of an alert cannot change: create another."]})
    watched = {k: v for k, v in changes.items() if k not in {"kind", "status"}}
    _require_shape(alert.kind, {**_shape_of(alert), **watched}, given=watched)
    account = _owned_account(user, watched["account"]) if watched.get("account") else None
    with transaction.atomic():
        _lock(user)
        alert = PositionAlert.objects.select_for_update().get(pk=alert.pk)
        _require_position_alert_not_deleted(alert)
        if watched:
            if "account" in watched:
                watched["account"] = account
            if "symbol" in watched:
                watched["symbol"] = watched["symbol"] or ""
            _apply(alert, watched)
            PositionAlertState.objects.filter(alert=alert).delete()
        if changes.get("status"):
            alert.status = changes["status"]
        alert.save()
        if channels is not None:
            alert.channels.set(channels)
        _refresh_position_alert_flag(user)
    return alert


def position_alert_delete(*, user: User, alert_id: int) -> None:
    """Soft-delete: kept as ``deleted`` (readable, listed only on request), no longer
    evaluated; an email still owed for an earlier firing is not sent."""
    alert = selectors.position_alert_get(user=user, alert_id=alert_id)
    now = timezone.now()
    with transaction.atomic():
        _lock(user)
        PositionAlert.objects.filter(pk=alert.pk).exclude(
            status=PositionAlert.Status.DELETED
        ).update(status=PositionAlert.Status.DELETED, deleted_at=now, updated_at=now)
        PositionAlertState.objects.filter(alert_id=alert.pk).delete()
        _refresh_position_alert_flag(user)


def position_alert_activate(*, user: User, alert_id: int) -> PositionAlert:
    """Re-arm: the alert becomes active (from paused too) and forgets every position's
    fired state, so a condition that holds fires at the next recorded poll. 409 if deleted."""
    selectors.position_alert_get(user=user, alert_id=alert_id)
    with transaction.atomic():
        _lock(user)
        alert = PositionAlert.objects.select_for_update().get(pk=alert_id)
        _require_position_alert_not_deleted(alert)
        PositionAlertState.objects.filter(alert=alert).delete()
        alert.status = PositionAlert.Status.ACTIVE
        alert.save(update_fields=["status", "updated_at"])
        User.objects.filter(pk=user.pk).update(has_position_alerts=True)
    return alert


def position_alert_shape_errors(
    kind: str, shape: dict[str, Any], *, given: dict[str, Any] | None = None
) -> dict[str, list[str]]:
    """What is wrong with these fields for an alert of ``kind`` (API names; ``given``: the
    fields the caller sent, default all of ``shape``), by field."""
    allowed, required = _POSITION_FIELDS[kind]
    given = shape if given is None else given
    errors: dict[str, list[str]] = {}
    for name in _SHAPE_FIELDS:
        if given.get(name) is not None and name not in allowed:
            takes = ", ".join(sorted(allowed))
            errors[name] = [f"A {kind} alert does not take {name}; it takes {takes}."]
        elif name in required and shape.get(name) is None:
            errors[name] = [f"A {kind} alert needs {name}."]
    threshold_name = "threshold" if kind == PositionKind.PNL_AMOUNT else "threshold_percent"
    threshold = shape.get(threshold_name)
    checkable = threshold_name in allowed and threshold_name not in errors
    if checkable and threshold is not None and (problem := _threshold_problem(kind, threshold)):
        errors[threshold_name] = [problem]
    return errors


def _threshold_problem(kind: str, threshold: Decimal) -> str | None:
    if kind == PositionKind.LIQUIDATION_DISTANCE:
        if not 0 < threshold <= 100:
            return (
                "The distance to liquidation is a percentage of the mark price: "
                "give more than 0 and at most 100."
            )
        return None
    limit = MAX_PNL_PERCENT if kind == PositionKind.PNL_PERCENT else MAX_PNL_AMOUNT
    if threshold == 0 or abs(threshold) > limit:
        return (
            f"Give a threshold other than 0 (the hysteresis is a percentage of it), "
            f"between -{limit} and {limit}."
        )
    return None


def _require_shape(
    kind: str, shape: dict[str, Any], *, given: dict[str, Any] | None = None
) -> None:
    if errors := position_alert_shape_errors(kind, shape, given=given):
        raise ValidationError(errors)


def _shape_of(alert: PositionAlert) -> dict[str, Any]:
    """The alert's current fields by their API names (only those its kind takes)."""
    allowed, _ = _POSITION_FIELDS[alert.kind]
    values = {
        "threshold_percent": alert.threshold,
        "threshold": alert.threshold,
        "direction": alert.direction or None,
        "events": alert.events or None,
        "hysteresis_percent": alert.hysteresis_percent,
    }
    return {name: value for name, value in values.items() if name in allowed}


def _apply(alert: PositionAlert, fields: dict[str, Any]) -> None:
    """Set what the alert watches from API-named fields."""
    for name, value in fields.items():
        if name in {"threshold_percent", "threshold"}:
            alert.threshold = value
        elif name == "events":
            alert.events = list(dict.fromkeys(value))
        else:
            setattr(alert, name, value)


def _owned_account(user: User, account_id: int | None) -> ExchangeAccount | None:
    if account_id is None:
        return None
    try:
        return exchange_account_get(user=user, account_id=account_id)
    except NotFound:
        raise ValidationError(
            {"account": [f"You have no exchange account {account_id}."]}
        ) from None


def _require_position_room(user: User) -> None:
    limit = settings.POSITION_ALERTS_MAX_PER_USER
    if selectors.kept_position_alert_count(user=user) >= limit:
        raise TooManyPositionAlerts(
            f"You already have {limit} position alerts, the most allowed: delete one first."
        )


def _require_position_alert_not_deleted(alert: PositionAlert) -> None:
    if alert.status == PositionAlert.Status.DELETED:
        raise Conflict(f"Position alert {alert.pk} is deleted; create a new one instead.")


def _refresh_position_alert_flag(user: User) -> None:
    """Whether the user keeps an active position alert (call under the user's lock)."""
    active = PositionAlert.objects.filter(user=user, status=PositionAlert.Status.ACTIVE)
    User.objects.filter(pk=user.pk).update(has_position_alerts=Exists(active))
