"""DRF authentication: JWT (``Bearer``/``JWT`` prefixes) and personal API keys (``X-API-Key``)."""

from __future__ import annotations

from typing import Any, cast

from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication

from cryptotrack.accounts.api_keys import api_key_authenticate
from cryptotrack.accounts.models import ApiKey, User

__all__ = ["ApiKeyAuthentication", "JWTAuthentication", "current_user"]


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
