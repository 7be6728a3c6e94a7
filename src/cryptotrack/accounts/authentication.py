"""DRF authentication: JWT (``Bearer``/``JWT`` prefixes) and personal API keys (``X-API-Key``)."""

from __future__ import annotations

from typing import Any, cast

from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password

from cryptotrack.accounts.api_keys import api_key_authenticate
from cryptotrack.accounts.models import ApiKey, User
from cryptotrack.accounts.user_cache import user_by_id

__all__ = [
    "ApiKeyAuthentication",
    "CachedUserJWTAuthentication",
    "JWTAuthentication",
    "checked_user",
    "current_user",
    "token_user_id",
]


def current_user(request: Request) -> User:
    """The signed-in user of a request that passed ``IsAuthenticated``."""
    return cast(User, request.user)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticates ``X-API-Key: ctk_...``; ``request.auth`` is the ApiKey (read-only use)."""

    header = "HTTP_X_API_KEY"

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        plaintext = request.META.get(self.header)
        if not plaintext:
            return None
        api_key = api_key_authenticate(plaintext)
        if api_key is None:
            raise exceptions.AuthenticationFailed(
                "Invalid or revoked API key.", code="invalid_api_key"
            )
        return api_key.user, api_key

    def authenticate_header(self, request: Request) -> str:
        return "X-API-Key"


class CachedUserJWTAuthentication(JWTAuthentication):
    """SimpleJWT's authentication with the user read through ``accounts.user_cache``.

    The token is validated exactly as by SimpleJWT (signature, expiry, type, and any
    blacklist check of the token classes); only the user lookup changes: one cache read
    instead of a database query. Then the same refusals, with SimpleJWT's own exceptions
    (the same answers): an unknown user, an inactive one, and a token issued before a
    password change when ``CHECK_REVOKE_TOKEN`` is on.
    """

    def get_user(self, validated_token: Token) -> User:  # type: ignore[override]
        return checked_user(validated_token, user_by_id(token_user_id(validated_token)))


def token_user_id(validated_token: Token) -> Any:
    """The user id a validated access token names (SimpleJWT's refusal when none)."""
    try:
        return validated_token[jwt_settings.USER_ID_CLAIM]
    except KeyError as exc:
        raise InvalidToken("Token contained no recognizable user identification") from exc


def checked_user(validated_token: Token, user: User | None) -> User:
    """``user`` if the token may act as them: SimpleJWT's refusals otherwise (no such
    user, an inactive one, a token from before a password change when
    ``CHECK_REVOKE_TOKEN`` is on). The one place these rules are written: the positions
    read ahead of Django (``positions.fast_read``) applies them too."""
    if user is None:
        raise AuthenticationFailed("User not found", code="user_not_found")
    if jwt_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
        raise AuthenticationFailed("User is inactive", code="user_inactive")
    if jwt_settings.CHECK_REVOKE_TOKEN and validated_token.get(
        jwt_settings.REVOKE_TOKEN_CLAIM
    ) != get_md5_hash_password(user.password):
        raise AuthenticationFailed("The user's password has been changed.", code="password_changed")
    return user
