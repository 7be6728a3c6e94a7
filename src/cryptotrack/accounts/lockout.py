"""Login lockout: after N failed sign-ins for a (username, IP) within a window, wait.

Kept in the database so it holds while Redis is down. The counter is keyed by the
username as typed (lower-cased), whether or not such a user exists, so a lockout
answer reveals nothing about which usernames are real.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from cryptotrack.accounts.models import LoginFailure


def _key(username: str) -> str:
    return username.strip().lower()[:150]


def seconds_locked(*, username: str, ip_address: str, now: datetime | None = None) -> int:
    """Seconds until this (username, IP) may try again; 0 when not locked."""
    now = now or timezone.now()
    locked_until = (
        LoginFailure.objects.filter(username=_key(username), ip_address=ip_address)
        .values_list("locked_until", flat=True)
        .first()
    )
    if locked_until is None or locked_until <= now:
        return 0
    return math.ceil((locked_until - now).total_seconds())


@transaction.atomic
def record_failure(*, username: str, ip_address: str, now: datetime | None = None) -> None:
    """Count one failed sign-in; lock the pair once the count reaches the limit."""
    now = now or timezone.now()
    window = timedelta(seconds=settings.LOGIN_LOCKOUT_WINDOW_SECONDS)
    failure, created = LoginFailure.objects.select_for_update().get_or_create(
        username=_key(username),
        ip_address=ip_address,
        defaults={"failures": 1, "window_started_at": now},
    )
    if not created:
        if failure.window_started_at + window <= now:
            failure.failures, failure.window_started_at, failure.locked_until = 1, now, None
        else:
            failure.failures = F("failures") + 1
        failure.save(update_fields=["failures", "window_started_at", "locked_until"])
        failure.refresh_from_db(fields=["failures"])
    if failure.failures >= settings.LOGIN_LOCKOUT_FAILURES:
        failure.locked_until = now + timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
        failure.save(update_fields=["locked_until"])


def clear_failures(*, username: str, ip_address: str) -> None:
    """A successful sign-in forgets earlier failures of this (username, IP)."""
    LoginFailure.objects.filter(username=_key(username), ip_address=ip_address).delete()
