"""Login lockout: after N failed sign-ins for a (username, IP) within a window, wait.

Kept in the database so it holds while Redis is down. The counter is keyed by the
username as typed (lower-cased), whether or not such a user exists, so a lockout
answer reveals nothing about which usernames are real.

Every attempt is counted *before* its password is checked, under the counter row's
lock: the attempt that reaches the limit locks the pair at once, so a burst of
concurrent sign-ins gets at most ``LOGIN_LOCKOUT_FAILURES`` password checks (the slow
Argon2 verify) and every later request of the burst is refused without one. A sign-in
that then succeeds forgets the count (``clear_failures``); one that fails leaves its
attempt counted.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cryptotrack.accounts.models import LoginFailure


def _key(username: str) -> str:
    return username.strip().lower()[:150]


def claim_attempt(*, username: str, ip_address: str, now: datetime | None = None) -> int:
    """Count one sign-in attempt of this (username, IP), unless the pair is locked.

    Returns 0 when the caller may check the password (the attempt is already counted),
    else the seconds until the pair may try again.
    """
    now = now or timezone.now()
    key = _key(username)
    with transaction.atomic():
        # The row must exist to be locked; a concurrent first attempt may insert it too.
        LoginFailure.objects.bulk_create(
            [LoginFailure(username=key, ip_address=ip_address, window_started_at=now)],
            ignore_conflicts=True,
        )
        counter = LoginFailure.objects.select_for_update().get(username=key, ip_address=ip_address)
        if counter.locked_until is not None and counter.locked_until > now:
            return math.ceil((counter.locked_until - now).total_seconds())
        window = timedelta(seconds=settings.LOGIN_LOCKOUT_WINDOW_SECONDS)
        if counter.locked_until is not None or counter.window_started_at + window <= now:
            counter.failures, counter.window_started_at, counter.locked_until = 0, now, None
        counter.failures += 1
        if counter.failures >= settings.LOGIN_LOCKOUT_FAILURES:
            counter.locked_until = now + timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
        counter.save(update_fields=["failures", "window_started_at", "locked_until"])
    return 0


def clear_failures(*, username: str, ip_address: str) -> None:
    """A successful sign-in forgets earlier failures of this (username, IP)."""
    LoginFailure.objects.filter(username=_key(username), ip_address=ip_address).delete()
