"""Users, their exchange credentials (encrypted at rest), personal API keys, login failures."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower


class User(AbstractUser):
    """A cryptotrack user. ``name`` is the display name asked at signup; email is optional.

    Usernames and (non-empty) emails are unique ignoring case; either signs in.
    """

    name = models.CharField(max_length=150)
    # False only for accounts that shared an email (ignoring case) before emails became
    # unique (migration 0003): they sign in by username; their email stays as it was.
    email_sign_in = models.BooleanField(
        default=True, help_text="Whether this user may sign in with their email."
    )
    # Whether the user may have an active position alert (kept by the alert services in the
    # transaction that changes one): a recorded poll of a user without any skips the alert
    # evaluation without a query. A stale True costs one query; it is never stale False.
    # A database default too: rows inserted without it (older code during a rolling deploy,
    # raw SQL) get False instead of failing.
    has_position_alerts = models.BooleanField(default=False, db_default=False)

    REQUIRED_FIELDS = ["name"]

    class Meta(AbstractUser.Meta):
        constraints = [
            # "Ada" and "ada" are one user: the database says so, not only the serializer.
            models.UniqueConstraint(
                Lower("username"),
                name="unique_username_ignoring_case",
                violation_error_message="This username is taken.",
            ),
            # One account per email, ignoring case: sign-in by email finds one user.
            models.UniqueConstraint(
                Lower("email"),
                condition=Q(email_sign_in=True) & ~Q(email=""),
                name="unique_sign_in_email_ignoring_case",
                violation_error_message="This email is taken.",
            ),
        ]

    def __str__(self) -> str:
        return self.username


DEFAULT_LABEL = "default"


class ExchangeAccount(models.Model):
    """A user's credentials on one exchange, and the result of the last check of them.

    The three secrets are stored only as Fernet tokens (``core.crypto``); the plaintexts
    are decrypted inside the worker for one request and never stored, logged or returned.
    ``api_key_hint`` (the key's last four characters) is what the API shows instead.
    """

    class Exchange(models.TextChoices):
        KUCOIN = "kucoin", "KuCoin"

    class Status(models.TextChoices):
        UNVERIFIED = "unverified", "Not verified yet (exchange not reachable)"
        VALID = "valid", "Valid"
        INVALID = "invalid", "Rejected by the exchange"
        INSUFFICIENT_PERMISSION = "insufficient_permission", "Valid, but lacks a needed permission"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exchange_accounts"
    )
    exchange = models.CharField(max_length=20, choices=Exchange.choices, default=Exchange.KUCOIN)
    # The user's name for it ("main", "sub 2"); signup and PUT /me/kucoin use DEFAULT_LABEL.
    label = models.CharField(max_length=64)
    api_key_encrypted = models.TextField()
    api_secret_encrypted = models.TextField()
    api_passphrase_encrypted = models.TextField()
    api_key_hint = models.CharField(max_length=8)
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.UNVERIFIED)
    status_message = models.TextField(blank=True)
    warnings = models.JSONField(default=list, blank=True)
    permissions = models.JSONField(default=list, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # "Main" and "main" are one label: the database decides, also for two
            # requests racing to create it (the service answers the loser with a 400).
            models.UniqueConstraint(
                Lower("label"),
                "user",
                name="unique_account_label_per_user",
                violation_error_message="You already have an exchange account with this label.",
            )
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.exchange} {self.label!r} …{self.api_key_hint} ({self.user_id})"


class ApiKey(models.Model):
    """A personal, read-only API key for scripts (``X-API-Key``). Only its hash is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class LoginFailure(models.Model):
    """Failed sign-ins per (username, IP) inside a window; the lockout reads it.

    In the database on purpose: a lockout kept in Redis would silently stop protecting
    accounts while Redis is down.
    """

    username = models.CharField(max_length=150)
    ip_address = models.GenericIPAddressField()
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["username", "ip_address"], name="one_counter_per_login")
        ]

    def __str__(self) -> str:
        return f"{self.username} from {self.ip_address}: {self.failures} failure(s)"
