"""Quotes: exchange rates as their provider reported them (Alpha Vantage's hourly record,
CoinGecko's live feed and fallback), and the bookkeeping of fetching them.

* :class:`Quote` is the history, append-only, read newest first (per pair or overall).
* :class:`UpstreamBudget` counts the calls made to Alpha Vantage per UTC day, in the
  database, so the free tier's quota holds across processes and restarts.
* :class:`ForcedFetchUsage` counts, per user and UTC day, the forced refreshes that spent
  an upstream call: each user's fair share of the quota.
* :class:`PairFetch` is one row per pair: the lease a process takes while it fetches that
  pair (so simultaneous refreshes, in any process, make one upstream call) and the outcome
  of the last failed fetch (so the requests that waited get the same answer).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

# Alpha Vantage gives 8 decimals; 22 integer digits hold any fiat price of any coin.
RATE_DIGITS, RATE_PLACES = 30, 8


class Quote(models.Model):
    """One exchange rate of ``from_currency`` in ``to_currency``, stored when fetched.

    ``source`` is the provider that gave it; ``trigger`` why we asked.
    """

    class Source(models.TextChoices):
        ALPHAVANTAGE = "alphavantage", "Alpha Vantage"
        COINGECKO = "coingecko", "CoinGecko"
        KUCOIN = "kucoin", "KuCoin"

    class Trigger(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled fetch"
        FORCED = "forced", "Forced by a user"
        STARTUP = "startup", "Fetched at start-up"
        LIVE = "live", "Live feed"

    from_currency = models.CharField(max_length=10)
    to_currency = models.CharField(max_length=10)
    rate = models.DecimalField(max_digits=RATE_DIGITS, decimal_places=RATE_PLACES)
    # Older Alpha Vantage answers carry no bid/ask (the 7-field shape).
    bid = models.DecimalField(
        max_digits=RATE_DIGITS, decimal_places=RATE_PLACES, null=True, blank=True
    )
    ask = models.DecimalField(
        max_digits=RATE_DIGITS, decimal_places=RATE_PLACES, null=True, blank=True
    )
    refreshed_at = models.DateTimeField(help_text="Alpha Vantage's `6. Last Refreshed`.")
    fetched_at = models.DateTimeField(default=timezone.now, help_text="When we received it.")
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.ALPHAVANTAGE)

    class Meta:
        ordering = ["-fetched_at", "-id"]
        indexes = [
            # Newest first overall, and the keyset cursor (fetched_at, id) over all pairs.
            models.Index(fields=["-fetched_at", "-id"], name="quote_newest_idx"),
            # Newest first per pair: the latest quote, and the cursor filtered by pair.
            models.Index(
                fields=["from_currency", "to_currency", "-fetched_at", "-id"],
                name="quote_pair_newest_idx",
            ),
            # The same two per source: the list answers one source by default (Alpha
            # Vantage's record) and must not step over a year of live minute quotes.
            models.Index(fields=["source", "-fetched_at", "-id"], name="quote_source_newest_idx"),
            models.Index(
                fields=["source", "from_currency", "to_currency", "-fetched_at", "-id"],
                name="quote_source_pair_newest_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_currency}/{self.to_currency} {self.rate} at {self.fetched_at:%c}"


class UpstreamBudget(models.Model):
    """Calls made to one upstream on one UTC day, and until when it told us to stop."""

    provider = models.CharField(max_length=32)
    day = models.DateField()
    calls = models.PositiveIntegerField(default=0)
    blocked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "day"], name="upstream_budget_unique_day")
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.day}: {self.calls} calls"


class ForcedFetchUsage(models.Model):
    """Forced refreshes of one user on one UTC day that made an upstream call."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    day = models.DateField()
    calls = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "day"], name="forced_fetch_usage_unique_day")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.day}: {self.calls} forced calls"


class PairFetch(models.Model):
    """The fetch lease of one pair and the last failure (see the module docstring)."""

    from_currency = models.CharField(max_length=10)
    to_currency = models.CharField(max_length=10)
    lease_token = models.CharField(max_length=64, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    # {"status": 502|503, "code", "detail", "retry_after"}: what the waiters re-raise.
    failure = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["from_currency", "to_currency"], name="pair_fetch_unique_pair"
            )
        ]

    def __str__(self) -> str:
        return f"{self.from_currency}/{self.to_currency}"
