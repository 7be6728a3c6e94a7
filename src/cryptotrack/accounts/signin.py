"""Checking a password: the one path every sign-in takes (API tokens and the admin login).

The lockout decides before the password is checked (see ``lockout``), so a locked pair
never costs an Argon2 verify, and an unknown user costs the same hash as a known one.
"""

from __future__ import annotations

from typing import cast

from django.contrib.auth import authenticate
from django.http import HttpRequest

from cryptotrack.accounts import lockout
from cryptotrack.accounts.models import User
from cryptotrack.core.exceptions import ApplicationError


def client_ip(request: HttpRequest) -> str:
    """The address the lockout counts a sign-in against."""
    return str(request.META.get("REMOTE_ADDR") or "0.0.0.0")  # noqa: S104


class LoginLocked(ApplicationError):
    status = 429
    code = "login_locked"


def authenticate_with_lockout(
    *, request: HttpRequest | None, username: str, password: str, ip_address: str
) -> User | None:
    """The active user with these credentials, or None; ``LoginLocked`` while locked out.

    ModelBackend hashes the password even for unknown users, so both take as long.
    """
    wait = lockout.claim_attempt(username=username, ip_address=ip_address)
    if wait:
        raise LoginLocked(
            f"Too many failed sign-ins; try again in {wait} seconds.",
            headers={"Retry-After": str(wait)},
            extra={"retry_after": wait},
        )
    user = authenticate(request, username=username, password=password)
    if user is None:
        return None
    lockout.clear_failures(username=username, ip_address=ip_address)
    return cast(User, user)
