"""Permissions shared by every endpoint."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from cryptotrack.accounts.models import ApiKey


class ApiKeyIsReadOnly(BasePermission):
    """Personal API keys may read; writing needs a JWT signed-in session."""

    message = "Personal API keys are read-only; sign in with a token to change anything."
    code = "api_key_read_only"

    def has_permission(self, request: Request, view: Any) -> bool:
        return not isinstance(request.auth, ApiKey) or request.method in SAFE_METHODS
