"""The credential audit log: who changed which credential (or signed in) when, from where."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One security-relevant event of a user, as the request that caused it saw it.

    ``details`` says what changed in words a user recognises (a label, a key hint, a key
    prefix, a reason) and never holds a secret: no password, API secret, passphrase or
    full key ever reaches it (``services.record_audit_event`` drops such names).
    """

    class Kind(models.TextChoices):
        SIGNUP = "signup", "Signed up"
        LOGIN_SUCCEEDED = "login_succeeded", "Signed in"
        LOGIN_FAILED = "login_failed", "Sign-in failed (wrong password)"
        LOGIN_LOCKED = "login_locked", "Sign-in refused (locked out)"
        PASSWORD_CHANGED = "password_changed", "Password changed"
        EXCHANGE_ACCOUNT_ADDED = "exchange_account_added", "Exchange account added"
        EXCHANGE_ACCOUNT_UPDATED = "exchange_account_updated", "Exchange account updated"
        EXCHANGE_ACCOUNT_DELETED = "exchange_account_deleted", "Exchange account deleted"
        API_KEY_CREATED = "api_key_created", "API key created"
        API_KEY_REVOKED = "api_key_revoked", "API key revoked"
        TRACKING_STARTED = "tracking_started", "Tracking started"
        TRACKING_STOPPED = "tracking_stopped", "Tracking stopped"
        TRACKING_PAUSED = "tracking_paused", "Tracking paused by the service"
        TRACKING_RESUMED = "tracking_resumed", "Tracking resumed with a valid key"
        CHANNEL_ADDED = "channel_added", "Notification channel added"
        CHANNEL_UPDATED = "channel_updated", "Notification channel updated"
        CHANNEL_DELETED = "channel_deleted", "Notification channel deleted"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="audit_events"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # The user's log, newest first (GET /me/audit).
            models.Index(fields=["user", "-at"], name="audit_user_at"),
            # Retention deletes by age across all users.
            models.Index(fields=["at"], name="audit_at"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of {self.user_id} at {self.at:%Y-%m-%d %H:%M:%S}"
