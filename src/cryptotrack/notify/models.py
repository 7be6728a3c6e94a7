"""A user's notification channels: where alerts are delivered besides (or instead of) email.

What a channel needs that is a secret — a Telegram bot token, a Discord or Slack webhook
URL (its path is the credential), an ntfy access token, a webhook's signing secret — is
stored encrypted (``core.crypto``, like exchange secrets) and shown only as a hint. A
webhook's previous signing secret stays valid for a day after a rotation.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from cryptotrack.alerts.models import AlertNotification, OutboxRow, PositionAlertFiring


class Channel(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Signed webhook"
        TELEGRAM = "telegram", "Telegram"
        DISCORD = "discord", "Discord"
        SLACK = "slack", "Slack"
        NTFY = "ntfy", "ntfy"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="channels"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=64)
    # What is not secret: an email address, a webhook URL, a chat id, an ntfy server/topic.
    config = models.JSONField(default=dict, blank=True)
    secret_encrypted = models.TextField(blank=True)
    secret_hint = models.CharField(max_length=80, blank=True)
    previous_secret_encrypted = models.TextField(blank=True)
    previous_secret_valid_until = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    # Set after too many deliveries in a row failed for good; cleared by a success.
    consecutive_failures = models.PositiveIntegerField(default=0)
    flagged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                "user", Lower("name"), name="channel_name_unique_per_user_ignoring_case"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} channel {self.name!r} of user {self.user_id}"


def new_delivery_id() -> str:
    return f"dlv_{uuid.uuid4().hex}"


class Delivery(OutboxRow):
    """One firing owed to one channel: an outbox row of ``alerts.outbox`` (the
    ``notify.deliveries`` outbox). Exactly one of ``notification`` (a price alert's firing)
    and ``firing`` (a position alert's) is set. ``delivery_id`` is the same on every try:
    webhooks send it as ``X-Cryptotrack-Delivery`` and the body's ``id``."""

    delivery_id = models.CharField(max_length=40, unique=True, default=new_delivery_id)
    channel = models.ForeignKey(
        Channel,
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,  # notify_delivery_log_idx leads with channel
    )
    notification = models.ForeignKey(
        AlertNotification,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="deliveries",
    )
    firing = models.ForeignKey(
        PositionAlertFiring,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="deliveries",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(notification__isnull=False, firing__isnull=True)
                | Q(notification__isnull=True, firing__isnull=False),
                name="delivery_of_one_firing",
            )
        ]
        indexes = [
            # The monitor's sweep for rows whose task was lost or whose sender died.
            models.Index(
                fields=["state", "due_at"],
                condition=Q(state__in=["pending", "sending"]),
                name="notify_delivery_due_idx",
            ),
            # The delivery log of a channel, newest first.
            models.Index(fields=["channel", "-created_at", "-id"], name="notify_delivery_log_idx"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.delivery_id} on channel {self.channel_id} ({self.state})"


class DeliveryAttempt(models.Model):
    """One try of a delivery, as the receiver answered it (the delivery log)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts_made")
    at = models.DateTimeField()
    outcome = models.CharField(max_length=9)  # notify.outcome.Verdict
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    retry_after = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"attempt of {self.delivery_id} at {self.at} ({self.outcome})"
