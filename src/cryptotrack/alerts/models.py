"""Price alerts, position alerts and their notification outboxes.

An ``Alert`` is what the user asked for; an ``AlertNotification`` is one crossing that owes
the user one email. The monitor writes both in one transaction (the alert goes
``active -> triggered`` with a conditional UPDATE, the outbox row is inserted beside it);
the sender walks the outbox row ``pending -> sending -> sent`` with conditional UPDATEs,
so neither two monitors nor two senders can act on the same crossing twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

# 13 integer digits (up to 1e12, the largest target we accept) and 18 decimals (CoinGecko
# prices some coins in BTC below 1e-10).
PRICE_MAX_DIGITS = 31
PRICE_DECIMAL_PLACES = 18


def price_field(**kwargs: object) -> models.DecimalField[object, object]:
    return models.DecimalField(
        max_digits=PRICE_MAX_DIGITS,
        decimal_places=PRICE_DECIMAL_PLACES,
        **kwargs,  # type: ignore[arg-type]
    )


class Alert(models.Model):
    """A user's target price for a coin in a vs-currency (CoinGecko ids: ``bitcoin``/``usd``)."""

    class Direction(models.TextChoices):
        ABOVE = "above", "Fires when the price is at or above the target"
        BELOW = "below", "Fires when the price is at or below the target"

    class Status(models.TextChoices):
        ACTIVE = "active", "Armed: checked at every monitor run"
        TRIGGERED = "triggered", "Crossed; its email is on the way"
        SLEEPING = "sleeping", "Emailed; waits to be activated again"
        DELETED = "deleted", "Deleted by the user (kept, no longer checked)"

    # No index of its own: alerts_user_status_idx leads with user. Every index here is
    # rewritten for each alert the monitor claims, so the table keeps only three.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alerts", db_index=False
    )
    coin = models.CharField(max_length=100)
    currency = models.CharField(max_length=20)
    target_price = price_field()
    direction = models.CharField(max_length=5, choices=Direction.choices)
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    triggered_at = models.DateTimeField(null=True, blank=True)
    triggered_price = price_field(null=True, blank=True)
    last_notified_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Where a firing is delivered (one ``notify.Delivery`` each); none: one email to the
    # account's address, as the alert's own outbox row.
    channels = models.ManyToManyField("notify.Channel", blank=True, related_name="price_alerts")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The monitor's only read of alerts: per (coin, currency, direction) a range on
            # target_price, over active alerts only. Partial, so triggered, sleeping and
            # deleted alerts cost nothing, and a claimed alert leaves the index at once.
            models.Index(
                fields=["coin", "currency", "direction", "target_price"],
                condition=Q(status="active"),
                name="alerts_active_crossing_idx",
            ),
            # A user's list (by status, newest first) and their count of active alerts.
            models.Index(fields=["user", "status", "-created_at"], name="alerts_user_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.coin}/{self.currency} {self.direction} {self.target_price} ({self.status})"


class OutboxState(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENDING = "sending", "Claimed by a sender (until due_at)"
    SENT = "sent", "Accepted by the mail server"
    FAILED = "failed", "Given up (permanent refusal or too many attempts)"
    CANCELLED = "cancelled", "Not sent: the alert was deleted first"


class OutboxRow(models.Model):
    """What every outbox row carries: the delivery state machine of ``alerts.outbox``.

    ``due_at`` is when the row next needs attention: for ``pending`` the earliest retry,
    for ``sending`` the end of the sender's lease (after which the send is presumed lost
    with its worker and is tried again).
    """

    State = OutboxState

    state = models.CharField(max_length=9, choices=OutboxState.choices, default=OutboxState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    due_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


class AlertNotification(OutboxRow):
    """One crossing of one alert: the outbox row that owes the user exactly one email."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    # The crossing as it happened, kept even if the alert is edited before the email leaves.
    coin = models.CharField(max_length=100)
    currency = models.CharField(max_length=20)
    direction = models.CharField(max_length=5, choices=Alert.Direction.choices)
    target_price = price_field()
    triggered_price = price_field()
    triggered_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The monitor's sweep for rows whose task was lost or whose sender died.
            models.Index(
                fields=["state", "due_at"],
                condition=Q(state__in=["pending", "sending"]),
                name="alerts_notification_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"notification {self.pk} of alert {self.alert_id} ({self.state})"


# Values of position alerts (percentages, amounts in the settle currency): the positions'
# own decimal format, so any figure KuCoin reports fits.
VALUE_MAX_DIGITS = 30
VALUE_DECIMAL_PLACES = 10


def value_field(**kwargs: object) -> models.DecimalField[object, object]:
    return models.DecimalField(
        max_digits=VALUE_MAX_DIGITS,
        decimal_places=VALUE_DECIMAL_PLACES,
        **kwargs,  # type: ignore[arg-type]
    )


class PositionAlert(models.Model):
    """A user's watch over their own positions: one of an account (or all), a symbol (or all).

    ``threshold`` is a percentage for ``liquidation_distance`` and ``pnl_percent`` (the API
    calls it ``threshold_percent``) and an amount in the settle currency for ``pnl_amount``;
    ``events`` lists the event kinds an ``event`` alert fires on. ``hysteresis_percent`` is
    a percentage of ``|threshold|``: how far the value must move back past the threshold
    before a fired threshold alert re-arms for that position.
    """

    class Kind(models.TextChoices):
        LIQUIDATION_DISTANCE = "liquidation_distance", "Mark price near the liquidation price"
        PNL_PERCENT = "pnl_percent", "Unrealised PnL relative to the position margin (ROE %)"
        PNL_AMOUNT = "pnl_amount", "Unrealised PnL in the settle currency"
        EVENT = "event", "A position event (opened, increased, reduced, closed, side flipped)"

    # The price alerts' choices (one enum in the OpenAPI schema): at or above / below.
    Direction = Alert.Direction

    class Status(models.TextChoices):
        ACTIVE = "active", "Evaluated after every recorded poll"
        PAUSED = "paused", "Kept but not evaluated until set active again"
        DELETED = "deleted", "Deleted by the user (kept, no longer evaluated)"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="position_alerts",
        db_index=False,  # position_alerts_user_idx leads with user
    )
    # An alert of one account goes with it; without an account it covers all of them.
    account = models.ForeignKey(
        "accounts.ExchangeAccount",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="position_alerts",
    )
    symbol = models.CharField(max_length=40, blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    threshold = value_field(null=True, blank=True)
    direction = models.CharField(max_length=5, choices=Direction.choices, blank=True)
    events = models.JSONField(default=list, blank=True)
    hysteresis_percent = models.DecimalField(max_digits=6, decimal_places=3, default=10)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # As for price alerts: where a firing is delivered; none: by email.
    channels = models.ManyToManyField("notify.Channel", blank=True, related_name="position_alerts")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # A user's list by status, their count of live alerts, and the evaluation's
            # read (the active alerts of the users of a flush).
            models.Index(fields=["user", "status", "-created_at"], name="position_alerts_user_idx"),
        ]

    def __str__(self) -> str:
        return f"position alert {self.pk} {self.kind} ({self.status})"


class PositionAlertState(models.Model):
    """A threshold alert that fired for one position and has not re-armed for it yet.

    No row means armed. The row goes when the value moves back past the threshold by the
    hysteresis, when the position closes, or when the alert is activated again.
    """

    alert = models.ForeignKey(PositionAlert, on_delete=models.CASCADE, related_name="states")
    account = models.ForeignKey(
        "accounts.ExchangeAccount", on_delete=models.CASCADE, related_name="+"
    )
    symbol = models.CharField(max_length=40)
    side = models.CharField(max_length=8)
    fired_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "account", "symbol", "side"], name="one_state_per_alert_position"
            )
        ]

    def __str__(self) -> str:
        return f"alert {self.alert_id} fired for {self.account_id} {self.symbol} {self.side}"


class PositionAlertFiring(OutboxRow):
    """One firing of a position alert, as it happened: the record the user lists, and the
    outbox row that owes them one email."""

    alert = models.ForeignKey(PositionAlert, on_delete=models.CASCADE, related_name="firings")
    account = models.ForeignKey(
        "accounts.ExchangeAccount",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    account_label = models.CharField(max_length=64, blank=True)
    symbol = models.CharField(max_length=40)
    side = models.CharField(max_length=8)
    size = value_field()
    kind = models.CharField(max_length=20, choices=PositionAlert.Kind.choices)
    # For threshold alerts: the value that crossed, and the threshold and direction then.
    value = value_field(null=True, blank=True)
    threshold = value_field(null=True, blank=True)
    direction = models.CharField(max_length=5, blank=True)
    # For event alerts: the event (one firing per alert and event, however often a poll
    # is recorded) and its kind.
    event = models.ForeignKey(
        "positions.PositionEvent",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    event_kind = models.CharField(max_length=12, blank=True)
    mark_price = value_field()
    liquidation_price = value_field(null=True, blank=True)
    unrealised_pnl = value_field(null=True, blank=True)
    settle_currency = models.CharField(max_length=16, blank=True)
    fired_at = models.DateTimeField()

    class Meta:
        ordering = ["-fired_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["alert", "event"], name="one_firing_per_alert_event")
        ]
        indexes = [
            models.Index(fields=["alert", "-fired_at", "-id"], name="position_firings_by_alert"),
            models.Index(
                fields=["state", "due_at"],
                condition=Q(state__in=["pending", "sending"]),
                name="position_firings_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"firing {self.pk} of position alert {self.alert_id} ({self.state})"
