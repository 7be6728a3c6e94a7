"""Sign-in, token refresh and logout (SimpleJWT with rotation and a blacklist)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from django.contrib.auth.models import update_last_login
from django.http import HttpRequest
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from cryptotrack.accounts.models import User
from cryptotrack.accounts.signin import authenticate_with_lockout

# One message for an unknown user and a wrong password, so neither can be told apart.
BAD_CREDENTIALS = "No active account found with the given credentials."


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str


def _pair(refresh: RefreshToken) -> TokenPair:
    return TokenPair(access=str(refresh.access_token), refresh=str(refresh))


def obtain_tokens(
    *,
    request: HttpRequest | Request,
    password: str,
    ip_address: str,
    username: str | None = None,
    email: str | None = None,
) -> TokenPair:
    """Check the password of the username or email (with lockout); issue a token pair.

    ``request`` goes to the auth backends and the ``user_login_failed`` signal; DRF's
    Request serves every HttpRequest attribute (as SimpleJWT's own serializer relies on).
    """
    user = authenticate_with_lockout(
        request=cast(HttpRequest, request),
        username=username,
        email=email,
        password=password,
        ip_address=ip_address,
    )
    if user is None:
        raise AuthenticationFailed(BAD_CREDENTIALS, code="bad_credentials")
    update_last_login(None, user)  # type: ignore[arg-type]
    return _pair(RefreshToken.for_user(user))


def refresh_tokens(*, refresh: str) -> TokenPair:
    """Rotate: a new pair for a live refresh token, which is blacklisted from now on."""
    try:
        old = RefreshToken(refresh)  # type: ignore[arg-type]
        old.check_blacklist()
        user_id = old.payload.get(jwt_settings.USER_ID_CLAIM)
        old.blacklist()
    except TokenError as exc:
        raise AuthenticationFailed(
            f"Refresh token rejected: {exc}", code="token_not_valid"
        ) from exc
    user = User.objects.filter(pk=str(user_id), is_active=True).first()
    if user is None:
        raise AuthenticationFailed(
            "The account of this token no longer exists.", code="token_not_valid"
        )
    return _pair(RefreshToken.for_user(user))


def logout(*, refresh: str) -> None:
    """Blacklist the refresh token: it can no longer be used to get access tokens."""
    try:
        token = RefreshToken(refresh)  # type: ignore[arg-type]
        token.check_blacklist()
        token.blacklist()
    except TokenError as exc:
        raise AuthenticationFailed(
            f"Refresh token rejected: {exc}", code="token_not_valid"
        ) from exc
