"""Tracking subscriptions (the schedule, as data), current positions and their history."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q


class TrackingSubscription(models.Model):
    """A request to have one exchange account's positions read every ``interval``.

    The schedule is this row: ``next_poll_at`` is when it is due, and the dispatcher moves
    it forward as it hands the row to a worker. Nothing lives only in memory, so a restart
    of any process resumes every active subscription. ``last_slot`` is the due time of the
    last poll that ran: a redelivered batch skips rows whose slot was already polled.
    """

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused (the user must act, e.g. replace a rejected key)"
        STOPPED = "stopped", "Stopped"

    account = models.OneToOneField(
        "accounts.ExchangeAccount", on_delete=models.CASCADE, related_name="tracking"
    )
    # The account's user, copied for queries by user (one row per account, so not unique).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tracking_subscriptions"
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    # Empty list: every symbol of the account.
    symbols = models.JSONField(default=list, blank=True)
    interval = models.DurationField(default=timedelta(seconds=30))
    next_poll_at = models.DateTimeField()
    last_slot = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error_kind = models.CharField(max_length=40, blank=True)
    last_error_message = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    # Set when tracking starts: the next recorded poll is the baseline of position events
    # (the positions it finds were already open, so none of them is "opened"). A database
    # default too, for rows inserted without it (older code in a rolling deploy, raw SQL).
    events_baseline_pending = models.BooleanField(default=True, db_default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # The dispatcher's query: active rows by due time, and nothing else.
            models.Index(
                fields=["next_poll_at"], name="due_subscriptions", condition=Q(state="active")
            ),
        ]

    def __str__(self) -> str:
        return f"tracking of account {self.account_id} ({self.state})"


class Position(models.Model):
    """A currently open futures position of an account, as of its last successful poll."""

    class Side(models.TextChoices):
        LONG = "long", "Long"
        SHORT = "short", "Short"

    class MarginMode(models.TextChoices):
        CROSS = "cross", "Cross"
        ISOLATED = "isolated", "Isolated"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="positions"
    )
    account = models.ForeignKey(
        "accounts.ExchangeAccount", on_delete=models.CASCADE, related_name="positions"
    )
    exchange_id = models.CharField(max_length=64, blank=True)
    symbol = models.CharField(max_length=40)
    side = models.CharField(max_length=8, choices=Side.choices)
    size = models.DecimalField(max_digits=30, decimal_places=10)
    entry_price = models.DecimalField(max_digits=30, decimal_places=10)
    mark_price = models.DecimalField(max_digits=30, decimal_places=10)
    liquidation_price = models.DecimalField(max_digits=30, decimal_places=10, null=True, blank=True)
    leverage = models.DecimalField(max_digits=20, decimal_places=8, null=True, blank=True)
    margin_mode = models.CharField(max_length=10, choices=MarginMode.choices)
    unrealised_pnl = models.DecimalField(max_digits=30, decimal_places=10)
    realised_pnl = models.DecimalField(max_digits=30, decimal_places=10)
    # KuCoin's posMargin: the margin held by the position (what ROE % is relative to).
    position_margin = models.DecimalField(max_digits=30, decimal_places=10, null=True, blank=True)
    settle_currency = models.CharField(max_length=16)
    opened_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()
    # When the poll that last saw this position ran: rows not seen by a poll are closed.
    seen_at = models.DateTimeField()
    # When its last history snapshot was taken (history is kept on change, and this often).
    snapshot_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "symbol", "side"], name="one_position_per_account_symbol_side"
            )
        ]
        ordering = ["-opened_at", "symbol"]

    def __str__(self) -> str:
        return f"{self.user_id} {self.side} {self.size} {self.symbol}"


class PositionSnapshot(models.Model):
    """History: a position's state when it changed (and at least every few minutes).

    A snapshot with ``closed=True`` records that the position disappeared.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="position_snapshots"
    )
    # History outlives its account (unless purged): the link goes, the label it had stays.
    account = models.ForeignKey(
        "accounts.ExchangeAccount",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="position_snapshots",
    )
    account_label = models.CharField(max_length=64, blank=True)
    symbol = models.CharField(max_length=40)
    side = models.CharField(max_length=8, choices=Position.Side.choices)
    size = models.DecimalField(max_digits=30, decimal_places=10)
    entry_price = models.DecimalField(max_digits=30, decimal_places=10)
    mark_price = models.DecimalField(max_digits=30, decimal_places=10)
    liquidation_price = models.DecimalField(max_digits=30, decimal_places=10, null=True, blank=True)
    leverage = models.DecimalField(max_digits=20, decimal_places=8, null=True, blank=True)
    unrealised_pnl = models.DecimalField(max_digits=30, decimal_places=10)
    realised_pnl = models.DecimalField(max_digits=30, decimal_places=10)
    closed = models.BooleanField(default=False)
    taken_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "-taken_at"], name="snapshots_by_user_time")]
        ordering = ["-taken_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user_id} {self.symbol} @ {self.taken_at:%Y-%m-%d %H:%M:%S}"


class PositionEvent(models.Model):
    """A change of a position seen between two recorded polls of its account.

    Derived when a poll is recorded, by comparing what KuCoin reports with the account's
    current positions, in the transaction that stores them: a poll recorded once makes its
    events once. ``side`` is the side after the change (before it, for ``closed``);
    ``entry_price``, ``mark_price`` and ``realised_pnl`` are the position's as last seen.
    """

    class Kind(models.TextChoices):
        OPENED = "opened", "Opened"
        INCREASED = "increased", "Increased"
        REDUCED = "reduced", "Reduced"
        CLOSED = "closed", "Closed"
        SIDE_FLIPPED = "side_flipped", "Side flipped"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="position_events"
    )
    # Like history, events outlive their account (unless purged) and keep its label.
    account = models.ForeignKey(
        "accounts.ExchangeAccount",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="position_events",
    )
    account_label = models.CharField(max_length=64, blank=True)
    symbol = models.CharField(max_length=40)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    side = models.CharField(max_length=8, choices=Position.Side.choices)
    size_before = models.DecimalField(max_digits=30, decimal_places=10)
    size_after = models.DecimalField(max_digits=30, decimal_places=10)
    entry_price = models.DecimalField(max_digits=30, decimal_places=10)
    mark_price = models.DecimalField(max_digits=30, decimal_places=10)
    realised_pnl = models.DecimalField(max_digits=30, decimal_places=10)
    settle_currency = models.CharField(max_length=16, blank=True)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "-at", "-id"], name="events_by_user_time")]
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.user_id} {self.symbol} {self.kind} @ {self.at:%Y-%m-%d %H:%M:%S}"
