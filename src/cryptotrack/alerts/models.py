"""Price alerts and their notification outbox.

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


class AlertNotification(models.Model):
    """One crossing of one alert: the outbox row that owes the user exactly one email.

    ``due_at`` is when the row next needs attention: for ``pending`` the earliest retry,
    for ``sending`` the end of the sender's lease (after which the send is presumed lost
    with its worker and is tried again).
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Claimed by a sender (until due_at)"
        SENT = "sent", "Accepted by the mail server"
        FAILED = "failed", "Given up (permanent refusal or too many attempts)"
        CANCELLED = "cancelled", "Not sent: the alert was deleted first"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    # The crossing as it happened, kept even if the alert is edited before the email leaves.
    coin = models.CharField(max_length=100)
    currency = models.CharField(max_length=20)
    direction = models.CharField(max_length=5, choices=Alert.Direction.choices)
    target_price = price_field()
    triggered_price = price_field()
    triggered_at = models.DateTimeField()
    state = models.CharField(max_length=9, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    due_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

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
