"""A user's notification channels: where alerts are delivered besides (or instead of) email.

What a channel needs that is a secret — a Telegram bot token, a Discord or Slack webhook
URL (its path is the credential), an ntfy access token, a webhook's signing secret — is
stored encrypted (``core.crypto``, like exchange secrets) and shown only as a hint. A
webhook's previous signing secret stays valid for a day after a rotation.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


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
