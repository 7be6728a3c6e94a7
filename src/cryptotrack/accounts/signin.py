"""Checking a password: the one path every sign-in takes (API tokens and the admin login).

The lockout decides before the password is checked (see ``lockout``), so a locked pair
never costs an Argon2 verify, and an unknown user costs the same hash as a known one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpRequest

from cryptotrack.accounts import lockout
from cryptotrack.accounts.models import User
from cryptotrack.audit.services import Kind, record_audit_event, record_audit_event_once
from cryptotrack.core import proxies
from cryptotrack.core.exceptions import ApplicationError
from cryptotrack.core.throttling import IpScopedRateThrottle, check_form_throttle


def client_ip(request: HttpRequest) -> str:
    """The address the lockout counts a sign-in against: the throttles' client address."""
    return proxies.client_ip(request) or "0.0.0.0"  # noqa: S104


class LoginLocked(ApplicationError):
    status = 429
    code = "login_locked"


def sign_in_from_form(
    *, request: HttpRequest, username: str, password: str, via: str
) -> User | None:
    """A browser form's sign-in (the admin's, the web app's): exactly the API's path.

    The same per-IP throttle as ``POST /api/v1/auth/token`` (``THROTTLE_LOGIN``), then
    :func:`authenticate_with_lockout`. Returns the user, or None for a wrong pair; raises
    ``FormThrottled`` or ``LoginLocked`` (both carry the wait in ``extra``).
    """
    check_form_throttle(request, IpScopedRateThrottle(), scope="login", what="sign-in attempts")
    return authenticate_with_lockout(
        request=request,
        username=username,
        password=password,
        ip_address=client_ip(request),
        via=via,
    )


def authenticate_with_lockout(
    *,
    request: HttpRequest | None,
    password: str,
    ip_address: str,
    username: str | None = None,
    email: str | None = None,
    via: str = "api",
) -> User | None:
    """The active user with this username (or email) and password, or None.

    Raises ``LoginLocked`` while the (account, IP) pair is locked out. Both forms count
    against the same lockout key for one account (its username); an email nobody holds
    counts against itself, so the answers never tell a real account from an unknown one.
    Every attempt that is not locked costs one password hash: ModelBackend hashes for an
    unknown username, and we do the same for an unknown email.

    Each outcome goes to the audit log of the account it names (``via``: "api" or
    "admin"); an attempt on a username or email nobody holds is recorded for nobody.
    """
    if email is not None:
        username = email_holder(email=email)
        lockout_key = username or email
    else:
        lockout_key = username or ""
    method = "email" if email is not None else "username"
    wait = lockout.claim_attempt(username=lockout_key, ip_address=ip_address)
    if wait:
        _record_attempt(request, username, Kind.LOGIN_LOCKED, method=method, via=via)
        raise LoginLocked(
            f"Too many failed sign-ins; try again in {wait} seconds.",
            headers={"Retry-After": str(wait)},
            extra={"retry_after": wait},
        )
    if username is None:
        User().set_password(password)  # as long as checking a real password
        return None
    user = authenticate(request, username=username, password=password)
    if user is None:
        _record_attempt(request, username, Kind.LOGIN_FAILED, method=method, via=via)
        return None
    lockout.clear_failures(username=lockout_key, ip_address=ip_address)
    record_audit_event(
        user=user, kind=Kind.LOGIN_SUCCEEDED, request=request, method=method, via=via
    )
    return cast(User, user)


def _record_attempt(
    request: HttpRequest | None, username: str | None, kind: Kind, **details: Any
) -> None:
    """Audit a refused sign-in for the account it names, if there is one.

    Usernames are unique ignoring case, so at most one account matches. The lookup runs
    for unknown names too: it costs the same either way, telling nobody which exist.
    A locked pair is recorded once per lock (``LOGIN_LOCKOUT_SECONDS``) and address: its
    refusals cost no hash, so they could otherwise fill the log as fast as they come.
    """
    holder = (
        User.objects.filter(username__iexact=username).values_list("pk", flat=True).first()
        if username
        else None
    )
    if holder is None:
        return
    if kind == Kind.LOGIN_LOCKED:
        within = timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
        record_audit_event_once(user=holder, kind=kind, request=request, within=within, **details)
    else:
        record_audit_event(user=holder, kind=kind, request=request, **details)


def email_holder(*, email: str) -> str | None:
    """The username of the account that signs in with this email (any case), if any."""
    if not email:
        return None
    return (
        User.objects.filter(email__iexact=email, email_sign_in=True)
        .values_list("username", flat=True)
        .first()
    )
